//! Every shape error of a file in one run, not just serde's first. After
//! each error the text is edited so that reading can go on past it: a
//! misspelt key is renamed to the key it most likely meant (so the real
//! key is not then reported missing), any other bad entry is blanked out
//! with spaces. Errors are placed in the original text through the edits.
//! A missing key ends the search, since nothing after it can be read.

use std::ops::Range;
use std::path::Path;

use serde::de::DeserializeOwned;
use toml::de::{DeTable, DeValue};

use super::Diagnostic;
use super::load::{meant_key, meant_variant, shape_diagnostic};

/// At most this many errors are reported from one file.
const MAX_ERRORS: usize = 50;

/// Values tried in place of one of the wrong type.
const PLACEHOLDERS: &[&str] = &["\"\"", "0", "false", "[]", "{}", "\"1s\"", "1"];

/// One edit: `old_len` bytes at `start` became `new_len` bytes.
struct Edit {
    start: usize,
    old_len: usize,
    new_len: usize,
}

/// An offset of the edited text as an offset of the original.
fn original(edits: &[Edit], mut at: usize) -> usize {
    for e in edits.iter().rev() {
        if at >= e.start + e.new_len {
            at = at - e.new_len + e.old_len;
        } else if at > e.start {
            at = e.start;
        }
    }
    at
}

/// `text` as a `T`, or every shape error found (unknown keys, values of the
/// wrong type, a missing key), in the file's order.
pub(super) fn deserialize_all<T: DeserializeOwned>(
    path: &Path,
    text: &str,
    readme: &str,
) -> Result<T, Vec<Diagnostic>> {
    let mut edited = text.to_string();
    let mut edits: Vec<Edit> = Vec::new();
    let mut diags: Vec<Diagnostic> = Vec::new();
    let mut blanked_keys: Vec<String> = Vec::new();
    loop {
        let e = match toml::from_str::<T>(&edited) {
            Ok(value) if diags.is_empty() => return Ok(value),
            Ok(_) => break,
            Err(e) => e,
        };
        let span = e.span().unwrap_or(0..0);
        let at = original(&edits, span.start)..original(&edits, span.end);
        let missing = missing_key(e.message());
        // A key blanked out above is reported already, as what was wrong
        // with its value.
        if !missing.is_some_and(|k| blanked_keys.iter().any(|b| b == k)) {
            let diag = shape_diagnostic(path, text, e.message(), at, readme);
            if diags.contains(&diag) {
                // An edit that did not get past its error.
                break;
            }
            diags.push(diag);
        }
        if diags.len() >= MAX_ERRORS {
            break;
        }
        let replace = |range: Range<usize>, with: &str| {
            let mut text = edited.clone();
            text.replace_range(range.clone(), with);
            let edit = Edit {
                start: range.start,
                old_len: range.len(),
                new_len: with.len(),
            };
            DeTable::parse(&text).is_ok().then_some((text, edit))
        };
        if let Some(key) = missing {
            // A placeholder for the missing key, so that the rest of the
            // file is read too.
            let Some((next, edit)) = supply::<T>(&edited, &span, key, e.message(), replace) else {
                break;
            };
            edited = next;
            edits.push(edit);
            continue;
        }
        let Some(entry) = leaf_entry(&edited, &span) else {
            break;
        };
        // A misspelt key becomes the key meant; a value of the wrong type
        // becomes one the reader takes (so a required key is not then
        // missing); anything else is blanked out.
        let renamed = match (meant_key(e.message()), meant_variant(e.message())) {
            (Some(meant), _) => replace(entry.key_span.clone(), meant),
            (None, Some(meant)) => replace(entry.value.clone(), &format!("\"{meant}\"")),
            (None, None) => None,
        };
        let about_value = entry.value.contains(&span.start);
        let retyped = || {
            PLACEHOLDERS.iter().filter(|_| about_value).find_map(|p| {
                let (text, edit) = replace(entry.value.clone(), p)?;
                let moved_on = match toml::from_str::<T>(&text) {
                    Ok(_) => true,
                    Err(e) => e.span().is_none_or(|s| {
                        !(edit.start..edit.start + p.len().max(1)).contains(&s.start)
                    }),
                };
                moved_on.then_some((text, edit))
            })
        };
        let blanked = || {
            blanked_keys.push(entry.key.clone());
            replace(entry.whole.clone(), &spaces(&edited[entry.whole.clone()]))
        };
        let Some((next, edit)) = renamed.or_else(retyped).or_else(blanked) else {
            break;
        };
        if DeTable::parse(&next).is_err() || next == edited {
            break;
        }
        edited = next;
        edits.push(edit);
    }
    diags.sort_by_key(|d| (d.line, d.column));
    diags.dedup();
    Err(diags)
}

/// The text with `key = PLACEHOLDER` added to the table at `span`, for a
/// placeholder that ends the `message` error.
fn supply<T: DeserializeOwned>(
    text: &str,
    span: &Range<usize>,
    key: &str,
    message: &str,
    replace: impl Fn(Range<usize>, &str) -> Option<(String, Edit)>,
) -> Option<(String, Edit)> {
    let start = span.start.min(text.len());
    let inline = text[start..].starts_with('{');
    // After an inline table's `{`, or at the end of the table's header
    // line, or (the top table) at the start of the file.
    let at = if inline {
        start + 1
    } else if span.is_empty() && start == 0 {
        0
    } else {
        text[start..].find('\n').map_or(text.len(), |i| start + i)
    };
    PLACEHOLDERS.iter().find_map(|p| {
        let entry = if inline {
            format!(" {key} = {p},")
        } else if at == 0 {
            format!("{key} = {p}\n")
        } else {
            format!("\n{key} = {p}")
        };
        let (next, edit) = replace(at..at, &entry)?;
        match toml::from_str::<T>(&next) {
            Err(e) if e.message() == message => None,
            Err(e)
                if e.span()
                    .is_some_and(|s| (at..at + entry.len()).contains(&s.start)) =>
            {
                None
            }
            _ => Some((next, edit)),
        }
    })
}

/// The key a `missing field `k`` message names.
fn missing_key(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// The innermost `key = value` entry around `span` whose value holds no
/// table (editing a table would take more than the error's line).
fn leaf_entry(text: &str, span: &Range<usize>) -> Option<Entry> {
    // Every entry around the span; standard tables (`[slo]`) are searched
    // whatever their own spans say, since those cover only their headers.
    type Found = (Entry, bool);
    fn in_table(t: &DeTable<'_>, span: &Range<usize>, out: &mut Vec<Found>) {
        for (k, v) in t {
            let whole = k.span().start..v.span().end.max(k.span().end);
            if whole.start <= span.start && span.start < whole.end.max(whole.start + 1) {
                let entry = Entry {
                    key: k.get_ref().to_string(),
                    key_span: k.span(),
                    value: v.span(),
                    whole,
                };
                out.push((entry, holds_table(v.get_ref())));
            }
            in_value(v.get_ref(), span, out);
        }
    }
    fn in_value(v: &DeValue<'_>, span: &Range<usize>, out: &mut Vec<Found>) {
        match v {
            DeValue::Table(t) => in_table(t, span, out),
            DeValue::Array(items) => {
                for i in items {
                    in_value(i.get_ref(), span, out);
                }
            }
            _ => {}
        }
    }
    fn holds_table(v: &DeValue<'_>) -> bool {
        match v {
            DeValue::Table(_) => true,
            DeValue::Array(items) => items.iter().any(|i| holds_table(i.get_ref())),
            _ => false,
        }
    }
    let doc = DeTable::parse(text).ok()?;
    let mut around = Vec::new();
    in_table(doc.get_ref(), span, &mut around);
    let (mut entry, table) = around.into_iter().min_by_key(|(e, _)| e.whole.len())?;
    if table {
        return None;
    }
    let rest = &text[entry.whole.end..];
    let after = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    if rest[after..].starts_with(',') {
        entry.whole.end += after + 1;
    }
    Some(entry)
}

/// A `key = value` entry of the text.
struct Entry {
    key: String,
    key_span: Range<usize>,
    value: Range<usize>,
    /// From the key to the value's end, with a trailing comma.
    whole: Range<usize>,
}

/// As many spaces as `text` has bytes, keeping its newlines (so line
/// numbers stay put).
fn spaces(text: &str) -> String {
    text.bytes()
        .map(|b| if b == b'\n' { '\n' } else { ' ' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    const BASE: &str = include_str!("../../scenarios/lock-queue.toml");

    fn errors(text: &str) -> Vec<Diagnostic> {
        deserialize_all::<Scenario>(Path::new("s.toml"), text, "README")
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn every_typo_of_a_file_is_reported_in_one_run() {
        // Three typos: one run, three errors, each with what was meant.
        let text = BASE
            .replacen("\ntitle = ", "\ntitel = ", 1)
            .replacen("max_error_rate", "max_eror_rate", 1)
            .replacen("difficulty = ", "dificulty = ", 1);
        let found = errors(&text);
        let shown: Vec<String> = found.iter().map(|d| d.to_string()).collect();
        assert!(found.len() >= 3, "{shown:#?}");
        for (typo, meant) in [
            ("titel", "title"),
            ("max_eror_rate", "max_error_rate"),
            ("dificulty", "difficulty"),
        ] {
            assert!(
                shown
                    .iter()
                    .any(|s| s.contains(&format!("unknown field `{typo}`"))
                        && s.contains(&format!("did you mean `{meant}`?"))),
                "{typo}: {shown:#?}"
            );
        }
        // In the file's order, each at its own line.
        let lines: Vec<usize> = found.iter().map(|d| d.line).collect();
        assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{lines:?}");
    }

    #[test]
    fn type_errors_are_reported_with_the_unknown_keys() {
        let text = BASE
            .replacen("kind = \"incident\"", "kind = 7", 1)
            .replacen("difficulty = ", "dificulty = ", 1);
        let shown: Vec<String> = errors(&text).iter().map(|d| d.to_string()).collect();
        assert!(shown.iter().any(|s| s.contains("kind = 7")), "{shown:#?}");
        assert!(
            shown.iter().any(|s| s.contains("`dificulty`")),
            "{shown:#?}"
        );
    }

    #[test]
    fn a_missing_key_does_not_hide_what_follows_it() {
        // `stable_for` is missing from [slo]; the typo in [rubric] comes
        // after it and is reported too.
        let text = BASE
            .replacen("stable_for = ", "# stable_for = ", 1)
            .replacen("pass_mark", "pass_mrak", 1);
        let shown: Vec<String> = errors(&text).iter().map(|d| d.to_string()).collect();
        assert!(
            shown
                .iter()
                .any(|s| s.contains("missing field `stable_for`")),
            "{shown:#?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.contains("did you mean `pass_mark`?")),
            "{shown:#?}"
        );
    }

    #[test]
    fn a_misspelt_tag_is_reported_with_the_tag_meant() {
        let lab = include_str!("../../scenarios/rollout-lab.toml")
            .replacen("tagged = \"contract\"", "tagged = \"contarct\"", 1)
            .replacen("tagged = \"destructive\"", "tagged = \"destructiv\"", 1);
        let shown: Vec<String> = deserialize_all::<Scenario>(Path::new("s.toml"), &lab, "README")
            .unwrap_err()
            .iter()
            .map(|d| d.to_string())
            .collect();
        assert_eq!(shown.len(), 2, "{shown:#?}");
        assert!(shown[0].contains("did you mean `contract`?"), "{shown:#?}");
        assert!(
            shown[1].contains("did you mean `destructive`?"),
            "{shown:#?}"
        );
    }

    #[test]
    fn a_file_without_errors_reads_as_before() {
        let read: Scenario = deserialize_all(Path::new("s.toml"), BASE, "README").unwrap();
        assert_eq!(read.id, "lock-queue");
    }
}

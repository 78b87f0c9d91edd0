//! Problems in scenario files, and how they are shown: `file:line:col`, the
//! offending line with a caret under the bad value, and a hint.
//!
//! Validation is pure and speaks in key paths (`timeline[0].release.version`);
//! the loader turns a path into a place in the file by walking TOML's spanned
//! document, so the model itself carries no spans.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::de::{DeTable, DeValue};

/// One step of a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    /// A table key.
    Key(String),
    /// An array index.
    Index(usize),
}

/// A problem found by validation, located by key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where: `[Key("timeline"), Index(0), Key("at")]`.
    pub path: Vec<Seg>,
    /// What is wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
    /// The key itself is wrong (unknown, misspelt), not its value: the
    /// caret goes under the key.
    pub on_key: bool,
}

impl Problem {
    /// A problem at a dotted path such as `timeline.0.release.version`
    /// (numeric parts are array indexes).
    pub fn at(path: &str, message: impl Into<String>) -> Problem {
        let path = path
            .split('.')
            .filter(|s| !s.is_empty())
            .map(|s| match s.parse::<usize>() {
                Ok(i) => Seg::Index(i),
                Err(_) => Seg::Key(s.to_string()),
            })
            .collect();
        Problem {
            path,
            message: message.into(),
            hint: None,
            on_key: false,
        }
    }

    /// Points at the key rather than its value.
    pub fn on_key(mut self) -> Problem {
        self.on_key = true;
        self
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Problem {
        self.hint = Some(hint.into());
        self
    }

    /// The path as `timeline[0].release.version`.
    pub fn path_string(&self) -> String {
        let mut out = String::new();
        for seg in &self.path {
            match seg {
                Seg::Key(k) => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(k);
                }
                Seg::Index(i) => out.push_str(&format!("[{i}]")),
            }
        }
        out
    }
}

/// A problem placed in a file, ready to show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
    /// The offending line.
    pub snippet: String,
    /// How many characters the caret underlines.
    pub width: usize,
    /// What to do.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// Places a byte range of `text` (the contents of `file`).
    pub fn new(
        file: &Path,
        text: &str,
        span: Range<usize>,
        message: impl Into<String>,
        hint: Option<String>,
    ) -> Diagnostic {
        let start = span.start.min(text.len());
        let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
        let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
        let line = text[..start].matches('\n').count() + 1;
        let column = text[line_start..start].chars().count() + 1;
        let end = span.end.clamp(start, line_end);
        let width = text[start..end].chars().count().max(1);
        Diagnostic {
            file: file.to_path_buf(),
            line,
            column,
            message: message.into(),
            snippet: text[line_start..line_end]
                .trim_end_matches('\r')
                .to_string(),
            width,
            hint,
        }
    }

    /// Places a validation problem, using the document to find its span.
    pub fn locate(
        file: &Path,
        text: &str,
        doc: Option<&DeTable<'_>>,
        problem: &Problem,
    ) -> Diagnostic {
        let span = doc
            .and_then(|d| {
                if problem.on_key {
                    key_span_of(d, &problem.path)
                } else {
                    Some(span_of(d, &problem.path))
                }
            })
            .unwrap_or(0..0);
        let message = if problem.path.is_empty() {
            problem.message.clone()
        } else {
            format!("{}: {}", problem.path_string(), problem.message)
        };
        Diagnostic::new(file, text, span, message, problem.hint.clone())
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let number = self.line.to_string();
        let pad = " ".repeat(number.len());
        writeln!(f, "error: {}", self.message)?;
        writeln!(
            f,
            "{pad}--> {}:{}:{}",
            self.file.display(),
            self.line,
            self.column
        )?;
        writeln!(f, "{pad} |")?;
        writeln!(f, "{number} | {}", self.snippet)?;
        let lead: String = self
            .snippet
            .chars()
            .take(self.column - 1)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "{pad} | {lead}{}", "^".repeat(self.width))?;
        if let Some(hint) = &self.hint {
            write!(f, "\n{pad} = hint: {hint}")?;
        }
        Ok(())
    }
}

/// The span of the deepest value along `path` that exists in the document.
/// A missing key points at its parent table, which is where it belongs.
fn span_of(doc: &DeTable<'_>, path: &[Seg]) -> Range<usize> {
    let Some((first, rest)) = path.split_first() else {
        return 0..0;
    };
    let Seg::Key(key) = first else { return 0..0 };
    let Some(mut value) = doc.get(key.as_str()) else {
        return 0..0;
    };
    let mut span = key_span(doc, key).unwrap_or_else(|| value.span());
    span = if rest.is_empty() { value.span() } else { span };
    for seg in rest {
        let next = match seg {
            Seg::Key(k) => value.get_ref().get(k.as_str()),
            Seg::Index(i) => value.get_ref().get(*i),
        };
        match next {
            Some(v) => {
                value = v;
                span = v.span();
            }
            None => break,
        }
    }
    // A whole table spans many lines; point at its first line instead.
    if matches!(value.get_ref(), DeValue::Table(_)) && !path.is_empty() {
        return span.start..span.start;
    }
    span
}

/// The span of the last key of `path`, if the document has it.
fn key_span_of(doc: &DeTable<'_>, path: &[Seg]) -> Option<Range<usize>> {
    let (last, parents) = path.split_last()?;
    let Seg::Key(key) = last else { return None };
    let mut table = doc;
    for seg in parents {
        let value = match seg {
            Seg::Key(k) => table.get(k.as_str())?,
            Seg::Index(_) => return None,
        };
        match value.get_ref() {
            DeValue::Table(t) => table = t,
            _ => return None,
        }
    }
    key_span(table, key)
}

fn key_span(table: &DeTable<'_>, key: &str) -> Option<Range<usize>> {
    table
        .keys()
        .find(|k| k.get_ref().as_ref() == key)
        .map(|k| k.span())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn places_a_span_with_line_column_and_caret() {
        let text = "id = \"x\"\nfleet = { pods = 0 }\n";
        let start = text.find('0').unwrap();
        let d = Diagnostic::new(
            Path::new("s.toml"),
            text,
            start..start + 1,
            "pods must be at least 1",
            Some("give the fleet 1 or more pods".into()),
        );
        assert_eq!((d.line, d.column), (2, 18));
        let shown = d.to_string();
        assert!(shown.contains("--> s.toml:2:18"), "{shown}");
        assert!(shown.contains("2 | fleet = { pods = 0 }"), "{shown}");
        assert!(shown.contains("  |                  ^\n"), "{shown}");
        assert!(
            shown.ends_with("= hint: give the fleet 1 or more pods"),
            "{shown}"
        );
    }

    #[test]
    fn locates_paths_through_arrays_and_tables() {
        let text = "[[timeline]]\nat = \"1s\"\n\n[[timeline]]\nat = \"2x\"\n";
        let doc = DeTable::parse(text).unwrap();
        let p = Problem::at("timeline.1.at", "bad duration");
        assert_eq!(p.path_string(), "timeline[1].at");
        let d = Diagnostic::locate(Path::new("t.toml"), text, Some(doc.get_ref()), &p);
        assert_eq!((d.line, d.column), (5, 6));
        assert_eq!(d.width, 4);
        // A missing key points at the table it belongs in.
        let p = Problem::at("timeline.1.release", "missing");
        let d = Diagnostic::locate(Path::new("t.toml"), text, Some(doc.get_ref()), &p);
        assert_eq!(d.line, 4, "{d}");
    }
}

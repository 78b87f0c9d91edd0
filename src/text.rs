//! Text and time as pgdrill shows them, for every module: scenario clock
//! and UTC dates, a first line cut short, markup escaping, wrapping, names
//! that are safe as file names, and "did you mean". A leaf: it uses no
//! other module of pgdrill.

/// Formats scenario milliseconds as `1m05s`.
pub fn clock(ms: u64) -> String {
    let secs = ms / 1000;
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS` (UTC).
pub fn utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Escapes text for HTML and XML, content and attributes alike; characters
/// XML 1.0 cannot carry at all become `?`.
pub fn escape_markup(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => s.push('?'),
            c => s.push(c),
        }
    }
    s
}

/// The first line of a text, trimmed and cut to `max` characters.
pub fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default().trim();
    if line.chars().count() > max {
        format!("{}...", line.chars().take(max - 3).collect::<String>())
    } else {
        line.to_string()
    }
}

/// The known word closest to a mistyped one, when it is close enough to be
/// what was meant (`staus` → `status`, `rolback` → `rollback`).
pub fn did_you_mean<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(&typed, k), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Whether `name` is plain: letters, digits, `-` and `_`, and not empty.
/// Scenario and quiz ids, snapshot and job names are plain, so none of them
/// can reach outside the folder it names a file in.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Each line of `text` that is wider than `width` broken at spaces, its
/// continuation lines indented like the line itself (so usage lines and
/// indented explanations stay readable in a narrow terminal). A word
/// longer than the width stays whole.
pub fn wrap_lines(text: &str, width: usize) -> String {
    text.lines()
        .map(|line| wrap_hanging(line, width, term_column(line)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// In an indented `  term     what it means` line, how far past the
/// indent the meaning starts (continuation lines go there); else 0.
fn term_column(line: &str) -> usize {
    let body = line.trim_start();
    if body.len() == line.len() {
        return 0;
    }
    let Some(term_end) = body.find(' ') else {
        return 0;
    };
    let gap = body[term_end..].len() - body[term_end..].trim_start().len();
    if gap >= 2 {
        body[..term_end + gap].chars().count()
    } else {
        0
    }
}

/// [`wrap_lines`], with continuation lines indented `hang` columns more
/// (`[ 1m05s] ALERT ...` continues under its text, not its time).
pub fn wrap_hanging(text: &str, width: usize, hang: usize) -> String {
    let width = width.max(20);
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        let cont = format!("{indent}{}", " ".repeat(hang));
        let mut rest = line;
        let mut first = true;
        loop {
            let lead = if first { "" } else { cont.as_str() };
            let room = width.saturating_sub(lead.chars().count()).max(10);
            if rest.chars().count() <= room {
                out.push(format!("{lead}{rest}"));
                break;
            }
            // The last space within the room (spacing inside the line is
            // kept: `[   10s]` stays aligned), else the first space after
            // it: a word longer than the room stays whole.
            let cut = rest
                .char_indices()
                .take(room + 1)
                .filter(|(_, c)| *c == ' ')
                .map(|(i, _)| i)
                .filter(|i| rest[..*i].trim_start().chars().count() > 0)
                .last()
                .or_else(|| {
                    rest.char_indices()
                        .skip(room)
                        .find(|(_, c)| *c == ' ')
                        .map(|(i, _)| i)
                });
            let Some(cut) = cut else {
                out.push(format!("{lead}{rest}"));
                break;
            };
            out.push(format!("{lead}{}", rest[..cut].trim_end()));
            rest = rest[cut..].trim_start();
            first = false;
            if rest.is_empty() {
                break;
            }
        }
    }
    out.join("\n")
}

/// Words joined into lines of at most `width` characters (a longer word
/// stays whole); runs of whitespace become one space.
pub fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        if line > 0 && line + 1 + word.len() > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap_lines;

    #[test]
    fn help_is_wrapped_to_the_width_with_its_indentation() {
        let help = crate::action::HELP
            .iter()
            .find(|h| h.name == "status")
            .unwrap();
        let text = format!("{}\n  {}\n\n{}", help.usage, help.summary, help.detail);
        let wrapped = wrap_lines(&text, 40);
        for line in wrapped.lines() {
            assert!(line.chars().count() <= 40, "{line:?}");
        }
        // The summary's continuation lines keep its two-space indent.
        let summary: Vec<&str> = wrapped
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect();
        assert!(
            summary.len() > 1 && summary.iter().all(|l| l.starts_with("  ")),
            "{summary:?}"
        );
        // Nothing is lost: the same words in the same order.
        let words = |t: &str| t.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(words(&wrapped), words(&text));
        // An event line keeps its aligned time and continues under its text.
        let event = format!("[   10s] TIMELINE {}", "word ".repeat(12));
        let wrapped = super::wrap_hanging(event.trim_end(), 30, 9);
        assert!(wrapped.starts_with("[   10s] TIMELINE"), "{wrapped}");
        assert!(
            wrapped
                .lines()
                .skip(1)
                .all(|l| l.starts_with("         word")),
            "{wrapped}"
        );
        // A list of terms continues under the meanings.
        let list = "  repair     copy column values from another instance, row by row";
        let wrapped = wrap_lines(list, 40);
        assert!(
            wrapped
                .lines()
                .skip(1)
                .all(|l| l.starts_with("             ")),
            "{wrapped}"
        );
        // Short lines, and a word longer than the width, stay as they are.
        assert_eq!(wrap_lines("status", 40), "status");
        let long = "x".repeat(60);
        assert_eq!(wrap_lines(&long, 40), long);
    }
}

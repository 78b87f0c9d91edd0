//! The class table as CSV (RFC 4180), one row per file, for a spreadsheet
//! or a gradebook import. Unreadable files are rows too, with the reason.

use std::io::{self, Write};

use super::{Outcome, Row};

/// Quotes a field when it needs it.
fn field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

const HEADER: [&str; 18] = [
    "file",
    "learner",
    "scenario",
    "status",
    "points",
    "max_points",
    "pass_mark",
    "passed",
    "rto_s",
    "rto_target_s",
    "writes",
    "writes_lost",
    "deductions",
    "trusted",
    "signed",
    "flags",
    "played_utc",
    "reasons",
];

/// Writes the rows.
pub fn write(rows: &[Row], out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "{}", HEADER.join(","))?;
    let secs = |ms: Option<u64>| ms.map(|ms| format!("{:.1}", ms as f64 / 1000.0));
    for r in rows {
        let file = r.file.display().to_string();
        let fields: Vec<String> = match &r.outcome {
            Outcome::Graded(g) => {
                let s = &g.score;
                let deductions: Vec<String> = g.deductions.iter().map(|d| d.short()).collect();
                vec![
                    file,
                    g.learner.clone(),
                    g.scenario.clone(),
                    "graded".into(),
                    s.points.to_string(),
                    s.max_points.to_string(),
                    s.pass_mark.to_string(),
                    s.passed.to_string(),
                    secs(s.rto_ms).unwrap_or_default(),
                    secs(Some(s.rto_target_ms)).unwrap_or_default(),
                    s.rpo
                        .as_ref()
                        .map(|r| r.writes.to_string())
                        .unwrap_or_default(),
                    s.rpo
                        .as_ref()
                        .map(|r| r.missing.to_string())
                        .unwrap_or_default(),
                    deductions.join("; "),
                    g.flags.is_empty().to_string(),
                    g.signed.to_string(),
                    g.flags.join("; "),
                    g.started.clone(),
                    s.reasons.join("; "),
                ]
            }
            Outcome::Unreadable { reason } => {
                let mut v = vec![String::new(); HEADER.len()];
                v[0] = file;
                v[3] = "unreadable".into();
                v[13] = "false".into();
                v[15] = reason.clone();
                v
            }
        };
        let line: Vec<String> = fields.iter().map(|f| field(f)).collect();
        writeln!(out, "{}", line.join(","))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_when_they_must_be() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field("a, b"), "\"a, b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
    }

    #[test]
    fn an_unreadable_file_is_a_row_with_its_reason() {
        let rows = vec![Row {
            file: "class/bob.json".into(),
            outcome: Outcome::Unreadable {
                reason: "truncated, at line 3".into(),
            },
        }];
        let mut out = Vec::new();
        write(&rows, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let line = text.lines().nth(1).unwrap();
        assert_eq!(
            line,
            "class/bob.json,,,unreadable,,,,,,,,,,false,,\"truncated, at line 3\",,"
        );
        assert_eq!(line.matches(',').count(), HEADER.len()); // one more for the quoted comma
    }
}

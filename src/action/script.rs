//! Scripts: one move per line, with an optional scenario time to wait for
//! (`at 1m30s: app rollback`), `#` comments, and every bad line reported by
//! its number.

use std::time::Duration;

use super::{Action, parse};
use crate::scenario::Dur;

/// One line of a script: a move and, optionally, the scenario time to wait for.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// Play no earlier than this scenario time.
    pub at: Option<Duration>,
    /// The move, as written.
    pub text: String,
    /// The move, parsed.
    pub action: Action,
}

/// Parses a script: one move per line, `#` comments, blank lines ignored,
/// `at DURATION: MOVE` to wait for a scenario time. Every bad line is
/// reported as `LINE: message`.
pub fn parse_script(text: &str) -> Result<Vec<ScriptLine>, Vec<(usize, String)>> {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let (at, body) = match line.strip_prefix("at ").and_then(|r| r.split_once(':')) {
            Some((when, body)) => match Dur::parse(when.trim()) {
                Ok(d) => (Some(d.0), body.trim()),
                Err(e) => {
                    problems.push((n, e));
                    continue;
                }
            },
            None => (None, line),
        };
        match parse(body) {
            Ok(action) => lines.push(ScriptLine {
                line: n,
                at,
                text: body.to_string(),
                action,
            }),
            Err(e) => problems.push((
                n,
                match e.usage {
                    Some(u) => format!("{}; usage: {u}", e.message),
                    None => e.message,
                },
            )),
        }
    }
    if problems.is_empty() {
        Ok(lines)
    } else {
        Err(problems)
    }
}

/// Drops a `#` comment that is not inside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_have_times_comments_and_line_numbers() {
        let script = "# reference\nat 35s: app pause   # stop it\n\nnote \"a # in quotes\"\nat soon: status\nfly\n";
        let problems = parse_script(script).unwrap_err();
        assert_eq!(problems.iter().map(|p| p.0).collect::<Vec<_>>(), vec![5, 6]);
        let ok = parse_script("at 35s: app pause # x\nnote \"a # b\"\n").unwrap();
        assert_eq!(ok[0].at, Some(Duration::from_secs(35)));
        assert_eq!(ok[0].action, Action::App(super::super::App::Pause));
        assert_eq!(
            ok[1].action,
            Action::Incident(super::super::Incident::Note("a # b".into()))
        );
        assert_eq!(ok[1].line, 2);
    }
}

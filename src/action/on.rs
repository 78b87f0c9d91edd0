//! `--on NAME`: a move on another instance of the drill than the one the
//! app uses (runbook 003: "run the down migration on a test or restored
//! copy to observe effects"; "run smoke tests on the restored instance").
//!
//! It is written right after the move's verb words (`sql --on restored-1
//! SELECT ...`, `migrate down --on restored-1 --count 1`), so a rubric
//! pattern `sql --on restored-1` or `migrate down --on restored-1` matches
//! exactly the moves made there.

use std::fmt;

use super::words::Words;
use super::{Action, ParseError, err};

/// A move on a named instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct On {
    /// The instance (`primary`, `restored-1`; see `instances`).
    pub instance: String,
    /// The move; one of those that run on a database ([`On::takes`]).
    pub action: Box<Action>,
}

impl On {
    /// Whether a move can be sent to another instance: SQL and the
    /// migration runner, which run on one database and read its state.
    pub fn takes(action: &Action) -> bool {
        matches!(action, Action::Sql(_) | Action::Migrate(_))
    }

    /// Where `--on` stands in a line whose verb is `verb`, if it may: right
    /// after the verb words (`sql`; `migrate down`).
    fn position(verb: &str) -> Option<usize> {
        match verb {
            "sql" => Some(1),
            "migrate" => Some(2),
            _ => None,
        }
    }

    /// Takes `--on NAME` out of a line: the instance and the line without
    /// it, or `None` when the line has no `--on` where its verb takes one.
    pub(super) fn split(line: &str, w: &Words) -> Result<Option<(String, String)>, ParseError> {
        let verb = w.keyword(0).unwrap_or_default();
        let Some(at) = Self::position(&verb) else {
            return Ok(None);
        };
        if w.get(at) != Some("--on") {
            return Ok(None);
        }
        let name = w
            .get(at + 1)
            .filter(|n| crate::is_plain_name(n))
            .ok_or_else(|| {
                w.err("--on takes an instance's name, e.g. `restored-1` (see `instances`)")
            })?;
        // The line without the two words, the rest as typed (SQL keeps its
        // spacing and quotes).
        let mut rest = line;
        for _ in 0..at + 2 {
            let r = rest.trim_start();
            rest = &r[r.find(char::is_whitespace).unwrap_or(r.len())..];
        }
        let head: Vec<&str> = line.split_whitespace().take(at).collect();
        Ok(Some((
            name.to_string(),
            format!("{} {}", head.join(" "), rest.trim_start()),
        )))
    }

    /// Wraps a parsed move, or says why it cannot go to another instance.
    pub(super) fn wrap(instance: String, action: Action) -> Result<Action, ParseError> {
        if !Self::takes(&action) {
            return Err(err(
                "only `sql` and `migrate` run on another instance",
                None,
            ));
        }
        Ok(Action::On(On {
            instance,
            action: Box::new(action),
        }))
    }

    /// A canonical form (of this move, or of the record the engine made
    /// of it) with `--on NAME` after its verb words.
    pub fn mark(canonical: &str, instance: &str) -> String {
        let verb = canonical.split_whitespace().next().unwrap_or_default();
        let n = Self::position(&verb.to_ascii_lowercase()).unwrap_or(1);
        let words: Vec<&str> = canonical.splitn(n + 1, ' ').collect();
        let (head, tail) = words.split_at(n.min(words.len()));
        let mut out = format!("{} --on {instance}", head.join(" "));
        if let Some(tail) = tail.first() {
            out.push(' ');
            out.push_str(tail);
        }
        out
    }
}

impl fmt::Display for On {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&Self::mark(&self.action.to_string(), &self.instance))
    }
}

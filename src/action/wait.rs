//! `wait DURATION` and `wait until recovered [--max DURATION]`: let
//! scenario time pass while traffic runs.

use std::fmt;

use super::ParseError;
use super::help::Help;
use super::words::{Words, exact};
use crate::scenario::Dur;

/// How long a `wait` lasts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// This much scenario time.
    For(Dur),
    /// Until the service has recovered: the SLO has held for its stability
    /// window and every integrity check passes (at once when no incident
    /// has begun). At most `max` when given, else until the drill ends.
    Recovered {
        /// The longest to wait.
        max: Option<Dur>,
    },
}

impl Wait {
    pub(super) fn parse(w: &Words) -> Result<Wait, ParseError> {
        if w.keyword(1).as_deref() != Some("until") {
            w.at_most(2)?;
            let d = w
                .get(1)
                .ok_or_else(|| w.err("say how long, e.g. `wait 30s`"))?;
            return Ok(Wait::For(w.duration(d)?));
        }
        if w.keyword(2).as_deref() != Some("recovered") {
            return Err(w.err("`wait until` takes `recovered`"));
        }
        let max = match (w.get(3), w.get(4)) {
            (None, _) => None,
            (Some("--max"), Some(d)) => {
                w.at_most(5)?;
                Some(w.duration(d)?)
            }
            (Some("--max"), None) => return Err(w.err("--max takes a duration")),
            (Some(other), _) => return Err(w.err(format!("unexpected `{other}`"))),
        };
        Ok(Wait::Recovered { max })
    }
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wait::For(d) => write!(f, "wait {}", exact(d.0)),
            Wait::Recovered { max: None } => f.write_str("wait until recovered"),
            Wait::Recovered { max: Some(d) } => {
                write!(f, "wait until recovered --max {}", exact(d.0))
            }
        }
    }
}

/// Help for `wait`.
pub(super) const HELP: Help = Help {
    name: "wait",
    usage: "wait DURATION | wait until recovered [--max DURATION]",
    summary: "let scenario time pass (e.g. `wait 30s`), or watch until the service recovers",
    detail: "Traffic keeps running while you wait; alerts are shown as they happen. `wait until recovered` returns once the SLO has held for its stability window and every integrity check passes (at once if no incident has begun), or after `--max`; it does not judge anything, `status` still shows you the evidence.",
};

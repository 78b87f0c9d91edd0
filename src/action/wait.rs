//! `wait DURATION` and `wait until recovered|incident [--max DURATION]`:
//! let scenario time pass while traffic runs.

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
    /// Until an incident has begun: the SLO broke or a check failed (at
    /// once when one has). The pager, for a script that answers it rather
    /// than guessing when the fault will show. At most `max` when given.
    Incident {
        /// The longest to wait.
        max: Option<Dur>,
    },
}

/// What a `wait until` watches for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Until {
    /// The service and the data are back.
    Recovered,
    /// An incident has begun.
    Incident,
}

impl Wait {
    /// What it watches for, if anything but the clock.
    pub fn until(&self) -> Option<Until> {
        match self {
            Wait::For(_) => None,
            Wait::Recovered { .. } => Some(Until::Recovered),
            Wait::Incident { .. } => Some(Until::Incident),
        }
    }

    /// The longest it lasts, if bounded.
    pub fn max(&self) -> Option<Dur> {
        match self {
            Wait::For(d) => Some(*d),
            Wait::Recovered { max } | Wait::Incident { max } => *max,
        }
    }
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
        let until = match w.keyword(2).as_deref() {
            Some("recovered") => Until::Recovered,
            Some("incident") => Until::Incident,
            _ => return Err(w.err("`wait until` takes `recovered` or `incident`")),
        };
        let max = match (w.get(3), w.get(4)) {
            (None, _) => None,
            (Some("--max"), Some(d)) => {
                w.at_most(5)?;
                Some(w.duration(d)?)
            }
            (Some("--max"), None) => return Err(w.err("--max takes a duration")),
            (Some(other), _) => return Err(w.err(format!("unexpected `{other}`"))),
        };
        Ok(match until {
            Until::Recovered => Wait::Recovered { max },
            Until::Incident => Wait::Incident { max },
        })
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
            Wait::Incident { max: None } => f.write_str("wait until incident"),
            Wait::Incident { max: Some(d) } => {
                write!(f, "wait until incident --max {}", exact(d.0))
            }
        }
    }
}

/// Help for `wait`.
pub(super) const HELP: Help = Help {
    name: "wait",
    usage: "wait DURATION | wait until recovered|incident [--max DURATION]",
    summary: "let scenario time pass (e.g. `wait 30s`), or watch until the service recovers or the pager goes off",
    detail: "Traffic keeps running while you wait; alerts are shown as they happen. `wait until recovered` returns once the SLO has held for its stability window and every integrity check passes (at once if no incident has begun), or after `--max`. `wait until incident` returns once the SLO breaks or a check fails (at once if that has happened), or after `--max`: in a script, it answers the page instead of guessing when the fault shows. Neither judges anything; `status` still shows you the evidence.",
};

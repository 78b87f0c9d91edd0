//! `wait DURATION` and `wait until CONDITION [--max DURATION]`: let
//! scenario time pass while traffic runs.

use std::fmt;

use super::ParseError;
use super::help::Help;
use super::words::{Words, exact};
use crate::scenario::Dur;

/// How long a `wait` lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wait {
    /// This much scenario time.
    For(Dur),
    /// Until something the learner can see has happened (at once when it
    /// already has); at most `max` when given, else until the drill ends.
    Until {
        /// What ends it.
        until: Until,
        /// The longest to wait.
        max: Option<Dur>,
    },
}

/// What a `wait until` watches for. Each is a state `status` shows, so a
/// script answers what happens instead of guessing when it will: under
/// load, a fault shows later than on an idle machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Until {
    /// The service and the data are back: the SLO has held for its
    /// stability window and every integrity check passes (at once when no
    /// incident has begun).
    Recovered,
    /// An incident has begun: the SLO broke or a check failed. The pager.
    Incident,
    /// A rollout has begun (a deploy, a rollback or the timeline's
    /// release), whether it still rolls, stalled, paused or finished.
    Rollout,
    /// Every pod runs this version.
    Version(String),
}

impl Until {
    /// The words after `wait until`.
    fn words(&self) -> String {
        match self {
            Until::Recovered => "recovered".into(),
            Until::Incident => "incident".into(),
            Until::Rollout => "rollout".into(),
            Until::Version(v) => format!("version {v}"),
        }
    }
}

impl Wait {
    /// What it watches for, if anything but the clock.
    pub fn until(&self) -> Option<&Until> {
        match self {
            Wait::For(_) => None,
            Wait::Until { until, .. } => Some(until),
        }
    }

    /// The longest it lasts, if bounded.
    pub fn max(&self) -> Option<Dur> {
        match self {
            Wait::For(d) => Some(*d),
            Wait::Until { max, .. } => *max,
        }
    }
}

const CONDITIONS: &str = "`recovered`, `incident`, `rollout` or `version NAME`";

impl Wait {
    pub(super) fn parse(w: &Words) -> Result<Wait, ParseError> {
        if w.keyword(1).as_deref() != Some("until") {
            w.at_most(2)?;
            let d = w
                .get(1)
                .ok_or_else(|| w.err("say how long, e.g. `wait 30s`"))?;
            return Ok(Wait::For(w.duration(d)?));
        }
        let (until, next) = match w.keyword(2).as_deref() {
            Some("recovered") => (Until::Recovered, 3),
            Some("incident") => (Until::Incident, 3),
            Some("rollout") => (Until::Rollout, 3),
            Some("version") => match w.get(3) {
                Some(v) if !v.starts_with("--") => (Until::Version(v.to_string()), 4),
                _ => return Err(w.err("`wait until version` takes a version, e.g. `v1`")),
            },
            _ => return Err(w.err(format!("`wait until` takes {CONDITIONS}"))),
        };
        let max = match (w.get(next), w.get(next + 1)) {
            (None, _) => None,
            (Some("--max"), Some(d)) => {
                w.at_most(next + 2)?;
                Some(w.duration(d)?)
            }
            (Some("--max"), None) => return Err(w.err("--max takes a duration")),
            (Some(other), _) => return Err(w.err(format!("unexpected `{other}`"))),
        };
        Ok(Wait::Until { until, max })
    }
}

impl fmt::Display for Wait {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wait::For(d) => write!(f, "wait {}", exact(d.0)),
            Wait::Until { until, max: None } => write!(f, "wait until {}", until.words()),
            Wait::Until {
                until,
                max: Some(d),
            } => write!(f, "wait until {} --max {}", until.words(), exact(d.0)),
        }
    }
}

/// Help for `wait`.
pub(super) const HELP: Help = Help {
    name: "wait",
    usage: "wait DURATION | wait until recovered|incident|rollout|version NAME [--max DURATION]",
    summary: "let scenario time pass (e.g. `wait 30s`), or watch until something happens: the service recovers, the pager goes off, a rollout begins, every pod runs a version",
    detail: "Traffic keeps running while you wait; alerts are shown as they happen. `wait until recovered` returns once the SLO has held for its stability window and every integrity check passes (at once if no incident has begun). `wait until incident` returns once the SLO breaks or a check fails. `wait until rollout` returns once a rollout has begun (a deploy, a rollback or the release), `wait until version v1` once every pod runs v1. Each returns at once if it has already happened, or after `--max`: in a script, they answer what happens instead of guessing when it will. None judges anything; `status` still shows you the evidence.",
};

//! `kill PID|NAME [--terminate]`: cancel the query of a backend, or end its
//! session (runbook 000, failure mode 2). The transcript records it as
//! `kill cancel|terminate TARGET`, which parses too.

use std::fmt;

use super::ParseError;
use super::help::Help;
use super::words::{Words, quoted};

/// Cancel (or terminate) backends by pid or application name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kill {
    /// A pid or an application name (a job's name); in the transcript, the
    /// application names it hit.
    pub target: String,
    /// Terminate the session instead of cancelling its query.
    pub terminate: bool,
}

impl Kill {
    pub(super) fn parse(w: &Words) -> Result<Kill, ParseError> {
        w.at_most(3)?;
        // The canonical form: `kill cancel migration-job`.
        if let (Some(how @ ("cancel" | "terminate")), Some(target)) = (w.get(1), w.operand(2)) {
            return Ok(Kill {
                target,
                terminate: how == "terminate",
            });
        }
        let target = w
            .operand(1)
            .ok_or_else(|| w.err("say which pid or application name (see `locks`)"))?;
        let terminate = match w.get(2) {
            None | Some("--cancel") => false,
            Some("--terminate") => true,
            Some(other) => return Err(w.err(format!("unexpected `{other}`"))),
        };
        Ok(Kill { target, terminate })
    }

    /// `cancel` or `terminate`.
    pub fn how(&self) -> &'static str {
        if self.terminate {
            "terminate"
        } else {
            "cancel"
        }
    }
}

impl fmt::Display for Kill {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "kill {} {}", self.how(), quoted(&self.target))
    }
}

/// Help for `kill`.
pub(super) const HELP: Help = Help {
    name: "kill",
    usage: "kill PID|NAME [--terminate]   |   kill cancel|terminate PID|NAME",
    summary: "cancel the query of a backend (pg_cancel_backend), or end its session",
    detail: "NAME is an application_name from `locks` (e.g. migration-job) and acts on every session with that name. Cancel the DDL that queues, or the long transaction it queues behind (runbook 000, failure mode 2). `kill terminate NAME` is the same as `kill NAME --terminate`, and is how the transcript records it.",
};

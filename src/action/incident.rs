//! Incident command: `incident declare SEV`, `comms "TEXT"` to
//! stakeholders, `note "TEXT"` on the timeline (runbook 000: communicate
//! RTO/RPO impact immediately).

use std::fmt;

use super::help::Help;
use super::words::Words;
use super::{ParseError, unknown_subcommand};

/// An incident-command move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incident {
    /// Declare an incident with a severity.
    Declare {
        /// `sev1`, `sev2` or `sev3`.
        severity: String,
    },
    /// Send a status update to stakeholders.
    Comms(String),
    /// Add a note to the incident timeline.
    Note(String),
}

impl Incident {
    /// The verbs, as typed.
    pub(super) const VERBS: &[&str] = &["incident", "comms", "note"];
    /// The second words `incident` takes.
    pub(super) const SUBCOMMANDS: &[&str] = &["declare"];

    pub(super) fn parse(verb: &str, w: &Words) -> Result<Incident, ParseError> {
        match verb {
            "comms" => Ok(Incident::Comms(w.rest("give the update's text")?)),
            "note" => Ok(Incident::Note(w.rest("give the note's text")?)),
            _ if w.keyword(1).as_deref() == Some("declare") => {
                w.at_most(3)?;
                let severity = w
                    .keyword(2)
                    .filter(|s| matches!(s.as_str(), "sev1" | "sev2" | "sev3"))
                    .ok_or_else(|| w.err("give a severity: SEV1 (highest), SEV2 or SEV3"))?;
                Ok(Incident::Declare { severity })
            }
            _ => Err(unknown_subcommand(w, "incident", Incident::SUBCOMMANDS)),
        }
    }
}

impl fmt::Display for Incident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Incident::Declare { severity } => write!(f, "incident declare {severity}"),
            Incident::Comms(text) => write!(f, "comms {text}"),
            Incident::Note(text) => write!(f, "note {text}"),
        }
    }
}

/// Help for `incident`.
pub(super) const INCIDENT: Help = Help {
    name: "incident",
    usage: "incident declare SEV1|SEV2|SEV3",
    summary: "declare an incident and its severity",
    detail: "A destructive migration already applied is a high-severity incident (runbook 000, rollback order).",
};

/// Help for `comms`.
pub(super) const COMMS: Help = Help {
    name: "comms",
    usage: "comms \"TEXT\"",
    summary: "send a status update to stakeholders",
    detail: "State what happened, what you are doing, and the RTO/RPO impact (runbook 000: communicate RTO/RPO impact immediately; runbook 003: communication).",
};

/// Help for `note`.
pub(super) const NOTE: Help = Help {
    name: "note",
    usage: "note \"TEXT\"",
    summary: "add evidence to the incident timeline",
    detail: "Record what you saw and why you acted: the SQLSTATE, the error rate, the migration id, the snapshot id.",
};

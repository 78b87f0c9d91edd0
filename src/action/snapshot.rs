//! `snapshot create [NAME]` and `snapshot list`: a consistent copy of the
//! database before any corrective action (runbook 003).

use std::fmt;

use super::help::Help;
use super::words::{Words, quoted};
use super::{ParseError, unknown_subcommand};

/// A move on snapshots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Snapshot {
    /// Take a snapshot of the database as it is now.
    Create {
        /// Its name (default: snap-N; the transcript records the name given).
        name: Option<String>,
    },
    /// List snapshots.
    List,
}

impl Snapshot {
    /// The second words `snapshot` takes.
    pub(super) const SUBCOMMANDS: &[&str] = &["create", "list"];

    pub(super) fn parse(verb: &str, w: &Words) -> Result<Snapshot, ParseError> {
        if verb == "snapshots" {
            w.at_most(1)?;
            return Ok(Snapshot::List);
        }
        match w.keyword(1).as_deref() {
            Some("create") => {
                w.at_most(3)?;
                Ok(Snapshot::Create { name: w.operand(2) })
            }
            Some("list") => {
                w.at_most(2)?;
                Ok(Snapshot::List)
            }
            _ => Err(unknown_subcommand(w, "snapshot", Snapshot::SUBCOMMANDS)),
        }
    }
}

impl fmt::Display for Snapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Snapshot::Create { name: None } => f.write_str("snapshot create"),
            Snapshot::Create { name: Some(n) } => write!(f, "snapshot create {}", quoted(n)),
            Snapshot::List => f.write_str("snapshot list"),
        }
    }
}

/// Help for `snapshot`.
pub(super) const HELP: Help = Help {
    name: "snapshot",
    usage: "snapshot create [NAME] | snapshot list",
    summary: "a consistent copy of the database as it is now",
    detail: "Take one before any corrective action (runbook 003: take an additional backup before performing corrective actions). The snapshot is taken with pg_dump while traffic runs.",
};

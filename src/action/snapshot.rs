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
        /// A `pg_dump` file even where a physical snapshot can be taken.
        logical: bool,
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
                let mut name = None;
                let mut logical = false;
                for word in w.from(2) {
                    match word.as_str() {
                        "--logical" if !logical => logical = true,
                        n if !n.starts_with('-') && name.is_none() => name = Some(n.to_string()),
                        other => return Err(w.err(format!("unexpected `{other}`"))),
                    }
                }
                Ok(Snapshot::Create { name, logical })
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
            Snapshot::Create { name, logical } => {
                f.write_str("snapshot create")?;
                if let Some(n) = name {
                    write!(f, " {}", quoted(n))?;
                }
                if *logical {
                    f.write_str(" --logical")?;
                }
                Ok(())
            }
            Snapshot::List => f.write_str("snapshot list"),
        }
    }
}

/// Help for `snapshot`.
pub(super) const HELP: Help = Help {
    name: "snapshot",
    usage: "snapshot create [NAME] [--logical] | snapshot list",
    summary: "a consistent copy of the database as it is now",
    detail: "Take one before any corrective action (runbook 003: take an additional backup before performing corrective actions). It is taken while traffic runs: on servers pgdrill runs itself, a physical base backup (a copy of the data directory, with the WAL archived since, so `restore` can also recover to a later point in time); elsewhere, or with `--logical`, a pg_dump file (runbook 004's dump).",
};

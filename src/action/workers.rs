//! `workers`: the background workers beside the pods (runbook 003:
//! "quarantine jobs"; "start with a small worker pool (concurrency=1) and
//! observe"). `workers` alone lists them.

use std::fmt;

use super::help::Help;
use super::words::{Words, quoted};
use super::{ParseError, unknown_subcommand};

/// A move on the workers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Workers {
    /// Each worker pool, its state and failure rate.
    List,
    /// Stop taking jobs (those running finish).
    Pause(String),
    /// Take jobs again.
    Resume(String),
    /// Run this many workers.
    Scale(String, u32),
}

impl Workers {
    /// The second words `workers` takes.
    pub(super) const SUBCOMMANDS: &[&str] = &["pause", "resume", "scale"];

    pub(super) fn parse(w: &Words) -> Result<Workers, ParseError> {
        let name = || {
            w.operand(2)
                .ok_or_else(|| w.err("say which workers (see `workers`)"))
        };
        match w.keyword(1).as_deref() {
            None => Ok(Workers::List),
            Some("pause") => {
                w.at_most(3)?;
                Ok(Workers::Pause(name()?))
            }
            Some("resume") => {
                w.at_most(3)?;
                Ok(Workers::Resume(name()?))
            }
            Some("scale") => {
                w.at_most(4)?;
                let name = name()?;
                let n = w
                    .get(3)
                    .and_then(|n| n.parse::<u32>().ok())
                    .ok_or_else(|| w.err("say how many workers: `workers scale NAME 1`"))?;
                Ok(Workers::Scale(name, n))
            }
            _ => Err(unknown_subcommand(w, "workers", Workers::SUBCOMMANDS)),
        }
    }
}

impl fmt::Display for Workers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Workers::List => f.write_str("workers"),
            Workers::Pause(n) => write!(f, "workers pause {}", quoted(n)),
            Workers::Resume(n) => write!(f, "workers resume {}", quoted(n)),
            Workers::Scale(n, k) => write!(f, "workers scale {} {k}", quoted(n)),
        }
    }
}

/// Help for `workers`.
pub(super) const HELP: Help = Help {
    name: "workers",
    usage: "workers | workers pause NAME | workers resume NAME | workers scale NAME N",
    summary: "the background workers beside the pods (an ETL): pause, resume, scale",
    detail: "`workers` lists each pool: running or paused, how many of how many run, and its failure rate in the last window (status shows it too). Quarantine jobs that write bad data with `workers pause NAME` (runbook 003: coordinated actions), and bring them back gradually: `workers scale NAME 1`, observe, then more. `workers scale NAME 0` stops them too. Jobs running when paused finish.",
};

//! `flag set NAME on|off|N%` and `flag list`: feature flags, the fastest
//! mitigation after expand + deploy (runbook 000, rollback order).

use std::fmt;

use super::help::Help;
use super::words::{Words, quoted};
use super::{ParseError, unknown_subcommand};
use crate::scenario::FlagValue;

/// A move on the feature flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flag {
    /// Set a flag for all, none or a share of requests.
    Set {
        /// Flag name.
        name: String,
        /// New value.
        value: FlagValue,
    },
    /// List the flags.
    List,
}

impl Flag {
    /// The second words `flag` takes.
    pub(super) const SUBCOMMANDS: &[&str] = &["set", "list"];

    pub(super) fn parse(verb: &str, w: &Words) -> Result<Flag, ParseError> {
        if verb == "flags" {
            w.at_most(1)?;
            return Ok(Flag::List);
        }
        match w.keyword(1).as_deref() {
            Some("set") => {
                w.at_most(4)?;
                let (Some(name), Some(value)) = (w.get(2), w.get(3)) else {
                    return Err(w.err("say which flag and its value"));
                };
                let value = FlagValue::parse(value).map_err(|e| w.err(e))?;
                Ok(Flag::Set {
                    name: name.to_string(),
                    value,
                })
            }
            Some("list") => {
                w.at_most(2)?;
                Ok(Flag::List)
            }
            _ => Err(unknown_subcommand(w, "flag", Flag::SUBCOMMANDS)),
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Flag::Set { name, value } => write!(f, "flag set {} {value}", quoted(name)),
            Flag::List => f.write_str("flag list"),
        }
    }
}

/// Help for `flag`.
pub(super) const HELP: Help = Help {
    name: "flag",
    usage: "flag set NAME on|off|N%   |   flag list",
    summary: "switch a feature flag for all, none or a share of requests",
    detail: "Flags are evaluated per request, so `flag set login_v2 10%` sends about one request in ten down the new path. Disabling the flag is the fastest mitigation after expand + deploy (runbook 000, rollback order).",
};

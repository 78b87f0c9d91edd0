//! The learner's command language: parsing, help, and the canonical form
//! of every move. Pure; the engine applies parsed [`Action`]s.
//!
//! A line is a verb and its arguments (`flag set login_v2 off`,
//! `migrate down --count 1`). `sql`, `note` and `comms` take the rest of
//! the line, quoted or not. Scripts add an optional scenario time in front
//! (`at 1m30s: app rollback`), see [`parse_script`].
//!
//! One file per verb family holds its type, its parser, its help and a
//! `Display` that prints its canonical form; this file only dispatches.
//! Invariant: `parse(&a.to_string()) == Ok(a)` (a property test holds it),
//! so the canonical form a transcript records is itself a move. The engine
//! records moves by formatting these types, never by writing strings.

mod app;
mod change;
mod flag;
mod help;
mod incident;
mod kill;
mod look;
mod migrate;
mod on;
mod record;
mod recover;
mod script;
mod snapshot;
mod wait;
mod words;
mod workers;

use std::fmt;

pub use crate::text::did_you_mean;
pub use app::App;
pub use change::{Change, Plan};
pub use flag::Flag;
pub use help::{HELP, Help, PROMPT_COMMANDS, briefing, help};
use help::{SUBCOMMANDS, usage};
pub use incident::Incident;
pub use kill::Kill;
pub use look::Look;
pub use migrate::{Apply, Down, Migrate, Record as MigrateRecord, Up, Verb as MigrateVerb};
pub use on::On;
pub use record::upgrade;
pub use recover::{Part, Point, Recover};
pub use script::{ScriptLine, parse_script};
pub use snapshot::Snapshot;
pub use wait::{Until, Wait};
use words::Words;
pub use workers::Workers;

/// One move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Help on everything or one command.
    Help(Option<String>),
    /// A read-only view: status, events, instances, locks.
    Look(Look),
    /// Feature flags.
    Flag(Flag),
    /// The app's fleet and its rollouts.
    App(App),
    /// The migration runner.
    Migrate(Migrate),
    /// Snapshots.
    Snapshot(Snapshot),
    /// Restore, cutover, replay, repair.
    Recover(Recover),
    /// Cancel or terminate backends.
    Kill(Kill),
    /// Incident command: declare, comms, notes.
    Incident(Incident),
    /// Change management: plan, approve, decide.
    Change(Change),
    /// The background workers.
    Workers(Workers),
    /// Run SQL as the app's role.
    Sql(String),
    /// A move on another instance than the one the app uses.
    On(On),
    /// Let scenario time pass.
    Wait(Wait),
    /// A nudge (costs points).
    Hint,
    /// Declare the incident resolved and end the drill.
    Resolve,
}

/// A line that is not a move.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What is wrong.
    pub message: String,
    /// The usage line of the command, when the verb was known.
    pub usage: Option<&'static str>,
}

fn err(message: impl Into<String>, usage: Option<&'static str>) -> ParseError {
    ParseError {
        message: message.into(),
        usage,
    }
}

/// Parses one line.
pub fn parse(line: &str) -> Result<Action, ParseError> {
    let w = Words::split(line)?;
    let Some(verb) = w.keyword(0) else {
        return Err(err("empty line", None));
    };
    let w = w.with_usage(usage(&verb));
    if let Some((instance, rest)) = On::split(line, &w)? {
        return On::wrap(instance, parse(&rest)?);
    }
    let v = verb.as_str();
    Ok(match v {
        "help" | "?" => {
            w.at_most(2)?;
            Action::Help(w.get(1).map(str::to_string))
        }
        _ if Look::VERBS.contains(&v) => Action::Look(Look::parse(v, &w)?),
        "flag" | "flags" => Action::Flag(Flag::parse(v, &w)?),
        "app" => Action::App(App::parse(&w)?),
        "migrate" => Action::Migrate(Migrate::parse(&w)?),
        "snapshot" | "snapshots" => Action::Snapshot(Snapshot::parse(v, &w)?),
        _ if Recover::VERBS.contains(&v) => Action::Recover(Recover::parse(v, &w)?),
        "kill" => Action::Kill(Kill::parse(&w)?),
        _ if Incident::VERBS.contains(&v) => Action::Incident(Incident::parse(v, &w)?),
        _ if Change::VERBS.contains(&v) => Action::Change(Change::parse(v, &w)?),
        "sql" => Action::Sql(w.rest("give the SQL to run")?),
        "workers" => Action::Workers(Workers::parse(&w)?),
        "wait" => Action::Wait(Wait::parse(&w)?),
        "hint" => Action::Hint,
        "resolve" => {
            w.at_most(1)?;
            Action::Resolve
        }
        _ if help(v).is_some() => {
            let known = SUBCOMMANDS
                .iter()
                .find(|(verb, _)| *verb == v)
                .map_or(&[][..], |(_, subs)| *subs);
            return Err(unknown_subcommand(&w, v, known));
        }
        _ => {
            let verbs = HELP.iter().map(|h| h.name);
            let hint = match did_you_mean(v, verbs) {
                Some(s) => format!("did you mean `{s}`? Type `help` for the list"),
                None => "type `help` for the list".to_string(),
            };
            return Err(err(format!("unknown command `{v}`; {hint}"), None));
        }
    })
}

/// A second word the verb does not take, with the nearest one it does.
fn unknown_subcommand(w: &Words, verb: &str, known: &[&str]) -> ParseError {
    let sub = w.get(1).unwrap_or_default();
    w.err(format!(
        "`{}` is not one of the `{verb}` commands{}",
        w.from(1).join(" "),
        did_you_mean(sub, known.iter().copied())
            .map(|s| format!("; did you mean `{verb} {s}`?"))
            .unwrap_or_default()
    ))
}

impl Action {
    /// Whether the move changes nothing in the drill's world: it looks
    /// (status, events, a list, help), waits, or asks for a hint. SQL is
    /// not among them, whatever it runs.
    pub fn changes_nothing(&self) -> bool {
        if let Action::On(on) = self {
            return on.action.changes_nothing();
        }
        matches!(
            self,
            Action::Help(_)
                | Action::Look(_)
                | Action::Flag(Flag::List)
                | Action::App(App::Status)
                | Action::Migrate(Migrate::Status)
                | Action::Workers(Workers::List)
                | Action::Snapshot(Snapshot::List)
                | Action::Change(Change::Plan(None))
                | Action::Wait(_)
                | Action::Hint
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::Help(None) => f.write_str("help"),
            Action::Help(Some(topic)) => write!(f, "help {}", words::quoted(topic)),
            Action::Look(a) => a.fmt(f),
            Action::Flag(a) => a.fmt(f),
            Action::App(a) => a.fmt(f),
            Action::Migrate(a) => a.fmt(f),
            Action::Snapshot(a) => a.fmt(f),
            Action::Recover(a) => a.fmt(f),
            Action::Kill(a) => a.fmt(f),
            Action::Incident(a) => a.fmt(f),
            Action::Change(a) => a.fmt(f),
            Action::Sql(sql) => write!(f, "sql {sql}"),
            Action::Workers(a) => a.fmt(f),
            Action::On(on) => on.fmt(f),
            Action::Wait(a) => a.fmt(f),
            Action::Hint => f.write_str("hint"),
            Action::Resolve => f.write_str("resolve"),
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_flow;

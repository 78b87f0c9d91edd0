//! Moves that only look: the health table, the event list, the instances
//! and the blocking tree. They change nothing, so reports leave them out of
//! the learner's actions.

use std::fmt;

use super::ParseError;
use super::help::Help;
use super::words::Words;

/// A read-only view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Look {
    /// The health table.
    Status,
    /// What has happened so far.
    Events,
    /// The instances of this drill.
    Instances,
    /// The blocking tree: who waits for whom.
    Locks,
}

impl Look {
    /// The verbs, as typed.
    pub(super) const VERBS: &[&str] = &["status", "events", "instances", "locks"];

    pub(super) fn parse(verb: &str, w: &Words) -> Result<Look, ParseError> {
        w.at_most(1)?;
        Ok(match verb {
            "status" => Look::Status,
            "events" => Look::Events,
            "instances" => Look::Instances,
            _ => Look::Locks,
        })
    }
}

impl fmt::Display for Look {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Look::Status => "status",
            Look::Events => "events",
            Look::Instances => "instances",
            Look::Locks => "locks",
        })
    }
}

/// Help for `status`.
pub(super) const STATUS: Help = Help {
    name: "status",
    usage: "status",
    summary: "health per app version: pods, rps, error %, p50, p99, top error; flags; schema",
    detail: "The numbers are from the last complete one-second window. Errors are counted by SQLSTATE: 42703 undefined_column, 57014 statement timeout (a query ran past the API timeout), 55P03 lock_not_available. Some failures happen before a query reaches the database: pool_timeout means the pod's connection pool was exhausted (every connection busy, for example waiting on a lock, for the whole API timeout), overload that the pod's queue of requests was full, connection that the database could not be reached.",
};

/// Help for `events`.
pub(super) const EVENTS: Help = Help {
    name: "events",
    usage: "events",
    summary: "what has happened so far: timeline, alerts, your moves",
    detail: "Times are scenario time since the drill started.",
};

/// Help for `instances`.
pub(super) const INSTANCES: Help = Help {
    name: "instances",
    usage: "instances",
    summary: "the drill's PostgreSQL instances and which one the app uses",
    detail: "",
};

/// Help for `locks`.
pub(super) const LOCKS: Help = Help {
    name: "locks",
    usage: "locks",
    summary: "the blocking tree: sessions waiting for locks and who holds them",
    detail: "Built from pg_stat_activity, pg_locks and pg_blocking_pids(). Sessions are named by application_name: pods are pgdrill-pod-N, the release's migration job is migration-job, background jobs have their own names.",
};

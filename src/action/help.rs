//! Help for every move: the table `help` lists, each command's usage and
//! detail, and the "did you mean" for a mistyped word.

/// A command's help: usage, one line, and the detail.
pub struct Help {
    /// Verb (and sub-verb) it documents.
    pub name: &'static str,
    /// Usage line.
    pub usage: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Longer explanation.
    pub detail: &'static str,
}

/// Every command's help, in the order `help` lists them.
pub const HELP: &[Help] = &[
    Help {
        name: "status",
        usage: "status",
        summary: "health per app version: pods, rps, error %, p50, p99, top error; flags; schema",
        detail: "The numbers are from the last complete one-second window. Errors are counted by SQLSTATE: 42703 undefined_column, 57014 statement timeout (a query ran past the API timeout), 55P03 lock_not_available. Some failures happen before a query reaches the database: pool_timeout means the pod's connection pool was exhausted (every connection busy, for example waiting on a lock, for the whole API timeout), overload that the pod's queue of requests was full, connection that the database could not be reached.",
    },
    Help {
        name: "events",
        usage: "events",
        summary: "what has happened so far: timeline, alerts, your moves",
        detail: "Times are scenario time since the drill started.",
    },
    Help {
        name: "flag",
        usage: "flag set NAME on|off|N%   |   flag list",
        summary: "switch a feature flag for all, none or a share of requests",
        detail: "Flags are evaluated per request, so `flag set login_v2 10%` sends about one request in ten down the new path. Disabling the flag is the fastest mitigation after expand + deploy (runbook 000, rollback order).",
    },
    Help {
        name: "app",
        usage: "app status | app deploy VERSION | app rollback | app pause | app resume",
        summary: "pods and rollouts: deploy, roll back, pause",
        detail: "Deploys and rollbacks are rolling: one pod moves per step, so old and new versions serve side by side for a while. `app pause` stops a rollout where it is; `app rollback` rolls every pod back to the version before the last deploy.",
    },
    Help {
        name: "migrate",
        usage: "migrate status | migrate up [--count N] [--lock-timeout 2s] [--retries N] | migrate down [--count N | ID] [--lock-timeout 2s] | migrate apply FILE.sql",
        summary: "the migration runner and its tracking table",
        detail: "`migrate down` reverts the newest applied migration (or down to and including ID) using its down SQL, in a transaction when the migration is transactional. Use a down only when it is tested and non-destructive (runbook 003, option A). `--lock-timeout` makes DDL give up instead of queueing behind a long transaction; `--retries N` tries again after a short pause. `migrate apply FILE.sql` applies a corrective forward migration: its file name is its version, which must sort after every applied one, and pgdrill runs it twice to check that it is idempotent (runbook 004, option B).",
    },
    Help {
        name: "snapshot",
        usage: "snapshot create [NAME] | snapshot list",
        summary: "a consistent copy of the database as it is now",
        detail: "Take one before any corrective action (runbook 003: take an additional backup before performing corrective actions). The snapshot is taken with pg_dump while traffic runs.",
    },
    Help {
        name: "restore",
        usage: "restore SNAPSHOT [--to new|in-place] [--as NAME]",
        summary: "restore a snapshot to a NEW instance (default) or over the current one",
        detail: "Restore to a new instance and validate it before any cutover; never overwrite production in place (runbook 003, restore flow). The new instance's sequences are moved past the live instance's values, so writes replayed later keep their ids. `restore ... --to in-place` overwrites the database the app uses.",
    },
    Help {
        name: "cutover",
        usage: "cutover INSTANCE",
        summary: "point the app's connection pools at another instance",
        detail: "In-flight requests finish on the old instance; new ones go to INSTANCE. See `instances` for names. Writes made on the old instance since the snapshot are not on the new one: `replay --since SNAPSHOT`.",
    },
    Help {
        name: "replay",
        usage: "replay --since SNAPSHOT",
        summary: "copy writes acknowledged since SNAPSHOT into the instance the app uses",
        detail: "The workload keeps a ledger of every write the app acknowledged. `replay` copies those rows, made on the snapshot's instance after it was taken, into the instance the app uses now (rows already there are kept). Lost writes count against the RPO.",
    },
    Help {
        name: "repair",
        usage: "repair TABLE.COLUMN[,COLUMN...] --from INSTANCE",
        summary: "copy column values from another instance, row by row by primary key",
        detail: "For a bad backfill: restore a snapshot to a new instance, check it, then repair the damaged columns of the live table from it. Rows only in the live table are left alone.",
    },
    Help {
        name: "instances",
        usage: "instances",
        summary: "the drill's PostgreSQL instances and which one the app uses",
        detail: "",
    },
    Help {
        name: "locks",
        usage: "locks",
        summary: "the blocking tree: sessions waiting for locks and who holds them",
        detail: "Built from pg_stat_activity, pg_locks and pg_blocking_pids(). Sessions are named by application_name: pods are pgdrill-pod-N, the release's migration job is migration-job, background jobs have their own names.",
    },
    Help {
        name: "kill",
        usage: "kill PID|NAME [--terminate]",
        summary: "cancel the query of a backend (pg_cancel_backend), or end its session",
        detail: "NAME is an application_name from `locks` (e.g. migration-job) and acts on every session with that name. Cancel the DDL that queues, or the long transaction it queues behind (runbook 000, failure mode 2).",
    },
    Help {
        name: "incident",
        usage: "incident declare SEV1|SEV2|SEV3",
        summary: "declare an incident and its severity",
        detail: "A destructive migration already applied is a high-severity incident (runbook 000, rollback order).",
    },
    Help {
        name: "comms",
        usage: "comms \"TEXT\"",
        summary: "send a status update to stakeholders",
        detail: "State what happened, what you are doing, and the RTO/RPO impact (runbook 000: communicate RTO/RPO impact immediately; runbook 003: communication).",
    },
    Help {
        name: "approve",
        usage: "approve WHAT --by NAME",
        summary: "record an approval (a destructive step, a restore, a contract migration)",
        detail: "Break-glass actions are allowed only with incident owner approval (runbook 000).",
    },
    Help {
        name: "plan",
        usage: "plan MIGRATION expand|contract --window DURATION --owner NAME [--purpose \"TEXT\"]   |   plan",
        summary: "record the migration plan: id, classification, rollback window and its owner",
        detail: "Before any rollout: classify the migration (expand = additive, the old schema path stays valid; contract = drops or renames), define the rollback window with an owner (runbook 000, pre-deploy checklist 1-2). No approved rollback window, no migration rollout (lab step 1): record the approval with `approve plan --by NAME`. `plan` alone shows the plan so far.",
    },
    Help {
        name: "decide",
        usage: "decide go|no-go MIGRATION \"REASONS\"",
        summary: "a go/no-go decision on a migration, with the checklist behind it",
        detail: "The contract step goes ahead only when: traffic is fully on the new code path; the rollback window passed without incidents; backup/restore evidence is current; explicit approval is recorded (lab step 6). Say which items are met and which are not.",
    },
    Help {
        name: "sql",
        usage: "sql \"SELECT ...\"",
        summary: "run SQL as the app's role and show the result",
        detail: "Prints up to 20 rows. For longer sessions use psql with the URL printed at the start.",
    },
    Help {
        name: "note",
        usage: "note \"TEXT\"",
        summary: "add evidence to the incident timeline",
        detail: "Record what you saw and why you acted: the SQLSTATE, the error rate, the migration id, the snapshot id.",
    },
    Help {
        name: "wait",
        usage: "wait DURATION | wait until recovered [--max DURATION]",
        summary: "let scenario time pass (e.g. `wait 30s`), or watch until the service recovers",
        detail: "Traffic keeps running while you wait; alerts are shown as they happen. `wait until recovered` returns once the SLO has held for its stability window and every integrity check passes (at once if no incident has begun), or after `--max`; it does not judge anything, `status` still shows you the evidence.",
    },
    Help {
        name: "hint",
        usage: "hint",
        summary: "a nudge towards the next step (costs points)",
        detail: "Hints come in order, from a gentle one to the answer.",
    },
    Help {
        name: "resolve",
        usage: "resolve",
        summary: "declare the incident resolved and see your score",
        detail: "Resolve only after verifying that the SLO holds again.",
    },
    Help {
        name: "help",
        usage: "help [COMMAND]",
        summary: "this list, or one command in detail",
        detail: "",
    },
    Help {
        name: "quit",
        usage: "quit",
        summary: "end the drill without resolving (also Ctrl-D, or Ctrl-C twice)",
        detail: "Ctrl-C while a move runs cancels that move (its query on the server too) and brings the prompt back, as in psql; the move is kept in the transcript as cancelled. At the prompt, Ctrl-C clears the line; twice in a row, Ctrl-D or `quit` ends the drill, unresolved, and shows the score.",
    },
    Help {
        name: "clear",
        usage: "clear",
        summary: "clear the screen (also Ctrl-L)",
        detail: "",
    },
];

/// The second words of verbs that have them, for "did you mean".
pub(super) const SUBCOMMANDS: &[(&str, &[&str])] = &[
    ("app", &["status", "deploy", "rollback", "pause", "resume"]),
    ("migrate", &["status", "up", "down", "apply"]),
    ("flag", &["set", "list"]),
    ("snapshot", &["create", "list"]),
    ("incident", &["declare"]),
];

/// Commands of the prompt itself, not moves: never sent to the engine.
pub const PROMPT_COMMANDS: &[&str] = &["help", "quit", "exit", "clear"];

/// The help of a verb.
pub fn help(name: &str) -> Option<&'static Help> {
    HELP.iter().find(|h| h.name.eq_ignore_ascii_case(name))
}

/// The usage line of a verb.
pub(super) fn usage(verb: &str) -> Option<&'static str> {
    help(verb).map(|h| h.usage)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_verb_is_a_rubric_move_verb() {
        for h in HELP.iter().filter(|h| !PROMPT_COMMANDS.contains(&h.name)) {
            assert!(
                crate::scenario::validate::MOVE_VERBS.contains(&h.name),
                "{}",
                h.name
            );
        }
    }
}

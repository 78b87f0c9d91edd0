//! The learner's command language: parsing and help. Pure; the engine
//! applies parsed [`Action`]s.
//!
//! A line is a verb and its arguments (`flag set login_v2 off`,
//! `migrate down --count 1`). `sql` and `note` take the rest of the line,
//! quoted or not. Scripts add an optional scenario time in front
//! (`at 1m30s: app rollback`), see [`parse_script`].

use std::time::Duration;

use crate::scenario::{Dur, FlagValue};

/// One move.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Help on everything or one command.
    Help(Option<String>),
    /// The health table.
    Status,
    /// What has happened so far.
    Events,
    /// Set a flag for all, none or a share of requests.
    FlagSet {
        /// Flag name.
        name: String,
        /// New value.
        value: FlagValue,
    },
    /// List the flags.
    FlagList,
    /// Pods, versions and the rollout.
    AppStatus,
    /// Roll the fleet to a version.
    AppDeploy {
        /// The version.
        version: String,
    },
    /// Roll the fleet back to the version before the last deploy.
    AppRollback,
    /// Pause the rollout in progress.
    AppPause,
    /// Resume a paused rollout.
    AppResume,
    /// Migrations and whether they are applied.
    MigrateStatus,
    /// Apply pending migrations.
    MigrateUp {
        /// At most this many.
        count: Option<usize>,
        /// `lock_timeout` for the run.
        lock_timeout: Option<Duration>,
        /// Attempts after a lock timeout (with a short pause between).
        retries: u32,
    },
    /// Apply a corrective forward migration from a SQL file (its name
    /// without `.sql` is its version).
    MigrateApply {
        /// The file.
        file: String,
        /// `lock_timeout` for the run.
        lock_timeout: Option<Duration>,
    },
    /// Revert applied migrations, newest first.
    MigrateDown {
        /// How many (default 1).
        count: usize,
        /// Revert exactly down to and including this id.
        target: Option<String>,
        /// `lock_timeout` for the run.
        lock_timeout: Option<Duration>,
    },
    /// Take a snapshot of the database as it is now.
    SnapshotCreate {
        /// Its name (default: snap-N).
        name: Option<String>,
    },
    /// List snapshots.
    SnapshotList,
    /// Restore a snapshot to a new instance, or over the current one.
    Restore {
        /// The snapshot.
        snapshot: String,
        /// Over the database the app uses instead of a new instance.
        in_place: bool,
        /// Name of the new instance.
        name: Option<String>,
    },
    /// Point the app's pools at another instance.
    Cutover {
        /// The instance.
        instance: String,
    },
    /// Copy the writes acknowledged since a snapshot from the instance it
    /// was taken of into the one the app uses.
    Replay {
        /// The snapshot.
        since: String,
    },
    /// Copy column values from another instance, row by row by primary key.
    Repair {
        /// Table.
        table: String,
        /// Columns.
        columns: Vec<String>,
        /// Instance to copy from.
        from: String,
    },
    /// The instances of this drill.
    Instances,
    /// The blocking tree: who waits for whom.
    Locks,
    /// Cancel (or terminate) backends by pid or application name.
    Kill {
        /// A pid or an application name (a job's name).
        target: String,
        /// Terminate the session instead of cancelling its query.
        terminate: bool,
    },
    /// Declare an incident with a severity.
    IncidentDeclare {
        /// `sev1`, `sev2`...
        severity: String,
    },
    /// Send a status update to stakeholders.
    Comms(String),
    /// Record an approval.
    Approve {
        /// What is approved (a migration id, `restore`...).
        what: String,
        /// Who approves.
        by: String,
    },
    /// Record the migration plan, or show it (`None`).
    Plan(Option<Plan>),
    /// A go/no-go decision on a migration (a contract step).
    Decide {
        /// Go (`true`) or no-go.
        go: bool,
        /// The migration decided on.
        what: String,
        /// The reasons, in words (the checklist items met or not).
        reason: String,
    },
    /// Run SQL as the app's role.
    Sql(String),
    /// Add a note to the incident timeline.
    Note(String),
    /// Let scenario time pass.
    Wait(Wait),
    /// A nudge (costs points).
    Hint,
    /// Declare the incident resolved and end the drill.
    Resolve,
}

/// How long a `wait` lasts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Wait {
    /// This much scenario time.
    For(Dur),
    /// Until the service has recovered: the SLO has held for its stability
    /// window and every integrity check passes (at once when no incident
    /// has begun). At most `max` when given, else until the drill ends.
    Recovered {
        /// The longest to wait.
        max: Option<Dur>,
    },
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wait::For(d) => write!(f, "wait {d}"),
            Wait::Recovered { max: None } => write!(f, "wait until recovered"),
            Wait::Recovered { max: Some(d) } => write!(f, "wait until recovered --max {d}"),
        }
    }
}

/// A migration plan: what runs, how it is classified, and the rollback
/// window with its owner (runbook 000, pre-deploy checklist; lab step 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The migration's id.
    pub migration: String,
    /// `expand` or `contract`, as the learner classifies it.
    pub kind: String,
    /// How long the rollback window stays open.
    pub window: Dur,
    /// Who owns the rollback.
    pub owner: String,
    /// What it is for.
    pub purpose: Option<String>,
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
const SUBCOMMANDS: &[(&str, &[&str])] = &[
    ("app", &["status", "deploy", "rollback", "pause", "resume"]),
    ("migrate", &["status", "up", "down", "apply"]),
    ("flag", &["set", "list"]),
    ("snapshot", &["create", "list"]),
    ("incident", &["declare"]),
];

/// The known word closest to a mistyped one, when it is close enough to be
/// what was meant (`staus` → `status`, `rolback` → `rollback`).
pub fn did_you_mean<'a>(typed: &str, known: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(&typed, k), k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

/// Commands of the prompt itself, not moves: never sent to the engine.
pub const PROMPT_COMMANDS: &[&str] = &["help", "quit", "exit", "clear"];

/// The help of a verb.
pub fn help(name: &str) -> Option<&'static Help> {
    HELP.iter().find(|h| h.name.eq_ignore_ascii_case(name))
}

fn usage(verb: &str) -> Option<&'static str> {
    help(verb).map(|h| h.usage)
}

/// Splits on whitespace, keeping quoted strings together.
fn words(line: &str) -> Result<Vec<String>, ParseError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            (None, c) => {
                cur.push(c);
                started = true;
            }
        }
    }
    if quote.is_some() {
        return Err(err("unclosed quote", None));
    }
    if started {
        out.push(cur);
    }
    Ok(out)
}

/// The rest of a line after its verb, without surrounding quotes.
fn rest_of_line(line: &str) -> String {
    let rest = line.trim_start();
    let rest = rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..].trim();
    for q in ['"', '\''] {
        if rest.len() >= 2 && rest.starts_with(q) && rest.ends_with(q) {
            return rest[1..rest.len() - 1].to_string();
        }
    }
    rest.to_string()
}

/// The rest of the line as a move's text; `missing` when there is none.
fn text_arg(line: &str, missing: &str, u: Option<&'static str>) -> Result<String, ParseError> {
    let text = rest_of_line(line);
    if text.is_empty() {
        Err(err(missing, u))
    } else {
        Ok(text)
    }
}

fn parse_duration(text: &str, verb: &str) -> Result<Duration, ParseError> {
    Dur::parse(text)
        .map(|d| d.0)
        .map_err(|e| err(e, usage(verb)))
}

/// The value of `--lock-timeout`: at least 1ms, because PostgreSQL reads
/// `lock_timeout = 0` as "wait forever", the opposite of what the learner
/// asked for (and values under 1ms round down to it).
fn lock_timeout_arg(
    value: Option<&String>,
    u: Option<&'static str>,
) -> Result<Duration, ParseError> {
    let d = value.ok_or_else(|| err("--lock-timeout takes a duration", u))?;
    let d = parse_duration(d, "migrate")?;
    if d < Duration::from_millis(1) {
        return Err(err(
            "--lock-timeout must be at least 1ms: PostgreSQL reads a lock_timeout of 0 as \"wait forever\"",
            u,
        ));
    }
    Ok(d)
}

/// Parses one line.
pub fn parse(line: &str) -> Result<Action, ParseError> {
    let w = words(line)?;
    let Some(verb) = w.first().map(|v| v.to_ascii_lowercase()) else {
        return Err(err("empty line", None));
    };
    let sub = w.get(1).map(|s| s.to_ascii_lowercase());
    let u = usage(&verb);
    let extra = |n: usize| {
        if w.len() > n {
            Err(err(format!("unexpected `{}`", w[n]), u))
        } else {
            Ok(())
        }
    };
    let action = match (verb.as_str(), sub.as_deref()) {
        ("help" | "?", _) => {
            extra(2)?;
            Action::Help(w.get(1).cloned())
        }
        ("status", _) => {
            extra(1)?;
            Action::Status
        }
        ("events", _) => {
            extra(1)?;
            Action::Events
        }
        ("flag", Some("set")) => {
            extra(4)?;
            let (Some(name), Some(value)) = (w.get(2), w.get(3)) else {
                return Err(err("say which flag and its value", u));
            };
            let value = FlagValue::parse(value).map_err(|e| err(e, u))?;
            Action::FlagSet {
                name: name.clone(),
                value,
            }
        }
        ("flag", Some("list")) | ("flags", None) => Action::FlagList,
        ("app", Some("status")) => Action::AppStatus,
        ("app", Some("deploy")) => {
            extra(3)?;
            let version = w
                .get(2)
                .ok_or_else(|| err("say which version to deploy", u))?;
            Action::AppDeploy {
                version: version.clone(),
            }
        }
        ("app", Some("rollback")) => {
            extra(2)?;
            Action::AppRollback
        }
        ("app", Some("pause")) => {
            extra(2)?;
            Action::AppPause
        }
        ("app", Some("resume")) => {
            extra(2)?;
            Action::AppResume
        }
        ("migrate", Some("status")) => Action::MigrateStatus,
        ("migrate", Some("apply")) => {
            let file = w
                .get(2)
                .filter(|f| !f.starts_with('-'))
                .ok_or_else(|| err("say which SQL file to apply", u))?
                .clone();
            let mut lock_timeout = None;
            let mut i = 3;
            while i < w.len() {
                match w[i].as_str() {
                    "--lock-timeout" => {
                        lock_timeout = Some(lock_timeout_arg(w.get(i + 1), u)?);
                        i += 2;
                    }
                    other => return Err(err(format!("unexpected `{other}`"), u)),
                }
            }
            Action::MigrateApply { file, lock_timeout }
        }
        ("migrate", Some(dir @ ("up" | "down"))) => {
            let mut count = None;
            let mut target = None;
            let mut lock_timeout = None;
            let mut retries = 0;
            let mut i = 2;
            while i < w.len() {
                match w[i].as_str() {
                    "--retries" if dir == "up" => {
                        retries = w
                            .get(i + 1)
                            .and_then(|n| n.parse::<u32>().ok())
                            .filter(|n| *n <= 20)
                            .ok_or_else(|| err("--retries takes a number from 0 to 20", u))?;
                        i += 2;
                    }
                    "--count" | "-n" => {
                        let n = w
                            .get(i + 1)
                            .and_then(|n| n.parse::<usize>().ok())
                            .filter(|n| *n > 0);
                        count = Some(n.ok_or_else(|| err("--count takes a number above 0", u))?);
                        i += 2;
                    }
                    "--lock-timeout" => {
                        lock_timeout = Some(lock_timeout_arg(w.get(i + 1), u)?);
                        i += 2;
                    }
                    id if !id.starts_with('-') && dir == "down" && target.is_none() => {
                        target = Some(id.to_string());
                        i += 1;
                    }
                    other => return Err(err(format!("unexpected `{other}`"), u)),
                }
            }
            if dir == "up" {
                if retries > 0 && lock_timeout.is_none() {
                    return Err(err(
                        "--retries needs --lock-timeout: without one a run waits for the lock forever",
                        u,
                    ));
                }
                Action::MigrateUp {
                    count,
                    lock_timeout,
                    retries,
                }
            } else {
                if count.is_some() && target.is_some() {
                    return Err(err("give --count or a migration id, not both", u));
                }
                Action::MigrateDown {
                    count: count.unwrap_or(1),
                    target,
                    lock_timeout,
                }
            }
        }
        ("snapshot", Some("create")) => {
            extra(3)?;
            Action::SnapshotCreate {
                name: w.get(2).cloned(),
            }
        }
        ("snapshot", Some("list")) | ("snapshots", None) => Action::SnapshotList,
        ("restore", _) => {
            let snapshot = w
                .get(1)
                .filter(|f| !f.starts_with('-'))
                .ok_or_else(|| err("say which snapshot to restore (see `snapshot list`)", u))?
                .clone();
            let mut in_place = false;
            let mut name = None;
            let mut i = 2;
            while i < w.len() {
                match (w[i].as_str(), w.get(i + 1).map(String::as_str)) {
                    ("--to", Some("new")) => in_place = false,
                    ("--to", Some("in-place")) => in_place = true,
                    ("--to", _) => return Err(err("--to takes `new` or `in-place`", u)),
                    ("--as", Some(n)) => name = Some(n.to_string()),
                    ("--as", None) => return Err(err("--as takes a name", u)),
                    (other, _) => return Err(err(format!("unexpected `{other}`"), u)),
                }
                i += 2;
            }
            Action::Restore {
                snapshot,
                in_place,
                name,
            }
        }
        ("cutover", _) => {
            extra(2)?;
            let instance = w
                .get(1)
                .ok_or_else(|| err("say which instance (see `instances`)", u))?;
            Action::Cutover {
                instance: instance.clone(),
            }
        }
        ("replay", _) => {
            extra(3)?;
            match (w.get(1).map(String::as_str), w.get(2)) {
                (Some("--since"), Some(snap)) => Action::Replay {
                    since: snap.clone(),
                },
                _ => {
                    return Err(err(
                        "say since which snapshot: `replay --since SNAPSHOT`",
                        u,
                    ));
                }
            }
        }
        ("repair", _) => {
            extra(4)?;
            let (Some(target), Some("--from"), Some(from)) =
                (w.get(1), w.get(2).map(String::as_str), w.get(3))
            else {
                return Err(err("write `repair TABLE.COLUMN --from INSTANCE`", u));
            };
            let Some((table, columns)) = target.split_once('.') else {
                return Err(err("name the columns as TABLE.COLUMN[,COLUMN]", u));
            };
            let columns: Vec<String> = columns
                .split(',')
                .map(|c| c.trim().to_string())
                .filter(|c| !c.is_empty())
                .collect();
            if table.is_empty() || columns.is_empty() {
                return Err(err("name the columns as TABLE.COLUMN[,COLUMN]", u));
            }
            Action::Repair {
                table: table.to_string(),
                columns,
                from: from.clone(),
            }
        }
        ("instances", _) => {
            extra(1)?;
            Action::Instances
        }
        ("locks", _) => {
            extra(1)?;
            Action::Locks
        }
        ("kill", _) => {
            extra(3)?;
            let target = w
                .get(1)
                .filter(|t| !t.starts_with('-'))
                .ok_or_else(|| err("say which pid or application name (see `locks`)", u))?
                .clone();
            let terminate = match w.get(2).map(String::as_str) {
                None | Some("--cancel") => false,
                Some("--terminate") => true,
                Some(other) => return Err(err(format!("unexpected `{other}`"), u)),
            };
            Action::Kill { target, terminate }
        }
        ("incident", Some("declare")) => {
            extra(3)?;
            let severity = w
                .get(2)
                .map(|s| s.to_ascii_lowercase())
                .filter(|s| matches!(s.as_str(), "sev1" | "sev2" | "sev3"))
                .ok_or_else(|| err("give a severity: SEV1 (highest), SEV2 or SEV3", u))?;
            Action::IncidentDeclare { severity }
        }
        ("comms", _) => Action::Comms(text_arg(line, "give the update's text", u)?),
        ("approve", _) => {
            extra(4)?;
            match (w.get(1), w.get(2).map(String::as_str), w.get(3)) {
                (Some(what), Some("--by"), Some(by)) if !what.starts_with('-') => Action::Approve {
                    what: what.clone(),
                    by: by.clone(),
                },
                _ => return Err(err("write `approve WHAT --by NAME`", u)),
            }
        }
        ("plan", None) => Action::Plan(None),
        ("plan", Some(_)) => Action::Plan(Some(parse_plan(&w, u)?)),
        ("decide", _) => {
            let go = match w.get(1).map(|s| s.to_ascii_lowercase()).as_deref() {
                Some("go") => true,
                Some("no-go" | "nogo") => false,
                _ => return Err(err("decide `go` or `no-go`", u)),
            };
            let what = w
                .get(2)
                .ok_or_else(|| err("say which migration the decision is about", u))?
                .clone();
            let reason = w[3..].join(" ");
            if reason.trim().is_empty() {
                return Err(err(
                    "give the reasons: which checklist items are met and which are not",
                    u,
                ));
            }
            Action::Decide { go, what, reason }
        }
        ("sql", _) => Action::Sql(text_arg(line, "give the SQL to run", u)?),
        ("note", _) => Action::Note(text_arg(line, "give the note's text", u)?),
        ("wait", Some("until")) => {
            if w.get(2).map(|s| s.to_ascii_lowercase()).as_deref() != Some("recovered") {
                return Err(err("`wait until` takes `recovered`", u));
            }
            let max = match (w.get(3).map(String::as_str), w.get(4)) {
                (None, _) => None,
                (Some("--max"), Some(d)) => {
                    extra(5)?;
                    Some(Dur(parse_duration(d, "wait")?))
                }
                (Some("--max"), None) => return Err(err("--max takes a duration", u)),
                (Some(other), _) => return Err(err(format!("unexpected `{other}`"), u)),
            };
            Action::Wait(Wait::Recovered { max })
        }
        ("wait", _) => {
            extra(2)?;
            let d = w
                .get(1)
                .ok_or_else(|| err("say how long, e.g. `wait 30s`", u))?;
            Action::Wait(Wait::For(Dur(parse_duration(d, "wait")?)))
        }
        ("hint", _) => Action::Hint,
        ("resolve", _) => {
            extra(1)?;
            Action::Resolve
        }
        (v, _) if help(v).is_some() => {
            let sub = w.get(1).map(String::as_str).unwrap_or_default();
            let known = SUBCOMMANDS
                .iter()
                .find(|(verb, _)| *verb == v)
                .map_or(&[][..], |(_, subs)| *subs);
            return Err(err(
                format!(
                    "`{}` is not a `{v}` command{}",
                    w[1..].join(" "),
                    did_you_mean(sub, known.iter().copied())
                        .map(|s| format!("; did you mean `{v} {s}`?"))
                        .unwrap_or_default()
                ),
                u,
            ));
        }
        (v, _) => {
            let verbs = HELP.iter().map(|h| h.name);
            let hint = match did_you_mean(v, verbs) {
                Some(s) => format!("did you mean `{s}`? Type `help` for the list"),
                None => "type `help` for the list".to_string(),
            };
            return Err(err(format!("unknown command `{v}`; {hint}"), None));
        }
    };
    Ok(action)
}

fn parse_plan(w: &[String], u: Option<&'static str>) -> Result<Plan, ParseError> {
    let migration = w[1].clone();
    if migration.starts_with('-') {
        return Err(err("name the migration first: `plan 002_x expand ...`", u));
    }
    let kind = match w.get(2).map(|k| k.to_ascii_lowercase()) {
        Some(k) if k == "expand" || k == "contract" => k,
        _ => {
            return Err(err(
                "classify the migration: `expand` (additive) or `contract` (destructive)",
                u,
            ));
        }
    };
    let (mut window, mut owner, mut purpose) = (None, None, None);
    let mut i = 3;
    while i < w.len() {
        let value = w
            .get(i + 1)
            .ok_or_else(|| err(format!("{} takes a value", w[i]), u))?;
        match w[i].as_str() {
            "--window" => window = Some(Dur(parse_duration(value, "plan")?)),
            "--owner" => owner = Some(value.clone()),
            "--purpose" => purpose = Some(value.clone()),
            other => return Err(err(format!("unexpected `{other}`"), u)),
        }
        i += 2;
    }
    let window = window.ok_or_else(|| {
        err(
            "a plan needs a rollback window, e.g. `--window 24h` (runbook 000, pre-deploy checklist 2)",
            u,
        )
    })?;
    let owner = owner.ok_or_else(|| {
        err(
            "a rollback window needs an owner: `--owner NAME` (runbook 000, pre-deploy checklist 2)",
            u,
        )
    })?;
    Ok(Plan {
        migration,
        kind,
        window,
        owner,
        purpose,
    })
}

/// One line of a script: a move and, optionally, the scenario time to wait for.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptLine {
    /// 1-based line number in the file.
    pub line: usize,
    /// Play no earlier than this scenario time.
    pub at: Option<Duration>,
    /// The move, as written.
    pub text: String,
    /// The move, parsed.
    pub action: Action,
}

/// Parses a script: one move per line, `#` comments, blank lines ignored,
/// `at DURATION: MOVE` to wait for a scenario time. Every bad line is
/// reported as `LINE: message`.
pub fn parse_script(text: &str) -> Result<Vec<ScriptLine>, Vec<(usize, String)>> {
    let mut lines = Vec::new();
    let mut problems = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let (at, body) = match line.strip_prefix("at ").and_then(|r| r.split_once(':')) {
            Some((when, body)) => match Dur::parse(when.trim()) {
                Ok(d) => (Some(d.0), body.trim()),
                Err(e) => {
                    problems.push((n, e));
                    continue;
                }
            },
            None => (None, line),
        };
        match parse(body) {
            Ok(action) => lines.push(ScriptLine {
                line: n,
                at,
                text: body.to_string(),
                action,
            }),
            Err(e) => problems.push((
                n,
                match e.usage {
                    Some(u) => format!("{}; usage: {u}", e.message),
                    None => e.message,
                },
            )),
        }
    }
    if problems.is_empty() {
        Ok(lines)
    } else {
        Err(problems)
    }
}

/// Drops a `#` comment that is not inside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote = None;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') => quote = Some(c),
            (None, '#') => return &line[..i],
            _ => {}
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        assert_eq!(parse("status").unwrap(), Action::Status);
        assert_eq!(
            parse("flag set login_v2 25%").unwrap(),
            Action::FlagSet {
                name: "login_v2".into(),
                value: FlagValue::Percent(25)
            }
        );
        assert_eq!(
            parse("app deploy v2").unwrap(),
            Action::AppDeploy {
                version: "v2".into()
            }
        );
        assert_eq!(parse("APP Rollback").unwrap(), Action::AppRollback);
        assert_eq!(
            parse("migrate down").unwrap(),
            Action::MigrateDown {
                count: 1,
                target: None,
                lock_timeout: None
            }
        );
        assert_eq!(
            parse("migrate down 002_rename_name --lock-timeout 2s").unwrap(),
            Action::MigrateDown {
                count: 1,
                target: Some("002_rename_name".into()),
                lock_timeout: Some(Duration::from_secs(2))
            }
        );
        assert_eq!(
            parse("migrate up --count 2").unwrap(),
            Action::MigrateUp {
                retries: 0,
                count: Some(2),
                lock_timeout: None
            }
        );
        assert_eq!(
            parse("snapshot create before-fix").unwrap(),
            Action::SnapshotCreate {
                name: Some("before-fix".into())
            }
        );
        assert_eq!(
            parse(r#"sql "SELECT 'a b'""#).unwrap(),
            Action::Sql("SELECT 'a b'".into())
        );
        assert_eq!(
            parse("sql SELECT count(*) FROM users").unwrap(),
            Action::Sql("SELECT count(*) FROM users".into())
        );
        assert_eq!(
            parse("note 'v1 fails with 42703'").unwrap(),
            Action::Note("v1 fails with 42703".into())
        );
        assert_eq!(
            parse("wait 1m").unwrap(),
            Action::Wait(Wait::For(Dur::from_secs(60)))
        );
        for (line, max) in [
            ("wait until recovered", None),
            ("Wait Until Recovered --max 3m", Some(Dur::from_secs(180))),
        ] {
            let parsed = parse(line).unwrap();
            assert_eq!(parsed, Action::Wait(Wait::Recovered { max }));
        }
        assert_eq!(
            Wait::Recovered {
                max: Some(Dur::from_secs(90))
            }
            .to_string(),
            "wait until recovered --max 1m30s"
        );
        for bad in [
            "wait until",
            "wait until healthy",
            "wait until recovered --max",
            "wait until recovered --max soon",
            "wait until recovered now",
            "wait until recovered --max 1m extra",
        ] {
            assert!(parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn errors_say_what_to_type() {
        let e = parse("flag set login_v2 maybe").unwrap_err();
        assert!(e.message.contains("25%"), "{e}");
        assert_eq!(e.usage, help("flag").map(|h| h.usage));
        assert!(
            parse("app explode")
                .unwrap_err()
                .message
                .contains("not a `app` command")
        );
        assert!(parse("dance").unwrap_err().message.contains("type `help`"));
        // Regression: typos got no help.
        assert!(
            parse("staus")
                .unwrap_err()
                .message
                .contains("did you mean `status`?"),
            "{}",
            parse("staus").unwrap_err()
        );
        assert!(
            parse("app rolback")
                .unwrap_err()
                .message
                .contains("did you mean `app rollback`?")
        );
        assert!(
            parse("migrate upp")
                .unwrap_err()
                .message
                .contains("did you mean `migrate up`?")
        );
        assert!(!parse("dance").unwrap_err().message.contains("did you mean"));
        assert!(parse("migrate down --count 0").is_err());
        assert!(parse("migrate down 002 --count 2").is_err());
        assert!(parse("note").is_err());
        assert!(parse("sql \"unclosed").is_err());
    }

    #[test]
    fn lock_timeout_of_zero_is_refused() {
        // Regression: `--lock-timeout 0ms` was accepted and meant "wait
        // forever" to PostgreSQL.
        for line in [
            "migrate up --lock-timeout 0ms",
            "migrate up --lock-timeout 0s",
            "migrate down --lock-timeout 0ms",
            "migrate apply fix.sql --lock-timeout 0ms",
        ] {
            let e = parse(line).unwrap_err();
            assert!(e.message.contains("at least 1ms"), "{line}: {e}");
            assert!(e.message.contains("wait forever"), "{line}: {e}");
        }
        assert!(matches!(
            parse("migrate up --lock-timeout 1ms"),
            Ok(Action::MigrateUp { lock_timeout: Some(d), .. }) if d == Duration::from_millis(1)
        ));
        assert!(
            parse("wait 9999999999999999h")
                .unwrap_err()
                .message
                .contains("too long")
        );
        let script = parse_script("at 307445734561825861m: status\n").unwrap_err();
        assert_eq!(script[0].0, 1);
        assert!(script[0].1.contains("too long"), "{script:?}");
    }

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

    #[test]
    fn scripts_have_times_comments_and_line_numbers() {
        let script = "# reference\nat 35s: app pause   # stop it\n\nnote \"a # in quotes\"\nat soon: status\nfly\n";
        let problems = parse_script(script).unwrap_err();
        assert_eq!(problems.iter().map(|p| p.0).collect::<Vec<_>>(), vec![5, 6]);
        let ok = parse_script("at 35s: app pause # x\nnote \"a # b\"\n").unwrap();
        assert_eq!(ok[0].at, Some(Duration::from_secs(35)));
        assert_eq!(ok[0].action, Action::AppPause);
        assert_eq!(ok[1].action, Action::Note("a # b".into()));
        assert_eq!(ok[1].line, 2);
    }

    #[test]
    fn plans_and_decisions_parse() {
        assert_eq!(
            parse("plan 002_x expand --window 24h --owner dana --purpose 'phone login'").unwrap(),
            Action::Plan(Some(Plan {
                migration: "002_x".into(),
                kind: "expand".into(),
                window: Dur::from_secs(24 * 3600),
                owner: "dana".into(),
                purpose: Some("phone login".into()),
            }))
        );
        assert_eq!(parse("plan").unwrap(), Action::Plan(None));
        let e = parse("plan 002_x expand --owner dana").unwrap_err();
        assert!(e.message.contains("rollback window"), "{e}");
        assert!(parse("plan 002_x additive --window 1h --owner d").is_err());
        assert_eq!(
            parse("decide no-go 003_x \"window not passed\"").unwrap(),
            Action::Decide {
                go: false,
                what: "003_x".into(),
                reason: "window not passed".into()
            }
        );
        assert!(parse("decide maybe 003_x why").is_err());
        assert!(parse("decide go 003_x").is_err());
    }

    #[test]
    fn recovery_moves_parse() {
        assert_eq!(
            parse("restore pre-release-3").unwrap(),
            Action::Restore {
                snapshot: "pre-release-3".into(),
                in_place: false,
                name: None
            }
        );
        assert_eq!(
            parse("restore s --to in-place").unwrap(),
            Action::Restore {
                snapshot: "s".into(),
                in_place: true,
                name: None
            }
        );
        assert!(parse("restore s --to elsewhere").is_err());
        assert_eq!(
            parse("repair users.email,name --from restored-1").unwrap(),
            Action::Repair {
                table: "users".into(),
                columns: vec!["email".into(), "name".into()],
                from: "restored-1".into()
            }
        );
        assert_eq!(
            parse("replay --since snap").unwrap(),
            Action::Replay {
                since: "snap".into()
            }
        );
        assert_eq!(
            parse("kill migration-job --terminate").unwrap(),
            Action::Kill {
                target: "migration-job".into(),
                terminate: true
            }
        );
        assert_eq!(
            parse("incident declare SEV1").unwrap(),
            Action::IncidentDeclare {
                severity: "sev1".into()
            }
        );
        assert!(parse("incident declare urgent").is_err());
        assert_eq!(
            parse("approve 003 --by alice").unwrap(),
            Action::Approve {
                what: "003".into(),
                by: "alice".into()
            }
        );
        assert_eq!(
            parse("comms \"RTO 2m, RPO 0\"").unwrap(),
            Action::Comms("RTO 2m, RPO 0".into())
        );
        assert_eq!(
            parse("migrate up --lock-timeout 500ms --retries 3").unwrap(),
            Action::MigrateUp {
                count: None,
                lock_timeout: Some(Duration::from_millis(500)),
                retries: 3
            }
        );
        let e = parse("migrate up --retries 3").unwrap_err();
        assert!(e.message.contains("--lock-timeout"), "{}", e.message);
        assert_eq!(
            parse("migrate apply fixes/003_fix.sql").unwrap(),
            Action::MigrateApply {
                file: "fixes/003_fix.sql".into(),
                lock_timeout: None
            }
        );
    }
}

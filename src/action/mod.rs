//! The learner's command language: parsing and help. Pure; the engine
//! applies parsed [`Action`]s.
//!
//! A line is a verb and its arguments (`flag set login_v2 off`,
//! `migrate down --count 1`). `sql` and `note` take the rest of the line,
//! quoted or not. Scripts add an optional scenario time in front
//! (`at 1m30s: app rollback`), see [`parse_script`].

mod help;
mod script;

use std::time::Duration;

use crate::scenario::{Dur, FlagValue};

pub use crate::text::did_you_mean;
pub use help::{HELP, Help, PROMPT_COMMANDS, help};
use help::{SUBCOMMANDS, usage};
pub use script::{ScriptLine, parse_script};

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
                    "`{}` is not one of the `{v}` commands{}",
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

#[cfg(test)]
mod tests;

//! `migrate status|up|down|apply`: the migration runner, and the record of
//! a run as the transcript keeps it ([`Record`]).

use std::fmt;
use std::time::Duration;

use super::help::Help;
use super::words::{Words, exact, lock_timeout_flag, quoted};
use super::{ParseError, unknown_subcommand};

/// A move on the migrations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Migrate {
    /// Migrations and whether they are applied.
    Status,
    /// Apply pending migrations.
    Up(Up),
    /// Revert applied migrations, newest first.
    Down(Down),
    /// Apply a corrective forward migration from a SQL file.
    Apply(Apply),
}

/// `migrate up`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Up {
    /// At most this many.
    pub count: Option<usize>,
    /// `lock_timeout` for the run.
    pub lock_timeout: Option<Duration>,
    /// Attempts after a lock timeout (with a short pause between); only
    /// with a lock timeout, since without one a run never times out.
    pub retries: u32,
}

/// `migrate down`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Down {
    /// How many (1 unless given; 1 with a target).
    pub count: usize,
    /// Revert exactly down to and including this id.
    pub target: Option<String>,
    /// `lock_timeout` for the run.
    pub lock_timeout: Option<Duration>,
}

/// `migrate apply FILE`: its file name without `.sql` is its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apply {
    /// The file.
    pub file: String,
    /// `lock_timeout` for the run.
    pub lock_timeout: Option<Duration>,
}

impl Migrate {
    /// The second words `migrate` takes.
    pub(super) const SUBCOMMANDS: &[&str] = &["status", "up", "down", "apply"];

    pub(super) fn parse(w: &Words) -> Result<Migrate, ParseError> {
        match w.keyword(1).as_deref() {
            Some("status") => {
                w.at_most(2)?;
                Ok(Migrate::Status)
            }
            Some("up") => parse_up(w).map(Migrate::Up),
            Some("down") => parse_down(w).map(Migrate::Down),
            Some("apply") => parse_apply(w).map(Migrate::Apply),
            _ => Err(unknown_subcommand(w, "migrate", Migrate::SUBCOMMANDS)),
        }
    }
}

fn parse_up(w: &Words) -> Result<Up, ParseError> {
    let mut up = Up::default();
    let mut i = 2;
    while let Some(word) = w.get(i) {
        match word {
            "--retries" => {
                up.retries = w
                    .get(i + 1)
                    .and_then(|n| n.parse::<u32>().ok())
                    .filter(|n| *n <= 20)
                    .ok_or_else(|| w.err("--retries takes a number from 0 to 20"))?;
            }
            "--count" | "-n" => up.count = Some(count(w, i + 1)?),
            "--lock-timeout" => up.lock_timeout = Some(w.lock_timeout(i + 1)?),
            other => return Err(w.err(format!("unexpected `{other}`"))),
        }
        i += 2;
    }
    if up.retries > 0 && up.lock_timeout.is_none() {
        return Err(
            w.err("--retries needs --lock-timeout: without one a run waits for the lock forever")
        );
    }
    Ok(up)
}

fn parse_down(w: &Words) -> Result<Down, ParseError> {
    let (mut n, mut target, mut lock_timeout) = (None, None, None);
    let mut i = 2;
    while let Some(word) = w.get(i) {
        match word {
            "--count" | "-n" => {
                n = Some(count(w, i + 1)?);
                i += 2;
            }
            "--lock-timeout" => {
                lock_timeout = Some(w.lock_timeout(i + 1)?);
                i += 2;
            }
            id if !id.starts_with('-') && target.is_none() => {
                target = Some(id.to_string());
                i += 1;
            }
            other => return Err(w.err(format!("unexpected `{other}`"))),
        }
    }
    if n.is_some() && target.is_some() {
        return Err(w.err("give --count or a migration id, not both"));
    }
    Ok(Down {
        count: n.unwrap_or(1),
        target,
        lock_timeout,
    })
}

fn parse_apply(w: &Words) -> Result<Apply, ParseError> {
    let file = w
        .operand(2)
        .ok_or_else(|| w.err("say which SQL file to apply"))?;
    let mut lock_timeout = None;
    let mut i = 3;
    while let Some(word) = w.get(i) {
        match word {
            "--lock-timeout" => lock_timeout = Some(w.lock_timeout(i + 1)?),
            other => return Err(w.err(format!("unexpected `{other}`"))),
        }
        i += 2;
    }
    Ok(Apply { file, lock_timeout })
}

/// The number after `--count`: above 0.
fn count(w: &Words, i: usize) -> Result<usize, ParseError> {
    w.get(i)
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(|| w.err("--count takes a number above 0"))
}

impl fmt::Display for Migrate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Migrate::Status => f.write_str("migrate status"),
            Migrate::Up(up) => {
                f.write_str("migrate up")?;
                if let Some(n) = up.count {
                    write!(f, " --count {n}")?;
                }
                f.write_str(&lock_timeout_flag(up.lock_timeout))?;
                if up.retries > 0 {
                    write!(f, " --retries {}", up.retries)?;
                }
                Ok(())
            }
            Migrate::Down(down) => {
                f.write_str("migrate down")?;
                match &down.target {
                    Some(id) => write!(f, " {}", quoted(id))?,
                    None if down.count != 1 => write!(f, " --count {}", down.count)?,
                    None => {}
                }
                f.write_str(&lock_timeout_flag(down.lock_timeout))
            }
            Migrate::Apply(apply) => {
                write!(f, "migrate apply {}", quoted(&apply.file))?;
                f.write_str(&lock_timeout_flag(apply.lock_timeout))
            }
        }
    }
}

/// Which way a recorded run went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// `migrate up`.
    Up,
    /// `migrate down`.
    Down,
    /// `migrate apply`: a corrective forward migration.
    Apply,
}

/// A run as the transcript records it, which rubric patterns match: the
/// verb, its lock timeout right after it (so a pattern `migrate up 002_x`
/// matches only runs without one), then the migrations it touched
/// (`migrate up --lock-timeout 2s 002_x`, `migrate down 003_y 002_x`,
/// `migrate apply 004_fix`). A run that failed names the migration it
/// failed on, or what it set out to touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Which way.
    pub verb: Verb,
    /// The run's `lock_timeout`.
    pub lock_timeout: Option<Duration>,
    /// The migrations it touched, in the order it touched them.
    pub ids: Vec<String>,
}

impl fmt::Display for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.verb {
            Verb::Up => "migrate up",
            Verb::Down => "migrate down",
            Verb::Apply => "migrate apply",
        })?;
        if let Some(t) = self.lock_timeout {
            write!(f, " --lock-timeout {}", exact(t))?;
        }
        for id in &self.ids {
            write!(f, " {id}")?;
        }
        Ok(())
    }
}

/// Help for `migrate`.
pub(super) const HELP: Help = Help {
    name: "migrate",
    usage: "migrate status | migrate up [--count N] [--lock-timeout 2s] [--retries N] | migrate down [--count N | ID] [--lock-timeout 2s] | migrate apply FILE.sql   (each: migrate VERB --on INSTANCE ...)",
    summary: "the migration runner and its tracking table",
    detail: "`migrate down` reverts the newest applied migration (or down to and including ID) using its down SQL, in a transaction when the migration is transactional. Use a down only when it is tested and non-destructive (runbook 003, option A). `--lock-timeout` makes DDL give up instead of queueing behind a long transaction; `--retries N` tries again after a short pause. `migrate apply FILE.sql` applies a corrective forward migration: its file name is its version, which must sort after every applied one, and pgdrill runs it twice to check that it is idempotent (runbook 004, option B). `--on INSTANCE` right after the verb runs it on another instance of the drill (`migrate down --on restored-1`): runbook 003 runs the down on a restored copy first to observe its effects. On an instance the app does not use, a move cannot harm the service, and no rule about the service counts it.",
};

//! Moves that bring data back: `restore` a snapshot (to a new instance by
//! default), `cutover` to it, `replay` the writes made since, `repair`
//! columns from it (runbook 003, restore flow).

use std::fmt;

use super::ParseError;
use super::help::Help;
use super::words::{Words, quoted};

/// A recovery move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recover {
    /// Restore a snapshot to a new instance, or over the current one; or
    /// recover to a point in time from a physical snapshot and the WAL
    /// archive.
    Restore {
        /// The snapshot (for a point in time: the base to start from; when
        /// not given, the latest physical one from before the point).
        snapshot: Option<String>,
        /// Over the database the app uses instead of a new instance.
        in_place: bool,
        /// Where to stop replaying WAL, for a point-in-time restore.
        point: Option<Point>,
        /// Name of the new instance.
        name: Option<String>,
    },
    /// Point the app's pools at another instance: every pod, or a part of
    /// the fleet first (runbook 003, restore flow step 4: "start a small
    /// set of app instances pointed to restored DB, validate, then shift
    /// more traffic").
    Cutover {
        /// The instance.
        instance: String,
        /// Only this part of the fleet; `None` moves every pod.
        part: Option<Part>,
    },
    /// Copy the writes acknowledged since a snapshot from the instance it
    /// was taken of into the one the app uses.
    Replay {
        /// The snapshot.
        since: String,
    },
    /// Write the values the app acknowledged for its updates since a
    /// snapshot or a time into the instance it uses, from its own record
    /// of them.
    Backfill {
        /// The snapshot, or a scenario time.
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
}

/// A part of the fleet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// This many pods (`--pods 1`).
    Pods(u32),
    /// This share of the pods, rounded up (`--percent 25`).
    Percent(u8),
}

impl Part {
    /// How many of `pods` pods it is: at least one, at most all.
    pub fn of(self, pods: usize) -> usize {
        let n = match self {
            Part::Pods(n) => n as usize,
            Part::Percent(p) => (pods * usize::from(p)).div_ceil(100),
        };
        n.clamp(1, pods.max(1))
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Pods(n) => write!(f, "--pods {n}"),
            Part::Percent(p) => write!(f, "--percent {p}"),
        }
    }
}

/// The point a point-in-time restore recovers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Point {
    /// The state at this scenario time (`--at 1m20s`).
    At(crate::scenario::Dur),
    /// The state just before this migration committed (`--before ID`).
    Before(String),
}

impl fmt::Display for Point {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Point::At(d) => write!(f, "--at {}", super::words::exact(d.0)),
            Point::Before(m) => write!(f, "--before {}", quoted(m)),
        }
    }
}

impl Recover {
    /// The verbs, as typed.
    pub(super) const VERBS: &[&str] = &["restore", "cutover", "replay", "backfill", "repair"];

    pub(super) fn parse(verb: &str, w: &Words) -> Result<Recover, ParseError> {
        match verb {
            "restore" => parse_restore(w),
            "cutover" => parse_cutover(w),
            "backfill" => {
                w.at_most(3)?;
                match (w.get(1), w.get(2)) {
                    (Some("--since"), Some(since)) => Ok(Recover::Backfill {
                        since: since.to_string(),
                    }),
                    _ => {
                        Err(w.err("say since when: `backfill --since SNAPSHOT` or `--since 1m20s`"))
                    }
                }
            }
            "replay" => {
                w.at_most(3)?;
                match (w.get(1), w.get(2)) {
                    (Some("--since"), Some(snap)) => Ok(Recover::Replay {
                        since: snap.to_string(),
                    }),
                    _ => Err(w.err("say since which snapshot: `replay --since SNAPSHOT`")),
                }
            }
            _ => parse_repair(w),
        }
    }
}

fn parse_cutover(w: &Words) -> Result<Recover, ParseError> {
    let (mut instance, mut part) = (None, None);
    let mut i = 1;
    while let Some(word) = w.get(i) {
        match (word, w.get(i + 1)) {
            ("--pods", Some(n)) if part.is_none() => {
                let n = n
                    .parse::<u32>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| w.err("--pods takes a number of pods above 0"))?;
                part = Some(Part::Pods(n));
                i += 2;
            }
            ("--percent", Some(p)) if part.is_none() => {
                let p = p
                    .trim_end_matches('%')
                    .parse::<u8>()
                    .ok()
                    .filter(|p| (1..=100).contains(p))
                    .ok_or_else(|| w.err("--percent takes a share from 1 to 100"))?;
                part = Some(Part::Percent(p));
                i += 2;
            }
            ("--pods" | "--percent", None) => {
                return Err(w.err(format!("{word} takes a value")));
            }
            ("--pods" | "--percent", _) => {
                return Err(w.err("give one part: `--pods N` or `--percent P`"));
            }
            (name, _) if !name.starts_with('-') && instance.is_none() => {
                instance = Some(name.to_string());
                i += 1;
            }
            (other, _) => return Err(w.err(format!("unexpected `{other}`"))),
        }
    }
    let instance = instance.ok_or_else(|| w.err("say which instance (see `instances`)"))?;
    Ok(Recover::Cutover { instance, part })
}

fn parse_restore(w: &Words) -> Result<Recover, ParseError> {
    let snapshot = w.operand(1);
    let mut in_place = false;
    let mut name = None;
    let mut point = None;
    let mut i = if snapshot.is_some() { 2 } else { 1 };
    while let Some(word) = w.get(i) {
        match (word, w.get(i + 1)) {
            ("--to", Some("new")) => in_place = false,
            ("--to", Some("in-place")) => in_place = true,
            ("--to", _) => return Err(w.err("--to takes `new` or `in-place`")),
            ("--as", Some(n)) => name = Some(n.to_string()),
            ("--as", None) => return Err(w.err("--as takes a name")),
            ("--at", Some(d)) if point.is_none() => point = Some(Point::At(w.duration(d)?)),
            ("--at", None) => return Err(w.err("--at takes a scenario time, e.g. `--at 1m20s`")),
            ("--before", Some(m)) if point.is_none() => point = Some(Point::Before(m.to_string())),
            ("--before", None) => return Err(w.err("--before takes a migration id")),
            ("--at" | "--before", _) => return Err(w.err("give one point: `--at` or `--before`")),
            (other, _) => return Err(w.err(format!("unexpected `{other}`"))),
        }
        i += 2;
    }
    if snapshot.is_none() && point.is_none() {
        return Err(w.err(
            "say which snapshot to restore (see `snapshot list`), or a point in time: `restore --to new --at 1m20s`",
        ));
    }
    if in_place && point.is_some() {
        return Err(w.err(
            "a point-in-time restore goes to a new instance (runbook 004: restore to a new instance, never in place)",
        ));
    }
    Ok(Recover::Restore {
        snapshot,
        in_place,
        point,
        name,
    })
}

fn parse_repair(w: &Words) -> Result<Recover, ParseError> {
    w.at_most(4)?;
    let (Some(target), Some("--from"), Some(from)) = (w.get(1), w.get(2), w.get(3)) else {
        return Err(w.err("write `repair TABLE.COLUMN --from INSTANCE`"));
    };
    let Some((table, columns)) = target.split_once('.') else {
        return Err(w.err("name the columns as TABLE.COLUMN[,COLUMN]"));
    };
    let columns: Vec<String> = columns
        .split(',')
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    if table.is_empty() || columns.is_empty() {
        return Err(w.err("name the columns as TABLE.COLUMN[,COLUMN]"));
    }
    Ok(Recover::Repair {
        table: table.to_string(),
        columns,
        from: from.to_string(),
    })
}

impl fmt::Display for Recover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recover::Restore {
                snapshot,
                in_place,
                point,
                name,
            } => {
                let to = if *in_place { "in-place" } else { "new" };
                f.write_str("restore")?;
                if let Some(s) = snapshot {
                    write!(f, " {}", quoted(s))?;
                }
                write!(f, " --to {to}")?;
                if let Some(p) = point {
                    write!(f, " {p}")?;
                }
                match name {
                    Some(n) => write!(f, " --as {}", quoted(n)),
                    None => Ok(()),
                }
            }
            // The part first, so that a pattern `cutover restored-1`
            // matches only the cutover that moves every pod.
            Recover::Cutover {
                instance,
                part: Some(part),
            } => write!(f, "cutover {part} {}", quoted(instance)),
            Recover::Cutover {
                instance,
                part: None,
            } => write!(f, "cutover {}", quoted(instance)),
            Recover::Replay { since } => write!(f, "replay --since {}", quoted(since)),
            Recover::Backfill { since } => write!(f, "backfill --since {}", quoted(since)),
            Recover::Repair {
                table,
                columns,
                from,
            } => write!(
                f,
                "repair {} --from {}",
                quoted(&format!("{table}.{}", columns.join(","))),
                quoted(from)
            ),
        }
    }
}

/// Help for `restore`.
pub(super) const RESTORE: Help = Help {
    name: "restore",
    usage: "restore SNAPSHOT [--to new|in-place] [--as NAME] | restore [SNAPSHOT] --to new --at TIME|--before MIGRATION [--as NAME]",
    summary: "restore a snapshot to a NEW instance (default) or over the current one, or recover to a point in time",
    detail: "Restore to a new instance and validate it before any cutover; never overwrite production in place (runbook 003, restore flow). The new instance's sequences are moved past the live instance's values, so writes replayed later keep their ids. `restore ... --to in-place` overwrites the database the app uses. Point in time (runbook 004, option A, the provider's PITR): on servers pgdrill runs itself, snapshots are physical base backups and the WAL is archived from the drill's start (a base backup is taken then), so `restore --to new --at 1m20s` recovers the database as it was at that scenario time, and `restore --to new --before 002_x` as it was just before that migration was applied, from the latest physical snapshot before the point.",
};

/// Help for `cutover`.
pub(super) const CUTOVER: Help = Help {
    name: "cutover",
    usage: "cutover INSTANCE [--pods N | --percent P]",
    summary: "point the app's connection pools at another instance",
    detail: "In-flight requests finish on the old instance; new ones go to INSTANCE. See `instances` for names. Writes made on the old instance since the snapshot are not on the new one: `replay --since SNAPSHOT`. `--pods N` or `--percent P` moves only part of the fleet (runbook 003: start a small set of app instances on the restored DB, validate, then shift more traffic); `status` shows which pods use which instance and each instance's error rate. `cutover INSTANCE` alone moves the rest, and from then on the app uses INSTANCE (the service address too).",
};

/// Help for `replay`.
pub(super) const REPLAY: Help = Help {
    name: "replay",
    usage: "replay --since SNAPSHOT|TIME",
    summary: "copy writes acknowledged since SNAPSHOT (or scenario time TIME) into the instance the app uses",
    detail: "The workload keeps a ledger of every write the app acknowledged. `replay` copies those rows, made on the snapshot's instance after it was taken, into the instance the app uses now (rows already there are kept). After a point-in-time restore, give the point instead: `replay --since 20s` copies the writes acknowledged from 20s on, on the instance the app used then. Lost writes count against the RPO.",
};

/// Help for `backfill`.
pub(super) const BACKFILL: Help = Help {
    name: "backfill",
    usage: "backfill --since SNAPSHOT|TIME",
    summary: "write back the values the app acknowledged for its updates since SNAPSHOT (or TIME)",
    detail: "Runbook 003, restore flow step 5: writes after the backup are lost unless replayed or backfilled. For an app whose writes are updates (`UPDATE ... RETURNING key, column`), the ledger keeps the last value the app acknowledged for each key, as an app's logs or queue would; `backfill` writes those values into the instance the app uses, so it needs no other instance (after an in-place restore too). `replay` copies inserted rows and updated values from the old instance instead.",
};

/// Help for `repair`.
pub(super) const REPAIR: Help = Help {
    name: "repair",
    usage: "repair TABLE.COLUMN[,COLUMN...] --from INSTANCE",
    summary: "copy column values from another instance, row by row by primary key",
    detail: "For a bad backfill: restore a snapshot to a new instance, check it, then repair the damaged columns of the live table from it. Rows only in the live table are left alone.",
};

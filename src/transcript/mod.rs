//! The transcript: the append-only log of one drill, and its file format.
//!
//! Everything that happens is an [`Event`] stamped with scenario time:
//! timeline events, the learner's moves with their results and the world
//! state they met, observations (the SLO broken, held again), one metrics
//! window per second, hints and the end. The log is the truth: scoring and
//! reports read only this and the scenario, never a database.

mod bounds;
mod parsed;
mod seal;
mod window;

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use crate::text::first_line;

pub use crate::scenario::Tag;
pub use bounds::{MAX_COUNT, MAX_MS};
pub use parsed::Parsed;
pub use seal::{Finding, Seal, Signature, hex, key_id};
pub use window::{Load, Series, Window};

/// The file format version this build writes. Format 3 adds each move's
/// parsed form ([`Move::parsed`]).
pub const FORMAT: u32 = 3;

/// The oldest format this build reads. Format 1 has no learner, scenario
/// fingerprint or seal; its transcripts score the same, but edits to them
/// cannot be detected.
pub const OLDEST_FORMAT: u32 = 1;

/// One drill's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    /// File format version ([`FORMAT`]).
    pub format: u32,
    /// The pgdrill that wrote it.
    pub pgdrill_version: String,
    /// The scenario's id.
    pub scenario: String,
    /// A hash of the scenario's files as played
    /// ([`Scenario::fingerprint`](crate::scenario::Scenario::fingerprint)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario_fingerprint: Option<String>,
    /// Who played (`run --learner`, else the login name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub learner: Option<String>,
    /// Where its servers ran (`local`, `docker`); absent in transcripts
    /// written before pgdrill kept it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The rows generated per table, when the learner chose other than
    /// the scenario's (`run --rows`, `--scale`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<std::collections::BTreeMap<String, u64>>,
    /// The workload's random seed.
    pub seed: u64,
    /// Scenario seconds per real second.
    pub time_scale: f64,
    /// When the drill started (Unix seconds).
    pub started_at: u64,
    /// What happened, in order.
    pub events: Vec<Event>,
    /// The hash chain's head and the signature ([`Transcript::seal`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<Seal>,
    /// The score as shown at the end; informational only: `pgdrill score`
    /// recomputes it from the events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<serde_json::Value>,
}

/// Something that happened at a scenario time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Scenario time in milliseconds since the drill started.
    pub t_ms: u64,
    /// This event's link in the hash chain (set when the transcript is sealed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    /// What.
    #[serde(flatten)]
    pub kind: EventKind,
}

impl Event {
    /// Whether a learner is shown it as it happens: not the metrics
    /// windows, nor the timeline's hidden events.
    pub fn for_learner(&self) -> bool {
        !matches!(
            self.kind,
            EventKind::Window(_) | EventKind::Timeline { hidden: true, .. }
        )
    }
}

/// The kinds of events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// The drill started: traffic is flowing.
    Started {
        /// What was set up.
        message: String,
    },
    /// A scripted timeline event took place.
    Timeline {
        /// What happened.
        message: String,
        /// Not announced to the learner (a fault seen only by its effects);
        /// reports show it.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        hidden: bool,
    },
    /// A learner's move and its result.
    Move(Move),
    /// Something the engine noticed (the SLO broken, held again).
    Observation {
        /// How important.
        level: Level,
        /// What.
        message: String,
    },
    /// One metrics window.
    Window(Window),
    /// An integrity check passed or failed (recorded when it changes).
    Check {
        /// The check's name.
        name: String,
        /// Whether it passes.
        ok: bool,
        /// Rows found wrong.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        bad: Option<i64>,
        /// The error the check's query met.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
    },
    /// Acknowledged writes missing from the database at the end.
    Rpo(Rpo),
    /// A hint was given.
    Hint {
        /// 1-based hint number.
        n: usize,
        /// Its text.
        text: String,
    },
    /// The drill ended.
    Ended {
        /// Why.
        reason: EndReason,
    },
}

impl EventKind {
    /// What the event is, in a few words: `move \`flag set x off\``.
    pub fn what(&self) -> String {
        let short = |text: &str| first_line(text, 60);
        match self {
            EventKind::Started { .. } => "the start".into(),
            EventKind::Timeline { message, .. } => format!("timeline: {}", short(message)),
            EventKind::Move(m) => format!("move `{}`", short(&m.canonical)),
            EventKind::Observation { message, .. } => format!("observation: {}", short(message)),
            EventKind::Window(_) => "a metrics window".into(),
            EventKind::Check { name, .. } => format!("check {name}"),
            EventKind::Rpo(_) => "the RPO measurement".into(),
            EventKind::Hint { n, .. } => format!("hint {n}"),
            EventKind::Ended { reason } => format!("the end ({})", reason.describe()),
        }
    }
}

/// Writes the app was told succeeded, and how many of them are gone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rpo {
    /// Acknowledged writes.
    pub writes: u64,
    /// Of which missing from the instance the app uses at the end.
    pub missing: u64,
    /// Of the missing, acknowledged updates whose row no longer holds the
    /// value written (gone, or another value): corrupted, not absent.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub values_lost: u64,
    /// Scenario time of the first missing write.
    pub first_missing_ms: Option<u64>,
    /// Scenario time of the last missing write.
    pub last_missing_ms: Option<u64>,
    /// Some missing keys (`users.id=2107`).
    #[serde(default)]
    pub sample: Vec<String>,
    /// Why it could not be measured, when it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// How important an observation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// For the record.
    Info,
    /// Something broke.
    Alert,
    /// Something recovered.
    Recovered,
}

/// Why a drill ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// The learner declared the incident resolved.
    Resolved,
    /// The time limit passed.
    TimeUp,
    /// The script ran out of moves without `resolve`.
    ScriptEnded,
    /// Ctrl-C or the prompt was closed.
    Interrupted,
    /// A move broke a hard stop: the drill failed on the spot.
    HardStop,
    /// A PostgreSQL server of the drill stopped unexpectedly (killed,
    /// crashed, out of disk): the run measures nothing after that.
    ServerDied,
    /// The game master ended it (`pgdrill serve`).
    GameMaster,
}

impl EndReason {
    /// In words, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            EndReason::Resolved => "declared resolved",
            EndReason::TimeUp => "time ran out",
            EndReason::ScriptEnded => "the script ended without `resolve`",
            EndReason::Interrupted => "interrupted",
            EndReason::HardStop => "stopped by a hard stop",
            EndReason::ServerDied => "a PostgreSQL server of the drill stopped unexpectedly",
            EndReason::GameMaster => "ended by the game master",
        }
    }
}

/// A learner's move.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Move {
    /// As typed.
    pub input: String,
    /// Normalised, with what it actually did (`migrate down 002_rename_name`);
    /// rubric patterns match this.
    pub canonical: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// Its result, in a line or a few.
    pub result: String,
    /// What the engine knows about its effect, for the guardrails.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The world as the move met it.
    pub state: State,
    /// How it ended. Absent in transcripts recorded before pgdrill kept it;
    /// there a failed move is read as refused (see [`Move::attempted`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// What it was, in the form reports read. Absent before format 3,
    /// where it is filled in when the transcript is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parsed: Option<Box<Parsed>>,
    /// Who made it, in a drill several people play (`pgdrill serve`);
    /// absent when one learner plays alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<Actor>,
}

/// A participant of a drill several people play.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// The name the server was given (`ic`, `alice`).
    pub name: String,
    /// Their role: `commander`, `operator`, `observer` or `game-master`.
    pub role: String,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.role)
    }
}

/// How a move ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// It did what it said.
    Done,
    /// It was carried out and failed: the database reported an error, a
    /// lock or statement timeout cancelled it, a restore broke off.
    Failed,
    /// pgdrill did not carry it out: it named something that does not
    /// exist, or the drill's state made it meaningless. Nothing changed.
    Refused,
    /// The learner cancelled it while it ran (Ctrl-C); its server-side
    /// query was cancelled too.
    Cancelled,
    /// It was still running when the drill ended (the time limit, a hard
    /// stop, the learner quitting); it was stopped there.
    Interrupted,
}

impl Outcome {
    /// In a few words, for feedback: `it failed`.
    pub fn describe(self) -> &'static str {
        match self {
            Outcome::Done => "done",
            Outcome::Failed => "it failed",
            Outcome::Refused => "refused",
            Outcome::Cancelled => "cancelled by the learner",
            Outcome::Interrupted => "still running when the drill ended",
        }
    }
}

impl Move {
    /// Whether it changed nothing in the drill (see [`Parsed::Look`]).
    pub fn changes_nothing(&self) -> bool {
        self.parsed.as_deref() == Some(&Parsed::Look)
    }

    /// Whether the engine tagged it so.
    pub fn tagged(&self, tag: Tag) -> bool {
        self.tags.contains(&tag)
    }

    /// How it ended; for old transcripts, from `ok` alone.
    pub fn outcome(&self) -> Outcome {
        self.outcome.unwrap_or(if self.ok {
            Outcome::Done
        } else {
            Outcome::Refused
        })
    }

    /// Whether it was attempted: carried out, whether or not it succeeded
    /// (done, failed, cancelled or interrupted), as opposed to refused.
    /// Forbidden moves and guardrails count attempts: a DDL that queued
    /// behind a lock did its harm even if it was cancelled in the end.
    pub fn attempted(&self) -> bool {
        self.outcome() != Outcome::Refused
    }
}

/// The world state at a moment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct State {
    /// Pods per app version.
    pub pods: BTreeMap<String, u32>,
    /// Flag values.
    pub flags: BTreeMap<String, String>,
    /// Applied migrations.
    pub applied: Vec<String>,
    /// Snapshots taken so far.
    pub snapshots: u32,
    /// The instance the app is pointed at.
    #[serde(default = "primary")]
    pub instance: String,
}

fn primary() -> String {
    "primary".into()
}

impl State {
    /// Whether pods of this version serve traffic.
    pub fn serving(&self, version: &str) -> bool {
        self.pods.get(version).is_some_and(|n| *n > 0)
    }
}

/// What a check found: the error its query met, or how many rows were
/// wrong (empty when neither is known).
pub fn check_finding(bad: Option<i64>, error: Option<&str>) -> String {
    match (bad, error) {
        (_, Some(err)) => err.to_string(),
        (Some(n), None) => format!("{n} bad row(s)"),
        (None, None) => String::new(),
    }
}

impl Transcript {
    /// An empty transcript.
    pub fn new(scenario: &str, seed: u64, time_scale: f64, started_at: u64) -> Transcript {
        Transcript {
            format: FORMAT,
            pgdrill_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: scenario.to_string(),
            scenario_fingerprint: None,
            learner: None,
            backend: None,
            rows: None,
            seed,
            time_scale,
            started_at,
            events: Vec::new(),
            seal: None,
            score: None,
        }
    }

    /// The metrics windows, in order.
    pub fn windows(&self) -> impl Iterator<Item = &Window> {
        self.events.iter().filter_map(|e| match &e.kind {
            EventKind::Window(w) => Some(w),
            _ => None,
        })
    }

    /// The RPO measured at the end, if it was.
    pub fn rpo(&self) -> Option<&Rpo> {
        self.events.iter().rev().find_map(|e| match &e.kind {
            EventKind::Rpo(r) => Some(r),
            _ => None,
        })
    }

    /// Each integrity check's results in time order: (time, ok, what).
    pub fn checks(&self) -> std::collections::BTreeMap<&str, Vec<(u64, bool, String)>> {
        let mut out: std::collections::BTreeMap<&str, Vec<(u64, bool, String)>> =
            Default::default();
        for e in &self.events {
            if let EventKind::Check {
                name,
                ok,
                bad,
                error,
            } = &e.kind
            {
                out.entry(name.as_str()).or_default().push((
                    e.t_ms,
                    *ok,
                    check_finding(*bad, error.as_deref()),
                ));
            }
        }
        out
    }

    /// The learner's moves with their times, in order.
    pub fn moves(&self) -> impl Iterator<Item = (u64, &Move)> {
        self.events.iter().filter_map(|e| match &e.kind {
            EventKind::Move(m) => Some((e.t_ms, m)),
            _ => None,
        })
    }

    /// How many hints were taken.
    pub fn hints(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e.kind, EventKind::Hint { .. }))
            .count()
    }

    /// Why the drill ended, if it did.
    pub fn end(&self) -> Option<(u64, EndReason)> {
        self.events.iter().rev().find_map(|e| match e.kind {
            EventKind::Ended { reason } => Some((e.t_ms, reason)),
            _ => None,
        })
    }

    /// Writes the transcript as pretty JSON.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        let json = serde_json::to_string_pretty(self).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        std::fs::write(path, json + "\n").map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Reads a transcript file, refusing other format versions.
    pub fn load(path: &Path) -> Result<Transcript, Error> {
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Transcript::parse(path, &bytes)
    }

    /// Parses a transcript's JSON (`path` only labels errors): refuses
    /// other format versions, and tells a file cut short from one that is
    /// not a transcript.
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<Transcript, Error> {
        /// Just the version, to explain a file that does not parse.
        #[derive(Deserialize)]
        struct Version {
            format: Option<serde_json::Value>,
        }
        let supported = |f: Option<u64>| {
            f.is_some_and(|f| (u64::from(OLDEST_FORMAT)..=u64::from(FORMAT)).contains(&f))
        };
        let wrong_format = |found: Option<u64>| Error::Format {
            path: path.to_path_buf(),
            found,
        };
        match serde_json::from_slice::<Transcript>(bytes) {
            Ok(t) if supported(Some(u64::from(t.format))) => match bounds::implausible(&t) {
                None => Ok(t),
                Some(why) => Err(Error::Implausible {
                    path: path.to_path_buf(),
                    why,
                }),
            },
            Ok(t) => Err(wrong_format(Some(u64::from(t.format)))),
            Err(e) if e.is_eof() => Err(Error::Truncated {
                path: path.to_path_buf(),
                line: e.line(),
            }),
            Err(e) if e.is_syntax() => Err(Error::Json {
                path: path.to_path_buf(),
                message: format!("not JSON: {e}"),
            }),
            Err(e) => {
                let format = serde_json::from_slice::<Version>(bytes)
                    .ok()
                    .and_then(|v| v.format);
                match format {
                    Some(f) if !supported(f.as_u64()) => Err(wrong_format(f.as_u64())),
                    _ => Err(Error::Json {
                        path: path.to_path_buf(),
                        message: e.to_string(),
                    }),
                }
            }
        }
    }
}

/// Why a transcript could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file system refused.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not a transcript.
    #[error("{}: not a pgdrill transcript: {message}", path.display())]
    Json {
        /// The file.
        path: std::path::PathBuf,
        /// What the parser said.
        message: String,
    },
    /// The file ends before its JSON does.
    #[error("{}: truncated: the file ends at line {line} before the transcript does (copied while a drill was still running?)", path.display())]
    Truncated {
        /// The file.
        path: std::path::PathBuf,
        /// Its last line.
        line: usize,
    },
    /// Numbers no drill can have written.
    #[error("{}: not a transcript a drill wrote: {why}", path.display())]
    Implausible {
        /// The file.
        path: std::path::PathBuf,
        /// What is impossible.
        why: String,
    },
    /// Another format version.
    #[error("{}: transcript format {} is not supported (this pgdrill reads formats {OLDEST_FORMAT} to {FORMAT}; a newer pgdrill wrote it?)", path.display(), found.map_or("missing".to_string(), |f| f.to_string()))]
    Format {
        /// The file.
        path: std::path::PathBuf,
        /// What it declares.
        found: Option<u64>,
    },
}

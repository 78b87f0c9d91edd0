//! Scenarios as pure data.
//!
//! A scenario file (`scenarios/*.toml`) describes a drill: its story, the
//! fixture, migrations, app versions, fleet, flags, timeline, SLO and rubric.
//! This module holds the serde model ([`Scenario`]), loading ([`load`]: the
//! only file reads) and validation ([`validate`]: every problem, with the
//! place in the file it comes from). There is no tokio or sqlx here, so
//! scoring and validation stay pure and a new scenario never needs code.
//!
//! Every struct denies unknown keys: a typo is an error, not a silently
//! ignored setting.

pub mod diag;
pub mod guardrail;
mod load;
pub mod migration;
mod shape;
mod tag;
pub mod validate;
mod values;

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

pub use diag::{Diagnostic, Problem};
pub use guardrail::{GUARDRAILS, Guardrail, Rule};
pub use load::{
    LoadError, discover, find, load, parse, parse_checked, render, resolve, toml_diagnostic,
};
pub use migration::{Migration, MigrationKind, Tracking, TrackingColumn};
pub use tag::Tag;
pub use validate::validate;
pub use values::{Dur, FlagValue, ParamGen, Patterns, pattern_matches};

/// One drill, as its file declares it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Stable id (`mixed-version-rename`); `pgdrill run ID` finds it.
    pub id: String,
    /// One-line title.
    pub title: String,
    /// Incident response or guided rollout.
    pub kind: ScenarioKind,
    /// How hard it is.
    pub difficulty: Difficulty,
    /// The course material it trains (runbook sections, chapters).
    #[serde(default)]
    pub trains: Vec<String>,
    /// What the learner should be able to do afterwards.
    pub objectives: Vec<String>,
    /// The story the learner reads before the drill starts.
    pub briefing: String,
    /// Schema and demo data.
    pub fixture: Fixture,
    /// Migrations and their tracking table.
    pub migrations: Migrations,
    /// App versions.
    pub app: App,
    /// The pods that run the app.
    pub fleet: Fleet,
    /// Workers beside the pods (an ETL reading a queue table).
    #[serde(default)]
    pub workers: Vec<Worker>,
    /// Feature flags.
    #[serde(default)]
    pub flags: Vec<Flag>,
    /// Scripted events (faults, releases).
    #[serde(default)]
    pub timeline: Vec<TimelineEvent>,
    /// Faults a game master may inject while the drill runs (`pgdrill
    /// serve`), by name.
    #[serde(default)]
    pub inject: Vec<Inject>,
    /// What healthy means.
    pub slo: Slo,
    /// How the response is scored.
    pub rubric: Rubric,
    /// Integrity checks: queries that count bad rows. The engine runs them
    /// while the drill plays and once more at the end; a check that still
    /// fails at the end fails the drill.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// Graded nudges, given one at a time by `hint` (each costs points).
    #[serde(default)]
    pub hints: Vec<String>,
    /// Where it was loaded from and its text (set by [`load`]).
    #[serde(skip)]
    pub source: Source,
}

impl Scenario {
    /// A hash of the files the drill is played from (the scenario and its
    /// fixture SQL, line endings normalised so a checkout with CRLF matches):
    /// `sha256:` and 64 hex digits. Transcripts record it, so grading can
    /// tell a drill played against other files than the instructor's.
    pub fn fingerprint(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"pgdrill scenario\0");
        for text in [&self.source.text, &self.fixture.sql_text] {
            let text = text.replace("\r\n", "\n");
            h.update((text.len() as u64).to_be_bytes());
            h.update(text.as_bytes());
        }
        let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }

    /// Every statement that writes, with who runs it: each app version's
    /// endpoints, then each worker pool's jobs.
    pub fn writers(&self) -> impl Iterator<Item = (&str, &Endpoint)> {
        self.app
            .versions
            .iter()
            .map(|v| (v.name.as_str(), &v.endpoints))
            .chain(self.workers.iter().map(|w| (w.name.as_str(), &w.jobs)))
            .flat_map(|(name, endpoints)| {
                endpoints.iter().filter(|e| e.write).map(move |e| (name, e))
            })
    }
}

/// The files a scenario came from.
#[derive(Debug, Clone, Default)]
pub struct Source {
    /// The scenario file.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
}

/// What kind of drill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScenarioKind {
    /// Something broke; recover.
    Incident,
    /// Perform a release safely.
    Rollout,
}

/// How hard a drill is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Difficulty {
    /// First contact.
    Beginner,
    /// Some practice.
    Intermediate,
    /// Several moving parts.
    Advanced,
}

/// Schema and demo data.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// SQL file with the schema, relative to the scenario's directory (or its
    /// parent, so `fixtures/users.sql` works from `scenarios/`).
    pub sql: String,
    /// Demo rows to generate per table, after the fixture and the start
    /// migrations.
    #[serde(default)]
    pub rows: BTreeMap<String, u64>,
    /// Per table, SQL expressions for generated columns over the row number
    /// `i` (e.g. `email = "'user' || i || '@example.com'"`). Columns not named
    /// here are inferred from their name and type, or left to their default.
    #[serde(default)]
    pub values: BTreeMap<String, BTreeMap<String, String>>,
    /// The fixture SQL text (set by [`load`]).
    #[serde(skip)]
    pub sql_text: String,
}

/// Migrations and where they are recorded.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migrations {
    /// Tracking table name.
    #[serde(default = "default_table")]
    pub table: String,
    /// Column holding the migration id.
    #[serde(default = "default_id_column")]
    pub id_column: String,
    /// Column holding when it was applied.
    #[serde(default = "default_applied_column")]
    pub applied_column: String,
    /// The tracking table's other columns, as the real tool has them.
    #[serde(default)]
    pub columns: Vec<TrackingColumn>,
    /// The migrations, in order.
    #[serde(default)]
    pub list: Vec<Migration>,
}

fn default_table() -> String {
    Tracking::default().table
}
fn default_id_column() -> String {
    Tracking::default().id_column
}
fn default_applied_column() -> String {
    Tracking::default().applied_column
}

impl Migrations {
    /// The tracking table.
    pub fn tracking(&self) -> Tracking {
        Tracking {
            table: self.table.clone(),
            id_column: self.id_column.clone(),
            applied_column: self.applied_column.clone(),
            columns: self.columns.clone(),
        }
    }

    /// The migration with this id.
    pub fn get(&self, id: &str) -> Option<&Migration> {
        self.list.iter().find(|m| m.id == id)
    }
}

/// An integrity check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Short name (`emails-intact`).
    pub name: String,
    /// A query returning one number: how many rows are wrong (0 = passes).
    /// An error (a dropped column, say) counts as failing.
    pub sql: String,
    /// What a failure means and what the runbook says to do about it.
    pub why: String,
}

/// The application.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct App {
    /// Its versions.
    pub versions: Vec<AppVersion>,
}

impl App {
    /// The version with this name.
    pub fn version(&self, name: &str) -> Option<&AppVersion> {
        self.versions.iter().find(|v| v.name == name)
    }
}

/// One app version: a weighted mix of endpoints.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppVersion {
    /// Its name (`v1`).
    pub name: String,
    /// What its pods serve.
    pub endpoints: Vec<Endpoint>,
    /// Migrations its pods apply when they boot (a framework that migrates
    /// at startup): the first pod to start this version applies them.
    #[serde(default)]
    pub migrate_on_start: Vec<String>,
}

/// One endpoint: a SQL statement with generated parameters.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Name shown in metrics (`GET /profile`).
    pub name: String,
    /// Relative share of requests.
    pub weight: u32,
    /// The statement, with `$1`, `$2`... for the parameters.
    pub sql: String,
    /// One generator per parameter.
    #[serde(default)]
    pub params: Vec<ParamGen>,
    /// Acknowledged writes are kept in the ledger (for RPO); a write's
    /// statement should return the new row's key (`RETURNING id`).
    #[serde(default)]
    pub write: bool,
    /// Served only to requests for which this flag is on.
    #[serde(default)]
    pub flag: Option<String>,
    /// Served only to requests for which this flag is off.
    #[serde(default)]
    pub unless_flag: Option<String>,
}

impl Endpoint {
    /// For a write, the table and key column its acknowledged rows are
    /// checked in (RPO): `INSERT INTO users ... RETURNING id` gives
    /// `("users", "id")`.
    pub fn ledger_target(&self) -> Option<(String, String)> {
        let lower = self.sql.to_ascii_lowercase();
        let word_after = |marker: &str| -> Option<String> {
            let at = lower.find(marker)? + marker.len();
            let rest = self.sql[at..].trim_start();
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(rest.len());
            (end > 0).then(|| rest[..end].to_string())
        };
        Some((word_after("insert into ")?, word_after("returning ")?))
    }

    /// For a write that is an UPDATE returning its key and the value it
    /// wrote, the table, key column and value column (RPO: a missing or
    /// different value is a lost write): `UPDATE hero_snapshots SET status
    /// = $2 WHERE id = $1 RETURNING id, status` gives `("hero_snapshots",
    /// "id", "status")`.
    pub fn update_target(&self) -> Option<(String, String, String)> {
        let lower = self.sql.to_ascii_lowercase();
        let rest = lower.trim_start().strip_prefix("update ")?.trim_start();
        let ident = |s: &str| -> Option<String> {
            let end = s
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
                .unwrap_or(s.len());
            (end > 0).then(|| s[..end].to_string())
        };
        let table = ident(rest)?;
        let returning = &lower[lower.rfind("returning ")? + "returning ".len()..];
        let mut columns = returning.split(',').map(str::trim);
        let key = ident(columns.next()?)?;
        let value = ident(columns.next()?)?;
        Some((table, key, value))
    }
}

/// The pods that run the app.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fleet {
    /// How many pods.
    pub pods: u32,
    /// The version they run at the start.
    pub version: String,
    /// Requests per second each pod sends.
    pub rps_per_pod: u32,
    /// The API timeout, enforced as `statement_timeout` on the pods' sessions.
    pub statement_timeout: Dur,
    /// Connections per pod.
    #[serde(default = "default_pool")]
    pub pool_size: u32,
    /// Time between two pods in a rolling deploy the learner starts.
    #[serde(default = "default_step")]
    pub rollout_step: Dur,
}

/// A pool of background workers beside the app's pods (runbook 003's ETL
/// that processes `hero_snapshots`): its jobs are statements like an
/// endpoint's, run `jobs_per_second` times a second by each of its
/// `concurrency` workers. Its metrics are its own (not the API's SLO);
/// `workers pause|resume|scale` are moves.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Worker {
    /// Its name (`etl`): status lines, moves, sessions `pgdrill-worker-N`.
    pub name: String,
    /// The version of its code, as status shows it.
    #[serde(default)]
    pub version: Option<String>,
    /// Workers running at the start.
    pub concurrency: u32,
    /// The most a `workers scale` may run (default: `concurrency`).
    #[serde(default)]
    pub max_concurrency: Option<u32>,
    /// Jobs each worker runs a second.
    pub jobs_per_second: u32,
    /// Its statement timeout (default: the fleet's).
    #[serde(default)]
    pub statement_timeout: Option<Dur>,
    /// What a job runs: weighted statements, as an endpoint's (a write's
    /// acknowledged rows or values count for the RPO too).
    pub jobs: Vec<Endpoint>,
}

impl Worker {
    /// The most workers it can run.
    pub fn max_concurrency(&self) -> u32 {
        self.max_concurrency
            .unwrap_or(self.concurrency)
            .max(self.concurrency)
    }
}

/// The most requests per second a pod may be asked for: far past what one
/// connection can serve, so a pod asked for it runs at the database's pace
/// (and sheds the rest as `overload`, as a real service would).
pub const MAX_RPS_PER_POD: u32 = 100_000;

fn default_pool() -> u32 {
    2
}
fn default_step() -> Dur {
    Dur::from_secs(5)
}

/// A feature flag.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flag {
    /// Its name.
    pub name: String,
    /// Its value at the start.
    #[serde(default)]
    pub default: FlagValue,
    /// What it switches.
    #[serde(default)]
    pub description: String,
}

/// A scripted event.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimelineEvent {
    /// Scenario time it happens at; with `when`, the time after the
    /// condition first holds.
    pub at: Dur,
    /// Happens only once this condition holds (a fault that waits for the
    /// learner's rollout to reach a step), `at` after it first does.
    #[serde(default)]
    pub when: Option<Trigger>,
    /// The learner is not told: the event is in the transcript (and the
    /// report) but not announced, so a fault shows only through its effects.
    #[serde(default)]
    pub hidden: bool,
    /// What the learner is told, if anything.
    #[serde(default)]
    pub say: Option<String>,
    /// A release: migrations, then a rolling deploy.
    #[serde(default)]
    pub release: Option<Release>,
    /// Migrations a job applies on their own, with no deploy (a migration
    /// run early, by hand or by a pipeline).
    #[serde(default)]
    pub migrate: Vec<String>,
    /// A flag change.
    #[serde(default)]
    pub flag: Option<FlagChange>,
    /// SQL run as the superuser in the background (a report job, a fault).
    /// `{{90s}}` in it becomes the real seconds 90 scenario seconds take at
    /// the run's time scale (for `pg_sleep`).
    #[serde(default)]
    pub sql: Option<String>,
    /// The background job's name: its `application_name`, shown by `locks`
    /// and accepted by `kill`.
    #[serde(default)]
    pub job: Option<String>,
    /// A snapshot the pipeline takes (its name), e.g. before a release.
    #[serde(default)]
    pub snapshot: Option<String>,
}

/// A fault kept in reserve: a game master injects it by name, and its
/// events then fire like the timeline's, `at` after the injection.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inject {
    /// How the game master names it (`inject lock-storm`).
    pub name: String,
    /// What it does, for the game master.
    #[serde(default)]
    pub about: Option<String>,
    /// What happens, `at` after the injection.
    pub events: Vec<TimelineEvent>,
}

/// A condition a timeline event waits for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    /// The flag watched.
    pub flag: String,
    /// The share of requests the flag must reach (`50%`, `on`).
    pub at_least: FlagValue,
}

/// A release: its migrations run first (as a migration job would), then pods
/// move to the version one at a time.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// The version deployed.
    pub version: String,
    /// Migrations applied before the deploy.
    #[serde(default)]
    pub migrations: Vec<String>,
    /// Time between pods.
    #[serde(default = "default_step")]
    pub step: Dur,
    /// The rollout stalls after this many pods (a deploy half done).
    #[serde(default)]
    pub stop_after_pods: Option<u32>,
    /// The migration job's `statement_timeout` (scenario time).
    #[serde(default)]
    pub job_timeout: Option<Dur>,
    /// Deploy even when the migration job failed (a pipeline that treats
    /// migrations as best effort).
    #[serde(default)]
    pub continue_on_error: bool,
}

/// A flag change in the timeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlagChange {
    /// The flag.
    pub name: String,
    /// Its new value.
    pub value: FlagValue,
}

/// What healthy means.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// Highest error rate (0.01 = 1%) in a one-second window.
    pub max_error_rate: f64,
    /// Highest p99 latency in a window.
    pub p99: Dur,
    /// How long the SLO must hold to call the service recovered.
    pub stable_for: Dur,
}

/// How a response is scored.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rubric {
    /// Recovery time objective, from the incident's start.
    pub rto: Dur,
    /// Points needed to pass (default: 70% of the steps' points).
    #[serde(default)]
    pub pass_mark: Option<u32>,
    /// Points each hint costs.
    #[serde(default = "default_hint_cost")]
    pub hint_cost: u32,
    /// Required steps.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Forbidden moves.
    #[serde(default)]
    pub forbid: Vec<Forbid>,
    /// Most acknowledged writes that may be missing at the end (the RPO, in
    /// writes). Unset: lost writes are reported, not graded.
    #[serde(default)]
    pub rpo: Option<u64>,
    /// Built-in guardrails this scenario turns off, by id (see
    /// `scenarios/README.md`).
    #[serde(default)]
    pub guardrails_off: Vec<String>,
    /// Built-in guardrails as this scenario words or limits them, by id
    /// (`[rubric.guardrails.rollback-before-flag]`).
    #[serde(default)]
    pub guardrails: BTreeMap<String, GuardrailFit>,
    /// How long the drill may run (scenario time). Default: the last
    /// timeline event plus twice the RTO plus the stability window.
    #[serde(default)]
    pub time_limit: Option<Dur>,
    /// How often stakeholders hear while the incident is open.
    #[serde(default)]
    pub comms: Option<Cadence>,
}

/// Status updates at most `every` apart while the incident is open
/// (runbook 003: "every 15–30 minutes with progress"): from the incident's
/// start to `resolve` (or the drill's end), every stretch longer than
/// `every` without a `comms` costs `penalty`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cadence {
    /// The longest stretch allowed between updates (scenario time).
    pub every: Dur,
    /// Points each stretch without an update costs.
    pub penalty: u32,
    /// Why, citing the runbook.
    pub why: String,
}

fn default_hint_cost() -> u32 {
    5
}

impl Rubric {
    /// Points of all steps.
    pub fn max_points(&self) -> u32 {
        // Validation keeps points small; saturating so that an unvalidated
        // rubric cannot overflow either.
        self.steps
            .iter()
            .fold(0u32, |sum, s| sum.saturating_add(s.points))
    }

    /// Points needed to pass.
    pub fn pass_mark(&self) -> u32 {
        self.pass_mark
            .unwrap_or_else(|| (u64::from(self.max_points()) * 7).div_ceil(10) as u32)
    }
}

/// A built-in guardrail fitted to a scenario: its sentence in the
/// scenario's words, its penalty, and for `rollback-before-flag` the flags
/// it is about (those that gate a new code path); what is not given stays
/// as built in.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GuardrailFit {
    /// The lesson, citing the scenario's runbook.
    #[serde(default)]
    pub why: Option<String>,
    /// Points taken off.
    #[serde(default)]
    pub penalty: Option<u32>,
    /// `rollback-before-flag` only: the flags to turn off before an app
    /// rollback (others may stay on).
    #[serde(default)]
    pub flags: Option<Vec<String>>,
}

/// A required step.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Id other steps and rules refer to.
    pub id: String,
    /// Moves that count as this step (any of them).
    #[serde(rename = "move")]
    pub moves: Patterns,
    /// Points for doing it in an allowed order.
    pub points: u32,
    /// Steps that must come first.
    #[serde(default)]
    pub after: Vec<String>,
    /// Steps it must come before.
    #[serde(default)]
    pub before: Vec<String>,
    /// Words the move's text must contain (case-insensitive), e.g. `comms`
    /// that states the RTO and RPO.
    #[serde(default)]
    pub mentions: Vec<String>,
    /// For `approve` steps: the roles whose approvals it takes, each from a
    /// different person (`["sre", "migration-owner"]`, runbook 003). The
    /// step is done when the last of them is given.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// What the learner is told when it is missing or out of order: the
    /// runbook rule it serves.
    pub why: String,
}

/// A forbidden move: penalised when it is attempted (or, with
/// `only_if_done`, when it succeeds) while every condition holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Forbid {
    /// Moves this rule is about.
    #[serde(rename = "move")]
    pub moves: Patterns,
    /// Only while pods of this version serve traffic.
    #[serde(default)]
    pub while_serving: Option<String>,
    /// Only until every one of these steps has been done (a prerequisite
    /// missing).
    #[serde(default)]
    pub before: Vec<String>,
    /// Only moves the engine tagged so (`contract`, `destructive`,
    /// `corrective`, ...), whichever verb made them.
    #[serde(default)]
    pub tagged: Option<Tag>,
    /// Only while the service is not (yet) recovered.
    #[serde(default)]
    pub while_unhealthy: bool,
    /// Penalise only a move that succeeded. By default an attempt counts
    /// too (it failed, was cancelled or was still running at the end): a
    /// DDL that queued behind a lock did its harm even if it never
    /// committed. A move pgdrill refused never counts.
    #[serde(default)]
    pub only_if_done: bool,
    /// Points taken off.
    pub penalty: u32,
    /// A hard stop: the drill fails whatever the points.
    #[serde(default)]
    pub fatal: bool,
    /// Why, citing the runbook.
    pub why: String,
}

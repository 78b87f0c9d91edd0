//! The drill engine: one event loop that owns the drill's state.
//!
//! The loop owns the scenario clock, the fleet, the rollout, the metrics
//! windows, the timeline and the transcript. Three things feed it: request
//! samples from the pods, a 100 ms tick (timeline, rollout steps, window
//! boundaries, waits, the time limit) and the learner's commands. Moves that
//! talk to the database (migrations, SQL, snapshots) run as tasks that report
//! back, so a migration stuck behind a lock never freezes the clock or the
//! metrics. Everything that happens is appended to the transcript and, apart
//! from the metrics windows, sent to whoever listens (the terminal UI, a
//! script runner). The engine never prints.

mod apply;
mod cancel;
pub mod clock;
mod command;
mod control;
mod data;
mod decide;
mod fleet;
mod health;
pub mod ledger;
mod locks;
mod messages;
mod migrations;
mod pitr;
mod prepare;
mod probe;
mod restore;
mod rollout;
mod schedule;
pub mod status;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod timeline;
mod typed;
mod updates;
mod workers;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::instance::physical;
use crate::instance::snapshot::Snapshot;
use crate::instance::{Instance, InstanceInfo};
use crate::scenario::{Release, Scenario};
use crate::score::{self, Recovery};
use crate::transcript::Outcome as MoveOutcome;
use crate::transcript::{Actor, EndReason, Event, EventKind, Level, State, Transcript};
use crate::workload::{Flags, Fleet, Phase, Rollout, WindowBuilder};

pub use clock::Clock;
pub use control::Control;
use decide::Pace;
pub use ledger::{Ack, Ledger, LedgerTarget};
pub use messages::{Command, Reply, View};
pub use prepare::{
    SEED_CACHE_MIN_ROWS, backdate, generate_rows, generated_rows, install_audit, prepare, seed_key,
};
use schedule::Schedule;
pub use status::StatusView;

/// Application name of the release's migration job.
pub const MIGRATION_JOB: &str = "migration-job";
/// Application name of pgdrill's own move connections.
pub const MOVES: &str = "pgdrill-move";

/// Starts a new instance for a restore: empty, or recovered from a
/// physical snapshot and a WAL archive.
pub type Provision = Arc<
    dyn Fn(
            Option<physical::Recovery>,
        ) -> Pin<Box<dyn Future<Output = Result<Instance, String>> + Send>>
        + Send
        + Sync,
>;

/// How long the moves in flight at the end get to report how they ended.
const SETTLE_AT_END: Duration = Duration::from_secs(8);

/// How often the loop looks at the clock.
const TICK: Duration = Duration::from_millis(100);
/// Most samples the loop takes in one go.
const SAMPLE_BATCH: usize = 256;

/// Why a drill could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Setting up the database failed (the server, not the scenario).
    #[error("setting up the drill failed: {0}")]
    Setup(String),
    /// The scenario's own files cannot set up its database: the fixture
    /// SQL or a start migration fails, rows name a missing table.
    #[error("the scenario cannot be set up: {0}")]
    Scenario(String),
    /// The fleet could not start.
    #[error(transparent)]
    Fleet(#[from] crate::workload::Error),
}

/// Settings of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seed for the workload's random choices.
    pub seed: u64,
    /// Scenario seconds per real second.
    pub time_scale: f64,
    /// Who plays, recorded in the transcript.
    pub learner: Option<String>,
    /// Where the servers run (`local`, `docker`), recorded too.
    pub backend: Option<String>,
    /// The rows generated per table, when not the scenario's (`run
    /// --rows`, `--scale`), recorded too.
    pub rows: Option<std::collections::BTreeMap<String, u64>>,
}

/// Where the drill runs.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its name in the drill (`primary`, `restored-1`).
    pub name: String,
    /// Connection details.
    pub info: InstanceInfo,
    /// URL of the app role.
    pub app_url: String,
    /// URL of the superuser.
    pub superuser_url: String,
}

/// A move whose work runs in a task.
struct Pending {
    t_ms: u64,
    input: String,
    /// The move as reports read it.
    parsed: Box<crate::transcript::Parsed>,
    /// Who made it, when several people play.
    by: Option<Actor>,
    state: State,
    reply: oneshot::Sender<Reply>,
}

/// A `wait` in progress.
struct Waiting {
    wait: decide::WaitFor,
    pending: Pending,
}

/// What a background task finished with. Short-lived messages, one per
/// task, so their size does not matter.
enum Finished {
    /// A release's migration job.
    Release(Release, Result<Vec<String>, String>),
    /// A migration job that is not part of a deploy: a version's
    /// migrations applied by its first pod at startup (`Some(version)`), or
    /// a timeline `migrate` (`None`).
    Job(Option<String>, Result<Vec<String>, String>),
    /// A snapshot the timeline asked for.
    Snapshot(u64, Result<Snapshot, String>),
    /// Integrity checks and the DDL audit.
    Probe(usize, probe::Probed),
    /// The drill's own base backup, for point-in-time restores.
    Base(u64, Result<Snapshot, String>),
}

/// A database of the drill.
struct Db {
    target: Target,
    /// Last DDL audit row already read.
    audit_cursor: i64,
    /// Migrations applied there, while the app uses another instance (the
    /// serving one's are in `Drill::applied`).
    applied: Vec<String>,
}

/// A snapshot and where it came from.
#[derive(Clone)]
struct Snap {
    t_ms: u64,
    db: usize,
    snapshot: Snapshot,
    /// Taken by the pipeline (timeline), not the learner.
    by_timeline: bool,
}

/// The health side of the drill: windows being built, the service's
/// timing as of the last one, and what the learner was last told.
struct Health {
    builder: WindowBuilder,
    /// The service's side of the timing, as of the last window.
    recovery: Recovery,
    /// Whether the last word on recovery was "recovered".
    announced: bool,
    /// Whether the last window met the SLO.
    last_healthy: Option<bool>,
    /// Each check's last state: passing, and failing by error or by rows.
    checks: BTreeMap<String, (bool, bool)>,
}

/// Rolling deploys: the one in progress, its last phase told, and the
/// version a rollback goes back to.
#[derive(Default)]
struct Rollouts {
    current: Option<Rollout>,
    phase: Option<Phase>,
    previous_version: Option<String>,
}

/// What runs beside the loop and reports back to it.
struct Work {
    /// Background jobs: release migrations, the pipeline's snapshots,
    /// probes.
    tasks: JoinSet<Finished>,
    /// Moves whose work runs as a task, until they are recorded.
    moves: JoinSet<(Pending, apply::Done)>,
    /// How to stop each of them (`cancel.rs`).
    running: Vec<oneshot::Sender<MoveOutcome>>,
    /// The timeline's background SQL sessions, stopped at the end.
    background: JoinSet<()>,
    /// Replays waiting for requests in flight on the old instance.
    replays: Vec<data::Deferred>,
}

/// One drill in progress.
pub struct Drill {
    scenario: Arc<Scenario>,
    dbs: Vec<Db>,
    serving: usize,
    /// The instances the drill owns, by index into `dbs`: stopped at its
    /// end, and watched while it runs.
    owned: Vec<(usize, Instance)>,
    provision: Option<Provision>,
    options: Options,
    clock: Clock,
    transcript: Transcript,
    notices: Option<mpsc::UnboundedSender<Event>>,
    fleet: Option<Fleet>,
    flags: Flags,
    /// Metrics windows and what they say.
    health: Health,
    /// When windows close and probes start.
    pace: Pace,
    /// The rollout in progress and the one before.
    rollouts: Rollouts,
    applied: Vec<String>,
    snapshots: Vec<Snap>,
    /// What point-in-time restores start from.
    pitr: pitr::Pitr,
    incident: Option<String>,
    /// Migration plans the learner recorded.
    plans: Vec<crate::action::Plan>,
    starting: Vec<String>,
    /// Where each (version, endpoint)'s writes are checked.
    ledger_targets: BTreeMap<(Arc<str>, Arc<str>), LedgerTarget>,
    /// When the timeline's events fire.
    schedule: Schedule,
    waits: Vec<Waiting>,
    /// What runs beside the loop.
    work: Work,
    ledger: Ledger,
    /// Acknowledged UPDATEs: each key's last value.
    updates: updates::Updates,
    /// The workers beside the pods.
    workers: workers::Pools,
    end_at_ms: u64,
    ended: Option<EndReason>,
    /// What the app's HTTP face answers from, kept current.
    face: Option<tokio::sync::watch::Sender<crate::workload::http::Face>>,
    /// The addresses people's psql sessions use, and what they run.
    endpoints: typed::Endpoints,
}

impl Drill {
    /// A drill ready to run; the clock starts now.
    pub fn new(
        scenario: Arc<Scenario>,
        target: Target,
        options: Options,
        started_at: u64,
    ) -> Drill {
        let schedule = Schedule::of(&scenario);
        let end_at_ms = schedule::end_at_ms(&scenario, &schedule);
        let flags = Flags::new(scenario.flags.iter().map(|f| (f.name.clone(), f.default)));
        let applied = scenario
            .migrations
            .list
            .iter()
            .filter(|m| m.applied_at_start)
            .map(|m| m.id.clone())
            .collect();
        let ledger_targets = ledger::targets(&scenario);
        let updates = updates::Updates::of(&scenario);
        let builder = WindowBuilder::new(scenario.slo.p99.0);
        Drill {
            transcript: Transcript {
                scenario_fingerprint: Some(scenario.fingerprint()),
                learner: options.learner.clone(),
                backend: options.backend.clone(),
                rows: options.rows.clone(),
                ..Transcript::new(&scenario.id, options.seed, options.time_scale, started_at)
            },
            clock: Clock::start(options.time_scale),
            scenario,
            dbs: vec![Db {
                target,
                audit_cursor: 0,
                applied: Vec::new(),
            }],
            serving: 0,
            owned: Vec::new(),
            provision: None,
            options,
            notices: None,
            fleet: None,
            flags,
            health: Health {
                builder,
                recovery: Recovery::default(),
                announced: false,
                last_healthy: None,
                checks: BTreeMap::new(),
            },
            pace: Pace::starting(0),
            rollouts: Rollouts::default(),
            applied,
            snapshots: Vec::new(),
            pitr: pitr::Pitr::default(),
            incident: None,
            plans: Vec::new(),
            starting: Vec::new(),
            ledger_targets,
            updates,
            workers: workers::Pools::default(),
            schedule,
            waits: Vec::new(),
            work: Work {
                tasks: JoinSet::new(),
                moves: JoinSet::new(),
                running: Vec::new(),
                background: JoinSet::new(),
                replays: Vec::new(),
            },
            ledger: Ledger::default(),
            end_at_ms,
            ended: None,
            face: None,
            endpoints: typed::Endpoints::default(),
        }
    }

    /// Keeps `face` current for the app's HTTP face (`workload::http`):
    /// the fleet while it runs, the last window and its verdict.
    pub fn with_face(
        mut self,
        face: tokio::sync::watch::Sender<crate::workload::http::Face>,
    ) -> Drill {
        self.face = Some(face);
        self
    }

    /// Hands the drill the instance its first target runs on: the drill
    /// watches its server (and ends if it dies) and stops it at the end.
    pub fn owning(mut self, instance: Instance) -> Drill {
        self.owned.push((0, instance));
        self
    }

    /// Lets the drill start new instances (for `restore --to new`).
    pub fn with_provision(mut self, provision: Provision) -> Drill {
        self.provision = Some(provision);
        self
    }

    /// The database the app uses now.
    fn db(&self) -> &Target {
        &self.dbs[self.serving].target
    }

    /// The database with this name.
    fn db_named(&self, name: &str) -> Option<usize> {
        self.dbs.iter().position(|d| d.target.name == name)
    }

    /// The scenario clock (for script runners that wait for a time).
    pub fn clock(&self) -> Clock {
        self.clock.clone()
    }

    /// Runs the drill until it is resolved, runs out of time, or is told to
    /// end. Events go to `notices` as they happen. Returns the transcript.
    pub async fn run(
        mut self,
        mut commands: mpsc::Receiver<Command>,
        notices: mpsc::UnboundedSender<Event>,
    ) -> Result<Transcript, Error> {
        self.notices = Some(notices);
        let (samples_tx, mut samples) = mpsc::unbounded_channel();
        self.fleet = Some(
            Fleet::start(
                &self.scenario,
                &self.db().app_url,
                self.options.seed,
                self.flags.clone(),
                samples_tx,
            )
            .await?,
        );
        if let (Some(face), Some(fleet)) = (&self.face, &self.fleet) {
            let front = fleet.front(self.scenario.fixture.rows.clone(), self.options.seed);
            face.send_modify(|f| f.front = Some(front));
        }
        let mut job_samples = self.start_workers().await;
        let mut job_batch = Vec::with_capacity(SAMPLE_BATCH);
        self.start_archiving();
        self.pace = Pace::starting(self.clock.now_ms());
        let f = &self.scenario.fleet;
        let message = format!(
            "traffic started: {} pods on {}, {} requests/s each, API timeout {}",
            f.pods, f.version, f.rps_per_pod, f.statement_timeout
        );
        self.push(EventKind::Started { message });

        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let mut batch = Vec::with_capacity(SAMPLE_BATCH);
        let mut seen = self.take_seen();
        while self.ended.is_none() {
            tokio::select! {
                // Whatever has queued up is taken at once: at thousands of
                // requests a second the loop then wakes once a batch, not
                // once a request.
                1.. = samples.recv_many(&mut batch, SAMPLE_BATCH) => self.record(batch.drain(..)),
                1.. = job_samples.recv_many(&mut job_batch, SAMPLE_BATCH) => self.record_jobs(job_batch.drain(..)),
                _ = tick.tick() => self.on_tick(),
                Some(s) = seen.recv() => self.seen(s),
                Some(done) = self.work.tasks.join_next(), if !self.work.tasks.is_empty() => {
                    if let Ok(done) = done {
                        self.on_finished(done);
                    }
                }
                Some(done) = self.work.moves.join_next(), if !self.work.moves.is_empty() => {
                    if let Ok((pending, done)) = done {
                        self.complete(pending, done);
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Act { input, action, by, reply }) => self.act(input, action, by, reply),
                    Some(Command::Cancel) => {
                        self.cancel_moves(MoveOutcome::Cancelled);
                    }
                    Some(Command::End(reason)) => self.ended = Some(reason),
                    Some(Command::Control { control, by, reply }) => {
                        let _ = reply.send(self.control(control, by));
                    }
                    Some(Command::Peek(reply)) => {
                        let _ = reply.send(Box::new(self.status()));
                    }
                    Some(Command::PeekLocks(reply)) => self.peek_locks(reply),
                    None => self.ended = Some(EndReason::Interrupted),
                },
            }
        }
        // The last, partial window counts only when it is long enough to
        // mean something; what the fleet's shutdown does to requests in
        // flight is not the service's health.
        if self.pace.last_window_counts() {
            self.close_window(self.clock.now_ms());
        }
        self.stop_work().await;
        self.shutdown_workers().await;
        while let Ok(job) = job_samples.try_recv() {
            job_batch.push(job);
        }
        self.record_jobs(job_batch.drain(..));
        while let Ok(sample) = samples.try_recv() {
            batch.push(sample);
        }
        self.record(batch.drain(..));
        if !matches!(
            self.ended,
            Some(EndReason::Interrupted | EndReason::ServerDied)
        ) {
            self.final_measurements().await;
        }
        for (_, instance) in std::mem::take(&mut self.owned) {
            instance.shutdown().await;
        }
        Ok(self.finish())
    }

    /// Ends the drill if one of its servers has stopped (killed, crashed):
    /// every tick, so within [`TICK`] of it. Nothing after that would be
    /// the learner's doing, only connection errors.
    fn watch_servers(&mut self) -> bool {
        let Some((db, how, tail)) = self
            .owned
            .iter_mut()
            .find_map(|(db, i)| i.exit().map(|how| (*db, how, i.log_tail())))
        else {
            return false;
        };
        let name = self
            .dbs
            .get(db)
            .map_or("?", |d| d.target.name.as_str())
            .to_string();
        let lines: Vec<&str> = tail.lines().collect();
        let tail = lines[lines.len().saturating_sub(3)..].join("\n");
        self.observe(
            Level::Alert,
            format!(
                "the PostgreSQL server of `{name}` stopped unexpectedly ({how}): the drill cannot go on and ends now. The end of its log:\n{tail}"
            ),
        );
        self.ended = Some(EndReason::ServerDied);
        true
    }

    /// The sessions to end when the drill is over (`locks::end_jobs`): the
    /// timeline's jobs and the migration job, on every instance, so that
    /// nothing of the scenario's holds a lock at the end.
    fn jobs(&self) -> (Vec<String>, Vec<String>) {
        let mut jobs: Vec<String> = self
            .scenario
            .timeline
            .iter()
            .chain(self.scenario.inject.iter().flat_map(|f| f.events.iter()))
            .filter_map(|e| e.job.clone())
            .collect();
        jobs.push(MIGRATION_JOB.to_string());
        let urls = self
            .dbs
            .iter()
            .map(|d| d.target.superuser_url.clone())
            .collect();
        (urls, jobs)
    }

    /// Integrity checks once more and the RPO, on the database the app
    /// uses at the end, with the traffic stopped.
    async fn final_measurements(&mut self) {
        let target = self.db().clone();
        if !self.scenario.checks.is_empty() {
            let probed = probe::probe(self.scenario.clone(), target.clone(), None).await;
            self.on_probe(self.serving, probed);
        }
        if !self.ledger.is_empty() || !self.ledger_targets.is_empty() || self.updates.tracked() {
            let mut rpo = probe::rpo(&target.superuser_url, &self.ledger).await;
            self.updates.check(&target.superuser_url, &mut rpo).await;
            self.push(EventKind::Rpo(rpo));
        }
    }

    fn finish(mut self) -> Transcript {
        let reason = self.ended.unwrap_or(EndReason::Interrupted);
        self.push(EventKind::Ended { reason });
        self.transcript
    }

    /// Appends an event to the transcript and tells the listener: every
    /// event, windows and hidden ones too (a live page charts the windows,
    /// a game master sees what is hidden); what a learner is shown is the
    /// listener's choice ([`Event::for_learner`]).
    fn push(&mut self, kind: EventKind) {
        let event = Event {
            hash: None,
            t_ms: self.clock.now_ms(),
            kind,
        };
        if let Some(n) = &self.notices {
            let _ = n.send(event.clone());
        }
        self.transcript.events.push(event);
    }

    /// A timeline event the learner is told about.
    fn announce(&mut self, message: String) {
        self.announce_as(false, message);
    }

    /// A timeline event, possibly kept from the learner.
    fn announce_as(&mut self, hidden: bool, message: String) {
        self.push(EventKind::Timeline { message, hidden });
    }

    fn observe(&mut self, level: Level, message: String) {
        self.push(EventKind::Observation { level, message });
    }

    /// The world as a move meets it.
    fn state(&self) -> State {
        State {
            pods: self.fleet.as_ref().map(|f| f.counts()).unwrap_or_default(),
            flags: self
                .flags
                .values()
                .into_iter()
                .map(|(k, v)| (k, v.to_string()))
                .collect(),
            applied: self.applied.clone(),
            snapshots: self.snapshots.len() as u32,
            instance: self.db().name.clone(),
        }
    }

    fn on_tick(&mut self) {
        if self.watch_servers() || self.clock.is_paused() {
            return;
        }
        let now = self.clock.now_ms();
        if self.pace.window_due() {
            self.close_window(now);
        }
        if self.pace.start_probe() {
            let (db, target) = (self.serving, self.db().clone());
            let cursor = Some(self.dbs[db].audit_cursor);
            let scenario = self.scenario.clone();
            self.work.tasks.spawn(async move {
                Finished::Probe(db, probe::probe(scenario, target, cursor).await)
            });
        }
        self.schedule
            .trigger(&self.scenario, &self.flags.values(), now);
        for slot in self.schedule.due(now) {
            self.fire(slot);
        }
        self.step_rollout(now);
        self.resume_replays();
        self.answer_waits(now);
        if now >= self.end_at_ms {
            self.observe(
                Level::Alert,
                format!("time is up ({}): the drill ends", score::clock(now)),
            );
            self.ended = Some(EndReason::TimeUp);
        }
    }

    /// Answers the waits that are over: their time is up, or what a
    /// `wait until` watches for has happened (`decide::answer`).
    fn answer_waits(&mut self, now: u64) {
        if self.waits.is_empty() {
            return;
        }
        let standing =
            self.waits
                .iter()
                .any(|w| w.wait.until.is_some())
                .then(|| decide::Standing {
                    rollout: self.rollout_text(),
                    pods: self
                        .fleet
                        .as_ref()
                        .map(|f| f.pod_versions())
                        .unwrap_or_default(),
                    ..decide::Standing::of(&self.timing(), now)
                });
        for w in std::mem::take(&mut self.waits) {
            match decide::answer(&w.wait, now, standing.as_ref()) {
                Some(text) => {
                    let _ = w.pending.reply.send(Reply::ok(text));
                }
                None => self.waits.push(w),
            }
        }
    }
}

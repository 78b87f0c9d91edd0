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
mod data;
mod locks;
mod prepare;
mod probe;
pub mod status;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::action::Action;
use crate::instance::snapshot::Snapshot;
use crate::instance::{Instance, InstanceInfo};
use crate::scenario::{Release, Scenario};
use crate::score::{self, Recovery};
use crate::transcript::Outcome as MoveOutcome;
use crate::transcript::{EndReason, Event, EventKind, Level, State, Transcript, Window};
use crate::workload::{Flags, Fleet, Outcome, Phase, Rollout, Sample, WindowBuilder};

pub use clock::Clock;
pub use prepare::{install_audit, prepare};
pub use status::StatusView;

/// How often integrity checks and the DDL audit are read (real time).
const PROBE_EVERY: Duration = Duration::from_secs(1);
/// Application name of the release's migration job.
pub const MIGRATION_JOB: &str = "migration-job";
/// Application name of pgdrill's own move connections.
pub const MOVES: &str = "pgdrill-move";

/// Starts a new empty instance for a restore.
pub type Provision =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<Instance, String>> + Send>> + Send + Sync>;

/// How long the moves in flight at the end get to report how they ended.
const SETTLE_AT_END: Duration = Duration::from_secs(8);

/// How often the loop looks at the clock.
const TICK: Duration = Duration::from_millis(100);
/// Real length of a metrics window.
const WINDOW: Duration = Duration::from_secs(1);

/// Why a drill could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Setting up the database failed.
    #[error("setting up the drill failed: {0}")]
    Setup(String),
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

/// A request to the engine.
#[derive(Debug)]
pub enum Command {
    /// Play a move.
    Act {
        /// The line as typed.
        input: String,
        /// The parsed move.
        action: Action,
        /// Where the answer goes.
        reply: oneshot::Sender<Reply>,
    },
    /// Cancel the moves in flight (Ctrl-C while a move runs); each still
    /// answers, as cancelled.
    Cancel,
    /// Stop the drill.
    End(EndReason),
}

/// The answer to a move.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened, in words.
    pub text: String,
    /// Structured output for the UI to render.
    pub view: Option<View>,
}

impl Reply {
    fn ok(text: impl Into<String>) -> Reply {
        Reply {
            ok: true,
            text: text.into(),
            view: None,
        }
    }
    fn fail(text: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            text: text.into(),
            view: None,
        }
    }
}

/// Structured output of a move.
#[derive(Debug, Clone)]
pub enum View {
    /// The health table.
    Status(Box<StatusView>),
    /// Rows of a table (SQL results, migration status, snapshots, pods).
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// Values as text.
        rows: Vec<Vec<String>>,
    },
    /// Events so far.
    Events(Vec<Event>),
}

/// The table and key column a write is checked in.
type LedgerTarget = Arc<(String, String)>;

/// An acknowledged write, in the ledger the RPO is measured from.
struct Write {
    /// Scenario time it was acknowledged.
    t_ms: u64,
    /// The database it went to (index into the drill's instances).
    db: usize,
    /// Table and key column it is checked in (shared by every write of
    /// its endpoint).
    table: Option<LedgerTarget>,
    /// The key it returned.
    key: Option<i64>,
}

/// A move whose work runs in a task.
struct Pending {
    t_ms: u64,
    input: String,
    state: State,
    reply: oneshot::Sender<Reply>,
}

/// A `wait` in progress.
struct Waiting {
    /// Scenario time it ends at the latest.
    until_ms: u64,
    /// Whether it ends as soon as the service has recovered.
    recovered: bool,
    pending: Pending,
}

/// What a background task finished with. Short-lived messages, one per
/// task, so their size does not matter.
#[allow(clippy::large_enum_variant)]
enum Finished {
    /// A move.
    Move(Pending, apply::Done),
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
struct Snap {
    t_ms: u64,
    db: usize,
    snapshot: Snapshot,
    /// Taken by the pipeline (timeline), not the learner.
    by_timeline: bool,
}

/// One drill in progress.
pub struct Drill {
    scenario: Arc<Scenario>,
    dbs: Vec<Db>,
    serving: usize,
    owned: Vec<Instance>,
    provision: Option<Provision>,
    options: Options,
    clock: Clock,
    transcript: Transcript,
    notices: Option<mpsc::UnboundedSender<Event>>,
    fleet: Option<Fleet>,
    flags: Flags,
    builder: WindowBuilder,
    window_started: (Instant, u64),
    /// The service's side of the timing, as of the last window.
    recovery: Recovery,
    /// Whether the last word on recovery was "recovered".
    announced_recovery: bool,
    last_healthy: Option<bool>,
    rollout: Option<Rollout>,
    rollout_phase: Option<Phase>,
    previous_version: Option<String>,
    applied: Vec<String>,
    snapshots: Vec<Snap>,
    incident: Option<String>,
    /// Migration plans the learner recorded.
    plans: Vec<crate::action::Plan>,
    /// Each check's last state: passing, and failing by error or by rows.
    checks: BTreeMap<String, (bool, bool)>,
    probing: bool,
    last_probe: Instant,
    starting: Vec<String>,
    /// Where each (version, endpoint)'s writes are checked.
    ledger_targets: BTreeMap<(Arc<str>, Arc<str>), LedgerTarget>,
    timeline: Vec<(u64, usize)>,
    next_event: usize,
    /// Timeline events waiting for their condition (indexes).
    triggers: Vec<usize>,
    waits: Vec<Waiting>,
    tasks: JoinSet<Finished>,
    /// How to stop each move task in flight.
    running: Vec<oneshot::Sender<MoveOutcome>>,
    /// Move tasks started and not yet recorded.
    in_flight: usize,
    background: JoinSet<()>,
    ledger: Vec<Write>,
    end_at_ms: u64,
    ended: Option<EndReason>,
}

impl Drill {
    /// A drill ready to run; the clock starts now.
    pub fn new(
        scenario: Arc<Scenario>,
        target: Target,
        options: Options,
        started_at: u64,
    ) -> Drill {
        let mut timeline: Vec<(u64, usize)> = scenario
            .timeline
            .iter()
            .enumerate()
            .filter(|(_, e)| e.when.is_none())
            .map(|(i, e)| (e.at.as_millis(), i))
            .collect();
        timeline.sort();
        let triggers = scenario
            .timeline
            .iter()
            .enumerate()
            .filter(|(_, e)| e.when.is_some())
            .map(|(i, _)| i)
            .collect();
        let last = timeline.last().map_or(0, |t| t.0);
        let end_at_ms = scenario.rubric.time_limit.map_or_else(
            || last + 2 * scenario.rubric.rto.as_millis() + scenario.slo.stable_for.as_millis(),
            |limit| limit.as_millis(),
        );
        let flags = Flags::new(scenario.flags.iter().map(|f| (f.name.clone(), f.default)));
        let applied = scenario
            .migrations
            .list
            .iter()
            .filter(|m| m.applied_at_start)
            .map(|m| m.id.clone())
            .collect();
        let ledger_targets = scenario
            .app
            .versions
            .iter()
            .flat_map(|v| {
                v.endpoints.iter().filter(|e| e.write).filter_map(|e| {
                    let key = (Arc::from(v.name.as_str()), Arc::from(e.name.as_str()));
                    Some((key, Arc::new(e.ledger_target()?)))
                })
            })
            .collect();
        Drill {
            transcript: Transcript {
                scenario_fingerprint: Some(scenario.fingerprint()),
                learner: options.learner.clone(),
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
            builder: WindowBuilder::default(),
            window_started: (Instant::now(), 0),
            recovery: Recovery::default(),
            announced_recovery: false,
            last_healthy: None,
            rollout: None,
            rollout_phase: None,
            previous_version: None,
            applied,
            snapshots: Vec::new(),
            incident: None,
            plans: Vec::new(),
            checks: BTreeMap::new(),
            probing: false,
            last_probe: Instant::now(),
            starting: Vec::new(),
            ledger_targets,
            timeline,
            next_event: 0,
            triggers,
            waits: Vec::new(),
            tasks: JoinSet::new(),
            running: Vec::new(),
            in_flight: 0,
            background: JoinSet::new(),
            ledger: Vec::new(),
            end_at_ms,
            ended: None,
        }
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
        self.clock
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
        self.window_started = (Instant::now(), self.clock.now_ms());
        let f = &self.scenario.fleet;
        let message = format!(
            "traffic started: {} pods on {}, {} requests/s each, API timeout {}",
            f.pods, f.version, f.rps_per_pod, f.statement_timeout
        );
        self.push(EventKind::Started { message });

        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        while self.ended.is_none() {
            tokio::select! {
                Some(sample) = samples.recv() => self.record(sample),
                _ = tick.tick() => self.on_tick(),
                Some(done) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    if let Ok(done) = done {
                        self.on_finished(done);
                    }
                }
                command = commands.recv() => match command {
                    Some(Command::Act { input, action, reply }) => self.act(input, action, reply),
                    Some(Command::Cancel) => {
                        self.cancel_moves(MoveOutcome::Cancelled);
                    }
                    Some(Command::End(reason)) => self.ended = Some(reason),
                    None => self.ended = Some(EndReason::Interrupted),
                },
            }
        }
        // The last, partial window counts only when it is long enough to
        // mean something; what the fleet's shutdown does to requests in
        // flight is not the service's health.
        if self.window_started.0.elapsed() >= WINDOW / 2 {
            self.close_window(self.clock.now_ms());
        }
        // Moves still running are stopped, and recorded as interrupted:
        // every move the learner started is in the transcript.
        self.cancel_moves(MoveOutcome::Interrupted);
        let deadline = tokio::time::Instant::now() + SETTLE_AT_END;
        while self.in_flight > 0 {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(Some(Ok(done))) => self.on_finished(done),
                Ok(Some(Err(_))) => {}
                Ok(None) | Err(_) => break,
            }
        }
        self.tasks.abort_all();
        self.background.abort_all();
        if let Some(fleet) = self.fleet.take() {
            fleet.shutdown().await;
        }
        while let Ok(sample) = samples.try_recv() {
            self.record(sample);
        }
        if self.ended != Some(EndReason::Interrupted) {
            self.final_measurements().await;
        }
        for instance in std::mem::take(&mut self.owned) {
            instance.shutdown().await;
        }
        Ok(self.finish())
    }

    /// Integrity checks once more and the RPO, on the database the app
    /// uses at the end, with the traffic stopped.
    async fn final_measurements(&mut self) {
        let target = self.db().clone();
        if !self.scenario.checks.is_empty() {
            let probed = probe::probe(self.scenario.clone(), target.clone(), None).await;
            self.on_probe(self.serving, probed);
        }
        if !self.ledger.is_empty() || !self.ledger_targets.is_empty() {
            let rpo = probe::rpo(&target.superuser_url, &self.ledger).await;
            self.push(EventKind::Rpo(rpo));
        }
    }

    fn finish(mut self) -> Transcript {
        let reason = self.ended.unwrap_or(EndReason::Interrupted);
        self.push(EventKind::Ended { reason });
        self.transcript
    }

    /// Appends an event to the transcript and tells the listener.
    fn push(&mut self, kind: EventKind) {
        let event = Event {
            hash: None,
            t_ms: self.clock.now_ms(),
            kind,
        };
        if !matches!(
            event.kind,
            EventKind::Window(_) | EventKind::Timeline { hidden: true, .. }
        ) && let Some(n) = &self.notices
        {
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

    fn record(&mut self, sample: Sample) {
        self.builder.record(&sample);
        if let Outcome::Ok {
            write: true,
            written,
        } = sample.outcome
        {
            let table = self
                .ledger_targets
                .get(&(sample.version, sample.endpoint))
                .cloned();
            self.ledger.push(Write {
                t_ms: self.clock.now_ms(),
                db: sample.db,
                table,
                key: written,
            });
        }
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
        let now = self.clock.now_ms();
        if self.window_started.0.elapsed() >= WINDOW {
            self.close_window(now);
        }
        if !self.probing && self.last_probe.elapsed() >= PROBE_EVERY {
            self.probing = true;
            self.last_probe = Instant::now();
            let (db, target) = (self.serving, self.db().clone());
            let cursor = Some(self.dbs[db].audit_cursor);
            let scenario = self.scenario.clone();
            self.tasks.spawn(async move {
                Finished::Probe(db, probe::probe(scenario, target, cursor).await)
            });
        }
        self.check_triggers(now);
        while let Some(&(at, index)) = self.timeline.get(self.next_event)
            && at <= now
        {
            self.next_event += 1;
            self.fire(index);
        }
        self.step_rollout(now);
        let waiting_for_recovery = self.waits.iter().any(|w| w.recovered);
        let timing = waiting_for_recovery.then(|| self.timing());
        let recovered = timing.as_ref().is_some_and(|t| t.recovered_at(now));
        let no_incident = timing
            .as_ref()
            .is_some_and(|t| t.incident_start_ms.is_none());
        let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waits)
            .into_iter()
            .partition(|w| w.until_ms <= now || (w.recovered && (recovered || no_incident)));
        self.waits = waiting;
        for w in due {
            let at = timing.as_ref().and_then(|t| t.recovered_ms());
            let text = match (w.recovered, recovered, no_incident) {
                (false, _, _) => format!("waited until {}", score::clock(now)),
                (true, true, _) => format!(
                    "recovered since {} (now {}): service and data are back",
                    score::clock(at.unwrap_or_default()),
                    score::clock(now)
                ),
                (true, false, true) => format!(
                    "no incident has begun: the SLO holds and no check fails (now {})",
                    score::clock(now)
                ),
                (true, false, false) => {
                    format!("not recovered by {}: see `status`", score::clock(now))
                }
            };
            let _ = w.pending.reply.send(Reply::ok(text));
        }
        if now >= self.end_at_ms {
            self.observe(
                Level::Alert,
                format!("time is up ({}): the drill ends", score::clock(now)),
            );
            self.ended = Some(EndReason::TimeUp);
        }
    }

    /// Schedules the timeline events whose condition now holds, `at` after
    /// this moment.
    fn check_triggers(&mut self, now: u64) {
        if self.triggers.is_empty() {
            return;
        }
        let scenario = self.scenario.clone();
        let flags = self.flags.values();
        let (due, waiting): (Vec<usize>, Vec<usize>) = std::mem::take(&mut self.triggers)
            .into_iter()
            .partition(|i| {
                scenario.timeline[*i].when.as_ref().is_some_and(|w| {
                    flags
                        .get(&w.flag)
                        .is_some_and(|v| v.percent() >= w.at_least.percent())
                })
            });
        self.triggers = waiting;
        for index in due {
            let at = now + scenario.timeline[index].at.as_millis();
            let pending = &self.timeline[self.next_event..];
            let pos = self.next_event + pending.partition_point(|(t, _)| *t <= at);
            self.timeline.insert(pos, (at, index));
        }
    }

    /// The incident's timing from the events so far: the same function
    /// scoring applies to the whole transcript.
    fn timing(&self) -> score::recovery::Timing {
        score::recovery::Timing::of(&self.scenario.slo, &self.transcript)
    }

    /// Announces the recovery when service and data are both back, the way
    /// the score will judge it; takes it back if a check fails again.
    fn follow_recovery(&mut self) {
        let now = self.clock.now_ms();
        let timing = self.timing();
        self.recovery = timing.service;
        let recovered = timing.recovered_at(now);
        if recovered == self.announced_recovery {
            return;
        }
        self.announced_recovery = recovered;
        if !recovered {
            // Whatever broke says so in its own alert.
            return;
        }
        let mut what = Vec::new();
        if let (Some(_), Some(at)) = (
            timing.service.incident_start_ms,
            timing.service.recovered_ms,
        ) {
            what.push(format!(
                "the SLO has held for {} since {}",
                self.scenario.slo.stable_for,
                score::clock(at)
            ));
        }
        if let Some(at) = timing.data_restored_ms {
            what.push(format!(
                "every integrity check passes since {}",
                score::clock(at)
            ));
        }
        self.observe(
            Level::Recovered,
            format!(
                "{} (RTO {}, target {})",
                what.join(" and "),
                score::clock(timing.rto_ms().unwrap_or_default()),
                self.scenario.rubric.rto
            ),
        );
    }

    fn close_window(&mut self, now: u64) {
        let window: Window = self.builder.finish(self.window_started.1, now);
        self.window_started = (Instant::now(), now);
        let healthy = score::recovery::healthy(&self.scenario.slo, &window);
        let summary = describe(&window);
        self.push(EventKind::Window(window));
        let before = self.recovery;
        self.recovery = score::recovery::analyze(&self.scenario.slo, self.transcript.windows());
        if before.incident_start_ms.is_none() && self.recovery.incident_start_ms.is_some() {
            self.observe(Level::Alert, format!("SLO broken: {summary}"));
        } else if self.recovery.incident_start_ms.is_some()
            && self.recovery.confirmed_ms.is_none()
            && self.last_healthy.is_some_and(|h| h != healthy)
        {
            let level = if healthy { Level::Info } else { Level::Alert };
            let what = if healthy {
                "within the SLO again"
            } else {
                "SLO broken again"
            };
            self.observe(level, format!("{what}: {summary}"));
        }
        self.last_healthy = Some(healthy);
        self.follow_recovery();
    }

    fn fire(&mut self, index: usize) {
        let event = self.scenario.timeline[index].clone();
        let hidden = event.hidden;
        if let Some(say) = &event.say {
            self.announce_as(hidden, say.clone());
        }
        // The author's `say` tells the story; pgdrill's own line for the
        // same event would say it twice.
        let told = event.say.is_some();
        if let Some(release) = event.release {
            let message = if release.migrations.is_empty() {
                format!("release {}: rolling deploy starts", release.version)
            } else {
                format!(
                    "release {}: the migration job applies {}",
                    release.version,
                    release.migrations.join(", ")
                )
            };
            if !told {
                self.announce_as(hidden, message);
            }
            let timeout = release
                .job_timeout
                .map(|t| t.0.div_f64(self.options.time_scale));
            let job = apply::migrate_ids(
                self.scenario.clone(),
                self.db().app_url.clone(),
                release.migrations.clone(),
                MIGRATION_JOB.to_string(),
                timeout,
            );
            self.tasks
                .spawn(async move { Finished::Release(release, job.await) });
        }
        if !event.migrate.is_empty() {
            if !told {
                self.announce_as(
                    hidden,
                    format!("the migration job applies {}", event.migrate.join(", ")),
                );
            }
            let job = apply::migrate_ids(
                self.scenario.clone(),
                self.db().app_url.clone(),
                event.migrate.clone(),
                MIGRATION_JOB.to_string(),
                None,
            );
            self.tasks
                .spawn(async move { Finished::Job(None, job.await) });
        }
        if let Some(change) = event.flag {
            self.flags.set(&change.name, change.value);
            if !told {
                self.announce_as(
                    hidden,
                    format!("flag {} set to {}", change.name, change.value),
                );
            }
        }
        if let Some(name) = event.snapshot {
            if !told {
                self.announce_as(hidden, format!("the pipeline takes snapshot {name}"));
            }
            let (info, url) = (self.db().info.clone(), self.db().superuser_url.clone());
            let t = self.clock.now_ms();
            self.tasks.spawn(async move {
                let result = crate::instance::snapshot::create(&info, &url, &name)
                    .await
                    .map_err(|e| e.to_string());
                Finished::Snapshot(t, result)
            });
        }
        if let Some(sql) = event.sql {
            let url = self.db().superuser_url.clone();
            let sql = scale_durations(&sql, self.options.time_scale);
            let job = event.job.unwrap_or_else(|| "timeline-job".into());
            if !told {
                self.announce_as(
                    hidden,
                    format!("background job {job} started: {}", one_line(&sql)),
                );
            }
            self.background.spawn(async move {
                if let Ok(mut conn) = crate::instance::connect_as(&url, &job, None).await {
                    let _ =
                        sqlx::Executor::execute(&mut conn, sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
                            .await;
                }
            });
        }
    }

    /// Starts a rollout to `version`, remembering what ran before.
    fn start_rollout(&mut self, version: &str, step_ms: u64, limit: Option<u32>) {
        if let Some(fleet) = &self.fleet {
            let counts = fleet.counts();
            let current = counts
                .iter()
                .filter(|(v, _)| v.as_str() != version)
                .max_by_key(|(_, n)| **n);
            if let Some((v, n)) = current
                && *n > 0
            {
                self.previous_version = Some(v.clone());
            }
        }
        self.rollout = Some(Rollout::new(version, self.clock.now_ms(), step_ms, limit));
        self.rollout_phase = Some(Phase::Rolling);
    }

    fn step_rollout(&mut self, now: u64) {
        let (Some(rollout), Some(fleet)) = (&mut self.rollout, &self.fleet) else {
            return;
        };
        let mut pods = fleet.pod_versions();
        let mut notes = Vec::new();
        let mut startup = None;
        if let Some(pod) = rollout.due(now, &pods) {
            fleet.set_pod_version(pod, &rollout.target);
            startup = Some(rollout.target.clone());
            pods[pod] = rollout.target.clone();
            let on = pods.iter().filter(|p| **p == rollout.target).count();
            notes.push((
                Level::Info,
                format!(
                    "pod-{} now runs {} ({on} of {} pods)",
                    pod + 1,
                    rollout.target,
                    pods.len()
                ),
            ));
        }
        let phase = rollout.phase(&pods);
        if Some(phase) != self.rollout_phase {
            match phase {
                Phase::Done => notes.push((Level::Info, format!("rollout to {} complete", rollout.target))),
                Phase::Stalled => notes.push((
                    Level::Alert,
                    format!("rollout to {} stopped by the pipeline after {} pods: old and new versions now serve side by side", rollout.target, rollout.moved),
                )),
                Phase::Paused | Phase::Rolling => {}
            }
            self.rollout_phase = Some(phase);
        }
        for (level, message) in notes {
            self.observe(level, message);
        }
        if let Some(version) = startup {
            self.migrate_on_start(&version);
        }
    }

    /// A pod of `version` booted: a framework that migrates at startup
    /// applies the version's pending migrations (once at a time).
    fn migrate_on_start(&mut self, version: &str) {
        let Some(v) = self.scenario.app.version(version) else {
            return;
        };
        let pending: Vec<String> = v
            .migrate_on_start
            .iter()
            .filter(|id| !self.applied.contains(id))
            .cloned()
            .collect();
        if pending.is_empty() || self.starting.iter().any(|s| s == version) {
            return;
        }
        self.starting.push(version.to_string());
        self.announce(format!(
            "a {version} pod booted and applies {} at startup",
            pending.join(", ")
        ));
        let job = apply::migrate_ids(
            self.scenario.clone(),
            self.db().app_url.clone(),
            pending,
            format!("{version}-startup"),
            None,
        );
        let version = version.to_string();
        self.tasks
            .spawn(async move { Finished::Job(Some(version), job.await) });
    }

    fn on_finished(&mut self, done: Finished) {
        match done {
            Finished::Release(release, Ok(applied)) => {
                self.applied = applied;
                self.announce(format!(
                    "release {}: migrations done; pods roll to {} one every {}",
                    release.version, release.version, release.step
                ));
                self.start_rollout(
                    &release.version,
                    release.step.as_millis(),
                    release.stop_after_pods,
                );
            }
            Finished::Release(release, Err(e)) => {
                self.announce(format!(
                    "release {} failed in its migration job: {e}",
                    release.version
                ));
                if release.continue_on_error {
                    self.announce(format!(
                            "the pipeline ignores the failed migration job: pods roll to {} one every {}",
                            release.version, release.step
                        ));
                    self.start_rollout(
                        &release.version,
                        release.step.as_millis(),
                        release.stop_after_pods,
                    );
                }
            }
            Finished::Job(version, result) => {
                let what = match &version {
                    Some(v) => {
                        self.starting.retain(|s| s != v);
                        format!("{v} startup migrations")
                    }
                    None => "the migration job".to_string(),
                };
                let message = match result {
                    Ok(applied) => {
                        self.applied = applied;
                        format!("{what}: done")
                    }
                    Err(e) => format!("{what} failed: {e}"),
                };
                self.announce(message);
            }
            Finished::Snapshot(t_ms, Ok(snapshot)) => {
                self.announce(format!(
                    "snapshot {} taken of {} ({} KiB)",
                    snapshot.name,
                    self.db().name,
                    snapshot.bytes / 1024
                ));
                self.snapshots.push(Snap {
                    t_ms,
                    db: self.serving,
                    snapshot,
                    by_timeline: true,
                });
            }
            Finished::Snapshot(_, Err(e)) => {
                self.announce(format!("the pipeline's snapshot failed: {e}"));
            }
            Finished::Probe(db, probed) => {
                self.probing = false;
                self.on_probe(db, probed);
            }
            Finished::Move(pending, done) => {
                self.in_flight = self.in_flight.saturating_sub(1);
                self.running.retain(|tx| !tx.is_closed());
                self.complete(pending, done)
            }
        }
    }
}

/// A window in a line: error rate, top error, p99.
fn describe(w: &Window) -> String {
    if w.requests == 0 {
        return "no request completed in the last window: every request is waiting".to_string();
    }
    let top = w
        .top_error_described()
        .map(|t| format!(", top error {t}"))
        .unwrap_or_default();
    format!(
        "error rate {:.1}% of {} requests{top}, p99 {:.0}ms",
        w.error_rate() * 100.0,
        w.requests,
        w.p99_ms
    )
}

/// Replaces `{{90s}}` by the real seconds 90 scenario seconds take.
fn scale_durations(sql: &str, scale: f64) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let inner = &rest[open + 2..open + close];
        match crate::scenario::Dur::parse(inner.trim()) {
            Ok(d) => out.push_str(&format!("{:.3}", d.0.as_secs_f64() / scale)),
            Err(_) => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

fn one_line(sql: &str) -> String {
    let flat = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 80 {
        format!("{}...", flat.chars().take(77).collect::<String>())
    } else {
        flat
    }
}

//! The fleet: simulated app pods running their version's endpoint mix
//! against a real database.
//!
//! Each pod is a tokio task (on a runtime of one thread shared by every
//! fleet: [`pods_runtime`]) with its own connections ([`Conns`]: its sessions carry the
//! API timeout as `statement_timeout` and the pod's name as
//! `application_name`, so `pg_stat_activity` shows them). A pod fires
//! requests at its rate whether or not earlier ones finished, as real
//! traffic does: when the database stalls, requests pile up, wait for a
//! connection and time out. Every finished request becomes a [`Sample`] on a
//! channel; the engine folds them into windows. Which version a pod runs is
//! an atomic the engine flips during a rollout; flags are evaluated per
//! request.

mod conns;
pub mod flags;
mod front;
pub mod http;
pub mod metrics;
pub mod params;
pub mod rollout;
mod runtime;

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Row};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::scenario::{AppVersion, Endpoint, Scenario};

pub use conns::Conns;
pub use flags::Flags;
pub use front::{Answer, Front};
pub use metrics::{Outcome, Sample, WindowBuilder};
pub use rollout::{Phase, Rollout};
use runtime::pods_runtime;

/// Requests a pod lets wait at once before it sheds load (HTTP 503).
const MAX_IN_FLIGHT: usize = 64;

/// How late a pod's tick may be and still send every request that came due
/// meanwhile. Tokio's timer rounds to whole milliseconds, so a pod at 650/s
/// (a request every 1.54 ms) ticks every 2 ms: with a catch-up of one
/// millisecond it sent 500/s. Below 200/s a pod sends one request a tick,
/// as before.
const CATCH_UP: Duration = Duration::from_millis(5);

/// Why the fleet could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database URL was not usable.
    #[error("the fleet could not use the database URL: {0}")]
    Url(String),
}

struct Version {
    name: Arc<str>,
    /// Each endpoint with its name shared by the samples it produces.
    endpoints: Vec<(Arc<str>, Arc<Endpoint>)>,
}

/// What a fleet runs: its versions, how many pods, at what rate.
struct Shape {
    versions: Vec<Version>,
    start: usize,
    pods: usize,
    active: usize,
    rps: u32,
    options: FleetOptions,
}

/// Which pods send: none of a paused fleet's, and only the first `active`
/// (a worker pool scaled down leaves the rest idle).
#[derive(Debug)]
struct Gate {
    paused: std::sync::atomic::AtomicBool,
    active: AtomicUsize,
}

impl Gate {
    fn new(active: usize) -> Gate {
        Gate {
            paused: false.into(),
            active: active.into(),
        }
    }

    fn open(&self, pod: usize) -> bool {
        !self.paused.load(Ordering::Relaxed) && pod < self.active.load(Ordering::Relaxed)
    }
}

/// The running pods.
pub struct Fleet {
    versions: Arc<Vec<Version>>,
    gate: Arc<Gate>,
    pods: Vec<Arc<AtomicUsize>>,
    pools: Vec<Arc<RwLock<(usize, Conns)>>>,
    /// Requests in flight, per database: a replay waits until the old
    /// instance's have finished and been recorded.
    in_flight: InFlight,
    options: FleetOptions,
    flags: Flags,
    /// Where samples go (the front's requests count too).
    samples: mpsc::UnboundedSender<Sample>,
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Fleet {
    /// Starts the fleet the scenario declares, against `url`, with
    /// randomness from `seed`. Samples go to `samples`. Each pod has one
    /// session open before its first request.
    pub async fn start(
        scenario: &Scenario,
        url: &str,
        seed: u64,
        flags: Flags,
        samples: mpsc::UnboundedSender<Sample>,
    ) -> Result<Fleet, Error> {
        let versions: Vec<Version> = scenario.app.versions.iter().map(version).collect();
        let start = versions
            .iter()
            .position(|v| *v.name == scenario.fleet.version)
            .unwrap_or(0);
        let fleet = &scenario.fleet;
        let shape = Shape {
            versions,
            start,
            pods: fleet.pods as usize,
            active: fleet.pods as usize,
            rps: fleet.rps_per_pod,
            options: FleetOptions {
                pool_size: fleet.pool_size,
                timeout: fleet.statement_timeout.0,
                label: "pod",
            },
        };
        Fleet::launch(shape, scenario, url, seed, flags, samples).await
    }

    /// Starts a scenario's workers (`[[workers]]`) as a fleet of their
    /// own: `max_concurrency` of them, `concurrency` running, each with
    /// one session (`application_name` `pgdrill-worker-N`). Their samples
    /// carry the worker's name as their version.
    pub async fn start_workers(
        worker: &crate::scenario::Worker,
        scenario: &Scenario,
        url: &str,
        seed: u64,
        flags: Flags,
        samples: mpsc::UnboundedSender<Sample>,
    ) -> Result<Fleet, Error> {
        let shape = Shape {
            versions: vec![Version {
                name: worker.name.as_str().into(),
                endpoints: worker
                    .jobs
                    .iter()
                    .map(|e| (e.name.as_str().into(), Arc::new(e.clone())))
                    .collect(),
            }],
            start: 0,
            pods: worker.max_concurrency() as usize,
            active: worker.concurrency as usize,
            rps: worker.jobs_per_second,
            options: FleetOptions {
                pool_size: 1,
                timeout: worker
                    .statement_timeout
                    .map_or(scenario.fleet.statement_timeout.0, |t| t.0),
                label: "worker",
            },
        };
        Fleet::launch(shape, scenario, url, seed, flags, samples).await
    }

    async fn launch(
        shape: Shape,
        scenario: &Scenario,
        url: &str,
        seed: u64,
        flags: Flags,
        samples: mpsc::UnboundedSender<Sample>,
    ) -> Result<Fleet, Error> {
        let Shape {
            versions,
            start,
            pods,
            active,
            rps,
            options,
        } = shape;
        let versions = Arc::new(versions);
        let gate = Arc::new(Gate::new(active));
        let (stop, _) = watch::channel(false);
        let mut me = Fleet {
            versions,
            gate: gate.clone(),
            pods: Vec::new(),
            pools: Vec::new(),
            in_flight: InFlight::default(),
            options,
            flags,
            samples: samples.clone(),
            stop,
            tasks: JoinSet::new(),
        };
        let pools: Vec<Conns> = (0..pods)
            .map(|pod| options.pool(url, pod))
            .collect::<Result<_, _>>()?;
        let runtime = pods_runtime();
        // Pods not running yet (a worker pool's spare capacity) connect
        // when they start.
        let warming: Vec<Conns> = pools.iter().take(active).cloned().collect();
        let _ = runtime.spawn(async move { warm(&warming).await }).await;
        for (pod, pool) in pools.into_iter().enumerate() {
            let pool = Arc::new(RwLock::new((0, pool)));
            let current = Arc::new(AtomicUsize::new(start));
            let worker = Pod {
                index: pod,
                pool: pool.clone(),
                in_flight: me.in_flight.clone(),
                version: current.clone(),
                versions: me.versions.clone(),
                flags: me.flags.clone(),
                rng: ChaCha8Rng::seed_from_u64(
                    seed.wrapping_add(pod as u64)
                        .wrapping_mul(0x9E37_79B9_7F4A_7C15),
                ),
                params: params::Generator::new(pod, scenario.fixture.rows.clone()),
                samples: samples.clone(),
                interval: Duration::from_secs_f64(1.0 / f64::from(rps.max(1))),
                gate: gate.clone(),
            };
            me.tasks.spawn_on(worker.run(me.stop.subscribe()), &runtime);
            me.pods.push(current);
            me.pools.push(pool);
        }
        Ok(me)
    }

    /// The version each pod runs.
    pub fn pod_versions(&self) -> Vec<String> {
        self.pods
            .iter()
            .map(|p| self.versions[p.load(Ordering::Relaxed)].name.to_string())
            .collect()
    }

    /// Pods per version (every version listed, even with no pods).
    pub fn counts(&self) -> BTreeMap<String, u32> {
        let mut counts: BTreeMap<String, u32> = self
            .versions
            .iter()
            .map(|v| (v.name.to_string(), 0))
            .collect();
        for v in self.pod_versions() {
            *counts.entry(v).or_default() += 1;
        }
        counts
    }

    /// Moves a pod to a version; false when there is no such version.
    pub fn set_pod_version(&self, pod: usize, version: &str) -> bool {
        match (
            self.pods.get(pod),
            self.versions.iter().position(|v| &*v.name == version),
        ) {
            (Some(p), Some(v)) => {
                p.store(v, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Points these pods (0-based) at another database: a cutover, or
    /// part of a gradual one. Their requests in flight finish where they
    /// are; new ones go to `url`. `db` tags the samples of requests sent
    /// there. Pods out of range are ignored.
    pub fn repoint_pods(&self, url: &str, db: usize, pods: &[usize]) -> Result<(), Error> {
        let fresh: Vec<(usize, Conns)> = pods
            .iter()
            .filter(|p| **p < self.pools.len())
            .map(|&pod| Ok((pod, self.options.pool(url, pod)?)))
            .collect::<Result<_, Error>>()?;
        for (pod, pool) in fresh {
            let old = std::mem::replace(
                &mut *self.pools[pod].write().unwrap_or_else(|e| e.into_inner()),
                (db, pool),
            );
            tokio::spawn(async move { old.1.close().await });
        }
        Ok(())
    }

    /// The database each pod's requests go to (by its index in the drill).
    pub fn pod_dbs(&self) -> Vec<usize> {
        self.pools
            .iter()
            .map(|p| p.read().unwrap_or_else(|e| e.into_inner()).0)
            .collect()
    }

    /// Requests in flight on database `db`.
    pub fn in_flight(&self, db: usize) -> usize {
        self.in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&db)
            .copied()
            .unwrap_or(0)
    }

    /// The flags the pods evaluate.
    pub fn flags(&self) -> &Flags {
        &self.flags
    }

    /// Stops (`true`) or restarts sending; requests in flight finish.
    /// Whether it changed anything.
    pub fn set_paused(&self, paused: bool) -> bool {
        self.gate.paused.swap(paused, Ordering::Relaxed) != paused
    }

    /// Whether sending is stopped.
    pub fn paused(&self) -> bool {
        self.gate.paused.load(Ordering::Relaxed)
    }

    /// Lets the first `n` pods send (at most every pod).
    pub fn scale(&self, n: usize) {
        self.gate
            .active
            .store(n.min(self.pods.len()), Ordering::Relaxed);
    }

    /// How many pods may send.
    pub fn active(&self) -> usize {
        self.gate.active.load(Ordering::Relaxed)
    }

    /// How many pods there are.
    pub fn size(&self) -> usize {
        self.pods.len()
    }

    /// Stops every pod, waits for their requests, and closes the pools.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        while self.tasks.join_next().await.is_some() {}
        for slot in &self.pools {
            let pool = slot.read().unwrap_or_else(|e| e.into_inner()).1.clone();
            pool.close().await;
        }
    }
}

/// Opens one session per pod before traffic starts, as a pod's readiness
/// probe would, so the first metrics window measures the service and not
/// backends starting. A pod that cannot connect is left to fail its
/// requests, which report why.
async fn warm(pools: &[Conns]) {
    let mut opening = JoinSet::new();
    for pool in pools {
        let pool = pool.clone();
        opening.spawn(async move { pool.warm().await });
    }
    while opening.join_next().await.is_some() {}
}

/// How pods connect.
#[derive(Debug, Clone, Copy)]
struct FleetOptions {
    pool_size: u32,
    timeout: Duration,
    /// What its sessions are called: `pgdrill-pod-3`, `pgdrill-worker-1`.
    label: &'static str,
}

impl FleetOptions {
    /// One pod's connections, none open yet: its sessions carry the API
    /// timeout and the pod's name.
    fn pool(&self, url: &str, pod: usize) -> Result<Conns, Error> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| Error::Url(e.to_string()))?
            .application_name(&format!("pgdrill-{}-{}", self.label, pod + 1))
            .options([(
                "statement_timeout",
                format!("{}ms", self.timeout.as_millis()),
            )])
            .log_statements(log::LevelFilter::Off);
        Ok(Conns::new(options, self.pool_size, self.timeout))
    }
}

fn version(v: &AppVersion) -> Version {
    Version {
        name: v.name.as_str().into(),
        endpoints: v
            .endpoints
            .iter()
            .map(|e| (e.name.as_str().into(), Arc::new(e.clone())))
            .collect(),
    }
}

/// Requests in flight per database (by its index in the drill).
type InFlight = Arc<std::sync::Mutex<std::collections::BTreeMap<usize, usize>>>;

struct Pod {
    index: usize,
    pool: Arc<RwLock<(usize, Conns)>>,
    in_flight: InFlight,
    version: Arc<AtomicUsize>,
    versions: Arc<Vec<Version>>,
    flags: Flags,
    rng: ChaCha8Rng,
    params: params::Generator,
    samples: mpsc::UnboundedSender<Sample>,
    interval: Duration,
    gate: Arc<Gate>,
}

/// A request ready to send.
struct Request {
    version: Arc<str>,
    endpoint: Arc<str>,
    spec: Arc<Endpoint>,
    params: Vec<params::Value>,
}

impl Pod {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        // Tokio's timer ticks at most once a millisecond, so each tick sends
        // every request that has come due since the pod started (a pod at
        // 20/s sends one every 50 ms; at 5,000/s, five a tick).
        let started = tokio::time::Instant::now();
        let mut tick =
            tokio::time::interval_at(started, self.interval.max(Duration::from_millis(1)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let in_flight = Arc::new(Semaphore::new(MAX_IN_FLIGHT));
        let mut requests = JoinSet::new();
        let mut sent: u64 = 0;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => break,
            }
            while requests.try_join_next().is_some() {}
            // Rounded: a tick a hair early still sends its request.
            let due =
                (started.elapsed().as_secs_f64() / self.interval.as_secs_f64() + 0.5) as u64 + 1;
            // A tick late by up to CATCH_UP sends everything due (the
            // timer rounds to whole milliseconds); after a longer stall
            // what was missed is dropped: a burst of it is not what
            // clients do.
            let burst = due.saturating_sub(sent).min(per_tick(self.interval));
            sent = due.max(sent);
            // A paused or idle pod lets its requests pass unsent.
            if !self.gate.open(self.index) {
                continue;
            }
            for _ in 0..burst {
                self.send_one(&in_flight, &mut requests);
            }
        }
        // Requests in flight end by their statement timeout at the latest.
        while requests.join_next().await.is_some() {}
    }

    /// Sends one request, or sheds it when too many already wait.
    fn send_one(&mut self, in_flight: &Arc<Semaphore>, requests: &mut JoinSet<()>) {
        let Some(request) = self.next_request() else {
            return;
        };
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            let _ = self.samples.send(Sample {
                pod: self.index,
                db: self.pool.read().map(|p| p.0).unwrap_or_default(),
                version: request.version,
                endpoint: request.endpoint,
                latency: Duration::ZERO,
                outcome: Outcome::Failed("overload".into()),
            });
            return;
        };
        let (db, pool) = self.pool.read().unwrap_or_else(|e| e.into_inner()).clone();
        let samples = self.samples.clone();
        let pod = self.index;
        let counted = self.in_flight.clone();
        *counted
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(db)
            .or_default() += 1;
        requests.spawn(async move {
            let started = Instant::now();
            let outcome = send(&pool, &request).await;
            let _ = samples.send(Sample {
                pod,
                db,
                version: request.version,
                endpoint: request.endpoint,
                latency: started.elapsed(),
                outcome,
            });
            // After its sample is on its way: a count of zero means
            // every request's outcome has been sent.
            if let Some(n) = counted
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get_mut(&db)
            {
                *n = n.saturating_sub(1);
            }
            drop(permit);
        });
    }

    /// Picks an endpoint of the pod's version, by weight, among those the
    /// request's flags allow, and draws its parameters.
    fn next_request(&mut self) -> Option<Request> {
        let version = &self.versions[self.version.load(Ordering::Relaxed)];
        let rng = &mut self.rng;
        let mut drawn = Vec::new();
        let mut eligible = Vec::with_capacity(version.endpoints.len());
        for e in &version.endpoints {
            let allowed =
                e.1.flag
                    .as_deref()
                    .is_none_or(|f| flag_on(&mut drawn, &self.flags, f, rng))
                    && e.1
                        .unless_flag
                        .as_deref()
                        .is_none_or(|f| !flag_on(&mut drawn, &self.flags, f, rng));
            if allowed {
                eligible.push(e);
            }
        }
        let total: u32 = eligible.iter().map(|e| e.1.weight).sum();
        if total == 0 {
            return None;
        }
        let mut pick = rng.random_range(0..total);
        let (name, spec) = eligible.into_iter().find(|e| {
            if pick < e.1.weight {
                true
            } else {
                pick -= e.1.weight;
                false
            }
        })?;
        let params = spec
            .params
            .iter()
            .map(|p| self.params.value(p, rng))
            .collect();
        Some(Request {
            version: version.name.clone(),
            endpoint: name.clone(),
            spec: spec.clone(),
            params,
        })
    }
}

/// How many requests one tick may send, at a request every `interval`:
/// those due within CATCH_UP.
fn per_tick(interval: Duration) -> u64 {
    (CATCH_UP.as_secs_f64() / interval.as_secs_f64()).ceil() as u64
}

/// Whether a flag is on for this request: drawn once per request, so two
/// endpoints gated by the same flag agree within one request.
fn flag_on<'a>(
    drawn: &mut Vec<(&'a str, bool)>,
    flags: &Flags,
    name: &'a str,
    rng: &mut ChaCha8Rng,
) -> bool {
    if let Some((_, on)) = drawn.iter().find(|(n, _)| *n == name) {
        return *on;
    }
    let on = flags.on_for(name, rng);
    drawn.push((name, on));
    on
}

async fn send(pool: &Conns, r: &Request) -> Outcome {
    let statement = || {
        let mut query = sqlx::query(AssertSqlSafe(r.spec.sql.as_str()));
        for p in &r.params {
            query = match p {
                params::Value::Int(i) => query.bind(*i),
                params::Value::Text(t) => query.bind(t.clone()),
            };
        }
        query
    };
    match pool.fetch_optional(statement).await {
        Ok(row) => {
            let row = row.filter(|_| r.spec.write);
            Outcome::Ok {
                written: row.as_ref().and_then(returned_key),
                value: row.as_ref().and_then(returned_value),
                write: r.spec.write,
            }
        }
        Err(e) => Outcome::Failed(error_code(&e)),
    }
}

/// A write's returned key: its first column, a bigint or an integer.
pub(crate) fn returned_key(row: &sqlx::postgres::PgRow) -> Option<i64> {
    row.try_get::<i64, _>(0)
        .or_else(|_| row.try_get::<i32, _>(0).map(i64::from))
        .ok()
}

/// An UPDATE's returned value, its second column, as PostgreSQL prints
/// it (`::text`), when it is text, a number or a boolean and not NULL.
pub(crate) fn returned_value(row: &sqlx::postgres::PgRow) -> Option<String> {
    if row.len() < 2 {
        return None;
    }
    row.try_get::<String, _>(1)
        .ok()
        .or_else(|| row.try_get::<i64, _>(1).ok().map(|v| v.to_string()))
        .or_else(|| row.try_get::<i32, _>(1).ok().map(|v| v.to_string()))
        .or_else(|| row.try_get::<bool, _>(1).ok().map(|v| v.to_string()))
}

/// A failed request's code: its SQLSTATE, or what went wrong before the
/// database could answer.
pub fn error_code(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db
            .code()
            .map_or_else(|| "db".to_string(), |c| c.into_owned()),
        sqlx::Error::PoolTimedOut => "pool_timeout".to_string(),
        _ => "connection".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_tick_sends_what_came_due_within_the_catch_up() {
        // A drill's pod at 20/s: one a tick, a stall's backlog dropped.
        assert_eq!(per_tick(Duration::from_millis(50)), 1);
        assert_eq!(per_tick(Duration::from_millis(5)), 1);
        // 650/s ticks every 2 ms on a millisecond timer: it must be able to
        // send two a tick to keep its rate.
        assert!(per_tick(Duration::from_secs_f64(1.0 / 650.0)) >= 2);
        assert_eq!(per_tick(Duration::from_micros(10)), 500);
    }
}

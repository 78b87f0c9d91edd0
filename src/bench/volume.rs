//! `pgdrill bench volume`: a drill ready at production-like volume (by
//! default 1,000,000 users), from nothing to the app's first request
//! served, for
//! - **warm**: the seeded database is cached (`instance::seeded`): copy,
//!   start, new passwords, pods connected, a first request answered;
//! - **cold**: an empty seeded cache, so the rows are generated and the
//!   result kept (the first drill at a volume pays this once);
//! - **peer**: what a person does by hand with the same binaries on the same
//!   storage: `initdb`, `pg_ctl start -w`, the fixture SQL, and the same
//!   `INSERT ... SELECT ... FROM generate_series` pgdrill generates.
//!
//! Warm and peer runs alternate, so both see the same machine load.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::{AssertSqlSafe, Executor};

use super::provision::{PeerCluster, ms, with_cache};
use super::{Error, Stats, TempDir};
use crate::instance::{self, LocalBackend};
use crate::scenario::Scenario;

/// Target for warm / peer, at [`TARGET_USERS`] users or more.
pub const WARM_RATIO_TARGET: f64 = 0.1;

/// The volume the target is set at: below it, fixed costs (start, connect,
/// the workload's first request) dominate both sides and the ratio says less.
pub const TARGET_USERS: u64 = 1_000_000;

/// The scenario whose fixture the benchmark seeds.
pub const SCENARIO: &str = "contract-too-early";

/// The result of `pgdrill bench volume`.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeReport {
    /// PostgreSQL version measured.
    pub version: String,
    /// The scenario seeded, and the rows per table.
    pub scenario: String,
    /// Rows generated per table.
    pub rows: BTreeMap<String, u64>,
    /// The size of the seeded data directory.
    pub seeded_bytes: u64,
    /// Empty seeded cache.
    pub cold: Stats,
    /// Seeded database cached.
    pub warm: Stats,
    /// initdb + start + fixture + INSERT ... SELECT.
    pub peer: Stats,
    /// warm median / peer median.
    pub warm_ratio: f64,
    /// cold median / peer median.
    pub cold_ratio: f64,
}

/// Runs the volume benchmark on `scenario` (its rows already set).
pub async fn volume(
    backend: &LocalBackend,
    scenario: &Scenario,
    runs: u32,
    cold_runs: u32,
    note: &(dyn Fn(String) + Send + Sync),
) -> Result<VolumeReport, Error> {
    let base = backend.dirs().clone();
    // Its own cache: the user's seeded databases are neither used nor evicted.
    let cache = TempDir::new(std::env::temp_dir(), "pgdrill-bench-seeded")?;
    let mut cold = Vec::new();
    for i in 1..=cold_runs {
        let empty = TempDir::new(std::env::temp_dir(), "pgdrill-bench-seeded-cold")?;
        let b = with_cache(backend, &base, empty.path())?;
        let took = time_to_traffic(&b, scenario).await?;
        note(format!("cold {i}/{cold_runs}: {:.0} ms", ms(took)));
        cold.push(took);
    }
    let warm_backend = with_cache(backend, &base, cache.path())?;
    // The build that fills the warm cache is not timed.
    time_to_traffic(&warm_backend, scenario).await?;
    let seeded_bytes = dir_bytes(&cache.path().join("seeded"));
    let (mut warm, mut peer) = (Vec::new(), Vec::new());
    for i in 1..=runs {
        let w = time_to_traffic(&warm_backend, scenario).await?;
        let p = time_peer(backend, scenario).await?;
        note(format!(
            "warm {i}/{runs}: {:.0} ms   peer {i}/{runs}: {:.0} ms",
            ms(w),
            ms(p)
        ));
        warm.push(w);
        peer.push(p);
    }
    let (cold, warm, peer) = (Stats::of(&cold), Stats::of(&warm), Stats::of(&peer));
    Ok(VolumeReport {
        version: backend.binaries().version.clone(),
        scenario: scenario.id.clone(),
        rows: scenario.fixture.rows.clone(),
        seeded_bytes,
        warm_ratio: warm.median_ms / peer.median_ms,
        cold_ratio: cold.median_ms / peer.median_ms,
        cold,
        warm,
        peer,
    })
}

/// A prepared instance (seeded cache, as `pgdrill run` does) and the
/// scenario's fleet started, until its first request is answered; the
/// teardown is not timed.
async fn time_to_traffic(backend: &LocalBackend, scenario: &Scenario) -> Result<Duration, Error> {
    let start = Instant::now();
    let instance = seeded(backend, scenario).await?;
    let (tx, mut samples) = tokio::sync::mpsc::unbounded_channel();
    let flags =
        crate::workload::Flags::new(scenario.flags.iter().map(|f| (f.name.clone(), f.default)));
    let fleet = crate::workload::Fleet::start(scenario, &instance.url(), 1, flags, tx)
        .await
        .map_err(|e| Error::Failed(e.to_string()))?;
    let first = tokio::time::timeout(Duration::from_secs(30), samples.recv()).await;
    let took = start.elapsed();
    fleet.shutdown().await;
    instance.shutdown().await;
    match first {
        Ok(Some(_)) => Ok(took),
        _ => Err(Error::Failed(
            "the fleet answered no request within 30 s".into(),
        )),
    }
}

/// An instance prepared as `pgdrill run` prepares it, through the seeded
/// cache of `backend`.
/// A seeded instance from a cache of its own (the user's seeded databases
/// are neither used nor evicted), with the backend on that cache; the
/// cache goes with the `TempDir`, kept as long as the instance.
pub(super) async fn seeded_aside(
    backend: &LocalBackend,
    scenario: &Scenario,
) -> Result<(TempDir, LocalBackend, instance::Instance), Error> {
    let cache = TempDir::new(std::env::temp_dir(), "pgdrill-bench-seeded")?;
    let backend = with_cache(backend, backend.dirs(), cache.path())?;
    let live = seeded(&backend, scenario).await?;
    Ok((cache, backend, live))
}

pub(super) async fn seeded(
    backend: &LocalBackend,
    scenario: &Scenario,
) -> Result<instance::Instance, Error> {
    let seeded = backend
        .provision_seeded(
            &crate::drill::seed_key(scenario),
            async |i: &instance::Instance| -> Result<(), String> {
                let mut conn = i.connect_app().await.map_err(|e| e.to_string())?;
                crate::drill::prepare(scenario, &mut conn, &|_| {})
                    .await
                    .map_err(|e| e.to_string())?;
                let mut conn = i.connect_superuser().await.map_err(|e| e.to_string())?;
                crate::drill::install_audit(&mut conn)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            },
            &instance::no_progress,
        )
        .await;
    match seeded {
        Ok(i) => Ok(i),
        Err(instance::seeded::Seeding::Instance(e)) => Err(e.into()),
        Err(instance::seeded::Seeding::Prepare(e)) => Err(Error::Failed(e)),
    }
}

/// By hand: `initdb`, `pg_ctl start -w`, the fixture, the same inserts.
async fn time_peer(backend: &LocalBackend, scenario: &Scenario) -> Result<Duration, Error> {
    let peer = PeerCluster::reserve(backend)?;
    let start = Instant::now();
    let mut conn = peer.start_and_connect(backend).await?;
    conn.execute(sqlx::raw_sql(AssertSqlSafe(
        scenario.fixture.sql_text.clone(),
    )))
    .await
    .map_err(|e| Error::Failed(format!("the peer's fixture: {e}")))?;
    crate::drill::generate_rows(scenario, &mut conn, &|_| {})
        .await
        .map_err(|e| Error::Failed(format!("the peer's INSERT ... SELECT: {e}")))?;
    let took = start.elapsed();
    drop(conn);
    drop(peer);
    Ok(took)
}

/// Bytes under a directory.
pub(super) fn dir_bytes(dir: &std::path::Path) -> u64 {
    let Ok(read) = std::fs::read_dir(dir) else {
        return 0;
    };
    read.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

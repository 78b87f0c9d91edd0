//! `pgdrill bench restore`: a snapshot and its restore to a new instance
//! at production-like volume (1,000,000 users by default), for
//! - **pgdrill**: a physical snapshot (an online base backup of the live
//!   data directory, its WAL archived) and `restore --to new` (a new server
//!   on a copy of it, recovered to the backup's end and promoted), until the
//!   restored database answers a query;
//! - **peer**: runbook 004's logical path, what pgdrill did before:
//!   `pg_dump -Fc` of the same database and `pg_restore` into a new
//!   database on the same server (the cheapest place to restore it).
//!
//! Both run on one seeded instance, alternating, so both see the same
//! machine load. Nothing else runs against it.

use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::Executor;

use super::provision::ms;
use super::volume::seeded_aside;
use super::{Error, Stats, TempDir};
use crate::instance::physical::{self, Recovery, Target};
use crate::instance::{self, Instance, LocalBackend, snapshot};
use crate::scenario::Scenario;

/// Target for pgdrill / peer at [`super::volume::TARGET_USERS`] users.
pub const RATIO_TARGET: f64 = 0.3;

/// The result of `pgdrill bench restore`.
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    /// PostgreSQL version measured.
    pub version: String,
    /// Rows per table of the seeded scenario.
    pub rows: std::collections::BTreeMap<String, u64>,
    /// Bytes of the physical snapshot (the data directory less its WAL).
    pub snapshot_bytes: u64,
    /// Bytes of the peer's dump file.
    pub dump_bytes: u64,
    /// The physical snapshot alone.
    pub snapshot: Stats,
    /// Snapshot + restore to a new instance, until it answers.
    pub pgdrill: Stats,
    /// `pg_dump -Fc` alone.
    pub dump: Stats,
    /// `pg_dump -Fc` + `pg_restore` into a new database.
    pub peer: Stats,
    /// pgdrill median / peer median.
    pub ratio: f64,
}

/// Runs the restore benchmark on `scenario` (its rows already set).
pub async fn restore(
    backend: &LocalBackend,
    scenario: &Scenario,
    runs: u32,
    note: &(dyn Fn(String) + Send + Sync),
) -> Result<RestoreReport, Error> {
    note("preparing the seeded instance (not timed)".into());
    let (_cache, backend, live) = seeded_aside(backend, scenario).await?;
    physical::start_archiving(live.info()).map_err(Error::Failed)?;
    let work = TempDir::new(std::env::temp_dir(), "pgdrill-bench-restore")?;
    let measured = measure(&backend, &live, work.path(), runs, note).await;
    live.shutdown().await;
    let m = measured?;
    let (snapshot, pgdrill) = (Stats::of(&m.snapshot), Stats::of(&m.pgdrill));
    let (dump, peer) = (Stats::of(&m.dump), Stats::of(&m.peer));
    Ok(RestoreReport {
        version: backend.binaries().version.clone(),
        rows: scenario.fixture.rows.clone(),
        snapshot_bytes: m.snapshot_bytes,
        dump_bytes: m.dump_bytes,
        ratio: pgdrill.median_ms / peer.median_ms,
        snapshot,
        pgdrill,
        dump,
        peer,
    })
}

#[derive(Default)]
struct Measured {
    snapshot: Vec<Duration>,
    pgdrill: Vec<Duration>,
    dump: Vec<Duration>,
    peer: Vec<Duration>,
    snapshot_bytes: u64,
    dump_bytes: u64,
}

async fn measure(
    backend: &LocalBackend,
    live: &Instance,
    work: &std::path::Path,
    runs: u32,
    note: &(dyn Fn(String) + Send + Sync),
) -> Result<Measured, Error> {
    let mut m = Measured::default();
    for i in 1..=runs {
        let (snap, both, bytes) = physical_round(backend, live, i).await?;
        let (dump, peer, dump_bytes) = logical_round(live, work, i).await?;
        note(format!(
            "run {i}/{runs}: pgdrill {:.0} ms (snapshot {:.0} ms)   peer {:.0} ms (pg_dump {:.0} ms)",
            ms(both),
            ms(snap),
            ms(peer),
            ms(dump)
        ));
        m.snapshot.push(snap);
        m.pgdrill.push(both);
        m.dump.push(dump);
        m.peer.push(peer);
        (m.snapshot_bytes, m.dump_bytes) = (bytes, dump_bytes);
    }
    Ok(m)
}

/// A physical snapshot and a restore of it to a new instance that answers.
async fn physical_round(
    backend: &LocalBackend,
    live: &Instance,
    i: u32,
) -> Result<(Duration, Duration, u64), Error> {
    let info = live.info();
    let start = Instant::now();
    let snap = snapshot::create(info, &live.superuser_url(), &format!("bench-{i}"), false)
        .await
        .map_err(|e| Error::Failed(e.to_string()))?;
    let taken = start.elapsed();
    let recovery = Recovery {
        backup: snap.file.clone(),
        archive: info.wal_archive.clone().unwrap_or_default(),
        target: Target::EndOfBackup,
        superuser_password: info.superuser.password.clone(),
        app_password: info.app.password.clone(),
    };
    let restored = backend
        .provision_recovered(&recovery, &instance::no_progress)
        .await?;
    let answered = answers(&restored.url()).await;
    let took = start.elapsed();
    restored.shutdown().await;
    let _ = std::fs::remove_dir_all(&snap.file);
    answered?;
    Ok((taken, took, snap.bytes))
}

/// `pg_dump -Fc` and `pg_restore` into a new database on the same server.
async fn logical_round(
    live: &Instance,
    work: &std::path::Path,
    i: u32,
) -> Result<(Duration, Duration, u64), Error> {
    let tools = live
        .info()
        .tools
        .clone()
        .ok_or_else(|| Error::Failed("no client tools for pg_dump".into()))?;
    let file = work.join(format!("peer-{i}.dump"));
    let database = format!("bench_peer_{i}");
    let mut admin = live.connect_superuser().await?;
    let start = Instant::now();
    tools
        .dump(&live.superuser_url(), &file)
        .await
        .map_err(Error::Failed)?;
    let dumped = start.elapsed();
    let create = format!("CREATE DATABASE {database}");
    admin
        .execute(sqlx::AssertSqlSafe(create))
        .await
        .map_err(|e| Error::Failed(e.to_string()))?;
    let url = with_database(&live.superuser_url(), &database);
    let restored = tools.restore(&url, &file, false).await;
    let answered = answers(&url).await;
    let took = start.elapsed();
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    let _ = std::fs::remove_file(&file);
    let drop = format!("DROP DATABASE {database}");
    let _ = admin.execute(sqlx::AssertSqlSafe(drop)).await;
    restored.map_err(Error::Failed)?;
    answered?;
    Ok((dumped, took, bytes))
}

/// The restored database answers a query on its largest table.
async fn answers(url: &str) -> Result<(), Error> {
    let mut conn = instance::connect(url).await?;
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM users WHERE id = 1")
        .fetch_one(&mut conn)
        .await
        .map(drop)
        .map_err(|e| Error::Failed(format!("the restored database: {e}")))
}

/// `url` with its database replaced.
fn with_database(url: &str, database: &str) -> String {
    match url.rfind('/') {
        Some(slash) => format!("{}/{database}", &url[..slash]),
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_of_a_url_is_replaced() {
        assert_eq!(
            super::with_database("postgres://u:p@127.0.0.1:5/pgdrill", "peer"),
            "postgres://u:p@127.0.0.1:5/peer"
        );
    }
}

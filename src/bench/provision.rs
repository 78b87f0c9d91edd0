//! `pgdrill bench provision`: time from nothing to a ready, connectable
//! instance, for
//! - **cold**: an empty template cache (so `initdb` runs), in a throwaway
//!   cache directory so the user's cache is untouched;
//! - **warm**: the template is cached (the everyday case);
//! - **peer**: what a user would do by hand with the same binaries, on the
//!   same storage: a plain `initdb` and `pg_ctl start -w`, then connect.
//!
//! Warm and peer runs alternate, so both see the same machine load. Results
//! are medians, and the headline is the ratio warm/peer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::Serialize;
use sqlx::Connection;

use super::{Stats, TempDir};

use super::Error;
use crate::instance::registry::{Entry, Registry};
use crate::instance::{self, Backend, Dirs, LocalBackend, RunAs, Storage, fsutil, process};

/// The result of `pgdrill bench provision`.
#[derive(Debug, Clone, Serialize)]
pub struct ProvisionReport {
    /// PostgreSQL version measured.
    pub version: String,
    /// Where data directories lived.
    pub runtime_dir: PathBuf,
    /// What that is stored on.
    pub storage: Storage,
    /// CPU cores of this machine.
    pub cores: usize,
    /// Empty cache.
    pub cold: Stats,
    /// Cached template.
    pub warm: Stats,
    /// Plain `initdb` + `pg_ctl start -w`.
    pub peer: Stats,
    /// warm median / peer median.
    pub warm_ratio: f64,
    /// cold median / peer median.
    pub cold_ratio: f64,
    /// Other backends measured side by side (`--backend docker|external`):
    /// name, times, median / peer median.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<(String, Stats, f64)>,
}

/// Target for `warm_ratio`.
pub const WARM_RATIO_TARGET: f64 = 0.3;
/// Target for the warm median, in milliseconds.
pub const WARM_MEDIAN_TARGET_MS: f64 = 500.0;

/// Runs the provisioning benchmark. `note` receives a line per run.
pub async fn provision(
    backend: &LocalBackend,
    others: &[instance::AnyBackend],
    runs: u32,
    cold_runs: u32,
    note: &(dyn Fn(String) + Send + Sync),
) -> Result<ProvisionReport, Error> {
    let base = backend.dirs().clone();
    let mut cold = Vec::new();
    let mut cache_dirs = Vec::new();
    for i in 1..=cold_runs {
        let cache = TempDir::new(std::env::temp_dir(), "pgdrill-bench-cache")?;
        let cold_backend = with_cache(backend, &base, cache.path())?;
        let took = time_to_connectable(&cold_backend).await?;
        note(format!("cold {i}/{cold_runs}: {:.0} ms", ms(took)));
        cold.push(took);
        cache_dirs.push(cache);
    }
    let warm_cache = cache_dirs
        .last()
        .expect("at least one cold run")
        .path()
        .to_path_buf();
    let warm_backend = with_cache(backend, &base, &warm_cache)?;

    let mut warm = Vec::new();
    let mut peer = Vec::new();
    let mut other: Vec<Vec<Duration>> = vec![Vec::new(); others.len()];
    for i in 1..=runs {
        let w = time_to_connectable(&warm_backend).await?;
        let p = time_peer(backend).await?;
        let mut line = format!(
            "warm {i}/{runs}: {:.0} ms   peer {i}/{runs}: {:.0} ms",
            ms(w),
            ms(p)
        );
        for (b, times) in others.iter().zip(&mut other) {
            let t = time_to_connectable(b).await?;
            line.push_str(&format!("   {} {i}/{runs}: {:.0} ms", b.name(), ms(t)));
            times.push(t);
        }
        note(line);
        warm.push(w);
        peer.push(p);
    }
    let (cold, warm, peer) = (Stats::of(&cold), Stats::of(&warm), Stats::of(&peer));
    let others = others
        .iter()
        .zip(&other)
        .map(|(b, times)| {
            let stats = Stats::of(times);
            let ratio = stats.median_ms / peer.median_ms;
            (b.name().to_string(), stats, ratio)
        })
        .collect();
    Ok(ProvisionReport {
        version: backend.binaries().version.clone(),
        runtime_dir: base.runtime.clone(),
        storage: base.storage,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        warm_ratio: warm.median_ms / peer.median_ms,
        cold_ratio: cold.median_ms / peer.median_ms,
        cold,
        warm,
        peer,
        others,
    })
}

pub(super) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub(super) fn with_cache(
    backend: &LocalBackend,
    base: &Dirs,
    cache: &Path,
) -> Result<LocalBackend, Error> {
    let dirs = Dirs {
        cache: cache.to_path_buf(),
        ..base.clone()
    };
    Ok(LocalBackend::new(
        backend.binaries().clone(),
        dirs,
        backend.run_as().clone(),
    )?)
}

/// Provision, connect, `SELECT 1`; the teardown is not timed.
async fn time_to_connectable(backend: &impl Backend) -> Result<Duration, Error> {
    let start = Instant::now();
    let instance = backend.provision(&instance::no_progress).await?;
    let mut conn = instance.connect_app().await?;
    select_one(&mut conn).await?;
    let took = start.elapsed();
    let _ = conn.close().await;
    instance.shutdown().await;
    Ok(took)
}

async fn select_one(conn: &mut sqlx::PgConnection) -> Result<(), Error> {
    sqlx::query("SELECT 1")
        .execute(conn)
        .await
        .map(|_| ())
        .map_err(|e| Error::Failed(format!("SELECT 1 failed: {e}")))
}

/// A plain `initdb` + `pg_ctl start -w` + connect, as a user would by hand.
async fn time_peer(backend: &LocalBackend) -> Result<Duration, Error> {
    let peer = PeerCluster::reserve(backend)?;
    let start = Instant::now();
    let mut conn = peer.start_and_connect(backend).await?;
    select_one(&mut conn).await?;
    let took = start.elapsed();
    let _ = conn.close().await;
    drop(peer);
    Ok(took)
}

/// The peer's cluster: registered like an instance (so a crash mid-run is
/// reaped by the next start) and stopped and removed on drop.
pub(super) struct PeerCluster {
    dir: PathBuf,
    data: PathBuf,
    registry: Registry,
    id: String,
    port: u16,
}

impl PeerCluster {
    /// A directory and a free port for the peer, registered so that a crash
    /// before it stops is reaped; nothing is started yet.
    pub(super) fn reserve(backend: &LocalBackend) -> Result<PeerCluster, Error> {
        let peer = PeerCluster::create(backend.dirs(), backend.run_as())?;
        peer.register(&backend.binaries().version)?;
        Ok(peer)
    }

    /// `initdb`, `pg_ctl start -w` and a connection, as a user would by hand.
    pub(super) async fn start_and_connect(
        &self,
        backend: &LocalBackend,
    ) -> Result<sqlx::PgConnection, Error> {
        self.init_and_start(backend.binaries(), backend.run_as())
            .await?;
        let url = format!("postgres://postgres@127.0.0.1:{}/postgres", self.port);
        Ok(instance::connect(&url).await?)
    }

    fn create(dirs: &Dirs, run_as: &RunAs) -> Result<PeerCluster, Error> {
        instance::prepare_runtime_dir(dirs, run_as)?;
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .map_err(|e| Error::Failed(format!("no free port: {e}")))?
            .port();
        let id = format!("peer-{}", instance::random_token(8).to_lowercase());
        let dir = dirs.runtime.join(&id);
        std::fs::create_dir(&dir).map_err(instance::Error::io("create", &dir))?;
        run_as.chown(&dir)?;
        Ok(PeerCluster {
            data: dir.join("data"),
            dir,
            registry: Registry::open(&dirs.state)?,
            id,
            port,
        })
    }

    /// `initdb` (trust) and `pg_ctl start -w` on the reserved port.
    async fn init_and_start(
        &self,
        bins: &instance::PgBinaries,
        run_as: &RunAs,
    ) -> Result<(), Error> {
        let port = self.port;
        let mut initdb = tokio::process::Command::new(bins.bin("initdb"));
        initdb
            .arg("-D")
            .arg(&self.data)
            .args(["-U", "postgres", "-A", "trust"]);
        process::run_tool(initdb, run_as, None).await?;
        let mut pg_ctl = tokio::process::Command::new(bins.bin("pg_ctl"));
        pg_ctl
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.dir.join("log"))
            .arg("-o")
            .arg(format!(
                "-p {port} -k {} -c listen_addresses=127.0.0.1",
                self.dir.display()
            ))
            .args(["-w", "start"]);
        process::run_tool(pg_ctl, run_as, None).await?;
        Ok(())
    }

    fn register(&self, version: &str) -> Result<(), Error> {
        let port = self.port;
        let me = std::process::id();
        Ok(self.registry.put(&Entry {
            id: self.id.clone(),
            owner_pid: me,
            owner_started: process::start_time(me),
            postmaster_pid: None,
            instance_dir: self.dir.clone(),
            data_dir: self.data.clone(),
            port,
            version: version.into(),
            created_unix: instance::now_unix(),
        })?)
    }
}

impl Drop for PeerCluster {
    fn drop(&mut self) {
        if let Some(pid) = process::read_pidfile_pid(&self.data) {
            process::stop_foreign(pid, &self.data);
        }
        let _ = fsutil::remove_tree(&self.dir);
        self.registry.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        let d = |ms: u64| Duration::from_millis(ms);
        assert_eq!(Stats::of(&[d(30), d(10), d(20)]).median_ms, 20.0);
        assert_eq!(Stats::of(&[d(40), d(10), d(20), d(30)]).median_ms, 25.0);
        let s = Stats::of(&[d(5), d(1)]);
        assert_eq!((s.min_ms, s.max_ms), (1.0, 5.0));
    }
}

//! Benchmarks pgdrill ships, each measured against a peer run side by side
//! on the same machine, reported as medians and ratios. No printing: the
//! CLI lays the reports out.
//!
//! - `provision`: a ready instance, against `initdb` + `pg_ctl start -w`.
//! - `grade`: re-scoring a class of synthetic transcripts, against
//!   `sha256sum` reading the same files.
//! - `volume`: a drill ready at a million users, against `initdb` + the
//!   fixture + the same `INSERT ... SELECT`.
//! - `memory`: a long drill at 1,000 requests/s with writes, its resident
//!   set sampled every minute, against the same process before it started.
//! - `fleet`: the pods at their maximum rate, against `pgbench -M
//!   prepared` with the same statements and connections.
//! - `restore`: a physical snapshot restored to a new instance at a
//!   million users, against `pg_dump -Fc` + `pg_restore`.
//! - `class`: a served class's memory and CPU, against the PostgreSQL
//!   servers it drives.

pub mod class;
pub mod fleet;
pub mod grade;
pub mod memory;
pub mod provision;
pub mod restore;
pub mod volume;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use crate::instance;

pub use provision::{ProvisionReport, WARM_MEDIAN_TARGET_MS, WARM_RATIO_TARGET, provision};

/// Why a benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Starting or stopping an instance failed.
    #[error(transparent)]
    Instance(#[from] instance::Error),
    /// A shipped scenario the benchmark uses does not load.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::LoadError),
    /// The benchmark cannot be run this way; the message says how.
    #[error("{0}")]
    Usage(String),
    /// A file could not be written.
    #[error("could not write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A measurement went wrong (a peer failed, a grade came out wrong).
    #[error("{0}")]
    Failed(String),
}

/// Summary of one series of timings.
#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    /// Every sample, in milliseconds, in run order.
    pub samples_ms: Vec<f64>,
    /// Median.
    pub median_ms: f64,
    /// Fastest.
    pub min_ms: f64,
    /// Slowest.
    pub max_ms: f64,
}

impl Stats {
    /// Summarises samples (at least one).
    pub fn of(samples: &[Duration]) -> Stats {
        let samples_ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1000.0).collect();
        let mut sorted = samples_ms.clone();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median_ms = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        };
        Stats {
            samples_ms,
            median_ms,
            min_ms: sorted[0],
            max_ms: sorted[n - 1],
        }
    }
}

/// A directory removed on drop.
pub(crate) struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub(crate) fn new(parent: PathBuf, prefix: &str) -> Result<TempDir, Error> {
        let path = parent.join(format!(
            "{prefix}-{}-{}",
            std::process::id(),
            instance::random_token(6)
        ));
        std::fs::create_dir_all(&path).map_err(instance::Error::io("create", &path))?;
        Ok(TempDir { path })
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

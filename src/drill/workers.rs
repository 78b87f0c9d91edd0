//! The scenario's workers beside the pods (`[[workers]]`, runbook 003's
//! ETL): each pool is a fleet of its own on the database the app uses, with
//! its own metrics (a failure rate, not the API's SLO), moved with the app
//! at a full cutover, and paused, resumed or scaled by `workers` moves.
//! Their acknowledged writes count for the RPO like the app's.

use tokio::sync::mpsc;

use super::Drill;
use super::apply::Done;
use crate::action::Workers;
use crate::transcript::Load;
use crate::workload::{Fleet, Outcome, Sample};

/// The running pools and their current window.
#[derive(Default)]
pub(super) struct Pools {
    running: Vec<Pool>,
}

struct Pool {
    name: String,
    version: Option<String>,
    fleet: Fleet,
    /// Jobs and failures in the window being built.
    window: (u64, u64),
    /// The last closed window's.
    last: Option<(u64, u64)>,
}

impl Drill {
    /// Starts every worker pool on the database the app uses; their
    /// samples come on the returned channel (closed when there is none).
    /// A pool that cannot start is told, and the drill goes on.
    pub(super) async fn start_workers(&mut self) -> mpsc::UnboundedReceiver<Sample> {
        let (tx, rx) = mpsc::unbounded_channel();
        let url = self.db().app_url.clone();
        for (i, spec) in self.scenario.workers.clone().iter().enumerate() {
            let seed = self.options.seed ^ (0xE71 + i as u64);
            let started = Fleet::start_workers(
                spec,
                &self.scenario,
                &url,
                seed,
                self.flags.clone(),
                tx.clone(),
            )
            .await;
            match started {
                Ok(fleet) => self.workers.running.push(Pool {
                    name: spec.name.clone(),
                    version: spec.version.clone(),
                    fleet,
                    window: (0, 0),
                    last: None,
                }),
                Err(e) => self.observe(
                    crate::transcript::Level::Alert,
                    format!("workers {} did not start: {e}", spec.name),
                ),
            }
        }
        rx
    }

    /// Takes in finished jobs: their pool's tally, and writes' acks.
    pub(super) fn record_jobs(&mut self, samples: impl IntoIterator<Item = Sample>) {
        let now_ms = self.clock.now_ms();
        for sample in samples {
            if let Some(pool) = self
                .workers
                .running
                .iter_mut()
                .find(|p| *p.name == *sample.version)
            {
                pool.window.0 += 1;
                pool.window.1 += u64::from(matches!(sample.outcome, Outcome::Failed(_)));
            }
            self.acknowledge(sample, now_ms);
        }
    }

    /// Closes the pools' window: each pool's jobs and failures in it.
    pub(super) fn close_worker_windows(&mut self) -> Vec<Load> {
        self.workers
            .running
            .iter_mut()
            .map(|p| {
                let (requests, errors) = std::mem::take(&mut p.window);
                p.last = Some((requests, errors));
                Load {
                    name: p.name.clone(),
                    requests,
                    errors,
                }
            })
            .collect()
    }

    /// Points every pool at database `url` (index `db`): a full cutover.
    pub(super) fn repoint_workers(&self, url: &str, db: usize) -> Result<(), String> {
        for pool in &self.workers.running {
            let every: Vec<usize> = (0..pool.fleet.size()).collect();
            pool.fleet
                .repoint_pods(url, db, &every)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Stops every pool and waits for its jobs.
    pub(super) async fn shutdown_workers(&mut self) {
        for pool in std::mem::take(&mut self.workers.running) {
            pool.fleet.shutdown().await;
        }
    }

    /// A line per pool for `status` and `workers`.
    pub(super) fn worker_lines(&self) -> Vec<String> {
        self.workers
            .running
            .iter()
            .map(|p| {
                let state = if p.fleet.paused() {
                    "paused".to_string()
                } else {
                    format!("{} of {} running", p.fleet.active(), p.fleet.size())
                };
                let version = p
                    .version
                    .as_ref()
                    .map(|v| format!(" ({v})"))
                    .unwrap_or_default();
                let rate = match p.last {
                    Some((jobs, failed)) if jobs > 0 => format!(
                        ", failure rate {:.1}% of {jobs} jobs in the last window",
                        failed as f64 * 100.0 / jobs as f64
                    ),
                    Some(_) => ", no jobs in the last window".to_string(),
                    None => String::new(),
                };
                format!("{}{version}: {state}{rate}", p.name)
            })
            .collect()
    }

    /// `workers`, `workers pause|resume|scale NAME`.
    pub(super) fn workers_move(&mut self, order: Workers) -> Done {
        let canonical = order.to_string();
        let (name, scale) = match order {
            Workers::List => {
                let lines = self.worker_lines();
                let text = if lines.is_empty() {
                    "this scenario runs no workers".to_string()
                } else {
                    lines.join("\n")
                };
                return Done::ok(canonical, text);
            }
            Workers::Pause(n) => (n, Err(true)),
            Workers::Resume(n) => (n, Err(false)),
            Workers::Scale(n, k) => (n, Ok(k as usize)),
        };
        let Some(pool) = self.workers.running.iter().find(|p| p.name == name) else {
            let names: Vec<&str> = self
                .workers
                .running
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            let known = if names.is_empty() {
                "this scenario runs none".to_string()
            } else {
                format!("workers: {}", names.join(", "))
            };
            return Done::refuse(canonical, format!("no workers `{name}` ({known})"));
        };
        let fleet = &pool.fleet;
        match scale {
            // Pause or resume.
            Err(pause) if !fleet.set_paused(pause) => {
                let state = if pause {
                    "already paused"
                } else {
                    "not paused"
                };
                Done::refuse(canonical, format!("{name} is {state}"))
            }
            Err(true) => Done::ok(
                canonical,
                format!("{name} paused: it takes no new jobs; jobs running finish"),
            ),
            Err(false) => Done::ok(
                canonical,
                format!(
                    "{name} resumed: {} of {} workers take jobs",
                    fleet.active(),
                    fleet.size()
                ),
            ),
            Ok(n) if n > fleet.size() => Done::refuse(
                canonical,
                format!("{name} runs at most {} workers", fleet.size()),
            ),
            Ok(n) => {
                let was = fleet.active();
                fleet.scale(n);
                let paused = if fleet.paused() {
                    " (still paused: `workers resume` lets them take jobs)"
                } else {
                    ""
                };
                Done::ok(
                    canonical,
                    format!("{name}: {n} workers (was {was}){paused}"),
                )
            }
        }
    }
}

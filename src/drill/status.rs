//! What `status` shows: the last window per version and endpoint, the pods,
//! the rollout, flags, schema version and where the incident stands.

use std::collections::BTreeMap;

use super::Drill;
use crate::transcript::Window;

/// The health of the drill at a moment.
#[derive(Debug, Clone)]
pub struct StatusView {
    /// Scenario time.
    pub t_ms: u64,
    /// The last complete window, if any.
    pub window: Option<Window>,
    /// Real seconds the window covered (for requests per second).
    pub window_real_secs: f64,
    /// Pods per version.
    pub pods: BTreeMap<String, u32>,
    /// The rollout, in words.
    pub rollout: Option<String>,
    /// Flags and values.
    pub flags: Vec<(String, String)>,
    /// Applied migrations, oldest first.
    pub applied: Vec<String>,
    /// Declared migrations not applied.
    pub pending: Vec<String>,
    /// When the incident began (the SLO broke or a check failed).
    pub incident_start_ms: Option<u64>,
    /// When service and data were back, if they are now, and the RTO.
    pub recovered: Option<(u64, u64)>,
    /// Integrity checks failing now.
    pub failing_checks: Vec<String>,
    /// The SLO, in words.
    pub slo: String,
    /// The drill's instances, the one the app uses marked `(serving)`.
    pub instances: Vec<String>,
    /// Each worker pool: running or paused, its failure rate.
    pub workers: Vec<String>,
}

impl Drill {
    /// The health table `status` shows.
    pub(super) fn status(&self) -> StatusView {
        let window = self.transcript.windows().last().cloned();
        let state = self.state();
        let pending = self
            .scenario
            .migrations
            .list
            .iter()
            .filter(|m| !state.applied.contains(&m.id))
            .map(|m| m.id.clone())
            .collect();
        let slo = &self.scenario.slo;
        let now = self.clock.now_ms();
        let timing = self.timing();
        StatusView {
            t_ms: now,
            window_real_secs: window.as_ref().map_or(1.0, |w| {
                ((w.end_ms - w.start_ms) as f64 / 1000.0 / self.clock.scale()).max(0.001)
            }),
            window,
            pods: state.pods,
            rollout: self.rollout_text(),
            flags: state.flags.into_iter().collect(),
            applied: state.applied,
            pending,
            incident_start_ms: timing.incident_start_ms,
            recovered: timing
                .recovered_at(now)
                .then(|| timing.recovered_ms().zip(timing.rto_ms()))
                .flatten(),
            failing_checks: timing
                .failing_at_end()
                .into_iter()
                .map(|(name, what)| format!("{name} ({what})"))
                .collect(),
            slo: format!(
                "error rate ≤ {}%, p99 ≤ {}, held for {}",
                slo.max_error_rate * 100.0,
                slo.p99,
                slo.stable_for
            ),
            instances: self.instance_lines(),
            workers: self.worker_lines(),
        }
    }

    /// Each instance, the one the app uses marked `(serving)`; while a
    /// gradual cutover has the fleet split, with its pods and the error
    /// rate of its requests in the last window.
    fn instance_lines(&self) -> Vec<String> {
        let on = self.fleet.as_ref().map(|f| f.pod_dbs()).unwrap_or_default();
        let split = on.iter().any(|d| *d != on[0]);
        let window = self.transcript.windows().last();
        self.dbs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                let mut notes = Vec::new();
                if i == self.serving {
                    notes.push("serving".to_string());
                }
                let pods = on.iter().filter(|db| **db == i).count();
                if split && pods > 0 {
                    notes.push(format!("{pods} pod{}", if pods == 1 { "" } else { "s" }));
                    if let Some(load) =
                        window.and_then(|w| w.instances.iter().find(|l| l.name == d.target.name))
                    {
                        notes.push(format!(
                            "{:.1}% errors of {} requests",
                            load.error_rate() * 100.0,
                            load.requests
                        ));
                    }
                }
                if notes.is_empty() {
                    d.target.name.clone()
                } else {
                    format!("{} ({})", d.target.name, notes.join(", "))
                }
            })
            .collect()
    }
}

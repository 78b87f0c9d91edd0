//! Rolling deploys as the engine runs them: one pod per step towards the
//! target version (the plan itself is pure, in `workload::rollout`), the
//! phase changes told to the learner, and frameworks that migrate when a
//! pod of a new version boots.

use super::{Drill, Finished, migrations};
use crate::transcript::Level;
use crate::workload::{Phase, Rollout};

impl Drill {
    /// Starts a rollout to `version`, remembering what ran before.
    pub(super) fn start_rollout(&mut self, version: &str, step_ms: u64, limit: Option<u32>) {
        if let Some(fleet) = &self.fleet {
            let counts = fleet.counts();
            let current = counts
                .iter()
                .filter(|(v, _)| v.as_str() != version)
                .max_by_key(|(_, n)| **n);
            if let Some((v, n)) = current
                && *n > 0
            {
                self.rollouts.previous_version = Some(v.clone());
            }
        }
        self.rollouts.current = Some(Rollout::new(version, self.clock.now_ms(), step_ms, limit));
        self.rollouts.phase = Some(Phase::Rolling);
    }

    /// Moves the next pod when its step is due, and says so.
    pub(super) fn step_rollout(&mut self, now: u64) {
        let (Some(rollout), Some(fleet)) = (&mut self.rollouts.current, &self.fleet) else {
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
        if Some(phase) != self.rollouts.phase {
            match phase {
                Phase::Done => notes.push((Level::Info, format!("rollout to {} complete", rollout.target))),
                Phase::Stalled => notes.push((
                    Level::Alert,
                    format!("rollout to {} stopped by the pipeline after {} pods: old and new versions now serve side by side", rollout.target, rollout.moved),
                )),
                Phase::Paused | Phase::Rolling => {}
            }
            self.rollouts.phase = Some(phase);
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
        let job = migrations::migrate_ids(
            self.scenario.clone(),
            self.db().app_url.clone(),
            pending,
            format!("{version}-startup"),
            None,
        );
        let version = version.to_string();
        self.work
            .tasks
            .spawn(async move { Finished::Job(Some(version), job.await) });
    }
}

//! Moves on the flags and the fleet: `flag set|list`, `app
//! status|deploy|rollback|pause|resume`. They change the engine's own
//! state and answer at once.

use super::Drill;
use super::apply::{Done, list_or_none, rows};
use crate::action::{App, Flag};

impl Drill {
    /// `flag set` and `flag list`.
    pub(super) fn flag(&mut self, flag: Flag) -> Done {
        let canonical = flag.to_string();
        match flag {
            Flag::Set { name, value } => {
                if self.flags.set(&name, value) {
                    Done::ok(canonical, format!("flag {name} is now {value}"))
                } else {
                    let known: Vec<String> = self.flags.values().into_keys().collect();
                    Done::refuse(
                        canonical,
                        format!("no flag `{name}` (flags: {})", list_or_none(&known)),
                    )
                }
            }
            Flag::List => {
                let table = self
                    .flags
                    .values()
                    .into_iter()
                    .map(|(k, v)| vec![k, v.to_string()])
                    .collect();
                Done::ok(canonical, "flags shown").view(rows(&["flag", "value"], table))
            }
        }
    }

    /// The `app` moves.
    pub(super) fn app(&mut self, app: App, now_ms: u64) -> Done {
        match app {
            App::Status => self.app_status(),
            App::Deploy { version } => self.deploy(&version),
            App::Rollback { to } => self.rollback(to),
            App::Pause => self.pause(true, now_ms),
            App::Resume => self.pause(false, now_ms),
        }
    }

    fn app_status(&self) -> Done {
        let versions = self
            .fleet
            .as_ref()
            .map(|f| f.pod_versions())
            .unwrap_or_default();
        let table = versions
            .iter()
            .enumerate()
            .map(|(i, v)| vec![format!("pod-{}", i + 1), v.clone()])
            .collect();
        let text = self
            .rollout_text()
            .unwrap_or_else(|| "no rollout in progress".into());
        Done::ok(App::Status.to_string(), text).view(rows(&["pod", "version"], table))
    }

    fn pause(&mut self, pause: bool, now_ms: u64) -> Done {
        let (canonical, word) = if pause {
            (App::Pause.to_string(), "pause")
        } else {
            (App::Resume.to_string(), "resume")
        };
        let pods = self
            .fleet
            .as_ref()
            .map(|f| f.pod_versions())
            .unwrap_or_default();
        match &mut self.rollouts.current {
            Some(r) if r.phase(&pods) != crate::workload::Phase::Done => {
                r.paused = pause;
                if !pause {
                    r.next_at_ms = r.next_at_ms.max(now_ms);
                }
                Done::ok(canonical, format!("rollout to {} {word}d", r.target))
            }
            _ => Done::refuse(canonical, format!("no rollout in progress to {word}")),
        }
    }

    fn deploy(&mut self, version: &str) -> Done {
        let canonical = App::Deploy {
            version: version.to_string(),
        }
        .to_string();
        if self.scenario.app.version(version).is_none() {
            let known: Vec<String> = self
                .scenario
                .app
                .versions
                .iter()
                .map(|v| v.name.clone())
                .collect();
            return Done::refuse(
                canonical,
                format!("no version `{version}` (versions: {})", known.join(", ")),
            );
        }
        if self
            .fleet
            .as_ref()
            .is_some_and(|f| f.pod_versions().iter().all(|v| v == version))
        {
            return Done::refuse(canonical, format!("every pod already runs {version}"));
        }
        let step = self.scenario.fleet.rollout_step;
        self.start_rollout(version, step.as_millis(), None);
        Done::ok(
            canonical,
            format!("rolling deploy to {version} started: one pod every {step}"),
        )
    }

    /// Recorded with the version it rolls back to.
    fn rollback(&mut self, to: Option<String>) -> Done {
        let asked = App::Rollback { to: to.clone() }.to_string();
        let Some(previous) = self.rollouts.previous_version.clone() else {
            return Done::refuse(asked, "nothing to roll back to: no deploy has happened");
        };
        if let Some(to) = to.filter(|v| *v != previous) {
            return Done::refuse(
                asked,
                format!("the version before the last deploy is {previous}, not {to}"),
            );
        }
        let step = self.scenario.fleet.rollout_step;
        self.start_rollout(&previous, step.as_millis(), None);
        self.rollouts.previous_version = None;
        let text = format!("rolling back to {previous}: one pod every {step}");
        Done::ok(App::Rollback { to: Some(previous) }.to_string(), text)
    }

    pub(super) fn rollout_text(&self) -> Option<String> {
        let r = self.rollouts.current.as_ref()?;
        let pods = self.fleet.as_ref()?.pod_versions();
        let on = pods.iter().filter(|p| **p == r.target).count();
        let phase = match r.phase(&pods) {
            crate::workload::Phase::Rolling => "rolling",
            crate::workload::Phase::Paused => "paused",
            crate::workload::Phase::Stalled => "stalled",
            crate::workload::Phase::Done => "complete",
        };
        Some(format!(
            "rollout to {}: {phase}, {on} of {} pods",
            r.target,
            pods.len()
        ))
    }
}

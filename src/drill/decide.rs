//! The engine's decisions, as pure functions of its state and the time:
//! when a metrics window closes and a probe starts ([`Pace`]), which waits
//! are answered and with what words, what a closed window says about the
//! SLO, and how a recovery is announced. `mod.rs` and `health.rs` carry
//! them out; the tests here drive them without a database or a sleep.

use std::time::Duration;

use tokio::time::Instant;

use crate::action::Until;
use crate::scenario::{Dur, Slo};
use crate::score::{Recovery, clock, recovery::Timing};
use crate::transcript::Level;

/// How often the metrics window closes (real time).
pub(super) const WINDOW: Duration = Duration::from_secs(1);
/// How often integrity checks and the DDL audit run (real time).
pub(super) const PROBE_EVERY: Duration = Duration::from_secs(1);

/// The engine's real-time rhythm: metrics windows and probes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Pace {
    /// When the open window started, in real time and scenario time.
    pub window_started: (Instant, u64),
    /// When the last probe started.
    pub last_probe: Instant,
    /// Whether a probe is running (one at a time).
    pub probing: bool,
}

impl Pace {
    /// A rhythm starting now, at scenario time `now_ms`.
    pub(super) fn starting(now_ms: u64) -> Pace {
        Pace {
            window_started: (Instant::now(), now_ms),
            last_probe: Instant::now(),
            probing: false,
        }
    }

    /// Whether the open window has lasted a full window.
    pub(super) fn window_due(&self) -> bool {
        self.window_started.0.elapsed() >= WINDOW
    }

    /// Whether the last, partial window is long enough to count.
    pub(super) fn last_window_counts(&self) -> bool {
        self.window_started.0.elapsed() >= WINDOW / 2
    }

    /// Starts the next window at scenario time `now_ms`; returns when the
    /// closed one started.
    pub(super) fn next_window(&mut self, now_ms: u64) -> u64 {
        let started = self.window_started.1;
        self.window_started = (Instant::now(), now_ms);
        started
    }

    /// Whether a probe starts now; if so it is marked running.
    pub(super) fn start_probe(&mut self) -> bool {
        if self.probing || self.last_probe.elapsed() < PROBE_EVERY {
            return false;
        }
        self.probing = true;
        self.last_probe = Instant::now();
        true
    }
}

/// What a waiting `wait` needs to be decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct WaitFor {
    /// Scenario time it ends at the latest.
    pub until_ms: u64,
    /// What ends it sooner, if anything.
    pub until: Option<Until>,
}

/// Where the incident and the fleet stand, for the waits (`None` when no
/// wait asks).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct Standing {
    /// Recovered by the score's rules at this moment.
    pub recovered: bool,
    /// No incident has begun.
    pub no_incident: bool,
    /// When the incident began, if it has.
    pub incident_ms: Option<u64>,
    /// When service and data were back.
    pub recovered_ms: Option<u64>,
    /// The last rollout begun, as `status` words it ("rollout to v2:
    /// stalled, 2 of 4 pods"), if any has.
    pub rollout: Option<String>,
    /// Each pod's version.
    pub pods: Vec<String>,
}

impl Standing {
    pub(super) fn of(timing: &Timing, now: u64) -> Standing {
        Standing {
            recovered: timing.recovered_at(now),
            no_incident: timing.incident_start_ms.is_none(),
            incident_ms: timing.incident_start_ms,
            recovered_ms: timing.recovered_ms(),
            ..Standing::default()
        }
    }

    /// Whether what `until` watches for has happened.
    fn reached(&self, until: &Until) -> bool {
        match until {
            Until::Recovered => self.recovered || self.no_incident,
            Until::Incident => !self.no_incident,
            Until::Rollout => self.rollout.is_some(),
            Until::Version(v) => !self.pods.is_empty() && self.pods.iter().all(|p| p == v),
        }
    }
}

/// The answer to a wait at `now`, or `None` while it keeps waiting.
pub(super) fn answer(wait: &WaitFor, now: u64, standing: Option<&Standing>) -> Option<String> {
    let over = match (&wait.until, standing) {
        (Some(until), Some(s)) => s.reached(until),
        _ => false,
    };
    if wait.until_ms > now && !over {
        return None;
    }
    let unknown = Standing::default();
    let s = standing.unwrap_or(&unknown);
    let Some(until) = &wait.until else {
        return Some(format!("waited until {}", clock(now)));
    };
    Some(match until {
        Until::Recovered if s.recovered => format!(
            "recovered since {} (now {}): service and data are back",
            clock(s.recovered_ms.unwrap_or_default()),
            clock(now)
        ),
        Until::Recovered if s.no_incident => format!(
            "no incident has begun: the SLO holds and no check fails (now {})",
            clock(now)
        ),
        Until::Recovered => format!("not recovered by {}: see `status`", clock(now)),
        Until::Incident if over => format!(
            "an incident began at {} (now {}): see `status` and `events`",
            clock(s.incident_ms.unwrap_or_default()),
            clock(now)
        ),
        Until::Incident => format!(
            "no incident by {}: the SLO holds and no check fails",
            clock(now)
        ),
        Until::Rollout => match &s.rollout {
            Some(text) if over => format!("{text} (now {})", clock(now)),
            _ => format!("no rollout has begun by {}", clock(now)),
        },
        Until::Version(v) if over => format!("every pod runs {v} (now {})", clock(now)),
        Until::Version(v) => {
            let on = s.pods.iter().filter(|p| *p == v).count();
            format!(
                "{on} of {} pods run {v} at {}: see `app status`",
                s.pods.len(),
                clock(now)
            )
        }
    })
}

/// What a closed window says about the SLO, if anything: the incident's
/// first breach; before recovery is confirmed, each change between
/// healthy and not; after it, nothing (a new episode has its own breach).
pub(super) fn slo_change(
    before: &Recovery,
    after: &Recovery,
    last_healthy: Option<bool>,
    healthy: bool,
) -> Option<(Level, &'static str)> {
    if before.incident_start_ms.is_none() && after.incident_start_ms.is_some() {
        return Some((Level::Alert, "SLO broken"));
    }
    let flipped = last_healthy.is_some_and(|h| h != healthy);
    if after.incident_start_ms.is_none() || after.confirmed_ms.is_some() || !flipped {
        return None;
    }
    Some(if healthy {
        (Level::Info, "within the SLO again")
    } else {
        (Level::Alert, "SLO broken again")
    })
}

/// The line that announces a recovery: what is back since when, and the
/// RTO against its target.
pub(super) fn recovery_line(timing: &Timing, slo: &Slo, rto_target: Dur) -> String {
    let mut what = Vec::new();
    if let (Some(_), Some(at)) = (
        timing.service.incident_start_ms,
        timing.service.recovered_ms,
    ) {
        what.push(format!(
            "the SLO has held for {} since {}",
            slo.stable_for,
            clock(at)
        ));
    }
    if let Some(at) = timing.data_restored_ms {
        what.push(format!("every integrity check passes since {}", clock(at)));
    }
    format!(
        "{} (RTO {}, target {})",
        what.join(" and "),
        clock(timing.rto_ms().unwrap_or_default()),
        rto_target
    )
}

#[cfg(test)]
mod tests;

//! The drill's health as it happens: metrics windows closed one a second,
//! the SLO broken and held again, and the recovery, announced from the same
//! [`Timing`] that scoring reads from the whole transcript, so the line the
//! learner sees live and the final score cannot disagree.

use std::time::Instant;

use super::Drill;
use crate::score::{self, recovery::Timing};
use crate::transcript::{EventKind, Level, Window};

impl Drill {
    /// The incident's timing from the events so far: the same function
    /// scoring applies to the whole transcript.
    pub(super) fn timing(&self) -> Timing {
        Timing::of(&self.scenario.slo, &self.transcript)
    }

    /// Announces the recovery when service and data are both back, the way
    /// the score will judge it; takes it back if a check fails again.
    pub(super) fn follow_recovery(&mut self, timing: &Timing) {
        let now = self.clock.now_ms();
        let recovered = timing.recovered_at(now);
        if recovered == self.announced_recovery {
            return;
        }
        self.announced_recovery = recovered;
        if !recovered {
            // Whatever broke says so in its own alert.
            return;
        }
        let mut what = Vec::new();
        if let (Some(_), Some(at)) = (
            timing.service.incident_start_ms,
            timing.service.recovered_ms,
        ) {
            what.push(format!(
                "the SLO has held for {} since {}",
                self.scenario.slo.stable_for,
                score::clock(at)
            ));
        }
        if let Some(at) = timing.data_restored_ms {
            what.push(format!(
                "every integrity check passes since {}",
                score::clock(at)
            ));
        }
        self.observe(
            Level::Recovered,
            format!(
                "{} (RTO {}, target {})",
                what.join(" and "),
                score::clock(timing.rto_ms().unwrap_or_default()),
                self.scenario.rubric.rto
            ),
        );
    }

    /// Closes the metrics window, tells what changed in the SLO, and
    /// follows the recovery.
    pub(super) fn close_window(&mut self, now: u64) {
        let window: Window = self.builder.finish(self.window_started.1, now);
        self.window_started = (Instant::now(), now);
        let healthy = score::recovery::healthy(&self.scenario.slo, &window);
        let summary = describe(&window);
        self.push(EventKind::Window(window));
        let before = self.recovery.clone();
        let timing = self.timing();
        self.recovery = timing.service.clone();
        if before.incident_start_ms.is_none() && self.recovery.incident_start_ms.is_some() {
            self.observe(Level::Alert, format!("SLO broken: {summary}"));
        } else if self.recovery.incident_start_ms.is_some()
            && self.recovery.confirmed_ms.is_none()
            && self.last_healthy.is_some_and(|h| h != healthy)
        {
            let level = if healthy { Level::Info } else { Level::Alert };
            let what = if healthy {
                "within the SLO again"
            } else {
                "SLO broken again"
            };
            self.observe(level, format!("{what}: {summary}"));
        }
        self.last_healthy = Some(healthy);
        self.follow_recovery(&timing);
    }
}

/// A window in a line: error rate, top error, p99.
fn describe(w: &Window) -> String {
    if w.requests == 0 {
        return "no request completed in the last window: every request is waiting".to_string();
    }
    let top = w
        .top_error_described()
        .map(|t| format!(", top error {t}"))
        .unwrap_or_default();
    format!(
        "error rate {:.1}% of {} requests{top}, p99 {:.0}ms",
        w.error_rate() * 100.0,
        w.requests,
        w.p99_ms
    )
}

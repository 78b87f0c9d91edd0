//! The drill's health as it happens: metrics windows closed one a second,
//! the SLO broken and held again, and the recovery, announced from the same
//! [`Timing`] that scoring reads from the whole transcript, so the line the
//! learner sees live and the final score cannot disagree.

use super::{Drill, decide};
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
        let recovered = timing.recovered_at(self.clock.now_ms());
        if recovered == self.health.announced {
            return;
        }
        self.health.announced = recovered;
        // Whatever broke says so in its own alert.
        if recovered {
            let line = decide::recovery_line(timing, &self.scenario.slo, self.scenario.rubric.rto);
            self.observe(Level::Recovered, line);
        }
    }

    /// Closes the metrics window, tells what changed in the SLO, and
    /// follows the recovery.
    pub(super) fn close_window(&mut self, now: u64) {
        let started = self.pace.next_window(now);
        let dbs = &self.dbs;
        let mut window: Window = self.health.builder.finish_named(started, now, |db| {
            dbs.get(db)
                .map_or_else(|| db.to_string(), |d| d.target.name.clone())
        });
        window.workers = self.close_worker_windows();
        let healthy = score::recovery::healthy(&self.scenario.slo, &window);
        let summary = describe(&window);
        if let Some(face) = &self.face {
            let last = std::sync::Arc::new(window.clone());
            face.send_modify(|f| f.last = Some((last, healthy)));
        }
        self.push(EventKind::Window(window));
        let before = std::mem::take(&mut self.health.recovery);
        let timing = self.timing();
        self.health.recovery = timing.service.clone();
        if let Some((level, what)) = decide::slo_change(
            &before,
            &self.health.recovery,
            self.health.last_healthy,
            healthy,
        ) {
            self.observe(level, format!("{what}: {summary}"));
        }
        self.health.last_healthy = Some(healthy);
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

//! When the incident began and when the service recovered, from the metrics
//! windows alone (the engine uses this live; scoring recomputes it).
//!
//! A window is healthy when it served requests, its error rate is within the
//! SLO and its p99 is within the SLO. The incident begins with the first
//! unhealthy window after a healthy one, or with the first window whose
//! error rate breaks the SLO: slowness before the service was first healthy
//! is the warm-up (pods and the database still starting), errors never are.
//! On a busy machine, or at a high time scale where one real-second window
//! covers the whole baseline, the warm-up may never look healthy; a fault
//! that fails requests must still start the incident. The
//! service has recovered at the start of the first run of healthy windows,
//! after the incident began, that lasts the SLO's stability window; the
//! recovery is confirmed when that run completes. RTO is the time from the
//! incident's start to the recovery.

use serde::{Deserialize, Serialize};

use crate::scenario::Slo;
use crate::transcript::Window;

/// Whether a window meets the SLO.
pub fn healthy(slo: &Slo, w: &Window) -> bool {
    w.requests > 0
        && w.error_rate() <= slo.max_error_rate
        && w.p99_ms <= slo.p99.0.as_secs_f64() * 1000.0
}

/// The incident's timing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// Scenario time the SLO first broke.
    pub incident_start_ms: Option<u64>,
    /// Scenario time healthy service resumed (for good).
    pub recovered_ms: Option<u64>,
    /// Scenario time the stability window completed.
    pub confirmed_ms: Option<u64>,
}

impl Recovery {
    /// Time to recover, when it did.
    pub fn rto_ms(&self) -> Option<u64> {
        Some(self.recovered_ms?.saturating_sub(self.incident_start_ms?))
    }

    /// Whether, at scenario time `t`, the service counts as healthy: no
    /// incident yet, or recovery confirmed by then.
    pub fn healthy_at(&self, t_ms: u64) -> bool {
        match (self.incident_start_ms, self.confirmed_ms) {
            (None, _) => true,
            (Some(start), _) if t_ms < start => true,
            (Some(_), Some(confirmed)) => confirmed <= t_ms,
            (Some(_), None) => false,
        }
    }
}

/// Analyses windows in order.
pub fn analyze<'a>(slo: &Slo, windows: impl IntoIterator<Item = &'a Window>) -> Recovery {
    let stable_ms = slo.stable_for.as_millis();
    let mut r = Recovery::default();
    let mut seen_healthy = false;
    let mut run_start: Option<u64> = None;
    for w in windows {
        let ok = healthy(slo, w);
        if r.incident_start_ms.is_none() {
            let failing = w.error_rate() > slo.max_error_rate;
            if !ok && (seen_healthy || failing) {
                r.incident_start_ms = Some(w.start_ms);
            }
            seen_healthy |= ok;
            continue;
        }
        if r.confirmed_ms.is_some() {
            break;
        }
        if ok {
            let start = *run_start.get_or_insert(w.start_ms);
            if w.end_ms.saturating_sub(start) >= stable_ms {
                r.recovered_ms = Some(start);
                r.confirmed_ms = Some(w.end_ms);
            }
        } else {
            run_start = None;
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Dur;

    fn slo() -> Slo {
        Slo {
            max_error_rate: 0.01,
            p99: Dur::parse("250ms").unwrap(),
            stable_for: Dur::from_secs(3),
        }
    }

    fn window(sec: u64, errors: u64, p99: f64) -> Window {
        Window {
            start_ms: sec * 1000,
            end_ms: (sec + 1) * 1000,
            requests: 100,
            errors,
            p99_ms: p99,
            ..Window::default()
        }
    }

    #[test]
    fn incident_then_recovery_after_a_stable_run() {
        // 0-1 warm-up (slow), 2-4 healthy, 5-8 broken, 9 healthy, 10 broken,
        // 11-13 healthy: recovered at 11, confirmed at 14.
        let mut ws = vec![window(0, 0, 900.0), window(1, 0, 10.0)];
        ws.extend((2..5).map(|s| window(s, 0, 10.0)));
        ws.extend((5..9).map(|s| window(s, 50, 10.0)));
        ws.push(window(9, 0, 10.0));
        ws.push(window(10, 0, 400.0));
        ws.extend((11..14).map(|s| window(s, 1, 10.0)));
        let r = analyze(&slo(), &ws);
        assert_eq!(r.incident_start_ms, Some(5000));
        assert_eq!(r.recovered_ms, Some(11000));
        assert_eq!(r.confirmed_ms, Some(14000));
        assert_eq!(r.rto_ms(), Some(6000));
        assert!(r.healthy_at(4000));
        assert!(!r.healthy_at(12000));
        assert!(r.healthy_at(14000));
    }

    #[test]
    fn errors_start_the_incident_even_when_the_warm_up_never_looked_healthy() {
        // One slow window (the whole baseline at a high time scale on a busy
        // machine), then a fault that fails requests and is never fixed.
        let ws: Vec<Window> = std::iter::once(window(0, 0, 400.0))
            .chain((1..6).map(|s| window(s, 12, 10.0)))
            .collect();
        let r = analyze(&slo(), &ws);
        assert_eq!(r.incident_start_ms, Some(1000));
        assert_eq!(r.recovered_ms, None);
        // Slowness alone before the first healthy window is still warm-up.
        let slow: Vec<Window> = (0..3)
            .map(|s| window(s, 0, 400.0))
            .chain((3..6).map(|s| window(s, 0, 10.0)))
            .collect();
        assert_eq!(analyze(&slo(), &slow).incident_start_ms, None);
    }

    #[test]
    fn no_traffic_is_not_healthy() {
        let mut w = window(0, 0, 1.0);
        w.requests = 0;
        assert!(!healthy(&slo(), &w));
    }

    #[test]
    fn never_recovered() {
        let ws: Vec<Window> = (0..3)
            .map(|s| window(s, 0, 1.0))
            .chain((3..10).map(|s| window(s, 20, 1.0)))
            .collect();
        let r = analyze(&slo(), &ws);
        assert_eq!(r.incident_start_ms, Some(3000));
        assert_eq!(r.rto_ms(), None);
        assert!(!r.healthy_at(9000));
    }
}

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
//! recovery is confirmed when that run completes. Errors over the SLO after
//! that open a new episode. The drill has recovered when the last episode
//! and the data have; RTO is the longest stretch of the incident (episodes
//! and the data's outage merged where they overlap), so that an early blip
//! cannot hide a later outage and breaking the service again cannot shorten
//! the time that counts.

use serde::{Deserialize, Serialize};

use crate::scenario::Slo;
use crate::transcript::Window;

/// Whether a window meets the SLO.
pub fn healthy(slo: &Slo, w: &Window) -> bool {
    w.requests > 0
        && w.error_rate() <= slo.max_error_rate
        && w.p99_ms <= slo.p99.0.as_secs_f64() * 1000.0
}

/// One stretch of the SLO broken: from its first failing request until
/// the SLO held again for its stability window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Episode {
    /// Scenario time the SLO broke.
    pub start_ms: u64,
    /// Scenario time healthy service resumed, once it has for the SLO's
    /// stability window.
    pub recovered_ms: Option<u64>,
    /// Scenario time the stability window completed.
    pub confirmed_ms: Option<u64>,
}

/// The incident's timing.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recovery {
    /// Scenario time the SLO first broke.
    pub incident_start_ms: Option<u64>,
    /// Scenario time healthy service resumed for good: the recovery of the
    /// last episode, `None` while the SLO is broken.
    pub recovered_ms: Option<u64>,
    /// Scenario time the stability window completed.
    pub confirmed_ms: Option<u64>,
    /// Every stretch of the SLO broken, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub episodes: Vec<Episode>,
}

impl Recovery {
    /// Time to recover, when it did: the longest episode, so that neither
    /// an early blip nor breaking the service again can shorten it.
    pub fn rto_ms(&self) -> Option<u64> {
        self.recovered_ms?;
        self.episodes
            .iter()
            .map(|e| Some(e.recovered_ms?.saturating_sub(e.start_ms)))
            .max()
            .flatten()
    }

    /// Whether, at scenario time `t`, the service counts as healthy: in no
    /// episode (before it, or after its recovery was confirmed).
    pub fn healthy_at(&self, t_ms: u64) -> bool {
        !self
            .episodes
            .iter()
            .any(|e| e.start_ms <= t_ms && e.confirmed_ms.is_none_or(|c| t_ms < c))
    }
}

/// Analyses windows in order. The incident begins with the first unhealthy
/// window after a healthy one, or with the first whose error rate breaks
/// the SLO (slowness before the service was first healthy is the warm-up);
/// it has recovered at the start of the first run of healthy windows that
/// lasts the SLO's stability window. After that, errors over the SLO open a
/// new episode (slowness alone does not: a slow second after recovery is a
/// busy machine's, not the learner's), which must recover in turn.
pub fn analyze<'a>(slo: &Slo, windows: impl IntoIterator<Item = &'a Window>) -> Recovery {
    let stable_ms = slo.stable_for.as_millis();
    let mut episodes: Vec<Episode> = Vec::new();
    let mut seen_healthy = false;
    let mut run_start: Option<u64> = None;
    for w in windows {
        let ok = healthy(slo, w);
        let failing = w.error_rate() > slo.max_error_rate;
        match episodes.last_mut() {
            Some(e) if e.confirmed_ms.is_none() => {
                if ok {
                    let start = *run_start.get_or_insert(w.start_ms);
                    if w.end_ms.saturating_sub(start) >= stable_ms {
                        e.recovered_ms = Some(start);
                        e.confirmed_ms = Some(w.end_ms);
                    }
                } else {
                    run_start = None;
                }
            }
            last => {
                let breaks = match last {
                    None => !ok && (seen_healthy || failing),
                    Some(_) => failing,
                };
                if breaks {
                    // At the first request that broke the SLO: a window
                    // that straddles the fault does not date the incident
                    // before it. (Older transcripts date it at the start.)
                    let first_bad = w.first_bad_ms.unwrap_or(w.start_ms);
                    episodes.push(Episode {
                        start_ms: first_bad.clamp(w.start_ms, w.end_ms),
                        ..Episode::default()
                    });
                    run_start = None;
                }
                seen_healthy |= ok;
            }
        }
    }
    let last = episodes.last().copied().unwrap_or_default();
    Recovery {
        incident_start_ms: episodes.first().map(|e| e.start_ms),
        recovered_ms: last.recovered_ms,
        confirmed_ms: last.confirmed_ms,
        episodes,
    }
}

/// The incident's timing from everything that judges it: the SLO over the
/// metrics windows and the integrity checks. The one function behind the
/// live `RECOVERED` line, `status`, `wait until recovered` and the score,
/// so they cannot disagree: given the events so far, each says the same.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Timing {
    /// The service's side, from the windows alone.
    pub service: Recovery,
    /// When the incident began: the SLO broke or a check failed.
    pub incident_start_ms: Option<u64>,
    /// When a check first failed.
    pub first_check_failure_ms: Option<u64>,
    /// When every check passed again, for good so far (the start of the
    /// last run of passes), if one failed and none fails now.
    pub data_restored_ms: Option<u64>,
    /// Each check's runs.
    checks: Vec<(String, Vec<CheckRun>)>,
}

/// One recorded state of a check: time, passing, what it found.
pub type CheckRun = (u64, bool, String);

impl Timing {
    /// The timing of a drill, from its events so far.
    pub fn of(slo: &Slo, transcript: &crate::transcript::Transcript) -> Timing {
        let service = analyze(slo, transcript.windows());
        let checks: Vec<(String, Vec<CheckRun>)> = transcript
            .checks()
            .into_iter()
            .map(|(name, runs)| (name.to_string(), runs))
            .collect();
        let first_check_failure_ms = checks
            .iter()
            .filter_map(|(_, runs)| runs.iter().find(|(_, ok, _)| !ok).map(|(t, _, _)| *t))
            .min();
        let failing_now = checks
            .iter()
            .any(|(_, runs)| runs.last().is_some_and(|(_, ok, _)| !ok));
        let data_restored_ms = match (first_check_failure_ms, failing_now) {
            (Some(_), false) => checks
                .iter()
                .filter_map(|(_, runs)| {
                    let last_fail = runs.iter().rposition(|(_, ok, _)| !ok)?;
                    runs.get(last_fail + 1).map(|(t, _, _)| *t)
                })
                .max(),
            _ => None,
        };
        let incident_start_ms = [service.incident_start_ms, first_check_failure_ms]
            .into_iter()
            .flatten()
            .min();
        Timing {
            service,
            incident_start_ms,
            first_check_failure_ms,
            data_restored_ms,
            checks,
        }
    }

    /// The recorded states of the check `name`, in order.
    pub fn runs(&self, name: &str) -> Option<&[CheckRun]> {
        self.checks
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, runs)| runs.as_slice())
    }

    /// Whether some check was failing at `t`.
    pub fn failing_at(&self, t_ms: u64) -> bool {
        self.checks.iter().any(|(_, runs)| {
            runs.iter()
                .rev()
                .find(|(tc, _, _)| *tc <= t_ms)
                .is_some_and(|(_, ok, _)| !ok)
        })
    }

    /// The checks failing at the end of the events, with what they found.
    pub fn failing_at_end(&self) -> Vec<(&str, &str)> {
        self.checks
            .iter()
            .filter_map(|(name, runs)| match runs.last() {
                Some((_, false, what)) => Some((name.as_str(), what.as_str())),
                _ => None,
            })
            .collect()
    }

    /// Whether the drill counted as healthy at `t`: the service recovered
    /// (or never broke) and no check failing.
    pub fn healthy_at(&self, t_ms: u64) -> bool {
        self.service.healthy_at(t_ms) && !self.failing_at(t_ms)
    }

    /// When the service was back: its recovery, or the incident's start if
    /// the SLO never broke.
    pub fn service_back_ms(&self) -> Option<u64> {
        match self.service.incident_start_ms {
            None => self.incident_start_ms,
            Some(_) => self.service.recovered_ms,
        }
    }

    /// When the data was back: the checks passing again, or the incident's
    /// start if none failed.
    pub fn data_back_ms(&self) -> Option<u64> {
        match self.first_check_failure_ms {
            None => self.incident_start_ms,
            Some(_) => self.data_restored_ms,
        }
    }

    /// The stretches of the incident: the SLO's episodes and the data's
    /// outage (its first failing check until every check passes for good),
    /// merged where they overlap; `None` ends one still open.
    fn stretches(&self) -> Vec<(u64, Option<u64>)> {
        let mut spans: Vec<(u64, Option<u64>)> = self
            .service
            .episodes
            .iter()
            .map(|e| (e.start_ms, e.recovered_ms))
            .collect();
        if let Some(first) = self.first_check_failure_ms {
            spans.push((first, self.data_restored_ms));
        }
        spans.sort_by_key(|(start, _)| *start);
        let mut merged: Vec<(u64, Option<u64>)> = Vec::new();
        for (start, end) in spans {
            match merged.last_mut() {
                Some((_, last_end)) if last_end.is_none_or(|e| e >= start) => {
                    *last_end = match (*last_end, end) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    };
                }
                _ => merged.push((start, end)),
            }
        }
        merged
    }

    /// When both service and data were back for good (the recovery point).
    pub fn recovered_ms(&self) -> Option<u64> {
        self.stretches().last()?.1
    }

    /// The RTO: the longest stretch of the incident, once it is over.
    pub fn rto_ms(&self) -> Option<u64> {
        self.recovered_ms()?;
        self.stretches()
            .iter()
            .filter_map(|(start, end)| Some(end.as_ref()?.saturating_sub(*start)))
            .max()
    }

    /// Whether, at `now`, an incident began and the drill has recovered
    /// from it: the RTO is known and nothing fails.
    pub fn recovered_at(&self, now: u64) -> bool {
        self.incident_start_ms.is_some() && self.rto_ms().is_some() && self.healthy_at(now)
    }
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
    fn the_incident_starts_at_its_first_failing_request_not_at_its_windows_start() {
        // Regression: "INCIDENT since 14s" for a release at 15s. The window
        // 14.2s-15.2s straddles the fault; its first failing request came
        // at 15.1s, and the incident starts there.
        let mut ws: Vec<Window> = (0..14).map(|s| window(s, 0, 10.0)).collect();
        let mut straddling = window(14, 30, 10.0);
        straddling.start_ms = 14_200;
        straddling.end_ms = 15_200;
        straddling.first_bad_ms = Some(15_100);
        ws.push(straddling);
        ws.extend((15..20).map(|s| window(s, 30, 10.0)));
        let r = analyze(&slo(), &ws);
        assert_eq!(r.incident_start_ms, Some(15_100));
        // A time outside its window (an edited file) is kept within it.
        ws[14].first_bad_ms = Some(99_000);
        assert_eq!(analyze(&slo(), &ws).incident_start_ms, Some(15_200));
    }

    #[test]
    fn an_early_blip_that_recovers_does_not_hide_the_outage_after_it() {
        // Regression (rollout-lab, flaky under load): a burst of errors
        // early on (a busy machine) recovered within its stability window;
        // the real outage after it was never looked at, and a drill whose
        // service was broken at the end scored as recovered, RTO 2s.
        let mut ws: Vec<Window> = (0..2).map(|s| window(s, 0, 10.0)).collect();
        ws.extend((2..4).map(|s| window(s, 30, 10.0)));
        ws.extend((4..10).map(|s| window(s, 0, 10.0)));
        ws.extend((10..20).map(|s| window(s, 50, 10.0)));
        let r = analyze(&slo(), &ws);
        assert_eq!(r.incident_start_ms, Some(2000));
        assert_eq!(r.episodes.len(), 2);
        assert_eq!((r.recovered_ms, r.rto_ms()), (None, None));
        assert!(!r.healthy_at(15_000));
        assert!(r.healthy_at(8000));
        // Fixed at 20s and stable for 3s: the RTO is the longest episode,
        // the outage's 10s, not the 18s since the blip nor the blip's 2s.
        ws.extend((20..24).map(|s| window(s, 0, 10.0)));
        let r = analyze(&slo(), &ws);
        assert_eq!((r.recovered_ms, r.rto_ms()), (Some(20_000), Some(10_000)));
        assert!(r.healthy_at(23_000));
    }

    #[test]
    fn after_recovery_a_slow_second_is_the_machine_and_errors_are_an_outage() {
        let mut ws: Vec<Window> = (0..2).map(|s| window(s, 0, 10.0)).collect();
        ws.extend((2..4).map(|s| window(s, 30, 10.0)));
        ws.extend((4..8).map(|s| window(s, 0, 10.0)));
        ws.push(window(8, 0, 900.0));
        ws.extend((9..11).map(|s| window(s, 0, 10.0)));
        let r = analyze(&slo(), &ws);
        assert_eq!((r.episodes.len(), r.rto_ms()), (1, Some(2000)));
        ws.push(window(11, 40, 10.0));
        let r = analyze(&slo(), &ws);
        assert_eq!((r.episodes.len(), r.recovered_ms), (2, None));
    }

    #[test]
    fn the_rto_spans_service_and_data_where_their_outages_overlap() {
        let service = analyze(
            &slo(),
            &(0..2)
                .map(|s| window(s, 0, 10.0))
                .chain((2..6).map(|s| window(s, 30, 10.0)))
                .chain((6..12).map(|s| window(s, 0, 10.0)))
                .collect::<Vec<_>>(),
        );
        assert_eq!(service.rto_ms(), Some(4000));
        // The data broke at 5s, inside the service's outage, and came back
        // at 9s: one stretch from 2s to 9s.
        let timing = Timing {
            service,
            incident_start_ms: Some(2000),
            first_check_failure_ms: Some(5000),
            data_restored_ms: Some(9000),
            checks: Vec::new(),
        };
        assert_eq!(
            (timing.recovered_ms(), timing.rto_ms()),
            (Some(9000), Some(7000))
        );
        // Data that has not come back leaves the incident open.
        let open = Timing {
            data_restored_ms: None,
            ..timing
        };
        assert_eq!((open.recovered_ms(), open.rto_ms()), (None, None));
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

    #[test]
    fn recovery_waits_for_the_data_as_well_as_the_service() {
        // Regression: in contract-too-early the SLO held again while an
        // integrity check still failed; the drill announced RECOVERED with
        // an RTO of 38s, the score said 2m33s. Both now come from here.
        use crate::transcript::{Event, EventKind, Transcript};
        let mut t = Transcript::new("t", 1, 1.0, 0);
        let mut push = |t_ms: u64, kind: EventKind| {
            t.events.push(Event {
                hash: None,
                t_ms,
                kind,
            })
        };
        for s in 0..80 {
            let broken = (20..30).contains(&s);
            push(
                (s + 1) * 1000,
                EventKind::Window(window(s, if broken { 50 } else { 0 }, 10.0)),
            );
            if s == 25 || s == 60 {
                push(
                    s * 1000,
                    EventKind::Check {
                        name: "emails".into(),
                        ok: s == 60,
                        bad: Some(3),
                        error: None,
                    },
                );
            }
        }
        t.events.sort_by_key(|e| e.t_ms);
        let timing = Timing::of(&slo(), &t);
        assert_eq!(timing.incident_start_ms, Some(20_000));
        // The service alone is back at 30s, confirmed at 33s ...
        assert_eq!(timing.service.recovered_ms, Some(30_000));
        assert!(timing.service.healthy_at(45_000));
        // ... but the data only at 60s: not recovered before then.
        assert!(!timing.recovered_at(45_000));
        assert!(timing.recovered_at(60_000));
        assert_eq!(timing.rto_ms(), Some(40_000));
        // Cut at 45s, the events so far say "not recovered" as well.
        let mut so_far = t.clone();
        so_far.events.retain(|e| e.t_ms <= 45_000);
        let live = Timing::of(&slo(), &so_far);
        assert!(!live.recovered_at(45_000));
        assert_eq!(live.rto_ms(), None);
    }
}

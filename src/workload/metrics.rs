//! Request samples from the pods, folded into one-second windows with
//! latency histograms per version and endpoint.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::transcript::{Load, Series, Window};

/// One finished request.
#[derive(Debug, Clone)]
pub struct Sample {
    /// The pod (0-based).
    pub pod: usize,
    /// Which database the request went to (the index given to
    /// [`super::Fleet::repoint`]; 0 at the start).
    pub db: usize,
    /// The version it ran.
    pub version: Arc<str>,
    /// The endpoint.
    pub endpoint: Arc<str>,
    /// How long it took.
    pub latency: Duration,
    /// What came of it.
    pub outcome: Outcome,
}

/// What came of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Served; for a write, the key it returned (acknowledged to the user).
    Ok {
        /// A write's returned key.
        written: Option<i64>,
        /// For an UPDATE returning its key and a value, the value, as text.
        value: Option<String>,
        /// Whether the endpoint writes.
        write: bool,
    },
    /// Failed with a SQLSTATE or `pool_timeout`, `connection`, `overload`.
    Failed(String),
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 2).expect("static histogram bounds are valid")
}

#[derive(Default)]
struct Acc {
    requests: u64,
    errors: BTreeMap<String, u64>,
    latency: Option<Histogram<u64>>,
}

impl Acc {
    fn record(&mut self, latency: Duration, error: Option<&str>) {
        self.requests += 1;
        if let Some(code) = error {
            *self.errors.entry(code.to_string()).or_default() += 1;
        }
        let micros = (latency.as_micros() as u64).clamp(1, 120_000_000);
        let _ = self.latency.get_or_insert_with(histogram).record(micros);
    }

    fn quantile_ms(&self, q: f64) -> f64 {
        self.latency
            .as_ref()
            .map_or(0.0, |h| h.value_at_quantile(q) as f64 / 1000.0)
    }
}

/// Folds samples into the current window.
#[derive(Default)]
pub struct WindowBuilder {
    /// A request slower than this breaks the SLO (its p99 target).
    slow: Duration,
    total: Acc,
    series: BTreeMap<(Arc<str>, Arc<str>), Acc>,
    writes: u64,
    first_bad_ms: Option<u64>,
    /// Requests and errors per database.
    by_db: BTreeMap<usize, (u64, u64)>,
}

impl WindowBuilder {
    /// A builder for an SLO whose p99 target is `slow`.
    pub fn new(slow: Duration) -> WindowBuilder {
        WindowBuilder {
            slow,
            ..WindowBuilder::default()
        }
    }

    /// Adds one request, seen at scenario time `at_ms`.
    pub fn record(&mut self, s: &Sample, at_ms: u64) {
        let bad = matches!(s.outcome, Outcome::Failed(_)) || s.latency > self.slow;
        if bad && self.first_bad_ms.is_none() {
            self.first_bad_ms = Some(at_ms);
        }
        let error = match &s.outcome {
            Outcome::Failed(code) => Some(code.as_str()),
            Outcome::Ok { write, .. } => {
                self.writes += u64::from(*write);
                None
            }
        };
        self.total.record(s.latency, error);
        let db = self.by_db.entry(s.db).or_default();
        db.0 += 1;
        db.1 += u64::from(error.is_some());
        self.series
            .entry((s.version.clone(), s.endpoint.clone()))
            .or_default()
            .record(s.latency, error);
    }

    /// Closes the window over `start_ms..end_ms` and starts a new one.
    pub fn finish(&mut self, start_ms: u64, end_ms: u64) -> Window {
        self.finish_named(start_ms, end_ms, |db| db.to_string())
    }

    /// The same, naming databases (by their index) with `name` for the
    /// window's per-instance lines, which it has only when requests went
    /// to more than one.
    pub fn finish_named(
        &mut self,
        start_ms: u64,
        end_ms: u64,
        name: impl Fn(usize) -> String,
    ) -> Window {
        let done = std::mem::replace(self, WindowBuilder::new(self.slow));
        let instances = if done.by_db.len() > 1 {
            done.by_db
                .iter()
                .map(|(db, (requests, errors))| Load {
                    name: name(*db),
                    requests: *requests,
                    errors: *errors,
                })
                .collect()
        } else {
            Vec::new()
        };
        Window {
            instances,
            workers: Vec::new(),
            start_ms,
            end_ms,
            first_bad_ms: done.first_bad_ms.map(|t| t.clamp(start_ms, end_ms)),
            requests: done.total.requests,
            errors: done.total.errors.values().sum(),
            p50_ms: done.total.quantile_ms(0.5),
            p99_ms: done.total.quantile_ms(0.99),
            writes: done.writes,
            series: done
                .series
                .into_iter()
                .map(|((version, endpoint), acc)| Series {
                    version: version.to_string(),
                    endpoint: endpoint.to_string(),
                    requests: acc.requests,
                    p50_ms: acc.quantile_ms(0.5),
                    p99_ms: acc.quantile_ms(0.99),
                    errors: acc.errors,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_count_errors_by_code_and_latency_per_series() {
        let mut b = WindowBuilder::new(Duration::from_millis(250));
        let v1: Arc<str> = "v1".into();
        let read: Arc<str> = "GET /profile".into();
        for i in 0..100u64 {
            b.record(
                &Sample {
                    db: 0,
                    pod: 0,
                    version: v1.clone(),
                    endpoint: read.clone(),
                    latency: Duration::from_millis(if i < 98 { 2 } else { 900 }),
                    outcome: if i % 10 == 0 {
                        Outcome::Failed("42703".into())
                    } else {
                        Outcome::Ok {
                            written: None,
                            value: None,
                            write: false,
                        }
                    },
                },
                100 + i,
            );
        }
        let w = b.finish(0, 1000);
        assert_eq!((w.requests, w.errors), (100, 10));
        assert!((w.p50_ms - 2.0).abs() < 0.1, "{}", w.p50_ms);
        assert!(w.p99_ms > 800.0, "{}", w.p99_ms);
        assert_eq!(w.series[0].errors["42703"], 10);
        assert_eq!(w.top_error(), Some(("42703".into(), 10)));
        // The first failing request came at 100 ms into the window.
        assert_eq!(w.first_bad_ms, Some(100));
        // The next window starts empty.
        let next = b.finish(1000, 2000);
        assert_eq!((next.requests, next.first_bad_ms), (0, None));
    }
}

//! The metrics of one window: totals, per version and endpoint, and per
//! instance while a gradual cutover splits the fleet.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Metrics of one window (about one real second).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Window {
    /// Scenario time the window starts at.
    pub start_ms: u64,
    /// Scenario time it ends at.
    pub end_ms: u64,
    /// When its first request that broke the SLO (an error, or slower than
    /// the p99 target) was seen; an incident that starts in this window
    /// starts then, not at the window's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_bad_ms: Option<u64>,
    /// Requests completed.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency in milliseconds.
    pub p99_ms: f64,
    /// Acknowledged writes.
    pub writes: u64,
    /// Per version and endpoint.
    pub series: Vec<Series>,
    /// Per instance, when the fleet's requests went to more than one (a
    /// gradual cutover).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub instances: Vec<Load>,
    /// Per worker pool (`[[workers]]`): its jobs and failures, apart from
    /// the API's requests.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub workers: Vec<Load>,
}

/// One part's share of a window's work: an instance's requests, or a
/// worker pool's jobs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Load {
    /// The instance's or the pool's name.
    pub name: String,
    /// Requests that went there.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
}

impl Load {
    /// Errors per request, 0 when there were none.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }
}

impl Window {
    /// Errors per request, 0 when there were none.
    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.errors as f64 / self.requests as f64
        }
    }

    /// The most frequent error code and its count.
    pub fn top_error(&self) -> Option<(String, u64)> {
        let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
        for s in &self.series {
            for (code, n) in &s.errors {
                *totals.entry(code).or_default() += n;
            }
        }
        totals
            .into_iter()
            .max_by_key(|(_, n)| *n)
            .map(|(c, n)| (c.to_string(), n))
    }

    /// The most frequent error in words, with where it happened most:
    /// `42703 undefined_column ×17 on v2 GET /profile`.
    pub fn top_error_described(&self) -> Option<String> {
        let (code, n) = self.top_error()?;
        let place = self
            .series
            .iter()
            .filter(|s| s.errors.contains_key(&code))
            .max_by_key(|s| s.errors[&code])
            .map(|s| format!(" on {} {}", s.version, s.endpoint))
            .unwrap_or_default();
        Some(format!("{} ×{n}{place}", crate::sqlstate::describe(&code)))
    }
}

/// Metrics of one (version, endpoint) in a window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Series {
    /// App version.
    pub version: String,
    /// Endpoint name.
    pub endpoint: String,
    /// Requests completed.
    pub requests: u64,
    /// Failures by SQLSTATE (or `pool_timeout`, `connection`, `overload`).
    pub errors: BTreeMap<String, u64>,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile latency in milliseconds.
    pub p99_ms: f64,
}

impl Series {
    /// Failed requests.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

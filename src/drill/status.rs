//! What `status` shows: the last window per version and endpoint, the pods,
//! the rollout, flags, schema version and where the incident stands.

use std::collections::BTreeMap;

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
}

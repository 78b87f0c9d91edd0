//! What a report's charts show, gathered from the transcript: per app
//! version, the error rate and p99 latency of every metrics window; and the
//! moments to mark: the scenario's timeline events (its faults), the
//! learner's moves, the incident's start, the recovery and the RTO target.
//!
//! Pure data: the HTML renderer draws it, the JSON report carries it for
//! anyone who wants to draw it themselves.

use serde::Serialize;

use crate::scenario::Scenario;
use crate::score::Score;
use crate::transcript::{EventKind, Transcript};

/// The charts' data.
#[derive(Debug, Clone, Serialize)]
pub struct Chart {
    /// Scenario time the x axis ends at.
    pub end_ms: u64,
    /// One series per app version that served requests, in the scenario's order.
    pub versions: Vec<VersionSeries>,
    /// The SLO's error-rate ceiling (a share).
    pub slo_error_rate: f64,
    /// The SLO's p99 ceiling in milliseconds.
    pub slo_p99_ms: f64,
    /// Moments to mark, in time order.
    pub markers: Vec<Marker>,
}

/// One app version over time.
#[derive(Debug, Clone, Serialize)]
pub struct VersionSeries {
    /// The version.
    pub version: String,
    /// One point per metrics window in which it served requests.
    pub points: Vec<Point>,
}

/// One window of one version.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Point {
    /// Scenario time the window ended.
    pub t_ms: u64,
    /// Requests completed.
    pub requests: u64,
    /// Share that failed.
    pub error_rate: f64,
    /// p99 of the version's slowest endpoint in the window, in milliseconds
    /// (a window keeps percentiles per endpoint, which do not add up).
    pub p99_ms: f64,
}

/// A moment on the charts.
#[derive(Debug, Clone, Serialize)]
pub struct Marker {
    /// Scenario time.
    pub t_ms: u64,
    /// What kind of moment.
    pub kind: MarkerKind,
    /// Its short name on the chart: `F1`, `3`, `start`.
    pub tag: String,
    /// What happened.
    pub label: String,
}

/// Kinds of marked moments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MarkerKind {
    /// A scenario timeline event: a release, an injected fault.
    Fault,
    /// A learner's move that changes something.
    Move,
    /// The incident began.
    IncidentStart,
    /// The service (and data) were healthy again for good.
    Recovery,
    /// The incident's start plus the RTO.
    RtoTarget,
}

impl Chart {
    /// Gathers the charts of a drill.
    pub fn build(scenario: &Scenario, transcript: &Transcript, score: &Score) -> Chart {
        let mut versions: Vec<VersionSeries> = scenario
            .app
            .versions
            .iter()
            .map(|v| VersionSeries {
                version: v.name.clone(),
                points: Vec::new(),
            })
            .collect();
        let mut markers = Vec::new();
        let mut faults = 0;
        let mut moves = 0;
        for e in &transcript.events {
            match &e.kind {
                EventKind::Window(w) => {
                    for v in &mut versions {
                        let mine = w.series.iter().filter(|s| s.version == v.version);
                        let (mut requests, mut errors, mut p99) = (0, 0, 0.0f64);
                        for s in mine {
                            requests += s.requests;
                            errors += s.error_count();
                            p99 = p99.max(s.p99_ms);
                        }
                        if requests > 0 {
                            v.points.push(Point {
                                t_ms: w.end_ms,
                                requests,
                                error_rate: errors as f64 / requests as f64,
                                p99_ms: p99,
                            });
                        }
                    }
                }
                EventKind::Timeline { message, hidden } => {
                    faults += 1;
                    markers.push(Marker {
                        t_ms: e.t_ms,
                        kind: MarkerKind::Fault,
                        tag: format!("F{faults}"),
                        label: if *hidden {
                            format!("{message} (not announced)")
                        } else {
                            message.clone()
                        },
                    });
                }
                EventKind::Move(m) if !m.changes_nothing() => {
                    moves += 1;
                    markers.push(Marker {
                        t_ms: e.t_ms,
                        kind: MarkerKind::Move,
                        tag: moves.to_string(),
                        label: if m.ok {
                            m.input.clone()
                        } else {
                            format!("{} (failed)", m.input)
                        },
                    });
                }
                _ => {}
            }
        }
        versions.retain(|v| !v.points.is_empty());
        if let Some(start) = score.incident_start_ms {
            markers.push(Marker {
                t_ms: start,
                kind: MarkerKind::IncidentStart,
                tag: "start".into(),
                label: "the SLO broke or an integrity check failed".into(),
            });
            markers.push(Marker {
                t_ms: start + score.rto_target_ms,
                kind: MarkerKind::RtoTarget,
                tag: "RTO".into(),
                label: format!(
                    "recovered by {} ({} after the start) to meet it",
                    crate::score::clock(start + score.rto_target_ms),
                    crate::score::clock(score.rto_target_ms)
                ),
            });
        }
        // The recovery point: service and data both back (the RTO's end).
        if let Some(start) = score.incident_start_ms
            && let Some(rto) = score.rto_ms
        {
            markers.push(Marker {
                t_ms: start + rto,
                kind: MarkerKind::Recovery,
                tag: "R".into(),
                label: format!(
                    "service and data healthy again for good (RTO {})",
                    crate::score::clock(rto)
                ),
            });
        }
        markers.sort_by_key(|m| m.t_ms);
        // The axis spans what happened; an RTO target far beyond the end
        // is drawn at the edge, with its time, rather than squashing the
        // drill into the left of the chart.
        let last_event = transcript.events.last().map_or(0, |e| e.t_ms);
        let end_ms = markers
            .iter()
            .filter(|m| m.kind != MarkerKind::RtoTarget)
            .map(|m| m.t_ms)
            .chain([last_event, 1000])
            .max()
            .unwrap_or(1000);
        let end_ms = end_ms + end_ms / 20;
        Chart {
            end_ms,
            versions,
            slo_error_rate: scenario.slo.max_error_rate,
            slo_p99_ms: scenario.slo.p99.as_millis() as f64,
            markers,
        }
    }
}

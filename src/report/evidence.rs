//! The evidence of one drill, as the course asks a team to keep it: the
//! migration plan, the incident timeline (every move with its scenario time
//! and result), the observed failure signal, recovery time against the RTO,
//! the RPO, the score with its feedback, and a postmortem skeleton.
//!
//! [`Evidence::build`] is a pure function of the scenario, the transcript
//! and its score; the Markdown, JSON (and later HTML) renderers only lay it
//! out, so every format tells the same story.

use serde::Serialize;

use super::postmortem::{Postmortem, postmortem};

use crate::scenario::{Dur, Scenario};
use crate::score::{Score, recovery};
use crate::transcript::{
    EndReason, EventKind, Level, Parsed, Transcript, Window, check_finding, first_line,
};

pub use crate::text::utc;

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct Evidence {
    /// The drill.
    pub scenario: ScenarioInfo,
    /// When it was played (UTC, `YYYY-MM-DD HH:MM:SS`).
    pub started: String,
    /// Scenario seconds per real second.
    pub time_scale: f64,
    /// The workload's seed.
    pub seed: u64,
    /// The pgdrill that recorded it.
    pub pgdrill_version: String,
    /// Where its servers ran (`local`, `docker`, `external`), when the
    /// transcript says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// Who played, when the transcript says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub learner: Option<String>,
    /// When and why it ended.
    pub ended: Option<Ended>,
    /// Migration plans the learner recorded.
    pub plan: Vec<PlanEntry>,
    /// Approvals recorded.
    pub approvals: Vec<Entry>,
    /// Go/no-go decisions.
    pub decisions: Vec<Decision>,
    /// What showed that something was wrong.
    pub signal: Option<Signal>,
    /// Incident timing against the RTO.
    pub recovery: RecoveryInfo,
    /// Writes lost against the RPO.
    pub rpo: Option<RpoInfo>,
    /// Every event but the metrics windows, in order.
    pub timeline: Vec<Line>,
    /// Notes and stakeholder updates.
    pub notes: Vec<Entry>,
    /// The score.
    pub score: Score,
    /// A postmortem to complete.
    pub postmortem: Postmortem,
    /// What the charts show.
    pub chart: super::chart::Chart,
}

/// The drill played.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioInfo {
    /// Id.
    pub id: String,
    /// Title.
    pub title: String,
    /// `incident` or `rollout`.
    pub kind: crate::scenario::ScenarioKind,
    /// Course material it trains.
    pub trains: Vec<String>,
}

/// How the drill ended.
#[derive(Debug, Clone, Serialize)]
pub struct Ended {
    /// Scenario time.
    pub t_ms: u64,
    /// Why.
    pub reason: EndReason,
}

/// A recorded migration plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanEntry {
    /// When it was recorded.
    pub t_ms: u64,
    /// Migration id.
    pub migration: String,
    /// How the scenario declares it.
    pub declared_kind: Option<String>,
    /// How the learner classified it.
    pub classified: String,
    /// Rollback window.
    pub window: String,
    /// Its owner.
    pub owner: String,
    /// What it is for.
    pub purpose: Option<String>,
}

/// A timed line of text.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    /// Scenario time.
    pub t_ms: u64,
    /// What.
    pub text: String,
}

/// A go/no-go decision.
#[derive(Debug, Clone, Serialize)]
pub struct Decision {
    /// Scenario time.
    pub t_ms: u64,
    /// Go or no-go.
    pub go: bool,
    /// On which migration.
    pub migration: String,
    /// The reasons given.
    pub reason: String,
}

/// The failure signal: the first window that broke the SLO, and the worst.
#[derive(Debug, Clone, Serialize)]
pub struct Signal {
    /// The first window out of the SLO.
    pub first: WindowInfo,
    /// The window with the highest error rate (or p99).
    pub worst: WindowInfo,
    /// The first alert the engine raised.
    pub alert: Option<Entry>,
    /// Integrity checks that failed, with what they found, first failure each.
    pub checks: Vec<Entry>,
}

/// One metrics window, summarised.
#[derive(Debug, Clone, Serialize)]
pub struct WindowInfo {
    /// Scenario time it starts.
    pub t_ms: u64,
    /// Requests completed.
    pub requests: u64,
    /// Share that failed.
    pub error_rate: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// The most frequent error: code, meaning, count, where.
    pub top_error: Option<String>,
}

impl WindowInfo {
    /// In words: `error rate 6.9% of 29 requests, p99 2007ms, top error ...`.
    pub fn describe(&self) -> String {
        format!(
            "error rate {:.1}% of {} requests, p99 {:.0}ms{}",
            self.error_rate * 100.0,
            self.requests,
            self.p99_ms,
            self.top_error
                .as_ref()
                .map(|e| format!(", top error {e}"))
                .unwrap_or_default()
        )
    }
}

/// Incident timing.
#[derive(Debug, Clone, Serialize)]
pub struct RecoveryInfo {
    /// When the incident began (SLO or an integrity check).
    pub incident_start_ms: Option<u64>,
    /// When the service was healthy again for good.
    pub recovered_ms: Option<u64>,
    /// Recovery time.
    pub rto_ms: Option<u64>,
    /// Its target.
    pub rto_target_ms: u64,
    /// Whether the target was met.
    pub met: bool,
}

/// Lost writes.
#[derive(Debug, Clone, Serialize)]
pub struct RpoInfo {
    /// Acknowledged writes.
    pub writes: u64,
    /// Missing at the end.
    pub missing: u64,
    /// Most that may be missing, when graded.
    pub target: Option<u64>,
    /// Within target (or not graded and none lost).
    pub met: bool,
}

/// Where a timeline line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The drill started.
    Start,
    /// The scenario's pipeline (releases, jobs, snapshots).
    Pipeline,
    /// A fault the learner was not told about.
    Fault,
    /// An alert.
    Alert,
    /// Recovery.
    Recovered,
    /// Something noticed, for the record.
    Info,
    /// A learner's move.
    Move,
    /// An integrity check changed state.
    Check,
    /// The RPO measurement.
    Rpo,
    /// A hint taken.
    Hint,
    /// The end.
    End,
}

impl Source {
    /// A short label for tables.
    pub fn label(self) -> &'static str {
        match self {
            Source::Start => "start",
            Source::Pipeline => "pipeline",
            Source::Fault => "fault",
            Source::Alert => "ALERT",
            Source::Recovered => "recovered",
            Source::Info => "info",
            Source::Move => "move",
            Source::Check => "check",
            Source::Rpo => "rpo",
            Source::Hint => "hint",
            Source::End => "end",
        }
    }
}

/// One line of the timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Line {
    /// Scenario time.
    pub t_ms: u64,
    /// Where it comes from.
    pub source: Source,
    /// What happened (a move as typed).
    pub text: String,
    /// A move's result.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    /// Whether a move succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ok: Option<bool>,
    /// Whether it is a move that changed nothing (looked, waited, asked
    /// for a hint): the postmortem leaves those out.
    #[serde(skip)]
    pub changes_nothing: bool,
}

fn window_info(w: &Window) -> WindowInfo {
    let top_error = w.top_error_described();
    WindowInfo {
        t_ms: w.start_ms,
        requests: w.requests,
        error_rate: w.error_rate(),
        p99_ms: w.p99_ms,
        top_error,
    }
}

impl Evidence {
    /// Gathers the evidence of a drill.
    pub fn build(scenario: &Scenario, transcript: &Transcript, score: &Score) -> Evidence {
        let mut g = Gathered::default();
        for e in &transcript.events {
            g.event(scenario, e.t_ms, &e.kind);
        }
        let signal = signal(scenario, transcript, score, &g);
        let recovery = RecoveryInfo {
            incident_start_ms: score.incident_start_ms,
            recovered_ms: score.recovered_ms,
            rto_ms: score.rto_ms,
            rto_target_ms: score.rto_target_ms,
            met: score.rto_ms.is_some_and(|r| r <= score.rto_target_ms),
        };
        let rpo = score.rpo.as_ref().map(|r| RpoInfo {
            writes: r.writes,
            missing: r.missing,
            target: score.rpo_target,
            met: r.error.is_none() && r.missing <= score.rpo_target.unwrap_or(0),
        });
        let ended = transcript
            .end()
            .map(|(t_ms, reason)| Ended { t_ms, reason });
        let postmortem = postmortem(
            scenario,
            score,
            &g.timeline,
            &recovery,
            rpo.as_ref(),
            &signal,
        );
        Evidence {
            scenario: ScenarioInfo {
                id: scenario.id.clone(),
                title: scenario.title.clone(),
                kind: scenario.kind,
                trains: scenario.trains.clone(),
            },
            started: utc(transcript.started_at),
            time_scale: transcript.time_scale,
            seed: transcript.seed,
            pgdrill_version: transcript.pgdrill_version.clone(),
            backend: transcript.backend.clone(),
            learner: transcript.learner.clone(),
            chart: super::chart::Chart::build(scenario, transcript, score),
            ended,
            plan: g.plan,
            approvals: g.approvals,
            decisions: g.decisions,
            signal,
            recovery,
            rpo,
            timeline: g.timeline,
            notes: g.notes,
            score: score.clone(),
            postmortem,
        }
    }
}

/// What the events say, gathered in one pass.
#[derive(Default)]
struct Gathered {
    timeline: Vec<Line>,
    plan: Vec<PlanEntry>,
    approvals: Vec<Entry>,
    decisions: Vec<Decision>,
    notes: Vec<Entry>,
    first_alert: Option<Entry>,
    /// The first failure of each integrity check.
    check_failures: Vec<Entry>,
}

impl Gathered {
    fn event(&mut self, scenario: &Scenario, t_ms: u64, kind: &EventKind) {
        let line = |source, text: &str| Line {
            t_ms,
            source,
            text: text.to_string(),
            result: None,
            ok: None,
            changes_nothing: false,
        };
        let entry = |text: &str| Entry {
            t_ms,
            text: text.to_string(),
        };
        match kind {
            EventKind::Window(_) => {}
            EventKind::Started { message } => self.timeline.push(line(Source::Start, message)),
            EventKind::Timeline { message, hidden } => {
                let source = if *hidden {
                    Source::Fault
                } else {
                    Source::Pipeline
                };
                self.timeline.push(line(source, message));
            }
            EventKind::Observation { level, message } => {
                let source = match level {
                    Level::Alert => Source::Alert,
                    Level::Recovered => Source::Recovered,
                    Level::Info => Source::Info,
                };
                if source == Source::Alert && self.first_alert.is_none() {
                    self.first_alert = Some(entry(message));
                }
                self.timeline.push(line(source, message));
            }
            EventKind::Move(m) => {
                self.timeline.push(Line {
                    result: Some(first_line(&m.result, 160)),
                    ok: Some(m.ok),
                    changes_nothing: m.changes_nothing(),
                    ..line(Source::Move, &m.input)
                });
                if let (true, Some(parsed)) = (m.ok, m.parsed.as_deref()) {
                    self.said(scenario, t_ms, parsed);
                }
            }
            EventKind::Check {
                name,
                ok,
                bad,
                error,
            } => {
                let what = match (ok, check_finding(*bad, error.as_deref())) {
                    (true, _) => format!("{name} passes"),
                    (false, f) if f.is_empty() => format!("{name} fails"),
                    (false, f) => format!("{name} fails: {f}"),
                };
                let first = !self
                    .check_failures
                    .iter()
                    .any(|c| c.text.starts_with(name.as_str()));
                if !ok && first {
                    self.check_failures.push(entry(&what));
                }
                self.timeline.push(line(Source::Check, &what));
            }
            EventKind::Rpo(r) => {
                let text = match &r.error {
                    Some(err) => format!("RPO could not be measured: {err}"),
                    None => format!(
                        "RPO measured: {} of {} acknowledged writes missing",
                        r.missing, r.writes
                    ),
                };
                self.timeline.push(line(Source::Rpo, &text));
            }
            EventKind::Hint { n, text } => self
                .timeline
                .push(line(Source::Hint, &format!("hint {n}: {text}"))),
            EventKind::Ended { reason } => self.timeline.push(line(
                Source::End,
                &format!("the drill ended: {}", reason.describe()),
            )),
        }
    }

    /// What a successful move recorded: a plan, an approval, a decision, a
    /// note or an update.
    fn said(&mut self, scenario: &Scenario, t_ms: u64, parsed: &Parsed) {
        let entry = |text: String| Entry { t_ms, text };
        match parsed.clone() {
            Parsed::Plan {
                migration,
                classified,
                window_ms,
                owner,
                purpose,
            } => self.plan.push(PlanEntry {
                t_ms,
                declared_kind: scenario
                    .migrations
                    .get(&migration)
                    .map(|mig| mig.kind.to_string()),
                migration,
                classified,
                window: Dur(std::time::Duration::from_millis(window_ms)).to_string(),
                owner,
                purpose,
            }),
            Parsed::Approval { what, by, role } => {
                let capacity = role.map(|r| format!(" as {r}")).unwrap_or_default();
                self.approvals
                    .push(entry(format!("{what}, approved by {by}{capacity}")))
            }
            Parsed::Decision {
                go,
                migration,
                reason,
            } => self.decisions.push(Decision {
                t_ms,
                go,
                migration,
                reason,
            }),
            Parsed::Note { text } => self.notes.push(entry(format!("note: {text}"))),
            Parsed::Comms { text } => self
                .notes
                .push(entry(format!("update to stakeholders: {text}"))),
            Parsed::Look | Parsed::Act => {}
        }
    }
}

/// The failure signal: the window the incident began in (or the first
/// unhealthy one), the worst after it, the first alert and the failing
/// checks; failing checks alone are a signal too.
fn signal(
    scenario: &Scenario,
    transcript: &Transcript,
    score: &Score,
    g: &Gathered,
) -> Option<Signal> {
    let windows: Vec<&Window> = transcript.windows().collect();
    let first_bad = windows
        .iter()
        .find(|w| {
            score
                .recovery
                .incident_start_ms
                .is_some_and(|t| (w.start_ms..w.end_ms.max(w.start_ms + 1)).contains(&t))
        })
        .or_else(|| {
            windows
                .iter()
                .find(|w| !recovery::healthy(&scenario.slo, w))
        });
    let signal = |first: WindowInfo, worst: WindowInfo| Signal {
        first,
        worst,
        alert: g.first_alert.clone(),
        checks: g.check_failures.clone(),
    };
    if let Some(first) = first_bad {
        let worst = windows
            .iter()
            .filter(|w| w.start_ms >= first.start_ms)
            .max_by(|a, b| {
                (a.error_rate(), a.p99_ms)
                    .partial_cmp(&(b.error_rate(), b.p99_ms))
                    .unwrap_or(std::cmp::Ordering::Equal)
            })
            .copied()
            .unwrap_or(first);
        return Some(signal(window_info(first), window_info(worst)));
    }
    let failed = g.check_failures.first()?;
    let quiet = WindowInfo {
        t_ms: failed.t_ms,
        requests: 0,
        error_rate: 0.0,
        p99_ms: 0.0,
        top_error: None,
    };
    Some(signal(quiet.clone(), quiet))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_dates() {
        assert_eq!(utc(0), "1970-01-01 00:00:00");
        assert_eq!(utc(951_782_400), "2000-02-29 00:00:00");
        assert_eq!(utc(1_795_000_000), "2026-11-18 11:06:40");
    }
}

//! Scoring: a pure function of a scenario and a transcript.
//!
//! Points for each required step done in an allowed order; penalties for
//! forbidden moves and hints; RTO from the metrics windows. A drill passes
//! when it was resolved, recovered within the RTO, reached the pass mark and
//! broke no hard stop. Every line of the result says why, citing the
//! runbook rule the scenario gives. No database: an instructor can re-score
//! any saved transcript.

pub mod recovery;

use serde::{Deserialize, Serialize};

use crate::scenario::{Dur, Scenario};
use crate::transcript::{EndReason, Transcript};

pub use recovery::Recovery;

/// A scored drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Scenario id.
    pub scenario: String,
    /// Points earned (may be negative).
    pub points: i64,
    /// Points the steps can give.
    pub max_points: u32,
    /// Points needed to pass.
    pub pass_mark: u32,
    /// The verdict.
    pub passed: bool,
    /// Incident timing.
    pub recovery: Recovery,
    /// RTO target in milliseconds.
    pub rto_target_ms: u64,
    /// Every line of the score.
    pub items: Vec<Item>,
    /// Why it failed (empty when passed).
    pub reasons: Vec<String>,
}

/// One line of a score.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Item {
    /// What kind of line.
    pub kind: ItemKind,
    /// Short label (step id, the move).
    pub label: String,
    /// Points given or taken.
    pub points: i64,
    /// Scenario time it refers to.
    pub t_ms: Option<u64>,
    /// What happened and, for deductions, the lesson.
    pub detail: String,
}

/// Kinds of score lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A required step, done in order.
    Step,
    /// A required step not done, or done out of order.
    MissedStep,
    /// A forbidden move.
    Forbidden,
    /// A hint taken.
    Hint,
}

/// Formats scenario milliseconds as `1m05s`.
pub fn clock(ms: u64) -> String {
    let secs = ms / 1000;
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Scores a transcript against its scenario.
pub fn score(scenario: &Scenario, transcript: &Transcript) -> Score {
    let rubric = &scenario.rubric;
    let recovery = recovery::analyze(&scenario.slo, transcript.windows());
    let moves: Vec<(u64, &crate::transcript::Move)> =
        transcript.moves().filter(|(_, m)| m.ok).collect();

    // The earliest successful match of each step, regardless of order.
    let first = |id: &str| -> Option<u64> {
        let step = rubric.steps.iter().find(|s| s.id == id)?;
        moves
            .iter()
            .find(|(_, m)| step.moves.matches(&m.canonical))
            .map(|(t, _)| *t)
    };

    let mut items = Vec::new();
    for step in &rubric.steps {
        let matches: Vec<u64> = moves
            .iter()
            .filter(|(_, m)| step.moves.matches(&m.canonical))
            .map(|(t, _)| *t)
            .collect();
        let in_order = |t: u64| {
            step.after.iter().all(|a| first(a).is_some_and(|ta| ta < t))
                && step.before.iter().all(|b| first(b).is_none_or(|tb| tb > t))
        };
        match matches.iter().copied().find(|t| in_order(*t)) {
            Some(t) => items.push(Item {
                kind: ItemKind::Step,
                label: step.id.clone(),
                points: i64::from(step.points),
                t_ms: Some(t),
                detail: format!("`{}` at {}", step.moves.0[0], clock(t)),
            }),
            None if matches.is_empty() => items.push(Item {
                kind: ItemKind::MissedStep,
                label: step.id.clone(),
                points: 0,
                t_ms: None,
                detail: format!("never done (`{}`): {}", step.moves, step.why),
            }),
            None => {
                let t = matches[0];
                let mut order = Vec::new();
                for a in &step.after {
                    if first(a).is_none_or(|ta| ta >= t) {
                        order.push(format!("before `{a}`"));
                    }
                }
                for b in &step.before {
                    if first(b).is_some_and(|tb| tb <= t) {
                        order.push(format!("after `{b}`"));
                    }
                }
                items.push(Item {
                    kind: ItemKind::MissedStep,
                    label: step.id.clone(),
                    points: 0,
                    t_ms: Some(t),
                    detail: format!(
                        "out of order at {} ({}): {}",
                        clock(t),
                        order.join(", "),
                        step.why
                    ),
                });
            }
        }
    }

    let mut fatal = Vec::new();
    for rule in &rubric.forbid {
        let broken = moves.iter().find(|(t, m)| {
            rule.moves.matches(&m.canonical)
                && rule
                    .while_serving
                    .as_deref()
                    .is_none_or(|v| m.state.serving(v))
                && rule
                    .before
                    .iter()
                    .all(|b| first(b).is_none_or(|tb| tb > *t))
                && (!rule.while_unhealthy || !recovery.healthy_at(*t))
        });
        if let Some((t, m)) = broken {
            let mut context = Vec::new();
            if let Some(v) = &rule.while_serving {
                context.push(format!("while {v} pods were serving"));
            }
            for b in &rule.before {
                context.push(format!("before `{b}`"));
            }
            if rule.while_unhealthy {
                context.push("before the service had recovered".to_string());
            }
            let detail = format!(
                "`{}` at {} {}: {}",
                m.canonical,
                clock(*t),
                context.join(", "),
                rule.why
            );
            if rule.fatal {
                fatal.push(detail.clone());
            }
            items.push(Item {
                kind: ItemKind::Forbidden,
                label: m.canonical.clone(),
                points: -i64::from(rule.penalty),
                t_ms: Some(*t),
                detail,
            });
        }
    }

    for e in &transcript.events {
        if let crate::transcript::EventKind::Hint { n, .. } = &e.kind {
            items.push(Item {
                kind: ItemKind::Hint,
                label: format!("hint {n}"),
                points: -i64::from(rubric.hint_cost),
                t_ms: Some(e.t_ms),
                detail: format!("hint {n} taken at {}", clock(e.t_ms)),
            });
        }
    }

    let points: i64 = items.iter().map(|i| i.points).sum();
    let rto_target_ms = rubric.rto.as_millis();
    let mut reasons = Vec::new();
    match transcript.end() {
        Some((_, EndReason::Resolved)) => {}
        _ => reasons.push("the incident was never declared resolved (`resolve`)".to_string()),
    }
    match (recovery.incident_start_ms, recovery.rto_ms()) {
        (None, _) => reasons.push("the incident had not begun when the drill ended".to_string()),
        (Some(_), None) => reasons.push(format!(
            "the service did not recover: the SLO never held for {} after the incident began",
            scenario.slo.stable_for
        )),
        (Some(_), Some(rto)) if rto > rto_target_ms => reasons.push(format!(
            "recovery took {}, over the RTO of {}",
            clock(rto),
            Dur(std::time::Duration::from_millis(rto_target_ms))
        )),
        _ => {}
    }
    let pass_mark = rubric.pass_mark();
    if points < i64::from(pass_mark) {
        reasons.push(format!(
            "{points} points, below the pass mark of {pass_mark}"
        ));
    }
    for f in fatal {
        reasons.push(format!("hard stop: {f}"));
    }
    Score {
        scenario: scenario.id.clone(),
        points,
        max_points: rubric.max_points(),
        pass_mark,
        passed: reasons.is_empty(),
        recovery,
        rto_target_ms,
        items,
        reasons,
    }
}

#[cfg(test)]
mod tests;

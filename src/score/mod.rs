//! Scoring: a pure function of a scenario and a transcript.
//!
//! Points for each required step done in an allowed order; penalties for
//! forbidden moves and hints; RTO from the metrics windows. A drill passes
//! when it was resolved, recovered within the RTO, reached the pass mark and
//! broke no hard stop. Every line of the result says why, citing the
//! runbook rule the scenario gives. No database: an instructor can re-score
//! any saved transcript.

pub mod guardrails;
pub mod recovery;

use serde::{Deserialize, Serialize};

use crate::scenario::{Dur, Scenario};
use crate::transcript::{EndReason, Rpo, Transcript};

pub use crate::text::clock;

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
    /// When the incident began: the SLO broke or an integrity check failed.
    #[serde(default)]
    pub incident_start_ms: Option<u64>,
    /// When every integrity check passed again (for good), if one failed.
    #[serde(default)]
    pub data_restored_ms: Option<u64>,
    /// When both the service and the data were back for good.
    #[serde(default)]
    pub recovered_ms: Option<u64>,
    /// The longest stretch of the incident, service and data together
    /// ([`recovery::Timing::rto_ms`]).
    #[serde(default)]
    pub rto_ms: Option<u64>,
    /// Acknowledged writes lost, measured at the end.
    #[serde(default)]
    pub rpo: Option<Rpo>,
    /// The most lost writes allowed, when graded.
    #[serde(default)]
    pub rpo_target: Option<u64>,
    /// Every line of the score.
    pub items: Vec<Item>,
    /// Why it failed (empty when passed).
    pub reasons: Vec<String>,
    /// The hard stops broken (each also among the reasons).
    #[serde(default)]
    pub hard_stops: Vec<String>,
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
    /// A built-in guardrail broken.
    Guardrail,
    /// An integrity check's state at the end.
    Check,
    /// Writes lost.
    Rpo,
    /// A hint taken.
    Hint,
}

impl Item {
    /// The points as score tables show them: a gain with its plus sign.
    pub fn signed_points(&self) -> String {
        if self.points > 0 {
            format!("+{}", self.points)
        } else {
            self.points.to_string()
        }
    }
}

impl ItemKind {
    /// The one-word tag of the line in score tables.
    pub fn tag(self) -> &'static str {
        match self {
            ItemKind::Step => "step",
            ItemKind::MissedStep => "missed",
            ItemKind::Forbidden => "forbidden",
            ItemKind::Guardrail => "guardrail",
            ItemKind::Check => "check",
            ItemKind::Rpo => "rpo",
            ItemKind::Hint => "hint",
        }
    }
}

/// A move's text cut to a readable length for a score line.
fn short(text: &str) -> String {
    if text.chars().count() > 60 {
        format!("{}...", text.chars().take(57).collect::<String>())
    } else {
        text.to_string()
    }
}

/// Scores a transcript against its scenario.
pub fn score(scenario: &Scenario, transcript: &Transcript) -> Score {
    let rubric = &scenario.rubric;
    let all_moves: Vec<(u64, &crate::transcript::Move)> = transcript.moves().collect();
    let moves: Vec<(u64, &crate::transcript::Move)> =
        all_moves.iter().copied().filter(|(_, m)| m.ok).collect();
    let step_matches = |step: &crate::scenario::Step, m: &crate::transcript::Move| {
        step.moves.matches(&m.canonical)
            && step
                .mentions
                .iter()
                .all(|w| m.canonical.to_lowercase().contains(&w.to_lowercase()))
    };

    // The earliest successful match of each step, regardless of order.
    let first = |id: &str| -> Option<u64> {
        let step = rubric.steps.iter().find(|s| s.id == id)?;
        moves
            .iter()
            .find(|(_, m)| step_matches(step, m))
            .map(|(t, _)| *t)
    };

    // Service and data together: the same function the engine uses live.
    let timing = recovery::Timing::of(&scenario.slo, transcript);
    let incident_start_ms = timing.incident_start_ms;
    let data_restored_ms = timing.data_restored_ms;
    let healthy_at = |t: u64| timing.healthy_at(t);

    let mut items = Vec::new();
    for step in &rubric.steps {
        let matches: Vec<u64> = moves
            .iter()
            .filter(|(_, m)| step_matches(step, m))
            .map(|(t, _)| *t)
            .collect();
        let in_order = |t: u64| {
            step.after.iter().all(|a| first(a).is_some_and(|ta| ta < t))
                && step.before.iter().all(|b| first(b).is_none_or(|tb| tb > t))
        };
        match matches.iter().copied().find(|t| in_order(*t)) {
            Some(t) => {
                let done = moves
                    .iter()
                    .find(|(tm, m)| *tm == t && step_matches(step, m))
                    .map_or(step.moves.0[0].as_str(), |(_, m)| m.canonical.as_str());
                items.push(Item {
                    kind: ItemKind::Step,
                    label: step.id.clone(),
                    points: i64::from(step.points),
                    t_ms: Some(t),
                    detail: format!("`{}` at {}", short(done), clock(t)),
                })
            }
            None if matches.is_empty() => {
                let near_miss = !step.mentions.is_empty()
                    && moves.iter().any(|(_, m)| step.moves.matches(&m.canonical));
                let what = if near_miss {
                    format!(
                        "done without mentioning {} (`{}`)",
                        step.mentions.join(" and "),
                        step.moves
                    )
                } else {
                    format!("never done (`{}`)", step.moves)
                };
                items.push(Item {
                    kind: ItemKind::MissedStep,
                    label: step.id.clone(),
                    points: 0,
                    t_ms: None,
                    detail: format!("{what}: {}", step.why),
                })
            }
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
        let broken = all_moves.iter().find(|(t, m)| {
            (if rule.only_if_done {
                m.ok
            } else {
                m.attempted()
            }) && rule.moves.matches(&m.canonical)
                && rule.tagged.is_none_or(|tag| m.tagged(tag))
                && rule
                    .while_serving
                    .as_deref()
                    .is_none_or(|v| m.state.serving(v))
                && (rule.before.is_empty()
                    || rule
                        .before
                        .iter()
                        .any(|b| first(b).is_none_or(|tb| tb > *t)))
                && (!rule.while_unhealthy || !healthy_at(*t))
        });
        if let Some((t, m)) = broken {
            let mut context = Vec::new();
            if let Some(v) = &rule.while_serving {
                context.push(format!("while {v} pods were serving"));
            }
            for b in &rule.before {
                if first(b).is_none_or(|tb| tb > *t) {
                    context.push(format!("before `{b}`"));
                }
            }
            if rule.while_unhealthy {
                context.push("before the service had recovered".to_string());
            }
            if let Some(tag) = &rule.tagged {
                context.insert(0, format!("(a {tag} move)"));
            }
            if !m.ok {
                context.push(format!("({})", m.outcome().describe()));
            }
            let detail = format!(
                "`{}` at {}{}: {}",
                m.canonical,
                clock(*t),
                if context.is_empty() {
                    String::new()
                } else {
                    format!(" {}", context.join(", "))
                },
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

    let facts = guardrails::Facts {
        moves: &all_moves,
        incident_start_ms,
        healthy_at: &healthy_at,
    };
    for b in guardrails::broken(scenario, &facts) {
        let detail = format!(
            "`{}` at {} {}: {}",
            b.mv.canonical,
            clock(b.t_ms),
            b.context,
            b.rule.why
        );
        if b.rule.fatal {
            fatal.push(detail.clone());
        }
        items.push(Item {
            kind: ItemKind::Guardrail,
            label: b.rule.id.to_string(),
            points: -i64::from(b.rule.penalty),
            t_ms: Some(b.t_ms),
            detail,
        });
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

    let mut reasons = Vec::new();
    for check in &scenario.checks {
        let Some(runs) = timing.runs(&check.name) else {
            continue;
        };
        let (t, ok, what) = runs.last().cloned().unwrap_or_default();
        let detail = if ok {
            format!("passes at the end (since {})", clock(t))
        } else {
            format!("still fails at the end ({what}): {}", check.why)
        };
        if !ok {
            reasons.push(format!("integrity check `{}` {detail}", check.name));
        }
        items.push(Item {
            kind: ItemKind::Check,
            label: check.name.clone(),
            points: 0,
            t_ms: Some(t),
            detail,
        });
    }

    let rpo = transcript.rpo().cloned();
    if let Some(r) = &rpo {
        let detail = match (&r.error, r.missing) {
            (Some(e), _) => format!("could not be measured: {e}"),
            (None, 0) => format!("all {} acknowledged writes are present", r.writes),
            (None, n) => format!(
                "{n} of {} acknowledged writes are missing (written {} to {}): handle writes lost since the backup by replay or backfill (runbook 003, restore flow step 5)",
                r.writes,
                clock(r.first_missing_ms.unwrap_or_default()),
                clock(r.last_missing_ms.unwrap_or_default())
            ),
        };
        if let Some(max) = rubric.rpo
            && (r.error.is_some() || r.missing > max)
        {
            reasons.push(format!("RPO: {detail} (at most {max} may be lost)"));
        }
        items.push(Item {
            kind: ItemKind::Rpo,
            label: "RPO".into(),
            points: 0,
            t_ms: None,
            detail,
        });
    }

    let points: i64 = items.iter().map(|i| i.points).sum();
    let rto_target_ms = rubric.rto.as_millis();
    let stopped = matches!(transcript.end(), Some((_, EndReason::HardStop)));
    match transcript.end() {
        // A hard stop ends the drill; it is its own reason.
        Some((_, EndReason::Resolved | EndReason::HardStop)) => {}
        Some((at, EndReason::ServerDied)) => reasons.push(format!(
            "the drill's PostgreSQL server stopped unexpectedly at {}: nothing after that was the learner's doing; run the drill again",
            clock(at)
        )),
        _ => reasons.push("the incident was never declared resolved (`resolve`)".to_string()),
    }
    let service_back = timing.service_back_ms();
    let rto_ms = timing.rto_ms();
    match (incident_start_ms, rto_ms) {
        (None, _) if stopped => {}
        (None, _) if scenario.kind == crate::scenario::ScenarioKind::Rollout => reasons.push(
            "the rollout never met its fault, so the rollback drill was never exercised"
                .to_string(),
        ),
        (None, _) => reasons.push("the incident had not begun when the drill ended".to_string()),
        (Some(_), None) if service_back.is_none() => reasons.push(format!(
            "the service did not recover: the SLO never held for {} after the incident began",
            scenario.slo.stable_for
        )),
        (Some(_), None) => {}
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
    let hard_stops: Vec<String> = fatal
        .into_iter()
        .map(|f| format!("hard stop: {f}"))
        .collect();
    reasons.extend(hard_stops.iter().cloned());
    Score {
        scenario: scenario.id.clone(),
        points,
        max_points: rubric.max_points(),
        pass_mark,
        passed: reasons.is_empty(),
        recovered_ms: timing.recovered_ms(),
        recovery: timing.service,
        rto_target_ms,
        incident_start_ms,
        data_restored_ms,
        rto_ms,
        rpo,
        rpo_target: rubric.rpo,
        items,
        reasons,
        hard_stops,
    }
}

#[cfg(test)]
mod tests;

//! Scoring: a pure function of a scenario and a transcript.
//!
//! Points for each required step done in an allowed order; penalties for
//! forbidden moves and hints; RTO from the metrics windows. A drill passes
//! when it was resolved, recovered within the RTO, reached the pass mark and
//! broke no hard stop. Every line of the result says why, citing the
//! runbook rule the scenario gives. No database: an instructor can re-score
//! any saved transcript.

mod cadence;
mod forbidden;
pub mod guardrails;
mod integrity;
pub mod recovery;
mod steps;
mod verdict;

use serde::{Deserialize, Serialize};

use crate::scenario::{Rubric, Scenario, Step};
use crate::transcript::{Move, Rpo, Transcript};

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
    /// The lesson alone: the rule's `why`, the sentence a follow-up
    /// carries. Reports read it here, never out of `detail`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lesson: Option<String>,
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
    /// Stakeholders went too long without a status update.
    Comms,
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
            ItemKind::Comms => "comms",
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

/// Scores a transcript against its scenario: the rubric's steps, its
/// forbidden moves, the built-in guardrails, hints, the integrity checks
/// and the RPO give the lines; the verdict adds what a pass also needs.
pub fn score(scenario: &Scenario, transcript: &Transcript) -> Score {
    let rubric = &scenario.rubric;
    let played = Played::of(transcript, rubric);
    // Service and data together: the same function the engine uses live.
    let timing = recovery::Timing::of(&scenario.slo, transcript);
    let healthy_at = |t: u64| timing.healthy_at(t);

    let mut items = steps::items(&played);
    let mut fatal = Vec::new();
    forbidden::items(&played, &healthy_at, &mut items, &mut fatal);
    let facts = guardrails::Facts {
        moves: &played.all,
        incident_start_ms: timing.incident_start_ms,
        healthy_at: &healthy_at,
    };
    for b in guardrails::broken(scenario, &facts) {
        let why = b.rule.why_in(scenario);
        let detail = format!(
            "`{}` at {} {}: {why}",
            b.mv.canonical,
            clock(b.t_ms),
            b.context,
        );
        if b.rule.fatal {
            fatal.push(detail.clone());
        }
        items.push(Item {
            kind: ItemKind::Guardrail,
            label: b.rule.id.to_string(),
            points: -i64::from(b.rule.penalty_in(scenario)),
            t_ms: Some(b.t_ms),
            detail,
            lesson: Some(why.to_string()),
        });
    }
    items.extend(cadence::items(rubric, &played, transcript, &timing));
    items.extend(hints(transcript, rubric.hint_cost));
    let mut reasons = Vec::new();
    items.extend(integrity::checks(scenario, &timing, &mut reasons));
    let rpo = transcript.rpo().cloned();
    items.extend(
        rpo.as_ref()
            .map(|r| integrity::rpo(r, rubric.rpo, &mut reasons)),
    );

    let points: i64 = items.iter().map(|i| i.points).sum();
    let hard_stops: Vec<String> = fatal
        .into_iter()
        .map(|f| format!("hard stop: {f}"))
        .collect();
    reasons.extend(verdict::reasons(scenario, transcript, &timing, points));
    reasons.extend(hard_stops.iter().cloned());
    Score {
        scenario: scenario.id.clone(),
        points,
        max_points: rubric.max_points(),
        pass_mark: rubric.pass_mark(),
        passed: reasons.is_empty(),
        recovered_ms: timing.recovered_ms(),
        rto_target_ms: rubric.rto.as_millis(),
        incident_start_ms: timing.incident_start_ms,
        data_restored_ms: timing.data_restored_ms,
        rto_ms: timing.rto_ms(),
        recovery: timing.service,
        rpo,
        rpo_target: rubric.rpo,
        items,
        reasons,
        hard_stops,
    }
}

/// The moves of a drill as the rubric reads them.
pub(crate) struct Played<'a> {
    rubric: &'a Rubric,
    /// Every move, attempted or not, in time order.
    all: Vec<(u64, &'a Move)>,
    /// The moves that succeeded.
    done: Vec<(u64, &'a Move)>,
}

impl<'a> Played<'a> {
    fn of(transcript: &'a Transcript, rubric: &'a Rubric) -> Played<'a> {
        let all: Vec<(u64, &Move)> = transcript.moves().collect();
        let done = all.iter().copied().filter(|(_, m)| m.ok).collect();
        Played { rubric, all, done }
    }

    /// Whether a move does a step: its pattern, and the words it must
    /// mention.
    fn does(step: &Step, m: &Move) -> bool {
        step.moves.matches(&m.canonical)
            && step
                .mentions
                .iter()
                .all(|w| m.canonical.to_lowercase().contains(&w.to_lowercase()))
    }

    /// The earliest time the step `id` stood done, in any order.
    fn first(&self, id: &str) -> Option<u64> {
        let step = self.rubric.steps.iter().find(|s| s.id == id)?;
        self.times(step).first().copied()
    }

    /// The times a step stands done: each successful move doing it, or,
    /// for a step with `approvers`, each approval from the one that first
    /// covers every role with different people.
    fn times(&self, step: &Step) -> Vec<u64> {
        let doing = self.done.iter().filter(|(_, m)| Played::does(step, m));
        if step.approvers.is_empty() {
            return doing.map(|(t, _)| *t).collect();
        }
        let mut given: Vec<(&str, &str)> = Vec::new();
        let mut out = Vec::new();
        for (t, m) in doing {
            if let Some(crate::transcript::Parsed::Approval {
                by,
                role: Some(role),
                ..
            }) = m.parsed.as_deref()
            {
                given.push((by.as_str(), role.as_str()));
            }
            if !out.is_empty() || approvers_covered(&step.approvers, &given) {
                out.push(*t);
            }
        }
        out
    }
}

/// Whether `given` approvals (person, role) cover every role in `roles`
/// with a different person for each (roles and names ignore case).
fn approvers_covered(roles: &[String], given: &[(&str, &str)]) -> bool {
    fn assign(roles: &[String], given: &[(&str, &str)], used: &mut Vec<String>) -> bool {
        let Some((role, rest)) = roles.split_first() else {
            return true;
        };
        for (by, r) in given {
            let by = by.to_lowercase();
            if r.eq_ignore_ascii_case(role) && !used.contains(&by) {
                used.push(by);
                if assign(rest, given, used) {
                    return true;
                }
                used.pop();
            }
        }
        false
    }
    assign(roles, given, &mut Vec::new())
}

/// A line per hint taken.
fn hints(transcript: &Transcript, cost: u32) -> Vec<Item> {
    transcript
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            crate::transcript::EventKind::Hint { n, .. } => Some(Item {
                kind: ItemKind::Hint,
                label: format!("hint {n}"),
                points: -i64::from(cost),
                t_ms: Some(e.t_ms),
                detail: format!("hint {n} taken at {}", clock(e.t_ms)),
                lesson: None,
            }),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;

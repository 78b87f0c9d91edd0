//! The postmortem skeleton of a drill (runbook 003: timeline, root cause,
//! detection and mitigation, permanent fixes), prefilled from its evidence:
//! what changed before the incident, how it was noticed, the moves that
//! mitigated it, and a follow-up for every deduction's lesson.

use serde::Serialize;

use super::evidence::{Line, RecoveryInfo, RpoInfo, Signal, Source};
use crate::scenario::Scenario;
use crate::score::{ItemKind, Score, clock};

/// A postmortem skeleton (runbook 003: timeline, root cause, detection and
/// mitigation, permanent fixes), prefilled from the drill.
#[derive(Debug, Clone, Serialize)]
pub struct Postmortem {
    /// What happened, in a paragraph.
    pub summary: String,
    /// The key moments.
    pub timeline: Vec<Line>,
    /// What changed right before the incident.
    pub changes: Vec<Line>,
    /// How it was noticed.
    pub detection: Vec<String>,
    /// The moves that changed something between the incident's start and
    /// recovery.
    pub mitigation: Vec<Line>,
    /// Follow-up tasks: every deduction's lesson, then the runbook's
    /// typical corrective actions.
    pub follow_ups: Vec<String>,
}

/// Runbook 003's typical corrective actions, offered as follow-ups.
const TYPICAL_FOLLOW_UPS: &[&str] = &[
    "Improve migration tests and preflight procedures (runbook 003, post-incident).",
    "Enforce the backup-before-migration policy and verify the restore steps (runbook 003, post-incident).",
    "Adopt the add → backfill → enforce pattern; split destructive changes into a later release (runbook 003; runbook 004, preventive controls).",
    "Add guardrails for destructive operations and limit automatic backfills (runbook 003, post-incident).",
];

/// The postmortem skeleton of a drill, from its evidence.
pub(super) fn postmortem(
    scenario: &Scenario,
    score: &Score,
    timeline: &[Line],
    recovery: &RecoveryInfo,
    rpo: Option<&RpoInfo>,
    signal: &Option<Signal>,
) -> Postmortem {
    let start = recovery.incident_start_ms;
    let changes = changes_before(timeline, start);
    let mitigation: Vec<Line> = match start {
        Some(s) => timeline
            .iter()
            .filter(|l| {
                l.source == Source::Move
                    && l.t_ms >= s
                    && recovery.recovered_ms.is_none_or(|r| l.t_ms <= r)
                    && !l.changes_nothing
            })
            .cloned()
            .collect(),
        None => Vec::new(),
    };
    let key = |l: &Line| {
        matches!(
            l.source,
            Source::Fault | Source::Alert | Source::Recovered | Source::End
        ) || (l.source == Source::Pipeline && start.is_some_and(|s| l.t_ms <= s))
            || mitigation
                .iter()
                .any(|m| m.t_ms == l.t_ms && m.text == l.text)
            || changes.iter().any(|c| c.t_ms == l.t_ms && c.text == l.text)
    };
    let mut follow_ups: Vec<String> = score
        .items
        .iter()
        .filter(|i| {
            matches!(
                i.kind,
                ItemKind::MissedStep | ItemKind::Forbidden | ItemKind::Guardrail | ItemKind::Comms
            )
        })
        .map(|i| format!("{}: {}", i.label, i.lesson.as_deref().unwrap_or(&i.detail)))
        .collect();
    follow_ups.extend(TYPICAL_FOLLOW_UPS.iter().map(|s| s.to_string()));
    Postmortem {
        summary: summary(scenario, recovery, rpo, &mitigation),
        timeline: timeline.iter().filter(|l| key(l)).cloned().collect(),
        changes,
        detection: detection(signal.as_ref()),
        mitigation,
        follow_ups,
    }
}

/// The last five changes (pipeline, faults, moves that changed something)
/// up to the incident's start.
fn changes_before(timeline: &[Line], start: Option<u64>) -> Vec<Line> {
    let Some(s) = start else {
        return Vec::new();
    };
    let is_change = |l: &Line| match l.source {
        Source::Pipeline | Source::Fault => true,
        Source::Move => l.ok == Some(true) && !l.changes_nothing,
        _ => false,
    };
    let before: Vec<&Line> = timeline
        .iter()
        .filter(|l| l.t_ms <= s && is_change(l))
        .collect();
    before
        .iter()
        .skip(before.len().saturating_sub(5))
        .map(|l| (*l).clone())
        .collect()
}

/// How the incident showed: the first bad window, failing checks, the
/// first alert.
fn detection(signal: Option<&Signal>) -> Vec<String> {
    let Some(sig) = signal else {
        return Vec::new();
    };
    let mut detection = Vec::new();
    if sig.first.requests > 0 {
        detection.push(format!(
            "First window out of the SLO at {}: {}.",
            clock(sig.first.t_ms),
            sig.first.describe()
        ));
    }
    for c in &sig.checks {
        detection.push(format!("Integrity check at {}: {}.", clock(c.t_ms), c.text));
    }
    if let Some(a) = &sig.alert {
        detection.push(format!(
            "Alert at {}: {}.",
            clock(a.t_ms),
            a.text.trim_end_matches('.')
        ));
    }
    detection
}

/// The summary paragraph: when it began, the first fix, recovery against
/// the RTO, writes lost.
fn summary(
    scenario: &Scenario,
    recovery: &RecoveryInfo,
    rpo: Option<&RpoInfo>,
    mitigation: &[Line],
) -> String {
    let Some(s) = recovery.incident_start_ms else {
        return format!(
            "{}. No incident occurred: the SLO held and every integrity check passed.",
            scenario.title
        );
    };
    let first_fix = mitigation
        .first()
        .map(|l| {
            format!(
                " The first mitigating move was `{}` at {}.",
                l.text,
                clock(l.t_ms)
            )
        })
        .unwrap_or_default();
    let back = match (recovery.recovered_ms, recovery.rto_ms) {
        (Some(r), Some(rto)) => format!(
            " Service and data were back at {}: recovery took {} against an RTO of {} ({}).",
            clock(r),
            clock(rto),
            clock(recovery.rto_target_ms),
            if recovery.met { "met" } else { "missed" }
        ),
        _ => " The service did not recover before the drill ended.".to_string(),
    };
    let lost = rpo
        .map(|r| {
            format!(
                " {} of {} acknowledged writes were lost.",
                r.missing, r.writes
            )
        })
        .unwrap_or_default();
    format!(
        "{}. The incident began at {}.{first_fix}{back}{lost}",
        scenario.title,
        clock(s)
    )
}

//! What a pass needs beyond the points: the incident resolved, the service
//! recovered within the RTO, the pass mark reached. Each unmet one is a
//! reason, in words the learner can act on.

use super::clock;
use super::recovery::Timing;
use crate::scenario::{Dur, Scenario, ScenarioKind};
use crate::transcript::{EndReason, Transcript};

/// The reasons the drill fails, hard stops aside.
pub(super) fn reasons(
    scenario: &Scenario,
    transcript: &Transcript,
    timing: &Timing,
    points: i64,
) -> Vec<String> {
    let mut reasons = Vec::new();
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
    let rto_target_ms = scenario.rubric.rto.as_millis();
    match (timing.incident_start_ms, timing.rto_ms()) {
        (None, _) if stopped => {}
        (None, _) if scenario.kind == ScenarioKind::Rollout => reasons.push(
            "the rollout never met its fault, so the rollback drill was never exercised"
                .to_string(),
        ),
        (None, _) => reasons.push("the incident had not begun when the drill ended".to_string()),
        (Some(_), None) if timing.service_back_ms().is_none() => reasons.push(format!(
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
    let pass_mark = scenario.rubric.pass_mark();
    if points < i64::from(pass_mark) {
        reasons.push(format!(
            "{points} points, below the pass mark of {pass_mark}"
        ));
    }
    reasons
}

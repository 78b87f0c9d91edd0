//! The data's side of the verdict: each integrity check's state at the end
//! of the drill, and the acknowledged writes lost (the RPO).

use super::{Item, ItemKind, clock};
use crate::scenario::Scenario;
use crate::transcript::Rpo;

/// A line per integrity check that ran; a check failing at the end is a
/// reason the drill fails.
pub(super) fn checks(
    scenario: &Scenario,
    timing: &super::recovery::Timing,
    reasons: &mut Vec<String>,
) -> Vec<Item> {
    let mut items = Vec::new();
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
            lesson: (!ok).then(|| check.why.clone()),
        });
    }
    items
}

/// Handling writes lost since the backup (runbook 003, restore flow).
const RPO_LESSON: &str =
    "handle writes lost since the backup by replay or backfill (runbook 003, restore flow step 5)";

/// The RPO line; more writes lost than the rubric allows is a reason the
/// drill fails.
pub(super) fn rpo(r: &Rpo, target: Option<u64>, reasons: &mut Vec<String>) -> Item {
    let detail = match (&r.error, r.missing) {
        (Some(e), _) => format!("could not be measured: {e}"),
        (None, 0) => format!("all {} acknowledged writes are present", r.writes),
        (None, n) => format!(
            "{n} of {} acknowledged writes are missing (written {} to {}): {RPO_LESSON}",
            r.writes,
            clock(r.first_missing_ms.unwrap_or_default()),
            clock(r.last_missing_ms.unwrap_or_default())
        ),
    };
    if let Some(max) = target
        && (r.error.is_some() || r.missing > max)
    {
        reasons.push(format!("RPO: {detail} (at most {max} may be lost)"));
    }
    Item {
        kind: ItemKind::Rpo,
        label: "RPO".into(),
        points: 0,
        t_ms: None,
        lesson: (r.error.is_none() && r.missing > 0).then(|| RPO_LESSON.to_string()),
        detail,
    }
}

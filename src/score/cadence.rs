//! How often stakeholders heard while the incident was open (the rubric's
//! `comms`): every stretch longer than its `every` without a status update
//! costs its penalty, and says where the silence was.

use super::{Item, ItemKind, Played, clock};
use crate::scenario::Rubric;
use crate::transcript::Transcript;

/// A line per stretch without an update, from the incident's start to
/// `resolve` or the drill's end. None without a cadence or an incident.
pub(super) fn items(
    rubric: &Rubric,
    played: &Played,
    transcript: &Transcript,
    timing: &super::recovery::Timing,
) -> Vec<Item> {
    let (Some(cadence), Some(start)) = (&rubric.comms, timing.incident_start_ms) else {
        return Vec::new();
    };
    let end = played
        .done
        .iter()
        .find(|(t, m)| *t >= start && m.canonical == "resolve")
        .map(|(t, _)| *t)
        .or_else(|| transcript.end().map(|(t, _)| t))
        .unwrap_or(start);
    let updates = played
        .done
        .iter()
        .filter(|(t, m)| {
            (start..=end).contains(t) && crate::scenario::pattern_matches("comms", &m.canonical)
        })
        .map(|(t, _)| *t);
    let every = cadence.every.as_millis();
    let mut marks: Vec<u64> = std::iter::once(start).chain(updates).collect();
    marks.push(end);
    marks
        .windows(2)
        .filter(|w| w[1] - w[0] > every)
        .map(|w| {
            let (from, to) = (w[0], w[1]);
            let after = if from == start {
                "the incident's start".to_string()
            } else {
                format!("the update at {}", clock(from))
            };
            Item {
                kind: ItemKind::Comms,
                label: "comms-cadence".into(),
                points: -i64::from(cadence.penalty),
                t_ms: Some(from + every),
                detail: format!(
                    "no status update for {} after {after} (at most {} apart while the incident is open): {}",
                    clock(to - from),
                    cadence.every,
                    cadence.why
                ),
                lesson: Some(cadence.why.clone()),
            }
        })
        .collect()
}

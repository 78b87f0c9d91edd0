//! A snapshot of the current state before corrective work, once the
//! incident has begun.

use super::{Facts, Offence};
use crate::transcript::Tag;

pub(super) fn check<'a>(facts: &Facts<'a>) -> Offence<'a> {
    let start = facts.incident_start_ms?;
    facts
        .attempts()
        .find(|(t, m)| {
            *t >= start
                && m.tagged(Tag::Corrective)
                && !facts.done_before("snapshot create", *t, start)
        })
        .map(|(t, m)| {
            (
                t,
                m,
                "with no snapshot taken since the incident began".to_string(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{done, facts};
    use super::*;

    fn since<'a>(moves: &'a [(u64, &'a crate::transcript::Move)], start: Option<u64>) -> Facts<'a> {
        Facts {
            incident_start_ms: start,
            ..facts(moves)
        }
    }

    #[test]
    fn corrective_work_after_the_incident_began_needs_a_snapshot_since() {
        let fix = done("migrate down 002", &[Tag::Corrective]);
        let snap = done("snapshot create before-fix", &[]);
        let alone = [(30, &fix)];
        assert!(check(&since(&alone, Some(20))).is_some());
        let snapped = [(25, &snap), (30, &fix)];
        assert!(check(&since(&snapped, Some(20))).is_none());
        // A snapshot from before the incident is not of the current state.
        let stale = [(5, &snap), (30, &fix)];
        assert!(check(&since(&stale, Some(20))).is_some());
    }

    #[test]
    fn before_any_incident_there_is_nothing_to_protect() {
        let fix = done("migrate down 002", &[Tag::Corrective]);
        let after = [(30, &fix)];
        assert!(check(&since(&after, None)).is_none());
        let before = [(10, &fix)];
        assert!(check(&since(&before, Some(20))).is_none());
    }
}

//! The rubric's required steps: points for each one done in an allowed
//! order (its `after` steps first, its `before` steps not yet); a missed or
//! out-of-order step says what the learner should have done, and why.

use super::{Item, ItemKind, Played, clock, short};

/// A line per step of the rubric.
pub(super) fn items(played: &Played) -> Vec<Item> {
    played
        .rubric
        .steps
        .iter()
        .map(|step| {
            let matches = played.times(step);
            let in_order = |t: u64| {
                step.after
                    .iter()
                    .all(|a| played.first(a).is_some_and(|ta| ta < t))
                    && step
                        .before
                        .iter()
                        .all(|b| played.first(b).is_none_or(|tb| tb > t))
            };
            match matches.iter().copied().find(|t| in_order(*t)) {
                Some(t) => done(played, step, t),
                None if matches.is_empty() => never_done(played, step),
                None => out_of_order(played, step, matches[0]),
            }
        })
        .collect()
}

fn done(played: &Played, step: &crate::scenario::Step, t: u64) -> Item {
    let what = played
        .done
        .iter()
        .find(|(tm, m)| *tm == t && Played::does(step, m))
        .map_or(step.moves.0[0].as_str(), |(_, m)| m.canonical.as_str());
    Item {
        kind: ItemKind::Step,
        label: step.id.clone(),
        points: i64::from(step.points),
        t_ms: Some(t),
        detail: format!("`{}` at {}", short(what), clock(t)),
        lesson: None,
    }
}

fn never_done(played: &Played, step: &crate::scenario::Step) -> Item {
    let near_miss = !step.mentions.is_empty()
        && played
            .done
            .iter()
            .any(|(_, m)| step.moves.matches(&m.canonical));
    let approvals = !step.approvers.is_empty()
        && played
            .done
            .iter()
            .any(|(_, m)| step.moves.matches(&m.canonical));
    let what = if approvals {
        format!(
            "approvals as {} from different people never all given (`{} --by NAME --as ROLE`)",
            step.approvers.join(" and "),
            step.moves
        )
    } else if !step.approvers.is_empty() {
        format!(
            "never done (`{} --by NAME --as ROLE`, as {} from different people)",
            step.moves,
            step.approvers.join(" and ")
        )
    } else if near_miss {
        format!(
            "done without mentioning {} (`{}`)",
            step.mentions.join(" and "),
            step.moves
        )
    } else {
        format!("never done (`{}`)", step.moves)
    };
    Item {
        kind: ItemKind::MissedStep,
        label: step.id.clone(),
        points: 0,
        t_ms: None,
        detail: format!("{what}: {}", step.why),
        lesson: Some(step.why.clone()),
    }
}

fn out_of_order(played: &Played, step: &crate::scenario::Step, t: u64) -> Item {
    let mut order = Vec::new();
    for a in &step.after {
        if played.first(a).is_none_or(|ta| ta >= t) {
            order.push(format!("before `{a}`"));
        }
    }
    for b in &step.before {
        if played.first(b).is_some_and(|tb| tb <= t) {
            order.push(format!("after `{b}`"));
        }
    }
    Item {
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
        lesson: Some(step.why.clone()),
    }
}

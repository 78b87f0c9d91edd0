//! The rubric's forbidden moves: a penalty for the first move that breaks
//! each rule (attempts count unless the rule says `only_if_done`), with the
//! context that made it forbidden; a `fatal` rule is a hard stop.

use super::{Item, ItemKind, Played, clock};
use crate::scenario::Forbid as ForbidRule;
use crate::transcript::Move;

/// A line per rule broken; the details of fatal ones go to `fatal`.
pub(super) fn items(
    played: &Played,
    healthy_at: &dyn Fn(u64) -> bool,
    items: &mut Vec<Item>,
    fatal: &mut Vec<String>,
) {
    for rule in &played.rubric.forbid {
        let Some((t, m)) = played
            .all
            .iter()
            .find(|(t, m)| breaks(played, rule, *t, m, healthy_at))
        else {
            continue;
        };
        let detail = format!(
            "`{}` at {}{}: {}",
            m.canonical,
            clock(*t),
            context(played, rule, *t, m),
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
            lesson: Some(rule.why.clone()),
        });
    }
}

/// Whether the move at `t` breaks the rule.
fn breaks(
    played: &Played,
    rule: &ForbidRule,
    t: u64,
    m: &Move,
    healthy_at: &dyn Fn(u64) -> bool,
) -> bool {
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
                .any(|b| played.first(b).is_none_or(|tb| tb > t)))
        && (!rule.while_unhealthy || !healthy_at(t))
}

/// What made the move forbidden, in words (` while v1 pods were serving,
/// before `snapshot``), or nothing.
fn context(played: &Played, rule: &ForbidRule, t: u64, m: &Move) -> String {
    let mut context = Vec::new();
    if let Some(v) = &rule.while_serving {
        context.push(format!("while {v} pods were serving"));
    }
    for b in &rule.before {
        if played.first(b).is_none_or(|tb| tb > t) {
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
    if context.is_empty() {
        String::new()
    } else {
        format!(" {}", context.join(", "))
    }
}

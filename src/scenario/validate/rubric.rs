//! Validation of the rubric: steps, forbidden moves, approvals, fitted
//! guardrails and the comms cadence.

use std::collections::BTreeSet;

use super::super::{Problem, Scenario};
use super::{MAX_POINTS, MAX_STEPS, MOVE_VERBS, check_version, duplicates, listing};

pub(super) fn check_rubric(s: &Scenario, p: &mut Vec<Problem>) {
    let r = &s.rubric;
    if r.rto.0.is_zero() {
        p.push(Problem::at("rubric.rto", "must be above zero"));
    }
    for (i, id) in duplicates(r.steps.iter().map(|s| s.id.as_str())) {
        p.push(Problem::at(
            &format!("rubric.steps.{i}.id"),
            format!("step `{id}` is declared twice"),
        ));
    }
    let ids: BTreeSet<&str> = r.steps.iter().map(|s| s.id.as_str()).collect();
    check_steps(r, &ids, p);
    check_forbid(s, &ids, p);
    if let Some(c) = &r.comms {
        if c.every.0.is_zero() {
            p.push(
                Problem::at("rubric.comms.every", "must be above zero").hint(
                    "runbook 003 asks for status updates every 15-30 minutes: `every = \"15m\"`",
                ),
            );
        }
        if c.penalty == 0 || c.penalty > MAX_POINTS {
            p.push(Problem::at(
                "rubric.comms.penalty",
                format!("a penalty is from 1 to {MAX_POINTS} points"),
            ));
        }
        if c.why.trim().is_empty() {
            p.push(Problem::at(
                "rubric.comms.why",
                "say why, citing the runbook",
            ));
        }
    }
    for (i, id) in r.guardrails_off.iter().enumerate() {
        if crate::scenario::guardrail::guardrail(id).is_none() {
            p.push(
                Problem::at(
                    &format!("rubric.guardrails_off.{i}"),
                    format!("unknown guardrail `{id}`"),
                )
                .hint(listing(crate::scenario::GUARDRAILS.iter().map(|g| g.id))),
            );
        }
    }
    check_fits(s, p);
    if r.hint_cost > MAX_POINTS {
        p.push(Problem::at(
            "rubric.hint_cost",
            format!("a hint may cost at most {MAX_POINTS} points"),
        ));
    }
    if r.steps.len() > MAX_STEPS {
        p.push(Problem::at(
            "rubric.steps",
            format!("{} steps is more than {MAX_STEPS}", r.steps.len()),
        ));
    }
    if let Some(mark) = r.pass_mark
        && mark > r.max_points()
    {
        p.push(
            Problem::at(
                "rubric.pass_mark",
                format!(
                    "{mark} is more than the {} points the steps give",
                    r.max_points()
                ),
            )
            .hint("lower the pass mark or add steps"),
        );
    }
}

/// A reference to a step, in `after`/`before`: it must exist and not be
/// the step itself.
fn step_ref(ids: &BTreeSet<&str>, at: String, id: &str, own: Option<&str>, p: &mut Vec<Problem>) {
    if Some(id) == own {
        p.push(Problem::at(&at, format!("step `{id}` refers to itself")));
    } else if !ids.contains(id) {
        p.push(Problem::at(&at, format!("unknown step `{id}`")).hint(listing(ids.iter().copied())));
    }
}

/// Every pattern must start with a move's verb.
fn check_patterns(at: String, patterns: &crate::scenario::Patterns, p: &mut Vec<Problem>) {
    for (k, pattern) in patterns.0.iter().enumerate() {
        let verb = pattern.split_whitespace().next().unwrap_or("");
        if MOVE_VERBS.iter().any(|v| v.eq_ignore_ascii_case(verb)) {
            continue;
        }
        let at = if patterns.0.len() > 1 {
            format!("{at}.{k}")
        } else {
            at.clone()
        };
        p.push(
            Problem::at(&at, format!("`{pattern}` is not a move")).hint(format!(
                "moves start with one of: {}",
                MOVE_VERBS.join(", ")
            )),
        );
    }
}

/// `[rubric.guardrails.ID]`: a built-in guardrail that is on, a sentence
/// and a penalty a person can read, and flags the scenario declares.
fn check_fits(s: &Scenario, p: &mut Vec<Problem>) {
    for (id, fit) in &s.rubric.guardrails {
        let at = format!("rubric.guardrails.{id}");
        if crate::scenario::guardrail::guardrail(id).is_none() {
            p.push(
                Problem::at(&at, format!("unknown guardrail `{id}`"))
                    .hint(listing(crate::scenario::GUARDRAILS.iter().map(|g| g.id))),
            );
            continue;
        }
        if s.rubric.guardrails_off.iter().any(|o| o == id) {
            p.push(
                Problem::at(&at, format!("`{id}` is also turned off"))
                    .hint("reword or limit a guardrail, or turn it off: not both"),
            );
        }
        if fit.why.as_deref().is_some_and(|w| w.trim().is_empty()) {
            p.push(Problem::at(
                &format!("{at}.why"),
                "say why, citing the runbook",
            ));
        }
        if fit.penalty.is_some_and(|n| n == 0 || n > MAX_POINTS) {
            p.push(Problem::at(
                &format!("{at}.penalty"),
                format!("a penalty is from 1 to {MAX_POINTS} points"),
            ));
        }
        let Some(flags) = &fit.flags else { continue };
        if id != "rollback-before-flag" {
            p.push(Problem::at(
                &format!("{at}.flags"),
                "only `rollback-before-flag` is limited to flags",
            ));
        }
        for (k, flag) in flags.iter().enumerate() {
            if !s.flags.iter().any(|f| &f.name == flag) {
                p.push(Problem::at(
                    &format!("{at}.flags.{k}"),
                    format!("no flag `{flag}` is declared"),
                ));
            }
        }
    }
}

/// `approvers` counts approvals: every pattern of its step is an
/// `approve`, and each role is named once.
fn check_approvers(i: usize, step: &crate::scenario::Step, p: &mut Vec<Problem>) {
    if step.approvers.is_empty() {
        return;
    }
    let at = format!("rubric.steps.{i}.approvers");
    let approves = |pattern: &String| {
        pattern
            .split_whitespace()
            .next()
            .is_some_and(|v| v.eq_ignore_ascii_case("approve"))
    };
    if !step.moves.0.iter().all(approves) {
        p.push(
            Problem::at(&at, "only an `approve` step can require approvers")
                .hint("write the step's move as `approve WHAT`"),
        );
    }
    let mut seen = BTreeSet::new();
    for role in &step.approvers {
        if role.trim().is_empty() || role.contains(char::is_whitespace) {
            p.push(Problem::at(
                &at,
                format!("`{role}` is not a role: one word, as in `--as sre`"),
            ));
        } else if !seen.insert(role.to_lowercase()) {
            p.push(
                Problem::at(&at, format!("`{role}` is named twice"))
                    .hint("each role needs its own approver: name a role once"),
            );
        }
    }
}

fn check_steps(r: &crate::scenario::Rubric, ids: &BTreeSet<&str>, p: &mut Vec<Problem>) {
    for (i, step) in r.steps.iter().enumerate() {
        check_patterns(format!("rubric.steps.{i}.move"), &step.moves, p);
        check_approvers(i, step, p);
        if step.points == 0 {
            p.push(Problem::at(
                &format!("rubric.steps.{i}.points"),
                "a step is worth at least 1 point",
            ));
        } else if step.points > MAX_POINTS {
            p.push(
                Problem::at(
                    &format!("rubric.steps.{i}.points"),
                    format!(
                        "{} points is more than a step may be worth ({MAX_POINTS})",
                        step.points
                    ),
                )
                .hint("scores are read by people: keep steps in tens of points"),
            );
        }
        for (k, id) in step.after.iter().enumerate() {
            let at = format!("rubric.steps.{i}.after.{k}");
            step_ref(ids, at, id, Some(&step.id), p);
        }
        for (k, id) in step.before.iter().enumerate() {
            let at = format!("rubric.steps.{i}.before.{k}");
            step_ref(ids, at, id, Some(&step.id), p);
        }
    }
}

fn check_forbid(s: &Scenario, ids: &BTreeSet<&str>, p: &mut Vec<Problem>) {
    for (i, rule) in s.rubric.forbid.iter().enumerate() {
        check_patterns(format!("rubric.forbid.{i}.move"), &rule.moves, p);
        if let Some(version) = &rule.while_serving {
            check_version(s, &format!("rubric.forbid.{i}.while_serving"), version, p);
        }
        for (k, id) in rule.before.iter().enumerate() {
            step_ref(ids, format!("rubric.forbid.{i}.before.{k}"), id, None, p);
        }
        if rule.penalty > MAX_POINTS {
            p.push(
                Problem::at(
                    &format!("rubric.forbid.{i}.penalty"),
                    format!(
                        "a penalty of {} is more than {MAX_POINTS} points",
                        rule.penalty
                    ),
                )
                .hint("use `fatal = true` for a move that must fail the drill whatever the points"),
            );
        }
        if rule.why.trim().is_empty() {
            p.push(
                Problem::at(
                    &format!("rubric.forbid.{i}.why"),
                    "say why the move is forbidden",
                )
                .hint("cite the runbook rule it breaks; the learner reads this sentence"),
            );
        }
    }
}

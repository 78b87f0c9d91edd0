//! When a built-in guardrail is broken. The rules themselves (id, penalty,
//! lesson) are data in `scenario::guardrail`; each has a file here that
//! decides, from the moves, their tags and the world state each met,
//! whether a response broke it, dispatched by [`Rule`] so a rule cannot go
//! unchecked. Each is penalised once, at its first offence.

mod contract_before_stable;
mod corrective_without_snapshot;
mod destructive_without_approval;
mod forward_fix_rules;
mod restore_in_place;
mod rollback_before_flag;

use crate::scenario::{GUARDRAILS, Guardrail, Rule, Scenario, pattern_matches};
use crate::transcript::Move;

/// A broken guardrail: the rule, when, by which move, and in what context.
pub struct Broken<'a> {
    /// The rule.
    pub rule: &'static Guardrail,
    /// Scenario time.
    pub t_ms: u64,
    /// The move.
    pub mv: &'a Move,
    /// What made it a breach, in words.
    pub context: String,
}

/// What the guardrails need to know about the drill.
pub struct Facts<'a> {
    /// Every move (failed and refused ones too) with its time.
    pub moves: &'a [(u64, &'a Move)],
    /// When the incident began (SLO or integrity), if it did.
    pub incident_start_ms: Option<u64>,
    /// Whether the service counted as healthy at a time.
    pub healthy_at: &'a dyn Fn(u64) -> bool,
}

/// The first offence against a rule: when, which move, and why.
type Offence<'a> = Option<(u64, &'a Move, String)>;

impl<'a> Facts<'a> {
    /// The moves that count against a rule: attempts (see
    /// `Move::attempted`), with their times.
    fn attempts(&self) -> impl Iterator<Item = (u64, &'a Move)> + '_ {
        self.moves
            .iter()
            .filter(|(_, m)| m.attempted())
            .map(|(t, m)| (*t, *m))
    }

    /// Whether a move matching `pattern` succeeded in `since..t`: what a
    /// rule asks to have been done first must have succeeded.
    fn done_before(&self, pattern: &str, t: u64, since: u64) -> bool {
        self.moves.iter().any(|(tm, m)| {
            m.ok && *tm >= since && *tm < t && pattern_matches(pattern, &m.canonical)
        })
    }
}

/// The first offence against one rule.
fn check<'a>(rule: Rule, scenario: &Scenario, facts: &Facts<'a>) -> Offence<'a> {
    match rule {
        Rule::DestructiveWithoutApproval => destructive_without_approval::check(facts),
        Rule::CorrectiveWithoutSnapshot => corrective_without_snapshot::check(facts),
        Rule::RestoreInPlace => restore_in_place::check(facts),
        Rule::RollbackBeforeFlag => rollback_before_flag::check(scenario, facts),
        Rule::ContractBeforeStable => contract_before_stable::check(scenario, facts),
        Rule::ForwardFixRules => forward_fix_rules::check(facts),
    }
}

/// Every guardrail the response broke, in the order of [`GUARDRAILS`].
pub fn broken<'a>(scenario: &Scenario, facts: &Facts<'a>) -> Vec<Broken<'a>> {
    let on = |id: &str| !scenario.rubric.guardrails_off.iter().any(|o| o == id);
    let mut out = Vec::new();
    for rule in GUARDRAILS.iter().filter(|g| on(g.id)) {
        if let Some((t_ms, mv, mut context)) = check(rule.rule, scenario, facts) {
            if !mv.ok {
                context.push_str(&format!(" ({})", mv.outcome().describe()));
            }
            out.push(Broken {
                rule,
                t_ms,
                mv,
                context,
            });
        }
    }
    out
}

#[cfg(test)]
pub(super) mod testing {
    //! Moves and facts for the rules' tests.

    use super::Facts;
    use crate::transcript::{Move, Outcome, State, Tag};

    /// Facts of these moves: no incident, always healthy.
    pub fn facts<'a>(moves: &'a [(u64, &'a Move)]) -> Facts<'a> {
        Facts {
            moves,
            incident_start_ms: None,
            healthy_at: &|_| true,
        }
    }

    /// A move that did what it said.
    pub fn done(canonical: &str, tags: &[Tag]) -> Move {
        ended(canonical, tags, Outcome::Done)
    }

    /// A move that ended so.
    pub fn ended(canonical: &str, tags: &[Tag], outcome: Outcome) -> Move {
        Move {
            input: canonical.into(),
            canonical: canonical.into(),
            ok: outcome == Outcome::Done,
            result: String::new(),
            tags: tags.to_vec(),
            state: State::default(),
            outcome: Some(outcome),
            parsed: None,
            by: None,
        }
    }

    /// The lab scenario (it has a flag, a contract and a forward fix).
    pub fn lab() -> crate::scenario::Scenario {
        crate::scenario::parse(
            std::path::Path::new("rollout-lab.toml"),
            include_str!("../../../scenarios/rollout-lab.toml"),
        )
        .unwrap()
    }
}

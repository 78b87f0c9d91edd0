//! When a built-in guardrail is broken. The rules themselves (id, penalty,
//! lesson) are data in `scenario::guardrail`; this file decides, from the
//! moves, their tags and the world state each met, which ones a response
//! broke. Each is penalised once, at its first offence.

use crate::scenario::{GUARDRAILS, Guardrail, Scenario, pattern_matches};
use crate::transcript::{Move, Tag};

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

/// Every guardrail the response broke, in the order of [`GUARDRAILS`].
pub fn broken<'a>(scenario: &Scenario, facts: &Facts<'a>) -> Vec<Broken<'a>> {
    let on = |id: &str| !scenario.rubric.guardrails_off.iter().any(|o| o == id);
    // A rule is broken by an attempt (see `Move::attempted`); what it
    // asks to have been done first must have succeeded.
    let attempts = || facts.moves.iter().filter(|(_, m)| m.attempted());
    let done_before = |pattern: &str, t: u64, since: u64| {
        facts.moves.iter().any(|(tm, m)| {
            m.ok && *tm >= since && *tm < t && pattern_matches(pattern, &m.canonical)
        })
    };
    let mut out = Vec::new();
    for rule in GUARDRAILS.iter().filter(|g| on(g.id)) {
        let found: Option<(u64, &Move, String)> = match rule.id {
            "destructive-without-approval" => attempts()
                .find(|(t, m)| m.tagged(Tag::Destructive) && !done_before("approve", *t, 0))
                .map(|(t, m)| (*t, *m, "with no approval recorded before it".to_string())),
            "corrective-without-snapshot" => facts.incident_start_ms.and_then(|start| {
                attempts()
                    .find(|(t, m)| {
                        *t >= start
                            && m.tagged(Tag::Corrective)
                            && !done_before("snapshot create", *t, start)
                    })
                    .map(|(t, m)| {
                        (
                            *t,
                            *m,
                            "with no snapshot taken since the incident began".to_string(),
                        )
                    })
            }),
            "restore-in-place" => attempts()
                .find(|(_, m)| m.tagged(Tag::InPlace))
                .map(|(t, m)| (*t, *m, "over the database the app uses".to_string())),
            "rollback-before-flag" if !scenario.flags.is_empty() => attempts()
                .find(|(_, m)| {
                    pattern_matches("app rollback", &m.canonical)
                        && m.state.flags.values().any(|v| v != "off")
                })
                .map(|(t, m)| {
                    let on: Vec<String> = m
                        .state
                        .flags
                        .iter()
                        .filter(|(_, v)| *v != "off")
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect();
                    (
                        *t,
                        *m,
                        format!("while the flag was still on ({})", on.join(", ")),
                    )
                }),
            "contract-before-stable" => {
                let stable = scenario.slo.stable_for.as_millis();
                attempts()
                    .find(|(t, m)| {
                        m.tagged(Tag::Contract)
                            && (!(facts.healthy_at)(*t)
                                || ["flag set", "app deploy"]
                                    .iter()
                                    .any(|p| done_before(p, *t, t.saturating_sub(stable))))
                    })
                    .map(|(t, m)| {
                        (
                            *t,
                            *m,
                            format!(
                                "before the service had been stable for {}",
                                scenario.slo.stable_for
                            ),
                        )
                    })
            }
            "forward-fix-rules" => facts
                .moves
                .iter()
                .find(|(_, m)| m.tagged(Tag::NotIdempotent) || m.tagged(Tag::LowerVersion))
                .map(|(t, m)| {
                    let why = if m.tagged(Tag::NotIdempotent) {
                        "(its second run failed)"
                    } else {
                        "(its version does not sort after the applied migrations)"
                    };
                    (*t, *m, why.to_string())
                }),
            _ => None,
        };
        if let Some((t_ms, mv, mut context)) = found {
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

//! After expand + deploy, the feature flag goes off first: it is the
//! fastest mitigation; the app rolls back only if needed.

use super::{Facts, Offence};
use crate::scenario::{Scenario, pattern_matches};
use crate::transcript::Move;

pub(super) fn check<'a>(scenario: &Scenario, facts: &Facts<'a>) -> Offence<'a> {
    if scenario.flags.is_empty() {
        return None;
    }
    // A scenario may limit it to the flags that gate a new code path.
    let limited = scenario
        .rubric
        .guardrails
        .get("rollback-before-flag")
        .and_then(|f| f.flags.as_ref());
    let counts = |name: &str| limited.is_none_or(|l| l.iter().any(|f| f == name));
    let on = |m: &Move| -> Vec<String> {
        m.state
            .flags
            .iter()
            .filter(|(k, v)| *v != "off" && counts(k))
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    };
    facts
        .attempts()
        .find(|(_, m)| pattern_matches("app rollback", &m.canonical) && !on(m).is_empty())
        .map(|(t, m)| {
            let on = on(m);
            (
                t,
                m,
                format!("while the flag was still on ({})", on.join(", ")),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{done, facts, lab};
    use super::*;

    #[test]
    fn rolling_back_with_the_flag_on_breaks_it_with_the_flag_off_does_not() {
        let mut on = done("app rollback", &[]);
        on.state.flags.insert("login_v2".into(), "50%".into());
        let mut off = done("app rollback", &[]);
        off.state.flags.insert("login_v2".into(), "off".into());
        let (on, off) = ([(60, &on)], [(60, &off)]);
        let found = check(&lab(), &facts(&on)).unwrap();
        assert!(found.2.contains("login_v2=50%"), "{}", found.2);
        assert!(check(&lab(), &facts(&off)).is_none());
        // A scenario without flags has no flag to turn off first.
        let mut flagless = lab();
        flagless.flags.clear();
        assert!(check(&flagless, &facts(&on)).is_none());
        // Limited to another flag (one that gates a new code path), a
        // rollback with login_v2 on is fine; limited to login_v2, it is not.
        let mut limited = lab();
        limited.rubric.guardrails.insert(
            "rollback-before-flag".into(),
            crate::scenario::GuardrailFit {
                flags: Some(vec!["new_checkout".into()]),
                ..Default::default()
            },
        );
        assert!(check(&limited, &facts(&on)).is_none());
        limited
            .rubric
            .guardrails
            .get_mut("rollback-before-flag")
            .unwrap()
            .flags = Some(vec!["login_v2".into()]);
        assert!(check(&limited, &facts(&on)).is_some());
    }
}

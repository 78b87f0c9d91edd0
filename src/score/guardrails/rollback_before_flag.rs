//! After expand + deploy, the feature flag goes off first: it is the
//! fastest mitigation; the app rolls back only if needed.

use super::{Facts, Offence};
use crate::scenario::{Scenario, pattern_matches};

pub(super) fn check<'a>(scenario: &Scenario, facts: &Facts<'a>) -> Offence<'a> {
    if scenario.flags.is_empty() {
        return None;
    }
    facts
        .attempts()
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
    }
}

//! A contract migration only after a stable compatibility window: the
//! service healthy, and no flag change or deploy within the SLO's
//! stability window before it.

use super::{Facts, Offence};
use crate::scenario::Scenario;
use crate::transcript::Tag;

pub(super) fn check<'a>(scenario: &Scenario, facts: &Facts<'a>) -> Offence<'a> {
    let stable = scenario.slo.stable_for.as_millis();
    facts
        .attempts()
        .find(|(t, m)| {
            m.tagged(Tag::Contract)
                && (!(facts.healthy_at)(*t)
                    || ["flag set", "app deploy"]
                        .iter()
                        .any(|p| facts.done_before(p, *t, t.saturating_sub(stable))))
        })
        .map(|(t, m)| {
            (
                t,
                m,
                format!(
                    "before the service had been stable for {}",
                    scenario.slo.stable_for
                ),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{done, facts, lab};
    use super::*;

    #[test]
    fn a_contract_right_after_a_deploy_or_while_unhealthy_breaks_it() {
        let lab = lab();
        let stable = lab.slo.stable_for.as_millis();
        let contract = done("migrate up 003_drop_password", &[Tag::Contract]);
        let deploy = done("app deploy v2", &[]);
        let soon = [(100_000, &deploy), (100_000 + stable / 2, &contract)];
        assert!(check(&lab, &facts(&soon)).is_some());
        let later = [(100_000, &deploy), (100_000 + stable + 1000, &contract)];
        assert!(check(&lab, &facts(&later)).is_none());
        let unhealthy = Facts {
            healthy_at: &|_| false,
            ..facts(&later)
        };
        assert!(check(&lab, &unhealthy).is_some());
    }
}

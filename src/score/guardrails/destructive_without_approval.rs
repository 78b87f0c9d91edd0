//! Destructive DDL only after an explicit approval.

use super::{Facts, Offence};
use crate::transcript::Tag;

pub(super) fn check<'a>(facts: &Facts<'a>) -> Offence<'a> {
    facts
        .attempts()
        .find(|(t, m)| m.tagged(Tag::Destructive) && !facts.done_before("approve", *t, 0))
        .map(|(t, m)| (t, m, "with no approval recorded before it".to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{done, ended, facts};
    use super::*;
    use crate::transcript::Outcome;

    #[test]
    fn a_destructive_move_needs_an_approval_before_it() {
        let drop = done("migrate up 003_drop", &[Tag::Destructive, Tag::Contract]);
        let approve = done("approve 003_drop by lead", &[]);
        let alone = [(10, &drop)];
        assert!(check(&facts(&alone)).is_some());
        let approved = [(5, &approve), (10, &drop)];
        assert!(check(&facts(&approved)).is_none());
        // After the fact is too late.
        let late = [(10, &drop), (15, &approve)];
        assert!(check(&facts(&late)).is_some());
    }

    #[test]
    fn a_failed_attempt_counts_a_refused_one_does_not() {
        let failed = ended("migrate up 003_drop", &[Tag::Destructive], Outcome::Failed);
        let refused = ended("migrate up 003_drop", &[Tag::Destructive], Outcome::Refused);
        let (failed, refused) = ([(10, &failed)], [(10, &refused)]);
        assert!(check(&facts(&failed)).is_some());
        assert!(check(&facts(&refused)).is_none());
    }
}

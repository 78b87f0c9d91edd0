//! A corrective forward migration gets a higher version and is idempotent.
//! Broken by the fix itself, whatever it ended with: its second run failing
//! is how the engine knows.

use super::{Facts, Offence};
use crate::transcript::Tag;

pub(super) fn check<'a>(facts: &Facts<'a>) -> Offence<'a> {
    facts
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
        })
}

#[cfg(test)]
mod tests {
    use super::super::testing::{done, ended, facts};
    use super::*;
    use crate::transcript::Outcome;

    #[test]
    fn a_fix_that_is_not_idempotent_or_sorts_too_low_breaks_it() {
        let twice = ended(
            "migrate apply fix.sql",
            &[Tag::Corrective, Tag::NotIdempotent],
            Outcome::Failed,
        );
        let low = done("migrate apply 001_fix.sql", &[Tag::LowerVersion]);
        let fine = done("migrate apply 005_fix.sql", &[Tag::Corrective]);
        let (twice, low, fine) = ([(10, &twice)], [(10, &low)], [(10, &fine)]);
        let why = |moves| check(&facts(moves)).map(|o| o.2).unwrap_or_default();
        assert!(why(&twice).contains("second run"));
        assert!(why(&low).contains("does not sort"));
        assert!(check(&facts(&fine)).is_none());
    }
}

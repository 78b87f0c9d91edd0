//! Never restore over the database the app uses.

use super::{Facts, Offence};
use crate::transcript::Tag;

pub(super) fn check<'a>(facts: &Facts<'a>) -> Offence<'a> {
    facts
        .attempts()
        .find(|(_, m)| m.tagged(Tag::InPlace))
        .map(|(t, m)| (t, m, "over the database the app uses".to_string()))
}

#[cfg(test)]
mod tests {
    use super::super::testing::{done, facts};
    use super::*;

    #[test]
    fn a_restore_in_place_breaks_it_a_restore_to_new_does_not() {
        let in_place = done(
            "restore snap-1 --to in-place",
            &[Tag::Corrective, Tag::InPlace],
        );
        let to_new = done("restore snap-1 --to new", &[Tag::Corrective]);
        let restored = [(40, &in_place)];
        assert_eq!(check(&facts(&restored)).map(|o| o.0), Some(40));
        let copied = [(40, &to_new)];
        assert!(check(&facts(&copied)).is_none());
    }
}

//! Participants' tokens: random, compared in constant time, never shown
//! after start-up.
//!
//! A token is 32 characters from a 62-letter alphabet drawn from the
//! operating system's seeded generator: about 190 bits. Finding whose token
//! a request carries compares it with every participant's, always all of
//! them and each in constant time, so the time a request takes says
//! nothing about how much of a token was right.

use std::fmt;

use subtle::ConstantTimeEq;

/// How many characters a token has.
pub const LEN: usize = 32;

/// A secret that opens the server to one participant.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// A new random token.
    pub fn random() -> Token {
        use rand::RngExt;
        const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
        let mut rng = rand::rng();
        Token(
            (0..LEN)
                .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
                .collect(),
        )
    }

    /// The secret itself, for the one place that hands it out.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

/// Never printed by accident: a log line or a `{:?}` shows no secret.
impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(…)")
    }
}

/// The index of the token `given` matches, comparing with every one.
pub fn find(tokens: &[&Token], given: &str) -> Option<usize> {
    let given = given.as_bytes();
    let mut found = None;
    for (i, t) in tokens.iter().enumerate() {
        // Lengths differ only for a wrong token: no secret leaks by that.
        if bool::from(t.0.as_bytes().ct_eq(given)) {
            found = Some(i);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_found_only_whole() {
        let (a, b) = (Token::random(), Token::random());
        assert_eq!(a.reveal().len(), LEN);
        assert_ne!(a, b);
        let all = [&a, &b];
        assert_eq!(find(&all, b.reveal()), Some(1));
        assert_eq!(find(&all, &b.reveal()[..LEN - 1]), None);
        assert_eq!(find(&all, ""), None);
        assert_eq!(format!("{a:?}"), "Token(…)");
    }
}

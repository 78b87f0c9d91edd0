//! The words of a move line, and the helpers every verb's parser shares:
//! quoting, "unexpected word" errors carrying the verb's usage, durations.
//! `Display` impls use [`quoted`] so that what they print parses back.

use std::borrow::Cow;
use std::time::Duration;

use super::ParseError;
use crate::scenario::Dur;

/// A line split into words, with its verb's usage for error messages.
pub(super) struct Words<'a> {
    line: &'a str,
    words: Vec<String>,
    usage: Option<&'static str>,
}

impl<'a> Words<'a> {
    /// Splits on whitespace, keeping quoted strings together.
    pub(super) fn split(line: &'a str) -> Result<Words<'a>, ParseError> {
        let mut words = Vec::new();
        let mut cur = String::new();
        let mut quote: Option<char> = None;
        let mut started = false;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), c) => cur.push(c),
                (None, '"' | '\'') => {
                    quote = Some(c);
                    started = true;
                }
                (None, c) if c.is_whitespace() => {
                    if started {
                        words.push(std::mem::take(&mut cur));
                        started = false;
                    }
                }
                (None, c) => {
                    cur.push(c);
                    started = true;
                }
            }
        }
        if quote.is_some() {
            return Err(super::err("unclosed quote", None));
        }
        if started {
            words.push(cur);
        }
        Ok(Words {
            line,
            words,
            usage: None,
        })
    }

    /// The same words, with errors that show `usage`.
    pub(super) fn with_usage(self, usage: Option<&'static str>) -> Words<'a> {
        Words { usage, ..self }
    }

    /// The `i`th word (0 is the verb).
    pub(super) fn get(&self, i: usize) -> Option<&str> {
        self.words.get(i).map(String::as_str)
    }

    /// The `i`th word, lowercased (verbs and keywords ignore case).
    pub(super) fn keyword(&self, i: usize) -> Option<String> {
        self.get(i).map(str::to_ascii_lowercase)
    }

    /// The `i`th word when it is not an option (`--x`).
    pub(super) fn operand(&self, i: usize) -> Option<String> {
        self.get(i)
            .filter(|w| !w.starts_with('-'))
            .map(str::to_string)
    }

    /// How many words there are.
    pub(super) fn len(&self) -> usize {
        self.words.len()
    }

    /// The words from the `i`th on.
    pub(super) fn from(&self, i: usize) -> &[String] {
        self.words.get(i..).unwrap_or_default()
    }

    /// An error that shows the verb's usage.
    pub(super) fn err(&self, message: impl Into<String>) -> ParseError {
        super::err(message, self.usage)
    }

    /// Fails on a word past the first `n`.
    pub(super) fn at_most(&self, n: usize) -> Result<(), ParseError> {
        match self.words.get(n) {
            Some(w) => Err(self.err(format!("unexpected `{w}`"))),
            None => Ok(()),
        }
    }

    /// The rest of the line after its verb, without surrounding quotes;
    /// `missing` when there is none.
    pub(super) fn rest(&self, missing: &str) -> Result<String, ParseError> {
        let rest = self.line.trim_start();
        let rest = rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..].trim();
        let unquoted = ['"', '\'']
            .into_iter()
            .find(|q| rest.len() >= 2 && rest.starts_with(*q) && rest.ends_with(*q))
            .map_or(rest, |_| &rest[1..rest.len() - 1]);
        if unquoted.is_empty() {
            Err(self.err(missing))
        } else {
            Ok(unquoted.to_string())
        }
    }

    /// A duration (`30s`, `1m30s`, `500ms`).
    pub(super) fn duration(&self, text: &str) -> Result<Dur, ParseError> {
        Dur::parse(text).map_err(|e| self.err(e))
    }

    /// The value of `--lock-timeout` at word `i`: at least 1ms, because
    /// PostgreSQL reads `lock_timeout = 0` as "wait forever", the opposite
    /// of what the learner asked for (and values under 1ms round down to it).
    pub(super) fn lock_timeout(&self, i: usize) -> Result<Duration, ParseError> {
        let d = self
            .get(i)
            .ok_or_else(|| self.err("--lock-timeout takes a duration"))?;
        let d = self.duration(d)?.0;
        if d < Duration::from_millis(1) {
            return Err(self.err(
                "--lock-timeout must be at least 1ms: PostgreSQL reads a lock_timeout of 0 as \"wait forever\"",
            ));
        }
        Ok(d)
    }
}

/// A word as a move line needs it written to read back as one word:
/// quoted when it is empty or holds whitespace or a quote.
pub(super) fn quoted(word: &str) -> Cow<'_, str> {
    let plain =
        !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'');
    if plain {
        Cow::Borrowed(word)
    } else if word.contains('"') {
        Cow::Owned(format!("'{word}'"))
    } else {
        Cow::Owned(format!("\"{word}\""))
    }
}

/// ` --lock-timeout D`, or nothing.
pub(super) fn lock_timeout_flag(lock_timeout: Option<Duration>) -> String {
    lock_timeout
        .map(|t| format!(" --lock-timeout {}", exact(t)))
        .unwrap_or_default()
}

/// A duration written so that it parses back to itself: [`Dur`]'s own
/// form (`1m30s`, `250ms`), except where that rounds (`1.5s` is written
/// `1500ms`).
pub(super) fn exact(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 || ms.is_multiple_of(1000) {
        Dur(d).to_string()
    } else {
        format!("{ms}ms")
    }
}

//! Small value types of scenario files, each parsed from a string so that a
//! bad value is reported at its place in the file: durations (`"15s"`), flag
//! values (`"on"`, `"25%"`), parameter generators (`"new_email"`) and move
//! patterns (`"app rollback"`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as `250ms`, `15s`, `5m`, `1h` or combinations (`1m30s`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

impl Dur {
    /// Whole seconds.
    pub const fn from_secs(secs: u64) -> Dur {
        Dur(Duration::from_secs(secs))
    }

    /// Milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0.as_millis() as u64
    }

    /// The longest duration pgdrill accepts anywhere (30 days): far beyond
    /// any drill, and small enough that sums of durations in milliseconds
    /// never overflow.
    pub const MAX: Dur = Dur::from_secs(30 * 24 * 3600);

    /// Parses `250ms`, `15s`, `5m`, `1h`, `1m30s`, `14d` (at most
    /// [`Dur::MAX`]).
    pub fn parse(text: &str) -> Result<Dur, String> {
        let bad = || {
            format!("`{text}` is not a duration; write e.g. `250ms`, `15s`, `5m`, `1h` or `1m30s`")
        };
        let too_long = || format!("`{text}` is too long: durations are at most {}", Dur::MAX);
        let s = text.trim();
        if s.is_empty() {
            return Err(bad());
        }
        let mut total = Duration::ZERO;
        let mut rest = s;
        while !rest.is_empty() {
            let digits = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            if digits == 0 {
                return Err(bad());
            }
            // All digits: a number too big for u64 is too long, not malformed.
            let n: u64 = rest[..digits].parse().map_err(|_| too_long())?;
            rest = &rest[digits..];
            let unit = rest
                .find(|c: char| c.is_ascii_digit())
                .unwrap_or(rest.len());
            let millis_per = match &rest[..unit] {
                "ms" => 1,
                "s" => 1_000,
                "m" | "min" => 60_000,
                "h" => 3_600_000,
                "d" => 86_400_000,
                _ => return Err(bad()),
            };
            let part = n.checked_mul(millis_per).ok_or_else(too_long)?;
            total = total
                .checked_add(Duration::from_millis(part))
                .filter(|t| *t <= Dur::MAX.0)
                .ok_or_else(too_long)?;
            rest = &rest[unit..];
        }
        Ok(Dur(total))
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.0.as_millis();
        if ms == 0 {
            return f.write_str("0s");
        }
        if !ms.is_multiple_of(1000) {
            return if ms > 1000 {
                write!(f, "{:.1}s", ms as f64 / 1000.0)
            } else {
                write!(f, "{ms}ms")
            };
        }
        let secs = ms / 1000;
        let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
        let mut out = String::new();
        if h > 0 {
            out += &format!("{h}h");
        }
        if m > 0 {
            out += &format!("{m}m");
        }
        if s > 0 {
            out += &format!("{s}s");
        }
        f.write_str(&out)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        let text = String::deserialize(d)?;
        Dur::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A feature flag's value: on, off, or on for a percentage of requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FlagValue {
    /// Off for every request.
    #[default]
    Off,
    /// On for every request.
    On,
    /// On for this percentage (0-100) of requests, drawn per request.
    Percent(u8),
}

impl FlagValue {
    /// Parses `on`, `off`, `true`, `false` or `N%`.
    pub fn parse(text: &str) -> Result<FlagValue, String> {
        let s = text.trim().to_ascii_lowercase();
        match s.as_str() {
            "on" | "true" => return Ok(FlagValue::On),
            "off" | "false" => return Ok(FlagValue::Off),
            _ => {}
        }
        let bad = || {
            format!("`{text}` is not a flag value; write `on`, `off` or a percentage like `25%`")
        };
        let n = s.strip_suffix('%').ok_or_else(bad)?;
        match n.trim().parse::<u8>() {
            Ok(0) => Ok(FlagValue::Off),
            Ok(100) => Ok(FlagValue::On),
            Ok(p) if p < 100 => Ok(FlagValue::Percent(p)),
            _ => Err(bad()),
        }
    }

    /// The share of requests that see the flag on, 0-100.
    pub fn percent(self) -> u8 {
        match self {
            FlagValue::Off => 0,
            FlagValue::On => 100,
            FlagValue::Percent(p) => p,
        }
    }
}

impl fmt::Display for FlagValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlagValue::Off => f.write_str("off"),
            FlagValue::On => f.write_str("on"),
            FlagValue::Percent(p) => write!(f, "{p}%"),
        }
    }
}

impl<'de> Deserialize<'de> for FlagValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<FlagValue, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bool(bool),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bool(true) => Ok(FlagValue::On),
            Raw::Bool(false) => Ok(FlagValue::Off),
            Raw::Text(t) => FlagValue::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for FlagValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Generates one parameter of an endpoint's statement per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamGen {
    /// An id between 1 and the table's generated row count
    /// (`existing_id:TABLE`; `existing_user_id` is `existing_id:users`).
    ExistingId {
        /// The table whose fixture rows it draws from.
        table: String,
    },
    /// A fresh person's name.
    NewName,
    /// A fresh, unique email address.
    NewEmail,
    /// A fresh phone number.
    NewPhone,
    /// A random integer in `lo..=hi` (`int:LO..HI`).
    Int {
        /// Lowest.
        lo: i64,
        /// Highest.
        hi: i64,
    },
    /// The same text every time (`text:VALUE`).
    Text(String),
}

impl ParamGen {
    /// The generators a scenario can name, for help and hints.
    pub const KNOWN: &'static str = "existing_user_id, existing_id:TABLE, new_name, new_email, new_phone, int:LO..HI, text:VALUE";

    /// Parses a generator name.
    pub fn parse(text: &str) -> Result<ParamGen, String> {
        let bad = || {
            format!(
                "unknown parameter generator `{text}`; known: {}",
                Self::KNOWN
            )
        };
        match text {
            "existing_user_id" => {
                return Ok(ParamGen::ExistingId {
                    table: "users".into(),
                });
            }
            "new_name" => return Ok(ParamGen::NewName),
            "new_email" => return Ok(ParamGen::NewEmail),
            "new_phone" => return Ok(ParamGen::NewPhone),
            _ => {}
        }
        if let Some(table) = text.strip_prefix("existing_id:")
            && !table.is_empty()
        {
            return Ok(ParamGen::ExistingId {
                table: table.into(),
            });
        }
        if let Some(range) = text.strip_prefix("int:") {
            let (lo, hi) = range.split_once("..").ok_or_else(bad)?;
            let lo: i64 = lo.trim().parse().map_err(|_| bad())?;
            let hi: i64 = hi.trim().parse().map_err(|_| bad())?;
            if lo > hi {
                return Err(format!("`{text}`: the range is empty ({lo} > {hi})"));
            }
            return Ok(ParamGen::Int { lo, hi });
        }
        if let Some(value) = text.strip_prefix("text:") {
            return Ok(ParamGen::Text(value.into()));
        }
        Err(bad())
    }
}

impl<'de> Deserialize<'de> for ParamGen {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ParamGen, D::Error> {
        let text = String::deserialize(d)?;
        ParamGen::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Move patterns: a move matches when the pattern's words begin its
/// canonical form, ignoring case (`migrate down` matches
/// `migrate down 002_rename_name`). Written as one string or a list (any of).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patterns(pub Vec<String>);

impl Patterns {
    /// Whether a canonical move matches any of the patterns.
    pub fn matches(&self, canonical: &str) -> bool {
        self.0.iter().any(|p| pattern_matches(p, canonical))
    }
}

impl fmt::Display for Patterns {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("` or `"))
    }
}

/// Whether `pattern`'s words are the first words of `canonical`.
pub fn pattern_matches(pattern: &str, canonical: &str) -> bool {
    let mut moves = canonical.split_whitespace();
    pattern
        .split_whitespace()
        .all(|p| moves.next().is_some_and(|m| m.eq_ignore_ascii_case(p)))
}

impl<'de> Deserialize<'de> for Patterns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Patterns, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            One(String),
            Many(Vec<String>),
        }
        let list = match Raw::deserialize(d)? {
            Raw::One(s) => vec![s],
            Raw::Many(v) => v,
        };
        if list.is_empty() || list.iter().any(|p| p.trim().is_empty()) {
            return Err(serde::de::Error::custom("a move pattern cannot be empty"));
        }
        Ok(Patterns(list))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(Dur::parse("250ms").unwrap().as_millis(), 250);
        assert_eq!(Dur::parse("15s").unwrap(), Dur::from_secs(15));
        assert_eq!(Dur::parse("1m30s").unwrap(), Dur::from_secs(90));
        assert_eq!(Dur::parse("2h").unwrap(), Dur::from_secs(7200));
        for bad in ["", "15", "s", "1.5s", "10 parsecs", "-1s"] {
            assert!(Dur::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Dur::from_secs(90).to_string(), "1m30s");
        assert_eq!(Dur::parse("250ms").unwrap().to_string(), "250ms");
        assert_eq!(Dur::parse("1500ms").unwrap().to_string(), "1.5s");
    }

    #[test]
    fn durations_never_overflow() {
        // Regression: `wait 9999999999999999h` and a stable_for of u64::MAX
        // seconds panicked in the multiplication or later in the engine.
        for text in [
            "9999999999999999h",
            "18446744073709551615s",
            "307445734561825861m",
            "99999999999999999999999ms",
            "721h",
            "720h1ms",
        ] {
            let err = Dur::parse(text).unwrap_err();
            assert!(err.contains("too long"), "{text}: {err}");
        }
        assert_eq!(Dur::parse("720h").unwrap(), Dur::MAX);
        // Days, for install times in a migration history.
        assert_eq!(Dur::parse("30d").unwrap(), Dur::MAX);
        assert!(Dur::parse("31d").unwrap_err().contains("too long"));
        assert!(Dur::parse("3w").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn flag_values() {
        assert_eq!(FlagValue::parse("ON").unwrap(), FlagValue::On);
        assert_eq!(FlagValue::parse("25%").unwrap(), FlagValue::Percent(25));
        assert_eq!(FlagValue::parse("100%").unwrap(), FlagValue::On);
        assert_eq!(FlagValue::parse("0%").unwrap(), FlagValue::Off);
        assert!(FlagValue::parse("150%").is_err());
        assert!(FlagValue::parse("maybe").is_err());
        assert_eq!(FlagValue::Percent(10).to_string(), "10%");
    }

    #[test]
    fn param_generators() {
        assert_eq!(
            ParamGen::parse("existing_user_id").unwrap(),
            ParamGen::ExistingId {
                table: "users".into()
            }
        );
        assert_eq!(
            ParamGen::parse("int:1..5").unwrap(),
            ParamGen::Int { lo: 1, hi: 5 }
        );
        assert!(ParamGen::parse("int:5..1").is_err());
        let e = ParamGen::parse("new_mail").unwrap_err();
        assert!(e.contains("new_email"), "{e}");
    }

    #[test]
    fn patterns_match_word_prefixes() {
        assert!(pattern_matches(
            "migrate down",
            "migrate down 002_rename_name"
        ));
        assert!(pattern_matches("App Rollback", "app rollback"));
        assert!(!pattern_matches("migrate down", "migrate downgrade"));
        assert!(!pattern_matches("migrate down 003", "migrate down 002"));
        assert!(!pattern_matches("snapshot create", "snapshot"));
    }
}

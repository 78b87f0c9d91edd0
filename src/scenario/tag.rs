//! What the engine knows about a move's effect, for forbid rules and the
//! guardrails. Written in transcripts and scenario files as kebab-case
//! words (`in-place`), as they always were.

use serde::{Deserialize, Serialize};

/// A move's tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tag {
    /// Changes the database to fix it (DDL or data, a repair, a restore).
    Corrective,
    /// Drops data or schema: DROP TABLE/COLUMN, TRUNCATE, DELETE, an
    /// in-place restore.
    Destructive,
    /// Breaks what an older app version relies on (drops, renames, type
    /// changes, SET NOT NULL).
    Contract,
    /// A restore over the database the app uses.
    InPlace,
    /// A forward fix whose second run failed.
    NotIdempotent,
    /// A forward fix whose version does not sort after the applied ones.
    LowerVersion,
    /// Typed in another client and seen by the DDL audit.
    Direct,
}

impl Tag {
    /// Every tag.
    pub const ALL: [Tag; 7] = [
        Tag::Corrective,
        Tag::Destructive,
        Tag::Contract,
        Tag::InPlace,
        Tag::NotIdempotent,
        Tag::LowerVersion,
        Tag::Direct,
    ];

    /// The word files use.
    pub fn as_str(self) -> &'static str {
        match self {
            Tag::Corrective => "corrective",
            Tag::Destructive => "destructive",
            Tag::Contract => "contract",
            Tag::InPlace => "in-place",
            Tag::NotIdempotent => "not-idempotent",
            Tag::LowerVersion => "lower-version",
            Tag::Direct => "direct",
        }
    }
}

impl std::fmt::Display for Tag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::Tag;

    #[test]
    fn tags_are_written_as_they_always_were() {
        for tag in Tag::ALL {
            let json = serde_json::to_string(&tag).unwrap();
            assert_eq!(json, format!("\"{tag}\""));
            assert_eq!(serde_json::from_str::<Tag>(&json).unwrap(), tag);
        }
        assert!(serde_json::from_str::<Tag>("\"in_place\"").is_err());
    }
}

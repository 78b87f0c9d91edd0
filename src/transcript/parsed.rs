//! A move in the form reports read it: what it recorded (a plan, an
//! approval, a decision, a note, an update to stakeholders) or that it only
//! looked. The engine writes it from the parsed move (format 3 on), so
//! reports never parse what the learner typed; older transcripts get it
//! filled in when they are read (`action::upgrade`).

use serde::{Deserialize, Serialize};

/// What a move was, for the reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Parsed {
    /// It changed nothing: it looked (status, events, a list), waited, or
    /// asked for a hint.
    Look,
    /// It recorded the migration plan.
    Plan {
        /// The migration.
        migration: String,
        /// `expand` or `contract`, as the learner classified it.
        classified: String,
        /// The rollback window, in milliseconds.
        window_ms: u64,
        /// Who owns the rollback.
        owner: String,
        /// What it is for.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        purpose: Option<String>,
    },
    /// It recorded an approval.
    Approval {
        /// What is approved.
        what: String,
        /// Who approved it.
        by: String,
        /// In what capacity, when given.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        role: Option<String>,
    },
    /// It recorded a go/no-go decision.
    Decision {
        /// Go or no-go.
        go: bool,
        /// The migration decided on.
        migration: String,
        /// The reasons given.
        reason: String,
    },
    /// A note on the incident timeline.
    Note {
        /// Its text.
        text: String,
    },
    /// An update to stakeholders.
    Comms {
        /// Its text.
        text: String,
    },
    /// Any other move: it acted on the drill.
    Act,
}

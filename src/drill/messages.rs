//! What passes between the engine and its front ends (the prompt, a
//! script, the game-day server): the requests it takes and the answers it
//! gives. Events go the other way, on the notices channel.

use tokio::sync::oneshot;

use super::{Control, StatusView};
use crate::action::Action;
use crate::transcript::{Actor, EndReason, Event};

/// A request to the engine.
#[derive(Debug)]
pub enum Command {
    /// Play a move.
    Act {
        /// The line as typed.
        input: String,
        /// The parsed move.
        action: Action,
        /// Who made it, when several people play.
        by: Option<Actor>,
        /// Where the answer goes.
        reply: oneshot::Sender<Reply>,
    },
    /// Cancel the moves in flight (Ctrl-C while a move runs); each still
    /// answers, as cancelled.
    Cancel,
    /// Stop the drill.
    End(EndReason),
    /// A game master's control of the scenario (`control.rs`).
    Control {
        /// What to do.
        control: Control,
        /// Who asked.
        by: Option<Actor>,
        /// Where the answer goes.
        reply: oneshot::Sender<Reply>,
    },
    /// The world as `status` shows it, without recording a move (a live
    /// page asks every second).
    Peek(oneshot::Sender<Box<StatusView>>),
    /// The lock tree as `locks` shows it, without recording a move.
    PeekLocks(oneshot::Sender<Reply>),
}

/// The answer to a move.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Whether it succeeded.
    pub ok: bool,
    /// What happened, in words.
    pub text: String,
    /// Structured output for the UI to render.
    pub view: Option<View>,
}

impl Reply {
    pub(super) fn ok(text: impl Into<String>) -> Reply {
        Reply {
            ok: true,
            text: text.into(),
            view: None,
        }
    }
    pub(super) fn fail(text: impl Into<String>) -> Reply {
        Reply {
            ok: false,
            text: text.into(),
            view: None,
        }
    }
}

/// Structured output of a move.
#[derive(Debug, Clone)]
pub enum View {
    /// The health table.
    Status(Box<StatusView>),
    /// Rows of a table (SQL results, migration status, snapshots, pods).
    Rows {
        /// Column names.
        columns: Vec<String>,
        /// Values as text.
        rows: Vec<Vec<String>>,
    },
    /// Events so far.
    Events(Vec<Event>),
}

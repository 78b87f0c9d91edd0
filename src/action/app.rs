//! `app status|deploy|rollback|pause|resume`: the fleet and its rolling
//! rollouts.

use std::fmt;

use super::help::Help;
use super::words::{Words, quoted};
use super::{ParseError, unknown_subcommand};

/// A move on the app's fleet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum App {
    /// Pods, versions and the rollout.
    Status,
    /// Roll the fleet to a version.
    Deploy {
        /// The version.
        version: String,
    },
    /// Roll the fleet back to the version before the last deploy.
    Rollback {
        /// That version, when the learner names it (and as the transcript
        /// records a rollback); refused if it is another.
        to: Option<String>,
    },
    /// Pause the rollout in progress.
    Pause,
    /// Resume a paused rollout.
    Resume,
}

impl App {
    /// The second words `app` takes.
    pub(super) const SUBCOMMANDS: &[&str] = &["status", "deploy", "rollback", "pause", "resume"];

    pub(super) fn parse(w: &Words) -> Result<App, ParseError> {
        let app = match w.keyword(1).as_deref() {
            Some("status") => App::Status,
            Some("deploy") => App::Deploy {
                version: w
                    .operand(2)
                    .ok_or_else(|| w.err("say which version to deploy"))?,
            },
            Some("rollback") => App::Rollback { to: w.operand(2) },
            Some("pause") => App::Pause,
            Some("resume") => App::Resume,
            _ => return Err(unknown_subcommand(w, "app", App::SUBCOMMANDS)),
        };
        let words = match app {
            App::Deploy { .. } | App::Rollback { to: Some(_) } => 3,
            _ => 2,
        };
        w.at_most(words)?;
        Ok(app)
    }
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            App::Status => f.write_str("app status"),
            App::Deploy { version } => write!(f, "app deploy {}", quoted(version)),
            App::Rollback { to: None } => f.write_str("app rollback"),
            App::Rollback { to: Some(v) } => write!(f, "app rollback {}", quoted(v)),
            App::Pause => f.write_str("app pause"),
            App::Resume => f.write_str("app resume"),
        }
    }
}

/// Help for `app`.
pub(super) const HELP: Help = Help {
    name: "app",
    usage: "app status | app deploy VERSION | app rollback [VERSION] | app pause | app resume",
    summary: "pods and rollouts: deploy, roll back, pause",
    detail: "Deploys and rollbacks are rolling: one pod moves per step, so old and new versions serve side by side for a while. `app pause` stops a rollout where it is; `app rollback` rolls every pod back to the version before the last deploy; name it (`app rollback v1`) to have the move refused if that is not the version you meant.",
};

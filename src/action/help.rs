//! Help for every move: the table `help` lists, each command's usage and
//! detail, and the "did you mean" for a mistyped word.

use super::{App, Flag, Incident, Migrate, Snapshot};
use super::{app, change, flag, incident, kill, look, migrate, recover, snapshot, wait};

/// A command's help: usage, one line, and the detail.
pub struct Help {
    /// Verb (and sub-verb) it documents.
    pub name: &'static str,
    /// Usage line.
    pub usage: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Longer explanation.
    pub detail: &'static str,
}

/// Every command's help, in the order `help` lists them. Each verb's own
/// file holds its entry.
pub const HELP: &[Help] = &[
    look::STATUS,
    look::EVENTS,
    flag::HELP,
    app::HELP,
    migrate::HELP,
    snapshot::HELP,
    recover::RESTORE,
    recover::CUTOVER,
    recover::REPLAY,
    recover::BACKFILL,
    recover::REPAIR,
    look::INSTANCES,
    look::LOCKS,
    kill::HELP,
    super::workers::HELP,
    incident::INCIDENT,
    incident::COMMS,
    change::APPROVE,
    change::PLAN,
    change::DECIDE,
    SQL,
    incident::NOTE,
    wait::HELP,
    HINT,
    RESOLVE,
    HELP_ITSELF,
    QUIT,
    CLEAR,
];

/// Help for `sql`.
pub(super) const SQL: Help = Help {
    name: "sql",
    usage: "sql [--on INSTANCE] \"SELECT ...\"",
    summary: "run SQL as the app's role and show the result",
    detail: "Prints up to 20 rows. For longer sessions use psql with the URL printed at the start. `--on INSTANCE` runs it on another instance of the drill (see `instances`), e.g. smoke tests on a restored copy before the cutover: `sql --on restored-1 SELECT count(*) FROM users`.",
};

/// Help for `hint`.
pub(super) const HINT: Help = Help {
    name: "hint",
    usage: "hint",
    summary: "a nudge towards the next step (costs points)",
    detail: "Hints come in order, from a gentle one to the answer.",
};

/// Help for `resolve`.
pub(super) const RESOLVE: Help = Help {
    name: "resolve",
    usage: "resolve",
    summary: "declare the incident resolved and see your score",
    detail: "Resolve only after verifying that the SLO holds again.",
};

/// Help for `help`.
pub(super) const HELP_ITSELF: Help = Help {
    name: "help",
    usage: "help [COMMAND]",
    summary: "this list, or one command in detail",
    detail: "",
};

/// Help for `quit`.
pub(super) const QUIT: Help = Help {
    name: "quit",
    usage: "quit",
    summary: "end the drill without resolving (also Ctrl-D, or Ctrl-C twice)",
    detail: "Ctrl-C while a move runs cancels that move (its query on the server too) and brings the prompt back, as in psql; the move is kept in the transcript as cancelled. At the prompt, Ctrl-C clears the line; twice in a row, Ctrl-D or `quit` ends the drill, unresolved, and shows the score.",
};

/// Help for `clear`.
pub(super) const CLEAR: Help = Help {
    name: "clear",
    usage: "clear",
    summary: "clear the screen (also Ctrl-L)",
    detail: "",
};

/// The second words of verbs that have them, for "did you mean".
pub(super) const SUBCOMMANDS: &[(&str, &[&str])] = &[
    ("app", App::SUBCOMMANDS),
    ("migrate", Migrate::SUBCOMMANDS),
    ("flag", Flag::SUBCOMMANDS),
    ("snapshot", Snapshot::SUBCOMMANDS),
    ("incident", Incident::SUBCOMMANDS),
    ("workers", super::Workers::SUBCOMMANDS),
];

/// Commands of the prompt itself, not moves: never sent to the engine.
pub const PROMPT_COMMANDS: &[&str] = &["help", "quit", "exit", "clear"];

/// The help of a verb.
pub fn help(name: &str) -> Option<&'static Help> {
    HELP.iter().find(|h| h.name.eq_ignore_ascii_case(name))
}

/// The usage line of a verb.
pub(super) fn usage(verb: &str) -> Option<&'static str> {
    help(verb).map(|h| h.usage)
}

/// The briefing: story, objectives, SLO, RTO and the moves.
pub fn briefing(s: &crate::scenario::Scenario) -> String {
    let mut out = format!("{}\n{}\n", s.title, "=".repeat(s.title.chars().count()));
    out.push_str(&format!(
        "{} · {} · scenario `{}`\n\n",
        format!("{:?}", s.kind).to_lowercase(),
        format!("{:?}", s.difficulty).to_lowercase(),
        s.id
    ));
    out.push_str(s.briefing.trim());
    out.push_str("\n\nObjectives:\n");
    for o in &s.objectives {
        out.push_str(&format!("  - {o}\n"));
    }
    if !s.trains.is_empty() {
        out.push_str("Trains:\n");
        for t in &s.trains {
            out.push_str(&format!("  - {t}\n"));
        }
    }
    out.push_str(&format!(
        "\nHealthy means: error rate ≤ {}% and p99 ≤ {}, held for {}.\nRTO: {} from the incident's start. Pass mark: {} of {} points; hints cost {} each.\n",
        s.slo.max_error_rate * 100.0,
        s.slo.p99,
        s.slo.stable_for,
        s.rubric.rto,
        s.rubric.pass_mark(),
        s.rubric.max_points(),
        s.rubric.hint_cost,
    ));
    out.push_str("\nWhat you can do (type `help` during the drill):\n");
    for h in HELP {
        out.push_str(&format!("  {:<10} {}\n", h.name, h.summary));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_verb_is_a_rubric_move_verb() {
        for h in HELP.iter().filter(|h| !PROMPT_COMMANDS.contains(&h.name)) {
            assert!(
                crate::scenario::validate::MOVE_VERBS.contains(&h.name),
                "{}",
                h.name
            );
        }
    }
}

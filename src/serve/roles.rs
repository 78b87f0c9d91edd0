//! Who may do what in a drill several people play, pure.
//!
//! A game day has four roles. The *commander* may make every move, and is
//! the only one who declares the incident, communicates and resolves;
//! *operators* make every other move; *observers* only look; the *game
//! master* runs the scenario (injects faults, pauses and resumes the
//! clock, ends the drill), sees what is hidden, and does not play: a move
//! of theirs would be scored as the team's.

use std::fmt;
use std::str::FromStr;

use crate::action::{Action, Incident};
use crate::drill::Control;

/// A participant's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Leads the response: every move, and the only one who declares,
    /// communicates and resolves.
    Commander,
    /// Makes moves, but does not declare, communicate or resolve.
    Operator,
    /// Reads: status, events, locks, instances.
    Observer,
    /// Runs the scenario and sees what is hidden; does not play.
    GameMaster,
    /// Watches a class: every learner's drill (`serve --class`).
    Instructor,
    /// Plays their own drill alone (`serve --class`).
    Learner,
}

impl Role {
    /// Every role a game day names, in the README's order.
    pub const GAME_DAY: [Role; 4] = [
        Role::Commander,
        Role::Operator,
        Role::Observer,
        Role::GameMaster,
    ];

    /// Its name, as `--participants` and the transcript write it.
    pub fn name(self) -> &'static str {
        match self {
            Role::Commander => "commander",
            Role::Operator => "operator",
            Role::Observer => "observer",
            Role::GameMaster => "game-master",
            Role::Instructor => "instructor",
            Role::Learner => "learner",
        }
    }

    /// Whether this role sees the timeline's hidden events.
    pub fn sees_hidden(self) -> bool {
        matches!(self, Role::GameMaster | Role::Instructor)
    }

    /// Whether this role makes moves at all (the live page's move box).
    pub fn acts(self) -> bool {
        matches!(
            self,
            Role::Commander | Role::Operator | Role::GameMaster | Role::Learner
        )
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        match s {
            "commander" | "ic" => Ok(Role::Commander),
            "operator" | "op" => Ok(Role::Operator),
            "observer" => Ok(Role::Observer),
            "game-master" | "gm" => Ok(Role::GameMaster),
            other => Err(format!(
                "unknown role `{other}`: use commander, operator, observer or game-master"
            )),
        }
    }
}

/// What a participant sent: a learner's move, or a game master's control.
#[derive(Debug, Clone, PartialEq)]
pub enum Line {
    /// A move of the drill's language.
    Move(Action),
    /// A control of the scenario.
    Control(Control),
    /// The game master ends the drill.
    End,
}

/// The words that start a game master's line.
pub const CONTROLS: [&str; 5] = ["inject", "pause", "resume", "faults", "end"];

impl Line {
    /// Reads a line: a control if it starts with one of [`CONTROLS`], else
    /// a move. The error says what is wrong and, for a move, its usage.
    pub fn parse(text: &str) -> Result<Line, String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        match words.as_slice() {
            ["inject", name] => Ok(Line::Control(Control::Inject((*name).to_string()))),
            ["inject", ..] => Err("usage: inject FAULT (`faults` lists them)".to_string()),
            ["pause"] => Ok(Line::Control(Control::Pause)),
            ["resume"] => Ok(Line::Control(Control::Resume)),
            ["faults"] => Ok(Line::Control(Control::Faults)),
            ["end"] => Ok(Line::End),
            [first, ..] if CONTROLS.contains(first) => {
                Err(format!("usage: {first} (it takes no arguments)"))
            }
            _ => crate::action::parse(text)
                .map(Line::Move)
                .map_err(|e| match e.usage {
                    Some(u) => format!("{}\nusage: {u}", e.message),
                    None => e.message,
                }),
        }
    }
}

/// Whether `role` may send `line`; if not, the sentence that says who may.
pub fn permit(role: Role, line: &Line) -> Result<(), String> {
    let action = match line {
        Line::Control(Control::Faults) if role == Role::GameMaster => return Ok(()),
        Line::Control(_) | Line::End => {
            return if role == Role::GameMaster {
                Ok(())
            } else {
                Err(format!(
                    "only the game master injects faults, pauses, resumes or ends the drill; you are {}",
                    article(role)
                ))
            };
        }
        Line::Move(action) => action,
    };
    let reads = action.changes_nothing() && !matches!(action, Action::Wait(_) | Action::Hint);
    match role {
        Role::Commander | Role::Learner => Ok(()),
        Role::Operator if commands(action) => Err(format!(
            "only the commander declares the incident, communicates and resolves; you are {}: ask the commander",
            article(role)
        )),
        Role::Operator => Ok(()),
        _ if reads => Ok(()),
        Role::Observer | Role::Instructor => Err(format!(
            "{} only looks (status, events, locks, instances): the commander and the operators make moves",
            article(role)
        )),
        Role::GameMaster => Err(
            "the game master runs the scenario and does not play it: the commander and the operators make moves (yours: inject, pause, resume, faults, end)"
                .to_string(),
        ),
    }
}

/// Moves only the commander makes.
fn commands(action: &Action) -> bool {
    matches!(
        action,
        Action::Resolve | Action::Incident(Incident::Declare { .. } | Incident::Comms(_))
    )
}

/// "an operator", "a commander".
fn article(role: Role) -> String {
    let name = role.name();
    let an = matches!(
        name.as_bytes().first(),
        Some(b'a' | b'e' | b'i' | b'o' | b'u')
    );
    format!("{} {name}", if an { "an" } else { "a" })
}

/// Parses `--participants "ic=commander,op=operator"`: plain, distinct
/// names, at least one commander (someone must be able to resolve).
pub fn parse_participants(spec: &str) -> Result<Vec<(String, Role)>, String> {
    let mut out: Vec<(String, Role)> = Vec::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((name, role)) = part.split_once('=') else {
            return Err(format!(
                "`{part}` is not NAME=ROLE (e.g. \"ic=commander,op=operator\")"
            ));
        };
        let (name, role) = (name.trim(), role.trim().parse::<Role>()?);
        if !crate::text::is_plain_name(name) || name.len() > 40 {
            return Err(format!(
                "`{name}` is not a valid participant name: up to 40 letters, digits, `-` and `_`"
            ));
        }
        if out.iter().any(|(n, _)| n == name) {
            return Err(format!("participant `{name}` is named twice"));
        }
        out.push((name.to_string(), role));
    }
    if !out.iter().any(|(_, r)| *r == Role::Commander) {
        return Err(
            "a game day needs a commander (NAME=commander): only the commander resolves".into(),
        );
    }
    if out.len() > 64 {
        return Err("at most 64 participants".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> Line {
        Line::parse(text).unwrap()
    }

    #[test]
    fn each_role_may_make_exactly_its_moves() {
        let cases = [
            ("status", [true, true, true, true]),
            ("locks", [true, true, true, true]),
            ("flag set new_checkout off", [true, true, false, false]),
            ("app rollback", [true, true, false, false]),
            ("sql \"SELECT 1\"", [true, true, false, false]),
            ("note \"v2 pods fail\"", [true, true, false, false]),
            ("wait 30s", [true, true, false, false]),
            ("hint", [true, true, false, false]),
            ("incident declare sev2", [true, false, false, false]),
            ("comms \"rolling back\"", [true, false, false, false]),
            ("resolve", [true, false, false, false]),
            ("inject lock-storm", [false, false, false, true]),
            ("pause", [false, false, false, true]),
            ("resume", [false, false, false, true]),
            ("faults", [false, false, false, true]),
            ("end", [false, false, false, true]),
        ];
        for (text, expected) in cases {
            for (role, may) in Role::GAME_DAY.into_iter().zip(expected) {
                assert_eq!(
                    permit(role, &line(text)).is_ok(),
                    may,
                    "{role} sending `{text}`"
                );
            }
        }
    }

    #[test]
    fn a_refusal_says_who_may() {
        let no = permit(Role::Operator, &line("resolve")).unwrap_err();
        assert!(no.contains("only the commander"), "{no}");
        assert!(no.contains("you are an operator"), "{no}");
        let no = permit(Role::Observer, &line("flag set x off")).unwrap_err();
        assert!(no.contains("the commander and the operators"), "{no}");
        let no = permit(Role::Commander, &line("pause")).unwrap_err();
        assert!(no.contains("only the game master"), "{no}");
        assert!(no.contains("a commander"), "{no}");
    }

    #[test]
    fn controls_parse_and_a_bad_one_says_its_usage() {
        assert_eq!(
            line("inject lock-storm"),
            Line::Control(Control::Inject("lock-storm".into()))
        );
        assert_eq!(line("end"), Line::End);
        assert!(
            Line::parse("inject")
                .unwrap_err()
                .contains("usage: inject FAULT")
        );
        assert!(
            Line::parse("pause now")
                .unwrap_err()
                .contains("no arguments")
        );
        assert!(Line::parse("flag sett x").is_err());
    }

    #[test]
    fn participants_are_plain_distinct_names_with_a_commander() {
        let p =
            parse_participants("ic=commander, op=operator,watch=observer,gm=game-master").unwrap();
        assert_eq!(p.len(), 4);
        assert_eq!(p[3], ("gm".to_string(), Role::GameMaster));
        for bad in [
            "ic",
            "ic=captain",
            "ic=commander,ic=operator",
            "op=operator",
            "../x=commander",
            "",
        ] {
            assert!(parse_participants(bad).is_err(), "{bad:?} accepted");
        }
    }
}

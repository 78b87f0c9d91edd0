//! A game master's hold on the scenario (`pgdrill serve`): inject one of
//! the faults the scenario keeps in reserve (`[[inject]]`), stop and
//! restart the scenario clock. These are not the learners' moves: they
//! are not scored, and the transcript records them as timeline events
//! with who asked.
//!
//! While the clock stands still the drill is not measured (no window
//! closes, no sample counts, the timeline and the rollout wait), and moves
//! that change something are refused: a timeout, as in a tabletop game.
//! Writes acknowledged meanwhile still enter the ledger, so the RPO counts
//! them.

use std::fmt;

use super::decide::Pace;
use super::{Drill, Reply};
use crate::transcript::{Actor, Level};

/// What a game master can do to the scenario.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Stop the scenario clock.
    Pause,
    /// Let it run again.
    Resume,
    /// Inject the fault with this name.
    Inject(String),
    /// List the faults that can be injected.
    Faults,
}

impl fmt::Display for Control {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Control::Pause => f.write_str("pause"),
            Control::Resume => f.write_str("resume"),
            Control::Inject(name) => write!(f, "inject {name}"),
            Control::Faults => f.write_str("faults"),
        }
    }
}

impl Drill {
    /// Carries out a game master's control.
    pub(super) fn control(&mut self, control: Control, by: Option<Actor>) -> Reply {
        let who = by.map_or_else(|| "the game master".to_string(), |a| a.to_string());
        match control {
            Control::Faults => Reply::ok(self.faults()),
            Control::Pause => {
                let now = self.clock.now_ms();
                if self.pace.last_window_counts() {
                    self.close_window(now);
                }
                if !self.clock.pause() {
                    return Reply::fail("the scenario clock already stands still");
                }
                self.observe(
                    Level::Info,
                    format!("{who} paused the scenario clock: moves wait until it resumes"),
                );
                Reply::ok("the scenario clock stands still")
            }
            Control::Resume => {
                if !self.clock.resume() {
                    return Reply::fail("the scenario clock is running");
                }
                let probing = self.pace.probing;
                self.pace = Pace::starting(self.clock.now_ms());
                self.pace.probing = probing;
                self.observe(Level::Info, format!("{who} resumed the scenario clock"));
                Reply::ok("the scenario clock runs again")
            }
            Control::Inject(name) => {
                let Some(fault) = self.scenario.inject.iter().position(|f| f.name == name) else {
                    return Reply::fail(format!("no fault `{name}`: {}", self.faults()));
                };
                if self.clock.is_paused() {
                    return Reply::fail("the scenario clock stands still: `resume` first");
                }
                let now = self.clock.now_ms();
                let last = self.schedule.inject(&self.scenario, fault, now);
                if self.scenario.rubric.time_limit.is_none() {
                    // As for the timeline's own last event: time for the
                    // learners to answer it.
                    let answer = 2 * self.scenario.rubric.rto.as_millis()
                        + self.scenario.slo.stable_for.as_millis();
                    self.end_at_ms = self.end_at_ms.max(last.saturating_add(answer));
                }
                self.announce_as(true, format!("{who} injected the fault `{name}`"));
                Reply::ok(format!("fault `{name}` injected"))
            }
        }
    }

    /// The faults in reserve, in a line each.
    fn faults(&self) -> String {
        if self.scenario.inject.is_empty() {
            return "this scenario keeps no fault in reserve".to_string();
        }
        self.scenario
            .inject
            .iter()
            .map(|f| match &f.about {
                Some(about) => format!("{}: {about}", f.name),
                None => f.name.clone(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

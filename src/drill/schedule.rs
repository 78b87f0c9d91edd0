//! When the scenario's timeline fires: events at their time, in time
//! order (declaration order at the same time), each once; events with a
//! `when` scheduled `at` after the moment their flag condition first
//! holds; a game master's injected faults `at` after their injection.
//! Pure: the engine asks what is due and carries it out.

use std::collections::BTreeMap;

use crate::scenario::{FlagValue, Scenario, TimelineEvent};

/// Which scripted event: of the timeline, or of an injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Slot {
    /// `timeline[i]`.
    Timeline(usize),
    /// `inject[fault].events[i]`.
    Inject(usize, usize),
}

impl Slot {
    /// The event itself.
    pub(super) fn event(self, scenario: &Scenario) -> Option<&TimelineEvent> {
        match self {
            Slot::Timeline(i) => scenario.timeline.get(i),
            Slot::Inject(f, i) => scenario.inject.get(f)?.events.get(i),
        }
    }
}

/// The timeline's schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Schedule {
    /// `(scenario ms, event)`, sorted; the ones before `next` fired.
    events: Vec<(u64, Slot)>,
    next: usize,
    /// Events waiting for their condition, by index.
    triggers: Vec<usize>,
}

impl Schedule {
    pub(super) fn of(scenario: &Scenario) -> Schedule {
        let mut events: Vec<(u64, Slot)> = scenario
            .timeline
            .iter()
            .enumerate()
            .filter(|(_, e)| e.when.is_none())
            .map(|(i, e)| (e.at.as_millis(), Slot::Timeline(i)))
            .collect();
        events.sort();
        let triggers = scenario
            .timeline
            .iter()
            .enumerate()
            .filter(|(_, e)| e.when.is_some())
            .map(|(i, _)| i)
            .collect();
        Schedule {
            events,
            next: 0,
            triggers,
        }
    }

    /// Schedules the waiting events whose condition holds for these flag
    /// values, `at` after `now`.
    pub(super) fn trigger(
        &mut self,
        scenario: &Scenario,
        flags: &BTreeMap<String, FlagValue>,
        now: u64,
    ) {
        if self.triggers.is_empty() {
            return;
        }
        let (due, waiting): (Vec<usize>, Vec<usize>) = std::mem::take(&mut self.triggers)
            .into_iter()
            .partition(|i| {
                scenario.timeline[*i].when.as_ref().is_some_and(|w| {
                    flags
                        .get(&w.flag)
                        .is_some_and(|v| v.percent() >= w.at_least.percent())
                })
            });
        self.triggers = waiting;
        for index in due {
            let at = now + scenario.timeline[index].at.as_millis();
            self.insert(at, Slot::Timeline(index));
        }
    }

    /// Schedules the events of injected fault `fault`, `at` after `now`;
    /// returns when its last one fires.
    pub(super) fn inject(&mut self, scenario: &Scenario, fault: usize, now: u64) -> u64 {
        let Some(f) = scenario.inject.get(fault) else {
            return now;
        };
        let mut last = now;
        for (i, e) in f.events.iter().enumerate() {
            let at = now.saturating_add(e.at.as_millis());
            last = last.max(at);
            self.insert(at, Slot::Inject(fault, i));
        }
        last
    }

    /// Puts an event among the pending ones, after those due at the same time.
    fn insert(&mut self, at: u64, slot: Slot) {
        let pending = &self.events[self.next..];
        let pos = self.next + pending.partition_point(|(t, _)| *t <= at);
        self.events.insert(pos, (at, slot));
    }

    /// The events due at `now`, in order; each is returned once.
    pub(super) fn due(&mut self, now: u64) -> Vec<Slot> {
        let mut due = Vec::new();
        while let Some(&(at, index)) = self.events.get(self.next)
            && at <= now
        {
            self.next += 1;
            due.push(index);
        }
        due
    }

    /// The time of the last scheduled event (0 without one).
    fn last_ms(&self) -> u64 {
        self.events.last().map_or(0, |t| t.0)
    }
}

/// When the drill ends by itself: the rubric's time limit, or long enough
/// after the last timeline event for two RTOs and a stability window.
pub(super) fn end_at_ms(scenario: &Scenario, schedule: &Schedule) -> u64 {
    scenario.rubric.time_limit.map_or_else(
        || {
            schedule.last_ms()
                + 2 * scenario.rubric.rto.as_millis()
                + scenario.slo.stable_for.as_millis()
        },
        |limit| limit.as_millis(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Dur;

    fn timeline(indexes: &[usize]) -> Vec<Slot> {
        indexes.iter().map(|i| Slot::Timeline(*i)).collect()
    }

    fn scenario(timeline: &str) -> Scenario {
        super::super::testing::with_timeline(timeline)
    }

    const THREE: &str = r#"
[[timeline]]
at = "20s"
say = "second"

[[timeline]]
at = "5s"
say = "first"

[[timeline]]
at = "20s"
say = "third, declared after second"
"#;

    #[test]
    fn events_fire_at_their_time_in_time_order_each_once() {
        let s = scenario(THREE);
        let mut schedule = Schedule::of(&s);
        assert_eq!(schedule.due(4_999), Vec::<Slot>::new());
        assert_eq!(schedule.due(5_000), timeline(&[1]));
        assert_eq!(schedule.due(5_000), Vec::<Slot>::new());
        assert_eq!(schedule.due(60_000), timeline(&[0, 2]));
        assert_eq!(schedule.due(u64::MAX), Vec::<Slot>::new());
    }

    #[test]
    fn a_late_tick_fires_everything_that_came_due_in_between() {
        let mut schedule = Schedule::of(&scenario(THREE));
        assert_eq!(schedule.due(30_000), timeline(&[1, 0, 2]));
    }

    const TRIGGERED: &str = r#"
[[timeline]]
at = "10s"
say = "at ten seconds"

[[timeline]]
at = "3s"
when = { flag = "login_v2", at_least = "25%" }
say = "three seconds after the flag reached a quarter"
"#;

    fn triggered() -> Scenario {
        scenario(TRIGGERED)
    }

    #[test]
    fn a_triggered_event_fires_at_after_its_condition_first_holds() {
        let s = triggered();
        let flag = "login_v2".to_string();
        let mut schedule = Schedule::of(&s);
        let below = BTreeMap::from([(flag.clone(), FlagValue::Percent(10))]);
        schedule.trigger(&s, &below, 1_000);
        assert_eq!(
            schedule.due(60_000),
            timeline(&[0]),
            "not before its condition holds"
        );
        let reached = BTreeMap::from([(flag, FlagValue::Percent(25))]);
        schedule.trigger(&s, &reached, 61_000);
        assert_eq!(schedule.due(63_999), Vec::<Slot>::new());
        assert_eq!(schedule.due(64_000), timeline(&[1]));
        // Once scheduled it no longer waits: the condition holding again
        // does not fire it twice.
        schedule.trigger(&s, &reached, 70_000);
        assert_eq!(schedule.due(u64::MAX), Vec::<Slot>::new());
    }

    #[test]
    fn a_triggered_event_takes_its_place_among_the_pending_ones() {
        let s = triggered();
        let flag = "login_v2".to_string();
        let mut schedule = Schedule::of(&s);
        let on = BTreeMap::from([(flag, FlagValue::On)]);
        // Reached at 1s: due at 4s, before the 10s event.
        schedule.trigger(&s, &on, 1_000);
        assert_eq!(schedule.due(20_000), timeline(&[1, 0]));
    }

    #[test]
    fn an_injected_fault_fires_its_events_after_the_injection_among_the_pending_ones() {
        let mut s = scenario(THREE);
        s.inject = vec![crate::scenario::Inject {
            name: "storm".into(),
            about: None,
            events: vec![s.timeline[1].clone(), s.timeline[0].clone()],
        }];
        let mut schedule = Schedule::of(&s);
        assert_eq!(schedule.due(6_000), timeline(&[1]));
        // Injected at 8s: its events at 8s + 5s and 8s + 20s.
        assert_eq!(schedule.inject(&s, 0, 8_000), 28_000);
        assert_eq!(schedule.due(13_000), vec![Slot::Inject(0, 0)]);
        assert_eq!(
            schedule.due(30_000),
            vec![Slot::Timeline(0), Slot::Timeline(2), Slot::Inject(0, 1)]
        );
        assert_eq!(schedule.inject(&s, 7, 1), 1, "no such fault: nothing");
    }

    #[test]
    fn the_drill_ends_at_its_time_limit_or_two_rtos_after_its_last_event() {
        let mut s = scenario(THREE);
        let schedule = Schedule::of(&s);
        s.rubric.time_limit = None;
        let expected = 20_000 + 2 * s.rubric.rto.as_millis() + s.slo.stable_for.as_millis();
        assert_eq!(end_at_ms(&s, &schedule), expected);
        s.rubric.time_limit = Some(Dur::from_secs(90));
        assert_eq!(end_at_ms(&s, &schedule), 90_000);
    }
}

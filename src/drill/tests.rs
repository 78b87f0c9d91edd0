//! The engine driven through its own entry points (`act`, `on_tick`)
//! under tokio's paused clock: scenario time passes by `advance`, not by
//! sleeping, and the drill's database is nowhere, so these tests run
//! without PostgreSQL. What needs a server is in `tests/drills.rs`.

use std::time::Duration;

use tokio::sync::oneshot;

use super::testing::{drill, with_timeline};
use super::{Drill, Reply};
use crate::action;
use crate::transcript::{EndReason, EventKind, Level, Parsed};

/// Lets `real_ms` of real time pass, then ticks.
async fn tick_after(d: &mut Drill, real_ms: u64) {
    tokio::time::advance(Duration::from_millis(real_ms)).await;
    d.on_tick();
}

/// Plays a move; its reply, when it came at once.
fn play(d: &mut Drill, line: &str) -> oneshot::Receiver<Reply> {
    let (tx, rx) = oneshot::channel();
    let action = action::parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    d.act(line.to_string(), action, None, tx);
    rx
}

fn told(d: &Drill) -> Vec<String> {
    d.transcript
        .events
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Timeline { message, .. } | EventKind::Observation { message, .. } => {
                Some(message.clone())
            }
            _ => None,
        })
        .collect()
}

const AT_20S: &str = r#"
[[timeline]]
at = "20s"
say = "the release starts"
"#;

#[tokio::test(start_paused = true)]
async fn a_timeline_event_happens_at_its_scenario_time() {
    // Ten scenario seconds per real second: 20s is two real seconds away.
    let mut d = drill(with_timeline(AT_20S), 10.0);
    tick_after(&mut d, 1_900).await;
    assert!(!told(&d).contains(&"the release starts".to_string()));
    tick_after(&mut d, 100).await;
    assert!(told(&d).contains(&"the release starts".to_string()));
    let at = d
        .transcript
        .events
        .iter()
        .find(|e| matches!(&e.kind, EventKind::Timeline { message, .. } if message == "the release starts"))
        .map(|e| e.t_ms);
    assert_eq!(at, Some(20_000));
}

#[tokio::test(start_paused = true)]
async fn the_time_limit_ends_the_drill_with_an_alert() {
    let scenario = with_timeline(AT_20S);
    let limit = scenario
        .rubric
        .time_limit
        .expect("the lab has a limit")
        .as_millis();
    let mut d = drill(scenario, 100.0);
    tick_after(&mut d, limit / 100 - 100).await;
    assert_eq!(d.ended, None);
    tick_after(&mut d, 100).await;
    assert_eq!(d.ended, Some(EndReason::TimeUp));
    assert!(told(&d).iter().any(|m| m.starts_with("time is up")));
}

#[tokio::test(start_paused = true)]
async fn a_wait_is_answered_on_the_tick_it_falls_due() {
    let mut d = drill(with_timeline(AT_20S), 10.0);
    let mut reply = play(&mut d, "wait 30s");
    tick_after(&mut d, 2_900).await;
    assert!(reply.try_recv().is_err(), "29s of 30s: still waiting");
    tick_after(&mut d, 100).await;
    let reply = reply.try_recv().expect("answered at 30s");
    assert!(reply.ok);
    assert_eq!(reply.text, "waited until 30s");
}

#[tokio::test(start_paused = true)]
async fn waiting_until_recovered_before_any_incident_returns_at_once() {
    let mut d = drill(with_timeline(AT_20S), 10.0);
    let mut reply = play(&mut d, "wait until recovered");
    tick_after(&mut d, 100).await;
    let text = reply.try_recv().expect("answered on the next tick").text;
    assert!(text.starts_with("no incident has begun"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn waiting_until_an_incident_returns_once_the_slo_breaks() {
    let mut d = drill(with_timeline(AT_20S), 10.0);
    let mut reply = play(&mut d, "wait until incident --max 1m");
    tick_after(&mut d, 1_000).await;
    assert!(reply.try_recv().is_err(), "no incident yet: still waiting");
    // A window in which every request failed: the pager goes off.
    d.push(EventKind::Window(crate::transcript::Window {
        start_ms: 10_000,
        end_ms: 11_000,
        first_bad_ms: Some(10_200),
        requests: 50,
        errors: 50,
        p50_ms: 1.0,
        p99_ms: 2.0,
        writes: 0,
        series: Vec::new(),
        instances: Vec::new(),
        workers: Vec::new(),
    }));
    tick_after(&mut d, 100).await;
    let text = reply.try_recv().expect("answered on the next tick").text;
    assert!(text.starts_with("an incident began at 10s"), "{text}");
}

#[tokio::test(start_paused = true)]
async fn waiting_until_an_incident_that_never_comes_gives_up_at_its_max() {
    let mut d = drill(with_timeline(AT_20S), 10.0);
    let mut reply = play(&mut d, "wait until incident --max 5s");
    tick_after(&mut d, 400).await;
    assert!(reply.try_recv().is_err());
    tick_after(&mut d, 100).await;
    let text = reply.try_recv().expect("answered at 5s").text;
    assert_eq!(text, "no incident by 5s: the SLO holds and no check fails");
}

const TRIGGERED: &str = r#"
[[timeline]]
at = "5s"
when = { flag = "login_v2", at_least = "50%" }
say = "half the traffic on the new path"
"#;

#[tokio::test(start_paused = true)]
async fn a_flag_move_sets_off_the_event_it_triggers() {
    let mut d = drill(with_timeline(TRIGGERED), 10.0);
    tick_after(&mut d, 1_000).await;
    let reply = play(&mut d, "flag set login_v2 25%").try_recv().unwrap();
    assert!(reply.ok, "{}", reply.text);
    tick_after(&mut d, 2_000).await;
    assert!(
        told(&d).is_empty(),
        "25% does not trigger it: {:?}",
        told(&d)
    );
    play(&mut d, "flag set login_v2 50%");
    // Set at 30s: the event is due 5s later, at 35s.
    tick_after(&mut d, 100).await;
    tick_after(&mut d, 300).await;
    assert!(told(&d).is_empty());
    tick_after(&mut d, 200).await;
    assert_eq!(
        told(&d),
        vec!["half the traffic on the new path".to_string()]
    );
}

#[tokio::test(start_paused = true)]
async fn hints_come_in_order_then_run_out_and_each_is_recorded() {
    let scenario = with_timeline(AT_20S);
    let hints = scenario.hints.clone();
    assert!(!hints.is_empty());
    let mut d = drill(scenario, 10.0);
    for (i, hint) in hints.iter().enumerate() {
        let reply = play(&mut d, "hint").try_recv().unwrap();
        assert!(reply.ok);
        assert!(
            reply
                .text
                .starts_with(&format!("hint {} of {}", i + 1, hints.len()))
        );
        assert!(reply.text.ends_with(hint.as_str()), "{}", reply.text);
    }
    let reply = play(&mut d, "hint").try_recv().unwrap();
    assert!(!reply.ok);
    assert_eq!(reply.text, "no more hints");
    assert_eq!(d.transcript.hints(), hints.len());
}

#[tokio::test(start_paused = true)]
async fn a_move_is_recorded_as_typed_in_canonical_form_and_parsed() {
    let mut d = drill(with_timeline(AT_20S), 10.0);
    play(&mut d, "NOTE   'saw 42703 on v1'");
    play(&mut d, "approve plan --by dana");
    let moves: Vec<_> = d.transcript.moves().map(|(_, m)| m.clone()).collect();
    assert_eq!(moves[0].input, "NOTE   'saw 42703 on v1'");
    assert_eq!(moves[0].canonical, "note saw 42703 on v1");
    assert_eq!(
        moves[0].parsed.as_deref(),
        Some(&Parsed::Note {
            text: "saw 42703 on v1".into()
        })
    );
    assert_eq!(moves[1].canonical, "approve plan --by dana");
}

#[tokio::test(start_paused = true)]
async fn a_rollback_before_any_deploy_is_refused_and_changes_nothing() {
    let mut d = drill(with_timeline(AT_20S), 10.0);
    let reply = play(&mut d, "app rollback").try_recv().unwrap();
    assert!(!reply.ok);
    assert!(
        reply.text.starts_with("nothing to roll back to"),
        "{}",
        reply.text
    );
    let (_, m) = d.transcript.moves().next().unwrap();
    assert!(!m.attempted(), "refused, not attempted");
}

#[tokio::test(start_paused = true)]
async fn resolving_ends_the_drill_and_a_metrics_window_closes_each_second() {
    let mut d = drill(with_timeline(AT_20S), 10.0);
    for _ in 0..30 {
        tick_after(&mut d, 100).await;
    }
    assert_eq!(d.transcript.windows().count(), 3);
    // No traffic ran: every window is empty, and empty is not an incident.
    assert!(told(&d).iter().all(|m| !m.contains("SLO broken")));
    play(&mut d, "resolve");
    assert_eq!(d.ended, Some(EndReason::Resolved));
    assert!(!d.transcript.events.iter().any(|e| matches!(
        &e.kind,
        EventKind::Observation {
            level: Level::Alert,
            ..
        }
    )));
}

//! The engine's decisions, driven without a database: tokio's paused clock
//! stands in for real time, hand-made windows for traffic.

use std::time::Duration;

use super::*;
use crate::transcript::{Event, EventKind, Transcript, Window};

async fn advance(ms: u64) {
    tokio::time::advance(Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn a_window_closes_after_one_real_second_and_the_next_starts_there() {
    let mut pace = Pace::starting(0);
    advance(999).await;
    assert!(!pace.window_due());
    advance(1).await;
    assert!(pace.window_due());
    assert_eq!(
        pace.next_window(10_000),
        0,
        "the closed window started at 0"
    );
    assert!(!pace.window_due());
    advance(1000).await;
    assert_eq!(pace.next_window(20_000), 10_000);
}

#[tokio::test(start_paused = true)]
async fn the_last_partial_window_counts_from_half_a_window() {
    let pace = Pace::starting(0);
    advance(499).await;
    assert!(!pace.last_window_counts());
    advance(1).await;
    assert!(pace.last_window_counts());
}

#[tokio::test(start_paused = true)]
async fn probes_run_one_at_a_time_once_a_second() {
    let mut pace = Pace::starting(0);
    assert!(!pace.start_probe(), "not before a second has passed");
    advance(1000).await;
    assert!(pace.start_probe());
    advance(5000).await;
    assert!(!pace.start_probe(), "the first one still runs");
    pace.probing = false;
    assert!(pace.start_probe());
    assert!(!pace.start_probe());
}

const TIMED: WaitFor = WaitFor {
    until_ms: 30_000,
    until: None,
};
const UNTIL_RECOVERED: WaitFor = WaitFor {
    until_ms: u64::MAX,
    until: Some(Until::Recovered),
};
const UNTIL_INCIDENT: WaitFor = WaitFor {
    until_ms: 90_000,
    until: Some(Until::Incident),
};

fn standing(recovered: bool, no_incident: bool) -> Option<Standing> {
    Some(Standing {
        recovered,
        no_incident,
        incident_ms: (!no_incident).then_some(21_000),
        recovered_ms: recovered.then_some(42_000),
        ..Standing::default()
    })
}

#[test]
fn waiting_until_an_incident_ends_when_one_has_begun_or_at_its_max() {
    assert_eq!(
        answer(&UNTIL_INCIDENT, 20_000, standing(false, true).as_ref()),
        None
    );
    assert_eq!(
        answer(&UNTIL_INCIDENT, 25_000, standing(false, false).as_ref()).as_deref(),
        Some("an incident began at 21s (now 25s): see `status` and `events`")
    );
    assert_eq!(
        answer(&UNTIL_INCIDENT, 90_000, standing(false, true).as_ref()).as_deref(),
        Some("no incident by 1m30s: the SLO holds and no check fails")
    );
    assert_eq!(
        answer(&UNTIL_INCIDENT, 1_000, None),
        None,
        "no standing known: keep waiting"
    );
}

#[test]
fn a_timed_wait_ends_at_its_time_whatever_the_service_does() {
    assert_eq!(answer(&TIMED, 29_999, standing(true, false).as_ref()), None);
    assert_eq!(
        answer(&TIMED, 30_000, None).as_deref(),
        Some("waited until 30s")
    );
}

#[test]
fn waiting_until_recovered_ends_when_service_and_data_are_back() {
    assert_eq!(
        answer(&UNTIL_RECOVERED, 50_000, standing(false, false).as_ref()),
        None
    );
    assert_eq!(
        answer(&UNTIL_RECOVERED, 50_000, standing(true, false).as_ref()).as_deref(),
        Some("recovered since 42s (now 50s): service and data are back")
    );
}

#[test]
fn waiting_until_recovered_with_no_incident_ends_at_once() {
    let text = answer(&UNTIL_RECOVERED, 1_000, standing(false, true).as_ref()).unwrap();
    assert!(text.starts_with("no incident has begun"), "{text}");
}

#[test]
fn waiting_until_recovered_gives_up_at_its_max() {
    let wait = WaitFor {
        until_ms: 60_000,
        until: Some(Until::Recovered),
    };
    assert_eq!(answer(&wait, 59_999, standing(false, false).as_ref()), None);
    assert_eq!(
        answer(&wait, 60_000, standing(false, false).as_ref()).as_deref(),
        Some("not recovered by 1m00s: see `status`")
    );
}

fn fleet(rollout: Option<&str>, pods: &[&str]) -> Standing {
    Standing {
        no_incident: true,
        rollout: rollout.map(str::to_string),
        pods: pods.iter().map(|p| p.to_string()).collect(),
        ..Standing::default()
    }
}

#[test]
fn waiting_until_a_rollout_ends_once_one_has_begun_however_it_stands() {
    let wait = WaitFor {
        until_ms: 60_000,
        until: Some(Until::Rollout),
    };
    let before = fleet(None, &["v1", "v1"]);
    assert_eq!(answer(&wait, 30_000, Some(&before)), None);
    assert_eq!(
        answer(&wait, 60_000, Some(&before)).as_deref(),
        Some("no rollout has begun by 1m00s")
    );
    let stalled = fleet(Some("rollout to v2: stalled, 1 of 2 pods"), &["v2", "v1"]);
    assert_eq!(
        answer(&wait, 31_000, Some(&stalled)).as_deref(),
        Some("rollout to v2: stalled, 1 of 2 pods (now 31s)")
    );
    let done = fleet(Some("rollout to v2: complete, 2 of 2 pods"), &["v2", "v2"]);
    assert!(
        answer(&wait, 31_000, Some(&done)).is_some(),
        "a finished one counts"
    );
}

#[test]
fn waiting_until_a_version_ends_when_every_pod_runs_it() {
    let wait = WaitFor {
        until_ms: 90_000,
        until: Some(Until::Version("v1".into())),
    };
    let half = fleet(Some("rollout to v1: rolling, 1 of 2 pods"), &["v1", "v2"]);
    assert_eq!(answer(&wait, 40_000, Some(&half)), None);
    assert_eq!(
        answer(&wait, 90_000, Some(&half)).as_deref(),
        Some("1 of 2 pods run v1 at 1m30s: see `app status`")
    );
    let all = fleet(Some("rollout to v1: complete, 2 of 2 pods"), &["v1", "v1"]);
    assert_eq!(
        answer(&wait, 45_000, Some(&all)).as_deref(),
        Some("every pod runs v1 (now 45s)")
    );
    assert_eq!(
        answer(&wait, 45_000, Some(&fleet(None, &[]))),
        None,
        "no fleet: no pod runs it"
    );
}

fn recovery(start: Option<u64>, confirmed: Option<u64>) -> Recovery {
    Recovery {
        incident_start_ms: start,
        confirmed_ms: confirmed,
        ..Recovery::default()
    }
}

#[test]
fn the_first_breach_is_an_alert() {
    let before = recovery(None, None);
    let after = recovery(Some(5_000), None);
    assert_eq!(
        slo_change(&before, &after, Some(true), false),
        Some((Level::Alert, "SLO broken"))
    );
    assert_eq!(slo_change(&before, &before, Some(true), true), None);
}

#[test]
fn before_recovery_is_confirmed_every_flip_is_told() {
    let during = recovery(Some(5_000), None);
    assert_eq!(
        slo_change(&during, &during, Some(false), true),
        Some((Level::Info, "within the SLO again"))
    );
    assert_eq!(
        slo_change(&during, &during, Some(true), false),
        Some((Level::Alert, "SLO broken again"))
    );
    assert_eq!(slo_change(&during, &during, Some(false), false), None);
    assert_eq!(slo_change(&during, &during, None, true), None);
}

#[test]
fn after_recovery_is_confirmed_a_flip_says_nothing_here() {
    let confirmed = recovery(Some(5_000), Some(40_000));
    assert_eq!(slo_change(&confirmed, &confirmed, Some(true), false), None);
}

/// A transcript of one-second windows, failing from `bad.0` to `bad.1`.
fn windows(seconds: u64, bad: (u64, u64)) -> Transcript {
    let mut t = Transcript::new("s", 1, 1.0, 0);
    for s in 0..seconds {
        let failing = (bad.0..bad.1).contains(&s);
        t.events.push(Event {
            hash: None,
            t_ms: (s + 1) * 1000,
            kind: EventKind::Window(Window {
                start_ms: s * 1000,
                end_ms: (s + 1) * 1000,
                first_bad_ms: failing.then_some(s * 1000),
                requests: 100,
                errors: if failing { 50 } else { 0 },
                p50_ms: 1.0,
                p99_ms: 5.0,
                ..Window::default()
            }),
        });
    }
    t
}

#[test]
fn a_recovery_is_announced_with_what_is_back_and_the_rto() {
    let scenario = super::super::testing::with_timeline("");
    let t = windows(120, (10, 20));
    let timing = Timing::of(&scenario.slo, &t);
    let line = recovery_line(&timing, &scenario.slo, scenario.rubric.rto);
    assert_eq!(
        line,
        format!(
            "the SLO has held for {} since 20s (RTO 10s, target {})",
            scenario.slo.stable_for, scenario.rubric.rto
        )
    );
}

//! Scoring rules on the real mixed-version-rename scenario with hand-made
//! transcripts (times in scenario seconds).

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::transcript::{Event, EventKind, Move, State, Window};

fn scenario() -> Scenario {
    crate::scenario::parse(
        Path::new("mixed-version-rename.toml"),
        include_str!("../../scenarios/mixed-version-rename.toml"),
    )
    .unwrap()
}

/// A move at a second, with the pods per version it met.
type Played<'a> = (u64, &'a str, &'a [(&'a str, u32)]);

/// A transcript builder: healthy traffic, broken from `broken.0` to `broken.1`.
struct Drill {
    t: Transcript,
}

impl Drill {
    fn new(broken: (u64, u64), until: u64) -> Drill {
        let mut t = Transcript::new("mixed-version-rename", 1, 10.0, 0);
        for s in 0..until {
            let bad = (broken.0..broken.1).contains(&s);
            t.events.push(Event {
                t_ms: (s + 1) * 1000,
                kind: EventKind::Window(Window {
                    start_ms: s * 1000,
                    end_ms: (s + 1) * 1000,
                    requests: 80,
                    errors: if bad { 40 } else { 0 },
                    p50_ms: 1.0,
                    p99_ms: 5.0,
                    ..Window::default()
                }),
            });
        }
        Drill { t }
    }

    fn play(mut self, moves: &[Played]) -> Drill {
        for (sec, canonical, pods) in moves {
            self.t.events.push(Event {
                t_ms: sec * 1000,
                kind: EventKind::Move(Move {
                    tags: Vec::new(),
                    input: canonical.to_string(),
                    canonical: canonical.to_string(),
                    ok: true,
                    result: String::new(),
                    state: State {
                        pods: pods
                            .iter()
                            .map(|(v, n)| (v.to_string(), *n))
                            .collect::<BTreeMap<_, _>>(),
                        ..State::default()
                    },
                }),
            });
        }
        self
    }

    fn end(mut self, sec: u64, reason: EndReason) -> Transcript {
        self.t.events.sort_by_key(|e| e.t_ms);
        self.t.events.push(Event {
            t_ms: sec * 1000,
            kind: EventKind::Ended { reason },
        });
        self.t
    }
}

const MIXED: &[(&str, u32)] = &[("v1", 2), ("v2", 2)];
const OLD: &[(&str, u32)] = &[("v1", 4)];

fn item<'a>(s: &'a Score, label: &str) -> &'a Item {
    s.items
        .iter()
        .find(|i| i.label == label)
        .unwrap_or_else(|| panic!("no item {label}: {s:#?}"))
}

#[test]
fn the_reference_order_passes_with_full_marks() {
    let t = Drill::new((15, 80), 130)
        .play(&[
            (30, "status", MIXED),
            (35, "app pause", MIXED),
            (40, "app rollback v1", MIXED),
            (55, "snapshot create snap-1", OLD),
            (60, "migrate down 002_rename_name", OLD),
            (115, "status", OLD),
            (118, "note all pods on v1, 002 reverted, error rate 0%", OLD),
        ])
        .end(120, EndReason::Resolved);
    let s = score(&scenario(), &t);
    assert!(s.passed, "{s:#?}");
    assert_eq!(s.points, 100);
    assert_eq!(s.recovery.incident_start_ms, Some(15_000));
    assert_eq!(s.recovery.rto_ms(), Some(65_000));
    // The early `status` does not count for `verify`; the later one does.
    assert_eq!(item(&s, "verify").t_ms, Some(115_000));
}

#[test]
fn doing_nothing_and_resolving_fails_on_every_count() {
    let t = Drill::new((15, 60), 60)
        .play(&[(40, "resolve", MIXED)])
        .end(40, EndReason::Resolved);
    let s = score(&scenario(), &t);
    assert!(!s.passed);
    let resolve = item(&s, "resolve");
    assert_eq!(resolve.points, -50);
    assert!(
        resolve.detail.contains("post-rollback verification"),
        "{}",
        resolve.detail
    );
    assert!(
        s.reasons.iter().any(|r| r.contains("did not recover")),
        "{:?}",
        s.reasons
    );
    assert!(
        s.reasons.iter().any(|r| r.starts_with("hard stop")),
        "{:?}",
        s.reasons
    );
    assert_eq!(item(&s, "revert-app").kind, ItemKind::MissedStep);
    assert!(
        item(&s, "revert-app")
            .detail
            .contains("runbook 003, option C")
    );
}

#[test]
fn fixing_the_schema_under_v2_without_a_snapshot_is_penalised_twice() {
    let t = Drill::new((15, 70), 130)
        .play(&[
            (30, "migrate down 002_rename_name", MIXED),
            (40, "app rollback v1", MIXED),
            (110, "status", OLD),
            (112, "note fixed", OLD),
        ])
        .end(115, EndReason::Resolved);
    let s = score(&scenario(), &t);
    assert!(!s.passed, "{s:#?}");
    let penalties: Vec<&Item> = s
        .items
        .iter()
        .filter(|i| i.kind == ItemKind::Forbidden)
        .collect();
    assert_eq!(penalties.len(), 2, "{penalties:#?}");
    assert!(
        penalties
            .iter()
            .any(|p| p.detail.contains("while v2 pods were serving"))
    );
    assert!(
        penalties
            .iter()
            .any(|p| p.detail.contains("before `snapshot`"))
    );
    // The schema fix came before the app was reverted: no points for it.
    let fix = item(&s, "schema-fix");
    assert_eq!(fix.kind, ItemKind::MissedStep);
    assert!(fix.detail.contains("before `revert-app`"), "{}", fix.detail);
}

#[test]
fn recovering_too_slowly_fails_the_rto() {
    let t = Drill::new((15, 400), 440)
        .play(&[
            (20, "app pause", MIXED),
            (25, "app rollback v1", MIXED),
            (30, "snapshot create s", OLD),
            (390, "migrate down 002_rename_name", OLD),
            (435, "status", OLD),
            (436, "note done", OLD),
        ])
        .end(438, EndReason::Resolved);
    let s = score(&scenario(), &t);
    assert_eq!(s.points, 100);
    assert!(!s.passed);
    assert!(
        s.reasons.iter().any(|r| r.contains("over the RTO of 5m")),
        "{:?}",
        s.reasons
    );
}

#[test]
fn hints_cost_points_and_an_unresolved_drill_fails() {
    let mut t = Drill::new((15, 30), 80)
        .play(&[])
        .end(80, EndReason::ScriptEnded);
    t.events.push(Event {
        t_ms: 20_000,
        kind: EventKind::Hint {
            n: 1,
            text: "h".into(),
        },
    });
    let s = score(&scenario(), &t);
    assert_eq!(item(&s, "hint 1").points, -5);
    assert!(
        s.reasons
            .iter()
            .any(|r| r.contains("never declared resolved"))
    );
}

#[test]
fn scoring_is_a_function_of_its_inputs() {
    let t = Drill::new((15, 80), 130)
        .play(&[(35, "app pause", MIXED)])
        .end(120, EndReason::Resolved);
    let json = serde_json::to_string(&t).unwrap();
    let back: Transcript = serde_json::from_str(&json).unwrap();
    assert_eq!(score(&scenario(), &t), score(&scenario(), &back));
}

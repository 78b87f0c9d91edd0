//! Scoring rules on the real mixed-version-rename scenario with hand-made
//! transcripts (times in scenario seconds).

use std::collections::BTreeMap;
use std::path::Path;

use super::*;
use crate::transcript::{EndReason, Event, EventKind, Move, State, Tag, Window};

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
                hash: None,
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
                hash: None,
                t_ms: sec * 1000,
                kind: EventKind::Move(Move {
                    tags: tags_for(canonical),
                    input: canonical.to_string(),
                    canonical: canonical.to_string(),
                    ok: true,
                    result: String::new(),
                    outcome: None,
                    parsed: None,
                    by: None,
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
            hash: None,
            t_ms: sec * 1000,
            kind: EventKind::Ended { reason },
        });
        self.t
    }
}

/// The tags the engine would give these moves.
fn tags_for(canonical: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    let corrective = [
        "migrate down",
        "migrate apply",
        "restore",
        "replay",
        "repair",
    ];
    if corrective.iter().any(|p| canonical.starts_with(p)) {
        tags.push(Tag::Corrective);
    }
    if canonical.contains("--to in-place") {
        tags.extend([Tag::Destructive, Tag::InPlace]);
    }
    if canonical.starts_with("migrate up 003_drop") {
        tags.extend([Tag::Contract, Tag::Destructive]);
    }
    tags
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
        .filter(|i| matches!(i.kind, ItemKind::Forbidden | ItemKind::Guardrail))
        .collect();
    assert_eq!(penalties.len(), 2, "{penalties:#?}");
    assert!(
        penalties
            .iter()
            .any(|p| p.detail.contains("while v2 pods were serving"))
    );
    let guardrail = item(&s, "corrective-without-snapshot");
    assert!(
        guardrail
            .detail
            .contains("with no snapshot taken since the incident began"),
        "{}",
        guardrail.detail
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
        hash: None,
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

fn contract_scenario() -> Scenario {
    crate::scenario::parse(
        Path::new("contract-too-early.toml"),
        include_str!("../../scenarios/contract-too-early.toml"),
    )
    .unwrap()
}

fn with_flag(mut t: Transcript, value: &str) -> Transcript {
    for e in &mut t.events {
        if let EventKind::Move(m) = &mut e.kind {
            m.state.flags.insert("sms_login".into(), value.into());
        }
    }
    t
}

fn check(t: &mut Transcript, sec: u64, ok: bool) {
    t.events.push(Event {
        hash: None,
        t_ms: sec * 1000,
        kind: EventKind::Check {
            name: "phones-intact".into(),
            ok,
            bad: Some(if ok { 0 } else { 2000 }),
            error: None,
        },
    });
    t.events.sort_by_key(|e| e.t_ms);
}

const V2: &[(&str, u32)] = &[("v2", 4)];

#[test]
fn restoring_in_place_breaks_three_guardrails_and_loses_writes() {
    let mut t = Drill::new((20, 40), 100)
        .play(&[
            (40, "restore pre-release-3 --to in-place", V2),
            (90, "status", V2),
        ])
        .end(95, EndReason::Resolved);
    check(&mut t, 21, false);
    check(&mut t, 41, true);
    t.events.push(Event {
        hash: None,
        t_ms: 95_000,
        kind: EventKind::Rpo(crate::transcript::Rpo {
            writes: 100,
            missing: 12,
            first_missing_ms: Some(10_000),
            last_missing_ms: Some(40_000),
            ..Default::default()
        }),
    });
    let s = score(&contract_scenario(), &t);
    for id in [
        "restore-in-place",
        "destructive-without-approval",
        "corrective-without-snapshot",
    ] {
        assert_eq!(item(&s, id).kind, ItemKind::Guardrail, "{id}");
    }
    assert!(
        s.reasons
            .iter()
            .any(|r| r.contains("12 of 100 acknowledged writes are missing")),
        "{:#?}",
        s.reasons
    );
    assert!(!s.passed);
}

#[test]
fn a_failing_check_starts_the_incident_and_must_pass_at_the_end() {
    let mut t = Drill::new((0, 0), 100)
        .play(&[
            (30, "snapshot create s", V2),
            (40, "migrate down 003_drop_legacy_phone", V2),
        ])
        .end(95, EndReason::Resolved);
    check(&mut t, 21, false);
    let s = score(&contract_scenario(), &t);
    assert_eq!(s.incident_start_ms, Some(21_000));
    assert!(
        s.reasons
            .iter()
            .any(|r| r.contains("integrity check `phones-intact` still fails")),
        "{:#?}",
        s.reasons
    );
    // The snapshot came after the incident began: no snapshot guardrail.
    assert!(
        s.items
            .iter()
            .all(|i| i.label != "corrective-without-snapshot")
    );
    // Repaired at 60s: data back, RTO from the first failure.
    check(&mut t, 60, true);
    let s = score(&contract_scenario(), &t);
    assert_eq!(s.data_restored_ms, Some(60_000));
    assert_eq!(s.rto_ms, Some(39_000));
}

#[test]
fn rolling_the_app_back_before_the_flag_is_flagged_unless_turned_off() {
    let t = with_flag(
        Drill::new((20, 40), 100)
            .play(&[(30, "app rollback v1", V2)])
            .end(95, EndReason::Resolved),
        "50%",
    );
    let mut scenario = contract_scenario();
    let s = score(&scenario, &t);
    assert!(
        item(&s, "rollback-before-flag")
            .detail
            .contains("sms_login=50%")
    );
    scenario.rubric.guardrails_off = vec!["rollback-before-flag".into()];
    let s = score(&scenario, &t);
    assert!(s.items.iter().all(|i| i.label != "rollback-before-flag"));
    let off = with_flag(
        Drill::new((20, 40), 100)
            .play(&[(30, "app rollback v1", V2)])
            .end(95, EndReason::Resolved),
        "off",
    );
    let s = score(&contract_scenario(), &off);
    assert!(s.items.iter().all(|i| i.label != "rollback-before-flag"));
}

#[test]
fn a_contract_right_after_a_flag_change_is_a_hard_stop() {
    let t = Drill::new((0, 0), 100)
        .play(&[
            (10, "flag set sms_login 100%", V2),
            (20, "migrate up 003_drop_legacy_phone", V2),
        ])
        .end(95, EndReason::Resolved);
    let s = score(&contract_scenario(), &t);
    let broken = item(&s, "contract-before-stable");
    assert!(
        broken.detail.contains("stable for 30s"),
        "{}",
        broken.detail
    );
    assert!(s.reasons.iter().any(|r| r.starts_with("hard stop")));
}

#[test]
fn a_forward_fix_that_fails_its_second_run_costs_points_even_though_it_failed() {
    let mut t = Drill::new((20, 40), 100).end(95, EndReason::Resolved);
    t.events.push(Event {
        hash: None,
        t_ms: 30_000,
        kind: EventKind::Move(Move {
            input: "migrate apply fix.sql".into(),
            canonical: "migrate apply 003_fix".into(),
            ok: false,
            result: "not idempotent".into(),
            tags: vec![Tag::Corrective, Tag::NotIdempotent],
            state: State::default(),
            outcome: Some(crate::transcript::Outcome::Failed),
            parsed: None,
            by: None,
        }),
    });
    t.events.sort_by_key(|e| e.t_ms);
    let s = score(&scenario(), &t);
    assert!(
        item(&s, "forward-fix-rules")
            .detail
            .contains("second run failed")
    );
}

fn lab_scenario() -> Scenario {
    crate::scenario::parse(
        Path::new("rollout-lab.toml"),
        include_str!("../../scenarios/rollout-lab.toml"),
    )
    .unwrap()
}

#[test]
fn a_forbid_with_prerequisites_applies_while_any_is_missing() {
    let lab = lab_scenario();
    let none = Drill::new((0, 0), 30)
        .play(&[(10, "migrate up 002_add_login_columns", OLD)])
        .end(20, EndReason::HardStop);
    let s = score(&lab, &none);
    let stop = &s.hard_stops[0];
    assert!(
        stop.contains("before `plan`, before `approve-plan`"),
        "{stop}"
    );
    // Planned but not approved: still a hard stop, naming only what is missing.
    let half = Drill::new((0, 0), 30)
        .play(&[
            (
                1,
                "plan 002_add_login_columns expand --window 24h --owner d",
                OLD,
            ),
            (2, "snapshot create s", OLD),
            (3, "restore s --to new", OLD),
            (10, "migrate up 002_add_login_columns", OLD),
        ])
        .end(20, EndReason::HardStop);
    let s = score(&lab, &half);
    assert_eq!(s.hard_stops.len(), 1, "{:#?}", s.hard_stops);
    assert!(s.hard_stops[0].contains("before `approve-plan`:"));
    assert!(!s.hard_stops[0].contains("before `plan`"));
    // A hard stop ends the drill; it is not also "never resolved".
    assert!(
        s.reasons
            .iter()
            .all(|r| !r.contains("never declared resolved"))
    );
    // All prerequisites met: no rule broken.
    let ok = Drill::new((0, 0), 30)
        .play(&[
            (
                1,
                "plan 002_add_login_columns expand --window 24h --owner d",
                OLD,
            ),
            (2, "approve plan by lead", OLD),
            (3, "snapshot create s", OLD),
            (4, "restore s --to new", OLD),
            (10, "migrate up 002_add_login_columns", OLD),
        ])
        .end(20, EndReason::Resolved);
    let s = score(&lab, &ok);
    assert!(s.hard_stops.is_empty(), "{:#?}", s.hard_stops);
}

#[test]
fn a_forbid_by_tag_catches_the_contract_whatever_the_verb() {
    let lab = lab_scenario();
    let mut t = Drill::new((0, 0), 30).end(20, EndReason::HardStop);
    t.events.insert(
        5,
        Event {
            hash: None,
            t_ms: 5_000,
            kind: EventKind::Move(Move {
                input: "sql ALTER TABLE users DROP COLUMN password_sha1".into(),
                canonical: "sql ALTER TABLE users DROP COLUMN password_sha1".into(),
                ok: true,
                result: String::new(),
                tags: vec![Tag::Contract, Tag::Destructive],
                state: State::default(),
                outcome: None,
                parsed: None,
                by: None,
            }),
        },
    );
    let s = score(&lab, &t);
    assert!(
        s.hard_stops
            .iter()
            .any(|h| h.contains("(a contract move): Destructive schema change")),
        "{:#?}",
        s.hard_stops
    );
    // The same statement without the tag (it did not drop anything) passes
    // the contract rule.
    if let EventKind::Move(m) = &mut t.events[5].kind {
        m.tags.clear();
    }
    assert!(score(&lab, &t).hard_stops.is_empty());
}

/// A move that did not succeed, ended as `outcome`.
fn unsuccessful(
    t: &mut Transcript,
    sec: u64,
    canonical: &str,
    outcome: crate::transcript::Outcome,
    tags: &[Tag],
) {
    t.events.push(Event {
        hash: None,
        t_ms: sec * 1000,
        kind: EventKind::Move(Move {
            input: canonical.into(),
            canonical: canonical.into(),
            ok: false,
            result: "canceling statement due to user request".into(),
            tags: tags.to_vec(),
            state: State::default(),
            outcome: Some(outcome),
            parsed: None,
            by: None,
        }),
    });
    t.events.sort_by_key(|e| e.t_ms);
}

#[test]
fn a_forbidden_move_that_was_attempted_costs_its_penalty_even_when_it_failed() {
    // Regression: in lock-queue, `migrate up` without a lock timeout queued
    // behind the report, was cancelled, ended `ok: false`, and escaped the
    // rule written for exactly that move.
    use crate::transcript::Outcome;
    let lock_queue = crate::scenario::parse(
        Path::new("lock-queue.toml"),
        include_str!("../../scenarios/lock-queue.toml"),
    )
    .unwrap();
    let forbidden = |s: &Score| {
        s.items
            .iter()
            .filter(|i| i.kind == ItemKind::Forbidden)
            .map(|i| i.detail.clone())
            .collect::<Vec<_>>()
    };
    for outcome in [Outcome::Failed, Outcome::Cancelled, Outcome::Interrupted] {
        let mut t = Drill::new((20, 40), 100).end(95, EndReason::Resolved);
        unsuccessful(&mut t, 30, "migrate up 002_add_order_channel", outcome, &[]);
        let s = score(&lock_queue, &t);
        let found = forbidden(&s);
        assert_eq!(found.len(), 1, "{outcome:?}: {s:#?}");
        assert!(found[0].contains(outcome.describe()), "{}", found[0]);
        assert!(
            found[0].contains("queues behind the same long transaction"),
            "{}",
            found[0]
        );
    }
    // A refused move changed nothing, and a run with a lock timeout is
    // another move.
    let mut t = Drill::new((20, 40), 100).end(95, EndReason::Resolved);
    unsuccessful(
        &mut t,
        30,
        "migrate up 002_add_order_channel",
        Outcome::Refused,
        &[],
    );
    unsuccessful(
        &mut t,
        31,
        "migrate up --lock-timeout 2s 002_add_order_channel",
        Outcome::Failed,
        &[],
    );
    assert!(forbidden(&score(&lock_queue, &t)).is_empty());
    // A rule can ask for success only.
    let mut strict = lock_queue.clone();
    strict.rubric.forbid[0].only_if_done = true;
    let mut t = Drill::new((20, 40), 100).end(95, EndReason::Resolved);
    unsuccessful(
        &mut t,
        30,
        "migrate up 002_add_order_channel",
        Outcome::Failed,
        &[],
    );
    assert!(forbidden(&score(&strict, &t)).is_empty());
}

#[test]
fn a_guardrail_is_broken_by_an_attempt_not_by_a_refusal() {
    use crate::transcript::Outcome;
    let in_place = [Tag::Corrective, Tag::Destructive, Tag::InPlace];
    let mut t = Drill::new((20, 40), 100).end(95, EndReason::Resolved);
    unsuccessful(
        &mut t,
        30,
        "restore snap-1 --to in-place",
        Outcome::Failed,
        &in_place,
    );
    let s = score(&scenario(), &t);
    assert!(
        item(&s, "restore-in-place").detail.contains("(it failed)"),
        "{s:#?}"
    );
    let mut t = Drill::new((20, 40), 100).end(95, EndReason::Resolved);
    unsuccessful(
        &mut t,
        30,
        "restore snap-1 --to in-place",
        Outcome::Refused,
        &in_place,
    );
    let s = score(&scenario(), &t);
    assert!(
        s.items.iter().all(|i| i.kind != ItemKind::Guardrail),
        "{s:#?}"
    );
}

#[test]
fn an_early_blip_on_a_busy_machine_does_not_make_the_wrong_rollback_look_recovered() {
    // Regression for the rollout-lab race: the recorded revert-schema run,
    // with errors in its second and third windows as a loaded machine
    // gives them (the pool timing out while the drill starts). Scored as
    // the first recovery, that blip recovered within 30s and the run whose
    // service is broken at the end passed for recovered.
    let mut t = Transcript::parse(
        Path::new("t.json"),
        include_bytes!("../../tests/fixtures/transcripts/rollout-lab.revert-schema.json"),
    )
    .unwrap();
    let lab = lab_scenario();
    let before = score(&lab, &t);
    let mut blips = 0;
    for e in t.events.iter_mut() {
        if let EventKind::Window(w) = &mut e.kind
            && (1..3).contains(&(w.start_ms / 10_000))
        {
            w.errors = w.requests / 4;
            blips += 1;
        }
    }
    assert_eq!(blips, 2);
    let after = score(&lab, &t);
    assert_eq!(after.recovery.episodes.len(), 2, "{:?}", after.recovery);
    assert!(after.incident_start_ms < before.incident_start_ms);
    assert_eq!((after.recovered_ms, after.rto_ms), (None, None));
    assert!(
        after
            .reasons
            .iter()
            .any(|r| r.contains("the service did not recover")),
        "{:?}",
        after.reasons
    );
}

mod rubric;

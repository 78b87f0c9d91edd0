//! The rubric's newer kinds of rule: approvals by role, the comms
//! cadence, and guardrails a scenario words for itself.

use super::*;

/// A rubric step wanting approvals as two roles, from different people.
fn with_approvals_step(mut s: Scenario) -> Scenario {
    s.rubric.steps.push(crate::scenario::Step {
        id: "approvals".into(),
        moves: crate::scenario::Patterns(vec!["approve restore".into()]),
        points: 10,
        after: Vec::new(),
        before: Vec::new(),
        mentions: Vec::new(),
        approvers: vec!["sre".into(), "migration-owner".into()],
        why: "Confirm approvals are available (SRE + migration owner), runbook 003.".into(),
    });
    s
}

/// Approval moves as the engine records them, at seconds.
fn approvals(t: &mut Transcript, given: &[(u64, &str, &str)]) {
    for (sec, by, role) in given {
        t.events.push(Event {
            hash: None,
            t_ms: sec * 1000,
            kind: EventKind::Move(Move {
                input: String::new(),
                canonical: format!("approve restore --by {by} --as {role}"),
                ok: true,
                result: String::new(),
                tags: Vec::new(),
                outcome: None,
                parsed: Some(Box::new(crate::transcript::Parsed::Approval {
                    what: "restore".into(),
                    by: by.to_string(),
                    role: Some(role.to_string()),
                })),
                by: None,
                state: State::default(),
            }),
        });
    }
    t.events.sort_by_key(|e| e.t_ms);
}

#[test]
fn an_approvers_step_is_done_when_different_people_cover_every_role() {
    let s = with_approvals_step(scenario());
    let mut t = Drill::new((0, 0), 30).end(30, EndReason::Resolved);
    // One person in both roles is not two approvals; the second person's
    // approval completes them.
    approvals(
        &mut t,
        &[
            (5, "dana", "sre"),
            (6, "Dana", "migration-owner"),
            (8, "lee", "migration-owner"),
        ],
    );
    let step = item(&score(&s, &t), "approvals").clone();
    assert_eq!((step.points, step.t_ms), (10, Some(8000)), "{step:#?}");

    let mut alone = Drill::new((0, 0), 30).end(30, EndReason::Resolved);
    approvals(
        &mut alone,
        &[(5, "dana", "sre"), (6, "dana", "migration-owner")],
    );
    let missed = item(&score(&s, &alone), "approvals").clone();
    assert_eq!(missed.points, 0);
    assert!(
        missed
            .detail
            .contains("approvals as sre and migration-owner from different people never all given"),
        "{}",
        missed.detail
    );
}

#[test]
fn each_stretch_without_a_status_update_while_the_incident_is_open_costs_the_penalty() {
    let mut s = scenario();
    s.rubric.comms = Some(crate::scenario::Cadence {
        every: crate::scenario::Dur::from_secs(60),
        penalty: 5,
        why: "Status updates every 15-30 minutes (runbook 003).".into(),
    });
    let cadence = |t: &Transcript| -> Vec<Item> {
        score(&s, t)
            .items
            .into_iter()
            .filter(|i| i.kind == ItemKind::Comms)
            .collect()
    };
    // The incident starts at 10s (the first bad window ends at 11s) and
    // is resolved at 200s.
    let quiet = Drill::new((10, 40), 210)
        .play(&[(200, "resolve", OLD)])
        .end(200, EndReason::Resolved);
    let start = score(&s, &quiet).incident_start_ms.unwrap();
    let lines = cadence(&quiet);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert_eq!(lines[0].points, -5);
    assert_eq!(lines[0].t_ms, Some(start + 60_000));
    assert!(
        lines[0]
            .detail
            .contains("after the incident's start (at most 1m apart"),
        "{}",
        lines[0].detail
    );
    // Updates 50 s apart, and 50 s before the end: nothing to say.
    let kept = Drill::new((10, 40), 210)
        .play(&[
            (start / 1000 + 50, "comms \"investigating\"", OLD),
            (start / 1000 + 100, "comms \"restoring\"", OLD),
            (
                start / 1000 + 150,
                "comms \"Rollback complete. Validation passed.\"",
                OLD,
            ),
            (200, "resolve", OLD),
        ])
        .end(200, EndReason::Resolved);
    assert!(cadence(&kept).is_empty(), "{:#?}", cadence(&kept));
    // One gap in the middle is one line, dated where the silence began.
    let gap = Drill::new((10, 40), 210)
        .play(&[
            (start / 1000 + 30, "comms \"investigating\"", OLD),
            (start / 1000 + 150, "comms \"done\"", OLD),
            (200, "resolve", OLD),
        ])
        .end(200, EndReason::Resolved);
    let lines = cadence(&gap);
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        lines[0].detail.contains("no status update for 2m"),
        "{}",
        lines[0].detail
    );
}

#[test]
fn a_scenario_rewords_a_guardrail_and_sets_its_penalty() {
    let t = Drill::new((20, 40), 100)
        .play(&[(40, "restore pre-release-3 --to in-place", V2)])
        .end(95, EndReason::Resolved);
    let mut s = contract_scenario();
    let built_in = item(&score(&s, &t), "restore-in-place").clone();
    assert_eq!(built_in.points, -40);
    s.rubric.guardrails.insert(
        "restore-in-place".into(),
        crate::scenario::GuardrailFit {
            why: Some(
                "Restore to a new instance and validate it first (our runbook 003, step 1).".into(),
            ),
            penalty: Some(25),
            flags: None,
        },
    );
    let fitted = item(&score(&s, &t), "restore-in-place").clone();
    assert_eq!(fitted.points, -25);
    assert!(
        fitted.detail.ends_with("(our runbook 003, step 1)."),
        "{}",
        fitted.detail
    );
    assert_eq!(
        fitted.lesson.as_deref(),
        Some("Restore to a new instance and validate it first (our runbook 003, step 1).")
    );
}

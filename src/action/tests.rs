//! Parsing every move, and the errors that teach what to type.

use std::time::Duration;

use super::*;
use crate::scenario::{Dur, FlagValue};

#[test]
fn parses_every_command() {
    assert_eq!(parse("status").unwrap(), Action::Look(Look::Status));
    assert_eq!(
        parse("flag set login_v2 25%").unwrap(),
        Action::Flag(Flag::Set {
            name: "login_v2".into(),
            value: FlagValue::Percent(25)
        })
    );
    assert_eq!(
        parse("app deploy v2").unwrap(),
        Action::App(App::Deploy {
            version: "v2".into()
        })
    );
    assert_eq!(
        parse("APP Rollback").unwrap(),
        Action::App(App::Rollback { to: None })
    );
    assert_eq!(
        parse("migrate down").unwrap(),
        Action::Migrate(Migrate::Down(Down {
            count: 1,
            target: None,
            lock_timeout: None
        }))
    );
    assert_eq!(
        parse("migrate down 002_rename_name --lock-timeout 2s").unwrap(),
        Action::Migrate(Migrate::Down(Down {
            count: 1,
            target: Some("002_rename_name".into()),
            lock_timeout: Some(Duration::from_secs(2))
        }))
    );
    assert_eq!(
        parse("migrate up --count 2").unwrap(),
        Action::Migrate(Migrate::Up(Up {
            retries: 0,
            count: Some(2),
            lock_timeout: None
        }))
    );
    assert_eq!(
        parse("snapshot create before-fix").unwrap(),
        Action::Snapshot(Snapshot::Create {
            name: Some("before-fix".into()),
            logical: false
        })
    );
    assert_eq!(
        parse("snapshot create --logical dump-1")
            .unwrap()
            .to_string(),
        "snapshot create dump-1 --logical"
    );
    assert!(parse("snapshot create a b").is_err());
    assert!(parse("snapshot create --physical").is_err());
    assert_eq!(
        parse(r#"sql "SELECT 'a b'""#).unwrap(),
        Action::Sql("SELECT 'a b'".into())
    );
    assert_eq!(
        parse("sql SELECT count(*) FROM users").unwrap(),
        Action::Sql("SELECT count(*) FROM users".into())
    );
    assert_eq!(
        parse("note 'v1 fails with 42703'").unwrap(),
        Action::Incident(Incident::Note("v1 fails with 42703".into()))
    );
}

#[test]
fn wait_moves_parse() {
    assert_eq!(
        parse("wait 1m").unwrap(),
        Action::Wait(Wait::For(Dur::from_secs(60)))
    );
    for (line, max) in [
        ("wait until recovered", None),
        ("Wait Until Recovered --max 3m", Some(Dur::from_secs(180))),
    ] {
        let parsed = parse(line).unwrap();
        assert_eq!(
            parsed,
            Action::Wait(Wait::Until {
                until: Until::Recovered,
                max
            })
        );
    }
    assert_eq!(
        Wait::Until {
            until: Until::Recovered,
            max: Some(Dur::from_secs(90))
        }
        .to_string(),
        "wait until recovered --max 1m30s"
    );
    assert_eq!(
        parse("wait until incident --max 2m").unwrap(),
        Action::Wait(Wait::Until {
            until: Until::Incident,
            max: Some(Dur::from_secs(120))
        })
    );
    assert_eq!(
        parse("wait until incident").unwrap().to_string(),
        "wait until incident"
    );
    assert_eq!(
        parse("wait until rollout --max 1m").unwrap(),
        Action::Wait(Wait::Until {
            until: Until::Rollout,
            max: Some(Dur::from_secs(60))
        })
    );
    assert_eq!(
        parse("WAIT UNTIL VERSION v1").unwrap().to_string(),
        "wait until version v1",
        "the version keeps its case; the words do not"
    );
    assert_eq!(
        parse("wait until version v1 --max 45s")
            .unwrap()
            .to_string(),
        "wait until version v1 --max 45s"
    );
    for bad in [
        "wait until",
        "wait until healthy",
        "wait until version",
        "wait until version --max 1m",
        "wait until rollout v2",
        "wait until version v1 v2",
        "wait until recovered --max",
        "wait until recovered --max soon",
        "wait until recovered now",
        "wait until recovered --max 1m extra",
        "wait until incident soon",
    ] {
        assert!(parse(bad).is_err(), "{bad} parsed");
    }
}

#[test]
fn errors_say_what_to_type() {
    let e = parse("flag set login_v2 maybe").unwrap_err();
    assert!(e.message.contains("25%"), "{e}");
    assert_eq!(e.usage, help("flag").map(|h| h.usage));
    assert!(
        parse("app explode")
            .unwrap_err()
            .message
            .contains("not one of the `app` commands")
    );
    assert!(parse("dance").unwrap_err().message.contains("type `help`"));
    // Regression: typos got no help.
    assert!(
        parse("staus")
            .unwrap_err()
            .message
            .contains("did you mean `status`?"),
        "{}",
        parse("staus").unwrap_err()
    );
    assert!(
        parse("app rolback")
            .unwrap_err()
            .message
            .contains("did you mean `app rollback`?")
    );
    assert!(
        parse("migrate upp")
            .unwrap_err()
            .message
            .contains("did you mean `migrate up`?")
    );
    assert!(!parse("dance").unwrap_err().message.contains("did you mean"));
    assert!(parse("migrate down --count 0").is_err());
    assert!(parse("migrate down 002 --count 2").is_err());
    assert!(parse("note").is_err());
    assert!(parse("sql \"unclosed").is_err());
}

#[test]
fn lock_timeout_of_zero_is_refused() {
    // Regression: `--lock-timeout 0ms` was accepted and meant "wait
    // forever" to PostgreSQL.
    for line in [
        "migrate up --lock-timeout 0ms",
        "migrate up --lock-timeout 0s",
        "migrate down --lock-timeout 0ms",
        "migrate apply fix.sql --lock-timeout 0ms",
    ] {
        let e = parse(line).unwrap_err();
        assert!(e.message.contains("at least 1ms"), "{line}: {e}");
        assert!(e.message.contains("wait forever"), "{line}: {e}");
    }
    assert!(matches!(
        parse("migrate up --lock-timeout 1ms"),
        Ok(Action::Migrate(Migrate::Up(Up { lock_timeout: Some(d), .. }))) if d == Duration::from_millis(1)
    ));
    assert!(
        parse("wait 9999999999999999h")
            .unwrap_err()
            .message
            .contains("too long")
    );
    let script = parse_script("at 307445734561825861m: status\n").unwrap_err();
    assert_eq!(script[0].0, 1);
    assert!(script[0].1.contains("too long"), "{script:?}");
}

#[test]
fn plans_and_decisions_parse() {
    assert_eq!(
        parse("plan 002_x expand --window 24h --owner dana --purpose 'phone login'").unwrap(),
        Action::Change(Change::Plan(Some(Plan {
            migration: "002_x".into(),
            kind: "expand".into(),
            window: Dur::from_secs(24 * 3600),
            owner: "dana".into(),
            purpose: Some("phone login".into()),
        })))
    );
    assert_eq!(parse("plan").unwrap(), Action::Change(Change::Plan(None)));
    let e = parse("plan 002_x expand --owner dana").unwrap_err();
    assert!(e.message.contains("rollback window"), "{e}");
    assert!(parse("plan 002_x additive --window 1h --owner d").is_err());
    assert_eq!(
        parse("decide no-go 003_x \"window not passed\"").unwrap(),
        Action::Change(Change::Decide {
            go: false,
            what: "003_x".into(),
            reason: "window not passed".into()
        })
    );
    assert!(parse("decide maybe 003_x why").is_err());
    assert!(parse("decide go 003_x").is_err());
}

#[test]
fn recovery_moves_parse() {
    assert_eq!(
        parse("restore pre-release-3").unwrap(),
        Action::Recover(Recover::Restore {
            snapshot: Some("pre-release-3".into()),
            in_place: false,
            point: None,
            name: None
        })
    );
    assert_eq!(
        parse("restore s --to in-place").unwrap(),
        Action::Recover(Recover::Restore {
            snapshot: Some("s".into()),
            in_place: true,
            point: None,
            name: None
        })
    );
    assert!(parse("restore s --to elsewhere").is_err());
    assert_eq!(
        parse("restore --at 1m20s --as pitr").unwrap(),
        Action::Recover(Recover::Restore {
            snapshot: None,
            in_place: false,
            point: Some(Point::At(Dur::from_secs(80))),
            name: Some("pitr".into())
        })
    );
    assert_eq!(
        parse("restore base --before 002_drop --as x")
            .unwrap()
            .to_string(),
        "restore base --to new --before 002_drop --as x"
    );
    for bad in [
        "restore",
        "restore --to new",
        "restore --at",
        "restore --at soon",
        "restore --at 1m --before 002",
        "restore --to in-place --at 1m",
        "restore s --before",
    ] {
        assert!(parse(bad).is_err(), "{bad} parsed");
    }
    assert_eq!(
        parse("repair users.email,name --from restored-1").unwrap(),
        Action::Recover(Recover::Repair {
            table: "users".into(),
            columns: vec!["email".into(), "name".into()],
            from: "restored-1".into()
        })
    );
    assert_eq!(
        parse("replay --since snap").unwrap(),
        Action::Recover(Recover::Replay {
            since: "snap".into()
        })
    );
    assert_eq!(
        parse("kill migration-job --terminate").unwrap(),
        Action::Kill(Kill {
            target: "migration-job".into(),
            terminate: true
        })
    );
    assert_eq!(
        parse("incident declare SEV1").unwrap(),
        Action::Incident(Incident::Declare {
            severity: "sev1".into()
        })
    );
    assert!(parse("incident declare urgent").is_err());
    assert_eq!(
        parse("approve 003 --by alice").unwrap(),
        Action::Change(Change::Approve {
            what: "003".into(),
            by: "alice".into(),
            role: None
        })
    );
    assert_eq!(
        parse("comms \"RTO 2m, RPO 0\"").unwrap(),
        Action::Incident(Incident::Comms("RTO 2m, RPO 0".into()))
    );
    assert_eq!(
        parse("migrate up --lock-timeout 500ms --retries 3").unwrap(),
        Action::Migrate(Migrate::Up(Up {
            count: None,
            lock_timeout: Some(Duration::from_millis(500)),
            retries: 3
        }))
    );
    let e = parse("migrate up --retries 3").unwrap_err();
    assert!(e.message.contains("--lock-timeout"), "{}", e.message);
    assert_eq!(
        parse("migrate apply fixes/003_fix.sql").unwrap(),
        Action::Migrate(Migrate::Apply(Apply {
            file: "fixes/003_fix.sql".into(),
            lock_timeout: None
        }))
    );
}

#[test]
fn canonical_forms_read_as_the_transcript_has_always_recorded_them() {
    let cases = [
        (
            "kill migration-job --terminate",
            "kill terminate migration-job",
        ),
        ("KILL 123", "kill cancel 123"),
        ("approve plan --by dana", "approve plan --by dana"),
        ("restore s", "restore s --to new"),
        (
            "migrate up --retries 2 --lock-timeout 2s",
            "migrate up --lock-timeout 2s --retries 2",
        ),
        ("migrate down -n 2", "migrate down --count 2"),
        ("wait 1500ms", "wait 1500ms"),
        (
            "plan 002_x EXPAND --owner 'dana k' --window 1d",
            "plan 002_x expand --window 24h --owner \"dana k\"",
        ),
        ("note   'saw 42703'", "note saw 42703"),
        (
            "repair users.email, --from r1",
            "repair users.email --from r1",
        ),
    ];
    for (typed, canonical) in cases {
        let Ok(action) = parse(typed) else {
            // `1d` is not a unit: the case documents the error instead.
            assert!(typed.contains("1d"), "{typed} did not parse");
            continue;
        };
        assert_eq!(action.to_string(), canonical, "{typed}");
        assert_eq!(parse(canonical).unwrap(), action, "{canonical}");
    }
    // A migration run records what it touched, its lock timeout first.
    let record = MigrateRecord {
        verb: MigrateVerb::Up,
        lock_timeout: Some(Duration::from_millis(1500)),
        ids: vec!["002_a".into(), "003_b".into()],
    };
    assert_eq!(
        record.to_string(),
        "migrate up --lock-timeout 1500ms 002_a 003_b"
    );
}

#[test]
fn app_rollback_takes_the_version_it_rolls_back_to() {
    assert_eq!(
        parse("app rollback v1").unwrap(),
        Action::App(App::Rollback {
            to: Some("v1".into())
        })
    );
    assert!(parse("app rollback v1 now").is_err());
    assert!(parse("app status now").is_err());
}

#[test]
fn only_looking_waiting_and_hints_change_nothing() {
    for line in [
        "status",
        "events",
        "locks",
        "instances",
        "flag list",
        "app status",
        "migrate status",
        "snapshot list",
        "plan",
        "help app",
        "wait 1s",
        "hint",
    ] {
        assert!(parse(line).unwrap().changes_nothing(), "{line}");
    }
    for line in [
        "sql SELECT 1",
        "note x",
        "app rollback",
        "plan 002 expand --window 1h --owner d",
    ] {
        assert!(!parse(line).unwrap().changes_nothing(), "{line}");
    }
}

mod round_trip {
    use proptest::prelude::*;
    use std::time::Duration;

    use super::super::*;
    use crate::scenario::{Dur, FlagValue};

    fn word() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9_][a-zA-Z0-9_.:/-]{0,10}"
    }
    /// A word a learner may need to quote.
    fn spaced() -> impl Strategy<Value = String> {
        prop_oneof![word(), "[a-z]{1,5} [a-z]{1,5}", "[a-z]{1,4}'[a-z]{1,4}"]
    }
    /// A name pgdrill gives things (instances, snapshots).
    fn word_name() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9_-]{0,10}"
    }
    fn ident() -> impl Strategy<Value = String> {
        "[a-z_][a-z0-9_]{0,8}"
    }
    /// The rest of a line: single-spaced words, no quotes.
    fn text() -> impl Strategy<Value = String> {
        "[A-Za-z0-9(),*=<>;%_-]{1,8}( [A-Za-z0-9(),*=<>;%_-]{1,8}){0,5}"
    }
    fn dur() -> impl Strategy<Value = Dur> {
        prop_oneof![
            (0u64..=3_600_000).prop_map(Duration::from_millis),
            (0u64..=720).prop_map(|h| Duration::from_secs(h * 3600)),
        ]
        .prop_map(Dur)
    }
    fn until() -> impl Strategy<Value = Until> {
        prop_oneof![
            Just(Until::Recovered),
            Just(Until::Incident),
            Just(Until::Rollout),
            word().prop_map(Until::Version),
        ]
    }
    fn lock_timeout() -> impl Strategy<Value = Option<Duration>> {
        proptest::option::of((1u64..=600_000).prop_map(Duration::from_millis))
    }
    fn flag_value() -> impl Strategy<Value = FlagValue> {
        prop_oneof![
            Just(FlagValue::On),
            Just(FlagValue::Off),
            // What the parser makes: 0% is off, 100% on.
            (1u8..=99).prop_map(FlagValue::Percent)
        ]
    }

    fn migrate() -> impl Strategy<Value = Migrate> {
        let up = (proptest::option::of(1usize..100), lock_timeout(), 0u32..=20).prop_map(
            |(count, lock_timeout, retries)| Up {
                count,
                lock_timeout,
                retries: if lock_timeout.is_some() { retries } else { 0 },
            },
        );
        let down = (1usize..100, proptest::option::of(word()), lock_timeout()).prop_map(
            |(count, target, lock_timeout)| Down {
                count: if target.is_some() { 1 } else { count },
                target,
                lock_timeout,
            },
        );
        let apply =
            (word(), lock_timeout()).prop_map(|(file, lock_timeout)| Apply { file, lock_timeout });
        prop_oneof![
            Just(Migrate::Status),
            up.prop_map(Migrate::Up),
            down.prop_map(Migrate::Down),
            apply.prop_map(Migrate::Apply),
        ]
    }

    fn recover() -> impl Strategy<Value = Recover> {
        prop_oneof![
            (spaced(), any::<bool>(), proptest::option::of(spaced())).prop_map(
                |(snapshot, in_place, name)| Recover::Restore {
                    snapshot: Some(snapshot),
                    in_place,
                    point: None,
                    name
                }
            ),
            (
                proptest::option::of(spaced()),
                prop_oneof![dur().prop_map(Point::At), spaced().prop_map(Point::Before)],
                proptest::option::of(spaced())
            )
                .prop_map(|(snapshot, point, name)| Recover::Restore {
                    snapshot,
                    in_place: false,
                    point: Some(point),
                    name
                }),
            (
                spaced(),
                proptest::option::of(prop_oneof![
                    (1u32..500).prop_map(Part::Pods),
                    (1u8..=100).prop_map(Part::Percent)
                ])
            )
                .prop_map(|(instance, part)| Recover::Cutover { instance, part }),
            spaced().prop_map(|since| Recover::Replay { since }),
            spaced().prop_map(|since| Recover::Backfill { since }),
            (ident(), proptest::collection::vec(ident(), 1..4), spaced()).prop_map(
                |(table, columns, from)| Recover::Repair {
                    table,
                    columns,
                    from
                }
            ),
        ]
    }

    fn change() -> impl Strategy<Value = Change> {
        let plan = (
            word(),
            prop_oneof![Just("expand"), Just("contract")],
            dur(),
            spaced(),
            proptest::option::of(spaced()),
        )
            .prop_map(|(migration, kind, window, owner, purpose)| Plan {
                migration,
                kind: kind.to_string(),
                window,
                owner,
                purpose,
            });
        prop_oneof![
            Just(Change::Plan(None)),
            plan.prop_map(|p| Change::Plan(Some(p))),
            (word(), spaced(), proptest::option::of(spaced()))
                .prop_map(|(what, by, role)| Change::Approve { what, by, role }),
            (any::<bool>(), word(), text()).prop_map(|(go, what, reason)| Change::Decide {
                go,
                what,
                reason
            }),
        ]
    }

    fn action() -> impl Strategy<Value = Action> {
        prop_oneof![
            proptest::option::of(spaced()).prop_map(Action::Help),
            prop_oneof![
                Just(Look::Status),
                Just(Look::Events),
                Just(Look::Instances),
                Just(Look::Locks)
            ]
            .prop_map(Action::Look),
            prop_oneof![
                Just(Flag::List),
                (word(), flag_value()).prop_map(|(name, value)| Flag::Set { name, value })
            ]
            .prop_map(Action::Flag),
            prop_oneof![
                Just(App::Status),
                Just(App::Pause),
                Just(App::Resume),
                spaced().prop_map(|version| App::Deploy { version }),
                proptest::option::of(spaced()).prop_map(|to| App::Rollback { to }),
            ]
            .prop_map(Action::App),
            migrate().prop_map(Action::Migrate),
            prop_oneof![
                Just(Snapshot::List),
                (proptest::option::of(spaced()), any::<bool>())
                    .prop_map(|(name, logical)| Snapshot::Create { name, logical }),
            ]
            .prop_map(Action::Snapshot),
            recover().prop_map(Action::Recover),
            (spaced(), any::<bool>())
                .prop_map(|(target, terminate)| Action::Kill(Kill { target, terminate })),
            prop_oneof![
                prop_oneof![Just("sev1"), Just("sev2"), Just("sev3")].prop_map(|s| {
                    Incident::Declare {
                        severity: s.to_string(),
                    }
                }),
                text().prop_map(Incident::Comms),
                text().prop_map(Incident::Note),
            ]
            .prop_map(Action::Incident),
            change().prop_map(Action::Change),
            text().prop_map(Action::Sql),
            prop_oneof![
                Just(Workers::List),
                spaced().prop_map(Workers::Pause),
                spaced().prop_map(Workers::Resume),
                (spaced(), 0u32..50).prop_map(|(n, k)| Workers::Scale(n, k)),
            ]
            .prop_map(Action::Workers),
            (
                word_name(),
                prop_oneof![
                    text().prop_map(Action::Sql),
                    migrate().prop_map(Action::Migrate)
                ]
            )
                .prop_map(|(instance, action)| Action::On(On {
                    instance,
                    action: Box::new(action)
                })),
            prop_oneof![
                dur().prop_map(Wait::For),
                (until(), proptest::option::of(dur()))
                    .prop_map(|(until, max)| Wait::Until { until, max }),
            ]
            .prop_map(Action::Wait),
            Just(Action::Hint),
            Just(Action::Resolve),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The canonical form of every move parses back to the move, so a
        /// transcript's record of a move is itself a move.
        #[test]
        fn the_canonical_form_parses_back_to_the_move(a in action()) {
            let line = a.to_string();
            prop_assert_eq!(parse(&line), Ok(a), "{}", line);
        }
    }
}

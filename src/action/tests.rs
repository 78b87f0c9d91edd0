//! Parsing every move, and the errors that teach what to type.

use super::*;

#[test]
fn parses_every_command() {
    assert_eq!(parse("status").unwrap(), Action::Status);
    assert_eq!(
        parse("flag set login_v2 25%").unwrap(),
        Action::FlagSet {
            name: "login_v2".into(),
            value: FlagValue::Percent(25)
        }
    );
    assert_eq!(
        parse("app deploy v2").unwrap(),
        Action::AppDeploy {
            version: "v2".into()
        }
    );
    assert_eq!(parse("APP Rollback").unwrap(), Action::AppRollback);
    assert_eq!(
        parse("migrate down").unwrap(),
        Action::MigrateDown {
            count: 1,
            target: None,
            lock_timeout: None
        }
    );
    assert_eq!(
        parse("migrate down 002_rename_name --lock-timeout 2s").unwrap(),
        Action::MigrateDown {
            count: 1,
            target: Some("002_rename_name".into()),
            lock_timeout: Some(Duration::from_secs(2))
        }
    );
    assert_eq!(
        parse("migrate up --count 2").unwrap(),
        Action::MigrateUp {
            retries: 0,
            count: Some(2),
            lock_timeout: None
        }
    );
    assert_eq!(
        parse("snapshot create before-fix").unwrap(),
        Action::SnapshotCreate {
            name: Some("before-fix".into())
        }
    );
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
        Action::Note("v1 fails with 42703".into())
    );
    assert_eq!(
        parse("wait 1m").unwrap(),
        Action::Wait(Wait::For(Dur::from_secs(60)))
    );
    for (line, max) in [
        ("wait until recovered", None),
        ("Wait Until Recovered --max 3m", Some(Dur::from_secs(180))),
    ] {
        let parsed = parse(line).unwrap();
        assert_eq!(parsed, Action::Wait(Wait::Recovered { max }));
    }
    assert_eq!(
        Wait::Recovered {
            max: Some(Dur::from_secs(90))
        }
        .to_string(),
        "wait until recovered --max 1m30s"
    );
    for bad in [
        "wait until",
        "wait until healthy",
        "wait until recovered --max",
        "wait until recovered --max soon",
        "wait until recovered now",
        "wait until recovered --max 1m extra",
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
        Ok(Action::MigrateUp { lock_timeout: Some(d), .. }) if d == Duration::from_millis(1)
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
        Action::Plan(Some(Plan {
            migration: "002_x".into(),
            kind: "expand".into(),
            window: Dur::from_secs(24 * 3600),
            owner: "dana".into(),
            purpose: Some("phone login".into()),
        }))
    );
    assert_eq!(parse("plan").unwrap(), Action::Plan(None));
    let e = parse("plan 002_x expand --owner dana").unwrap_err();
    assert!(e.message.contains("rollback window"), "{e}");
    assert!(parse("plan 002_x additive --window 1h --owner d").is_err());
    assert_eq!(
        parse("decide no-go 003_x \"window not passed\"").unwrap(),
        Action::Decide {
            go: false,
            what: "003_x".into(),
            reason: "window not passed".into()
        }
    );
    assert!(parse("decide maybe 003_x why").is_err());
    assert!(parse("decide go 003_x").is_err());
}

#[test]
fn recovery_moves_parse() {
    assert_eq!(
        parse("restore pre-release-3").unwrap(),
        Action::Restore {
            snapshot: "pre-release-3".into(),
            in_place: false,
            name: None
        }
    );
    assert_eq!(
        parse("restore s --to in-place").unwrap(),
        Action::Restore {
            snapshot: "s".into(),
            in_place: true,
            name: None
        }
    );
    assert!(parse("restore s --to elsewhere").is_err());
    assert_eq!(
        parse("repair users.email,name --from restored-1").unwrap(),
        Action::Repair {
            table: "users".into(),
            columns: vec!["email".into(), "name".into()],
            from: "restored-1".into()
        }
    );
    assert_eq!(
        parse("replay --since snap").unwrap(),
        Action::Replay {
            since: "snap".into()
        }
    );
    assert_eq!(
        parse("kill migration-job --terminate").unwrap(),
        Action::Kill {
            target: "migration-job".into(),
            terminate: true
        }
    );
    assert_eq!(
        parse("incident declare SEV1").unwrap(),
        Action::IncidentDeclare {
            severity: "sev1".into()
        }
    );
    assert!(parse("incident declare urgent").is_err());
    assert_eq!(
        parse("approve 003 --by alice").unwrap(),
        Action::Approve {
            what: "003".into(),
            by: "alice".into()
        }
    );
    assert_eq!(
        parse("comms \"RTO 2m, RPO 0\"").unwrap(),
        Action::Comms("RTO 2m, RPO 0".into())
    );
    assert_eq!(
        parse("migrate up --lock-timeout 500ms --retries 3").unwrap(),
        Action::MigrateUp {
            count: None,
            lock_timeout: Some(Duration::from_millis(500)),
            retries: 3
        }
    );
    let e = parse("migrate up --retries 3").unwrap_err();
    assert!(e.message.contains("--lock-timeout"), "{}", e.message);
    assert_eq!(
        parse("migrate apply fixes/003_fix.sql").unwrap(),
        Action::MigrateApply {
            file: "fixes/003_fix.sql".into(),
            lock_timeout: None
        }
    );
}

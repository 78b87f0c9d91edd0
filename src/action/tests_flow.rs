//! Parsing the moves of runbook 003's restore flow: a move on a named
//! instance, a gradual cutover, an approval in a capacity.

use super::*;

#[test]
fn parses_the_restore_flows_moves() {
    assert_eq!(
        parse("sql --on restored-1 SELECT count(*) FROM users").unwrap(),
        Action::On(On {
            instance: "restored-1".into(),
            action: Box::new(Action::Sql("SELECT count(*) FROM users".into()))
        })
    );
    assert_eq!(
        parse("migrate down --on restored-1 --count 2")
            .unwrap()
            .to_string(),
        "migrate down --on restored-1 --count 2"
    );
    assert_eq!(
        parse("MIGRATE status --on restored-1").unwrap(),
        Action::On(On {
            instance: "restored-1".into(),
            action: Box::new(Action::Migrate(Migrate::Status))
        })
    );
    assert!(
        parse("migrate status --on restored-1")
            .unwrap()
            .changes_nothing()
    );
    for bad in [
        "sql --on",
        "sql --on restored-1",
        "sql --on 'a b' SELECT 1",
        "sql --on a --on b SELECT 1",
        "migrate down --on",
        "migrate up --on x --on y",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    // Only a move's own `--on` is one: a note may say anything.
    assert!(matches!(
        parse("note failover --on call").unwrap(),
        Action::Incident(_)
    ));
    assert_eq!(
        parse("cutover restored-1 --pods 1").unwrap().to_string(),
        "cutover --pods 1 restored-1"
    );
    assert_eq!(
        parse("cutover --percent 25% restored-1").unwrap(),
        Action::Recover(Recover::Cutover {
            instance: "restored-1".into(),
            part: Some(Part::Percent(25))
        })
    );
    for bad in [
        "cutover",
        "cutover --pods 1",
        "cutover r --pods 0",
        "cutover r --percent 101",
        "cutover r --pods 1 --percent 5",
        "cutover r s",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
    assert_eq!(Part::Percent(25).of(4), 1);
    assert_eq!(Part::Percent(30).of(4), 2);
    assert_eq!(Part::Pods(9).of(4), 4);
    assert_eq!(
        parse("approve restore --by dana --as sre")
            .unwrap()
            .to_string(),
        "approve restore --by dana --as sre"
    );
    assert!(parse("approve restore --by dana --as").is_err());
    assert!(parse("approve restore --by dana sre").is_err());
}

#[test]
fn parses_the_workers_moves() {
    assert_eq!(parse("workers").unwrap(), Action::Workers(Workers::List));
    assert_eq!(
        parse("workers scale etl 1").unwrap(),
        Action::Workers(Workers::Scale("etl".into(), 1))
    );
    assert_eq!(
        parse("WORKERS pause etl").unwrap().to_string(),
        "workers pause etl"
    );
    assert!(!parse("workers pause etl").unwrap().changes_nothing());
    assert!(parse("workers").unwrap().changes_nothing());
    for bad in [
        "workers pause",
        "workers scale etl",
        "workers scale etl -1",
        "workers stop etl",
        "workers resume a b",
    ] {
        assert!(parse(bad).is_err(), "{bad}");
    }
}

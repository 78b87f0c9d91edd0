//! Validation of the rubric and the migrations' history, on a real scenario.

use super::*;

fn scenario() -> Scenario {
    crate::scenario::parse(
        std::path::Path::new("contract-too-early.toml"),
        include_str!("../../../scenarios/contract-too-early.toml"),
    )
    .unwrap()
}

fn said(s: &Scenario) -> String {
    validate(s)
        .iter()
        .map(|p| format!("{p:?}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn approvers_and_a_comms_cadence_are_checked() {
    let mut s = scenario();
    assert_eq!(said(&s), "");
    s.rubric.steps[0].approvers = vec!["sre".into(), "SRE".into(), "two words".into()];
    s.rubric.comms = Some(crate::scenario::Cadence {
        every: crate::scenario::Dur::from_secs(0),
        penalty: 0,
        why: " ".into(),
    });
    let said = said(&s);
    for expected in [
        "only an `approve` step can require approvers",
        "`SRE` is named twice",
        "`two words` is not a role",
        "Key(\"comms\"), Key(\"every\")",
        "a penalty is from 1 to",
        "say why, citing the runbook",
    ] {
        assert!(said.contains(expected), "{expected}: {said}");
    }
}

#[test]
fn tracking_columns_and_install_times_are_checked() {
    let mut s = scenario();
    let column =
        |name: &str, sql_type: &str, value: Option<&str>| crate::scenario::TrackingColumn {
            name: name.into(),
            sql_type: sql_type.into(),
            value: value.map(Into::into),
        };
    s.migrations.columns = vec![
        column("version", "text", None),
        column("success", "boolean; DROP TABLE users", Some("true")),
        column("script", "text", Some("")),
    ];
    s.migrations.list[0].installed_ago = Some(crate::scenario::Dur::from_secs(3600));
    s.migrations.list[1].installed_ago = Some(crate::scenario::Dur::from_secs(7200));
    s.migrations.list[2].installed_ago = Some(crate::scenario::Dur::from_secs(60));
    let said = said(&s);
    for expected in [
        "`version` is not a new column name",
        "give the column's SQL type",
        "give one SQL expression",
        "installed 2h ago, before the migration listed above it",
        "only a migration applied at the start has an install time",
    ] {
        assert!(said.contains(expected), "{expected}: {said}");
    }
}

#[test]
fn a_fitted_guardrail_must_exist_be_on_and_name_declared_flags() {
    let mut s = scenario();
    let fit = |why: &str, flags: &[&str]| crate::scenario::GuardrailFit {
        why: Some(why.into()),
        penalty: Some(0),
        flags: Some(flags.iter().map(|f| f.to_string()).collect()),
    };
    s.rubric.guardrails.insert("no-such".into(), fit("x", &[]));
    s.rubric.guardrails.insert(
        "rollback-before-flag".into(),
        fit(" ", &["sms_login", "nope"]),
    );
    s.rubric
        .guardrails
        .insert("restore-in-place".into(), fit("x", &["sms_login"]));
    s.rubric.guardrails_off.push("restore-in-place".into());
    let said = said(&s);
    for expected in [
        "unknown guardrail `no-such`",
        "no flag `nope` is declared",
        "only `rollback-before-flag` is limited to flags",
        "`restore-in-place` is also turned off",
        "a penalty is from 1 to",
    ] {
        assert!(said.contains(expected), "{expected}: {said}");
    }
    assert!(!said.contains("no flag `sms_login`"), "{said}");
}

#[test]
fn counts_placeholders() {
    assert_eq!(placeholders("SELECT 1"), 0);
    assert_eq!(placeholders("SELECT $1, $2, $1"), 2);
    assert_eq!(placeholders("DO $$ BEGIN END $$; SELECT $10"), 10);
}

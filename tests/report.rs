//! `pgdrill report`: the evidence of real drills. The transcripts in
//! `tests/fixtures/transcripts/` were recorded by `pgdrill run` on real
//! PostgreSQL (a reference run of the rollout lab, an unsafe one, and a
//! restore after a destructive migration); their Markdown reports are
//! snapshot-tested, so a change in what a team would paste into its
//! incident ticket is reviewed like code.

mod common;

use std::path::PathBuf;

use common::{TestEnv, root};
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    root().join("tests/fixtures/transcripts").join(name)
}

fn report(env: &TestEnv, transcript: &str, format: &str) -> String {
    env.run(["report", "--format", format])
        .arg(fixture(transcript))
        .success()
        .go()
        .stdout
}

#[test]
fn the_rollout_lab_reads_like_an_incident_timeline() {
    let env = TestEnv::new();
    let md = report(&env, "rollout-lab.reference.json", "md");
    insta::assert_snapshot!("rollout_lab_reference", md);
}

#[test]
fn an_unsafe_rollback_gets_its_lessons_as_follow_ups() {
    let env = TestEnv::new();
    let md = report(&env, "rollout-lab.revert-schema.json", "md");
    assert!(md.contains("- [ ] flag-off: If SLO degrades, disable the flag first"));
    insta::assert_snapshot!("rollout_lab_revert_schema", md);
}

#[test]
fn a_restore_after_a_destructive_migration() {
    let env = TestEnv::new();
    let md = report(&env, "contract-too-early.reference.json", "md");
    insta::assert_snapshot!("contract_too_early_reference", md);
}

#[test]
fn json_carries_the_same_evidence() {
    let env = TestEnv::new();
    let json: Value =
        serde_json::from_str(&report(&env, "rollout-lab.reference.json", "json")).unwrap();
    assert_eq!(json["scenario"]["id"], "rollout-lab");
    assert_eq!(json["plan"][0]["migration"], "002_add_login_columns");
    assert_eq!(json["plan"][0]["window"], "24h");
    assert_eq!(json["decisions"][0]["go"], false);
    assert_eq!(json["recovery"]["met"], true);
    assert_eq!(json["rpo"]["missing"], 0);
    assert_eq!(json["score"]["passed"], true);
    let sources: Vec<&str> = json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["source"].as_str().unwrap())
        .collect();
    for s in ["start", "move", "fault", "alert", "recovered", "end"] {
        assert!(sources.contains(&s), "no {s} line in {sources:?}");
    }
    assert!(
        !json["postmortem"]["follow_ups"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_report_is_written_whole_to_a_file() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("incident.md");
    env.run(["report"])
        .arg(fixture("rollout-lab.reference.json"))
        .arg("-o")
        .arg(&out)
        .success()
        .stdout_has("wrote")
        .go();
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with("# Rollout timeline: The rollout lab"));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn a_broken_transcript_is_refused_with_its_place() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": 1,\n \"scenario\": ").unwrap();
    env.run(["report"])
        .arg(&bad)
        .code(5)
        .stderr_has("bad.json")
        .stderr_has("line 2")
        .go();
}

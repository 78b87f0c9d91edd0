//! Physical snapshots and point-in-time restores on real PostgreSQL: the
//! drill archives the primary's WAL from its start, so after
//! contract-too-early drops `users.phone` a learner can recover the
//! database as it was at a scenario time, or just before the migration,
//! as a provider's PITR would (runbook 004, option A).

mod common;

use common::{TestEnv, moves, root};
use serde_json::Value;

/// Recovers twice (to a time before the release, and to just before the
/// drop), cuts over to the second, replays the writes since, and checks
/// that the data is back, no acknowledged write is lost, and the drill
/// passes.
const SCRIPT: &str = r#"
wait until incident --max 1m
flag set sms_login off
incident declare sev1
snapshot create after-drop
snapshot create dump --logical
snapshot list
restore --to new --at 15s --as at-15s
restore --to new --at 10m
restore --to new --before 003_drop_legacy_phone
restore dump --to new --at 5s
cutover restored-2
replay --since 5s
comms "Sev1: 003 dropped users.phone. Recovered the database as it was just before 003 (point in time) to restored-2, cut over, replayed the writes since. RTO about a minute; RPO: no acknowledged write lost."
note "PITR before 003 to restored-2; cutover; replay since 5s"
wait until recovered --max 3m
resolve
"#;

#[test]
fn a_drill_recovers_to_a_point_in_time_and_loses_no_acknowledged_write() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("pitr.txt");
    std::fs::write(&script, SCRIPT).unwrap();
    let transcript = dir.path().join("t.json");
    let ran = env
        .run(["run", "contract-too-early"])
        .args(["--time-scale", "10", "--json", "--backend", "local"])
        .arg("--script")
        .arg(&script)
        .arg("--transcript")
        .arg(&transcript)
        .dir(&root())
        .go();
    let score: Value = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("no score ({e})\n{}\n{}", ran.stdout, ran.stderr));
    let t: Value = serde_json::from_slice(&std::fs::read(&transcript).unwrap()).unwrap();
    let played = moves(&t);
    let at = |canonical: &str| {
        played
            .iter()
            .find(|m| m["canonical"] == canonical)
            .unwrap_or_else(|| panic!("no `{canonical}` in {played:#?}"))
            .clone()
    };
    let text = |m: &Value| m["result"].as_str().unwrap_or_default().to_string();

    let physical = at("snapshot create after-drop");
    assert!(
        text(&physical).starts_with("physical snapshot"),
        "{physical:#}"
    );
    let logical = at("snapshot create dump --logical");
    assert!(
        text(&logical).starts_with("logical snapshot"),
        "{logical:#}"
    );

    let early = at("restore --to new --at 15s --as at-15s");
    assert_eq!(early["ok"], true, "{early:#}");
    assert!(
        text(&early).contains("as it was at 15s")
            && ["drill-start", "pre-release-3"]
                .iter()
                .any(|b| text(&early).contains(&format!("from base backup {b} "))),
        // The latest physical backup ready before 15s: the drill's own, or
        // the pipeline's 10s snapshot when the machine finished it in time.
        "recovered from a base backup taken before the point: {early:#}"
    );
    let future = at("restore --to new --at 10m");
    assert_eq!(future["ok"], false);
    assert!(text(&future).contains("has not happened yet"), "{future:#}");
    let from_a_dump = at("restore dump --to new --at 5s");
    assert_eq!(from_a_dump["ok"], false);
    assert!(
        text(&from_a_dump).contains("must be a physical snapshot"),
        "{from_a_dump:#}"
    );

    let before = at("restore --to new --before 003_drop_legacy_phone");
    assert_eq!(before["ok"], true, "{before:#}");
    assert!(
        text(&before).contains("just before 003_drop_legacy_phone"),
        "{before:#}"
    );
    assert_eq!(at("cutover restored-2")["ok"], true);
    assert_eq!(at("replay --since 5s")["ok"], true);

    let items = score["items"].as_array().unwrap();
    let check = items
        .iter()
        .find(|l| l["label"] == "phones-intact")
        .unwrap_or_else(|| panic!("{score:#}"));
    assert!(
        check["detail"].as_str().unwrap().starts_with("passes"),
        "the column and its data are back after the cutover: {check:#}"
    );
    let rpo = &score["rpo"];
    assert_eq!(rpo["missing"], 0, "no acknowledged write lost: {score:#}");
    assert!(rpo["writes"].as_u64().unwrap() > 0);
    assert_eq!(score["passed"], true, "{score:#}");
    assert!(env.registry_entries().is_empty(), "every instance is gone");
}

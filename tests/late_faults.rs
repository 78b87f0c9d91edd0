//! A busy machine shows a fault later than an idle one: the release's job
//! takes longer, the pods roll later, the pager may even go off first for
//! another reason. The reference solutions answer what happens (`wait
//! until incident`, `wait until rollout`, `wait until version`), so they
//! still pass when the timeline is late. Here the lateness is made on
//! purpose, on real PostgreSQL: a report holds a lock the release's
//! migration needs, so the rollout begins 25 scenario seconds late and the
//! lock queue behind the migration breaks the SLO before any pod moves.

mod common;

use common::{TestEnv, moves, root};
use serde_json::Value;

/// mixed-version-rename, with a report that holds ACCESS SHARE on `users`
/// from 5s to 40s: the rename (ACCESS EXCLUSIVE) queues behind it from
/// 15s, the pods' queries queue behind the rename, and only at 40s does
/// the rename commit and the rollout begin.
fn late_release(dir: &std::path::Path) -> std::path::PathBuf {
    let scenarios = root().join("scenarios");
    let text = std::fs::read_to_string(scenarios.join("mixed-version-rename.toml")).unwrap();
    let report = r#"
[[timeline]]
at = "5s"
say = "A weekly report reads users in one long transaction."
job = "weekly-report"
sql = "BEGIN; LOCK TABLE users IN ACCESS SHARE MODE; SELECT pg_sleep({{35s}}); COMMIT;"
"#;
    let text = text.replacen("\n[[timeline]]", &format!("{report}\n[[timeline]]"), 1);
    std::fs::create_dir_all(dir.join("fixtures")).unwrap();
    std::fs::copy(
        root().join("fixtures/users.sql"),
        dir.join("fixtures/users.sql"),
    )
    .unwrap();
    let path = dir.join("mixed-version-rename.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn the_reference_waits_for_a_rollout_that_begins_late_and_still_passes() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let scenario = late_release(dir.path());
    let transcript = dir.path().join("t.json");
    let ran = env
        .run(["run"])
        .arg(&scenario)
        .args(["--time-scale", "10", "--json", "--backend", "local"])
        .arg("--script")
        .arg(root().join("scenarios/solutions/mixed-version-rename.reference.txt"))
        .arg("--transcript")
        .arg(&transcript)
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
    };
    let pause = at("app pause");
    assert_eq!(pause["ok"], true, "{pause:#}");
    assert!(
        pause["t_ms"].as_u64().unwrap() >= 40_000,
        "paused before the late rollout began: {pause:#}"
    );
    assert_eq!(at("app rollback v1")["ok"], true);
    assert_eq!(
        score["passed"], true,
        "the reference must pass a late release too:\n{score:#}"
    );
    assert!(env.registry_entries().is_empty());
}

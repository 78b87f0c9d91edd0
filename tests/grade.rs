//! `pgdrill grade`: a class folder of transcripts becomes a table, CSV, JSON
//! and JUnit; edited transcripts, a changed scenario, missing or foreign
//! signatures and unreadable files are each named with their reason.
//!
//! The class is built from transcripts recorded on real PostgreSQL
//! (`tests/fixtures/transcripts/`), sealed here as `pgdrill run` seals them,
//! then damaged the ways a class folder gets damaged. The drill tests grade
//! freshly recorded transcripts too.

mod common;

use std::path::Path;

use common::{Run, TestEnv, root};
use pgdrill::transcript::{FORMAT, Transcript};
use serde_json::Value;

const KEY: &str = "course-2026-lab-key-0123456789";

/// A recorded transcript, sealed as a current `pgdrill run` would seal it.
fn sealed(fixture: &str, learner: &str, key: Option<&str>) -> Transcript {
    let mut t = Transcript::load(&root().join("tests/fixtures/transcripts").join(fixture)).unwrap();
    let scenario =
        pgdrill::scenario::load(&root().join(format!("scenarios/{}.toml", t.scenario))).unwrap();
    t.format = FORMAT;
    t.learner = Some(learner.to_string());
    t.scenario_fingerprint = Some(scenario.fingerprint());
    t.seal(key.map(str::as_bytes));
    t
}

fn edit(t: &Transcript, f: impl FnOnce(&mut Value)) -> String {
    let mut v = serde_json::to_value(t).unwrap();
    f(&mut v);
    serde_json::to_string_pretty(&v).unwrap()
}

/// A class folder: good, failed, edited, cut short, broken and foreign files.
fn class(dir: &Path) {
    let write = |name: &str, text: &str| std::fs::write(dir.join(name), text).unwrap();
    let ada = sealed("rollout-lab.reference.json", "ada", None);
    ada.save(&dir.join("ada.json")).unwrap();
    sealed("rollout-lab.revert-schema.json", "ben", None)
        .save(&dir.join("ben.json"))
        .unwrap();
    std::fs::create_dir(dir.join("week2")).unwrap();
    sealed("contract-too-early.reference.json", "cy", None)
        .save(&dir.join("week2/cy.json"))
        .unwrap();
    // A move turned into the reference's: the kind of edit that would pass.
    write(
        "dan.json",
        &edit(&ada, |v| {
            v["learner"] = "dan".into();
            let moves = v["events"].as_array_mut().unwrap();
            let m = moves.iter_mut().find(|e| e["type"] == "move").unwrap();
            m["input"] = "plan".into();
        }),
    );
    write(
        "eve.json",
        &edit(&ada, |v| {
            let events = v["events"].as_array_mut().unwrap();
            let n = events.len();
            events.truncate(n - 4);
        }),
    );
    let text = std::fs::read_to_string(dir.join("ada.json")).unwrap();
    write("fay.json", &text[..text.len() / 2]);
    write("gus.json", "Here is my transcript, sorry it is late!\n");
    write("hal.json", &edit(&ada, |v| v["format"] = 9.into()));
    write(
        "ivy.json",
        &edit(&ada, |v| v["scenario"] = "not-a-drill".into()),
    );
    std::fs::copy(
        root().join("tests/fixtures/transcripts/contract-too-early.reference.json"),
        dir.join("jo.json"),
    )
    .unwrap();
    // Not transcripts, and not listed: a saved report and a hidden file.
    write("ada.evidence.json", "{}");
    write(".ds.json", "{}");
}

fn grade(env: &TestEnv, args: &[&str], key: Option<&str>) -> Run {
    let run = env.run(["grade"]).args(args);
    match key {
        Some(k) => run.env("PGDRILL_SIGNING_KEY", k),
        None => run.env_remove("PGDRILL_SIGNING_KEY"),
    }
}

fn rows_by_file(json: &Value) -> std::collections::BTreeMap<String, Value> {
    json["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let file = Path::new(r["file"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (file, r.clone())
        })
        .collect()
}

#[test]
fn a_class_folder_is_graded_and_every_problem_named() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    class(dir.path());
    let folder = dir.path().to_str().unwrap();

    let out = grade(&env, &[folder, "--format", "json"], None)
        .code(1)
        .go();
    let json: Value = serde_json::from_str(&out.stdout).unwrap();
    let rows = rows_by_file(&json);
    let names: Vec<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "ada.json", "ben.json", "cy.json", "dan.json", "eve.json", "fay.json", "gus.json",
            "hal.json", "ivy.json", "jo.json"
        ],
        "reports and hidden files are skipped, subfolders searched"
    );

    let graded = |f: &str| {
        assert_eq!(rows[f]["status"], "graded", "{f}: {}", rows[f]);
        &rows[f]
    };
    let flags = |f: &str| graded(f)["flags"].to_string();
    let reason = |f: &str| {
        assert_eq!(rows[f]["status"], "unreadable", "{f}: {}", rows[f]);
        rows[f]["reason"].as_str().unwrap().to_string()
    };

    assert_eq!(graded("ada.json")["score"]["passed"], true);
    assert_eq!(graded("ada.json")["flags"], Value::Array(vec![]));
    assert_eq!(graded("ada.json")["learner"], "ada");
    assert_eq!(graded("ben.json")["score"]["passed"], false);
    assert_eq!(graded("ben.json")["flags"], Value::Array(vec![]));
    let ben = graded("ben.json")["deductions"].to_string();
    assert!(ben.contains("flag-off") && ben.contains("-40"), "{ben}");
    assert_eq!(graded("cy.json")["score"]["passed"], true);

    assert!(
        flags("dan.json").contains("edited: event 2 at 0s (move"),
        "{}",
        flags("dan.json")
    );
    assert!(
        flags("dan.json").contains("the header"),
        "{}",
        flags("dan.json")
    );
    assert!(
        flags("eve.json").contains("cut short: 4 of"),
        "{}",
        flags("eve.json")
    );
    assert!(
        reason("fay.json").starts_with("truncated"),
        "{}",
        reason("fay.json")
    );
    assert!(
        reason("gus.json").contains("not JSON"),
        "{}",
        reason("gus.json")
    );
    assert!(reason("hal.json").contains("format 9 is not supported"));
    assert!(reason("ivy.json").contains("unknown scenario `not-a-drill`"));
    assert!(
        flags("jo.json").contains("not sealed"),
        "{}",
        flags("jo.json")
    );
    assert_eq!(graded("jo.json")["learner_from_file"], true);

    let s = &json["summary"];
    assert_eq!(
        (
            s["files"].as_u64(),
            s["passed"].as_u64(),
            s["unreadable"].as_u64()
        ),
        (Some(10), Some(2), Some(4))
    );

    // The same class as a table: every file named, the reasons spelled out.
    let table = grade(&env, &[folder], None).go().stdout;
    for expected in [
        "ada.json",
        "PASS",
        "FAIL",
        "1m04s of 2m00s",
        "FLAGGED",
        "Did not pass:\n  ben (ben.json)\n    - the incident was never declared resolved",
        "Flagged (graded, but check before you trust the grade):",
        "Not graded:",
        "fay.json: truncated",
        "10 transcript(s): 2 passed",
    ] {
        assert!(
            table.contains(expected),
            "table lacks {expected:?}:\n{table}"
        );
    }
}

#[test]
fn csv_and_junit_carry_one_row_and_one_test_per_file() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    class(dir.path());
    let folder = dir.path().to_str().unwrap();

    let out_csv = dir.path().join("out/grades.csv");
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let out = grade(
        &env,
        &[folder, "--format", "csv", "-o", out_csv.to_str().unwrap()],
        None,
    )
    .go();
    assert!(out.stdout.contains("wrote"), "{}", out.stdout);
    let csv = std::fs::read_to_string(&out_csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 11, "header and ten files:\n{csv}");
    assert!(lines[0].starts_with("file,learner,scenario,status,points"));
    let ada = lines.iter().find(|l| l.contains("/ada.json")).unwrap();
    assert!(
        ada.contains(",ada,rollout-lab,graded,100,100,75,true,"),
        "{ada}"
    );
    let gus = lines.iter().find(|l| l.contains("/gus.json")).unwrap();
    assert!(
        gus.contains(",unreadable,") && gus.contains("not JSON"),
        "{gus}"
    );

    let out = grade(&env, &[folder, "--format", "junit"], None).go();
    let xml = out.stdout;
    let doc = roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{e}\n{xml}"));
    let suites = doc.root_element();
    assert_eq!(suites.attribute("tests"), Some("10"));
    assert_eq!(suites.attribute("errors"), Some("4"));
    let cases: Vec<_> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testcase"))
        .collect();
    assert_eq!(cases.len(), 10);
    let case = |name: &str| {
        *cases
            .iter()
            .find(|c| c.attribute("name") == Some(name))
            .unwrap()
    };
    assert!(
        !case("ada").children().any(|c| c.has_tag_name("failure")),
        "a clean pass has no failure"
    );
    let ben = case("ben")
        .children()
        .find(|c| c.has_tag_name("failure"))
        .unwrap();
    assert_eq!(ben.attribute("type"), Some("failed"));
    assert!(ben.text().unwrap().contains("flag-off (missed)"));
    let dan = case("dan")
        .children()
        .find(|c| c.has_tag_name("failure"))
        .unwrap();
    assert_eq!(
        dan.attribute("type"),
        Some("flagged"),
        "a tampered pass fails"
    );
    let suites: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("testsuite"))
        .filter_map(|n| n.attribute("name"))
        .collect();
    assert_eq!(suites, ["contract-too-early", "rollout-lab", "unreadable"]);
}

#[test]
fn a_changed_scenario_is_flagged_and_its_rules_apply() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    sealed("rollout-lab.reference.json", "ada", None)
        .save(&dir.path().join("ada.json"))
        .unwrap();
    let theirs = dir.path().join("scenarios");
    std::fs::create_dir(&theirs).unwrap();
    let text = std::fs::read_to_string(root().join("scenarios/rollout-lab.toml")).unwrap();
    // The instructor tightened the RTO after the class played.
    let changed = text.replacen("rto = \"2m\"", "rto = \"30s\"", 1);
    assert_ne!(changed, text);
    std::fs::write(theirs.join("rollout-lab.toml"), changed).unwrap();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    std::fs::copy(
        root().join("fixtures/login.sql"),
        dir.path().join("fixtures/login.sql"),
    )
    .unwrap();

    let transcript = dir.path().join("ada.json");
    let args = [
        transcript.to_str().unwrap(),
        "--format",
        "json",
        "--scenarios",
        theirs.to_str().unwrap(),
    ];
    let out = grade(&env, &args, None).go();
    let json: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", out.stderr);
    });
    let row = &json["rows"][0];
    assert!(
        row["flags"].to_string().contains("other scenario files"),
        "{row}"
    );
    assert_eq!(
        row["score"]["rto_target_ms"], 30_000,
        "scored with the instructor's copy"
    );
    assert_eq!(row["score"]["passed"], false);

    // With the shipped scenario, the same transcript is clean.
    grade(&env, &[transcript.to_str().unwrap()], None)
        .code(0)
        .go();
}

#[test]
fn signatures_are_verified_with_the_instructors_key() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let signed = dir.path().join("ada.json");
    sealed("rollout-lab.reference.json", "ada", Some(KEY))
        .save(&signed)
        .unwrap();
    let unsigned = dir.path().join("ben.json");
    sealed("rollout-lab.reference.json", "ben", None)
        .save(&unsigned)
        .unwrap();
    // Re-sealed by someone who knows the algorithm but not the key.
    let forged = dir.path().join("cy.json");
    let mut t = sealed("rollout-lab.reference.json", "ada", Some(KEY));
    let signature = t.seal.as_ref().unwrap().signature.clone();
    t.learner = Some("cy".into());
    t.seal(None);
    t.seal.as_mut().unwrap().signature = signature;
    t.save(&forged).unwrap();

    let path = |p: &Path| p.to_str().unwrap().to_string();
    let out = grade(&env, &[&path(&signed), "--key"], Some(KEY))
        .code(0)
        .go();
    assert!(out.stdout.contains("signed"), "{}", out.stdout);

    let out = grade(
        &env,
        &[&path(&signed), "--key", "--format", "json"],
        Some("another-course-key-0000"),
    )
    .go();
    assert!(
        out.stdout.contains("signed with another key"),
        "{}",
        out.stdout
    );

    let out = grade(&env, &[&path(&unsigned), "--key"], Some(KEY))
        .code(1)
        .go();
    assert!(out.stdout.contains("not signed"), "{}", out.stdout);

    // Without the key the forgery passes the chain; with it, it is caught.
    grade(&env, &[&path(&forged)], None).code(0).go();
    let out = grade(&env, &[&path(&forged), "--key"], Some(KEY))
        .code(1)
        .go();
    assert!(
        out.stdout.contains("signature does not match"),
        "{}",
        out.stdout
    );

    let out = grade(&env, &[&path(&signed), "--key"], None).code(2).go();
    assert!(out.stderr.contains("PGDRILL_SIGNING_KEY"));
    let out = grade(&env, &[&path(&signed), "--key"], Some("short"))
        .code(2)
        .go();
    assert!(out.stderr.contains("openssl rand"));
}

#[test]
fn nothing_to_grade_is_a_usage_error() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let out = grade(&env, &[dir.path().to_str().unwrap()], None)
        .code(2)
        .go();
    assert!(out.stderr.contains("no transcripts"));
    let out = grade(&env, &["/no/such/folder"], None).code(1).go();
    assert!(out.stdout.contains("no such file or folder"));
}

#[test]
fn a_transcript_that_names_nobody_has_one_learner_name_in_every_format() {
    // Regression: the table showed `?` where CSV and JUnit showed the
    // file's stem.
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("alice-lab.json");
    std::fs::copy(
        root().join("tests/fixtures/transcripts/rollout-lab.reference.json"),
        &file,
    )
    .unwrap();
    let path = file.to_str().unwrap();
    for format in ["table", "csv", "junit", "json"] {
        let out = grade(&env, &["--format", format, path], None).go();
        let text = out.stdout;
        assert!(text.contains("alice-lab"), "{format}: {text}");
        assert!(!text.contains(" ? "), "{format}: {text}");
    }
}

//! Every scenario, played on real PostgreSQL: its reference solution must
//! pass within the RTO, and every unsafe response beside it must fail with
//! the feedback its `# expect:` lines name. Scripts live in
//! `scenarios/solutions/<id>.<name>.txt`; `reference` is the one that passes.

mod common;

use std::path::{Path, PathBuf};

use common::{Ran, TestEnv, moves, read_json, root};
use serde_json::Value;

const TIME_SCALE: &str = "10";

fn scenario_ids() -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(root().join("scenarios"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    ids.sort();
    ids
}

fn solutions(id: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios/solutions"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(&format!("{id}.")) && name.ends_with(".txt")
        })
        .collect();
    files.sort();
    files
}

fn expectations(script: &Path) -> Vec<String> {
    std::fs::read_to_string(script)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("# expect:").map(|e| e.trim().to_string()))
        .collect()
}

/// Where a drill's servers run.
#[derive(Clone, Copy, Debug)]
enum Backend {
    Local,
    Docker,
    /// A server the test starts, reached with `--url`.
    External,
}

impl Backend {
    fn args(self, url: Option<&str>) -> Vec<String> {
        match self {
            Backend::Local => vec!["--backend".into(), "local".into()],
            Backend::Docker => vec![
                "--backend".into(),
                "docker".into(),
                "--image".into(),
                common::docker_image(),
            ],
            Backend::External => vec![
                "--backend".into(),
                "external".into(),
                "--url".into(),
                url.expect("an external drill has its server").to_string(),
            ],
        }
    }
}

struct Played {
    output: Ran,
    score: Value,
    transcript: PathBuf,
}

fn play(env: &TestEnv, backend: &[String], id: &str, script: &Path, dir: &Path) -> Played {
    let transcript = dir.join(format!(
        "{}.json",
        script.file_stem().unwrap().to_string_lossy()
    ));
    let output = env
        .run(["run", id, "--time-scale", TIME_SCALE, "--json", "--script"])
        .arg(script)
        .arg("--transcript")
        .arg(&transcript)
        .args(backend)
        .go();
    let score: Value = serde_json::from_str(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "{}: no JSON score ({e})\nstdout:\n{}\nstderr:\n{}",
            script.display(),
            output.stdout,
            output.stderr
        )
    });
    Played {
        output,
        score,
        transcript,
    }
}

/// Every line of the score's feedback, to search for expected sentences.
fn feedback(score: &Value) -> String {
    let mut lines: Vec<String> = score["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["detail"].as_str().unwrap().to_string())
        .collect();
    lines.extend(
        score["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string()),
    );
    lines.join("\n")
}

#[test]
fn every_scenario_file_validates() {
    let env = TestEnv::new();
    let report = env.run(["validate", "--json"]).success().go().json();
    let scenarios = report
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "scenario")
        .count();
    assert_eq!(scenarios, scenario_ids().len());
}

#[test]
fn every_scenario_ships_a_reference_and_an_unsafe_response() {
    for id in scenario_ids() {
        let scripts = solutions(&id);
        let names: Vec<String> = scripts
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert!(
            names.contains(&format!("{id}.reference.txt")),
            "{id}: no reference solution in {names:?}"
        );
        let unsafe_ones: Vec<&PathBuf> = scripts
            .iter()
            .filter(|p| !p.ends_with(format!("{id}.reference.txt")))
            .collect();
        assert!(!unsafe_ones.is_empty(), "{id}: no unsafe response");
        for u in unsafe_ones {
            assert!(
                !expectations(u).is_empty(),
                "{}: say what feedback it must get with `# expect:` lines",
                u.display()
            );
        }
    }
}

/// Plays every solution of one scenario and checks each against what its
/// author said: the reference passes within the RTO, each unsafe response
/// fails with its `# expect:` feedback, and every saved transcript re-scores
/// to the same result without a database.
fn scenario_scores_as_its_author_said(id: &str, backend: Backend) {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let scripts = solutions(id);
    assert!(!scripts.is_empty(), "{id}: no solution scripts");
    // The external backend's server: one the test starts, as a class's.
    let server = matches!(backend, Backend::External)
        .then(|| common::start_up(&env, &["--backend", "local"]));
    let url = server
        .as_ref()
        .map(|s| s.ready["superuser_url"].as_str().unwrap().to_string());
    let args = backend.args(url.as_deref());
    let mut scores = Vec::new();
    for script in scripts {
        let played = play(&env, &args, id, &script, dir.path());
        let reference = script.ends_with(format!("{id}.reference.txt"));
        let shown = serde_json::to_string_pretty(&played.score).unwrap();
        let passed = played.score["passed"].as_bool().unwrap();
        if reference {
            assert!(
                passed,
                "{}: the reference must pass:\n{shown}",
                script.display()
            );
            assert_eq!(played.output.code, Some(0));
            let rto = played.score["rto_ms"].as_u64().unwrap();
            assert!(rto <= played.score["rto_target_ms"].as_u64().unwrap());
        } else {
            assert!(
                !passed,
                "{}: an unsafe response must fail:\n{shown}",
                script.display()
            );
            assert_eq!(played.output.code, Some(1));
            let said = feedback(&played.score);
            for expected in expectations(&script) {
                assert!(
                    said.contains(&expected),
                    "{}: feedback lacks {expected:?}:\n{said}",
                    script.display()
                );
            }
        }
        let rescored = env
            .run(["score"])
            .arg(&played.transcript)
            .arg("--json")
            .go();
        let again = rescored.json();
        assert_eq!(
            again,
            played.score,
            "{}: re-scoring differs",
            script.display()
        );
        assert_eq!(rescored.code, played.output.code);
        live_recovery_agrees_with_the_score(&played);
        scores.push((played.transcript, played.score));
    }
    // The class view of the same runs: every transcript is sealed, matches
    // the scenario's files, and grades to the score the drill showed.
    // Exit 0: a fresh transcript is never flagged.
    let graded = env
        .run(["grade", "--format", "json"])
        .arg(dir.path())
        .success()
        .go()
        .json();
    let rows = graded["rows"].as_array().unwrap();
    assert_eq!(rows.len(), scores.len());
    for (transcript, score) in &scores {
        let row = rows
            .iter()
            .find(|r| r["file"] == transcript.to_str().unwrap())
            .unwrap();
        assert_eq!(&row["score"], score, "{}", transcript.display());
        assert_eq!(row["flags"], Value::Array(vec![]));
    }
    // The external backend's server goes first: the rest must be gone.
    if let Some(server) = server {
        server.signal(nix::sys::signal::Signal::SIGINT);
        assert!(server.wait(std::time::Duration::from_secs(30)).success());
    }
    assert!(
        env.registry_entries().is_empty(),
        "instances left (a restore's instance must go with the drill): {:?}",
        env.registry_entries()
    );
    if let Backend::Docker = backend {
        assert_eq!(env.containers(), Vec::<String>::new(), "containers left");
    }
}

/// The last RECOVERED line the drill showed names the RTO the score gives,
/// and no RECOVERED line came while an integrity check was failing.
fn live_recovery_agrees_with_the_score(played: &Played) {
    let saved = read_json(&played.transcript);
    let mut failing = std::collections::BTreeSet::new();
    let mut last_recovered = None;
    for e in saved["events"].as_array().unwrap() {
        match e["type"].as_str() {
            Some("check") if e["ok"] == true => {
                failing.remove(e["name"].as_str().unwrap());
            }
            Some("check") => {
                failing.insert(e["name"].as_str().unwrap().to_string());
            }
            Some("observation") if e["level"] == "recovered" => {
                assert!(
                    failing.is_empty(),
                    "{}: RECOVERED at {} while {failing:?} failed",
                    played.transcript.display(),
                    e["t_ms"]
                );
                last_recovered = Some(e["message"].as_str().unwrap().to_string());
            }
            _ => {}
        }
    }
    // Nothing can go wrong before the timeline or the learner does
    // something: an incident dated earlier was dated by the start of a
    // metrics window that straddled its cause.
    let first_cause = saved["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| matches!(e["type"].as_str(), Some("timeline" | "move")))
        .filter_map(|e| e["t_ms"].as_u64())
        .min();
    if let (Some(start), Some(cause)) = (played.score["incident_start_ms"].as_u64(), first_cause) {
        assert!(
            start >= cause,
            "{}: the incident starts at {start} ms, before anything happened ({cause} ms)",
            played.transcript.display()
        );
    }
    if let (Some(line), Some(rto)) = (last_recovered, played.score["rto_ms"].as_u64()) {
        let secs = rto / 1000;
        let clock = if secs >= 60 {
            format!("{}m{:02}s", secs / 60, secs % 60)
        } else {
            format!("{secs}s")
        };
        assert!(
            line.contains(&format!("(RTO {clock},")),
            "{}: the drill said {line:?}, the score an RTO of {clock}",
            played.transcript.display()
        );
    }
}

/// One test per scenario, so that they run in parallel and a failure
/// names its scenario.
macro_rules! scenario_tests {
    ($($test:ident => $id:literal),* $(,)?) => {
        /// On this machine's PostgreSQL binaries.
        mod local {
            $(
                #[test]
                fn $test() {
                    super::scenario_scores_as_its_author_said($id, super::Backend::Local);
                }
            )*
        }

        /// In a database and role of its own on a server the test starts.
        mod external {
            $(
                #[test]
                fn $test() {
                    super::scenario_scores_as_its_author_said($id, super::Backend::External);
                }
            )*
        }

        /// In containers of pgdrill's test image, which needs nothing of
        /// PostgreSQL on the host.
        mod docker {
            $(
                #[test]
                fn $test() {
                    super::scenario_scores_as_its_author_said($id, super::Backend::Docker);
                }
            )*
        }

        #[test]
        fn every_scenario_file_has_its_drill_test() {
            let tested = [$($id),*];
            for id in scenario_ids() {
                assert!(
                    tested.contains(&id.as_str()),
                    "scenarios/{id}.toml has no drill test: add it to scenario_tests! in tests/drills.rs"
                );
            }
        }
    };
}

scenario_tests! {
    drill_mixed_version_rename => "mixed-version-rename",
    drill_lock_queue => "lock-queue",
    drill_contract_too_early => "contract-too-early",
    drill_bad_backfill => "bad-backfill",
    drill_startup_migration_no_down => "startup-migration-no-down",
    drill_failed_cic => "failed-cic",
    drill_rollout_lab => "rollout-lab",
    drill_etl_restore_flow => "etl-restore-flow",
}

#[test]
fn old_pods_really_fail_with_undefined_column_during_the_rollout() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("watch.txt");
    std::fs::write(&script, "at 50s: status\nresolve\n").unwrap();
    let local = Backend::Local.args(None);
    let played = play(&env, &local, "mixed-version-rename", &script, dir.path());
    let transcript: Value =
        serde_json::from_slice(&std::fs::read(&played.transcript).unwrap()).unwrap();
    let mut v1_undefined = 0;
    let mut v2_ok = 0;
    for e in transcript["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "window")
    {
        for s in e["series"].as_array().unwrap() {
            if s["version"] == "v1" {
                v1_undefined += s["errors"]["42703"].as_u64().unwrap_or(0);
            }
            if s["version"] == "v2" && s["errors"].as_object().unwrap().is_empty() {
                v2_ok += s["requests"].as_u64().unwrap();
            }
        }
    }
    assert!(
        v1_undefined > 10,
        "v1 pods should fail with 42703: {v1_undefined}"
    );
    assert!(v2_ok > 10, "v2 pods should serve: {v2_ok}");
}

#[test]
fn validation_reports_every_problem_with_its_place() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(root().join("scenarios/mixed-version-rename.toml")).unwrap();
    let bad = good
        .replace(
            "version = \"v1\"\nrps_per_pod",
            "version = \"v9\"\nrps_per_pod",
        )
        .replace(
            "stable_for = \"30s\"",
            "stable_for = \"30s\"\nstable_forr = \"1m\"",
        );
    let path = dir.path().join("mixed-version-rename.toml");
    std::fs::write(&path, &bad).unwrap();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    std::fs::copy(
        root().join("fixtures/users.sql"),
        dir.path().join("fixtures/users.sql"),
    )
    .unwrap();
    let stdout = env.run(["validate"]).arg(&path).code(5).go().stdout;
    let line = bad
        .lines()
        .position(|l| l.starts_with("stable_forr"))
        .unwrap()
        + 1;
    assert!(
        stdout.contains(&format!("mixed-version-rename.toml:{line}:1")),
        "{stdout}"
    );
    assert!(stdout.contains("unknown field `stable_forr`"), "{stdout}");

    // With the typo fixed, the semantic problem shows, with a hint.
    std::fs::write(&path, bad.replace("stable_forr = \"1m\"\n", "")).unwrap();
    let stdout = env.run(["validate"]).arg(&path).code(5).go().stdout;
    assert!(stdout.contains("unknown app version `v9`"), "{stdout}");
    assert!(stdout.contains("hint: declared: v1, v2"), "{stdout}");
    assert!(
        stdout.contains("version = \"v9\"\n") && stdout.contains("^^^^"),
        "{stdout}"
    );
}

#[test]
fn show_prints_the_briefing_and_bad_scripts_are_refused_before_any_server_starts() {
    let env = TestEnv::new();
    env.run(["show", "mixed-version-rename"])
        .success()
        .stdout_has("RTO: 5m")
        .stdout_has("Objectives:")
        .stdout_has("migrate")
        .go();

    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("bad.txt");
    std::fs::write(&script, "status\nat soon: app pause\nteleport\n").unwrap();
    env.run(["run", "mixed-version-rename", "--script"])
        .arg(&script)
        .code(5)
        .stderr_has("bad.txt:2:")
        .stderr_has("bad.txt:3: unknown command `teleport`")
        .go();
    assert!(env.registry_entries().is_empty());

    env.run(["run", "no-such-drill"])
        .code(5)
        .stderr_has("available: ")
        .stderr_has("mixed-version-rename")
        .go();
}

/// DDL typed in another client (psql, here a plain connection) is seen by
/// the event-trigger audit and lands in the transcript as a move, tagged
/// `direct`, so it is scored like any other.
#[test]
fn ddl_from_another_client_is_recorded_as_a_move() {
    use std::io::{BufRead, BufReader};
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("script.txt");
    std::fs::write(&script, "at 40s: wait 10s\nresolve\n").unwrap();
    let transcript = dir.path().join("t.json");
    let mut child = env
        .pgdrill()
        .current_dir(root())
        .args([
            "run",
            "bad-backfill",
            "--time-scale",
            TIME_SCALE,
            "--script",
        ])
        .arg(&script)
        .arg("--transcript")
        .arg(&transcript)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| {
            l.split_once("psql '")
                .map(|(_, rest)| rest.trim_end_matches('\'').to_string())
        })
        .expect("the drill prints its psql URL");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&format!("{url}?application_name=psql"))
            .await
            .unwrap();
        sqlx::Executor::execute(&mut conn, "DROP INDEX users_created_idx")
            .await
            .unwrap();
    });
    for _ in lines.by_ref() {}
    child.wait().unwrap();
    let saved = read_json(&transcript);
    let direct = saved["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| {
            e["type"] == "move"
                && e["input"]
                    .as_str()
                    .unwrap_or("")
                    .contains("DROP INDEX users_created_idx")
        })
        .unwrap_or_else(|| panic!("no move for the psql DDL in {saved:#}"));
    assert_eq!(direct["canonical"], "sql DROP INDEX users_created_idx");
    assert!(
        direct["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "direct"),
        "{direct:#}"
    );
    // Through the address the drill printed, which records it (and the
    // DDL audit, which sees it too, leaves it there: one move).
    assert!(
        direct["input"]
            .as_str()
            .unwrap()
            .starts_with("(psql on primary)"),
        "{direct:#}"
    );
    let same = saved["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["type"] == "move"
                && e["input"]
                    .as_str()
                    .unwrap_or("")
                    .contains("DROP INDEX users_created_idx")
        })
        .count();
    assert_eq!(same, 1, "{saved:#}");
}

#[test]
fn a_move_still_running_when_the_drill_is_interrupted_is_kept_and_scored() {
    // Regression: a `migrate up` queued behind the report was lost when the
    // drill ended (Ctrl-C, the time limit), and the feedback said "never
    // done". It must be in the transcript as interrupted, with the
    // migration it was applying, and its forbid rule must apply.
    use std::io::{BufRead, BufReader};
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("queue.txt");
    std::fs::write(
        &script,
        "at 25s: migrate up   # no lock_timeout: queues behind the report\n",
    )
    .unwrap();
    let transcript = dir.path().join("queue.json");
    let mut child = env
        .pgdrill()
        .current_dir(root())
        .args(["run", "lock-queue", "--time-scale", TIME_SCALE, "--script"])
        .arg(&script)
        .arg("--transcript")
        .arg(&transcript)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref().map_while(Result::ok) {
        let started = line.contains("> migrate up");
        seen.push(line);
        if started {
            break;
        }
    }
    // Keep reading: a closed output would end the drill by itself.
    let drain = std::thread::spawn(move || lines.map_while(Result::ok).count());
    assert!(
        seen.last().is_some_and(|l| l.contains("> migrate up")),
        "the script never reached its move:\n{}",
        seen.join("\n")
    );
    // Queued for a while, then the learner presses Ctrl-C.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let status = child.wait().unwrap();
    drain.join().unwrap();
    assert_eq!(status.code(), Some(130));
    let saved = read_json(&transcript);
    let moves = moves(&saved);
    assert_eq!(moves.len(), 1, "{moves:#?}");
    assert_eq!(
        moves[0]["canonical"], "migrate up 002_add_order_channel",
        "{:#}",
        moves[0]
    );
    assert_eq!(moves[0]["outcome"], "interrupted", "{:#}", moves[0]);
    assert_eq!(moves[0]["ok"], false);
    let score = env.run(["score", "--json"]).arg(&transcript).go().json();
    let feedback = feedback(&score);
    assert!(
        feedback.contains("`migrate up 002_add_order_channel` at ")
            && feedback.contains("(still running when the drill ended)")
            && feedback.contains("queues behind the same long transaction"),
        "{feedback}"
    );
}

#[test]
fn repair_touches_only_the_drills_own_tables() {
    // Regression: `repair pg_class.relname --from NAME` ran as the superuser
    // and rewrote catalog rows.
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("repair.txt");
    std::fs::write(
        &script,
        "snapshot create s1\nrestore s1 --to new\nrepair pg_class.relname --from restored-1\nrepair users.email --from restored-1\nresolve\n",
    )
    .unwrap();
    let local = Backend::Local.args(None);
    let played = play(&env, &local, "bad-backfill", &script, dir.path());
    let saved = read_json(&played.transcript);
    let moves = moves(&saved);
    let catalog = moves
        .iter()
        .find(|m| m["input"].as_str().unwrap().contains("pg_class"))
        .unwrap();
    assert_eq!(catalog["outcome"], "refused", "{catalog:#}");
    let said = catalog["result"].as_str().unwrap();
    assert!(
        said.contains("`pg_class` is not one of this drill's tables") && said.contains("users"),
        "{said}"
    );
    let own = moves
        .iter()
        .find(|m| m["input"].as_str().unwrap().contains("users.email"))
        .unwrap();
    assert_eq!(own["outcome"], "done", "{own:#}");
}

//! Runbook 003's restore flow as moves, on real PostgreSQL: work on a named
//! instance before the cutover.

mod common;

use common::{TestEnv, moves, read_json};
use serde_json::Value;

const TIME_SCALE: &str = "10";

/// Plays `script` on `scenario` (local backend) and returns its transcript.
fn play(env: &TestEnv, scenario: &str, script: &str) -> Value {
    play_scored(env, scenario, script).0
}

/// The same, with the score the run printed.
fn play_scored(env: &TestEnv, scenario: &str, script: &str) -> (Value, Value) {
    let dir = tempfile::tempdir().unwrap();
    let (path, transcript) = (dir.path().join("s.txt"), dir.path().join("t.json"));
    std::fs::write(&path, script).unwrap();
    let out = env
        .run([
            "run",
            scenario,
            "--time-scale",
            TIME_SCALE,
            "--json",
            "--script",
        ])
        .arg(&path)
        .arg("--transcript")
        .arg(&transcript)
        .args(["--backend", "local"])
        .go();
    assert!(
        transcript.exists(),
        "no transcript\nstdout:\n{}\nstderr:\n{}",
        out.stdout,
        out.stderr
    );
    let score = serde_json::from_str(&out.stdout).unwrap_or(Value::Null);
    (read_json(&transcript), score)
}

/// A shipped scenario as `edit` changes it, in a folder of its own with
/// the fixtures beside it (the folder goes when the guard does).
fn edited(id: &str, edit: impl FnOnce(String) -> String) -> (tempfile::TempDir, String) {
    let root = common::root();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("fixtures")).unwrap();
    for f in std::fs::read_dir(root.join("fixtures")).unwrap().flatten() {
        std::fs::copy(f.path(), dir.path().join("fixtures").join(f.file_name())).unwrap();
    }
    let text = std::fs::read_to_string(root.join(format!("scenarios/{id}.toml"))).unwrap();
    let path = dir.path().join(format!("{id}.toml"));
    std::fs::write(&path, edit(text)).unwrap();
    let path = path.to_str().unwrap().to_string();
    (dir, path)
}

/// The move whose input starts with `input`.
fn find<'a>(moves: &'a [Value], input: &str) -> &'a Value {
    moves
        .iter()
        .find(|m| m["input"].as_str().unwrap().starts_with(input))
        .unwrap_or_else(|| panic!("no move `{input}` in {moves:#?}"))
}

#[test]
fn moves_on_a_named_instance_run_there_and_are_recorded_so() {
    let env = TestEnv::new();
    let saved = play(
        &env,
        "contract-too-early",
        "wait until incident --max 1m\n\
         flag set sms_login off\n\
         restore pre-release-3 --to new\n\
         migrate status --on restored-1\n\
         sql --on restored-1 SELECT count(*) FROM users WHERE phone IS NOT NULL\n\
         migrate down --on restored-1\n\
         sql --on restored-1 SELECT phone_e164 FROM users LIMIT 1\n\
         sql SELECT phone_e164 FROM users LIMIT 1\n\
         sql --on nowhere SELECT 1\n\
         status\n\
         resolve\n",
    );
    let moves = moves(&saved);
    let status = find(&moves, "migrate status --on");
    assert_eq!(status["canonical"], "migrate status --on restored-1");
    assert_eq!(status["outcome"], "done", "{status:#}");
    // The restored copy still has the column the incident dropped.
    let read = find(&moves, "sql --on restored-1 SELECT count");
    assert_eq!(read["outcome"], "done", "{read:#}");
    assert!(
        read["canonical"]
            .as_str()
            .unwrap()
            .starts_with("sql --on restored-1 SELECT count(*)"),
        "{read:#}"
    );
    // The down ran on the copy: its newest migration, with no tag a rule
    // about the service reads.
    let down = find(&moves, "migrate down --on");
    assert_eq!(down["outcome"], "done", "{down:#}");
    assert_eq!(
        down["canonical"],
        "migrate down --on restored-1 002_add_phone_e164"
    );
    assert!(
        down["tags"].as_array().is_none_or(|t| t.is_empty()),
        "{down:#}"
    );
    let gone = find(&moves, "sql --on restored-1 SELECT phone_e164");
    assert_eq!(gone["outcome"], "failed", "{gone:#}");
    assert!(
        gone["result"].as_str().unwrap().contains("phone_e164"),
        "{gone:#}"
    );
    // ... and not on the primary, which the app still uses.
    let kept = find(&moves, "sql SELECT phone_e164");
    assert_eq!(kept["outcome"], "done", "{kept:#}");
    let last = find(&moves, "status");
    let applied = last["state"]["applied"].as_array().unwrap();
    assert!(
        applied.iter().any(|a| a == "002_add_phone_e164"),
        "{last:#}"
    );
    let nowhere = find(&moves, "sql --on nowhere");
    assert_eq!(nowhere["outcome"], "refused", "{nowhere:#}");
    let said = nowhere["result"].as_str().unwrap();
    assert!(
        said.contains("no instance `nowhere`") && said.contains("primary, restored-1"),
        "{said}"
    );
}

/// psql, run as a learner would, through `url`: its output, or why not.
fn psql(url: &str, sql: &str) -> String {
    let bins = pgdrill::instance::PgBinaries::locate(None).unwrap();
    let out = std::process::Command::new(bins.bin("psql"))
        .args(["-X", "-A", "-t", "-c", sql, url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "psql {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The psql URL in a line of pgdrill's output, if it holds one.
fn url_in(line: &str) -> Option<String> {
    let start = line.find("postgres://")?;
    let url: String = line[start..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '\'' && *c != '│')
        .collect();
    Some(url)
}

#[test]
fn reads_typed_in_psql_are_moves_and_the_service_address_follows_the_cutover() {
    use std::io::BufRead;
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let (script, transcript) = (dir.path().join("s.txt"), dir.path().join("t.json"));
    // Each `wait 30s` is 3 s here: the test types in psql meanwhile.
    std::fs::write(
        &script,
        "wait until incident --max 1m\n\
         restore pre-release-3 --to new\n\
         instances\n\
         wait 30s\n\
         cutover restored-1\n\
         wait 30s\n\
         resolve\n",
    )
    .unwrap();
    let mut child = env
        .pgdrill()
        .args(["run", "contract-too-early", "--time-scale", TIME_SCALE])
        .args(["--backend", "local", "--script"])
        .arg(&script)
        .arg("--transcript")
        .arg(&transcript)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let (mut service, mut restored, mut ports) = (None, None, Vec::new());
    for line in lines {
        let line = line.unwrap();
        if line.starts_with("Your database") {
            service = url_in(&line);
        } else if line.contains("restored-1 ") && line.contains("postgres://") {
            // Its own address, before the cutover: the runbook's smoke test.
            restored = url_in(&line);
            let phones = psql(
                restored.as_deref().unwrap(),
                "SELECT count(*) FROM users WHERE phone IS NOT NULL",
            );
            assert_eq!(phones, "2000");
            ports.push(psql(
                service.as_deref().unwrap(),
                "SELECT inet_server_port()",
            ));
        } else if line.contains("now point at restored-1") {
            let url = service.as_deref().unwrap();
            ports.push(psql(url, "SELECT inet_server_port() AS after_cutover"));
            psql(url, "CREATE INDEX users_email_seen ON users (email)");
        }
    }
    assert!(child.wait().unwrap().success() || transcript.exists());
    assert!(
        restored.is_some(),
        "`instances` showed no address for restored-1"
    );
    // The same address reached the primary, then the restored copy.
    assert_eq!(ports.len(), 2, "{ports:?}");
    assert_ne!(
        ports[0], ports[1],
        "the service address did not follow the cutover"
    );

    let saved = read_json(&transcript);
    let moves = moves(&saved);
    let smoke = find(&moves, "(psql on restored-1) SELECT count(*)");
    assert_eq!(
        smoke["canonical"],
        "sql --on restored-1 SELECT count(*) FROM users WHERE phone IS NOT NULL"
    );
    let cutover = find(&moves, "cutover restored-1");
    assert!(smoke["t_ms"].as_u64() < cutover["t_ms"].as_u64());
    let before = find(&moves, "(psql on primary) SELECT inet_server_port()");
    assert_eq!(before["canonical"], "sql SELECT inet_server_port()");
    let after = find(
        &moves,
        "(psql on restored-1) SELECT inet_server_port() AS after_cutover",
    );
    assert_eq!(
        after["canonical"],
        "sql SELECT inet_server_port() AS after_cutover"
    );
    // DDL typed through pgdrill is one move, not a second one from the
    // DDL audit; it is tagged as typed in another client.
    let ddl: Vec<&Value> = moves
        .iter()
        .filter(|m| m["input"].as_str().unwrap().contains("users_email_seen"))
        .collect();
    assert_eq!(ddl.len(), 1, "{ddl:#?}");
    assert!(
        ddl[0]["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == "direct"),
        "{:#}",
        ddl[0]
    );
    // Passwords are shown, never kept.
    let text = std::fs::read_to_string(&transcript).unwrap();
    assert!(!text.contains("postgres://"), "a URL in the transcript");
}

#[test]
fn a_gradual_cutover_moves_part_of_the_fleet_then_the_rest() {
    let env = TestEnv::new();
    let saved = play(
        &env,
        "contract-too-early",
        "wait until incident --max 1m\n\
         flag set sms_login off\n\
         restore pre-release-3 --to new\n\
         cutover restored-1 --pods 1\n\
         wait 10s\n\
         cutover restored-1 --percent 50\n\
         wait 10s\n\
         cutover restored-1\n\
         wait 5s\n\
         cutover restored-1 --pods 1\n\
         resolve\n",
    );
    let moves = moves(&saved);
    let one = find(&moves, "cutover restored-1 --pods 1");
    assert_eq!(one["canonical"], "cutover --pods 1 restored-1");
    assert_eq!(one["outcome"], "done", "{one:#}");
    assert!(
        one["result"].as_str().unwrap().contains("(1 of 4 pods)"),
        "{one:#}"
    );
    // Half of four is two more.
    let half = find(&moves, "cutover restored-1 --percent 50");
    assert!(
        half["result"].as_str().unwrap().contains("(3 of 4 pods)"),
        "{half:#}"
    );
    // Until the last pod moves, the app uses the primary.
    assert_eq!(half["state"]["instance"], "primary", "{half:#}");
    let full = moves
        .iter()
        .find(|m| m["canonical"] == "cutover restored-1")
        .unwrap_or_else(|| panic!("no full cutover in {moves:#?}"));
    assert_eq!(full["outcome"], "done", "{full:#}");
    let after = moves
        .iter()
        .filter(|m| m["input"] == "cutover restored-1 --pods 1")
        .nth(1)
        .unwrap();
    assert_eq!(after["outcome"], "refused", "{after:#}");
    // While the fleet was split, windows counted each instance's requests.
    let split = saved["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "window")
        .filter_map(|e| e["instances"].as_array())
        .find(|i| i.len() == 2)
        .unwrap_or_else(|| panic!("no window split between instances"));
    let names: Vec<&str> = split.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["primary", "restored-1"]);
    assert!(split.iter().all(|l| l["requests"].as_u64().unwrap() > 0));
}

#[test]
fn the_tracking_table_has_the_tools_shape_and_a_history_before_the_drill() {
    // contract-too-early, with node-pg-migrate's real table: a serial key
    // besides the name, and migrations installed days before the drill.
    let (_dir, scenario) = edited("contract-too-early", |text| {
        let text = text
        .replace(
            "[migrations]\ntable = \"schema_migrations\"",
            "[migrations]\ntable = \"pgmigrations\"\nid_column = \"name\"\napplied_column = \"run_on\"\ncolumns = [{ name = \"id\", type = \"serial PRIMARY KEY\" }]",
        )
        .replace(
            "id = \"001_add_login_columns\"\nkind = \"expand\"\napplied_at_start = true",
            "id = \"001_add_login_columns\"\nkind = \"expand\"\napplied_at_start = true\ninstalled_ago = \"14d\"",
        )
        .replace(
            "id = \"002_add_phone_e164\"\nkind = \"expand\"\napplied_at_start = true",
            "id = \"002_add_phone_e164\"\nkind = \"expand\"\napplied_at_start = true\ninstalled_ago = \"2d\"",
        );
        assert!(text.contains("installed_ago = \"2d\"") && text.contains("pgmigrations"));
        text
    });
    let env = TestEnv::new();
    // A check that fails (division by zero) unless the rows say what the
    // scenario says, read as the runbook reads them.
    let saved = play(
        &env,
        &scenario,
        "sql SELECT 1 / (SELECT count(*) FROM pgmigrations WHERE name = '001_add_login_columns' AND run_on BETWEEN now() - interval '14 days 1 hour' AND now() - interval '13 days 23 hours')::int AS fourteen_days\n\
         sql SELECT 1 / (SELECT count(*) FROM pgmigrations WHERE name = '002_add_phone_e164' AND run_on < now() - interval '47 hours')::int AS two_days\n\
         sql SELECT 1 / (SELECT count(*) FROM (SELECT name FROM pgmigrations ORDER BY run_on DESC LIMIT 1) newest WHERE name = '003_drop_legacy_phone')::int AS newest_is_003\n\
         wait until incident --max 1m\n\
         sql SELECT 1 / (SELECT count(*) FROM (SELECT name FROM pgmigrations ORDER BY run_on DESC LIMIT 1) newest WHERE name = '003_drop_legacy_phone')::int AS newest_is_003\n\
         sql SELECT 1 / (SELECT count(*) FROM pgmigrations WHERE id IS NOT NULL)::int AS serial_ids\n\
         resolve\n",
    );
    let moves = moves(&saved);
    let outcome = |text: &str| -> Vec<String> {
        moves
            .iter()
            .filter(|m| m["input"].as_str().unwrap().contains(text))
            .map(|m| format!("{}: {}", m["outcome"], m["result"]))
            .collect()
    };
    assert!(
        outcome("fourteen_days")[0].starts_with("\"done\""),
        "{:?}",
        outcome("fourteen_days")
    );
    assert!(
        outcome("two_days")[0].starts_with("\"done\""),
        "{:?}",
        outcome("two_days")
    );
    // Before the timeline's migration job, 003 is not there; after, it is
    // the newest row, installed at the drill's time.
    let newest = outcome("newest_is_003");
    assert!(newest[0].contains("division by zero"), "{newest:?}");
    assert!(newest[1].starts_with("\"done\""), "{newest:?}");
    assert!(
        outcome("serial_ids")[0].starts_with("\"done\""),
        "{:?}",
        outcome("serial_ids")
    );
}

/// contract-too-early whose app also renames users.
fn with_updates() -> (tempfile::TempDir, String) {
    edited("contract-too-early", |text| {
        let text = text.replace(
            "    { name = \"POST /signup\"",
            "    { name = \"POST /profile/name\", weight = 3, sql = \"UPDATE users SET name = $2 WHERE id = $1 RETURNING id, name\", params = [\"existing_user_id\", \"new_name\"], write = true },\n    { name = \"POST /signup\"",
        );
        assert!(text.contains("POST /profile/name"));
        text
    })
}

/// The RPO the drill measured at its end.
fn rpo(saved: &Value) -> Value {
    saved["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "rpo")
        .cloned()
        .unwrap_or_else(|| panic!("no RPO in {saved:#}"))
}

#[test]
fn acknowledged_updates_count_for_the_rpo_and_replay_or_backfill_brings_them_back() {
    let (_dir, scenario) = with_updates();
    let scenario = scenario.as_str();
    let env = TestEnv::new();
    let head = "wait until incident --max 1m\n\
                flag set sms_login off\n\
                restore pre-release-3 --to new\n\
                cutover restored-1\n";
    // Cut over and nothing else: the names acknowledged on the primary
    // since the snapshot are not on restored-1.
    let lost = rpo(&play(&env, scenario, &format!("{head}wait 5s\nresolve\n")));
    assert!(lost["values_lost"].as_u64().unwrap() > 0, "{lost:#}");

    // A replay copies the signups and the updated names.
    let saved = play(
        &env,
        scenario,
        &format!("{head}replay --since pre-release-3\nwait 5s\nresolve\n"),
    );
    let played = moves(&saved);
    let replay = find(&played, "replay");
    assert_eq!(replay["outcome"], "done", "{replay:#}");
    assert!(
        replay["result"]
            .as_str()
            .unwrap()
            .contains("acknowledged update(s)"),
        "{replay:#}"
    );
    let kept = rpo(&saved);
    assert_eq!(kept["missing"], 0, "{kept:#}");

    // A backfill writes the acknowledged names back from the ledger; the
    // signups, inserts, are replay's.
    let saved = play(
        &env,
        scenario,
        &format!("{head}backfill --since pre-release-3\nwait 5s\nresolve\n"),
    );
    let played = moves(&saved);
    let backfill = find(&played, "backfill");
    assert_eq!(backfill["outcome"], "done", "{backfill:#}");
    let after = rpo(&saved);
    assert!(after["values_lost"].is_null(), "{after:#}");
}

#[test]
fn workers_beside_the_pods_have_their_own_failure_rate_and_obey_their_moves() {
    // contract-too-early with an ETL that reads the column 003 drops.
    let (_dir, scenario) = edited("contract-too-early", |text| {
        text + r#"
[[workers]]
name = "etl"
version = "etl-1.4"
concurrency = 2
max_concurrency = 4
jobs_per_second = 20
jobs = [
    { name = "export phone", weight = 1, sql = "SELECT phone FROM users WHERE id = $1", params = ["existing_user_id"] },
]
"#
    });
    let env = TestEnv::new();
    let saved = play(
        &env,
        &scenario,
        "wait until incident --max 1m\n\
         wait 20s\n\
         workers pause etl\n\
         wait 20s\n\
         workers scale etl 1\n\
         workers resume etl\n\
         wait 20s\n\
         workers scale etl 9\n\
         workers pause nope\n\
         workers\n\
         resolve\n",
    );
    let moves = moves(&saved);
    let pause = find(&moves, "workers pause etl");
    assert_eq!(pause["outcome"], "done", "{pause:#}");
    let too_many = find(&moves, "workers scale etl 9");
    assert_eq!(too_many["outcome"], "refused", "{too_many:#}");
    assert!(
        too_many["result"].as_str().unwrap().contains("at most 4"),
        "{too_many:#}"
    );
    let nope = find(&moves, "workers pause nope");
    assert!(
        nope["result"].as_str().unwrap().contains("workers: etl"),
        "{nope:#}"
    );
    let list = moves.iter().find(|m| m["input"] == "workers").unwrap();
    assert!(
        list["result"]
            .as_str()
            .unwrap()
            .starts_with("etl (etl-1.4): 1 of 4 running"),
        "{list:#}"
    );
    // The pool's own numbers, apart from the API's: failing after the
    // drop, silent while paused, working again after the resume.
    let t = |m: &Value| m["t_ms"].as_u64().unwrap();
    let etl = |from: u64, to: u64| -> (u64, u64) {
        saved["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| {
                e["type"] == "window"
                    && e["start_ms"].as_u64().unwrap() >= from
                    && e["end_ms"].as_u64().unwrap() <= to
            })
            .filter_map(|e| e["workers"].as_array()?.first().cloned())
            .fold((0, 0), |(r, f), l| {
                (
                    r + l["requests"].as_u64().unwrap(),
                    f + l["errors"].as_u64().unwrap(),
                )
            })
    };
    let resume = find(&moves, "workers resume etl");
    // 003 drops the column at 20s.
    let (jobs, failed) = etl(21_000, t(pause));
    assert!(
        jobs > 0 && failed == jobs,
        "before the pause: {jobs} jobs, {failed} failed"
    );
    let (paused, _) = etl(t(pause) + 1_000, t(resume));
    assert_eq!(paused, 0, "jobs while paused");
    let (after, _) = etl(t(resume) + 1_000, u64::MAX);
    assert!(after > 0, "no jobs after the resume");
    // The API's windows do not count the pool's jobs.
    let api: u64 = saved["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "window")
        .flat_map(|e| e["series"].as_array().unwrap().clone())
        .filter(|s| s["version"] == "etl")
        .count() as u64;
    assert_eq!(api, 0);
}

#[test]
fn a_scenario_fits_a_built_in_guardrail_to_its_flags_and_words() {
    // mixed-version-rename with two flags, new_profile on and dark_mode
    // off: the rule about rolling the app back with a flag on, limited to
    // one of them and reworded.
    let root = common::root();
    let base = std::fs::read_to_string(root.join("scenarios/mixed-version-rename.toml")).unwrap();
    let fitted = |flags: &str| {
        base.replace(
            "[fleet]",
            "[[flags]]\nname = \"new_profile\"\ndefault = \"on\"\n\n[[flags]]\nname = \"dark_mode\"\ndefault = \"off\"\n\n[fleet]",
        )
        .replace(
            "[rubric]",
            &format!("[rubric.guardrails.rollback-before-flag]\nflags = [{flags}]\npenalty = 7\nwhy = \"Our words: turn off the flag that gates the new profile page before reverting the app.\"\n\n[rubric]"),
        )
    };
    let env = TestEnv::new();
    let reference = std::fs::read_to_string(
        root.join("scenarios/solutions/mixed-version-rename.reference.txt"),
    )
    .unwrap();
    let score_with = |flags: &str| -> Value {
        let (_dir, scenario) = edited("mixed-version-rename", |_| fitted(flags));
        play_scored(&env, &scenario, &reference).1
    };
    let broken = score_with("\"new_profile\"");
    let line = broken["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["label"] == "rollback-before-flag")
        .unwrap_or_else(|| panic!("no guardrail line in {broken:#}"));
    assert_eq!(line["points"], -7, "{line:#}");
    let detail = line["detail"].as_str().unwrap();
    assert!(
        detail.contains("new_profile=on") && !detail.contains("dark_mode"),
        "{detail}"
    );
    assert!(
        detail.ends_with(
            "Our words: turn off the flag that gates the new profile page before reverting the app."
        ),
        "{detail}"
    );
    // Limited to dark_mode, which was off: new_profile may stay on.
    let kept = score_with("\"dark_mode\"");
    assert!(
        kept["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["label"] != "rollback-before-flag"),
        "{kept:#}"
    );
}

#[test]
fn replay_copies_parents_before_the_rows_that_reference_them() {
    // etl-restore-flow whose app also files a snapshot for its newest
    // user: after the pipeline's snapshot, such rows reference users that
    // signed up after it too. hero_snapshots sorts before users: a replay
    // in name order was refused by the foreign key.
    let (_dir, scenario) = edited("etl-restore-flow", |text| {
        let text = text.replace(
            "    { name = \"POST /signup\"",
            "    { name = \"POST /snapshots\", weight = 1, sql = \"INSERT INTO hero_snapshots (user_id, payload) SELECT max(id), 'new' FROM users RETURNING id\", write = true },\n    { name = \"POST /signup\"",
        );
        assert!(text.contains("POST /snapshots"));
        text
    });
    let root = common::root();
    let reference =
        std::fs::read_to_string(root.join("scenarios/solutions/etl-restore-flow.reference.txt"))
            .unwrap();
    let env = TestEnv::new();
    let (saved, score) = play_scored(&env, &scenario, &reference);
    let played = moves(&saved);
    let replay = find(&played, "replay --since");
    assert_eq!(replay["outcome"], "done", "{replay:#}");
    let rpo = rpo(&saved);
    assert_eq!(rpo["missing"], 0, "{rpo:#}");
    assert_eq!(score["passed"], true, "{score:#}");
}

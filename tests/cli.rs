//! The `pgdrill` binary as a user runs it: `up` with Ctrl-C, crashes,
//! `instances gc`, wrong configuration.

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::{TestEnv, assert_no_process_within, list_names, start_up};
use nix::sys::signal::Signal;

fn instance_dirs(env: &TestEnv) -> Vec<String> {
    list_names(&env.cli_runtime())
        .into_iter()
        .filter(|n| n.starts_with("pgd-"))
        .collect()
}

#[test]
fn up_then_sigint_leaves_nothing_behind() {
    let env = TestEnv::new();
    let up = start_up(&env, &[]);
    let (id, data_dir) = (up.id(), up.data_dir());
    assert!(data_dir.is_dir());
    // The URL it prints really connects, as the application role.
    let url = up.url();
    let who: String = common::runtime().block_on(async {
        let mut conn = pgdrill::instance::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    });
    assert_eq!(who, "pgdrill_app");

    up.signal(Signal::SIGINT);
    let status = up.wait(Duration::from_secs(20));
    assert!(
        status.success(),
        "Ctrl-C is how `up` is meant to end: {status}"
    );
    assert_no_process_within(&id, Duration::from_secs(5));
    assert!(!data_dir.exists());
    assert!(instance_dirs(&env).is_empty(), "{:?}", instance_dirs(&env));
    assert!(
        env.registry_entries().is_empty(),
        "{:?}",
        env.registry_entries()
    );
}

#[test]
fn up_then_sigterm_leaves_nothing_behind() {
    let env = TestEnv::new();
    let up = start_up(&env, &[]);
    let id = up.id();
    up.signal(Signal::SIGTERM);
    assert!(up.wait(Duration::from_secs(20)).success());
    assert_no_process_within(&id, Duration::from_secs(5));
    assert!(instance_dirs(&env).is_empty());
    assert!(env.registry_entries().is_empty());
}

/// Kills `pgdrill up` with SIGKILL: no cleanup can run, so the server and
/// its directory stay behind as an orphan.
fn orphan(env: &TestEnv) -> (String, std::path::PathBuf, u32) {
    let up = start_up(env, &[]);
    let (id, data_dir, pid) = (up.id(), up.data_dir(), up.pid());
    up.signal(Signal::SIGKILL);
    up.wait(Duration::from_secs(10));
    assert!(
        pgdrill::instance::process::is_postmaster_of(pid, &data_dir),
        "after SIGKILL of pgdrill the server is expected to be orphaned, still running"
    );
    (id, data_dir, pid)
}

#[test]
fn sigkill_leaves_an_orphan_that_instances_gc_reaps() {
    let env = TestEnv::new();
    let shm_before = posix_shm_segments();
    let (id, data_dir, _pid) = orphan(&env);

    let listed = env
        .run(["instances", "list", "--json"])
        .success()
        .go()
        .json();
    assert_eq!(listed["instances"][0]["id"], id.as_str());
    assert_eq!(listed["instances"][0]["liveness"], "orphan");
    assert_eq!(listed["instances"][0]["server_running"], true);

    env.run(["instances", "gc"])
        .success()
        .stdout_has(&format!("reaped {id}: server stopped"))
        .go();
    assert_no_process_within(&id, Duration::from_secs(5));
    assert!(!data_dir.exists());
    assert!(instance_dirs(&env).is_empty());
    assert!(env.registry_entries().is_empty());

    env.run(["instances", "gc"]).stdout_is("no orphans").go();

    // A server stopped without its own shutdown leaves its POSIX shared
    // memory segments in /dev/shm, unless they live in the data directory.
    let leaked: Vec<_> = posix_shm_segments()
        .difference(&shm_before)
        .cloned()
        .collect();
    assert!(
        leaked.is_empty(),
        "shared memory segments left in /dev/shm: {leaked:?}"
    );
}

fn posix_shm_segments() -> std::collections::BTreeSet<String> {
    list_names(std::path::Path::new("/dev/shm"))
        .into_iter()
        .filter(|n| n.starts_with("PostgreSQL."))
        .collect()
}

#[test]
fn sigkill_leaves_an_orphan_that_the_next_start_reaps() {
    let env = TestEnv::new();
    let (id, data_dir, _pid) = orphan(&env);

    let next = start_up(&env, &[]);
    assert_no_process_within(&id, Duration::from_secs(5));
    assert!(
        !data_dir.exists(),
        "the next start reaps the orphan's directory"
    );
    assert_eq!(env.registry_entries(), vec![format!("{}.json", next.id())]);
    next.signal(Signal::SIGINT);
    assert!(next.wait(Duration::from_secs(20)).success());
    assert!(env.registry_entries().is_empty());
}

#[test]
fn a_wrong_pg_bin_is_a_clear_error() {
    let env = TestEnv::new();
    env.run(["up", "--pg-bin", "/nonexistent/bin"])
        .code(3)
        .stderr_has("--pg-bin points at /nonexistent/bin")
        .stderr_has("no executable `initdb`")
        .stderr_has("/usr/lib/postgresql/15/bin")
        .go();
    env.run(["up"])
        .env("PGDRILL_PG_BIN", "/nonexistent/bin")
        .code(3)
        .stderr_has("PGDRILL_PG_BIN points at")
        .go();
    assert!(env.registry_entries().is_empty());
}

#[test]
fn up_loads_a_sql_file_and_reports_errors_by_line() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.sql");
    std::fs::write(
        &good,
        "CREATE TABLE users (id int);\nINSERT INTO users VALUES (1), (2);\n",
    )
    .unwrap();
    let up = start_up(&env, &["--sql", good.to_str().unwrap()]);
    let url = up.url();
    let n: i64 = common::runtime().block_on(async {
        let mut conn = pgdrill::instance::connect(&url).await.unwrap();
        sqlx::query_scalar("SELECT count(*) FROM users")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    });
    assert_eq!(n, 2);
    up.signal(Signal::SIGINT);
    assert!(up.wait(Duration::from_secs(20)).success());

    let bad = dir.path().join("bad.sql");
    std::fs::write(
        &bad,
        "CREATE TABLE users (id int);\nSELECT nme FROM users;\n",
    )
    .unwrap();
    env.run(["up", "--sql"])
        .arg(&bad)
        .code(5)
        .stderr_has(&format!("{}:2:8:", bad.display()))
        .stderr_has("column \"nme\" does not exist (SQLSTATE 42703)")
        .go();
    assert!(instance_dirs(&env).is_empty());
    assert!(env.registry_entries().is_empty());
}

#[test]
fn doctor_reports_a_usable_machine() {
    let env = TestEnv::new();
    let report = env.run(["doctor", "--json"]).success().go().json();
    assert_eq!(report["usable"], true);
    let failing: Vec<_> = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail")
        .collect();
    assert!(failing.is_empty(), "{failing:?}");
}

#[test]
fn doctor_fails_with_the_fix_when_binaries_are_missing() {
    let env = TestEnv::new();
    env.run(["doctor", "--pg-bin", "/nonexistent"])
        .code(3)
        .stdout_has("FAIL  binaries")
        .stdout_has("FAIL  backend local")
        .go();
}

#[test]
fn up_reports_a_server_that_dies_and_still_cleans_up() {
    let env = TestEnv::new();
    let mut up = start_up(&env, &[]);
    let (id, data_dir) = (up.id(), up.data_dir());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(up.pid() as i32), Signal::SIGKILL).unwrap();
    let stderr = up.stderr_receiver();
    let status = up.wait(Duration::from_secs(20));
    // Read to the end of stderr: the process has exited, but its last line
    // may still be on its way through the reader thread.
    let mut lines = Vec::new();
    while let Ok(line) = stderr.recv_timeout(Duration::from_secs(5)) {
        lines.push(line);
    }
    let text = lines.join("\n");
    assert_eq!(status.code(), Some(4), "{text}");
    assert!(text.contains("stopped unexpectedly"), "{text}");
    assert_no_process_within(&id, Duration::from_secs(5));
    assert!(!data_dir.exists());
    assert!(env.registry_entries().is_empty());
}

#[test]
fn an_unusable_run_as_user_is_a_clear_error() {
    let env = TestEnv::new();
    // As root: there is no such user; as anyone else: the variable does not apply.
    env.run(["up"])
        .env("PGDRILL_RUN_AS", "no-such-user-xyz")
        .code(3)
        .stderr_has("no-such-user-xyz")
        .go();
    assert!(env.registry_entries().is_empty());
}

#[test]
fn a_closed_output_ends_a_scripted_drill_cleanly() {
    // Regression: `pgdrill run X --script F | head -3` panicked on the
    // broken pipe, and the drill then hung with its server running until
    // the time limit.
    use std::io::{BufRead, BufReader};
    let env = TestEnv::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut child = env
        .pgdrill()
        .current_dir(&root)
        .args([
            "run",
            "mixed-version-rename",
            "--time-scale",
            "10",
            "--script",
        ])
        .arg(root.join("scenarios/solutions/mixed-version-rename.reference.txt"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    {
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        for _ in 0..3 {
            lines.next().unwrap().unwrap();
        }
        // `head -3` exits here: the pipe closes.
    }
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "pgdrill kept running after its output closed"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(status.success(), "{status:?}\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        env.registry_entries().is_empty(),
        "{:?}",
        env.registry_entries()
    );
}

#[test]
fn without_user_or_logname_the_learner_is_the_login_name() {
    // Regression: with $USER unset the transcript named nobody, although
    // `id -un` knows who runs the drill.
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.txt");
    std::fs::write(&script, "resolve\n").unwrap();
    let transcript = dir.path().join("t.json");
    env.run([
        "run",
        "mixed-version-rename",
        "--time-scale",
        "10",
        "--json",
    ])
    .env_remove("USER")
    .env_remove("LOGNAME")
    .env_remove("PGDRILL_LEARNER")
    .arg("--script")
    .arg(&script)
    .arg("--transcript")
    .arg(&transcript)
    .code(1)
    .go();
    let id = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    let login = String::from_utf8_lossy(&id.stdout).trim().to_string();
    let saved = common::read_json(&transcript);
    assert_eq!(saved["learner"], serde_json::Value::String(login));
}

#[test]
fn a_fixture_the_server_refuses_is_bad_input_not_a_failed_server() {
    // Regression: a broken fixture file exited 4 (an instance failed),
    // telling the author to look at the machine instead of their file.
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scenario = std::fs::read_to_string(root.join("scenarios/lock-queue.toml"))
        .unwrap()
        .replace("sql = \"fixtures/orders.sql\"", "sql = \"broken.sql\"");
    std::fs::write(dir.path().join("lock-queue.toml"), scenario).unwrap();
    std::fs::write(
        dir.path().join("broken.sql"),
        "CREATE TABLE orders (id serial PRIMARY KEY,);\n",
    )
    .unwrap();
    let script = dir.path().join("s.txt");
    std::fs::write(&script, "resolve\n").unwrap();
    env.run(["run"])
        .arg(dir.path().join("lock-queue.toml"))
        .arg("--script")
        .arg(&script)
        .code(5)
        .stderr_has("the fixture broken.sql failed")
        .stderr_has("42601")
        .go();
    assert!(env.registry_entries().is_empty());
}

#[test]
fn from_any_directory_the_built_in_course_set_is_played() {
    // An installed pgdrill run away from the repository: the scenarios and
    // quizzes built into it are found (written once into its cache).
    let env = TestEnv::new();
    let elsewhere = tempfile::tempdir().unwrap();
    env.run(["list"])
        .dir(elsewhere.path())
        .success()
        .stdout_has("mixed-version-rename")
        .stdout_has("the course set built into this pgdrill")
        .go();
    env.run(["show", "lock-queue"])
        .dir(elsewhere.path())
        .success()
        .stdout_has("Objectives:")
        .go();
    env.run(["quiz", "chapter-16", "--print"])
        .dir(elsewhere.path())
        .success()
        .go();
    // A folder of its own takes precedence.
    std::fs::create_dir(elsewhere.path().join("scenarios")).unwrap();
    env.run(["list"])
        .dir(elsewhere.path())
        .success()
        .stdout_has("no scenarios in scenarios")
        .go();
}

#[test]
fn completions_and_the_man_page_come_from_the_same_definitions_as_help() {
    let env = TestEnv::new();
    env.run(["completions", "bash"])
        .success()
        .stdout_has("_pgdrill()")
        .stdout_has("--backend")
        .go();
    env.run(["completions", "fish"])
        .success()
        .stdout_has("complete -c pgdrill")
        .go();
    env.run(["man"])
        .success()
        .stdout_has(".TH pgdrill 1")
        .stdout_has("completions")
        .go();
    env.run(["completions", "tcsh"]).code(2).go();
}

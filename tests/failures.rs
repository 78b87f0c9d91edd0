//! When pgdrill's own world breaks under it: a server killed in the middle
//! of a drill. The drill must say so at once, end, and keep what it has.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{TestEnv, read_json, root};

/// The postmaster pids of the instances in the registry.
fn postmasters(env: &TestEnv) -> Vec<u32> {
    let dir = env.dirs.state.join("instances");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if let Ok(text) = std::fs::read_to_string(entry.path())
            && let Ok(v) = serde_json::from_str::<serde_json::Value>(&text)
            && let Some(pid) = v["postmaster_pid"].as_u64()
        {
            pids.push(pid as u32);
        }
    }
    pids
}

#[test]
fn a_server_killed_mid_drill_ends_it_at_once_with_exit_4_and_the_transcript_kept() {
    // Regression: with its postmaster killed, a drill ran on to its time
    // limit printing "could not connect" errors.
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("wait.txt");
    std::fs::write(&script, "at 2s: status\nwait 4m\n").unwrap();
    let transcript = dir.path().join("died.json");
    let mut child = env
        .pgdrill()
        .current_dir(root())
        .args(["run", "lock-queue", "--time-scale", "10", "--script"])
        .arg(&script)
        .arg("--transcript")
        .arg(&transcript)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let stdout = BufReader::new(child.stdout.take().unwrap());
    let reader = std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let mut seen = Vec::new();
    while let Ok((_, line)) = rx.recv_timeout(Duration::from_secs(60)) {
        let started = line.contains("> status");
        seen.push(line);
        if started {
            break;
        }
    }
    assert!(
        seen.last().is_some_and(|l| l.contains("> status")),
        "the drill never started:\n{}",
        seen.join("\n")
    );
    let pids = postmasters(&env);
    assert_eq!(pids.len(), 1, "one instance expected: {pids:?}");
    let killed = Instant::now();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pids[0] as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();

    // The alert comes within a second of the kill (a tick is 100 ms; the
    // bound leaves room for a loaded machine).
    let mut alert = None;
    while let Ok((at, line)) = rx.recv_timeout(Duration::from_secs(20)) {
        let found = line.contains("stopped unexpectedly");
        seen.push(line);
        if found {
            alert = Some(at.duration_since(killed));
            break;
        }
    }
    let Some(after) = alert else {
        panic!("no alert after the kill:\n{}", seen.join("\n"));
    };
    eprintln!("the alert came {after:?} after the kill");
    assert!(after < Duration::from_secs(3), "alert after {after:?}");
    let rest: Vec<String> = rx.iter().map(|(_, l)| l).collect();
    let status = child.wait().unwrap();
    reader.join().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert!(
        killed.elapsed() < Duration::from_secs(15),
        "the drill ran on after its server died"
    );
    assert_eq!(status.code(), Some(4), "{stderr}\n{}", rest.join("\n"));
    assert!(stderr.contains("stopped unexpectedly"), "{stderr}");
    assert!(stderr.contains("the transcript was kept in"), "{stderr}");
    let no_connect_spam = rest
        .iter()
        .filter(|l| l.contains("could not connect"))
        .count();
    assert!(no_connect_spam <= 1, "{}", rest.join("\n"));

    // The transcript is there, says why the drill ended, and the score
    // says the run measures nothing.
    let saved = read_json(&transcript);
    let events = saved["events"].as_array().unwrap();
    assert_eq!(
        events.last().unwrap()["reason"],
        "server_died",
        "{:#}",
        events.last().unwrap()
    );
    let reasons = saved["score"]["reasons"].to_string();
    assert!(reasons.contains("stopped unexpectedly"), "{reasons}");
    assert_eq!(saved["score"]["passed"], false);
    // And nothing of the instance is left.
    assert!(
        env.registry_entries().is_empty(),
        "{:?}",
        env.registry_entries()
    );
}

/// POSIX shared memory segments of PostgreSQL's in /dev/shm.
fn shm_segments() -> std::collections::BTreeSet<String> {
    common::list_names(std::path::Path::new("/dev/shm"))
        .into_iter()
        .filter(|n| n.starts_with("PostgreSQL."))
        .collect()
}

/// What an interrupted template build may leave: staging directories in
/// the runtime directory, unfinished copies in the cache.
fn leftovers(env: &TestEnv) -> Vec<String> {
    let mut found: Vec<String> = common::list_names(&env.cli_runtime())
        .into_iter()
        .filter(|n| n.starts_with(".staging-") || n.starts_with(".trash-"))
        .collect();
    found.extend(
        common::list_names(&env.dirs.cache.join("templates"))
            .into_iter()
            .filter(|n| n.contains(".tmp-")),
    );
    found
}

/// Waits until nothing is left of the test's processes and shared memory
/// (a segment of another test's template build may come and go).
fn assert_clean(env: &TestEnv, shm_before: &std::collections::BTreeSet<String>, when: &str) {
    common::assert_no_process_within(&env.root().display().to_string(), Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let leaked: Vec<String> = shm_segments().difference(shm_before).cloned().collect();
        if leaked.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{when}: segments left in /dev/shm: {leaked:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `pgdrill up` on an empty template cache: its first start builds the
/// template.
fn first_up(env: &TestEnv) -> std::process::Child {
    env.pgdrill()
        .args(["up", "--json"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn interrupting_the_first_template_build_leaves_nothing_behind() {
    // Regression: Ctrl-C during the first run's initdb left `postgres
    // --single` running, its staging directory, /dev/shm segments of the
    // bootstrap, and half-copied templates in the cache forever.
    let shm_before = shm_segments();
    for delay_ms in [150, 400, 700, 1000, 1400] {
        let env = TestEnv::new().with_empty_cache();
        let mut child = first_up(&env);
        std::thread::sleep(Duration::from_millis(delay_ms));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let status = child.wait().unwrap();
        // 130 if interrupted in the build, 0 if `up` was already serving.
        assert!(
            matches!(status.code(), Some(130 | 0)),
            "after {delay_ms} ms: {status:?}"
        );
        let when = format!("SIGINT after {delay_ms} ms");
        assert_clean(&env, &shm_before, &when);
        assert_eq!(leftovers(&env), Vec::<String>::new(), "{when}");
    }
}

#[test]
fn a_template_build_killed_outright_is_swept_by_gc() {
    // SIGKILL gives pgdrill no chance to clean up: what its build leaves is
    // reported by `doctor` and removed by `instances gc`.
    let env = TestEnv::new().with_empty_cache();
    let mut child = first_up(&env);
    // Into the build: wait for the staging directory to appear.
    let deadline = Instant::now() + Duration::from_secs(20);
    while leftovers(&env).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    // The build's own processes run on for a moment in their group.
    common::assert_no_process_within(&env.root().display().to_string(), Duration::from_secs(30));
    let left = leftovers(&env);
    if !left.is_empty() {
        env.run(["doctor"]).stdout_has("from interrupted runs").go();
    }
    env.run(["instances", "gc"]).success().go();
    assert_eq!(leftovers(&env), Vec::<String>::new());
}

#[test]
fn a_drill_that_ends_while_a_job_holds_a_lock_ends_at_once() {
    // Regression: the timeline's revenue report sleeps in a transaction
    // holding a lock on orders, and the release's ALTER queues behind it.
    // Aborting their tasks dropped the connections, but a backend in
    // pg_sleep or in a lock queue notices only when it next talks to its
    // client, so the final RPO query queued behind the ALTER until the
    // report's three scenario minutes were over (90 s at --time-scale 2).
    let env = TestEnv::new();
    let script = env.root().join("stop.txt");
    std::fs::write(&script, "at 30s: status\n").unwrap();
    let transcript = env.root().join("t.json");
    let started = Instant::now();
    env.run(["run", "lock-queue", "--time-scale", "2"])
        .arg("--script")
        .arg(&script)
        .arg("--transcript")
        .arg(&transcript)
        .arg("--json")
        .code(1)
        .go();
    let took = started.elapsed();
    // 15 s of scenario at 2x, then the end: far from the report's 90 s.
    assert!(
        took < Duration::from_secs(40),
        "the drill took {took:?} to end"
    );
    let t = read_json(&transcript);
    assert!(
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "rpo"),
        "the RPO was measured at the end"
    );
}

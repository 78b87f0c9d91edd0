//! The Docker backend on what a learner with Docker and no PostgreSQL has:
//! drills need nothing of PostgreSQL on the host, the backend is named in
//! the transcript, and a run killed outright leaves a container that the
//! next `instances gc` removes (`auto`'s choice is a unit test in
//! `cli/mod.rs`: this machine has binaries). (Every scenario's scripts also run on
//! Docker: `tests/drills.rs`, module `docker`.)

mod common;

use std::time::Duration;

use common::{TestEnv, docker_image, root, start_up};

/// A directory with no programs in it, for a PATH that finds nothing.
fn empty_path() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

#[test]
fn a_drill_needs_nothing_of_postgresql_on_the_host() {
    // Snapshot, restore to a new instance, cutover and replay: every
    // client program runs in a container.
    let env = TestEnv::new();
    let nothing = empty_path();
    let dir = tempfile::tempdir().unwrap();
    let transcript = dir.path().join("t.json");
    let ran = env
        .run(["run", "contract-too-early", "--time-scale", "10", "--json"])
        .args(["--backend", "docker", "--image", &docker_image()])
        .arg("--script")
        .arg(root().join("scenarios/solutions/contract-too-early.reference.txt"))
        .arg("--transcript")
        .arg(&transcript)
        .env("PATH", nothing.path())
        .env("PGDRILL_PG_BIN", "/nonexistent")
        .go();
    let saved = common::read_json(&transcript);
    // On a failure, what each move answered says why (a restore that
    // could not start its container, say); the score alone does not.
    let answers: Vec<String> = common::moves(&saved)
        .iter()
        .map(|m| format!("{} -> {}", m["input"], m["result"]))
        .collect();
    assert_eq!(
        (ran.code, ran.json()["passed"].clone()),
        (Some(0), serde_json::json!(true)),
        "the reference failed on Docker; its moves:\n{}\nstderr:\n{}",
        answers.join("\n"),
        ran.stderr
    );
    assert_eq!(saved["backend"], "docker");
    assert_eq!(env.containers(), Vec::<String>::new());
}

#[test]
fn the_docker_backend_is_named_in_the_transcript_and_on_the_first_line() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("s.txt");
    std::fs::write(&script, "resolve\n").unwrap();
    let transcript = dir.path().join("t.json");
    env.run(["run", "mixed-version-rename", "--time-scale", "10"])
        .args(["--image", &docker_image(), "--script"])
        .arg(&script)
        .arg("--transcript")
        .arg(&transcript)
        .env("PGDRILL_BACKEND", "docker")
        .code(1)
        .stdout_has("backend docker: image pgdrill-postgres:")
        .go();
    assert_eq!(common::read_json(&transcript)["backend"], "docker");
    assert_eq!(env.containers(), Vec::<String>::new());
}

#[test]
fn a_killed_run_leaves_a_container_that_gc_removes() {
    let env = TestEnv::new();
    let image = docker_image();
    let up = start_up(&env, &["--backend", "docker", "--image", &image]);
    assert_eq!(up.ready["backend"], "docker");
    let containers = env.containers();
    assert_eq!(containers.len(), 1, "{containers:?}");
    up.signal(nix::sys::signal::Signal::SIGKILL);
    let _ = up.wait(Duration::from_secs(10));
    assert_eq!(env.containers(), containers, "SIGKILL leaves it running");
    env.run(["instances", "gc"])
        .success()
        .stdout_has("removed the container of pgd-")
        .go();
    assert_eq!(env.containers(), Vec::<String>::new());
    let left: Vec<_> = std::fs::read_dir(env.cli_runtime())
        .map(|d| d.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "its directory is removed too: {left:?}");
}

#[test]
fn an_interrupted_up_removes_its_container() {
    let env = TestEnv::new();
    let up = start_up(&env, &["--backend", "docker", "--image", &docker_image()]);
    assert_eq!(env.containers().len(), 1);
    up.signal(nix::sys::signal::Signal::SIGINT);
    assert!(up.wait(Duration::from_secs(30)).success());
    assert_eq!(env.containers(), Vec::<String>::new());
}

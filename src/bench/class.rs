//! `pgdrill bench class`: what a served class costs the machine. It starts
//! `pgdrill serve SCENARIO --class N` as a user would (this executable, a
//! child process), has every learner arrive at once and play the
//! scenario's reference solution over HTTP, and samples the server's
//! memory and CPU until the class ends. The peer, side by side in the same
//! run, is the PostgreSQL the class drives: every process under the server
//! (N postmasters and their backends). The ratio says what pgdrill's own
//! process adds to the servers a class needs anyway.
//!
//! Memory: the server's peak resident set (the kernel's `VmHWM`) against
//! the peak of the PostgreSQL processes' summed proportional set size
//! (PSS: shared buffers counted once, not once per backend). CPU: the
//! server's own user + system time against that of every process it
//! reaped (`getrusage(RUSAGE_CHILDREN)` across the run, less the server's
//! own), each divided by the run's wall time: cores used.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::io::AsyncBufReadExt;

use super::{Error, TempDir};
use crate::serve::client::Client;

/// The scenario a class plays: short, and its reference ends in `resolve`.
pub const SCENARIO: &str = "lock-queue";

/// How often the server's processes are sampled.
const SAMPLE_EVERY: Duration = Duration::from_millis(250);

/// `/proc` reports CPU time in USER_HZ ticks, 100 a second on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct ClassPlan {
    /// The pgdrill executable to serve with.
    pub exe: PathBuf,
    /// The scenario folder (`--scenarios`).
    pub scenarios: PathBuf,
    /// `--pg-bin`, if one was given.
    pub pg_bin: Option<PathBuf>,
    /// Learners in the class.
    pub learners: usize,
    /// `--time-scale` of every drill.
    pub time_scale: f64,
}

/// The result of `pgdrill bench class`.
#[derive(Debug, Clone, Serialize)]
pub struct ClassReport {
    /// The scenario played.
    pub scenario: String,
    /// Learners, each on a drill (and a PostgreSQL server) of their own.
    pub learners: usize,
    /// The drills' time scale.
    pub time_scale: f64,
    /// From the first learner's arrival to the server's exit.
    pub wall_ms: f64,
    /// Learners whose reference solution the server graded as passed.
    pub passed: usize,
    /// The pgdrill server's peak resident set, MiB.
    pub server_peak_rss_mib: f64,
    /// Its resident set when the last drill had ended, MiB.
    pub server_end_rss_mib: f64,
    /// The PostgreSQL processes' peak summed PSS, MiB.
    pub postgres_peak_pss_mib: f64,
    /// The server's CPU over the run, in cores.
    pub server_cores: f64,
    /// The PostgreSQL processes' CPU over the run, in cores.
    pub postgres_cores: f64,
    /// server_peak_rss / postgres_peak_pss.
    pub memory_ratio: f64,
    /// server_cores / postgres_cores.
    pub cpu_ratio: f64,
    /// Processes under the server at its busiest.
    pub peak_processes: usize,
}

/// One look at the server and what runs under it.
#[derive(Debug, Default, Clone, Copy)]
struct Sample {
    server_rss_kib: u64,
    server_hwm_kib: u64,
    server_cpu_ticks: u64,
    postgres_pss_kib: u64,
    processes: usize,
}

/// Runs a class and measures it; `note` hears progress.
pub async fn class(
    plan: &ClassPlan,
    note: &(dyn Fn(String) + Send + Sync),
) -> Result<ClassReport, Error> {
    let folder = TempDir::new(std::env::temp_dir(), "pgdrill-bench-class")?;
    let before = children_cpu_ticks();
    let key = crate::instance::random_token(32);
    let mut child = spawn_server(plan, folder.path(), &key)?;
    let pid = child
        .id()
        .ok_or_else(|| Error::Failed("the class server exited at once".into()))?;
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().expect("piped")).lines();
    let ready = tokio::time::timeout(Duration::from_secs(120), stdout.next_line())
        .await
        .map_err(|_| Error::Failed("the class server was not ready within 120 s".into()))?
        .map_err(|e| Error::Failed(format!("reading the class server: {e}")))?
        .ok_or_else(|| Error::Failed("the class server said nothing and exited".into()))?;
    let seats = Seats::parse(&ready)?;
    let script = reference(&plan.scenarios, SCENARIO)?;
    note(format!(
        "{} learners arrive at once, each playing {SCENARIO}'s reference ({} lines) at time scale {}",
        plan.learners,
        script.len(),
        plan.time_scale
    ));

    let done = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn(sample_until(pid, done.clone()));
    let started = Instant::now();
    let mut learners = tokio::task::JoinSet::new();
    for token in seats.learners {
        let (client, script) = (
            Client::new(&seats.url, &token).map_err(failed)?,
            script.clone(),
        );
        learners.spawn(async move { play(&client, &script).await });
    }
    while let Some(played) = learners.join_next().await {
        played.map_err(|e| Error::Failed(format!("a learner's task failed: {e}")))??;
    }
    note("every learner has resolved; waiting for the server to grade and exit".into());
    let mut rest = Vec::new();
    while let Ok(Some(line)) = stdout.next_line().await {
        rest.push(line);
    }
    let status = child
        .wait()
        .await
        .map_err(|e| Error::Failed(format!("waiting for the class server: {e}")))?;
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    let samples = sampler.await.unwrap_or_default();
    if !status.success() {
        return Err(Error::Failed(format!(
            "the class server ended with {status}: {}",
            rest.join("\n")
        )));
    }
    let passed = passed(
        &folder.path().join("transcripts"),
        &plan.scenarios,
        key.as_bytes(),
    );
    let reaped = children_cpu_ticks().saturating_sub(before);
    Ok(summarise(plan, &samples, reaped, wall, passed))
}

fn summarise(
    plan: &ClassPlan,
    samples: &[Sample],
    reaped_ticks: u64,
    wall: Duration,
    passed: usize,
) -> ClassReport {
    let mib = |kib: u64| kib as f64 / 1024.0;
    let last = samples.last().copied().unwrap_or_default();
    let peak_pss = samples
        .iter()
        .map(|s| s.postgres_pss_kib)
        .max()
        .unwrap_or(0);
    let secs = wall.as_secs_f64().max(1e-9);
    // Everything reaped includes the server itself; its own time is its
    // last sample's (at most one sampling interval short).
    let server_ticks = last.server_cpu_ticks;
    let postgres_ticks = reaped_ticks.saturating_sub(server_ticks);
    let server_cores = server_ticks as f64 / TICKS_PER_SECOND / secs;
    let postgres_cores = postgres_ticks as f64 / TICKS_PER_SECOND / secs;
    let peak_hwm = samples.iter().map(|s| s.server_hwm_kib).max().unwrap_or(0);
    ClassReport {
        scenario: SCENARIO.into(),
        learners: plan.learners,
        time_scale: plan.time_scale,
        wall_ms: secs * 1000.0,
        passed,
        server_peak_rss_mib: mib(peak_hwm),
        server_end_rss_mib: mib(last.server_rss_kib),
        postgres_peak_pss_mib: mib(peak_pss),
        server_cores,
        postgres_cores,
        memory_ratio: ratio(peak_hwm as f64, peak_pss as f64),
        cpu_ratio: ratio(server_cores, postgres_cores),
        peak_processes: samples.iter().map(|s| s.processes).max().unwrap_or(0),
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { 0.0 }
}

fn failed(e: impl std::fmt::Display) -> Error {
    Error::Failed(e.to_string())
}

fn spawn_server(
    plan: &ClassPlan,
    folder: &Path,
    key: &str,
) -> Result<tokio::process::Child, Error> {
    let mut serve = tokio::process::Command::new(&plan.exe);
    serve
        .args(["serve", SCENARIO, "--class"])
        .arg(plan.learners.to_string())
        .args(["--json", "--backend", "local", "--time-scale"])
        .arg(plan.time_scale.to_string())
        .arg("--class-dir")
        .arg(folder.join("transcripts"))
        .arg("--scenarios")
        .arg(&plan.scenarios)
        .env("PGDRILL_SIGNING_KEY", key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(bin) = &plan.pg_bin {
        serve.arg("--pg-bin").arg(bin);
    }
    serve
        .spawn()
        .map_err(|e| Error::Failed(format!("cannot start {}: {e}", plan.exe.display())))
}

/// The class's address and the learners' tokens, from `serve --json`.
struct Seats {
    url: String,
    learners: Vec<String>,
}

impl Seats {
    fn parse(line: &str) -> Result<Seats, Error> {
        let ready: serde_json::Value = serde_json::from_str(line).map_err(|e| {
            Error::Failed(format!(
                "the class server's first line is not JSON ({e}): {line}"
            ))
        })?;
        let url = ready["url"].as_str().unwrap_or_default().to_string();
        let learners: Vec<String> = ready["participants"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["role"] == "learner")
            .filter_map(|p| p["token"].as_str().map(String::from))
            .collect();
        if url.is_empty() || learners.is_empty() {
            return Err(Error::Failed(format!(
                "the class server named no url or learners: {line}"
            )));
        }
        Ok(Seats { url, learners })
    }
}

/// The moves of the scenario's reference solution, `at T:` lines preceded by
/// a `wait T` (a learner arrives at scenario time zero).
fn reference(scenarios: &Path, id: &str) -> Result<Vec<String>, Error> {
    let path = scenarios
        .join("solutions")
        .join(format!("{id}.reference.txt"));
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::Failed(format!("cannot read {}: {e}", path.display())))?;
    let lines = crate::action::parse_script(&text).map_err(|problems| {
        Error::Failed(format!("{} does not parse: {problems:?}", path.display()))
    })?;
    let mut moves = Vec::new();
    for line in lines {
        if let Some(at) = line.at {
            moves.push(format!("wait {}s", at.as_secs().max(1)));
        }
        moves.push(line.text);
    }
    Ok(moves)
}

/// One learner: every move in order; the drill ends with the last.
async fn play(client: &Client, script: &[String]) -> Result<(), Error> {
    for line in script {
        client
            .send(line)
            .await
            .map_err(|e| Error::Failed(format!("a learner's `{line}`: {e}")))?;
    }
    Ok(())
}

/// How many of the class's transcripts grade as a clean pass with the
/// server's key (signed, sealed, scored again from the scenario).
fn passed(folder: &Path, scenarios: &Path, key: &[u8]) -> usize {
    let (files, _) = crate::grade::collect(&[folder.to_path_buf()]);
    crate::grade::grade_all(&files, &crate::grade::Scenarios::new(scenarios), Some(key))
        .iter()
        .filter(|row| matches!(&row.outcome, crate::grade::Outcome::Graded(g) if g.clean_pass()))
        .count()
}

async fn sample_until(pid: u32, done: Arc<AtomicBool>) -> Vec<Sample> {
    let mut samples = Vec::new();
    while !done.load(Ordering::Relaxed) {
        let look = tokio::task::spawn_blocking(move || sample(pid)).await;
        match look {
            Ok(Some(s)) => samples.push(s),
            // Gone: the server has exited.
            _ => break,
        }
        tokio::time::sleep(SAMPLE_EVERY).await;
    }
    samples
}

fn sample(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    let (server_rss_kib, server_hwm_kib) = (field("VmRSS:"), field("VmHWM:"));
    if server_rss_kib == 0 {
        return None;
    }
    let below = descendants(pid);
    let postgres_pss_kib = below.iter().map(|p| pss_kib(*p)).sum();
    Some(Sample {
        server_rss_kib,
        server_hwm_kib,
        server_cpu_ticks: own_cpu_ticks(pid)?,
        postgres_pss_kib,
        processes: below.len(),
    })
}

/// Every process whose ancestry leads to `root` (not `root` itself).
fn descendants(root: u32) -> Vec<u32> {
    let Ok(read) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: HashMap<u32, u32> = read
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat_fields(pid)?.get(1)?.parse().ok()?)))
        .collect();
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while let Some(parent) = frontier.pop() {
        for (&pid, &ppid) in &parents {
            if ppid == parent && pid != root {
                found.push(pid);
                frontier.push(pid);
            }
        }
    }
    found
}

/// The fields of `/proc/PID/stat` after the command name: state is 0,
/// ppid 1, utime 11, stime 12.
fn stat_fields(pid: u32) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.get(stat.rfind(')')? + 2..)?;
    Some(after.split_whitespace().map(String::from).collect())
}

fn own_cpu_ticks(pid: u32) -> Option<u64> {
    let fields = stat_fields(pid)?;
    let tick = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok());
    Some(tick(11)? + tick(12)?)
}

fn pss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
        .ok()
        .and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("Pss:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// User + system time of every child this process has reaped, in ticks.
fn children_cpu_ticks() -> u64 {
    let Ok(usage) = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
    else {
        return 0;
    };
    let micros = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    (micros(usage.user_time()) + micros(usage.system_time()))
        / (1_000_000 / TICKS_PER_SECOND as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seats_are_the_learners_tokens_not_the_instructors() {
        let line = r#"{"url":"http://127.0.0.1:9/","participants":[
            {"name":"instructor","role":"instructor","token":"I"},
            {"name":"learner-01","role":"learner","token":"A"},
            {"name":"learner-02","role":"learner","token":"B"}]}"#
            .replace('\n', "");
        let seats = Seats::parse(&line).unwrap();
        assert_eq!(seats.url, "http://127.0.0.1:9/");
        assert_eq!(seats.learners, ["A", "B"]);
        assert!(Seats::parse(r#"{"url":"x","participants":[]}"#).is_err());
        assert!(Seats::parse("not json").is_err());
    }

    #[test]
    fn a_timed_line_waits_for_its_moment_first() {
        let dir = TempDir::new(std::env::temp_dir(), "pgdrill-class-ref").unwrap();
        std::fs::create_dir(dir.path().join("solutions")).unwrap();
        std::fs::write(
            dir.path().join("solutions/x.reference.txt"),
            "# a comment\nat 30s: status\nlocks  # why\nresolve\n",
        )
        .unwrap();
        assert_eq!(
            reference(dir.path(), "x").unwrap(),
            ["wait 30s", "status", "locks", "resolve"]
        );
        assert!(reference(dir.path(), "missing").is_err());
    }

    #[test]
    fn cpu_is_split_between_the_server_and_what_it_reaped() {
        let plan = ClassPlan {
            exe: PathBuf::new(),
            scenarios: PathBuf::new(),
            pg_bin: None,
            learners: 2,
            time_scale: 10.0,
        };
        let samples = [
            Sample {
                server_rss_kib: 10240,
                server_hwm_kib: 10240,
                server_cpu_ticks: 50,
                postgres_pss_kib: 40960,
                processes: 8,
            },
            Sample {
                server_rss_kib: 8192,
                server_hwm_kib: 20480,
                server_cpu_ticks: 100,
                postgres_pss_kib: 20480,
                processes: 4,
            },
        ];
        // 10 s of wall time; 500 ticks reaped in all, 100 of them the server's.
        let report = summarise(&plan, &samples, 500, Duration::from_secs(10), 2);
        assert_eq!(report.server_peak_rss_mib, 20.0);
        assert_eq!(report.server_end_rss_mib, 8.0);
        assert_eq!(report.postgres_peak_pss_mib, 40.0);
        assert!((report.server_cores - 0.1).abs() < 1e-9);
        assert!((report.postgres_cores - 0.4).abs() < 1e-9);
        assert!((report.memory_ratio - 0.5).abs() < 1e-9);
        assert!((report.cpu_ratio - 0.25).abs() < 1e-9);
        assert_eq!(report.peak_processes, 8);
    }
}

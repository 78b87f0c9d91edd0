//! PostgreSQL server processes: start, readiness, and stopping without leaks.
//!
//! The postmaster is launched directly (not through `pg_ctl`, which polls
//! every 100 ms) in a process group of its own, and we poll its
//! `postmaster.pid` for `ready` while checking that it has not died.
//!
//! Stopping escalates: fast shutdown (SIGINT), then immediate (SIGQUIT), then
//! SIGKILL to the whole process group. Whoever owns a [`Postmaster`] must call
//! [`Postmaster::stop`] or [`Postmaster::stop_blocking`]; the instance's
//! `Drop` does the latter, so no path leaves a server running.
//!
//! Orphans (servers whose pgdrill died) are not our children: they are found
//! by pid, and only touched after `/proc/PID/cmdline` proves the pid still
//! belongs to a postmaster of the expected data directory.

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;

use super::Error;

/// How long each stop stage may take before the next, harsher one.
#[derive(Debug, Clone, Copy)]
pub struct StopPolicy {
    /// Grace after SIGINT (fast shutdown: roll back, checkpoint, exit).
    pub fast: Duration,
    /// Grace after SIGQUIT (immediate shutdown: exit without checkpoint).
    pub immediate: Duration,
}

impl StopPolicy {
    /// The orderly path of `Instance::shutdown`.
    pub const ORDERLY: StopPolicy = StopPolicy {
        fast: Duration::from_secs(5),
        immediate: Duration::from_secs(3),
    };
    /// The `Drop` and orphan path: the data is being thrown away, so skip the
    /// checkpoint (SIGQUIT stops a server in about 13 ms).
    pub const ABANDON: StopPolicy = StopPolicy {
        fast: Duration::ZERO,
        immediate: Duration::from_secs(3),
    };
}

/// A running postmaster that we started.
#[derive(Debug)]
pub struct Postmaster {
    child: Child,
    data_dir: PathBuf,
    log: PathBuf,
}

impl Postmaster {
    /// Spawns an already prepared `postgres` command. `log` is where its
    /// output goes (read back when it fails).
    pub fn spawn(
        mut cmd: std::process::Command,
        data_dir: PathBuf,
        log: PathBuf,
    ) -> Result<Postmaster, Error> {
        let out = std::fs::File::create(&log).map_err(Error::io("create", &log))?;
        let err = out.try_clone().map_err(Error::io("open", &log))?;
        cmd.stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err);
        let child = cmd
            .spawn()
            .map_err(Error::io("start", format!("{cmd:?}")))?;
        Ok(Postmaster {
            child,
            data_dir,
            log,
        })
    }

    /// The server's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits until the server accepts connections, it exits, or `timeout`.
    pub async fn wait_ready(&mut self, timeout: Duration) -> Result<(), Error> {
        let start = Instant::now();
        let pidfile = self.data_dir.join("postmaster.pid");
        let mut delay = Duration::from_millis(1);
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(Error::io("wait for", &self.log))?
            {
                return Err(Error::StartFailed {
                    status: status.to_string(),
                    log_tail: log_tail(&self.log),
                });
            }
            if read_pidfile_status(&pidfile).as_deref() == Some("ready") {
                return Ok(());
            }
            if start.elapsed() > timeout {
                return Err(Error::StartTimeout {
                    waited: timeout,
                    log_tail: log_tail(&self.log),
                });
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_millis(10));
        }
    }

    /// How the server ended (`killed by SIGKILL`), or `None` while it runs.
    pub fn exit(&mut self) -> Option<String> {
        use std::os::unix::process::ExitStatusExt;
        match self.child.try_wait() {
            Ok(None) => None,
            Ok(Some(status)) => Some(match (status.code(), status.signal()) {
                (Some(code), _) => format!("exited with status {code}"),
                (None, Some(n)) => match Signal::try_from(n) {
                    Ok(signal) => format!("killed by {signal}"),
                    Err(_) => format!("killed by signal {n}"),
                },
                (None, None) => format!("ended ({status})"),
            }),
            Err(e) => Some(format!("could not be waited for: {e}")),
        }
    }

    /// True while the server runs.
    pub fn is_running(&mut self) -> bool {
        self.exit().is_none()
    }

    /// The last lines the server logged.
    pub fn log_tail(&self) -> String {
        log_tail(&self.log)
    }

    /// Stops the server by escalating signals, without blocking the runtime.
    pub async fn stop(&mut self, policy: StopPolicy) {
        for (signal, grace) in [
            (Signal::SIGINT, policy.fast),
            (Signal::SIGQUIT, policy.immediate),
        ] {
            if grace.is_zero() {
                continue;
            }
            if self.signal_and_wait_async(signal, grace).await {
                return;
            }
        }
        self.kill_group();
    }

    /// Blocking twin of [`Postmaster::stop`], for `Drop` and signal paths.
    pub fn stop_blocking(&mut self, policy: StopPolicy) {
        for (signal, grace) in [
            (Signal::SIGINT, policy.fast),
            (Signal::SIGQUIT, policy.immediate),
        ] {
            if grace.is_zero() {
                continue;
            }
            if !self.send(signal) {
                return;
            }
            let deadline = Instant::now() + grace;
            while Instant::now() < deadline {
                if !self.is_running() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        self.kill_group();
    }

    async fn signal_and_wait_async(&mut self, signal: Signal, grace: Duration) -> bool {
        if !self.send(signal) {
            return true;
        }
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if !self.is_running() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        false
    }

    /// Sends `signal`; false when the server has already exited (and is reaped).
    fn send(&mut self, signal: Signal) -> bool {
        if !self.is_running() {
            return false;
        }
        let _ = kill(Pid::from_raw(self.child.id() as i32), signal);
        true
    }

    fn kill_group(&mut self) {
        kill_tree(self.child.id());
        let _ = self.child.wait();
    }
}

impl Drop for Postmaster {
    fn drop(&mut self) {
        if self.is_running() {
            self.stop_blocking(StopPolicy::ABANDON);
        }
    }
}

/// Runs a helper program (initdb, `postgres --single`, pg_ctl) as `run_as`
/// to completion, feeding it `input`. It is killed if the future is dropped:
/// Ctrl-C during a template build must not leave `initdb` running.
pub async fn run_tool(
    mut cmd: tokio::process::Command,
    run_as: &super::RunAs,
    input: Option<String>,
) -> Result<(), Error> {
    use tokio::io::AsyncWriteExt;
    run_as.prepare_tokio(&mut cmd);
    // Its own process group: Ctrl-C at the terminal reaches only pgdrill,
    // which then stops the whole group (initdb runs `postgres --boot` and
    // `--single` as children; killing initdb alone leaves them running).
    cmd.process_group(0)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        // The server user cannot enter our working directory when we are root.
        .current_dir("/");
    let shown = format!("{:?}", cmd.as_std()).replace('"', "");
    let mut child = cmd.spawn().map_err(Error::io("run", shown.clone()))?;
    let mut group = ToolGroup(child.id());
    let mut stdin = child.stdin.take().expect("stdin is piped");
    if let Some(input) = input {
        stdin
            .write_all(input.as_bytes())
            .await
            .map_err(Error::io("write to", shown.clone()))?;
    }
    drop(stdin);
    let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .map_err(|_| Error::Command {
            command: shown.clone(),
            status: "timed out after 120 s".into(),
            output: String::new(),
        })?
        .map_err(Error::io("run", shown.clone()));
    // Finished on its own: nothing of the group to stop.
    group.0 = None;
    let out = out?;
    if out.status.success() {
        return Ok(());
    }
    let mut output = String::from_utf8_lossy(&out.stdout).into_owned();
    output.push_str(&String::from_utf8_lossy(&out.stderr));
    Err(Error::Command {
        command: shown,
        status: out.status.to_string(),
        output,
    })
}

/// The process group of a tool that is running; dropped before the tool
/// has finished (the command was cancelled), it stops the whole group:
/// SIGTERM to the tool first, so that it and its children end cleanly (a
/// `postgres --boot` or `--single` removes its shared memory segments from
/// /dev/shm as it exits), then SIGKILL for what is left of the group after
/// a grace period. Disarmed (`None`) once the tool has
/// exited by itself.
struct ToolGroup(Option<u32>);

impl Drop for ToolGroup {
    fn drop(&mut self) {
        let Some(leader) = self.0.filter(|g| group_runs(*g)) else {
            return;
        };
        // The leader only: initdb, told to stop, finishes its step and
        // removes its data directory, and the `postgres --boot` it feeds
        // ends at the end of its input, removing its shared memory. A
        // SIGTERM to that child itself would end it on the spot (bootstrap
        // mode keeps the default action) and leak its segments.
        let _ = kill(Pid::from_raw(leader as i32), Signal::SIGTERM);
        let group = Pid::from_raw(leader as i32);
        let deadline = Instant::now() + TOOL_GRACE;
        while group_runs(leader) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// How long a cancelled tool's processes get to exit on SIGTERM.
const TOOL_GRACE: Duration = Duration::from_secs(3);

/// SIGKILLs a postmaster and its children. Children call `setsid()`, so they
/// are not in the postmaster's process group: collect them by parent pid
/// first (once the postmaster dies they are re-parented and lost to view).
fn kill_tree(pid: u32) {
    let children = children_of(pid);
    let nix_pid = Pid::from_raw(pid as i32);
    // Our postmasters lead their own group (process_group(0)); anything else
    // in that group goes too.
    if nix::unistd::getpgid(Some(nix_pid)).ok() == Some(nix_pid) {
        let _ = killpg(nix_pid, Signal::SIGKILL);
    } else {
        let _ = kill(nix_pid, Signal::SIGKILL);
    }
    for child in children {
        let _ = kill(Pid::from_raw(child as i32), Signal::SIGKILL);
    }
}

/// pids whose parent is `pid` (Linux; empty elsewhere).
fn children_of(pid: u32) -> Vec<u32> {
    processes_where(|stat| stat.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(pid))
}

/// The pids whose `/proc/PID/stat` fields after the command name (state,
/// ppid, pgrp, ...) satisfy `keep`.
fn processes_where(keep: impl Fn(&[&str]) -> bool) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|candidate| {
            std::fs::read_to_string(format!("/proc/{candidate}/stat"))
                .ok()
                .is_some_and(|stat| {
                    let after = stat.rfind(')').map(|i| &stat[i + 2..]).unwrap_or_default();
                    keep(&after.split_whitespace().collect::<Vec<_>>())
                })
        })
        .collect()
}

/// Whether a process group has a member that still runs (zombies waiting
/// to be reaped do not count).
fn group_runs(group: u32) -> bool {
    if !Path::new("/proc/self/stat").exists() {
        return !matches!(
            killpg(Pid::from_raw(group as i32), None),
            Err(nix::errno::Errno::ESRCH)
        );
    }
    !processes_where(|stat| {
        stat.first() != Some(&"Z") && stat.get(2).and_then(|g| g.parse::<u32>().ok()) == Some(group)
    })
    .is_empty()
}

/// Status word of a `postmaster.pid` file (`starting`, `ready`, `stopping`).
pub fn read_pidfile_status(pidfile: &Path) -> Option<String> {
    let text = std::fs::read_to_string(pidfile).ok()?;
    text.lines()
        .nth(7)
        .map(|l| l.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The pid recorded in a data directory's `postmaster.pid`.
pub fn read_pidfile_pid(data_dir: &Path) -> Option<u32> {
    let text = std::fs::read_to_string(data_dir.join("postmaster.pid")).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// The last 20 lines of a log file, indented for an error message.
pub fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = &lines[lines.len().saturating_sub(20)..];
    if tail.is_empty() {
        return format!("    (nothing in {})", log.display());
    }
    tail.iter()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Start time of a process in clock ticks since boot (field 22 of
/// `/proc/PID/stat`), or `None` if it does not exist or is a zombie. Together
/// with the pid this identifies a process even after pid reuse.
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces.
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// True if the process `pid` that started at `started` (if known) is alive.
pub fn is_alive(pid: u32, started: Option<u64>) -> bool {
    if Path::new("/proc/self/stat").exists() {
        match (start_time(pid), started) {
            (None, _) => false,
            (Some(now), Some(then)) => now == then,
            (Some(_), None) => true,
        }
    } else {
        // Without /proc: signal 0 tells existence (EPERM means it exists).
        !matches!(
            kill(Pid::from_raw(pid as i32), None),
            Err(nix::errno::Errno::ESRCH)
        )
    }
}

/// True if `pid` is a running postmaster of `data_dir`.
pub fn is_postmaster_of(pid: u32, data_dir: &Path) -> bool {
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            let dir = data_dir.as_os_str().as_encoded_bytes();
            start_time(pid).is_some()
                && args.first().is_some_and(|a| a.ends_with(b"postgres"))
                && args.contains(&dir)
        }
        Err(_) => false,
    }
}

/// Stops a server that is not our child (an orphan), waiting until it is gone.
/// Returns false if it could not be stopped.
pub fn stop_foreign(pid: u32, data_dir: &Path) -> bool {
    if !is_postmaster_of(pid, data_dir) {
        return true;
    }
    let nix_pid = Pid::from_raw(pid as i32);
    let _ = kill(nix_pid, Signal::SIGQUIT);
    if wait_gone(pid, data_dir, Duration::from_secs(3)) {
        return true;
    }
    kill_tree(pid);
    wait_gone(pid, data_dir, Duration::from_secs(3))
}

fn wait_gone(pid: u32, data_dir: &Path, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if !is_postmaster_of(pid, data_dir) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_is_alive_with_matching_start_time() {
        let me = std::process::id();
        let started = start_time(me);
        assert!(started.is_some());
        assert!(is_alive(me, started));
        assert!(
            !is_alive(me, started.map(|s| s + 1)),
            "a reused pid must not count as alive"
        );
    }

    #[test]
    fn reaped_child_is_dead() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        assert!(!is_alive(pid, None));
    }

    #[test]
    fn children_are_found_by_parent_pid() {
        let mut child = std::process::Command::new("sleep")
            .arg("5")
            .spawn()
            .unwrap();
        assert!(children_of(std::process::id()).contains(&child.id()));
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn pidfile_status_is_the_eighth_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("postmaster.pid");
        std::fs::write(
            &file,
            "123\n/data\n1700000000\n5432\n/tmp\n127.0.0.1\n  1  2\nready   \n",
        )
        .unwrap();
        assert_eq!(read_pidfile_status(&file).as_deref(), Some("ready"));
        assert_eq!(read_pidfile_pid(dir.path()), Some(123));
    }

    #[test]
    fn a_non_postgres_process_is_never_taken_for_a_postmaster() {
        assert!(!is_postmaster_of(
            std::process::id(),
            Path::new("/nonexistent")
        ));
    }
}

//! `pgdrill bench fleet`: the fleet at its maximum rate against `pgbench`
//! with the same statements and the same number of connections, on the same
//! seeded instance, alternating:
//! - **lookup**: `GET /profile`, one row by primary key;
//! - **mix**: 80% that lookup, 20% `POST /signup` (an INSERT ... RETURNING
//!   the write ledger records).
//!
//! The fleet runs with its metrics windows and its write ledger on, as in a
//! drill: every request becomes a sample folded into a window, every
//! acknowledged write a ledger entry. pgbench runs `-M prepared`, as the
//! pods' sqlx sessions prepare their statements. The fleet's own CPU time
//! (this process's, over the run) is reported per 1,000 requests/s: it
//! shares the cores with PostgreSQL.

use std::time::{Duration, Instant};

use serde::Serialize;

use super::volume::seeded_aside;
use super::{Error, TempDir};
use crate::instance::{Instance, LocalBackend};
use crate::scenario::Scenario;
use crate::workload::{Flags, Fleet, Outcome, WindowBuilder};

/// Target: the fleet's successful requests/s at least this share of
/// pgbench's transactions/s.
pub const RATIO_TARGET: f64 = 0.7;

/// The rates the fleet is asked for, as shares of pgbench's rate in the
/// same run.
const SHARES: [f64; 4] = [0.5, 0.75, 1.0, 1.5];

/// One workload, both sides.
#[derive(Debug, Clone, Serialize)]
pub struct Workload {
    /// `lookup` or `mix`.
    pub name: String,
    /// The fleet's successful requests per second, each run.
    pub fleet_rps: Vec<f64>,
    /// Its failed requests per second (shed as `overload`, timed out...).
    pub fleet_failed_rps: Vec<f64>,
    /// pgbench's transactions per second, each run.
    pub pgbench_tps: Vec<f64>,
    /// Medians: fleet / pgbench.
    pub ratio: f64,
    /// This process's CPU (user + system) per 1,000 successful requests/s,
    /// in cores.
    pub fleet_cores_per_krps: f64,
    /// Acknowledged writes the ledger took in (mix), last run.
    pub ledger_writes: u64,
}

/// The result of `pgdrill bench fleet`.
#[derive(Debug, Clone, Serialize)]
pub struct FleetReport {
    /// PostgreSQL version measured.
    pub version: String,
    /// Rows of `users`.
    pub users: u64,
    /// Connections on each side (pods × pool size; pgbench `-c`).
    pub connections: u32,
    /// Seconds each run lasts.
    pub seconds: u64,
    /// The single-row lookup and the 80/20 mix.
    pub workloads: Vec<Workload>,
}

/// What the benchmark needs beyond the scenario.
pub struct Plan {
    /// pgbench (found beside the server binaries, else on PATH).
    pub pgbench: std::path::PathBuf,
    /// Pods (one connection each) and pgbench clients.
    pub connections: u32,
    /// Each run's length.
    pub seconds: u64,
    /// Runs of each side per workload.
    pub runs: u32,
}

/// Runs the fleet benchmark on `scenario` (mixed-version-rename's v1, rows
/// already set).
pub async fn fleet(
    backend: &LocalBackend,
    scenario: &Scenario,
    plan: &Plan,
    note: &(dyn Fn(String) + Send + Sync),
) -> Result<FleetReport, Error> {
    note("preparing the seeded instance (not timed)".into());
    let (_cache, backend, live) = seeded_aside(backend, scenario).await?;
    let users = scenario.fixture.rows.get("users").copied().unwrap_or(0);
    let work = TempDir::new(std::env::temp_dir(), "pgdrill-bench-fleet")?;
    let mut workloads = Vec::new();
    for (name, lookup_only) in [("lookup", true), ("mix", false)] {
        let w = workload(&live, scenario, plan, work.path(), name, lookup_only, note).await;
        match w {
            Ok(w) => workloads.push(w),
            Err(e) => {
                live.shutdown().await;
                return Err(e);
            }
        }
    }
    live.shutdown().await;
    Ok(FleetReport {
        version: backend.binaries().version.clone(),
        users,
        connections: plan.connections,
        seconds: plan.seconds,
        workloads,
    })
}

async fn workload(
    live: &Instance,
    scenario: &Scenario,
    plan: &Plan,
    work: &std::path::Path,
    name: &str,
    lookup_only: bool,
    note: &(dyn Fn(String) + Send + Sync),
) -> Result<Workload, Error> {
    let mut s = scenario.clone();
    s.fleet.pods = plan.connections;
    s.fleet.pool_size = 1;
    s.fleet.rps_per_pod = crate::scenario::MAX_RPS_PER_POD;
    s.fleet.version = "v1".into();
    if lookup_only {
        for v in &mut s.app.versions {
            v.endpoints.retain(|e| !e.write);
        }
    }
    let users = s.fixture.rows.get("users").copied().unwrap_or(1);
    let script = write_scripts(work, users, lookup_only)?;
    let (mut fleet_rps, mut failed_rps, mut tps) = (Vec::new(), Vec::new(), Vec::new());
    let (mut cpu, mut served, mut writes) = (0.0, 0.0, 0);
    for i in 1..=plan.runs {
        let p = run_pgbench(live, plan, &script).await?;
        reset(live, users).await?;
        // The fleet's maximum: the most it serves when asked for a share
        // of what pgbench just did, from under to over the database's pace
        // (past it, requests queue and are shed).
        let mut best: Option<FleetRun> = None;
        for share in SHARES {
            let total = p * share;
            s.fleet.rps_per_pod = ((total / f64::from(plan.connections)) as u32)
                .clamp(1, crate::scenario::MAX_RPS_PER_POD);
            let f = run_fleet(live, &s, plan.seconds).await?;
            reset(live, users).await?;
            let mostly = f
                .top_failure
                .as_deref()
                .map(|c| format!(", mostly {c}"))
                .unwrap_or_default();
            note(format!(
                "{name} {i}/{}: fleet asked {:.0}/s: {:.0} ok/s ({:.0} failed/s{mostly}, {:.2} cores)",
                plan.runs, total, f.ok_rps, f.failed_rps, f.cores
            ));
            if best.as_ref().is_none_or(|b| f.ok_rps > b.ok_rps) {
                best = Some(f);
            }
        }
        let f = best.expect("at least one share");
        note(format!(
            "{name} {i}/{}: fleet at most {:.0} ok/s   pgbench {:.0} tps",
            plan.runs, f.ok_rps, p
        ));
        cpu += f.cores;
        served += f.ok_rps;
        writes = f.writes;
        fleet_rps.push(f.ok_rps);
        failed_rps.push(f.failed_rps);
        tps.push(p);
    }
    Ok(Workload {
        name: name.into(),
        ratio: median(&fleet_rps) / median(&tps),
        fleet_cores_per_krps: if served > 0.0 {
            cpu / (served / 1000.0)
        } else {
            0.0
        },
        fleet_rps,
        fleet_failed_rps: failed_rps,
        pgbench_tps: tps,
        ledger_writes: writes,
    })
}

struct FleetRun {
    ok_rps: f64,
    failed_rps: f64,
    /// This process's CPU over the run, in cores.
    cores: f64,
    writes: u64,
    /// The commonest failure, by code.
    top_failure: Option<String>,
}

/// The fleet at its maximum rate for `seconds`, its samples folded into
/// one-second windows and its acknowledged writes kept, as the drill does.
async fn run_fleet(live: &Instance, s: &Scenario, seconds: u64) -> Result<FleetRun, Error> {
    let (tx, mut samples) = tokio::sync::mpsc::unbounded_channel();
    let flags = Flags::new(s.flags.iter().map(|f| (f.name.clone(), f.default)));
    let fleet = Fleet::start(s, &live.url(), 7, flags, tx)
        .await
        .map_err(|e| Error::Failed(e.to_string()))?;
    // Let it reach its pace before measuring.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while samples.try_recv().is_ok() {}
    let mut windows = WindowBuilder::new(s.slo.p99.0);
    let mut ledger = crate::drill::Ledger::default();
    let users: crate::drill::LedgerTarget = std::sync::Arc::new(("users".into(), "id".into()));
    let (cpu0, start) = (cpu_seconds(), Instant::now());
    let (mut ok, mut failed, mut next_window) = (0u64, 0u64, 1000u64);
    let mut codes = std::collections::BTreeMap::new();
    let end = start + Duration::from_secs(seconds);
    while let Ok(Some(sample)) = tokio::time::timeout_at(end.into(), samples.recv()).await {
        let now = start.elapsed().as_millis() as u64;
        windows.record(&sample, now);
        if now >= next_window {
            let _ = windows.finish(next_window - 1000, now);
            next_window += 1000;
        }
        match sample.outcome {
            Outcome::Ok { written, .. } => {
                ok += 1;
                if let Some(k) = written {
                    ledger.push(now, sample.db, &users, k);
                }
            }
            Outcome::Failed(code) => {
                failed += 1;
                *codes.entry(code).or_insert(0u64) += 1;
            }
        }
    }
    let (cpu, wall) = (cpu_seconds() - cpu0, start.elapsed().as_secs_f64());
    fleet.shutdown().await;
    Ok(FleetRun {
        ok_rps: ok as f64 / wall,
        failed_rps: failed as f64 / wall,
        cores: cpu / wall,
        writes: ledger.acks().count() as u64,
        top_failure: codes.into_iter().max_by_key(|(_, n)| *n).map(|(c, _)| c),
    })
}

/// Deletes the rows a run inserted and vacuums (not timed), so every run
/// starts from the same table and a fleet's signups (`signup-POD-N`,
/// counted from 1 by each new fleet) do not collide with an earlier run's.
async fn reset(live: &Instance, users: u64) -> Result<(), Error> {
    use sqlx::{Connection, Executor};
    let failed = |e: sqlx::Error| Error::Failed(format!("resetting users between runs: {e}"));
    let mut conn = sqlx::PgConnection::connect(&live.url())
        .await
        .map_err(failed)?;
    conn.execute(sqlx::AssertSqlSafe(format!(
        "DELETE FROM users WHERE id > {users}"
    )))
    .await
    .map_err(failed)?;
    conn.execute("VACUUM users").await.map_err(failed)?;
    let _ = conn.close().await;
    Ok(())
}

/// pgbench's transactions per second over the same statements.
async fn run_pgbench(live: &Instance, plan: &Plan, script: &str) -> Result<f64, Error> {
    let (url, password) = crate::instance::split_password(&live.url());
    let mut cmd = tokio::process::Command::new(&plan.pgbench);
    cmd.args(["-n", "-M", "prepared", "-j", "2"])
        .arg("-c")
        .arg(plan.connections.to_string())
        .arg("-T")
        .arg(plan.seconds.to_string())
        .args(script.split_whitespace())
        .arg(url)
        .env_remove("PGPASSWORD")
        .kill_on_drop(true);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd
        .output()
        .await
        .map_err(|e| Error::Failed(format!("{}: {e}", plan.pgbench.display())))?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(Error::Failed(format!(
            "pgbench failed: {}{}",
            text.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    parse_tps(&text).ok_or_else(|| Error::Failed(format!("no tps in pgbench's output:\n{text}")))
}

/// The `tps = N (without initial connection time)` line.
fn parse_tps(text: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with("tps = ") && l.contains("without initial connection time"))?
        .strip_prefix("tps = ")?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// pgbench scripts with the pods' statements; returns pgbench's `-f`
/// arguments (`FILE@WEIGHT`).
fn write_scripts(dir: &std::path::Path, users: u64, lookup_only: bool) -> Result<String, Error> {
    let write = |name: &str, text: String| -> Result<String, Error> {
        let path = dir.join(name);
        std::fs::write(&path, text).map_err(|source| Error::Write {
            path: path.clone(),
            source,
        })?;
        Ok(path.display().to_string())
    };
    let lookup = write(
        "lookup.sql",
        format!("\\set id random(1, {users})\nSELECT id, name, email FROM users WHERE id = :id;\n"),
    )?;
    if lookup_only {
        return Ok(format!("-f {lookup}"));
    }
    let signup = write(
        "signup.sql",
        "\\set n random(1, 1000000000000000000)\nINSERT INTO users (name, email) VALUES ('bench ' || :n, 'bench' || :n || '@example.com') RETURNING id;\n".into(),
    )?;
    Ok(format!("-f {lookup}@8 -f {signup}@2"))
}

/// This process's user + system CPU seconds so far.
fn cpu_seconds() -> f64 {
    let usage = nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_SELF);
    usage.map_or(0.0, |u| {
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    })
}

fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => 0.0,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_s_rate_is_read_from_its_summary() {
        let text = "number of failed transactions: 0 (0.000%)\nlatency average = 0.296 ms\ninitial connection time = 12.345 ms\ntps = 54012.345678 (without initial connection time)\n";
        assert_eq!(parse_tps(text), Some(54012.345678));
        assert_eq!(
            parse_tps("tps = 1 (including connections establishing)"),
            None
        );
    }

    #[test]
    fn the_median_of_an_even_count_is_the_mean_of_the_middle_two() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}

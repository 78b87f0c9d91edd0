//! `pgdrill bench volume` and `pgdrill bench restore`: the benchmarks at
//! production-like volume, measured and laid out.

use std::io::Write;

use super::bench::{build, heads, progress, row, thousands};
use super::{Context, Interrupt, say};
use crate::Error;
use crate::bench::{self, Stats};

/// The `contract-too-early` scenario at `rows`, and a line saying so.
fn at_volume(
    ctx: &Context,
    rows: std::collections::BTreeMap<String, u64>,
) -> Result<(crate::scenario::Scenario, String), Error> {
    let path = crate::scenario::resolve(bench::volume::SCENARIO, &ctx.scenarios)?;
    let mut scenario = crate::scenario::load(&path)?;
    scenario.fixture.rows.extend(rows);
    let volume: Vec<String> = scenario
        .fixture
        .rows
        .iter()
        .map(|(t, n)| format!("{t}={n}"))
        .collect();
    Ok((scenario, volume.join(", ")))
}

pub(super) async fn measure_restore(
    ctx: &Context,
    rows: std::collections::BTreeMap<String, u64>,
    runs: u32,
    json: bool,
    interrupt: &Interrupt,
) -> Result<bench::restore::RestoreReport, Error> {
    let backend = ctx.local_backend()?;
    let (scenario, volume) = at_volume(ctx, rows)?;
    let note = progress(json);
    if !json {
        eprintln!(
            "measuring {runs} snapshot + restore runs of each side at {volume} ({} build)...",
            build()
        );
    }
    let report = interrupt
        .guard(bench::restore::restore(&backend, &scenario, runs, &note))
        .await??;
    Ok(report)
}

pub(super) fn show_restore(report: &bench::restore::RestoreReport, out: &mut impl Write) {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    say!(out);
    say!(
        out,
        "{}, {} cores, {} build; physical snapshot {:.0} MiB, dump {:.0} MiB",
        report.version,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        build(),
        mib(report.snapshot_bytes),
        mib(report.dump_bytes)
    );
    say!(
        out,
        "time to a snapshot restored to a new instance that answers:"
    );
    say!(out, "{}", heads(51));
    let row = |label: &str, s: &Stats| row(label, s, 51);
    say!(
        out,
        "{}",
        row("pgdrill: physical snapshot", &report.snapshot)
    );
    say!(
        out,
        "{}",
        row("pgdrill: snapshot + restore --to new", &report.pgdrill)
    );
    say!(out, "{}", row("peer: pg_dump -Fc", &report.dump));
    say!(
        out,
        "{}",
        row(
            "peer: pg_dump -Fc + pg_restore (new database)",
            &report.peer
        )
    );
    say!(out);
    let users = report.rows.get("users").copied().unwrap_or(0);
    let target = bench::restore::RATIO_TARGET;
    let verdict = if users < bench::volume::TARGET_USERS {
        format!(
            "the target of at most {target:.2}x is set at {} users",
            thousands(bench::volume::TARGET_USERS)
        )
    } else if report.ratio <= target {
        format!("meets the target of at most {target:.2}x")
    } else {
        format!("MISSES the target of at most {target:.2}x")
    };
    say!(out, "pgdrill / peer = {:.2}x  ({verdict})", report.ratio);
}

pub(super) async fn measure_volume(
    ctx: &Context,
    rows: std::collections::BTreeMap<String, u64>,
    runs: u32,
    cold_runs: u32,
    json: bool,
    interrupt: &Interrupt,
) -> Result<bench::volume::VolumeReport, Error> {
    let backend = ctx.local_backend()?;
    let path = crate::scenario::resolve(bench::volume::SCENARIO, &ctx.scenarios)?;
    let mut scenario = crate::scenario::load(&path)?;
    scenario.fixture.rows.extend(rows);
    let note = progress(json);
    if !json {
        let volume: Vec<String> = scenario
            .fixture
            .rows
            .iter()
            .map(|(t, n)| format!("{t}={n}"))
            .collect();
        eprintln!(
            "measuring {cold_runs} cold, {runs} warm and {runs} peer runs at {} ({} build)...",
            volume.join(", "),
            build()
        );
    }
    let report = interrupt
        .guard(bench::volume::volume(
            &backend, &scenario, runs, cold_runs, &note,
        ))
        .await??;
    Ok(report)
}

pub(super) fn show_volume(report: &bench::volume::VolumeReport, out: &mut impl Write) {
    say!(out);
    say!(
        out,
        "{}, {} cores, {} build; seeded data directory {:.0} MiB",
        report.version,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        build(),
        report.seeded_bytes as f64 / (1024.0 * 1024.0)
    );
    say!(out, "time to a drill ready with its traffic on:");
    say!(out, "{}", heads(51));
    let row = |label: &str, s: &Stats| row(label, s, 51);
    say!(
        out,
        "{}",
        row("pgdrill cold (rows generated, then cached)", &report.cold)
    );
    say!(
        out,
        "{}",
        row("pgdrill warm (seeded database copied)", &report.warm)
    );
    say!(
        out,
        "{}",
        row(
            "peer: initdb + start + fixture + INSERT ... SELECT",
            &report.peer
        )
    );
    say!(out);
    let users = report.rows.get("users").copied().unwrap_or(0);
    let verdict = if users < bench::volume::TARGET_USERS {
        format!(
            "the target of at most {:.2}x is set at {} users",
            bench::volume::WARM_RATIO_TARGET,
            thousands(bench::volume::TARGET_USERS)
        )
    } else if report.warm_ratio <= bench::volume::WARM_RATIO_TARGET {
        format!(
            "meets the target of at most {:.2}x",
            bench::volume::WARM_RATIO_TARGET
        )
    } else {
        format!(
            "MISSES the target of at most {:.2}x",
            bench::volume::WARM_RATIO_TARGET
        )
    };
    say!(out, "warm / peer = {:.2}x  ({verdict})", report.warm_ratio);
    say!(out, "cold / peer = {:.2}x", report.cold_ratio);
}

/// `(users, connections, seconds, runs)`.
type FleetPlan = (u64, u32, u64, u32);

pub(super) async fn measure_fleet(
    ctx: &Context,
    (users, connections, seconds, runs): FleetPlan,
    json: bool,
    interrupt: &Interrupt,
) -> Result<bench::fleet::FleetReport, Error> {
    let backend = ctx.local_backend()?;
    let path = crate::scenario::resolve("mixed-version-rename", &ctx.scenarios)?;
    let mut scenario = crate::scenario::load(&path)?;
    scenario.fixture.rows.insert("users".into(), users);
    let beside = backend.binaries().bindir.join("pgbench");
    let pgbench = if beside.exists() {
        beside
    } else {
        "pgbench".into()
    };
    let plan = bench::fleet::Plan {
        pgbench,
        connections,
        seconds,
        runs,
    };
    let note = progress(json);
    if !json {
        eprintln!(
            "measuring {runs} runs of {seconds}s on each side, {connections} connections, {} users ({} build)...",
            thousands(users),
            build()
        );
    }
    let report = interrupt
        .guard(bench::fleet::fleet(&backend, &scenario, &plan, &note))
        .await??;
    Ok(report)
}

pub(super) fn show_fleet(report: &bench::fleet::FleetReport, out: &mut impl Write) {
    say!(out);
    say!(
        out,
        "{}, {} cores, {} build; {} users, {} connections on each side, {}s runs",
        report.version,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        build(),
        thousands(report.users),
        report.connections,
        report.seconds
    );
    let target = bench::fleet::RATIO_TARGET;
    for w in &report.workloads {
        let med = |v: &[f64]| {
            let mut s = v.to_vec();
            s.sort_by(f64::total_cmp);
            s.get(s.len() / 2).copied().unwrap_or(0.0)
        };
        let verdict = if w.ratio >= target { "meets" } else { "MISSES" };
        say!(
            out,
            "  {:<7} fleet {:>7.0} ok/s ({:.0} failed/s)   pgbench {:>7.0} tps   fleet / pgbench = {:.2}x ({verdict} the target of at least {target:.1}x); fleet CPU {:.3} cores per 1,000 req/s",
            w.name,
            med(&w.fleet_rps),
            med(&w.fleet_failed_rps),
            med(&w.pgbench_tps),
            w.ratio,
            w.fleet_cores_per_krps
        );
    }
}

pub(super) async fn measure_memory(
    ctx: &Context,
    minutes: u64,
    json: bool,
    interrupt: &Interrupt,
) -> Result<bench::memory::MemoryReport, Error> {
    let backend = ctx.local_backend()?;
    let path = crate::scenario::resolve("mixed-version-rename", &ctx.scenarios)?;
    let scenario = crate::scenario::load(&path)?;
    let note = progress(json);
    if !json {
        eprintln!(
            "running a {minutes}-minute drill at 1,000 requests/s ({} build)...",
            build()
        );
    }
    let report = interrupt
        .guard(bench::memory::memory(&backend, &scenario, minutes, &note))
        .await??;
    Ok(report)
}

pub(super) fn show_memory(report: &bench::memory::MemoryReport, out: &mut impl Write) {
    say!(out);
    say!(
        out,
        "{} minutes at {} requests/s asked: {} requests served, {} writes acknowledged ({} build)",
        report.minutes,
        report.rps,
        thousands(report.requests),
        thousands(report.writes),
        build()
    );
    say!(
        out,
        "  resident before the drill: {:.1} MiB",
        report.before_kib as f64 / 1024.0
    );
    for (minute, kib) in &report.samples {
        say!(out, "  minute {minute:>3}: {:.1} MiB", *kib as f64 / 1024.0);
    }
    let target = bench::memory::GROWTH_TARGET_KIB_PER_MIN;
    if report.samples.len() < 2 {
        say!(
            out,
            "growth: not measured (one minute; `--minutes 10` for the figure to quote)"
        );
        return;
    }
    let verdict = if report.growth_kib_per_min <= target {
        "meets"
    } else {
        "MISSES"
    };
    say!(
        out,
        "growth after the first minute: {:.0} KiB/min ({verdict} the target of at most {target:.0} KiB/min)",
        report.growth_kib_per_min
    );
}

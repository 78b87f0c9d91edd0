//! `pgdrill bench ...`: run a benchmark and print it as a table or JSON.

use std::io::Write;
use std::process::ExitCode;

use super::{Context, Interrupt, say};
use crate::Error;
use crate::bench::{self, Stats};

pub async fn provision(
    ctx: &Context,
    runs: u32,
    cold_runs: u32,
    json: bool,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let backend = ctx.local_backend()?;
    // `--backend docker|external`: measured beside the local backend.
    let others = match ctx.backend {
        super::args::BackendChoice::Docker | super::args::BackendChoice::External => {
            vec![ctx.backend().await?.0]
        }
        _ => Vec::new(),
    };
    let note = |line: String| {
        if !json {
            eprintln!("  {line}");
        }
    };
    if !json {
        eprintln!(
            "measuring {} cold, {} warm and {} peer runs (data in {})...",
            cold_runs,
            runs,
            runs,
            backend.dirs().runtime.display()
        );
    }
    let report = interrupt
        .guard(bench::provision(&backend, &others, runs, cold_runs, &note))
        .await??;

    if json {
        say!(out, "{}", json_of(&report));
        return Ok(ExitCode::SUCCESS);
    }
    say!(out);
    say!(
        out,
        "{}, data on {} ({}), {} cores",
        report.version,
        report.storage,
        report.runtime_dir.display(),
        report.cores
    );
    say!(out, "time to a ready, connectable instance:");
    say!(out, "{}", heads(34));
    let row = |label: &str, s: &Stats| row(label, s, 34);
    say!(out, "{}", row("pgdrill cold (empty cache)", &report.cold));
    say!(
        out,
        "{}",
        row("pgdrill warm (cached template)", &report.warm)
    );
    say!(
        out,
        "{}",
        row("peer: initdb + pg_ctl start -w", &report.peer)
    );
    for (name, stats, _) in &report.others {
        say!(out, "{}", row(&format!("pgdrill --backend {name}"), stats));
    }
    say!(out);
    let verdict = |ok: bool| if ok { "meets" } else { "MISSES" };
    say!(
        out,
        "warm / peer = {:.2}x  ({} the target of at most {:.2}x)",
        report.warm_ratio,
        verdict(report.warm_ratio <= bench::WARM_RATIO_TARGET),
        bench::WARM_RATIO_TARGET
    );
    say!(
        out,
        "warm median = {:.0} ms  ({} the target of under {:.0} ms)",
        report.warm.median_ms,
        verdict(report.warm.median_ms < bench::WARM_MEDIAN_TARGET_MS),
        bench::WARM_MEDIAN_TARGET_MS
    );
    say!(out, "cold / peer = {:.2}x", report.cold_ratio);
    for (name, _, ratio) in &report.others {
        say!(out, "{name} / peer = {ratio:.2}x");
    }
    Ok(ExitCode::SUCCESS)
}

/// `pgdrill bench grade`.
pub fn grade(
    ctx: &Context,
    transcripts: usize,
    minutes: u32,
    runs: u32,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let note = |line: String| {
        if !json {
            eprintln!("  {line}");
        }
    };
    let report = bench::grade::grade(
        &ctx.scenarios,
        &std::env::temp_dir(),
        transcripts,
        minutes,
        runs,
        &note,
    )?;
    if json {
        say!(out, "{}", json_of(&report));
        return Ok(ExitCode::SUCCESS);
    }
    say!(out);
    say!(
        out,
        "{} transcripts ({} scenarios, {}-minute drills, {} events and {:.0} KiB each, {:.0} MiB in all), {} cores, {} build",
        report.transcripts,
        report.scenarios.len(),
        report.minutes,
        report.events_per_transcript,
        report.bytes as f64 / report.transcripts as f64 / 1024.0,
        report.bytes as f64 / (1024.0 * 1024.0),
        report.cores,
        if report.optimized {
            "optimised"
        } else {
            "debug (figures are not comparable: use --release)"
        }
    );
    say!(out, "{}", heads(44));
    let row = |label: &str, s: &Stats| row(label, s, 44);
    say!(
        out,
        "{}",
        row(
            "pgdrill grade (read, verify, sign check, score)",
            &report.grade
        )
    );
    say!(
        out,
        "{}",
        row("peer: sha256sum over the same files", &report.peer)
    );
    say!(out);
    say!(
        out,
        "grade / sha256sum = {:.2}x; {:.0} transcripts/s; graded {} passed, {} failed",
        report.ratio,
        report.per_second,
        report.passed,
        report.failed
    );
    let per_target = report.grade.median_ms * bench::grade::TARGET_TRANSCRIPTS as f64
        / report.transcripts as f64;
    say!(
        out,
        "{} transcripts take {:.0} ms at this rate ({} the target of under {:.0} ms)",
        bench::grade::TARGET_TRANSCRIPTS,
        per_target,
        if per_target < bench::grade::TARGET_MS {
            "meets"
        } else {
            "MISSES"
        },
        bench::grade::TARGET_MS
    );
    Ok(ExitCode::SUCCESS)
}

/// A report as pretty JSON.
fn json_of(report: &impl serde::Serialize) -> String {
    format!(
        "{:#}",
        serde_json::to_value(report).expect("report serialises")
    )
}

/// The column heads of a timings table with labels `width` wide.
fn heads(width: usize) -> String {
    format!(
        "  {:<width$} {:>9} {:>9} {:>9} {:>5}",
        "", "median", "min", "max", "runs"
    )
}

/// One line of a timings table.
fn row(label: &str, s: &Stats, width: usize) -> String {
    format!(
        "  {label:<width$} {:>6.0} ms {:>6.0} ms {:>6.0} ms {:>5}",
        s.median_ms,
        s.min_ms,
        s.max_ms,
        s.samples_ms.len()
    )
}

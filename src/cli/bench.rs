//! `pgdrill bench ...`: run a benchmark and print it as a table or JSON.

use std::io::Write;
use std::process::ExitCode;

use clap::Subcommand;

use super::args::{ScenarioOpts, ServerOpts};
use super::bench_data::{
    measure_fleet, measure_memory, measure_restore, measure_volume, show_fleet, show_memory,
    show_restore, show_volume,
};
use super::{Context, Interrupt, say};
use crate::Error;
use crate::bench::{self, Stats};

/// `pgdrill bench [--quick]`: every benchmark, unless a subcommand names one.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// One benchmark.
    #[command(subcommand)]
    pub command: Option<BenchCommand>,
    /// Every benchmark briefly: a smoke run of about a minute.
    #[arg(long)]
    pub quick: bool,
    /// Print JSON: one object with every report.
    #[arg(long)]
    pub json: bool,
    /// `--pg-bin`.
    #[command(flatten)]
    pub server: ServerOpts,
    /// `--scenarios`.
    #[command(flatten)]
    pub scenario_dir: ScenarioOpts,
}

/// `pgdrill bench ...`
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Time to a ready, connectable instance: cold (empty cache) and warm
    /// (cached template), side by side with a plain `initdb` + `pg_ctl start -w`.
    Provision {
        /// Warm and peer runs (interleaved).
        #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=100))]
        runs: u32,
        /// Cold runs (each builds a template in a throwaway cache).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
        cold_runs: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// `--pg-bin`.
        #[command(flatten)]
        server: ServerOpts,
    },
    /// Time to a drill ready at volume (1,000,000 users by default): the
    /// seeded database copied from the cache (warm) or generated and kept
    /// (cold), pods connected and a first request answered; side by side with
    /// `initdb` + `pg_ctl start -w` + the fixture + the same `INSERT ... SELECT`.
    ///
    /// Build with optimisations for figures worth quoting:
    /// `cargo run --release -- bench volume`.
    Volume {
        /// Rows per fixture table of the `contract-too-early` scenario.
        #[arg(long, value_name = "TABLE=N", value_parser = super::volume::parse_rows, value_delimiter = ',', default_value = "users=1000000")]
        rows: Vec<(String, u64)>,
        /// Warm and peer runs (interleaved).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
        runs: u32,
        /// Cold runs (each generates the rows into a throwaway cache).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
        cold_runs: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// `--pg-bin`.
        #[command(flatten)]
        server: ServerOpts,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// A snapshot and its restore to a new instance at volume (1,000,000
    /// users by default): a physical snapshot recovered on a new server,
    /// side by side with `pg_dump -Fc` + `pg_restore` into a new database.
    ///
    /// Build with optimisations for figures worth quoting:
    /// `cargo run --release -- bench restore`.
    Restore {
        /// Rows per fixture table of the `contract-too-early` scenario.
        #[arg(long, value_name = "TABLE=N", value_parser = super::volume::parse_rows, value_delimiter = ',', default_value = "users=1000000")]
        rows: Vec<(String, u64)>,
        /// Runs of each side (interleaved).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
        runs: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// `--pg-bin`.
        #[command(flatten)]
        server: ServerOpts,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// The fleet at its maximum rate (a single-row lookup, then an 80/20
    /// lookup/insert mix, metrics and the write ledger on), side by side
    /// with `pgbench -M prepared` on the same statements and connections.
    ///
    /// Build with optimisations for figures worth quoting:
    /// `cargo run --release -- bench fleet`.
    Fleet {
        /// Rows of `users`.
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        users: u64,
        /// Connections on each side: pods of one connection, pgbench clients.
        #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=64))]
        connections: u32,
        /// Seconds each run lasts.
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
        seconds: u64,
        /// Runs of each side per workload (interleaved).
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=50))]
        runs: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// `--pg-bin`.
        #[command(flatten)]
        server: ServerOpts,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// A long drill at 1,000 requests/s with writes, pgdrill's resident set
    /// sampled every minute: it must stay flat.
    Memory {
        /// Minutes the drill runs (real time).
        #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=120))]
        minutes: u64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// `--pg-bin`.
        #[command(flatten)]
        server: ServerOpts,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// What a served class costs: `pgdrill serve lock-queue --class N`,
    /// every learner arriving at once and playing the reference solution;
    /// the server's peak memory and CPU side by side with the PostgreSQL
    /// servers under it (the peer: what the class needs anyway).
    Class {
        /// Learners, each on a PostgreSQL server of their own.
        #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u16).range(1..=200))]
        learners: u16,
        /// Time scale of every drill (1: as a class plays it).
        #[arg(long, default_value_t = 1.0, value_name = "X")]
        time_scale: f64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// `--pg-bin`.
        #[command(flatten)]
        server: ServerOpts,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// Time `pgdrill grade` over a class of synthetic, signed transcripts of
    /// realistic size, side by side with `sha256sum` reading the same files.
    ///
    /// Build with optimisations for figures worth quoting:
    /// `cargo run --release -- bench grade`.
    Grade {
        /// Transcripts in the class.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
        transcripts: u32,
        /// Scenario minutes each drill lasts at time scale 1 (one metrics
        /// window a second).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=120))]
        minutes: u32,
        /// Timed runs of each side (interleaved).
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=50))]
        runs: u32,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
}

/// `pgdrill bench [--quick]` or one benchmark.
pub async fn run(
    ctx: &Context,
    args: BenchArgs,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    match args.command {
        None => all(ctx, &args.server, args.quick, args.json, interrupt, out).await,
        Some(BenchCommand::Provision {
            runs,
            cold_runs,
            json,
            ..
        }) => {
            let report = measure_provision(ctx, runs, cold_runs, json, interrupt).await?;
            Ok(emit(&report, json, out, show_provision))
        }
        Some(BenchCommand::Volume {
            rows,
            runs,
            cold_runs,
            json,
            ..
        }) => {
            let rows = rows.into_iter().collect();
            let report = measure_volume(ctx, rows, runs, cold_runs, json, interrupt).await?;
            Ok(emit(&report, json, out, show_volume))
        }
        Some(BenchCommand::Restore {
            rows, runs, json, ..
        }) => {
            let rows = rows.into_iter().collect();
            let report = measure_restore(ctx, rows, runs, json, interrupt).await?;
            Ok(emit(&report, json, out, show_restore))
        }
        Some(BenchCommand::Fleet {
            users,
            connections,
            seconds,
            runs,
            json,
            ..
        }) => {
            let plan = (users, connections, seconds, runs);
            let report = measure_fleet(ctx, plan, json, interrupt).await?;
            Ok(emit(&report, json, out, show_fleet))
        }
        Some(BenchCommand::Memory { minutes, json, .. }) => {
            let report = measure_memory(ctx, minutes, json, interrupt).await?;
            Ok(emit(&report, json, out, show_memory))
        }
        Some(BenchCommand::Class {
            learners,
            time_scale,
            json,
            ref server,
            ..
        }) => {
            let report =
                measure_class(ctx, server, learners.into(), time_scale, json, interrupt).await?;
            Ok(emit(&report, json, out, show_class))
        }
        Some(BenchCommand::Grade {
            transcripts,
            minutes,
            runs,
            json,
            ..
        }) => {
            let report = measure_grade(ctx, transcripts as usize, minutes, runs, json)?;
            Ok(emit(&report, json, out, show_grade))
        }
    }
}

/// One benchmark's report: JSON, or the table `show` lays out.
fn emit<R: serde::Serialize, W: Write>(
    report: &R,
    json: bool,
    out: &mut W,
    show: fn(&R, &mut W),
) -> ExitCode {
    if json {
        say!(out, "{}", json_of(report));
    } else {
        show(report, out);
    }
    ExitCode::SUCCESS
}

/// Every benchmark, each as its own subcommand runs it by default, or
/// briefly (`--quick`: 100,000 users, 100 transcripts, a class of 3 at time
/// scale 10, one or two runs).
async fn all(
    ctx: &Context,
    args_server: &ServerOpts,
    quick: bool,
    json: bool,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let pick = |brief: u32, full: u32| if quick { brief } else { full };
    let provision = measure_provision(ctx, pick(2, 7), pick(1, 3), json, interrupt).await?;
    let users = if quick { 100_000 } else { 1_000_000 };
    let rows: std::collections::BTreeMap<String, u64> = [("users".to_string(), users)].into();
    let volume = measure_volume(ctx, rows.clone(), pick(2, 5), 1, json, interrupt).await?;
    let restore = measure_restore(ctx, rows, pick(1, 5), json, interrupt).await?;
    let plan = (users, 16, pick(3, 10) as u64, pick(1, 3));
    let fleet = measure_fleet(ctx, plan, json, interrupt).await?;
    let memory = measure_memory(ctx, pick(1, 10) as u64, json, interrupt).await?;
    let grade = measure_grade(ctx, pick(100, 1000) as usize, 5, pick(1, 5), json)?;
    let (learners, scale) = if quick { (3, 10.0) } else { (30, 1.0) };
    let class = measure_class(ctx, args_server, learners, scale, json, interrupt).await?;
    if json {
        let all = serde_json::json!({
            "quick": quick,
            "build": build(),
            "provision": provision,
            "volume": volume,
            "restore": restore,
            "fleet": fleet,
            "memory": memory,
            "grade": grade,
            "class": class,
        });
        say!(out, "{}", json_of(&all));
        return Ok(ExitCode::SUCCESS);
    }
    if quick {
        say!(
            out,
            "\nA quick run: one or two runs of each, a tenth of the volume; quote the figures of `pgdrill bench` in a release build."
        );
    }
    say!(out, "\n== provisioning");
    show_provision(&provision, out);
    say!(out, "\n== a drill ready at volume");
    show_volume(&volume, out);
    say!(out, "\n== a snapshot and its restore at volume");
    show_restore(&restore, out);
    say!(out, "\n== the fleet at its maximum rate");
    show_fleet(&fleet, out);
    say!(out, "\n== memory over a long drill");
    show_memory(&memory, out);
    say!(out, "\n== grading a class");
    show_grade(&grade, out);
    say!(out, "\n== serving a class");
    show_class(&class, out);
    Ok(ExitCode::SUCCESS)
}

async fn measure_class(
    ctx: &Context,
    server: &ServerOpts,
    learners: usize,
    time_scale: f64,
    json: bool,
    interrupt: &Interrupt,
) -> Result<bench::class::ClassReport, Error> {
    if !(time_scale > 0.0 && time_scale <= 100.0) {
        return Err(Error::Usage(format!(
            "--time-scale {time_scale}: give a number above 0 and at most 100"
        )));
    }
    let exe = std::env::current_exe()
        .map_err(|e| Error::Usage(format!("cannot find this pgdrill executable: {e}")))?;
    let plan = bench::class::ClassPlan {
        exe,
        scenarios: ctx.scenarios.clone(),
        pg_bin: server.pg_bin.clone(),
        learners,
        time_scale,
    };
    let note = progress(json);
    if !json {
        eprintln!("serving a class of {learners} ({} build)...", build());
    }
    Ok(interrupt.guard(bench::class::class(&plan, &note)).await??)
}

fn show_class(report: &bench::class::ClassReport, out: &mut impl Write) {
    say!(out);
    say!(
        out,
        "{} learners on {} ({} servers, at most {} processes under pgdrill), time scale {}, {} cores, {} build; {:.1} s; {} of {} graded passed",
        report.learners,
        report.scenario,
        report.learners,
        report.peak_processes,
        report.time_scale,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        build(),
        report.wall_ms / 1000.0,
        report.passed,
        report.learners
    );
    say!(
        out,
        "                                      memory (peak)      CPU (cores)"
    );
    say!(
        out,
        "  pgdrill serve (one process)        {:>8.0} MiB RSS   {:>8.2}",
        report.server_peak_rss_mib,
        report.server_cores
    );
    say!(
        out,
        "  peer: its PostgreSQL processes     {:>8.0} MiB PSS   {:>8.2}",
        report.postgres_peak_pss_mib,
        report.postgres_cores
    );
    say!(out);
    say!(
        out,
        "pgdrill / PostgreSQL = {:.2}x memory, {:.2}x CPU; pgdrill's RSS when the last drill ended: {:.0} MiB",
        report.memory_ratio,
        report.cpu_ratio,
        report.server_end_rss_mib
    );
}

async fn measure_provision(
    ctx: &Context,
    runs: u32,
    cold_runs: u32,
    json: bool,
    interrupt: &Interrupt,
) -> Result<bench::ProvisionReport, Error> {
    let backend = ctx.local_backend()?;
    // `--backend docker|external`: measured beside the local backend.
    let others = match ctx.backend {
        super::args::BackendChoice::Docker | super::args::BackendChoice::External => {
            vec![ctx.backend().await?.0]
        }
        _ => Vec::new(),
    };
    let note = progress(json);
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
    Ok(report)
}

fn show_provision(report: &bench::ProvisionReport, out: &mut impl Write) {
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
}

/// Which build this is: figures from a debug build are not comparable.
pub(super) fn build() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "optimised"
    }
}

fn measure_grade(
    ctx: &Context,
    transcripts: usize,
    minutes: u32,
    runs: u32,
    json: bool,
) -> Result<bench::grade::GradeReport, Error> {
    let note = progress(json);
    let report = bench::grade::grade(
        &ctx.scenarios,
        &std::env::temp_dir(),
        transcripts,
        minutes,
        runs,
        &note,
    )?;
    Ok(report)
}

fn show_grade(report: &bench::grade::GradeReport, out: &mut impl Write) {
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
}

/// A report as pretty JSON.
fn json_of(report: &impl serde::Serialize) -> String {
    format!(
        "{:#}",
        serde_json::to_value(report).expect("report serialises")
    )
}

/// The column heads of a timings table with labels `width` wide.
pub(super) fn heads(width: usize) -> String {
    format!(
        "  {:<width$} {:>9} {:>9} {:>9} {:>5}",
        "", "median", "min", "max", "runs"
    )
}

/// One line of a timings table.
pub(super) fn row(label: &str, s: &Stats, width: usize) -> String {
    format!(
        "  {label:<width$} {:>6.0} ms {:>6.0} ms {:>6.0} ms {:>5}",
        s.median_ms,
        s.min_ms,
        s.max_ms,
        s.samples_ms.len()
    )
}

/// `1000000` as `1,000,000`.
pub(super) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Progress lines on stderr, indented under the benchmark's heading; none
/// with `--json`.
pub(super) fn progress(json: bool) -> impl Fn(String) + Send + Sync {
    move |line| {
        if !json {
            eprintln!("  {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped_by_three() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(thousands(12_345_678), "12,345,678");
    }
}

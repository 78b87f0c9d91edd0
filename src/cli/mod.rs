//! The command line: dispatch to one file per command (the clap
//! definitions are in `args.rs`).
//!
//! Two stages, as in ripgrep: clap parses raw arguments into [`Cli`], then
//! [`Context`] turns them (with the environment) into validated domain
//! objects. Domain modules never see clap types. This is the only module that
//! writes to the terminal.

mod args;
mod bench;
mod classify;
mod doctor;
mod grade;
mod instances;
mod play;
mod progress;
mod quiz;
mod run;
mod scenarios;
mod score;
mod signals;
mod sqlfile;
#[cfg(test)]
mod tests_readme;
mod up;

use std::path::PathBuf;

use crate::Error;
use crate::instance::binaries::{Origin, Requested};
use crate::instance::{Dirs, LocalBackend, PgBinaries, RunAs};

pub use args::{
    BenchCommand, Cli, Command, InstancesCommand, QuizOpts, ReportFormat, ScenarioOpts, ServerOpts,
    parse,
};
pub use signals::Interrupt;

/// Sets up `tracing` to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        // PostgreSQL's NOTICEs (e.g. "relation already exists, skipping")
        // belong to the drill's output, not to pgdrill's log.
        .unwrap_or_else(|_| {
            tracing_subscriber::EnvFilter::new(
                "warn,sqlx::postgres::notice=off,sqlx::query=error,sqlx::pool=error,sqlx_core::pool=error",
            )
        });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Validated settings shared by the commands (stage two).
#[derive(Debug, Clone)]
pub struct Context {
    /// An explicit binary directory, if any.
    pub requested_bin: Option<Requested>,
    /// `PGDRILL_RUN_AS`.
    pub run_as: Option<String>,
    /// Directories.
    pub dirs: Dirs,
    /// The scenario folder.
    pub scenarios: PathBuf,
    /// The quiz folder.
    pub quizzes: PathBuf,
    /// `PGDRILL_SIGNING_KEY`, when set.
    pub signing_key: Option<String>,
}

impl Context {
    fn new(cli: &Cli) -> Context {
        let (pg_bin, scenario_dir, quiz_dir) = cli.command.opts();
        let requested_bin = match (pg_bin, std::env::var_os("PGDRILL_PG_BIN")) {
            (Some(dir), _) => Some(Requested {
                dir: dir.clone(),
                origin: Origin::Flag,
            }),
            (None, Some(dir)) if !dir.is_empty() => Some(Requested {
                dir: dir.into(),
                origin: Origin::Env,
            }),
            _ => None,
        };
        let run_as = std::env::var("PGDRILL_RUN_AS")
            .ok()
            .filter(|s| !s.is_empty());
        // The working directory's folder, else the one beside the sources
        // this binary was built from (so `cargo run` works from anywhere in
        // a checkout).
        let folder = |given: Option<&PathBuf>, name: &str| {
            given.cloned().unwrap_or_else(|| {
                let local = PathBuf::from(name);
                if local.is_dir() {
                    local
                } else {
                    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(name)
                }
            })
        };
        let scenarios = folder(scenario_dir, "scenarios");
        let quizzes = folder(quiz_dir, "quizzes");
        Context {
            requested_bin,
            run_as,
            dirs: Dirs::from_env(),
            scenarios,
            quizzes,
            signing_key: std::env::var("PGDRILL_SIGNING_KEY")
                .ok()
                .filter(|k| !k.is_empty()),
        }
    }

    /// The signing key, refused when it is too short to be a secret.
    pub fn signing_key(&self) -> Result<Option<&[u8]>, Error> {
        match &self.signing_key {
            Some(k) if k.len() < 16 => Err(Error::Usage(
                "PGDRILL_SIGNING_KEY is shorter than 16 characters, too easy to guess: \
                 make one with `openssl rand -hex 32`"
                    .into(),
            )),
            Some(k) => Ok(Some(k.as_bytes())),
            None => Ok(None),
        }
    }

    /// The local backend, or why it cannot run here.
    pub fn local_backend(&self) -> Result<LocalBackend, Error> {
        let bins = PgBinaries::locate(self.requested_bin.as_ref())?;
        let run_as = RunAs::resolve(self.run_as.as_deref())?;
        Ok(LocalBackend::new(bins, self.dirs.clone(), run_as)?)
    }
}

/// Runs a parsed command.
pub async fn execute(cli: Cli) -> Result<std::process::ExitCode, Error> {
    let ctx = Context::new(&cli);
    // Installed before any server starts, so that Ctrl-C, SIGTERM and SIGHUP
    // always reach pgdrill's cleanup instead of killing it outright.
    let interrupt = Interrupt::install()?;
    // Not locked for the whole command: a drill prints from several tasks.
    let mut out = std::io::stdout();
    match cli.command {
        Command::Run {
            scenario,
            script,
            transcript,
            seed,
            time_scale,
            json,
            learner,
            ..
        } => {
            let learner = learner_name(learner);
            let args = run::RunArgs {
                learner,
                scenario: crate::scenario::resolve(&scenario, &ctx.scenarios)?,
                script,
                transcript,
                seed,
                time_scale,
                json,
            };
            run::run(&ctx, args, &interrupt, &mut out).await
        }
        Command::List { json, .. } => scenarios::list(&ctx.scenarios, json, &mut out),
        Command::Show { scenario, .. } => scenarios::show(
            &crate::scenario::resolve(&scenario, &ctx.scenarios)?,
            &mut out,
        ),
        Command::Validate { paths, json, .. } => {
            scenarios::validate(&paths, &ctx.scenarios, &ctx.quizzes, json, &mut out)
        }
        Command::Score {
            transcript,
            scenario,
            json,
            ..
        } => score::run(&transcript, scenario, &ctx.scenarios, json, &mut out),
        Command::Report {
            transcript,
            format,
            output,
            scenario,
            ..
        } => score::report(
            &transcript,
            scenario,
            &ctx.scenarios,
            format.into(),
            output.as_deref(),
            &mut out,
        ),
        Command::Grade {
            paths,
            format,
            output,
            key,
            ..
        } => grade::run(
            &ctx,
            grade::GradeArgs {
                paths,
                format,
                output,
                key,
            },
            &mut out,
        ),
        Command::Quiz {
            quiz,
            answers,
            print,
            json,
            ..
        } => {
            quiz::run(
                &ctx.quizzes,
                quiz::QuizArgs {
                    quiz,
                    answers,
                    print,
                    json,
                },
                &interrupt,
                &mut out,
            )
            .await
        }
        Command::Classify { file, json } => classify::run(&file, json, &mut out),
        Command::Doctor { json, .. } => doctor::run(&ctx, json, &mut out).await,
        Command::Up { sql, json, .. } => up::run(&ctx, sql, json, &interrupt, &mut out).await,
        Command::Instances(InstancesCommand::List { json, .. }) => {
            instances::list(&ctx, json, &mut out)
        }
        Command::Instances(InstancesCommand::Gc { json, .. }) => {
            instances::gc(&ctx, json, &mut out).await
        }
        Command::Bench(BenchCommand::Provision {
            runs,
            cold_runs,
            json,
            ..
        }) => bench::provision(&ctx, runs, cold_runs, json, &interrupt, &mut out).await,
        Command::Bench(BenchCommand::Grade {
            transcripts,
            minutes,
            runs,
            json,
            ..
        }) => bench::grade(&ctx, transcripts as usize, minutes, runs, json, &mut out),
    }
}

/// Writes to the terminal; a closed pipe (`pgdrill ... | head`) is not an error.
/// Who plays, the one rule: `--learner` (or `PGDRILL_LEARNER`), else
/// `$USER`, else `$LOGNAME`, else the login name of the user we run as
/// (as `id -un` says it).
pub(crate) fn learner_name(explicit: Option<String>) -> Option<String> {
    let named = |s: &String| !s.trim().is_empty();
    explicit
        .filter(named)
        .or_else(|| std::env::var("USER").ok().filter(named))
        .or_else(|| std::env::var("LOGNAME").ok().filter(named))
        .or_else(|| {
            nix::unistd::User::from_uid(nix::unistd::getuid())
                .ok()
                .flatten()
                .map(|u| u.name)
        })
}

macro_rules! say {
    ($out:expr) => {{
        let _ = writeln!($out);
    }};
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}
pub(crate) use say;

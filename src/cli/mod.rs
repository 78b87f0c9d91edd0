//! The command line: clap definitions, and dispatch to one file per command.
//!
//! Two stages, as in ripgrep: clap parses raw arguments into [`Cli`], then
//! [`Context`] turns them (with the environment) into validated domain
//! objects. Domain modules never see clap types. This is the only module that
//! writes to the terminal.

mod bench;
mod doctor;
mod instances;
mod progress;
mod signals;
mod up;

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::Error;
use crate::instance::binaries::{Origin, Requested};
use crate::instance::{Dirs, LocalBackend, PgBinaries, RunAs};

pub use signals::Interrupt;

/// pgdrill: practise rolling back PostgreSQL schema migrations on disposable
/// servers.
#[derive(Debug, Parser)]
#[command(name = "pgdrill", version, about, long_about = None)]
#[command(after_help = "\
Environment:
  PGDRILL_PG_BIN       directory of initdb and postgres (same as --pg-bin)
  PGDRILL_RUN_AS       user that runs PostgreSQL when pgdrill runs as root (default: postgres)
  PGDRILL_CACHE_DIR    template clusters (default: ~/.cache/pgdrill)
  PGDRILL_STATE_DIR    registry of live instances (default: ~/.local/state/pgdrill)
  PGDRILL_RUNTIME_DIR  where instance data lives (default: /dev/shm when it has room)
  RUST_LOG             log filter, e.g. RUST_LOG=pgdrill=debug

Exit codes: 0 ok, 1 check failed, 2 bad usage, 3 machine not ready (run `pgdrill doctor`),
4 instance failed, 5 bad input file, 130 interrupted (instances cleaned up).")]
pub struct Cli {
    /// Directory holding the PostgreSQL server binaries (initdb, postgres).
    /// Default: PGDRILL_PG_BIN, then PATH, then `pg_config --bindir`, then
    /// the newest /usr/lib/postgresql/*/bin.
    #[arg(long, global = true, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that this machine can run pgdrill, and say how to fix what is missing.
    Doctor {
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Start a disposable PostgreSQL and keep it until Ctrl-C, then remove it.
    ///
    /// Prints a psql URL and an `export DATABASE_URL=...` line. The server
    /// listens on 127.0.0.1 only; its data lives in memory when possible and
    /// is deleted on exit.
    Up {
        /// Load this SQL file (as the application role) before printing the URL.
        #[arg(long, value_name = "FILE")]
        sql: Option<PathBuf>,
        /// Print the connection details as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List or clean up the instances of this user.
    #[command(subcommand)]
    Instances(InstancesCommand),
    /// Measure pgdrill against its peers.
    #[command(subcommand)]
    Bench(BenchCommand),
}

/// `pgdrill instances ...`
#[derive(Debug, Subcommand)]
pub enum InstancesCommand {
    /// Show every instance: live ones, and orphans left by runs that died.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Stop orphaned servers and delete their files (every start does this too).
    Gc {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
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
    },
}

/// Parses arguments (stage one).
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::try_parse_from(args)
}

/// Sets up `tracing` to stderr, filtered by `RUST_LOG` (default: warnings).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
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
}

impl Context {
    fn new(cli: &Cli) -> Context {
        let requested_bin = match (&cli.pg_bin, std::env::var_os("PGDRILL_PG_BIN")) {
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
        Context {
            requested_bin,
            run_as,
            dirs: Dirs::from_env(),
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
    let mut out = std::io::stdout().lock();
    match cli.command {
        Command::Doctor { json } => doctor::run(&ctx, json, &mut out).await,
        Command::Up { sql, json } => up::run(&ctx, sql, json, &interrupt, &mut out).await,
        Command::Instances(InstancesCommand::List { json }) => {
            instances::list(&ctx, json, &mut out)
        }
        Command::Instances(InstancesCommand::Gc { json }) => {
            instances::gc(&ctx, json, &mut out).await
        }
        Command::Bench(BenchCommand::Provision {
            runs,
            cold_runs,
            json,
        }) => bench::provision(&ctx, runs, cold_runs, json, &interrupt, &mut out).await,
    }
}

/// Writes to the terminal; a closed pipe (`pgdrill ... | head`) is not an error.
macro_rules! say {
    ($out:expr) => {{
        let _ = writeln!($out);
    }};
    ($out:expr, $($arg:tt)*) => {{
        let _ = writeln!($out, $($arg)*);
    }};
}
pub(crate) use say;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn pg_bin_is_global() {
        let cli = parse(["pgdrill", "up", "--pg-bin", "/x"]).unwrap();
        assert_eq!(cli.pg_bin.as_deref(), Some(std::path::Path::new("/x")));
    }
}

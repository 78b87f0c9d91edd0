//! pgdrill: a drill simulator and trainer for rolling back PostgreSQL schema
//! migrations safely.
//!
//! The binary is thin glue; everything lives here. Start at [`run`], which
//! parses arguments ([`cli`]) and dispatches a command. Domain modules know
//! nothing of the terminal: [`instance`] provisions disposable PostgreSQL
//! servers, [`bench`] measures them. See ARCHITECTURE.md for the map.

pub mod action;
pub mod bench;
pub mod cli;
pub mod course;
pub mod drill;
mod error;
pub mod grade;
pub mod instance;
pub mod migrate;
pub mod quiz;
pub mod report;
pub mod scenario;
pub mod score;
pub mod serve;
pub mod service;
pub mod sqlstate;
pub mod text;
pub mod transcript;
pub mod workload;

use std::ffi::OsString;
use std::process::ExitCode;

pub use error::{Error, Exit};
pub use text::{did_you_mean, is_plain_name};

/// Runs pgdrill with these arguments (the first is the program name) and
/// returns the process exit code. Errors carry their own exit code.
pub fn run<I, T>(args: I) -> Result<ExitCode, Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = match cli::parse(args) {
        Ok(command) => command,
        Err(clap_error) => {
            // --help and --version land here too, with exit code 0.
            let _ = clap_error.print();
            return Ok(ExitCode::from(clap_error.exit_code() as u8));
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("could not start the async runtime: {e}")))?;
    let result = runtime.block_on(cli::execute(command));
    // Instances dropped during shutdown may have handed their directories to
    // background deletion; wait for it so nothing is left behind.
    drop(runtime);
    instance::fsutil::flush_trash();
    result
}

//! The `pgdrill` binary: thin glue around [`pgdrill::run`].

use std::process::ExitCode;

fn main() -> ExitCode {
    pgdrill::cli::init_tracing();
    match pgdrill::run(std::env::args_os()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("{}", err.report());
            err.exit().into()
        }
    }
}

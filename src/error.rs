//! pgdrill's top-level error, and the one place that maps errors to exit
//! codes ([`Exit`]; the README's table lists the same codes, and a test
//! holds them together).

use std::path::PathBuf;

use crate::instance;

/// Anything that can end a pgdrill command unsuccessfully.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// From the instance layer.
    #[error(transparent)]
    Instance(#[from] instance::Error),

    /// A SQL file failed to load.
    #[error("{}:{line}:{column}: {message} (SQLSTATE {code})\n{snippet}", path.display())]
    SqlFile {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error position.
        line: usize,
        /// 1-based column of the error position.
        column: usize,
        /// SQLSTATE.
        code: String,
        /// Postgres' message (and hint, if any).
        message: String,
        /// The offending line with a caret.
        snippet: String,
    },

    /// SQL that PostgreSQL's parser refuses.
    #[error("{path}:{line}:{column}: {message}\n{snippet}")]
    SqlParse {
        /// The file (or `<stdin>`).
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
        /// The line with a caret.
        snippet: String,
    },

    /// An input file could not be read.
    #[error("could not read {}: {source}", path.display())]
    ReadInput {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A quiz or an answers file is missing or invalid.
    #[error(transparent)]
    Quiz(#[from] crate::quiz::Error),

    /// The command cannot be used this way; the message says how.
    #[error("{0}")]
    Usage(String),

    /// An output file could not be written.
    #[error("could not write {}: {source}", path.display())]
    WriteOutput {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// A scenario file is missing or invalid.
    #[error(transparent)]
    Scenario(#[from] crate::scenario::LoadError),

    /// Some of the files given to `validate` are invalid (already reported).
    #[error("{0} of the files have problems (see above)")]
    Invalid(usize),

    /// A script file is invalid.
    #[error("{}", script_problems(path, problems))]
    Script {
        /// The script.
        path: PathBuf,
        /// (line, message) pairs.
        problems: Vec<(usize, String)>,
    },

    /// A transcript and a scenario that do not belong together.
    #[error("{0}")]
    Mismatch(String),

    /// A transcript could not be read or written.
    #[error(transparent)]
    Transcript(#[from] crate::transcript::Error),

    /// The drill could not run.
    #[error(transparent)]
    Drill(#[from] crate::drill::Error),

    /// The server of a running instance died.
    #[error("the PostgreSQL server stopped unexpectedly; the end of its log:\n{log_tail}")]
    ServerDied {
        /// The end of its log.
        log_tail: String,
    },

    /// A server of a running drill died; the drill ended early.
    #[error("the drill's PostgreSQL server stopped unexpectedly (the ALERT above has the end of its log), so the drill ended early and its score measures nothing; {}", match transcript { Some(p) => format!("the transcript was kept in {}", p.display()), None => "give `--transcript FILE` to keep one".to_string() })]
    DrillServerDied {
        /// Where the transcript was saved, if it was.
        transcript: Option<PathBuf>,
    },

    /// A drill could not be served.
    #[error(transparent)]
    Serve(#[from] crate::serve::Error),

    /// A served drill did not answer as asked (`join`, `act`).
    #[error(transparent)]
    Seat(#[from] crate::serve::client::Error),

    /// The doctor found the machine unable to run instances.
    #[error("this machine cannot run pgdrill instances yet: apply the fixes above")]
    NotReady,

    /// Stopped by a signal; cleanup has run.
    #[error("interrupted; whatever pgdrill had started is stopped and removed")]
    Interrupted,

    /// A bug or an unexpected condition.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// The error as the command line shows it: `error: ...`, except for
    /// the problems of a file, which are already a list of `error:` entries.
    pub fn report(&self) -> String {
        use crate::scenario::LoadError;
        match self {
            Error::Scenario(LoadError::Invalid(_))
            | Error::Quiz(crate::quiz::Error::Invalid(_)) => self.to_string(),
            _ => format!("error: {self}"),
        }
    }

    /// How the process exits with this error.
    pub fn exit(&self) -> Exit {
        match self {
            Error::Instance(e) if e.is_environment() => Exit::NotReady,
            Error::Instance(instance::Error::Io { .. }) => Exit::NotReady,
            Error::Instance(_) => Exit::InstanceFailed,
            Error::NotReady => Exit::NotReady,
            Error::ServerDied { .. } | Error::DrillServerDied { .. } => Exit::InstanceFailed,
            Error::SqlFile { .. }
            | Error::SqlParse { .. }
            | Error::ReadInput { .. }
            | Error::WriteOutput { .. }
            | Error::Quiz(_)
            | Error::Scenario(_)
            | Error::Invalid(_)
            | Error::Script { .. }
            | Error::Transcript(_)
            | Error::Mismatch(_) => Exit::BadInput,
            Error::Drill(crate::drill::Error::Scenario(_)) => Exit::BadInput,
            Error::Drill(_) => Exit::InstanceFailed,
            Error::Serve(crate::serve::Error::Drill(crate::drill::Error::Scenario(_))) => {
                Exit::BadInput
            }
            Error::Serve(crate::serve::Error::Remote { .. }) => Exit::Usage,
            Error::Serve(_) => Exit::InstanceFailed,
            Error::Seat(e) => seat_exit(e),
            Error::Interrupted => Exit::Interrupted,
            Error::Usage(_) => Exit::Usage,
            Error::Internal(_) => Exit::Internal,
        }
    }
}

/// `act` and `join`: a bad address or token, or a line the server could
/// not read, is a usage error (2); a move the server refused (a role, the
/// rate limit, a drill that is over) fails (1); no server is an instance
/// that is gone (4).
fn seat_exit(e: &crate::serve::client::Error) -> Exit {
    use crate::serve::client::Error as Seat;
    match e {
        Seat::BadUrl(_) => Exit::Usage,
        Seat::Refused {
            status: 400 | 401 | 413,
            ..
        } => Exit::Usage,
        Seat::Refused { .. } => Exit::CheckFailed,
        Seat::Unreachable { .. } => Exit::InstanceFailed,
    }
}

/// A benchmark's error, as the command line reports it.
impl From<crate::bench::Error> for Error {
    fn from(e: crate::bench::Error) -> Error {
        use crate::bench::Error as Bench;
        match e {
            Bench::Instance(e) => Error::Instance(e),
            Bench::Scenario(e) => Error::Scenario(e),
            Bench::Usage(m) => Error::Usage(m),
            Bench::Write { path, source } => Error::WriteOutput { path, source },
            Bench::Failed(m) => Error::Internal(m),
        }
    }
}

/// pgdrill's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Success: the drill, quiz or re-scored transcript passed.
    Ok,
    /// A check failed: the drill, the transcript or the quiz did not pass,
    /// `grade` flagged a transcript, `gc` could not reap everything.
    CheckFailed,
    /// A bad command line.
    Usage,
    /// This machine cannot run instances yet (`pgdrill doctor` says why).
    NotReady,
    /// An instance failed to start, or its server died.
    InstanceFailed,
    /// An input file is wrong: scenario, quiz, script, transcript, SQL.
    BadInput,
    /// A bug in pgdrill (sysexits' EX_SOFTWARE).
    Internal,
    /// Interrupted (Ctrl-C, SIGTERM, SIGHUP), after cleaning up.
    Interrupted,
}

impl Exit {
    /// Every code, in the README's order.
    pub const ALL: [Exit; 8] = [
        Exit::Ok,
        Exit::CheckFailed,
        Exit::Usage,
        Exit::NotReady,
        Exit::InstanceFailed,
        Exit::BadInput,
        Exit::Internal,
        Exit::Interrupted,
    ];

    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::CheckFailed => 1,
            Exit::Usage => 2,
            Exit::NotReady => 3,
            Exit::InstanceFailed => 4,
            Exit::BadInput => 5,
            Exit::Internal => 70,
            Exit::Interrupted => 130,
        }
    }

    /// [`Exit::Ok`] when a verdict passed, else [`Exit::CheckFailed`].
    pub fn verdict(passed: bool) -> std::process::ExitCode {
        if passed { Exit::Ok } else { Exit::CheckFailed }.into()
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> std::process::ExitCode {
        std::process::ExitCode::from(exit.code())
    }
}

fn script_problems(path: &std::path::Path, problems: &[(usize, String)]) -> String {
    problems
        .iter()
        .map(|(line, message)| format!("{}:{line}: {message}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::Exit;

    #[test]
    fn the_readme_lists_every_exit_code_and_no_other() {
        let readme = include_str!("../README.md");
        let table = readme
            .split("## Exit codes")
            .nth(1)
            .and_then(|rest| rest.split("\n## ").next())
            .expect("the README has an Exit codes section");
        let listed: Vec<u8> = table
            .lines()
            .filter_map(|l| {
                l.strip_prefix("| ")?
                    .split(" |")
                    .next()?
                    .trim()
                    .parse()
                    .ok()
            })
            .collect();
        let codes: Vec<u8> = Exit::ALL.iter().map(|e| e.code()).collect();
        assert_eq!(listed, codes, "README's exit codes vs error.rs");
        // And `--help` says the same codes.
        use clap::CommandFactory;
        let help = crate::cli::Cli::command().render_long_help().to_string();
        for code in codes.iter().filter(|c| **c != 0) {
            assert!(
                help.contains(&format!("{code} ")),
                "--help lacks exit code {code}"
            );
        }
    }
}

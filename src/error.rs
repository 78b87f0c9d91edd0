//! pgdrill's top-level error, and the one place that maps errors to exit codes.
//!
//! | code | meaning |
//! | ---- | ------- |
//! | 0    | success |
//! | 1    | a check failed: the drill (or re-scored transcript) did not pass |
//! | 2    | bad command line |
//! | 3    | this machine cannot run instances (binaries, users, directories) |
//! | 4    | an instance failed to start, or its server died |
//! | 5    | an input file is wrong: scenario, script, transcript, SQL |
//! | 130  | interrupted (Ctrl-C, SIGTERM, SIGHUP); instances were cleaned up |

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

    /// The process exit code for this error (documented in the README).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Instance(e) if e.is_environment() => 3,
            Error::Instance(instance::Error::Io { .. }) => 3,
            Error::Instance(_) => 4,
            Error::NotReady => 3,
            Error::ServerDied { .. } | Error::DrillServerDied { .. } => 4,
            Error::SqlFile { .. }
            | Error::ReadInput { .. }
            | Error::WriteOutput { .. }
            | Error::Quiz(_) => 5,
            Error::Scenario(_)
            | Error::Invalid(_)
            | Error::Script { .. }
            | Error::Transcript(_)
            | Error::Mismatch(_) => 5,
            Error::Drill(_) => 4,
            Error::Interrupted => 130,
            Error::Usage(_) => 2,
            Error::Internal(_) => 1,
        }
    }
}

fn script_problems(path: &std::path::Path, problems: &[(usize, String)]) -> String {
    problems
        .iter()
        .map(|(line, message)| format!("{}:{line}: {message}", path.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

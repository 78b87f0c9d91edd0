//! The command line as clap parses it (stage one): the commands, their
//! options, and the folder options each command that uses them takes.

use std::ffi::OsString;
use std::path::PathBuf;

use super::bench::{BenchArgs, BenchCommand};
use clap::{Parser, Subcommand};

use super::grade;

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
  PGDRILL_SCENARIOS    scenario folder (same as --scenarios; default: ./scenarios)
  PGDRILL_QUIZZES      quiz folder (same as --quizzes; default: ./quizzes)
  PGDRILL_LEARNER      the learner's name recorded in transcripts (same as run --learner)
  PGDRILL_SIGNING_KEY  HMAC key: `run` signs transcripts, `grade --key` verifies them
  RUST_LOG             log filter, e.g. RUST_LOG=pgdrill=debug

Exit codes: 0 ok, 1 check failed, 2 bad usage, 3 machine not ready (run `pgdrill doctor`),
4 instance failed, 5 bad input file, 70 internal error (a bug), 130 interrupted (cleaned up).")]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the PostgreSQL binaries are, for the commands that start servers.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ServerOpts {
    /// Directory holding the PostgreSQL server binaries (initdb, postgres).
    /// Default: PGDRILL_PG_BIN, then PATH, then `pg_config --bindir`, then
    /// the newest /usr/lib/postgresql/*/bin.
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,
    /// Where servers run: `local` (this machine's PostgreSQL binaries),
    /// `docker` (a container per server; needs nothing of PostgreSQL on the
    /// host), or `auto`: local when the binaries are found, else Docker.
    #[arg(long, value_enum, value_name = "BACKEND", env = "PGDRILL_BACKEND", default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    /// The PostgreSQL image of the Docker backend (default postgres:17; a
    /// machine without registry access builds one with
    /// docker/build-postgres-image).
    #[arg(long, value_name = "IMAGE", env = "PGDRILL_IMAGE")]
    pub image: Option<String>,
    /// The server of the external backend, as an administrator that may
    /// create databases and roles: postgres://USER[:PASSWORD]@HOST:PORT/DB
    /// (the password may come from PGPASSWORD). Each drill works in a
    /// database and role of its own, named pgdrill_..., dropped at its end.
    #[arg(long, value_name = "URL", env = "PGDRILL_URL", hide_env_values = true)]
    pub url: Option<String>,
    /// Go ahead on an external server that is not on this machine.
    #[arg(long)]
    pub yes: bool,
}

/// Where servers run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum BackendChoice {
    /// Local binaries when found, else Docker.
    #[default]
    Auto,
    /// PostgreSQL binaries on this machine.
    Local,
    /// A Docker container per server.
    Docker,
    /// A database per server on an existing PostgreSQL (`--url`).
    External,
}

/// Where the scenarios are, for the commands that read them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ScenarioOpts {
    /// Folder of scenario files (scenarios are named by id or by path).
    #[arg(long, value_name = "DIR", env = "PGDRILL_SCENARIOS")]
    pub scenarios: Option<PathBuf>,
}

/// Where the quizzes are, for the commands that read them.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct QuizOpts {
    /// Folder of quiz files (quizzes are named by id or by path).
    #[arg(long, value_name = "DIR", env = "PGDRILL_QUIZZES")]
    pub quizzes: Option<PathBuf>,
}

/// How a drill is played and kept, for `run` and `serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct DrillOpts {
    /// Write the transcript (every event, move and metrics window) as JSON.
    /// Interactive and served drills are also kept under the state directory.
    #[arg(long, value_name = "FILE")]
    pub transcript: Option<PathBuf>,
    /// Seed for the workload's random choices (same seed, same requests).
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Scenario seconds per real second: 10 plays a 5-minute drill in 30 s.
    /// Requests and latencies stay real.
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub time_scale: f64,
    /// Print the score as JSON (and nothing else on stdout; `serve` prints
    /// its seats as one JSON line first).
    #[arg(long)]
    pub json: bool,
    /// Your name as the instructor will see it in `pgdrill grade`
    /// (default: your login name; for `serve`, the team's name, `team`).
    #[arg(long, value_name = "NAME", env = "PGDRILL_LEARNER")]
    pub learner: Option<String>,
    /// Rows to generate in a fixture table instead of the scenario's
    /// number, e.g. `--rows users=1000000` (repeat it, or separate with
    /// commas, for several tables). A seeded database is built once per
    /// volume and cached: later drills at that volume copy it.
    #[arg(long, value_name = "TABLE=N", value_parser = super::volume::parse_rows, value_delimiter = ',')]
    pub rows: Vec<(String, u64)>,
    /// Multiply every table's generated rows, e.g. `--scale 50` (`--rows`
    /// still sets a table exactly).
    #[arg(long, value_name = "FACTOR", value_parser = super::volume::parse_factor)]
    pub scale: Option<f64>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Play a drill: an incident on a real, disposable PostgreSQL with live traffic.
    ///
    /// Shows the briefing, starts and seeds a server, starts the app's pods,
    /// then gives you a prompt (type `help`). The timeline injects the fault;
    /// you respond with moves; `resolve` ends the drill and shows your score.
    /// With --script the moves come from a file instead (one per line,
    /// optionally `at 1m30s: MOVE`; `#` starts a comment).
    ///
    /// Exit code: 0 passed, 1 failed, 130 interrupted.
    #[command(after_help = "Examples:
  pgdrill run mixed-version-rename
  pgdrill run mixed-version-rename --script scenarios/solutions/mixed-version-rename.reference.txt --time-scale 10 --transcript run.json
  pgdrill score run.json")]
    Run {
        /// Scenario id (see `pgdrill list`) or path to a .toml file.
        scenario: String,
        /// Play the moves in this file instead of prompting.
        #[arg(long, value_name = "FILE")]
        script: Option<PathBuf>,
        /// `--transcript`, `--seed`, `--time-scale`, `--json`, `--learner`.
        #[command(flatten)]
        drill: DrillOpts,
        /// `--pg-bin`.
        #[command(flatten)]
        server: ServerOpts,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// Host a game day: one drill, several people, each at their own terminal.
    ///
    /// Starts the drill as `run` does, and an HTTP server for the team.
    /// Each participant gets a token; they act with `pgdrill join URL
    /// --token T` (a prompt with the team's live feed) or `pgdrill act` (one
    /// move, for scripts). Roles: the commander may do everything and is
    /// the only one who declares, communicates and resolves; operators make
    /// the other moves; observers only look; the game master injects the
    /// scenario's reserve faults (`faults`, `inject NAME`), pauses and
    /// resumes the clock, and can `end` the drill. The transcript records
    /// who made each move. Tokens are shown once, here.
    ///
    /// Exit code: 0 passed, 1 failed, 130 interrupted.
    #[command(after_help = "Examples:
  pgdrill serve lock-queue-timeout
  pgdrill serve lock-queue-timeout --participants ic=commander,alice=operator,bob=operator,gm=game-master --json
  pgdrill join http://127.0.0.1:41234/ --token TOKEN")]
    Serve {
        /// Scenario id (see `pgdrill list`) or path to a .toml file.
        scenario: String,
        /// Who takes part, as NAME=ROLE pairs (roles: commander, operator,
        /// observer, game-master; at least one commander).
        #[arg(
            long,
            value_name = "LIST",
            default_value = "ic=commander,op=operator,watch=observer,gm=game-master"
        )]
        participants: String,
        /// Address to listen on (port 0: any free port).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
        listen: std::net::SocketAddr,
        /// Allow an address other machines can reach (plain HTTP: tokens
        /// cross the network unencrypted).
        #[arg(long)]
        allow_remote: bool,
        /// A class instead of a team: N learners, each with a drill of their
        /// own that starts when they first connect, and an instructor who
        /// watches them all. Transcripts are signed with PGDRILL_SIGNING_KEY
        /// on the server, into --class-dir (`pgdrill grade DIR --key`).
        #[arg(long, value_name = "N", conflicts_with = "participants", value_parser = clap::value_parser!(u16).range(1..=200))]
        class: Option<u16>,
        /// Where a class's transcripts go (default: under the state
        /// directory, `classes/SCENARIO-TIME`).
        #[arg(long, value_name = "DIR", requires = "class")]
        class_dir: Option<PathBuf>,
        /// `--transcript`, `--seed`, `--time-scale`, `--json`, `--learner`
        /// (the team's name).
        #[command(flatten)]
        drill: DrillOpts,
        /// `--pg-bin`.
        #[command(flatten)]
        server: ServerOpts,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// Take your seat in a served drill: the same prompt as `run`, with the team's feed.
    ///
    /// Every alert and everyone's moves appear above the prompt as they
    /// happen, with who made them. `quit` leaves; the drill goes on.
    ///
    /// Exit code: 0 when the drill ended, 2 for a bad token, 4 when the
    /// server cannot be reached.
    #[command(after_help = "Example:
  pgdrill join http://127.0.0.1:41234/ --token TOKEN")]
    Join {
        /// The URL `pgdrill serve` printed.
        url: String,
        /// Your token (or PGDRILL_TOKEN, which keeps it out of `ps`).
        #[arg(long, env = "PGDRILL_TOKEN", hide_env_values = true)]
        token: String,
    },
    /// Send one move to a served drill and print its answer (for scripts).
    ///
    /// Exit code: 0 done, 1 refused (your role may not, the rate limit, the
    /// drill is over) or failed, 2 bad usage (a move that does not parse, a
    /// bad token), 4 when the server cannot be reached.
    #[command(after_help = "Example:
  pgdrill act --server http://127.0.0.1:41234/ --token TOKEN \"flag set new_checkout off\"")]
    Act {
        /// The URL `pgdrill serve` printed.
        #[arg(long, value_name = "URL", env = "PGDRILL_SERVER")]
        server: String,
        /// Your token (or PGDRILL_TOKEN, which keeps it out of `ps`).
        #[arg(long, env = "PGDRILL_TOKEN", hide_env_values = true)]
        token: String,
        /// The move, as you would type it at the prompt.
        #[arg(value_name = "MOVE", required = true, num_args = 1..)]
        line: Vec<String>,
    },
    /// List the scenarios.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// Show a scenario's briefing: story, objectives, SLO, RTO and moves.
    Show {
        /// Scenario id or path.
        scenario: String,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// Classify SQL the way the drills do, with PostgreSQL's own parser.
    ///
    /// For each statement: its kind (expand, contract, data, read, other),
    /// whether it destroys data, the strongest table lock it takes (as
    /// `pg_locks` names it), whether it can run inside a transaction
    /// block, and the doctrine sentence that applies. Exit code 5 when the
    /// SQL does not parse (with file:line:col).
    #[command(after_help = "Examples:
  pgdrill classify migrations/002_add_phone.sql
  git show HEAD:db/migrate.sql | pgdrill classify - --json")]
    Classify {
        /// A SQL file, or `-` for standard input.
        file: PathBuf,
        /// Print a JSON array: sql, kind, destructive, lock, transactional, why.
        #[arg(long)]
        json: bool,
    },
    /// Check scenario and quiz files and report every problem with file:line:col.
    Validate {
        /// Files or folders (default: the scenario and quiz folders).
        paths: Vec<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
        /// `--quizzes`.
        #[command(flatten)]
        quiz_dir: QuizOpts,
    },
    /// Re-score a saved transcript, without a database.
    Score {
        /// The transcript (JSON, from `run --transcript`).
        transcript: PathBuf,
        /// The scenario file to score against (default: the one the transcript names).
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// Write the evidence of a played drill: incident timeline, failure
    /// signal, RTO/RPO, score and a postmortem skeleton.
    ///
    /// Built from the transcript alone (no database), re-scored with the
    /// scenario it names. Markdown is for the incident ticket and the
    /// postmortem; HTML is one page with charts of error rate and p99 per
    /// app version, your moves and the recovery marked; JSON carries the
    /// same facts for scripts.
    #[command(after_help = "Examples:
  pgdrill report run.json                  # Markdown on stdout
  pgdrill report run.json -o incident.md
  pgdrill report run.json --format json -o incident.json
  pgdrill report run.json --format html -o incident.html   # charts; open in a browser")]
    Report {
        /// The transcript (JSON, from `run --transcript`, or kept by an interactive run).
        transcript: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
        format: ReportFormat,
        /// Write to this file instead of stdout.
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// The scenario file (default: the one the transcript names).
        #[arg(long, value_name = "FILE")]
        scenario: Option<PathBuf>,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// Grade a class: re-score every transcript and print the class table.
    ///
    /// Each transcript is re-scored from its events with your copy of its
    /// scenario (a stored score is never trusted), and checked: its hash
    /// chain (edited or cut short?), the fingerprint of the scenario files
    /// it was played against (changed?) and, with --key, its signature.
    /// Files that cannot be graded are listed with the reason; they never
    /// stop the others. Folders are searched for *.json (reports saved as
    /// *.evidence.json are skipped).
    ///
    /// Exit code: 0 every file was graded and none is flagged; 1 some file
    /// is flagged or could not be graded. Learners who failed do not change
    /// it: the table says who failed.
    #[command(after_help = "Examples:
  pgdrill grade submissions/
  pgdrill grade submissions/ --format csv -o grades.csv
  pgdrill grade submissions/ --format junit -o junit.xml --scenarios course/scenarios
  PGDRILL_SIGNING_KEY=$(cat lab.key) pgdrill grade submissions/ --key

What the checks prove: see \"Grading a class\" in the README. In short, the hash
chain catches edits made without pgdrill's algorithm; only a signature made with
a key the learner never had proves a transcript was not rewritten.")]
    Grade {
        /// Transcript files, or folders of them.
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = grade::GradeFormat::Table)]
        format: grade::GradeFormat,
        /// Write to this file instead of stdout (the summary still goes to stdout).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: Option<PathBuf>,
        /// Require signatures, verified with the key in PGDRILL_SIGNING_KEY;
        /// unsigned transcripts and other keys are flagged.
        #[arg(long)]
        key: bool,
        /// `--scenarios`.
        #[command(flatten)]
        scenario_dir: ScenarioOpts,
    },
    /// Take a quiz at the terminal, or grade an answers file.
    ///
    /// Single-choice, multiple-choice and ordering questions; after each
    /// answer you see why the right one is right and which runbook says so.
    /// Without QUIZ, lists the quizzes. Exit code: 0 passed, 1 failed.
    #[command(after_help = "Examples:
  pgdrill quiz                                  # list the quizzes
  pgdrill quiz chapter-16                       # take it interactively
  pgdrill quiz chapter-16 --print               # the questions and their letters
  pgdrill quiz chapter-16 --answers mine.toml --json

An answers file has one line per question id:
  classify-rename = \"B\"
  expand-changes = \"A B D\"
  rollback-order = \"C A D B\"    # ordering: the letters in your order")]
    Quiz {
        /// Quiz id (see `pgdrill quiz`) or path to a .toml file.
        quiz: Option<String>,
        /// Grade the answers in this file (TOML) instead of asking.
        #[arg(long, value_name = "FILE")]
        answers: Option<PathBuf>,
        /// Print the questions with their letters, to write an answers file.
        #[arg(long, conflicts_with = "answers")]
        print: bool,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
        /// `--quizzes`.
        #[command(flatten)]
        quiz_dir: QuizOpts,
    },
    /// Check that this machine can run pgdrill, and say how to fix what is missing.
    Doctor {
        /// Print the checks as JSON.
        #[arg(long)]
        json: bool,
        /// `--pg-bin`.
        #[command(flatten)]
        server: ServerOpts,
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
        /// `--pg-bin`.
        #[command(flatten)]
        server: ServerOpts,
    },
    /// List or clean up the instances of this user.
    #[command(subcommand)]
    Instances(InstancesCommand),
    /// Measure pgdrill against its peers, each figure beside a peer run on
    /// the same machine: every benchmark, or one (`bench provision`).
    ///
    /// `pgdrill bench --quick` runs each briefly (a smaller volume, one or
    /// two runs: about a minute), a smoke run that prints figures, as CI
    /// does. Build with optimisations for figures worth quoting:
    /// `cargo run --release -- bench`.
    #[command(args_conflicts_with_subcommands = true)]
    Bench(BenchArgs),
    /// Print shell completions for bash, zsh, fish, elvish or powershell.
    #[command(after_help = "Examples:
  pgdrill completions bash > ~/.local/share/bash-completion/completions/pgdrill
  pgdrill completions zsh > ~/.zfunc/_pgdrill
  pgdrill completions fish > ~/.config/fish/completions/pgdrill.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print pgdrill's man page (roff).
    #[command(after_help = "Example:
  pgdrill man > ~/.local/share/man/man1/pgdrill.1 && man pgdrill")]
    Man,
}

impl Command {
    /// The folder options the command was given: binaries, scenarios,
    /// quizzes (each only on the commands that use it).
    pub(super) fn opts(&self) -> (Option<&ServerOpts>, Option<&PathBuf>, Option<&PathBuf>) {
        let (server, scenarios, quizzes) = match self {
            Command::Run {
                server,
                scenario_dir,
                ..
            }
            | Command::Serve {
                server,
                scenario_dir,
                ..
            } => (Some(server), Some(scenario_dir), None),
            Command::Validate {
                scenario_dir,
                quiz_dir,
                ..
            } => (None, Some(scenario_dir), Some(quiz_dir)),
            Command::List { scenario_dir, .. }
            | Command::Show { scenario_dir, .. }
            | Command::Score { scenario_dir, .. }
            | Command::Report { scenario_dir, .. }
            | Command::Grade { scenario_dir, .. }
            | Command::Bench(BenchArgs {
                command: Some(BenchCommand::Grade { scenario_dir, .. }),
                ..
            }) => (None, Some(scenario_dir), None),
            Command::Quiz { quiz_dir, .. } => (None, None, Some(quiz_dir)),
            Command::Doctor { server, .. }
            | Command::Up { server, .. }
            | Command::Bench(BenchArgs {
                command: Some(BenchCommand::Provision { server, .. }),
                ..
            }) => (Some(server), None, None),
            Command::Bench(BenchArgs {
                command:
                    Some(
                        BenchCommand::Volume {
                            server,
                            scenario_dir,
                            ..
                        }
                        | BenchCommand::Restore {
                            server,
                            scenario_dir,
                            ..
                        }
                        | BenchCommand::Fleet {
                            server,
                            scenario_dir,
                            ..
                        }
                        | BenchCommand::Memory {
                            server,
                            scenario_dir,
                            ..
                        }
                        | BenchCommand::Class {
                            server,
                            scenario_dir,
                            ..
                        },
                    ),
                ..
            })
            | Command::Bench(BenchArgs {
                command: None,
                server,
                scenario_dir,
                ..
            }) => (Some(server), Some(scenario_dir), None),
            Command::Instances(_)
            | Command::Join { .. }
            | Command::Act { .. }
            | Command::Classify { .. }
            | Command::Completions { .. }
            | Command::Man => (None, None, None),
        };
        (
            server,
            scenarios.and_then(|s| s.scenarios.as_ref()),
            quizzes.and_then(|q| q.quizzes.as_ref()),
        )
    }
}

/// Formats of `pgdrill report`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReportFormat {
    /// Markdown: the incident timeline and a postmortem skeleton.
    Md,
    /// JSON: the same evidence, structured.
    Json,
    /// HTML: one self-contained page with charts (no network needed).
    Html,
}

impl From<ReportFormat> for crate::report::Format {
    fn from(f: ReportFormat) -> Self {
        match f {
            ReportFormat::Md => crate::report::Format::Markdown,
            ReportFormat::Json => crate::report::Format::Json,
            ReportFormat::Html => crate::report::Format::Html,
        }
    }
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
    /// Stop orphaned servers and delete their files, remove the containers
    /// of dead runs, and with --url drop the databases and roles dead runs
    /// left on that server (every start does all this too).
    Gc {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// An external server to clean up, as for `run --backend external`.
        #[arg(long, value_name = "URL", env = "PGDRILL_URL", hide_env_values = true)]
        url: Option<String>,
    },
}

fn parse_scale(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if (0.1..=1000.0).contains(&x) => Ok(x),
        _ => Err(format!("`{text}` is not a time scale between 0.1 and 1000")),
    }
}

/// Parses arguments (stage one).
pub fn parse<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    Cli::try_parse_from(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn folder_options_belong_to_the_commands_that_use_them() {
        let cli = parse(["pgdrill", "up", "--pg-bin", "/x"]).unwrap();
        assert_eq!(
            cli.command.opts().0.and_then(|s| s.pg_bin.as_ref()),
            Some(&PathBuf::from("/x"))
        );
        let cli = parse(["pgdrill", "validate", "--quizzes", "q", "--scenarios", "s"]).unwrap();
        let (_, scenarios, quizzes) = cli.command.opts();
        assert_eq!((scenarios, quizzes), (Some(&"s".into()), Some(&"q".into())));
        // Regression: `run --help` listed --quizzes, which `run` ignores.
        assert!(parse(["pgdrill", "run", "x", "--quizzes", "q"]).is_err());
        assert!(parse(["pgdrill", "quiz", "--pg-bin", "/x"]).is_err());
        use clap::CommandFactory;
        let run_help = Cli::command()
            .find_subcommand_mut("run")
            .unwrap()
            .render_long_help()
            .to_string();
        assert!(!run_help.contains("--quizzes"), "{run_help}");
        assert!(run_help.contains("--scenarios") && run_help.contains("--pg-bin"));
    }
}

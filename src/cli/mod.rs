//! The command line: dispatch to one file per command (the clap
//! definitions are in `args.rs`).
//!
//! Two stages, as in ripgrep: clap parses raw arguments into [`Cli`], then
//! [`Context`] turns them (with the environment) into validated domain
//! objects. Domain modules never see clap types. This is the only module that
//! writes to the terminal.

mod args;
mod bench;
mod bench_data;
mod classify;
mod doctor;
mod grade;
mod instances;
mod join;
mod play;
mod progress;
mod quiz;
mod run;
mod scenarios;
mod score;
mod serve;
mod signals;
mod sqlfile;
#[cfg(test)]
mod tests_readme;
mod up;
mod volume;

use std::path::PathBuf;

use crate::Error;
use crate::instance::binaries::{Origin, Requested};
use crate::instance::{
    AnyBackend, Dirs, DockerBackend, ExternalBackend, LocalBackend, PgBinaries, RunAs,
};
use args::BackendChoice;

pub use args::{
    Cli, Command, InstancesCommand, QuizOpts, ReportFormat, ScenarioOpts, ServerOpts, parse,
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
    /// `--backend`.
    pub backend: BackendChoice,
    /// `--image`, for the Docker backend.
    pub image: Option<String>,
    /// `--url`, for the external backend.
    pub url: Option<String>,
    /// `--yes`: an external server off this machine is fine.
    pub yes: bool,
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
        let (server, scenario_dir, quiz_dir) = cli.command.opts();
        let pg_bin = server.and_then(|s| s.pg_bin.as_ref());
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
        let dirs = Dirs::from_env();
        // The folder given, else the working directory's, else the course
        // set built into this binary (written out once into the cache).
        let folder = |given: Option<&PathBuf>, name: &str| {
            given.cloned().unwrap_or_else(|| {
                let local = PathBuf::from(name);
                if local.is_dir() {
                    return local;
                }
                crate::course::folder(&dirs.cache)
                    .map(|d| d.join(name))
                    .unwrap_or(local)
            })
        };
        let scenarios = folder(scenario_dir, "scenarios");
        let quizzes = folder(quiz_dir, "quizzes");
        Context {
            requested_bin,
            backend: server.map_or(BackendChoice::Auto, |s| s.backend),
            image: server.and_then(|s| s.image.clone()),
            url: server.and_then(|s| s.url.clone()),
            yes: server.is_some_and(|s| s.yes),
            run_as,
            dirs,
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

    /// The backend `--backend` chose, and a line saying which and why;
    /// for `auto`, local binaries when found, else Docker when its engine
    /// answers, else why neither can run.
    pub async fn backend(&self) -> Result<(AnyBackend, String), Error> {
        let image = self
            .image
            .clone()
            .unwrap_or_else(|| crate::instance::DEFAULT_IMAGE.to_string());
        let docker = || AnyBackend::Docker(DockerBackend::new(&image, self.dirs.clone()));
        match self.backend {
            BackendChoice::Local => {
                let local = self.local_backend()?;
                let why = format!("backend local: {}", local.binaries().version);
                Ok((AnyBackend::Local(local), why))
            }
            BackendChoice::Docker => Ok((docker(), format!("backend docker: image {image}"))),
            BackendChoice::External => {
                let url = self.url.as_deref().ok_or_else(|| {
                    Error::Usage(
                        "--backend external needs the server: --url postgres://USER@HOST:PORT/DB (or PGDRILL_URL)"
                            .into(),
                    )
                })?;
                let external = ExternalBackend::new(url, &self.dirs.state, self.yes)?;
                let why = format!("backend external: {}", external.server());
                Ok((AnyBackend::External(external), why))
            }
            BackendChoice::Auto => {
                let local = self.local_backend();
                // Docker is asked only when it could be chosen.
                let engine = match &local {
                    Err(_) if !self.local_is_explicit() => DockerBackend::engine().await.ok(),
                    _ => None,
                };
                match auto(local, self.local_is_explicit(), engine) {
                    Auto::Local(local) => {
                        let why = format!(
                            "backend local (auto): {} in {}",
                            local.binaries().version,
                            local.binaries().bindir.display()
                        );
                        Ok((AnyBackend::Local(local), why))
                    }
                    Auto::Docker(engine) => Ok((
                        docker(),
                        format!(
                            "backend docker (auto): no usable PostgreSQL binaries here, Docker {engine} answers; image {image}"
                        ),
                    )),
                    Auto::Neither(e) => Err(e),
                }
            }
        }
    }

    /// Whether the local backend was configured on purpose (`--pg-bin`,
    /// `PGDRILL_PG_BIN`, `PGDRILL_RUN_AS`): then `auto` means it, and a
    /// mistake in it is an error, not a reason to use Docker.
    fn local_is_explicit(&self) -> bool {
        self.requested_bin.is_some() || self.run_as.is_some()
    }

    /// The local backend, or why it cannot run here.
    pub fn local_backend(&self) -> Result<LocalBackend, Error> {
        let bins = PgBinaries::locate(self.requested_bin.as_ref())?;
        let run_as = RunAs::resolve(self.run_as.as_deref())?;
        Ok(LocalBackend::new(bins, self.dirs.clone(), run_as)?)
    }
}

/// What `--backend auto` picks.
enum Auto<L, E> {
    /// The local backend.
    Local(L),
    /// Docker, whose engine gave this version.
    Docker(String),
    /// Neither: the local backend's error, which says how to fix it.
    Neither(E),
}

/// `auto`: the local backend when it can run; else Docker when its engine
/// answers, unless the local backend was configured on purpose.
fn auto<L, E>(local: Result<L, E>, explicit: bool, engine: Option<String>) -> Auto<L, E> {
    match (local, engine) {
        (Ok(l), _) => Auto::Local(l),
        (Err(e), _) if explicit => Auto::Neither(e),
        (Err(_), Some(engine)) => Auto::Docker(engine),
        (Err(e), None) => Auto::Neither(e),
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
            drill,
            ..
        } => {
            let learner = learner_name(drill.learner.clone());
            let at_terminal = script.is_none();
            let args = run_args(&ctx, &scenario, drill, learner, script, at_terminal)?;
            run::run(&ctx, args, &interrupt, &mut out).await
        }
        Command::Serve {
            scenario,
            participants,
            listen,
            allow_remote,
            class,
            class_dir,
            drill,
            ..
        } => {
            if let Some(n) = class {
                let team = drill.learner.clone();
                let mut args = run_args(&ctx, &scenario, drill, team, None, false)?;
                args.app_listen.set_ip(listen.ip());
                let room = serve::Room {
                    learners: usize::from(n),
                    listen,
                    allow_remote,
                    folder: class_dir,
                };
                return serve::class(&ctx, args, room, &interrupt, &mut out).await;
            }
            let seats = serve::Seats {
                participants: crate::serve::roles::parse_participants(&participants)
                    .map_err(|e| Error::Usage(format!("--participants: {e}")))?,
                listen,
                allow_remote,
            };
            let team = drill.learner.clone().or_else(|| Some("team".to_string()));
            let mut args = run_args(&ctx, &scenario, drill, team, None, false)?;
            // The app answers where the team connects.
            args.app_listen.set_ip(listen.ip());
            serve::serve(&ctx, args, seats, &interrupt, &mut out).await
        }
        Command::Join { url, token } => join::join(&url, &token, &interrupt).await,
        Command::Act {
            server,
            token,
            line,
        } => join::act(&server, &token, &line.join(" "), &mut out).await,
        Command::Quiz {
            quiz,
            answers,
            print,
            json,
            ..
        } => {
            let args = quiz::QuizArgs {
                quiz,
                answers,
                print,
                json,
            };
            quiz::run(&ctx.quizzes, args, &interrupt, &mut out).await
        }
        Command::Doctor { json, .. } => doctor::run(&ctx, json, &mut out).await,
        Command::Up { sql, json, .. } => up::run(&ctx, sql, json, &interrupt, &mut out).await,
        Command::Instances(InstancesCommand::List { json, .. }) => {
            instances::list(&ctx, json, &mut out)
        }
        Command::Instances(InstancesCommand::Gc { json, url }) => {
            instances::gc(&ctx, json, url.as_deref(), &mut out).await
        }
        Command::Bench(args) => bench::run(&ctx, args, &interrupt, &mut out).await,
        other => offline(&ctx, other, &mut out),
    }
}

/// The commands that start no server: they read files and print.
fn offline(
    ctx: &Context,
    command: Command,
    out: &mut impl std::io::Write,
) -> Result<std::process::ExitCode, Error> {
    match command {
        Command::List { json, .. } => {
            let built_in = ctx.scenarios.starts_with(ctx.dirs.cache.join("course"));
            scenarios::list(&ctx.scenarios, built_in, json, out)
        }
        Command::Show { scenario, .. } => {
            scenarios::show(&crate::scenario::resolve(&scenario, &ctx.scenarios)?, out)
        }
        Command::Validate { paths, json, .. } => {
            scenarios::validate(&paths, &ctx.scenarios, &ctx.quizzes, json, out)
        }
        Command::Score {
            transcript,
            scenario,
            json,
            ..
        } => score::run(&transcript, scenario, &ctx.scenarios, json, out),
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
            out,
        ),
        Command::Grade {
            paths,
            format,
            output,
            key,
            ..
        } => grade::run(
            ctx,
            grade::GradeArgs {
                paths,
                format,
                output,
                key,
            },
            out,
        ),
        Command::Classify { file, json } => classify::run(&file, json, out),
        Command::Completions { shell } => completions(shell, out),
        Command::Man => man(out),
        _ => Err(Error::Internal(
            "a command that starts a server reached the offline dispatcher".into(),
        )),
    }
}

/// A drill's settings from its options.
fn run_args(
    ctx: &Context,
    scenario: &str,
    drill: args::DrillOpts,
    learner: Option<String>,
    script: Option<PathBuf>,
    at_terminal: bool,
) -> Result<run::RunArgs, Error> {
    Ok(run::RunArgs {
        learner,
        scenario: crate::scenario::resolve(scenario, &ctx.scenarios)?,
        at_terminal,
        app_listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        script,
        transcript: drill.transcript,
        seed: drill.seed,
        time_scale: drill.time_scale,
        json: drill.json,
        volume: volume::Volume {
            rows: drill.rows.into_iter().collect(),
            scale: drill.scale,
        },
    })
}

/// `pgdrill completions SHELL`.
fn completions(
    shell: clap_complete::Shell,
    out: &mut impl std::io::Write,
) -> Result<std::process::ExitCode, Error> {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "pgdrill", out);
    Ok(std::process::ExitCode::SUCCESS)
}

/// `pgdrill man`: the man page, from the same definitions as `--help`.
fn man(out: &mut impl std::io::Write) -> Result<std::process::ExitCode, Error> {
    use clap::CommandFactory;
    match clap_mangen::Man::new(Cli::command()).render(out) {
        // `pgdrill man | head`: a closed pipe is not an error.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::Internal(format!("writing the man page: {e}")))
        }
        _ => Ok(std::process::ExitCode::SUCCESS),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_prefers_local_binaries_then_docker_unless_local_was_asked_for() {
        let engine = || Some("28.2".to_string());
        let found = || Ok::<&str, &str>("local");
        let missing = || Err::<&str, &str>("no binaries");
        assert!(matches!(
            auto(found(), false, engine()),
            Auto::Local("local")
        ));
        assert!(matches!(auto(missing(), false, engine()), Auto::Docker(v) if v == "28.2"));
        assert!(matches!(
            auto(missing(), false, None),
            Auto::Neither("no binaries")
        ));
        // --pg-bin or PGDRILL_RUN_AS set: their mistake is the answer.
        assert!(matches!(
            auto(missing(), true, engine()),
            Auto::Neither("no binaries")
        ));
    }
}

//! `pgdrill run SCENARIO`: play a drill, at a prompt or from a script.
//!
//! This file sets a drill up (scenario, script, server, briefing) and
//! finishes it (score, seal, save, report); `play.rs` plays it.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use super::{Context, Interrupt, progress::Spinner, say};
use crate::action;
use crate::drill::{self, Drill, Options, Target};
use crate::instance::Backend;
use crate::transcript::{EndReason, Transcript};
use crate::{Error, Exit};

/// Settings of `pgdrill run`.
#[derive(Clone)]
pub struct RunArgs {
    /// Scenario file.
    pub scenario: PathBuf,
    /// Moves to play instead of a prompt.
    pub script: Option<PathBuf>,
    /// Where to write the transcript.
    pub transcript: Option<PathBuf>,
    /// Workload seed.
    pub seed: u64,
    /// Scenario seconds per real second.
    pub time_scale: f64,
    /// Print the score as JSON at the end.
    pub json: bool,
    /// Who plays.
    pub learner: Option<String>,
    /// Whether a learner plays at this terminal: the clock starts on
    /// Enter, and the report is offered at the end.
    pub at_terminal: bool,
    /// The address the app's HTTP face listens on (port 0: any free one).
    pub app_listen: std::net::SocketAddr,
    /// Table sizes other than the scenario's.
    pub volume: super::volume::Volume,
}

/// The app's HTTP face of a drill (`$API_BASE_URL`), served until this is
/// dropped.
pub(super) struct AppFace {
    /// Its address: `http://127.0.0.1:PORT`.
    pub url: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for AppFace {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Listens for the app's requests, answered from what `face` says.
async fn app_face(
    addr: std::net::SocketAddr,
    face: tokio::sync::watch::Receiver<crate::workload::http::Face>,
) -> Result<AppFace, Error> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| crate::serve::Error::Listen { addr, source })?;
    let bound = listener
        .local_addr()
        .map_err(|source| crate::serve::Error::Listen { addr, source })?;
    Ok(AppFace {
        url: format!("http://{bound}"),
        server: crate::workload::http::serve(listener, face),
    })
}

/// A drill ready to play: its scenario, the key its transcript is signed
/// with, and the engine.
pub(super) struct Setup<'k> {
    pub scenario: Arc<crate::scenario::Scenario>,
    pub key: Option<&'k [u8]>,
    pub drill: Drill,
    /// The psql URL of the drill's database.
    pub psql: String,
    /// The app's HTTP face.
    pub app: AppFace,
}

/// Runs a drill: load and check everything the learner gave, start and
/// prepare the database, brief, play, then score, seal, save and tell.
pub async fn run(
    ctx: &Context,
    args: RunArgs,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let script = read_script(&args)?;
    let Setup {
        scenario,
        key,
        drill,
        // Served until the drill is over.
        app: _app,
        ..
    } = setup(ctx, &args, interrupt, out).await?;
    let played = super::play::drive(drill, script, args.json, interrupt).await?;
    finish(ctx, &args, &scenario, key, played, out)
}

/// Loads and checks everything the learner gave, starts and prepares the
/// database, and briefs: a drill ready to play.
pub(super) async fn setup<'c>(
    ctx: &'c Context,
    args: &RunArgs,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<Setup<'c>, Error> {
    let mut scenario = crate::scenario::load(&args.scenario)?;
    let volume = args.volume.apply(&scenario.fixture.rows);
    if let Some(rows) = &volume {
        scenario.fixture.rows = rows.clone();
    }
    let scenario = Arc::new(scenario);
    // Checked before a server starts, so a bad key costs nothing.
    let key = ctx.signing_key()?;
    let (face_tx, face_rx) = tokio::sync::watch::channel(crate::workload::http::Face::default());
    let app = app_face(args.app_listen, face_rx).await?;
    if !args.json {
        say!(out, "{}", crate::action::briefing(&scenario));
    }
    let _ = out.flush();

    let (backend, why) = ctx.backend().await?;
    if !args.json {
        say!(out, "{why}");
    }
    let (instance, audited) = start(&backend, &scenario, interrupt).await?;
    if !audited && !args.json {
        say!(
            out,
            "note: the server's role is not a superuser, so DDL typed in other clients (psql) is not seen or scored"
        );
    }
    let target = Target {
        name: "primary".into(),
        info: instance.info().clone(),
        app_url: instance.url(),
        superuser_url: instance.superuser_url(),
    };
    // The address people's psql uses: it follows the cutover, and what is
    // typed through it is recorded. Without it (no free port), the
    // server's own URL, as before.
    let endpoints =
        crate::service::Service::open("127.0.0.1", drill::Target::upstream(&target)).ok();
    let psql = endpoints.as_ref().map_or_else(
        || target.app_url.clone(),
        |(s, _)| crate::service::url_at(&target.app_url, s.addr()),
    );
    if let Err(e) = introduce(args, &target, &psql, &app.url, interrupt, out).await {
        instance.shutdown().await;
        return Err(e);
    }

    let options = Options {
        seed: args.seed,
        time_scale: args.time_scale,
        learner: args.learner.clone(),
        backend: Some(backend.name().to_string()),
        rows: volume,
    };
    let backend = Arc::new(backend);
    let provision: drill::Provision = Arc::new(move |recovery| {
        let backend = backend.clone();
        Box::pin(async move {
            let progress = &crate::instance::no_progress;
            match recovery {
                None => backend.provision(progress).await,
                Some(r) => backend.provision_recovered(&r, progress).await,
            }
            .map_err(|e| e.to_string())
        })
    });
    let drill = Drill::new(
        scenario.clone(),
        target,
        options,
        crate::instance::now_unix(),
    )
    .with_provision(provision)
    .with_face(face_tx)
    .owning(instance);
    let drill = match endpoints {
        Some((service, seen)) => drill.with_service(service, seen),
        None => drill,
    };
    Ok(Setup {
        scenario,
        key,
        drill,
        psql,
        app,
    })
}

/// The script's moves, every bad line reported by its number.
fn read_script(args: &RunArgs) -> Result<Option<Vec<action::ScriptLine>>, Error> {
    let Some(path) = &args.script else {
        return Ok(None);
    };
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadInput {
        path: path.clone(),
        source,
    })?;
    action::parse_script(&text)
        .map(Some)
        .map_err(|problems| Error::Script {
            path: path.clone(),
            problems,
        })
}

/// A server of the drill's own, with the scenario's fixture and the DDL
/// audit in place (whether it could be installed: it needs a superuser);
/// nothing is left running if that fails or is interrupted. On the local
/// backend, a large volume is prepared once and then copied
/// (`instance::seeded`).
async fn start(
    backend: &crate::instance::AnyBackend,
    scenario: &crate::scenario::Scenario,
    interrupt: &Interrupt,
) -> Result<(crate::instance::Instance, bool), Error> {
    let spinner = Spinner::new();
    let prepare = async |instance: &crate::instance::Instance| -> Result<bool, Error> {
        let mut conn = instance.connect_app().await?;
        drill::prepare(scenario, &mut conn, &|stage| spinner.message(stage)).await?;
        let mut conn = instance.connect_superuser().await?;
        drill::install_audit(&mut conn).await.map_err(Error::from)
    };
    let result = match backend {
        crate::instance::AnyBackend::Local(local)
            if drill::generated_rows(scenario) >= drill::SEED_CACHE_MIN_ROWS =>
        {
            let key = drill::seed_key(scenario);
            let show = |e| spinner.show(e);
            let seeded = local.provision_seeded(
                &key,
                async |i: &crate::instance::Instance| prepare(i).await.map(|_| ()),
                &show,
            );
            interrupt.guard(seeded).await.and_then(|r| match r {
                Ok(instance) => Ok((instance, true)),
                Err(crate::instance::seeded::Seeding::Instance(e)) => Err(e.into()),
                Err(crate::instance::seeded::Seeding::Prepare(e)) => Err(e),
            })
        }
        _ => fresh(backend, &spinner, &prepare, interrupt).await,
    };
    spinner.clear();
    // Install times count back from this drill's start, also on a copy of
    // a database prepared earlier.
    let (instance, audited) = result?;
    match drill::backdate(scenario, &instance)
        .await
        .map_err(Error::from)
    {
        Ok(()) => Ok((instance, audited)),
        Err(e) => {
            instance.shutdown().await;
            Err(e)
        }
    }
}

/// A new instance prepared in place.
async fn fresh(
    backend: &crate::instance::AnyBackend,
    spinner: &Spinner,
    prepare: &impl AsyncFn(&crate::instance::Instance) -> Result<bool, Error>,
    interrupt: &Interrupt,
) -> Result<(crate::instance::Instance, bool), Error> {
    let instance = interrupt
        .guard(backend.provision(&|e| spinner.show(e)))
        .await??;
    match interrupt.guard(prepare(&instance)).await.and_then(|r| r) {
        Ok(audited) => Ok((instance, audited)),
        Err(e) => {
            instance.shutdown().await;
            Err(e)
        }
    }
}

/// Where the learner's database is; at a terminal, the scenario clock
/// starts on Enter, once the briefing has been read.
async fn introduce(
    args: &RunArgs,
    target: &Target,
    psql: &str,
    app_url: &str,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<(), Error> {
    if args.json {
        return Ok(());
    }
    say!(
        out,
        "Your database ({}): psql '{psql}'\n  (this address follows the cutover; what you type there is recorded as moves; `instances` lists each instance's own)",
        target.info.version.split(" (").next().unwrap_or_default(),
    );
    say!(
        out,
        "The app: API_BASE_URL={app_url} (curl \"$API_BASE_URL/health/ready\", \"$API_BASE_URL/api/health\" and its endpoints)"
    );
    let scale = if args.time_scale != 1.0 {
        format!(" (time runs {}x)", args.time_scale)
    } else {
        String::new()
    };
    if args.at_terminal && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        say!(
            out,
            "Read the briefing above, then press Enter to start the drill{scale}."
        );
        let _ = out.flush();
        let enter = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)
        });
        if interrupt.guard(enter).await.is_err() {
            return Err(Error::Interrupted);
        }
    }
    if args.at_terminal || args.script.is_some() {
        say!(
            out,
            "The drill starts now{scale}. Type `help` for moves, `status` to look around.\n"
        );
    } else {
        say!(out, "The drill starts now{scale}.\n");
    }
    let _ = out.flush();
    Ok(())
}

/// Scores, seals and saves the transcript, then says how it went.
pub(super) fn finish(
    ctx: &Context,
    args: &RunArgs,
    scenario: &crate::scenario::Scenario,
    key: Option<&[u8]>,
    played: super::play::Played,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let super::play::Played {
        mut transcript,
        interrupted,
        output_gone,
    } = played;
    let score = crate::score::score(scenario, &transcript);
    transcript.score = serde_json::to_value(&score).ok();
    transcript.seal(key);
    let saved = save(ctx, args, &transcript)?;
    let died = matches!(transcript.end(), Some((_, EndReason::ServerDied)));
    if output_gone {
        return Ok(ExitCode::SUCCESS);
    }
    if args.json {
        say!(
            out,
            "{}",
            serde_json::to_string_pretty(&score).unwrap_or_default()
        );
    } else if died {
        // The ALERT said why; a score table would grade the machine.
    } else {
        say!(out, "\n{}", crate::report::score(&score));
        if let Some(path) = &saved {
            say!(
                out,
                "\ntranscript: {} (re-score with `pgdrill score {}`)",
                path.display(),
                path.display()
            );
        }
        if args.at_terminal && !interrupted {
            offer_report(scenario, &transcript, out);
        }
    }
    if interrupted {
        return Err(Error::Interrupted);
    }
    if died {
        return Err(Error::DrillServerDied { transcript: saved });
    }
    Ok(Exit::verdict(score.passed))
}

/// At the end of an interactive drill: offer to save the incident timeline
/// (Markdown and HTML) and its evidence (JSON) in the current directory.
fn offer_report(
    scenario: &crate::scenario::Scenario,
    transcript: &Transcript,
    out: &mut impl Write,
) {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return;
    }
    let stem = format!("{}-{}", transcript.scenario, transcript.started_at);
    let md = PathBuf::from(format!("{stem}.md"));
    let html = PathBuf::from(format!("{stem}.html"));
    let json = PathBuf::from(format!("{stem}.evidence.json"));
    let _ = out.flush();
    let yes = tokio::task::block_in_place(|| {
        dialoguer::Confirm::new()
            .with_prompt(format!(
                "Save the incident timeline and postmortem skeleton as {}, {} and {}?",
                md.display(),
                html.display(),
                json.display()
            ))
            .default(true)
            .interact()
            .unwrap_or(false)
    });
    if !yes {
        say!(
            out,
            "not saved; `pgdrill report TRANSCRIPT` writes them later"
        );
        return;
    }
    for (path, format) in [
        (&md, crate::report::Format::Markdown),
        (&html, crate::report::Format::Html),
        (&json, crate::report::Format::Json),
    ] {
        match super::score::write_report(scenario, transcript, format, path) {
            Ok(()) => say!(out, "wrote {}", path.display()),
            Err(e) => say!(out, "{e}"),
        }
    }
}

/// Writes the transcript where asked; interactive drills are always kept
/// (in the state directory) so that nothing a learner did is lost.
fn save(ctx: &Context, args: &RunArgs, transcript: &Transcript) -> Result<Option<PathBuf>, Error> {
    let path = match (&args.transcript, &args.script) {
        (Some(p), _) => p.clone(),
        (None, Some(_)) => return Ok(None),
        (None, None) => {
            let dir = ctx.dirs.state.join("transcripts");
            std::fs::create_dir_all(&dir).map_err(|source| Error::ReadInput {
                path: dir.clone(),
                source,
            })?;
            dir.join(format!(
                "{}-{}.json",
                transcript.scenario, transcript.started_at
            ))
        }
    };
    transcript.save(&path)?;
    Ok(Some(path))
}

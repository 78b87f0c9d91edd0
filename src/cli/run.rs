//! `pgdrill run SCENARIO`: play a drill, at a prompt or from a script.
//!
//! The engine runs as its own task; this file only feeds it moves and
//! prints what it reports. Interactive play uses rustyline, whose external
//! printer shows alerts above the prompt while the learner types.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::{Context, Interrupt, progress::Spinner, say};
use crate::action::{self, Action};
use crate::drill::{self, Command, Drill, Options, Reply, Target, View};
use crate::instance::Backend;
use crate::transcript::{EndReason, Event, EventKind, Transcript};
use crate::{Error, Exit};

/// Settings of `pgdrill run`.
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
}

/// Runs a drill.
pub async fn run(
    ctx: &Context,
    args: RunArgs,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let scenario = Arc::new(crate::scenario::load(&args.scenario)?);
    // Checked before a server starts, so a bad key costs nothing.
    let key = ctx.signing_key()?;
    let script = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| Error::ReadInput {
                path: path.clone(),
                source,
            })?;
            Some(
                action::parse_script(&text).map_err(|problems| Error::Script {
                    path: path.clone(),
                    problems,
                })?,
            )
        }
        None => None,
    };
    if !args.json {
        say!(out, "{}", super::scenarios::briefing(&scenario));
    }
    let _ = out.flush();

    let backend = ctx.local_backend()?;
    let spinner = Spinner::new();
    let provisioned = interrupt
        .guard(backend.provision(&|e| spinner.show(e)))
        .await;
    let instance = match provisioned {
        Ok(i) => i?,
        Err(e) => {
            spinner.clear();
            return Err(e);
        }
    };
    let prepared = interrupt
        .guard(async {
            let mut conn = instance.connect_app().await?;
            drill::prepare(&scenario, &mut conn, &|stage| spinner.message(stage)).await?;
            let mut conn = instance.connect_superuser().await?;
            drill::install_audit(&mut conn).await.map_err(Error::from)
        })
        .await;
    spinner.clear();
    if let Err(e) = prepared.and_then(|r| r) {
        instance.shutdown().await;
        return Err(e);
    }

    let target = Target {
        name: "primary".into(),
        info: instance.info().clone(),
        app_url: instance.url(),
        superuser_url: instance.superuser_url(),
    };
    if !args.json {
        say!(
            out,
            "Your database ({}): psql '{}'",
            target.info.version.split(" (").next().unwrap_or_default(),
            target.app_url
        );
        let scale = if args.time_scale != 1.0 {
            format!(" (time runs {}x)", args.time_scale)
        } else {
            String::new()
        };
        if args.script.is_none() && std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            // The briefing stays on screen until the learner has read it:
            // the scenario clock starts on Enter.
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
                instance.shutdown().await;
                return Err(Error::Interrupted);
            }
        }
        say!(
            out,
            "The drill starts now{scale}. Type `help` for moves, `status` to look around.\n"
        );
    }
    let _ = out.flush();

    let options = Options {
        seed: args.seed,
        time_scale: args.time_scale,
        learner: args.learner.clone(),
    };
    let backend = Arc::new(backend);
    let provision: drill::Provision = Arc::new(move || {
        let backend = backend.clone();
        Box::pin(async move {
            backend
                .provision(&crate::instance::no_progress)
                .await
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
    .owning(instance);
    let clock = drill.clock();
    let (commands, commands_rx) = mpsc::channel(16);
    let (notices_tx, notices) = mpsc::unbounded_channel();
    let mut engine = tokio::spawn(drill.run(commands_rx, notices_tx));

    let ended = Arc::new(AtomicBool::new(false));
    // Set while the prompt waits for a move's answer: Ctrl-C then cancels
    // that move instead of ending the drill, as in psql.
    let busy = Arc::new(AtomicBool::new(false));
    // Set by a first Ctrl-C at the prompt: a second one ends the drill.
    // Shared, because a Ctrl-C reaches pgdrill as a key while the prompt
    // reads a line, and as SIGINT while it prints an answer.
    let armed = Arc::new(AtomicBool::new(false));
    let mut signals = interrupt.signals();
    // When standard output is closed (`| head`) the drill ends, is torn
    // down, and the command succeeds quietly, as cargo and ripgrep do.
    let stdout = ScriptOutput::new();
    let prompt_done = match script {
        Some(lines) => {
            tokio::spawn(play_script(
                lines,
                clock,
                commands.clone(),
                notices,
                args.json,
                stdout.clone(),
            ));
            None
        }
        None => Some(prompt(
            commands.clone(),
            notices,
            ended.clone(),
            busy.clone(),
            armed.clone(),
        )),
    };
    let mut interrupted = false;
    let finished = loop {
        tokio::select! {
            r = &mut engine => break r,
            signal = signals.next() => {
                if signal == "SIGINT" && busy.load(Ordering::SeqCst) {
                    tracing::debug!("{signal}: cancelling the move in flight");
                    let _ = commands.send(Command::Cancel).await;
                    continue;
                }
                if signal == "SIGINT" && prompt_done.is_some() {
                    // Between two lines of the prompt: as the prompt does.
                    if armed.swap(true, Ordering::SeqCst) {
                        let _ = commands.send(Command::End(EndReason::Interrupted)).await;
                    } else {
                        println!("\n{CTRL_C_AGAIN}");
                    }
                    continue;
                }
                tracing::debug!("{signal}: ending the drill");
                interrupted = true;
                let _ = commands.send(Command::End(EndReason::Interrupted)).await;
                break (&mut engine).await;
            }
        }
    };
    drop(commands);
    ended.store(true, Ordering::SeqCst);
    if let Some(done) = prompt_done {
        // The prompt thread ends at its next line (Enter) or right away if
        // the learner ended the drill from it.
        let _ = done.await;
    }

    let mut transcript = match finished {
        Ok(result) => result?,
        Err(e) => return Err(Error::Internal(format!("the drill engine failed: {e}"))),
    };
    let score = crate::score::score(&scenario, &transcript);
    transcript.score = serde_json::to_value(&score).ok();
    transcript.seal(key);
    let saved = save(ctx, &args, &transcript)?;
    let died = matches!(transcript.end(), Some((_, EndReason::ServerDied)));
    if stdout.is_gone() {
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
        if args.script.is_none() && !interrupted {
            offer_report(&scenario, &transcript, out);
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

/// What a first Ctrl-C at the prompt says.
const CTRL_C_AGAIN: &str = "(Ctrl-C again, Ctrl-D or `quit` ends the drill without resolving; Ctrl-C while a move runs cancels it)";

/// Text wrapped to the terminal's width (80 columns when it has none).
fn to_terminal_width(text: &str) -> String {
    crate::report::wrap_lines(text, terminal_columns())
}

/// Columns to write in: the terminal's width less one (80 without one).
fn terminal_columns() -> usize {
    console::Term::stdout()
        .size_checked()
        .map_or(80, |(_, cols)| usize::from(cols))
        .saturating_sub(1)
}

/// Renders a reply for the terminal.
fn render(reply: &Reply) -> String {
    let mut text = if reply.ok {
        reply.text.clone()
    } else {
        format!("failed: {}", reply.text)
    };
    match &reply.view {
        Some(View::Status(s)) => text = crate::report::status(s),
        Some(View::Rows { columns, rows }) => {
            text = format!("{}\n{}", crate::report::rows(columns, rows), text)
        }
        Some(View::Events(events)) => text = crate::report::events(events),
        None => {}
    }
    text
}

/// Sends one move and waits for its answer (None when the drill is over).
async fn send(commands: &mpsc::Sender<Command>, input: String, action: Action) -> Option<Reply> {
    let (reply, answer) = oneshot::channel();
    commands
        .send(Command::Act {
            input,
            action,
            reply,
        })
        .await
        .ok()?;
    answer.await.ok()
}

/// Plays a script: each move at its time (if given), answers printed.
async fn play_script(
    lines: Vec<action::ScriptLine>,
    clock: drill::Clock,
    commands: mpsc::Sender<Command>,
    mut notices: mpsc::UnboundedReceiver<Event>,
    quiet: bool,
    stdout: ScriptOutput,
) {
    let printer = {
        let stdout = stdout.clone();
        tokio::spawn(async move {
            while let Some(e) = notices.recv().await {
                if !quiet
                    && !matches!(e.kind, EventKind::Move(_))
                    && let Some(line) = crate::report::event_line(&e)
                {
                    stdout.line(&line);
                }
            }
        })
    };
    for line in lines {
        if let Some(at) = line.at {
            // A closed output ends the drill even while the script waits.
            tokio::select! {
                _ = tokio::time::sleep(clock.real_until(at.as_millis() as u64)) => {}
                _ = stdout.closed() => {}
            }
        }
        let resolve = matches!(line.action, Action::Resolve);
        if !quiet {
            stdout.line(&format!(
                "[{:>6}] > {}",
                crate::score::clock(clock.now_ms()),
                line.text
            ));
        }
        if stdout.is_gone() {
            break;
        }
        let Some(reply) = send(&commands, line.text.clone(), line.action).await else {
            break;
        };
        if !quiet {
            stdout.line(&format!(
                "         {}",
                render(&reply).replace('\n', "\n         ")
            ));
        }
        if resolve || stdout.is_gone() {
            break;
        }
    }
    let end = if stdout.is_gone() {
        EndReason::Interrupted
    } else {
        EndReason::ScriptEnded
    };
    let _ = commands.send(Command::End(end)).await;
    drop(commands);
    let _ = printer.await;
}

/// Standard output of a scripted run. Writing never panics: once it is
/// gone (a closed pipe, `| head`) it stays gone, and whoever waits on
/// [`ScriptOutput::closed`] learns it.
#[derive(Clone)]
struct ScriptOutput {
    gone: Arc<tokio::sync::watch::Sender<bool>>,
}

impl ScriptOutput {
    fn new() -> ScriptOutput {
        ScriptOutput {
            gone: Arc::new(tokio::sync::watch::Sender::new(false)),
        }
    }

    /// Prints a line, unless the output is gone.
    fn line(&self, text: &str) {
        if self.is_gone() {
            return;
        }
        let mut out = std::io::stdout().lock();
        if writeln!(out, "{text}").and_then(|()| out.flush()).is_err() {
            self.gone.send_replace(true);
        }
    }

    fn is_gone(&self) -> bool {
        *self.gone.borrow()
    }

    /// Resolves once the output is gone.
    async fn closed(&self) {
        let _ = self.gone.subscribe().wait_for(|gone| *gone).await;
    }
}

/// The interactive prompt, on its own thread (line editing blocks). Alerts
/// are printed above the prompt as they happen. Resolves when the prompt
/// has closed.
fn prompt(
    commands: mpsc::Sender<Command>,
    mut notices: mpsc::UnboundedReceiver<Event>,
    ended: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    armed: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let (done_tx, done) = oneshot::channel();
    let mut editor = match rustyline::DefaultEditor::new() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot open the prompt: {e}");
            return tokio::spawn(async {});
        }
    };
    let printer = editor.create_external_printer().ok();
    // While the prompt reads a line, events go above it through
    // rustyline's printer; once it has closed, straight to the terminal
    // (the printer only delivers while a line is being read).
    let reading = Arc::new(AtomicBool::new(true));
    let reading_done = reading.clone();
    let printing = tokio::spawn(async move {
        let mut printer = printer;
        while let Some(e) = notices.recv().await {
            if matches!(e.kind, EventKind::Move(_) | EventKind::Hint { .. }) {
                continue;
            }
            let Some(mut line) = crate::report::event_line(&e) else {
                continue;
            };
            // The drill ended while the prompt still waits for a line (the
            // time limit, a hard stop, a dead server, a Ctrl-C that came
            // as a signal): the score comes after Enter.
            if matches!(e.kind, EventKind::Ended { .. }) && reading.load(Ordering::SeqCst) {
                line.push_str("\npress Enter to see your score");
            }
            // Continued under the text, not under the `[ 1m05s] ` time.
            let line = crate::report::wrap_hanging(&line, terminal_columns(), 9);
            match printer.as_mut() {
                Some(p) if reading.load(Ordering::SeqCst) => {
                    use rustyline::ExternalPrinter as _;
                    let _ = p.print(format!("{line}\n"));
                }
                _ => println!("{line}"),
            }
        }
    });
    let handle = tokio::runtime::Handle::current();
    std::thread::spawn(move || {
        loop {
            if ended.load(Ordering::SeqCst) {
                break;
            }
            let line = match editor.readline("pgdrill> ") {
                Ok(line) => line,
                Err(rustyline::error::ReadlineError::Interrupted)
                    if armed.swap(true, Ordering::SeqCst) =>
                {
                    reading_done.store(false, Ordering::SeqCst);
                    let _ = commands.blocking_send(Command::End(EndReason::Interrupted));
                    break;
                }
                Err(rustyline::error::ReadlineError::Interrupted) => {
                    println!("{CTRL_C_AGAIN}");
                    continue;
                }
                Err(_) => {
                    reading_done.store(false, Ordering::SeqCst);
                    let _ = commands.blocking_send(Command::End(EndReason::Interrupted));
                    break;
                }
            };
            if ended.load(Ordering::SeqCst) {
                break;
            }
            let trimmed = line.trim();
            if trimmed.is_empty() {
                continue;
            }
            armed.store(false, Ordering::SeqCst);
            let _ = editor.add_history_entry(trimmed);
            if trimmed == "clear" {
                let _ = editor.clear_screen();
                continue;
            }
            if matches!(trimmed, "quit" | "exit") {
                reading_done.store(false, Ordering::SeqCst);
                let _ = commands.blocking_send(Command::End(EndReason::Interrupted));
                break;
            }
            let action = match action::parse(trimmed) {
                Ok(a) => a,
                Err(e) => {
                    let text = match e.usage {
                        Some(u) => format!("{}\nusage: {u}", e.message),
                        None => e.message,
                    };
                    println!("{}", to_terminal_width(&text));
                    continue;
                }
            };
            let resolve = matches!(action, Action::Resolve);
            if resolve {
                // The drill ends with this move; no line comes after it.
                reading_done.store(false, Ordering::SeqCst);
            }
            let prose = matches!(action, Action::Help(_));
            busy.store(true, Ordering::SeqCst);
            let reply = handle.block_on(send(&commands, trimmed.to_string(), action));
            busy.store(false, Ordering::SeqCst);
            match reply {
                // Help is prose, wrapped to the terminal; tables and
                // results keep their lines.
                Some(reply) if prose => println!("{}", to_terminal_width(&render(&reply))),
                Some(reply) => println!("{}", render(&reply)),
                None => break,
            }
            if resolve {
                break;
            }
        }
        reading_done.store(false, Ordering::SeqCst);
        let _ = done_tx.send(());
    });
    // Done when the prompt has closed and every event has been printed
    // (the events end with the engine), so that the score comes last; a
    // printer that cannot deliver does not hold the score back.
    tokio::spawn(async move {
        let _ = done.await;
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), printing).await;
    })
}

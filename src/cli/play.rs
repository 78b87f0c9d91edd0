//! Playing a drill: the engine runs as its own task; this file feeds it
//! moves, from a script or from the prompt, prints what it reports, and
//! turns Ctrl-C into what the learner meant (cancel the move in flight,
//! clear the line, end the drill). Interactive play uses rustyline, whose
//! external printer shows alerts above the prompt while the learner types.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::Interrupt;
use crate::Error;
use crate::action::{self, Action};
use crate::drill::{self, Command, Drill, Reply};
use crate::transcript::{EndReason, Event, EventKind, Transcript};

/// How a drill's play ended.
pub(super) struct Played {
    /// The transcript, not yet scored.
    pub transcript: Transcript,
    /// Whether a signal ended it.
    pub interrupted: bool,
    /// Whether standard output was closed (`| head`): the command then
    /// succeeds quietly, as cargo and ripgrep do.
    pub output_gone: bool,
}

/// Runs the engine to its end, fed by `script` or by the prompt.
pub(super) async fn drive(
    drill: Drill,
    script: Option<Vec<action::ScriptLine>>,
    json: bool,
    interrupt: &Interrupt,
) -> Result<Played, Error> {
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
                json,
                stdout.clone(),
            ));
            None
        }
        None => Some(prompt(
            Local {
                commands: commands.clone(),
                handle: tokio::runtime::Handle::current(),
            },
            notices,
            ended.clone(),
            busy.clone(),
            armed.clone(),
            false,
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

    let transcript = match finished {
        Ok(result) => result?,
        Err(e) => return Err(Error::Internal(format!("the drill engine failed: {e}"))),
    };
    Ok(Played {
        transcript,
        interrupted,
        output_gone: stdout.is_gone(),
    })
}

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

/// Sends one move and waits for its answer (None when the drill is over).
async fn send(commands: &mpsc::Sender<Command>, input: String, action: Action) -> Option<Reply> {
    let (reply, answer) = oneshot::channel();
    commands
        .send(Command::Act {
            input,
            action,
            by: None,
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
                    && e.for_learner()
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
                crate::report::reply(&reply).replace('\n', "\n         ")
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

/// Where the prompt's lines go: the engine in this process (`run`), or a
/// served drill (`join`).
pub(super) trait Seat: Send + 'static {
    /// Plays a line and waits for its answer.
    fn play(&self, line: &str) -> Turn;
    /// The learner left the prompt (`quit`, Ctrl-D, a second Ctrl-C).
    fn leave(&self);
}

/// What became of a line.
pub(super) enum Turn {
    /// Its answer, to print.
    Answered {
        /// The text.
        text: String,
        /// Prose (help), wrapped to the terminal; tables keep their lines.
        prose: bool,
        /// The drill ends with it (`resolve`): no line comes after.
        last: bool,
    },
    /// It is not a move: what is wrong and the usage.
    Usage(String),
    /// The drill is over.
    Over,
}

/// The engine of this process, at the end of a channel.
pub(super) struct Local {
    commands: mpsc::Sender<Command>,
    handle: tokio::runtime::Handle,
}

impl Seat for Local {
    fn play(&self, line: &str) -> Turn {
        let action = match action::parse(line) {
            Ok(a) => a,
            Err(e) => {
                return Turn::Usage(match e.usage {
                    Some(u) => format!("{}\nusage: {u}", e.message),
                    None => e.message,
                });
            }
        };
        let last = matches!(action, Action::Resolve);
        let prose = matches!(action, Action::Help(_));
        match self
            .handle
            .block_on(send(&self.commands, line.to_string(), action))
        {
            Some(reply) => Turn::Answered {
                text: crate::report::reply(&reply),
                prose,
                last,
            },
            None => Turn::Over,
        }
    }

    fn leave(&self) {
        let _ = self
            .commands
            .blocking_send(Command::End(EndReason::Interrupted));
    }
}

/// The interactive prompt, on its own thread (line editing blocks). Alerts
/// are printed above the prompt as they happen. Resolves when the prompt
/// has closed.
pub(super) fn prompt(
    seat: impl Seat,
    notices: mpsc::UnboundedReceiver<Event>,
    ended: Arc<AtomicBool>,
    busy: Arc<AtomicBool>,
    armed: Arc<AtomicBool>,
    team: bool,
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
    let printing = print_events(printer, notices, reading, team);
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
                    seat.leave();
                    break;
                }
                Err(rustyline::error::ReadlineError::Interrupted) => {
                    println!("{CTRL_C_AGAIN}");
                    continue;
                }
                Err(_) => {
                    reading_done.store(false, Ordering::SeqCst);
                    seat.leave();
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
                seat.leave();
                break;
            }
            busy.store(true, Ordering::SeqCst);
            let turn = seat.play(trimmed);
            busy.store(false, Ordering::SeqCst);
            match turn {
                Turn::Usage(text) => println!("{}", to_terminal_width(&text)),
                Turn::Answered { text, prose, last } => {
                    if last {
                        // The drill ends with this move; no line comes after it.
                        reading_done.store(false, Ordering::SeqCst);
                    }
                    // Help is prose, wrapped to the terminal; tables and
                    // results keep their lines.
                    if prose {
                        println!("{}", to_terminal_width(&text));
                    } else {
                        println!("{text}");
                    }
                    if last {
                        break;
                    }
                }
                Turn::Over => break,
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

/// Prints the engine's events as they come: above the prompt while it
/// reads a line, straight to the terminal once it has closed. Alone, the
/// learner's own moves are answered at the prompt; in a team (`team`), the
/// feed brings the others' moves, and the server has already kept from it
/// what the participant's role may not see.
fn print_events(
    mut printer: Option<impl rustyline::ExternalPrinter + Send + 'static>,
    mut notices: mpsc::UnboundedReceiver<Event>,
    reading: Arc<AtomicBool>,
    team: bool,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(e) = notices.recv().await {
            let shown = if team {
                !matches!(e.kind, EventKind::Window(_) | EventKind::Hint { .. })
            } else {
                e.for_learner() && !matches!(e.kind, EventKind::Move(_) | EventKind::Hint { .. })
            };
            if !shown {
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
                    let _ = p.print(format!("{line}\n"));
                }
                _ => println!("{line}"),
            }
        }
    })
}

/// What a first Ctrl-C at the prompt says.
const CTRL_C_AGAIN: &str = "(Ctrl-C again, Ctrl-D or `quit` ends the drill without resolving; Ctrl-C while a move runs cancels it)";

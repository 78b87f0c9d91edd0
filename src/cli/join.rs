//! `pgdrill join URL` and `pgdrill act`: a seat at a served drill. `join`
//! is `run`'s prompt, its lines sent to the server and the team's feed
//! printed above it (everyone's moves, attributed); `act` sends one move
//! and prints its answer.

use std::io::Write;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use futures::StreamExt;
use tokio::sync::mpsc;

use super::play::{self, Seat, Turn};
use super::{Interrupt, say};
use crate::serve::client::{Client, Error as SeatError};
use crate::transcript::EventKind;
use crate::{Error, Exit};

/// A served drill, at the end of HTTP requests.
struct Remote {
    client: Client,
    handle: tokio::runtime::Handle,
}

impl Seat for Remote {
    fn play(&self, line: &str) -> Turn {
        let first = line.split_whitespace().next().unwrap_or_default();
        let prose = first == "help";
        match self.handle.block_on(self.client.send(line)) {
            Ok(answer) => Turn::Answered {
                text: answer.text,
                prose,
                last: answer.ok && matches!(first, "resolve" | "end"),
            },
            Err(SeatError::Refused {
                status: 400,
                message,
            }) => Turn::Usage(message),
            Err(SeatError::Refused { status: 409, .. }) => Turn::Over,
            Err(SeatError::Refused { message, .. }) => Turn::Answered {
                text: format!("refused: {message}"),
                prose: true,
                last: false,
            },
            Err(e) => {
                println!("{e}");
                Turn::Over
            }
        }
    }

    /// Leaving a seat leaves the drill to the others.
    fn leave(&self) {}
}

/// Takes a seat: the briefing, then the prompt with the team's feed,
/// until the drill ends or the participant leaves.
pub async fn join(url: &str, token: &str, interrupt: &Interrupt) -> Result<ExitCode, Error> {
    let client = Client::new(url, token)?;
    let me = client.me().await?;
    let feed = client.follow().await?;
    println!("{}", me.briefing);
    if let Some(psql) = &me.psql {
        println!("The team's database: psql '{psql}'");
    }
    println!(
        "You are {} ({}) in `{}`. {} `quit` leaves; the drill goes on without you.\n",
        me.name,
        me.role,
        me.scenario,
        if me.acts {
            "Type `help` for moves; everyone's moves and the alerts appear as they happen."
        } else {
            "You watch: `status`, `events`, `locks` and `instances` work; the feed shows the rest."
        }
    );
    let (notices_tx, notices) = mpsc::unbounded_channel();
    let ended = Arc::new(AtomicBool::new(false));
    let summary = Arc::new(Mutex::new(None::<String>));
    let feeder = {
        let (ended, summary, name) = (ended.clone(), summary.clone(), me.name.clone());
        tokio::spawn(async move {
            let mut feed = std::pin::pin!(feed);
            while let Some(item) = feed.next().await {
                if let Some(s) = item.summary {
                    *summary.lock().unwrap_or_else(PoisonError::into_inner) = Some(s);
                }
                let Some(event) = item.event else { continue };
                // One's own moves are answered at the prompt.
                if let EventKind::Move(m) = &event.kind
                    && m.by.as_ref().is_some_and(|b| b.name == name)
                {
                    continue;
                }
                if matches!(event.kind, EventKind::Ended { .. }) {
                    ended.store(true, Ordering::SeqCst);
                }
                let _ = notices_tx.send(event);
            }
            ended.store(true, Ordering::SeqCst);
        })
    };
    let seat = Remote {
        client,
        handle: tokio::runtime::Handle::current(),
    };
    let busy = Arc::new(AtomicBool::new(false));
    let armed = Arc::new(AtomicBool::new(false));
    let prompt = play::prompt(seat, notices, ended, busy, armed, true);
    tokio::select! {
        _ = prompt => {}
        _ = interrupt.wait() => return Err(Error::Interrupted),
    }
    // The summary follows the end by a moment.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), feeder).await;
    if let Some(s) = summary
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        println!("\n{s}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Sends one move and prints its answer: exit 0 when it was done, 1 when
/// it failed or was refused.
pub async fn act(
    server: &str,
    token: &str,
    line: &str,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let client = Client::new(server, token)?;
    let answer = client.send(line).await?;
    say!(out, "{}", answer.text);
    Ok(Exit::verdict(answer.ok))
}

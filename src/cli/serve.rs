//! `pgdrill serve SCENARIO`: a drill set up as `run` sets one up, played
//! by a team over HTTP (`crate::serve`), scored and kept as `run` keeps
//! it. This file prints: the participants' seats once, the score at the
//! end.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use super::run::{self, RunArgs, Setup};
use super::{Context, Interrupt, say};
use crate::Error;
use crate::serve::{self as server, Participant, Ready, Role};

/// Who takes part, and where they connect.
pub struct Seats {
    /// Names and roles, in the order given.
    pub participants: Vec<(String, Role)>,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Whether a non-loopback address is allowed.
    pub allow_remote: bool,
}

/// A class: how many learners, where they connect, where transcripts go.
pub struct Room {
    /// Learners.
    pub learners: usize,
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Whether a non-loopback address is allowed.
    pub allow_remote: bool,
    /// The transcripts' folder, if not the default.
    pub folder: Option<std::path::PathBuf>,
}

/// Serves a class: a drill per learner, each started when they connect,
/// until every drill has ended (or Ctrl-C).
pub async fn class(
    ctx: &Context,
    args: RunArgs,
    room: Room,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let Some(key) = ctx.signing_key()? else {
        return Err(Error::Usage(
            "a class's transcripts are signed on the server: set PGDRILL_SIGNING_KEY (e.g. `export PGDRILL_SIGNING_KEY=$(openssl rand -hex 32)`), and grade with the same key: `pgdrill grade DIR --key`".into(),
        ));
    };
    if let Some(warning) = server::check_listen(room.listen, room.allow_remote)? {
        eprintln!("{warning}");
    }
    let scenario = std::sync::Arc::new(crate::scenario::load(&args.scenario)?);
    let folder = room.folder.clone().unwrap_or_else(|| {
        ctx.dirs.state.join("classes").join(format!(
            "{}-{}",
            scenario.id,
            crate::instance::now_unix()
        ))
    });
    std::fs::create_dir_all(&folder).map_err(|source| Error::WriteOutput {
        path: folder.clone(),
        source,
    })?;
    let listener = tokio::net::TcpListener::bind(room.listen)
        .await
        .map_err(|source| server::Error::Listen {
            addr: room.listen,
            source,
        })?;
    let url = listener
        .local_addr()
        .map(|a| format!("http://{a}"))
        .map_err(|source| server::Error::Listen {
            addr: room.listen,
            source,
        })?;
    let (instructor, learners) = server::class::seats(room.learners);
    let mut everyone = vec![instructor.clone()];
    everyone.extend(learners.iter().cloned());
    announce_class(&url, &everyone, &folder, args.json);
    let starter: server::class::Starter = Box::new(|learner| {
        let mut args = args.clone();
        args.learner = Some(learner);
        // Quiet: a drill per learner, started on the server.
        args.json = true;
        Box::pin(async move {
            let Setup {
                drill, psql, app, ..
            } = run::setup(ctx, &args, interrupt, &mut std::io::sink())
                .await
                .map_err(|e| e.to_string())?;
            Ok(server::class::Started {
                drill,
                psql: Some(psql),
                keep: Box::new(app),
            })
        })
    });
    let graded = server::class::run(
        scenario,
        instructor,
        learners,
        listener,
        starter,
        key,
        folder.clone(),
        async {
            interrupt.wait().await;
        },
    )
    .await?;
    let saved = graded.files.iter().filter(|(_, f)| f.is_ok()).count();
    if args.json {
        let files: Vec<serde_json::Value> = graded
            .files
            .iter()
            .map(|(name, f)| match f {
                Ok(p) => serde_json::json!({ "learner": name, "transcript": p }),
                Err(e) => serde_json::json!({ "learner": name, "error": e }),
            })
            .collect();
        say!(
            out,
            "{}",
            serde_json::json!({ "class_dir": folder, "transcripts": files })
        );
    } else {
        for (name, f) in &graded.files {
            match f {
                Ok(p) => say!(out, "{name}: {}", p.display()),
                Err(e) => say!(out, "{name}: no transcript ({e})"),
            }
        }
        say!(
            out,
            "\n{saved} transcript(s), signed, in {}; grade them with `pgdrill grade {} --key`",
            folder.display(),
            folder.display()
        );
    }
    if graded.interrupted {
        return Err(Error::Interrupted);
    }
    Ok(ExitCode::SUCCESS)
}

/// A class's seats, once.
fn announce_class(url: &str, everyone: &[Participant], folder: &std::path::Path, json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        let seats: Vec<serde_json::Value> = everyone
            .iter()
            .map(|p| serde_json::json!({ "name": p.name, "role": p.role.name(), "token": p.token.reveal() }))
            .collect();
        say!(
            out,
            "{}",
            serde_json::json!({ "url": url, "class_dir": folder, "participants": seats })
        );
    } else {
        say!(
            out,
            "The class is served at {url}; transcripts go to {}\n",
            folder.display()
        );
        for p in everyone {
            say!(
                out,
                "{:<12} {:<10}  pgdrill join {url} --token {}   (or open {url}/?token={})",
                p.name,
                p.role.name(),
                p.token.reveal(),
                p.token.reveal()
            );
        }
        say!(
            out,
            "\nEach learner's drill starts when they first connect. The instructor's page lists them all."
        );
    }
    let _ = out.flush();
}

/// Serves a drill to a team until it ends, then scores it.
pub async fn serve(
    ctx: &Context,
    args: RunArgs,
    seats: Seats,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    // The address is checked and taken before any server starts, so a
    // port in use costs nothing.
    if let Some(warning) = server::check_listen(seats.listen, seats.allow_remote)? {
        eprintln!("{warning}");
    }
    let listener = tokio::net::TcpListener::bind(seats.listen)
        .await
        .map_err(|source| server::Error::Listen {
            addr: seats.listen,
            source,
        })?;
    let Setup {
        scenario,
        key,
        drill,
        psql,
        app,
    } = run::setup(ctx, &args, interrupt, out).await?;
    let participants: Vec<Participant> = seats
        .participants
        .into_iter()
        .map(|(name, role)| Participant::new(name, role))
        .collect();
    let json = args.json;
    let hosting = server::Hosting {
        scenario: scenario.clone(),
        participants,
        psql: Some(psql),
    };
    let served = server::run(
        drill,
        hosting,
        listener,
        |ready| announce(ready, &app.url, json),
        move |event| {
            // The host's console: what the team sees, and who did what.
            if !json
                && event.for_learner()
                && let Some(line) = crate::report::event_line(event)
            {
                println!("{line}");
            }
        },
        async {
            interrupt.wait().await;
        },
    )
    .await?;
    let score = crate::score::score(&scenario, &served.transcript);
    let summary = crate::report::score(&score);
    let played = super::play::Played {
        transcript: served.transcript.clone(),
        interrupted: served.interrupted,
        output_gone: false,
    };
    let result = run::finish(ctx, &args, &scenario, key, played, out);
    served.close(Some(summary)).await;
    drop(app);
    result
}

/// The seats, once: a JSON line for scripts, or a table and the commands
/// to take them. The only place tokens are shown.
fn announce(ready: &Ready, api_base_url: &str, json: bool) {
    let mut out = std::io::stdout().lock();
    if json {
        let participants: Vec<serde_json::Value> = ready
            .participants
            .iter()
            .map(|p| {
                serde_json::json!({
                    "name": p.name,
                    "role": p.role.name(),
                    "token": p.token.reveal(),
                })
            })
            .collect();
        let line = serde_json::json!({
            "url": ready.url,
            "api_base_url": api_base_url,
            "participants": participants,
        });
        say!(out, "{line}");
    } else {
        say!(out, "The drill is served at {}", ready.url);
        say!(out, "The app answers at API_BASE_URL={api_base_url}\n");
        let width = ready
            .participants
            .iter()
            .map(|p| p.name.len())
            .max()
            .unwrap_or(4)
            .max(4);
        say!(
            out,
            "{:<width$}  {:<11}  take the seat with",
            "name",
            "role"
        );
        for p in &ready.participants {
            say!(
                out,
                "{:<width$}  {:<11}  pgdrill join {} --token {}",
                p.name,
                p.role.name(),
                ready.url,
                p.token.reveal()
            );
        }
        say!(
            out,
            "\nHand each person their own line; tokens are not shown again. Ctrl-C ends the drill."
        );
    }
    let _ = out.flush();
}

//! `pgdrill serve`: one drill, several people. The engine is the one `run`
//! drives; this module is one more front end. It hands every participant
//! a token, takes their lines over HTTP (`api.rs`), gates them by role
//! (`roles.rs`) and rate (`limit.rs`), feeds them to the engine in the
//! order they arrive, and keeps what the engine reports (`feed.rs`) for
//! everyone to follow, each as their role may see it. The transcript
//! records who made each move.
//!
//! Nothing here prints: the CLI is told the addresses and tokens once
//! ([`Ready`]) and gets the transcript back at the end.

pub mod api;
pub mod class;
pub mod client;
pub mod feed;
pub mod limit;
mod page;
pub mod roles;
pub mod tokens;

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::drill::{Command, Drill};
use crate::scenario::Scenario;
use crate::transcript::{Actor, EndReason, Transcript};
pub use feed::Feed;
pub use roles::Role;
pub use tokens::Token;

/// The cookie a browser keeps a participant's token in.
pub const COOKIE: &str = "pgdrill_token";

/// How long readers get, after the drill, to receive its last events.
const LAST_WORDS: Duration = Duration::from_secs(3);

/// Why a drill could not be served.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address cannot be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why not.
        source: std::io::Error,
    },
    /// A non-loopback address without `--allow-remote`.
    #[error(
        "{addr} is reachable from other machines, and the server speaks plain HTTP: pass --allow-remote to serve there anyway, or listen on 127.0.0.1"
    )]
    Remote {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// The engine failed.
    #[error(transparent)]
    Drill(#[from] crate::drill::Error),
    /// The engine's task broke.
    #[error("the drill engine failed: {0}")]
    Engine(String),
}

/// Someone taking part.
#[derive(Debug, Clone)]
pub struct Participant {
    /// Their name (`ic`, `alice`).
    pub name: String,
    /// What they may do.
    pub role: Role,
    /// Their secret.
    pub token: Token,
}

impl Participant {
    /// A participant with a fresh token.
    pub fn new(name: String, role: Role) -> Participant {
        Participant {
            name,
            role,
            token: Token::random(),
        }
    }

    /// As the transcript records them.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.name.clone(),
            role: self.role.to_string(),
        }
    }
}

/// Whether the server may listen on `addr`: loopback always, any other
/// address only when allowed (the warning the CLI then prints).
pub fn check_listen(addr: SocketAddr, allow_remote: bool) -> Result<Option<String>, Error> {
    if addr.ip().is_loopback() {
        return Ok(None);
    }
    if !allow_remote {
        return Err(Error::Remote { addr });
    }
    Ok(Some(format!(
        "warning: serving on {addr} in plain HTTP: tokens and moves cross the network unencrypted; use it on a network you trust, or behind a TLS proxy"
    )))
}

/// What the participants need to know, once the server listens.
#[derive(Debug, Clone)]
pub struct Ready {
    /// The server's address (`http://127.0.0.1:PORT`, no trailing slash, so `$URL/api/me` works).
    pub url: String,
    /// Who takes part, with their tokens.
    pub participants: Vec<Participant>,
}

/// The state every request shares.
pub(crate) struct Desk {
    participants: Vec<Participant>,
    commands: mpsc::Sender<Command>,
    feed: Arc<Feed>,
    buckets: Mutex<HashMap<String, limit::Bucket>>,
    scenario: Arc<Scenario>,
    psql: Option<String>,
    /// Each participant's last answer on the live page.
    answers: Mutex<HashMap<String, (String, api::Answer)>>,
    /// The lock tree last read for the live pages, and when.
    locks: tokio::sync::Mutex<Option<(std::time::Instant, String)>>,
}

/// A drill served until it ends; the server stays up until
/// [`Served::close`], so that participants see the summary.
pub struct Served {
    /// The transcript, not yet scored.
    pub transcript: Transcript,
    /// Whether `stop` ended it.
    pub interrupted: bool,
    feed: Arc<Feed>,
    server: tokio::task::JoinHandle<()>,
    shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Served {
    /// Tells everyone how it went, gives their streams a moment to
    /// deliver it, and stops the server.
    pub async fn close(self, summary: Option<String>) {
        self.feed.close(summary);
        let _ = self.shutdown.send(());
        let mut server = self.server;
        if tokio::time::timeout(LAST_WORDS, &mut server).await.is_err() {
            server.abort();
        }
    }
}

/// What a served drill is, besides its engine.
pub struct Hosting {
    /// The scenario played.
    pub scenario: Arc<Scenario>,
    /// Who takes part.
    pub participants: Vec<Participant>,
    /// The psql URL of the drill's database, handed to those who act.
    pub psql: Option<String>,
}

/// A drill's engine running, with the desk its requests go through.
pub(crate) struct Opened {
    desk: Arc<Desk>,
    engine: tokio::task::JoinHandle<Result<Transcript, crate::drill::Error>>,
    /// Ends when the engine has reported its last event.
    pump: tokio::task::JoinHandle<()>,
}

/// Starts `drill`'s engine, its events pumped into a new feed (and shown
/// to `watch`), behind a desk for `hosting`'s participants.
fn open(
    drill: Drill,
    hosting: Hosting,
    watch: impl Fn(&crate::transcript::Event) + Send + 'static,
) -> Opened {
    let (commands, commands_rx) = mpsc::channel(64);
    let (notices_tx, mut notices) = mpsc::unbounded_channel();
    let feed = Arc::new(Feed::default());
    let desk = Arc::new(Desk {
        participants: hosting.participants,
        commands,
        feed: feed.clone(),
        buckets: Mutex::default(),
        scenario: hosting.scenario,
        psql: hosting.psql,
        answers: Mutex::default(),
        locks: tokio::sync::Mutex::default(),
    });
    let engine = tokio::spawn(drill.run(commands_rx, notices_tx));
    let pump = tokio::spawn(async move {
        while let Some(event) = notices.recv().await {
            watch(&event);
            feed.push(event);
        }
    });
    Opened { desk, engine, pump }
}

/// Serves `drill` on `listener`: calls `ready` once the server listens
/// and `watch` with every event as it happens (the host's console), runs
/// the engine until the drill ends (or `stop` resolves), and returns its
/// transcript.
pub async fn run(
    drill: Drill,
    hosting: Hosting,
    listener: TcpListener,
    ready: impl FnOnce(&Ready),
    watch: impl Fn(&crate::transcript::Event) + Send + 'static,
    stop: impl Future<Output = ()>,
) -> Result<Served, Error> {
    let Hosting {
        scenario,
        participants,
        psql,
    } = hosting;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        source,
    })?;
    let Opened {
        desk,
        mut engine,
        pump,
    } = open(
        drill,
        Hosting {
            scenario,
            participants: participants.clone(),
            psql,
        },
        watch,
    );
    let (commands, feed) = (desk.commands.clone(), desk.feed.clone());
    let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let app = api::router(desk);
    let server = tokio::spawn(async move {
        let serving = axum::serve(listener, app).with_graceful_shutdown(async {
            let _ = shutdown_rx.await;
        });
        if let Err(e) = serving.await {
            tracing::warn!("the drill's server stopped: {e}");
        }
    });
    ready(&Ready {
        url: format!("http://{addr}"),
        participants,
    });
    tokio::pin!(stop);
    let mut interrupted = false;
    let finished = tokio::select! {
        r = &mut engine => r,
        () = &mut stop => {
            interrupted = true;
            let _ = commands.send(Command::End(EndReason::Interrupted)).await;
            (&mut engine).await
        }
    };
    drop(commands);
    let _ = pump.await;
    let transcript = match finished {
        Ok(result) => result?,
        Err(e) => {
            feed.close(None);
            server.abort();
            return Err(Error::Engine(e.to_string()));
        }
    };
    Ok(Served {
        transcript,
        interrupted,
        feed,
        server,
        shutdown,
    })
}

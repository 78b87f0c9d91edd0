//! Turning SIGINT, SIGTERM and SIGHUP into an orderly stop.
//!
//! Once installed, these signals no longer kill pgdrill: they resolve
//! [`Interrupt::wait`], and commands either stop in order (`up` shuts its
//! instance down) or let [`Interrupt::guard`] drop the work in progress, whose
//! instances then stop in their `Drop`. Either way no server outlives us.

use std::future::Future;

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use crate::Error;

/// A handle on "has the user asked us to stop?".
#[derive(Debug, Clone)]
pub struct Interrupt {
    rx: watch::Receiver<Option<&'static str>>,
}

impl Interrupt {
    /// Installs the handlers. Call before starting any server.
    pub fn install() -> Result<Interrupt, Error> {
        let (tx, rx) = watch::channel(None);
        let mut streams = Vec::new();
        for (kind, name) in [
            (SignalKind::interrupt(), "SIGINT"),
            (SignalKind::terminate(), "SIGTERM"),
            (SignalKind::hangup(), "SIGHUP"),
        ] {
            let stream = signal(kind)
                .map_err(|e| Error::Internal(format!("could not handle {name}: {e}")))?;
            streams.push((stream, name));
        }
        for (mut stream, name) in streams {
            let tx = tx.clone();
            tokio::spawn(async move {
                while stream.recv().await.is_some() {
                    tracing::debug!("{name} received");
                    let _ = tx.send(Some(name));
                }
            });
        }
        Ok(Interrupt { rx })
    }

    /// Resolves when a stop signal arrives, with its name.
    pub async fn wait(&self) -> &'static str {
        let mut rx = self.rx.clone();
        loop {
            if let Some(name) = *rx.borrow_and_update() {
                return name;
            }
            if rx.changed().await.is_err() {
                // The senders live as long as the runtime; never stop.
                std::future::pending::<()>().await;
            }
        }
    }

    /// The signals that arrive from now on, one at a time (for a command
    /// that reacts to each, like a drill's Ctrl-C that cancels a move).
    pub fn signals(&self) -> Signals {
        let mut rx = self.rx.clone();
        rx.mark_unchanged();
        Signals { rx }
    }

    /// Runs `work` unless a stop signal comes first, in which case `work` is
    /// dropped (cleaning up what it owns) and [`Error::Interrupted`] returned.
    pub async fn guard<F: Future>(&self, work: F) -> Result<F::Output, Error> {
        tokio::select! {
            out = work => Ok(out),
            _ = self.wait() => Err(Error::Interrupted),
        }
    }
}

/// Stop signals, each seen once ([`Interrupt::signals`]).
#[derive(Debug)]
pub struct Signals {
    rx: watch::Receiver<Option<&'static str>>,
}

impl Signals {
    /// Resolves with the name of the next signal.
    pub async fn next(&mut self) -> &'static str {
        loop {
            if self.rx.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
            if let Some(name) = *self.rx.borrow_and_update() {
                return name;
            }
        }
    }
}

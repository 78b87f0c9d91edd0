//! Moves in flight, and stopping them.
//!
//! A move that talks to the database runs as a task. It may run long (a
//! migration queued behind a lock), so the learner can cancel it (Ctrl-C
//! at the prompt) and the drill's end interrupts it. Either way the move
//! is still recorded, with how it ended, and its server-side work stops:
//! a move on a connection has its backend terminated, because a client
//! that merely goes away leaves a DDL waiting in the lock queue, with the
//! app's traffic piling up behind it. Moves without a connection of their
//! own (pg_dump, pg_restore, copies between instances) are dropped, which
//! kills their child processes and closes their connections.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use sqlx::PgConnection;
use tokio::sync::oneshot;

use super::apply::Done;
use super::{Drill, MOVES, Pending};
use crate::transcript::Outcome;

/// How long a cancelled move may take to come back once its backend is
/// gone, before it is recorded without its own answer.
const SETTLE: Duration = Duration::from_secs(5);

/// A move's work on its own connection.
pub(super) type OnConnection = Box<
    dyn for<'c> FnOnce(&'c mut PgConnection) -> Pin<Box<dyn Future<Output = Done> + Send + 'c>>
        + Send,
>;

impl Drill {
    /// Runs a move's work as a task that a cancel stops by dropping it.
    /// `attempt` is its record if it is stopped: what it is and its tags.
    pub(super) fn spawn_move(
        &mut self,
        pending: Pending,
        attempt: Done,
        work: impl Future<Output = Done> + Send + 'static,
    ) {
        let mut cancel = self.cancel_handle();
        self.work.moves.spawn(async move {
            let done = tokio::select! {
                done = work => done,
                Ok(outcome) = &mut cancel => Done {
                    tags: attempt.tags,
                    ..stopped(attempt.canonical, outcome, None)
                },
            };
            (pending, done)
        });
    }

    /// Runs a move's work on a connection of its own to database `db` (as
    /// the app's role) as a task; a cancel terminates that connection's
    /// backend, then lets the work report how far it got.
    pub(super) fn spawn_move_on(
        &mut self,
        pending: Pending,
        canonical: String,
        db: usize,
        work: OnConnection,
    ) {
        let target = &self.dbs[db].target;
        let (url, superuser) = (target.app_url.clone(), target.superuser_url.clone());
        let mut cancel = self.cancel_handle();
        self.work.moves.spawn(async move {
            let mut conn = match crate::instance::connect_as(&url, MOVES, None).await {
                Ok(c) => c,
                Err(e) => return (pending, Done::refuse(canonical, e.to_string())),
            };
            let pid: Option<i32> = sqlx::query_scalar("SELECT pg_backend_pid()")
                .fetch_one(&mut conn)
                .await
                .ok();
            let mut work = work(&mut conn);
            let done = tokio::select! {
                done = &mut work => done,
                Ok(outcome) = &mut cancel => {
                    if let Some(pid) = pid {
                        terminate(&superuser, pid).await;
                    }
                    match tokio::time::timeout(SETTLE, work).await {
                        // It finished before the cancel reached it.
                        Ok(done) if done.outcome == Outcome::Done => done,
                        Ok(done) => Done {
                            outcome,
                            text: format!(
                                "{}; its session on the server was ended ({})",
                                outcome.describe(),
                                crate::transcript::first_line(&done.text, 120)
                            ),
                            ..done
                        },
                        Err(_) => stopped(canonical, outcome, pid),
                    }
                }
            };
            (pending, done)
        });
    }

    /// A new move's end of the channel that stops it.
    fn cancel_handle(&mut self) -> oneshot::Receiver<Outcome> {
        let (tx, rx) = oneshot::channel();
        self.work.running.retain(|tx| !tx.is_closed());
        self.work.running.push(tx);
        rx
    }

    /// Stops every move in flight; each is recorded as ending so.
    pub(super) fn cancel_moves(&mut self, outcome: Outcome) {
        for tx in self.work.running.drain(..) {
            let _ = tx.send(outcome);
        }
        for replay in std::mem::take(&mut self.work.replays) {
            let (pending, done) = replay.stopped(outcome);
            self.complete(pending, done);
        }
    }
}

/// The record of a move stopped before it could say how far it got.
fn stopped(canonical: String, outcome: Outcome, pid: Option<i32>) -> Done {
    let server = match pid {
        Some(pid) => format!("; its backend (pid {pid}) was terminated"),
        None => String::new(),
    };
    Done {
        outcome,
        ..Done::fail(canonical, format!("{}{server}", outcome.describe()))
    }
}

/// Ends a backend of pgdrill's own (a move's connection).
async fn terminate(superuser_url: &str, pid: i32) {
    if let Ok(mut conn) = crate::instance::connect_as(superuser_url, MOVES, None).await {
        let _ = sqlx::query("SELECT pg_terminate_backend($1)")
            .bind(pid)
            .execute(&mut conn)
            .await;
    }
}

impl Drill {
    /// Stops what runs beside the loop at the end: moves (recorded as
    /// interrupted), jobs, background sessions, the app's HTTP face and the
    /// fleet.
    pub(super) async fn stop_work(&mut self) {
        // Moves still running are stopped, and recorded as interrupted:
        // every move the learner started is in the transcript.
        self.cancel_moves(super::MoveOutcome::Interrupted);
        let deadline = tokio::time::Instant::now() + super::SETTLE_AT_END;
        while let Ok(Some(finished)) =
            tokio::time::timeout_at(deadline, self.work.moves.join_next()).await
        {
            if let Ok((pending, done)) = finished {
                self.complete(pending, done);
            }
        }
        self.work.moves.abort_all();
        self.work.tasks.abort_all();
        self.work.background.abort_all();
        let (urls, jobs) = self.jobs();
        for url in urls {
            super::locks::end_jobs(&url, &jobs).await;
        }
        if let Some(face) = &self.face {
            face.send_modify(|f| f.front = None);
        }
        if let Some(fleet) = self.fleet.take() {
            fleet.shutdown().await;
        }
    }
}

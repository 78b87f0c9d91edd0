//! A pod's connections: at most `pool_size` sessions, opened when first
//! needed and kept, handed to one request at a time.
//!
//! Not sqlx's `Pool`: it pings the server when it hands a connection out
//! and again when the connection comes back, three round trips for each
//! request of one statement. Measured with `pgdrill bench fleet`, that
//! halved what the fleet could send next to pgbench, and the pings are not
//! what an app's pool does on every request. Here a request costs the
//! statement's one round trip; a connection the server has closed (a
//! terminated backend, a restarted server) is found by the request that
//! uses it: one whose socket is gone tries once more on a fresh session,
//! as the ping would have; one the server told why (57P01 after
//! `pg_terminate_backend`) fails with it, as an app's request would.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgDatabaseError, PgRow, PgSeverity};
use sqlx::query::Query;
use sqlx::{Connection, PgConnection, Postgres};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// One statement with its arguments, as the pods and the app's routes run it.
pub type Statement<'q> = Query<'q, Postgres, PgArguments>;

/// A pod's sessions (cheap to clone: every clone is the same set).
#[derive(Clone)]
pub struct Conns(Arc<Inner>);

struct Inner {
    options: PgConnectOptions,
    /// One permit per session; a request holds one while it runs.
    slots: Arc<Semaphore>,
    idle: Mutex<Vec<PgConnection>>,
    /// How long a request waits for a session (the API timeout).
    timeout: Duration,
}

/// What a request does with its session.
enum Fetch {
    Optional,
    All,
}

enum Fetched {
    Optional(Option<PgRow>),
    All(Vec<PgRow>),
}

impl Conns {
    /// A set of at most `size` sessions to `options`; none is opened yet.
    pub fn new(options: PgConnectOptions, size: u32, timeout: Duration) -> Conns {
        Conns(Arc::new(Inner {
            options,
            slots: Arc::new(Semaphore::new(size.max(1) as usize)),
            idle: Mutex::new(Vec::new()),
            timeout,
        }))
    }

    /// Opens one session now (a pod's readiness): an error is left for
    /// the first request to report.
    pub async fn warm(&self) {
        if let Ok((permit, conn, _)) = self.acquire().await {
            self.release(conn, permit);
        }
    }

    /// Runs `statement` and returns its first row, if any.
    pub async fn fetch_optional(
        &self,
        statement: impl Fn() -> Statement<'static>,
    ) -> Result<Option<PgRow>, sqlx::Error> {
        match self.fetch(statement, Fetch::Optional).await? {
            Fetched::Optional(row) => Ok(row),
            Fetched::All(rows) => Ok(rows.into_iter().next()),
        }
    }

    /// Runs `statement` and returns all its rows.
    pub async fn fetch_all(
        &self,
        statement: impl Fn() -> Statement<'static>,
    ) -> Result<Vec<PgRow>, sqlx::Error> {
        match self.fetch(statement, Fetch::All).await? {
            Fetched::All(rows) => Ok(rows),
            Fetched::Optional(row) => Ok(row.into_iter().collect()),
        }
    }

    /// Closes the set: idle sessions now, busy ones when their request
    /// ends; a request that has not started fails as `connection`.
    pub async fn close(&self) {
        self.0.slots.close();
        let idle = std::mem::take(&mut *self.lock_idle());
        for conn in idle {
            let _ = conn.close().await;
        }
    }

    /// `statement` on a session; a session the server had closed is
    /// replaced once. Dropped midway, the session goes with the future:
    /// its protocol state is unknown.
    async fn fetch(
        &self,
        statement: impl Fn() -> Statement<'static>,
        how: Fetch,
    ) -> Result<Fetched, sqlx::Error> {
        let (permit, mut conn, mut reused) = self.acquire().await?;
        loop {
            let result = match how {
                Fetch::Optional => statement()
                    .fetch_optional(&mut conn)
                    .await
                    .map(Fetched::Optional),
                Fetch::All => statement().fetch_all(&mut conn).await.map(Fetched::All),
            };
            match result {
                Err(e) if !usable_after(&e) => {
                    drop(conn);
                    // The socket was gone before the statement reached a
                    // server: what the ping would have found.
                    if !(reused && matches!(e, sqlx::Error::Io(_))) {
                        return Err(e);
                    }
                    conn = self.connect(Instant::now() + self.0.timeout).await?;
                    reused = false;
                }
                result => {
                    self.release(conn, permit);
                    return result;
                }
            }
        }
    }

    /// A permit and a session: an idle one (`true`), or a new one. Waits
    /// at most the API timeout for a permit and the connection together.
    async fn acquire(&self) -> Result<(OwnedSemaphorePermit, PgConnection, bool), sqlx::Error> {
        let deadline = Instant::now() + self.0.timeout;
        let permit = tokio::time::timeout_at(deadline, self.0.slots.clone().acquire_owned())
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let idle = self.lock_idle().pop();
        match idle {
            Some(conn) => Ok((permit, conn, true)),
            None => Ok((permit, self.connect(deadline).await?, false)),
        }
    }

    async fn connect(&self, deadline: Instant) -> Result<PgConnection, sqlx::Error> {
        tokio::time::timeout_at(deadline, PgConnection::connect_with(&self.0.options))
            .await
            .map_err(|_| sqlx::Error::PoolTimedOut)?
    }

    /// A session back to the set, or closed when the set is.
    fn release(&self, conn: PgConnection, permit: OwnedSemaphorePermit) {
        if self.0.slots.is_closed() {
            tokio::spawn(async move {
                let _ = conn.close().await;
            });
        } else {
            self.lock_idle().push(conn);
        }
        drop(permit);
    }

    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<PgConnection>> {
        self.0.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Whether a session can take the next statement after `e`: an error the
/// server reported and survived (a SQLSTATE below FATAL) leaves it ready;
/// anything else (the socket, the protocol, a FATAL such as a terminated
/// backend) does not.
fn usable_after(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => db
            .try_downcast_ref::<PgDatabaseError>()
            .is_none_or(|pg| !matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic)),
        _ => false,
    }
}

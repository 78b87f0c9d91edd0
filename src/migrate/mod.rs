//! The migration runner: apply, revert and report a scenario's migrations
//! against a real database, recorded in the scenario's tracking table.
//!
//! A transactional migration runs with its tracking row in one transaction:
//! it is applied and recorded, or neither. A non-transactional one (CREATE
//! INDEX CONCURRENTLY) is sent statement by statement and recorded only when
//! every statement succeeded; a failure part-way leaves what PostgreSQL left
//! (an INVALID index, say), exactly the situation a learner must clean up.
//!
//! Identifiers from the scenario (table and column names) are always quoted.

pub mod analyze;
pub mod classify;
pub mod split;

use std::time::Duration;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Row};

use crate::scenario::{Migration, MigrationKind, Tracking};

/// Why a migration step failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused a statement.
    #[error(
        "migration {id} ({direction}) failed: {message} (SQLSTATE {code})\n  statement: {}",
        excerpt(statement)
    )]
    Statement {
        /// Migration id.
        id: String,
        /// `up` or `down`.
        direction: Direction,
        /// SQLSTATE, e.g. `55P03`.
        code: String,
        /// PostgreSQL's message.
        message: String,
        /// The statement that failed (the whole text for transactional ones).
        statement: String,
    },
    /// The migration has no down step.
    #[error(
        "migration {id} has no down migration; use a corrective forward migration or a restore"
    )]
    NoDown {
        /// Migration id.
        id: String,
    },
    /// An id that the scenario does not declare.
    #[error("no migration {id} in this scenario")]
    Unknown {
        /// The id asked for.
        id: String,
    },
    /// A forward fix failed when run a second time.
    #[error(
        "{id} is not idempotent: its second run failed with {message} (SQLSTATE {code}); nothing was applied. Make it safe to re-run with IF EXISTS / IF NOT EXISTS (runbook 004, option B)"
    )]
    NotIdempotent {
        /// Migration id.
        id: String,
        /// SQLSTATE.
        code: String,
        /// PostgreSQL's message.
        message: String,
    },
    /// Talking to the database failed outside a migration statement.
    #[error("migration runner: {0}")]
    Database(String),
}

/// The start of a statement, for a message: at most three lines and 240
/// characters. A file that is not SQL at all (`migrate apply /etc/passwd`)
/// must not be echoed whole into the output and the transcript.
pub fn excerpt(statement: &str) -> String {
    const LINES: usize = 3;
    const CHARS: usize = 240;
    let lines: Vec<&str> = statement.trim().lines().collect();
    let mut shown = lines[..lines.len().min(LINES)].join("\n  ");
    let mut cut = lines.len() > LINES;
    if shown.chars().count() > CHARS {
        shown = shown.chars().take(CHARS).collect();
        cut = true;
    }
    if cut {
        shown.push_str(&format!(" ... ({} lines in all)", lines.len()));
    }
    shown
}

impl Error {
    /// The SQLSTATE of a refused statement.
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Statement { code, .. } => Some(code),
            _ => None,
        }
    }
}

/// Applying or reverting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Applying.
    Up,
    /// Reverting.
    Down,
}

impl std::fmt::Display for Direction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Direction::Up => "up",
            Direction::Down => "down",
        })
    }
}

/// One line of `migrate status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// Migration id.
    pub id: String,
    /// Declared classification.
    pub kind: MigrationKind,
    /// Whether it is recorded as applied.
    pub applied: bool,
    /// Whether a down step exists.
    pub has_down: bool,
}

/// Options for a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunOptions {
    /// `SET LOCAL lock_timeout` for transactional steps (session-level and
    /// reset afterwards for non-transactional ones). `None`: wait forever,
    /// as a naive migration tool does.
    pub lock_timeout: Option<Duration>,
    /// Run the SQL a second time and fail with [`Error::NotIdempotent`] if
    /// that fails: a transactional migration's second run is under a
    /// savepoint that is rolled back, so nothing is applied when it fails; a
    /// non-transactional one runs twice for real. Either way the migration
    /// is recorded only when both runs succeeded.
    pub check_idempotent: bool,
}

/// Runs one scenario's migrations.
#[derive(Debug, Clone, Copy)]
pub struct Runner<'a> {
    tracking: &'a Tracking,
    migrations: &'a [Migration],
}

/// The restore point the runner sets in the WAL just before it applies
/// `migration` (at most 63 bytes, as PostgreSQL allows).
pub fn restore_point(migration: &str) -> String {
    let mut name = format!("pgdrill-before-{migration}");
    while name.len() > 63 {
        name.pop();
    }
    name
}

/// Sets a restore point in the WAL, so a point-in-time restore can stop
/// just before this migration (`restore --before ID`). Only a superuser
/// may, on a server that keeps enough WAL; elsewhere there is simply none.
/// Down migrations get none.
async fn mark_restore_point(conn: &mut PgConnection, migration: &str, direction: Direction) {
    if direction == Direction::Down {
        return;
    }
    let _ = sqlx::query("SELECT pg_create_restore_point($1)")
        .bind(restore_point(migration))
        .execute(conn)
        .await;
}

/// Quotes an identifier for SQL.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn db_error(e: sqlx::Error) -> Error {
    Error::Database(e.to_string())
}

impl<'a> Runner<'a> {
    /// A runner over these migrations, in declared order.
    pub fn new(tracking: &'a Tracking, migrations: &'a [Migration]) -> Runner<'a> {
        Runner {
            tracking,
            migrations,
        }
    }

    /// The statement that records a run in the tracking table: an upsert
    /// of the id with the tool's other columns, or the row's removal.
    fn record_sql(&self, direction: Direction) -> String {
        match direction {
            Direction::Up => {
                let valued: Vec<_> = self
                    .tracking
                    .columns
                    .iter()
                    .filter_map(|c| Some((quote_ident(&c.name), c.value.as_deref()?)))
                    .collect();
                format!(
                    "INSERT INTO {t} ({id}{names}) VALUES ($1::text{values}) ON CONFLICT ({id}) DO UPDATE SET {at} = now()",
                    t = self.table(),
                    id = quote_ident(&self.tracking.id_column),
                    at = quote_ident(&self.tracking.applied_column),
                    names = valued
                        .iter()
                        .map(|(n, _)| format!(", {n}"))
                        .collect::<String>(),
                    values = valued
                        .iter()
                        .map(|(_, v)| format!(", {v}"))
                        .collect::<String>(),
                )
            }
            Direction::Down => format!(
                "DELETE FROM {} WHERE {} = $1",
                self.table(),
                quote_ident(&self.tracking.id_column)
            ),
        }
    }

    fn table(&self) -> String {
        quote_ident(&self.tracking.table)
    }

    /// Creates the tracking table if missing, with the real tool's other
    /// columns. The id column is unique whatever the shape (the runner
    /// upserts on it): the primary key, unless another column is.
    pub async fn ensure_table(&self, conn: &mut PgConnection) -> Result<(), Error> {
        let other_key = self
            .tracking
            .columns
            .iter()
            .any(|c| c.sql_type.to_ascii_lowercase().contains("primary key"));
        let id_type = if other_key {
            "text NOT NULL UNIQUE"
        } else {
            "text PRIMARY KEY"
        };
        let extra: String = self
            .tracking
            .columns
            .iter()
            .map(|c| format!(", {} {}", quote_ident(&c.name), c.sql_type))
            .collect();
        let sql = format!(
            "CREATE TABLE IF NOT EXISTS {} ({} {id_type}, {} timestamptz NOT NULL DEFAULT now(){extra})",
            self.table(),
            quote_ident(&self.tracking.id_column),
            quote_ident(&self.tracking.applied_column),
        );
        conn.execute(sqlx::raw_sql(AssertSqlSafe(sql)))
            .await
            .map_err(db_error)?;
        Ok(())
    }

    /// Ids recorded as applied, oldest first.
    pub async fn applied(&self, conn: &mut PgConnection) -> Result<Vec<String>, Error> {
        self.ensure_table(conn).await?;
        let sql = format!(
            "SELECT {id}::text FROM {t} ORDER BY {at}, {id}",
            id = quote_ident(&self.tracking.id_column),
            t = self.table(),
            at = quote_ident(&self.tracking.applied_column),
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(conn)
            .await
            .map_err(db_error)?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    /// Every declared migration with whether it is applied.
    pub async fn status(&self, conn: &mut PgConnection) -> Result<Vec<Status>, Error> {
        let applied = self.applied(conn).await?;
        Ok(self
            .migrations
            .iter()
            .map(|m| Status {
                id: m.id.clone(),
                kind: m.kind,
                applied: applied.contains(&m.id),
                has_down: m.down.is_some(),
            })
            .collect())
    }

    /// Applies pending migrations in declared order (at most `count`).
    /// Returns the ids applied; stops at the first failure.
    pub async fn up(
        &self,
        conn: &mut PgConnection,
        count: Option<usize>,
        opts: RunOptions,
    ) -> Result<Vec<String>, Error> {
        let applied = self.applied(conn).await?;
        let pending: Vec<&Migration> = self
            .migrations
            .iter()
            .filter(|m| !applied.contains(&m.id))
            .collect();
        let mut done = Vec::new();
        for m in pending.into_iter().take(count.unwrap_or(usize::MAX)) {
            self.apply(conn, m, Direction::Up, opts).await?;
            done.push(m.id.clone());
        }
        Ok(done)
    }

    /// Reverts the `count` most recently applied migrations, newest first.
    pub async fn down(
        &self,
        conn: &mut PgConnection,
        count: usize,
        opts: RunOptions,
    ) -> Result<Vec<String>, Error> {
        let applied = self.applied(conn).await?;
        let mut done = Vec::new();
        for id in applied.iter().rev().take(count) {
            let m = self.find(id)?;
            self.apply(conn, m, Direction::Down, opts).await?;
            done.push(id.clone());
        }
        Ok(done)
    }

    /// Applies a corrective forward migration that is not in the
    /// scenario, checking that it is idempotent by running it twice (see
    /// [`RunOptions::check_idempotent`]).
    pub async fn forward_fix(
        &self,
        conn: &mut PgConnection,
        m: &Migration,
        opts: RunOptions,
    ) -> Result<(), Error> {
        self.ensure_table(conn).await?;
        let opts = RunOptions {
            check_idempotent: true,
            ..opts
        };
        self.apply(conn, m, Direction::Up, opts).await
    }

    fn find(&self, id: &str) -> Result<&'a Migration, Error> {
        self.migrations
            .iter()
            .find(|m| m.id == id)
            .ok_or_else(|| Error::Unknown { id: id.into() })
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        m: &Migration,
        direction: Direction,
        opts: RunOptions,
    ) -> Result<(), Error> {
        let sql = match direction {
            Direction::Up => m.up.as_str(),
            Direction::Down => m
                .down
                .as_deref()
                .ok_or_else(|| Error::NoDown { id: m.id.clone() })?,
        };
        let record = self.record_sql(direction);
        let refused = |statement: &str, e: sqlx::Error| match e {
            sqlx::Error::Database(db) => Error::Statement {
                id: m.id.clone(),
                direction,
                code: db.code().map(|c| c.into_owned()).unwrap_or_default(),
                message: db.message().to_string(),
                statement: statement.to_string(),
            },
            other => db_error(other),
        };
        let not_idempotent = |e: sqlx::Error| match e {
            sqlx::Error::Database(db) => Error::NotIdempotent {
                id: m.id.clone(),
                code: db.code().map(|c| c.into_owned()).unwrap_or_default(),
                message: db.message().to_string(),
            },
            other => db_error(other),
        };
        let timeout = opts.lock_timeout.map(|t| format!("{}ms", t.as_millis()));
        mark_restore_point(conn, &m.id, direction).await;

        if m.transactional {
            let mut tx = conn.begin().await.map_err(db_error)?;
            if let Some(t) = &timeout {
                let set = format!("SET LOCAL lock_timeout = '{t}'");
                tx.execute(sqlx::raw_sql(AssertSqlSafe(set)))
                    .await
                    .map_err(db_error)?;
            }
            tx.execute(sqlx::raw_sql(AssertSqlSafe(sql.to_string())))
                .await
                .map_err(|e| refused(sql, e))?;
            if opts.check_idempotent {
                tx.execute("SAVEPOINT pgdrill_idempotency")
                    .await
                    .map_err(db_error)?;
                tx.execute(sqlx::raw_sql(AssertSqlSafe(sql.to_string())))
                    .await
                    .map_err(not_idempotent)?;
                tx.execute("ROLLBACK TO SAVEPOINT pgdrill_idempotency")
                    .await
                    .map_err(db_error)?;
            }
            sqlx::query(AssertSqlSafe(record))
                .bind(&m.id)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            return Ok(());
        }

        // Non-transactional: one statement at a time, session settings reset after.
        if let Some(t) = &timeout {
            let set = format!("SET lock_timeout = '{t}'");
            conn.execute(sqlx::raw_sql(AssertSqlSafe(set)))
                .await
                .map_err(db_error)?;
        }
        let mut result = Ok(());
        let statements = analyze::statements(sql);
        for statement in &statements {
            if let Err(e) = conn
                .execute(sqlx::raw_sql(AssertSqlSafe(statement.clone())))
                .await
            {
                result = Err(refused(statement, e));
                break;
            }
        }
        if opts.check_idempotent && result.is_ok() {
            for statement in &statements {
                if let Err(e) = conn
                    .execute(sqlx::raw_sql(AssertSqlSafe(statement.clone())))
                    .await
                {
                    result = Err(not_idempotent(e));
                    break;
                }
            }
        }
        if timeout.is_some() {
            conn.execute("RESET lock_timeout").await.map_err(db_error)?;
        }
        result?;
        sqlx::query(AssertSqlSafe(record))
            .bind(&m.id)
            .execute(conn)
            .await
            .map_err(db_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("schema_migrations"), "\"schema_migrations\"");
        assert_eq!(quote_ident("we\"ird"), "\"we\"\"ird\"");
    }

    #[test]
    fn a_failed_file_is_shown_as_a_short_excerpt() {
        // Regression: `migrate apply /etc/passwd` echoed the whole file into
        // the output and the transcript.
        let file: String = (0..40)
            .map(|n| format!("user{n}:x:{n}:{n}:secret line {n}:/home/u{n}:/bin/sh\n"))
            .collect();
        let e = Error::Statement {
            id: "passwd".into(),
            direction: Direction::Up,
            code: "42601".into(),
            message: "syntax error at or near \"user0\"".into(),
            statement: file,
        };
        let shown = e.to_string();
        assert!(shown.contains("user0:x:0"), "{shown}");
        assert!(!shown.contains("secret line 3"), "{shown}");
        assert!(shown.contains("(40 lines in all)"), "{shown}");
        assert!(shown.chars().count() < 500, "{shown}");
        assert_eq!(excerpt("SELECT 1"), "SELECT 1");
        let long = "x".repeat(1000);
        assert!(excerpt(&long).chars().count() < 300);
    }
}

//! SQLSTATE codes pgdrill reasons about (sqlx has no public constants).

/// undefined_column: an old pod asks for a renamed or dropped column.
pub const UNDEFINED_COLUMN: &str = "42703";
/// undefined_table.
pub const UNDEFINED_TABLE: &str = "42P01";
/// query_canceled: statement_timeout, or a cancel request.
pub const QUERY_CANCELED: &str = "57014";
/// lock_not_available: lock_timeout expired.
pub const LOCK_NOT_AVAILABLE: &str = "55P03";
/// active_sql_transaction: e.g. CREATE INDEX CONCURRENTLY in a transaction.
pub const ACTIVE_SQL_TRANSACTION: &str = "25001";
/// unique_violation.
pub const UNIQUE_VIOLATION: &str = "23505";
/// not_null_violation.
pub const NOT_NULL_VIOLATION: &str = "23502";

/// A code with its name, e.g. `42703 undefined_column`.
pub fn describe(code: &str) -> String {
    let name = match code {
        UNDEFINED_COLUMN => "undefined_column",
        UNDEFINED_TABLE => "undefined_table",
        QUERY_CANCELED => "statement timeout (the API timeout)",
        LOCK_NOT_AVAILABLE => "lock_not_available",
        ACTIVE_SQL_TRANSACTION => "active_sql_transaction",
        UNIQUE_VIOLATION => "unique_violation",
        NOT_NULL_VIOLATION => "not_null_violation",
        "40P01" => "deadlock_detected",
        "57P01" => "admin_shutdown",
        // Not SQLSTATEs: what went wrong before the database could answer.
        "pool_timeout" => return "pool_timeout (connection pool exhausted: every connection was busy for the whole API timeout)".to_string(),
        "overload" => return "overload (the pod's queue of requests was full)".to_string(),
        "connection" => return "connection (could not reach the database)".to_string(),
        _ => return code.to_string(),
    };
    format!("{code} {name}")
}

/// A database error for people: PostgreSQL's message and its SQLSTATE
/// (sqlx's own `Display` appends the C source line instead).
pub fn message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => format!(
            "{} (SQLSTATE {})",
            db.message(),
            db.code().unwrap_or_default()
        ),
        other => other.to_string(),
    }
}

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

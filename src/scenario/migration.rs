//! Migrations as a scenario declares them, and the table that tracks them.

use serde::{Deserialize, Serialize};

/// Expand (additive: the old schema path stays valid) or contract
/// (destructive: drops, renames, removed constraints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrationKind {
    /// Additive; safe while old and new app versions run side by side.
    Expand,
    /// Destructive; only after the compatibility window, with approval.
    Contract,
}

impl std::fmt::Display for MigrationKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MigrationKind::Expand => "expand",
            MigrationKind::Contract => "contract",
        })
    }
}

/// One migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Migration {
    /// Version id, ordered as declared (e.g. `002_rename_name`).
    pub id: String,
    /// Declared classification.
    pub kind: MigrationKind,
    /// SQL that applies it.
    pub up: String,
    /// SQL that reverts it, if the authors wrote one.
    #[serde(default)]
    pub down: Option<String>,
    /// False for steps that cannot run in a transaction (CREATE INDEX
    /// CONCURRENTLY): each statement is then sent on its own.
    #[serde(default = "yes")]
    pub transactional: bool,
    /// Already applied when the drill starts (part of the fixture's history).
    #[serde(default)]
    pub applied_at_start: bool,
    /// For a migration applied at the start: how long before the drill's
    /// start its tracking row says it was installed (`"14d"`), as a real
    /// history would; unset, the drill's start.
    #[serde(default, skip_serializing)]
    pub installed_ago: Option<super::Dur>,
}

fn yes() -> bool {
    true
}

/// The migration-tracking table: its name and columns are configurable so a
/// scenario can mirror a real tool's (node-pg-migrate's
/// `node_pgmigrations_schema_version (version, installed_on)`, say).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tracking {
    /// Table name.
    pub table: String,
    /// Column holding the migration id.
    pub id_column: String,
    /// Column holding when it was applied.
    pub applied_column: String,
    /// The real tool's other columns (Flyway's `installed_rank`,
    /// `description`, `success`; node-pg-migrate's `id serial`).
    pub columns: Vec<TrackingColumn>,
}

/// A column of the tracking table besides the id and the applied time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrackingColumn {
    /// Its name.
    pub name: String,
    /// Its SQL type, with constraints (`integer`, `serial PRIMARY KEY`,
    /// `boolean NOT NULL`).
    #[serde(rename = "type")]
    pub sql_type: String,
    /// The SQL expression a new row gets, where `$1` is the migration's id
    /// (`'V' || $1 || '__fix.sql'`, `true`, `current_user`); unset, the
    /// column's default.
    #[serde(default)]
    pub value: Option<String>,
}

impl Default for Tracking {
    fn default() -> Tracking {
        Tracking {
            table: "schema_migrations".into(),
            id_column: "version".into(),
            applied_column: "applied_at".into(),
            columns: Vec::new(),
        }
    }
}

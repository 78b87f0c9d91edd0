//! Scenarios as pure data.
//!
//! A scenario file (`scenarios/*.toml`) describes a drill: its story, the
//! fixture, migrations, app versions, fleet, timeline, SLO and rubric. This
//! module holds the serde model; it does no I/O beyond loading, and has no
//! tokio or sqlx in it, so scoring and validation stay pure.
//!
//! Built so far: the migration part ([`migration`]).

pub mod migration;

pub use migration::{Migration, MigrationKind, Tracking};

//! Snapshots: a consistent copy of an instance's database, taken while it
//! serves. Physical where pgdrill runs the server (an online base backup,
//! see `physical.rs`: restorable to any later point in time), logical
//! otherwise or when asked (`pg_dump`, one repeatable-read transaction that
//! blocks nobody). The files live in the instance's own directory and go
//! away with it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::InstanceInfo;

/// How a snapshot was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A base backup: a copy of the data directory, with the WAL archive.
    Physical,
    /// A `pg_dump` file.
    Logical,
}

impl Kind {
    /// As `snapshot list` shows it.
    pub fn word(self) -> &'static str {
        match self {
            Kind::Physical => "physical",
            Kind::Logical => "logical",
        }
    }
}

/// A snapshot on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    /// Its name.
    pub name: String,
    /// Physical or logical.
    pub kind: Kind,
    /// The dump file (custom format), or the base backup's directory.
    pub file: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// How long it took.
    pub took: Duration,
}

/// Why a snapshot failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The instance has no local directory or tools.
    #[error("this instance cannot take snapshots (no local data directory or client tools)")]
    Unsupported,
    /// A snapshot by that name exists.
    #[error("a snapshot named `{0}` already exists; pick another name")]
    Exists(String),
    /// The name would escape the snapshot directory.
    #[error("`{0}` is not a valid snapshot name: use letters, digits, `-` and `_`")]
    BadName(String),
    /// pg_dump failed.
    #[error("{0}")]
    Dump(String),
}

/// Takes a snapshot named `name` of the instance's database: physical
/// where the instance supports it, unless `logical` asks for a dump.
pub async fn create(
    info: &InstanceInfo,
    superuser_url: &str,
    name: &str,
    logical: bool,
) -> Result<Snapshot, Error> {
    if !crate::text::is_plain_name(name) {
        return Err(Error::BadName(name.to_string()));
    }
    let Some(dir) = &info.snapshot_dir else {
        return Err(Error::Unsupported);
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::Dump(format!("{}: {e}", dir.display())))?;
    let (file, backup) = (dir.join(format!("{name}.dump")), dir.join(name));
    if file.exists() || backup.exists() {
        return Err(Error::Exists(name.to_string()));
    }
    if !logical && super::physical::supported(info) {
        return match super::physical::base_backup(info, superuser_url, name, &backup).await {
            Ok(b) => Ok(Snapshot {
                name: name.to_string(),
                kind: Kind::Physical,
                file: backup,
                bytes: b.bytes,
                took: b.took,
            }),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&backup);
                Err(Error::Dump(e))
            }
        };
    }
    let Some(tools) = &info.tools else {
        return Err(Error::Unsupported);
    };
    let started = Instant::now();
    if let Err(e) = tools.dump(superuser_url, &file).await {
        let _ = std::fs::remove_file(&file);
        return Err(Error::Dump(e));
    }
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    Ok(Snapshot {
        name: name.to_string(),
        kind: Kind::Logical,
        file,
        bytes,
        took: started.elapsed(),
    })
}

//! Snapshots: a consistent logical copy of an instance's database, taken
//! with `pg_dump` (one repeatable-read transaction, so it is consistent with
//! live traffic and blocks nobody). The files live in the instance's own
//! directory and go away with it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::InstanceInfo;

/// A snapshot on disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Snapshot {
    /// Its name.
    pub name: String,
    /// The dump file (custom format).
    pub file: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// How long pg_dump took.
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

/// Takes a snapshot named `name` of the instance's database.
pub async fn create(
    info: &InstanceInfo,
    superuser_url: &str,
    name: &str,
) -> Result<Snapshot, Error> {
    if !crate::text::is_plain_name(name) {
        return Err(Error::BadName(name.to_string()));
    }
    let (Some(tools), Some(dir)) = (&info.tools, &info.snapshot_dir) else {
        return Err(Error::Unsupported);
    };
    std::fs::create_dir_all(dir).map_err(|e| Error::Dump(format!("{}: {e}", dir.display())))?;
    let file = dir.join(format!("{name}.dump"));
    if file.exists() {
        return Err(Error::Exists(name.to_string()));
    }
    let started = Instant::now();
    if let Err(e) = tools.dump(superuser_url, &file).await {
        let _ = std::fs::remove_file(&file);
        return Err(Error::Dump(e));
    }
    let bytes = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
    Ok(Snapshot {
        name: name.to_string(),
        file,
        bytes,
        took: started.elapsed(),
    })
}

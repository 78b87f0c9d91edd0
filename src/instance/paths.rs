//! Where pgdrill keeps things on disk.
//!
//! Three places, each overridable for tests and unusual machines:
//! - the **cache** (`PGDRILL_CACHE_DIR`, else `$XDG_CACHE_HOME/pgdrill`, else
//!   `~/.cache/pgdrill`) holds one initialised template cluster per PostgreSQL
//!   version; losing it only costs one `initdb`.
//! - the **state** directory (`PGDRILL_STATE_DIR`, else `$XDG_STATE_HOME/pgdrill`,
//!   else `~/.local/state/pgdrill`) holds the registry of live instances; it is
//!   on disk so that a crashed run's orphans are found by the next one.
//! - the **runtime** directory (`PGDRILL_RUNTIME_DIR`, else the first tmpfs with
//!   room: `/dev/shm`, `$XDG_RUNTIME_DIR`; else the temp directory), or rather
//!   a private `pgdrill-UID` directory inside it, holds the instances' data
//!   directories. tmpfs makes copying and deleting a cluster
//!   cheap; nothing there needs to survive a reboot.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::Error;

/// Free space a tmpfs must have before instances are placed on it.
const TMPFS_MIN_FREE: u64 = 512 * 1024 * 1024;

/// Linux's magic number for tmpfs in `statfs(2)`.
const TMPFS_MAGIC: i64 = 0x0102_1994;

/// The kind of storage instances live on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    /// Memory-backed: fast to copy into and to delete.
    Tmpfs,
    /// A disk: deleting a cluster takes seconds, so it is done in the background.
    Disk,
}

impl std::fmt::Display for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Storage::Tmpfs => "tmpfs",
            Storage::Disk => "disk",
        })
    }
}

/// The directories one pgdrill process works with.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// Template clusters, one per PostgreSQL version.
    pub cache: PathBuf,
    /// The registry of live instances.
    pub state: PathBuf,
    /// Instance data directories.
    pub runtime: PathBuf,
    /// What `runtime` is stored on.
    pub storage: Storage,
}

impl Dirs {
    /// Resolves the directories from the environment (see the module docs).
    /// Nothing is created here.
    pub fn from_env() -> Dirs {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let xdg = |var: &str, fallback: &[&str]| -> PathBuf {
            match std::env::var_os(var).filter(|v| !v.is_empty()) {
                Some(dir) => PathBuf::from(dir).join("pgdrill"),
                None => {
                    let mut dir = home.clone().unwrap_or_else(std::env::temp_dir);
                    dir.extend(fallback);
                    dir.join("pgdrill")
                }
            }
        };
        let cache =
            env_dir("PGDRILL_CACHE_DIR").unwrap_or_else(|| xdg("XDG_CACHE_HOME", &[".cache"]));
        let state = env_dir("PGDRILL_STATE_DIR")
            .unwrap_or_else(|| xdg("XDG_STATE_HOME", &[".local", "state"]));
        let (runtime, storage) = match env_dir("PGDRILL_RUNTIME_DIR") {
            Some(parent) => {
                let storage = storage_of(&parent);
                (
                    parent.join(format!("pgdrill-{}", nix::unistd::geteuid())),
                    storage,
                )
            }
            None => default_runtime(),
        };
        Dirs {
            cache,
            state,
            runtime,
            storage,
        }
    }
}

fn env_dir(var: &str) -> Option<PathBuf> {
    std::env::var_os(var)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn default_runtime() -> (PathBuf, Storage) {
    let euid = nix::unistd::geteuid().as_raw();
    let mut candidates = vec![PathBuf::from("/dev/shm")];
    // $XDG_RUNTIME_DIR is private to its user (mode 0700): useless when the
    // server has to run as another user because we are root.
    if euid != 0
        && let Some(dir) = env_dir("XDG_RUNTIME_DIR")
    {
        candidates.push(dir);
    }
    for dir in candidates {
        if is_tmpfs_with_room(&dir) {
            return (dir.join(format!("pgdrill-{euid}")), Storage::Tmpfs);
        }
    }
    let dir = std::env::temp_dir().join(format!("pgdrill-{euid}"));
    let storage = storage_of(&dir);
    (dir, storage)
}

// The casts are no-ops on Linux x86_64, not on every platform nix supports.
#[allow(clippy::unnecessary_cast)]
fn is_tmpfs_with_room(dir: &Path) -> bool {
    let Ok(fs) = nix::sys::statfs::statfs(dir) else {
        return false;
    };
    if fs.filesystem_type().0 as i64 != TMPFS_MAGIC {
        return false;
    }
    let Ok(vfs) = nix::sys::statvfs::statvfs(dir) else {
        return false;
    };
    (vfs.blocks_available() as u64).saturating_mul(vfs.fragment_size() as u64) >= TMPFS_MIN_FREE
}

/// What a directory (or its nearest existing ancestor) is stored on.
#[allow(clippy::unnecessary_cast)]
pub fn storage_of(dir: &Path) -> Storage {
    let existing = dir
        .ancestors()
        .find(|p| p.exists())
        .unwrap_or(Path::new("/"));
    match nix::sys::statfs::statfs(existing) {
        Ok(fs) if fs.filesystem_type().0 as i64 == TMPFS_MAGIC => Storage::Tmpfs,
        _ => Storage::Disk,
    }
}

/// Creates `dir` (and parents) if missing, then checks that it is a real
/// directory owned by us and sets its mode. Shared places like `/dev/shm` are
/// world-writable, so a directory someone else made there must not be trusted.
pub fn ensure_private_dir(dir: &Path, mode: u32) -> Result<(), Error> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(mode)
        .create(dir)
        .map_err(Error::io("create", dir))?;
    let meta = std::fs::symlink_metadata(dir).map_err(Error::io("inspect", dir))?;
    if !meta.is_dir() {
        return Err(Error::UnsafeDir {
            path: dir.into(),
            why: "it is not a directory".into(),
        });
    }
    let euid = nix::unistd::geteuid().as_raw();
    if meta.uid() != euid {
        return Err(Error::UnsafeDir {
            path: dir.into(),
            why: format!(
                "it belongs to uid {} and pgdrill runs as uid {euid}; remove it or choose another place (PGDRILL_RUNTIME_DIR, PGDRILL_STATE_DIR, PGDRILL_CACHE_DIR)",
                meta.uid()
            ),
        });
    }
    if meta.mode() & 0o7777 != mode {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode))
            .map_err(Error::io("set permissions of", dir))?;
    }
    Ok(())
}

/// Checks that user `uid` (group `gid`) may traverse every ancestor of `dir`.
/// Used when we are root and the server runs as an unprivileged user, so a
/// private parent directory is reported clearly instead of as a server error.
pub fn check_traversable(dir: &Path, uid: u32, gid: u32, user: &str) -> Result<(), Error> {
    for ancestor in dir.ancestors() {
        let Ok(meta) = std::fs::metadata(ancestor) else {
            continue;
        };
        let mode = meta.mode();
        let ok = if meta.uid() == uid {
            mode & 0o100 != 0
        } else if meta.gid() == gid {
            mode & 0o010 != 0
        } else {
            mode & 0o001 != 0
        };
        if !ok {
            return Err(Error::NotTraversable {
                path: ancestor.into(),
                user: user.into(),
            });
        }
    }
    Ok(())
}

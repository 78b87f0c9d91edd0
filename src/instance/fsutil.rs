//! File-tree helpers: copying a template cluster, removing an instance.
//!
//! Removing a cluster from a disk takes seconds, so on disk an instance
//! directory is first renamed into a `.trash-OWNERPID-ID` sibling (instant,
//! and the instance path is gone at once) and deleted by a background thread.
//! [`flush_trash`] waits for those threads before the process exits, and
//! [`sweep_trash`] removes trash whose owner died before finishing.

use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use super::paths::Storage;
use super::{Error, RunAs, process};

static PENDING: Mutex<Vec<JoinHandle<()>>> = Mutex::new(Vec::new());

/// Copies the tree at `from` to `to` (which must not exist), keeping modes,
/// and gives every copied entry to `owner`. Stops early, with an error, once
/// `cancel` is set.
pub fn copy_tree(from: &Path, to: &Path, owner: &RunAs, cancel: &AtomicBool) -> Result<(), Error> {
    if cancel.load(Ordering::Relaxed) {
        return Err(Error::Io {
            action: "copy",
            path: to.into(),
            source: std::io::Error::new(std::io::ErrorKind::Interrupted, "cancelled"),
        });
    }
    let meta = std::fs::symlink_metadata(from).map_err(Error::io("read", from))?;
    if meta.is_dir() {
        std::fs::DirBuilder::new()
            .mode(meta.mode() & 0o7777)
            .create(to)
            .map_err(Error::io("create", to))?;
        // DirBuilder applies the umask; set the mode exactly.
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(Error::io("set permissions of", to))?;
        owner.chown(to)?;
        for entry in std::fs::read_dir(from).map_err(Error::io("read", from))? {
            let entry = entry.map_err(Error::io("read", from))?;
            copy_tree(&entry.path(), &to.join(entry.file_name()), owner, cancel)?;
        }
    } else if meta.file_type().is_symlink() {
        let target = std::fs::read_link(from).map_err(Error::io("read", from))?;
        std::os::unix::fs::symlink(target, to).map_err(Error::io("create", to))?;
        owner.chown(to)?;
    } else {
        std::fs::copy(from, to).map_err(Error::io("copy", to))?;
        owner.chown(to)?;
    }
    Ok(())
}

/// Removes a tree now (missing is fine).
pub fn remove_tree(dir: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io {
            action: "remove",
            path: dir.into(),
            source: e,
        }),
    }
}

/// Removes an instance directory: at once on tmpfs; on disk by renaming it
/// to trash (so the path is gone now) and deleting it in the background.
pub fn dispose(dir: &Path, storage: Storage) -> Result<(), Error> {
    if storage == Storage::Tmpfs {
        return remove_tree(dir);
    }
    let name = dir
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("instance");
    let trash = dir.with_file_name(format!(".trash-{}-{name}", std::process::id()));
    match std::fs::rename(dir, &trash) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(_) => return remove_tree(dir),
    }
    let handle = std::thread::spawn(move || {
        let _ = std::fs::remove_dir_all(&trash);
    });
    PENDING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(handle);
    Ok(())
}

/// Waits for background deletions started by [`dispose`].
pub fn flush_trash() {
    let handles = std::mem::take(&mut *PENDING.lock().unwrap_or_else(|e| e.into_inner()));
    for handle in handles {
        let _ = handle.join();
    }
}

/// Trash and template staging directories left in `runtime` by processes
/// that have died (named `.trash-PID-...` and `.staging-PID-...`).
pub fn leftovers(runtime: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(runtime) else {
        return Vec::new();
    };
    read.flatten()
        .filter(|entry| {
            let name = entry.file_name();
            name.to_str()
                .and_then(|n| {
                    n.strip_prefix(".trash-")
                        .or_else(|| n.strip_prefix(".staging-"))
                })
                .and_then(|rest| rest.split('-').next())
                .is_some_and(owner_is_gone)
        })
        .map(|entry| entry.path())
        .collect()
}

/// The entries of `dir` named `NAME.tmp-PID` whose writer, PID, has died
/// mid-copy (Ctrl-C, SIGKILL): what a cache build left unfinished.
pub fn unfinished_copies(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    read.flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_str()
                .and_then(|n| n.rsplit_once(".tmp-"))
                .is_some_and(|(_, pid)| owner_is_gone(pid))
        })
        .map(|entry| entry.path())
        .collect()
}

/// Whether the process whose pid is written here has died (and is not us).
pub fn owner_is_gone(pid: &str) -> bool {
    let owner: u32 = pid.parse().unwrap_or(0);
    owner != std::process::id() && !process::is_alive(owner, None)
}

/// Removes what [`leftovers`] finds, and returns what it removed.
pub fn sweep_trash(runtime: &Path) -> Vec<PathBuf> {
    remove_all(leftovers(runtime))
}

/// Removes each directory; returns those removed.
pub fn remove_all(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    paths
        .into_iter()
        .filter(|p| std::fs::remove_dir_all(p).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn me() -> RunAs {
        RunAs {
            user: "me".into(),
            uid: 0,
            gid: 0,
            switched: false,
        }
    }

    #[test]
    fn copy_keeps_modes_and_content() {
        let src = tempfile::tempdir().unwrap();
        let data = src.path().join("data");
        std::fs::create_dir(&data).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::create_dir(data.join("base")).unwrap();
        std::fs::write(data.join("base/1"), b"page").unwrap();
        std::fs::write(data.join("PG_VERSION"), b"15\n").unwrap();
        std::fs::set_permissions(
            data.join("PG_VERSION"),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();

        let dst = tempfile::tempdir().unwrap();
        let copy = dst.path().join("data");
        copy_tree(&data, &copy, &me(), &AtomicBool::new(false)).unwrap();
        assert_eq!(std::fs::read(copy.join("base/1")).unwrap(), b"page");
        assert_eq!(std::fs::metadata(&copy).unwrap().mode() & 0o777, 0o700);
        assert_eq!(
            std::fs::metadata(copy.join("PG_VERSION")).unwrap().mode() & 0o777,
            0o600
        );
    }

    #[test]
    fn a_cancelled_copy_stops() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("f"), b"x").unwrap();
        let dst = tempfile::tempdir().unwrap();
        let err = copy_tree(
            src.path(),
            &dst.path().join("c"),
            &me(),
            &AtomicBool::new(true),
        );
        assert!(err.is_err());
        assert!(!dst.path().join("c").exists());
    }

    #[test]
    fn dispose_on_disk_removes_the_path_at_once_and_the_tree_after_flush() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("pgd-x");
        std::fs::create_dir_all(dir.join("data/base")).unwrap();
        dispose(&dir, Storage::Disk).unwrap();
        assert!(!dir.exists());
        flush_trash();
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
    }

    #[test]
    fn sweep_removes_trash_of_dead_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let theirs = root.path().join(format!(".trash-{dead}-pgd-a"));
        let mine = root
            .path()
            .join(format!(".trash-{}-pgd-b", std::process::id()));
        std::fs::create_dir(&theirs).unwrap();
        std::fs::create_dir(&mine).unwrap();
        let removed = sweep_trash(root.path());
        assert_eq!(removed, vec![theirs.clone()]);
        assert!(mine.exists());
    }
}

//! The registry of live instances, and reaping the orphans of dead runs.
//!
//! One JSON file per instance in `<state>/instances/`, written *before* the
//! server starts, so that a pgdrill killed at any point leaves a trace the
//! next run can follow. An entry is an orphan when its owner process is gone
//! (pid plus start time, so a reused pid does not keep it alive).
//!
//! Reaping claims an entry by renaming it (`ID.json` → `ID.json.reaping-PID`);
//! rename is atomic, so two concurrent reapers never both act on one orphan,
//! and a claim whose reaper died is taken over by the next.
//!
//! Architecture invariant: a server process is only signalled after
//! [`process::is_postmaster_of`] has matched its pid to the recorded data
//! directory. A stale entry can never make pgdrill kill an unrelated process.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Error, fsutil, process};

/// What the registry knows of one instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Entry {
    /// Instance id, e.g. `pgd-1a2b3c4d`.
    pub id: String,
    /// pid of the pgdrill process that owns it.
    pub owner_pid: u32,
    /// The owner's start time (clock ticks since boot), against pid reuse.
    pub owner_started: Option<u64>,
    /// pid of the postmaster, once started.
    pub postmaster_pid: Option<u32>,
    /// The instance directory (holds `data/`, `sock/`, the log); removed whole.
    pub instance_dir: PathBuf,
    /// The server's data directory.
    pub data_dir: PathBuf,
    /// TCP port on 127.0.0.1.
    pub port: u16,
    /// PostgreSQL version string.
    pub version: String,
    /// Seconds since the Unix epoch when provisioning began.
    pub created_unix: u64,
}

/// Whether an entry's owner still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Liveness {
    /// The owner runs: the instance is in use.
    Live,
    /// The owner is gone: the instance is waiting to be reaped.
    Orphan,
}

/// An entry with its liveness and whether its server still runs.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    /// The entry.
    #[serde(flatten)]
    pub entry: Entry,
    /// Owner alive or not.
    pub liveness: Liveness,
    /// True if a postmaster of this data directory runs.
    pub server_running: bool,
}

/// What reaping did to one orphan.
#[derive(Debug, Clone, Serialize)]
pub struct Reaped {
    /// The orphan's entry.
    #[serde(flatten)]
    pub entry: Entry,
    /// True if a server was running and was stopped.
    pub stopped_server: bool,
    /// Problems met (the entry is kept for another try when non-empty).
    pub problems: Vec<String>,
}

/// The registry directory.
#[derive(Debug, Clone)]
pub struct Registry {
    dir: PathBuf,
}

impl Registry {
    /// Opens (creating if needed) the registry under a state directory.
    pub fn open(state_dir: &Path) -> Result<Registry, Error> {
        let dir = state_dir.join("instances");
        super::paths::ensure_private_dir(state_dir, 0o700)?;
        super::paths::ensure_private_dir(&dir, 0o700)?;
        Ok(Registry { dir })
    }

    /// The registry directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    /// Writes (or overwrites) an entry atomically.
    pub fn put(&self, entry: &Entry) -> Result<(), Error> {
        let path = self.path_of(&entry.id);
        let tmp = self.dir.join(format!(".{}.tmp", entry.id));
        let json = serde_json::to_vec_pretty(entry).expect("entries serialise");
        std::fs::write(&tmp, json).map_err(Error::io("write", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(Error::io("write", &path))
    }

    /// Removes an entry (missing is fine).
    pub fn remove(&self, id: &str) {
        let _ = std::fs::remove_file(self.path_of(id));
    }

    /// Every entry, with liveness. Unreadable files are reported, not fatal.
    pub fn list(&self) -> (Vec<Listed>, Vec<Error>) {
        let mut listed = Vec::new();
        let mut problems = Vec::new();
        for path in self.files(|name| name.ends_with(".json") && !name.starts_with('.')) {
            match read_entry(&path) {
                Ok(entry) => {
                    let liveness = liveness(&entry);
                    let server_running = server_pid(&entry).is_some();
                    listed.push(Listed {
                        entry,
                        liveness,
                        server_running,
                    });
                }
                Err(e) => problems.push(e),
            }
        }
        listed.sort_by_key(|l| l.entry.created_unix);
        (listed, problems)
    }

    /// Stops and removes every orphan: server, directories and entry.
    /// Blocking (it waits for servers to exit); call from a blocking context.
    pub fn reap_orphans(&self) -> Vec<Reaped> {
        let me = std::process::id();
        let mut reaped = Vec::new();
        let candidates = self.files(|name| {
            (name.ends_with(".json") && !name.starts_with('.')) || name.contains(".json.reaping-")
        });
        for path in candidates {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            if let Some((_, reaper)) = name.split_once(".json.reaping-") {
                // A claim by a reaper that is still at work is left alone.
                let reaper: u32 = reaper.parse().unwrap_or(0);
                if reaper == me || process::is_alive(reaper, None) {
                    continue;
                }
            } else {
                match read_entry(&path) {
                    Ok(entry) if liveness(&entry) == Liveness::Live => continue,
                    Ok(_) => {}
                    Err(_) => continue,
                }
            }
            let id = name.split(".json").next().unwrap_or_default();
            let claim = self.dir.join(format!("{id}.json.reaping-{me}"));
            if std::fs::rename(&path, &claim).is_err() {
                continue; // Another reaper got there first.
            }
            match read_entry(&claim) {
                Ok(entry) => {
                    let outcome = reap_one(entry);
                    if outcome.problems.is_empty() {
                        let _ = std::fs::remove_file(&claim);
                    } else {
                        // Put it back for a later try.
                        let _ = std::fs::rename(&claim, self.path_of(id));
                    }
                    reaped.push(outcome);
                }
                Err(_) => {
                    let _ = std::fs::remove_file(&claim);
                }
            }
        }
        reaped
    }

    fn files(&self, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
        let Ok(read) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        read.flatten()
            .map(|e| e.path())
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
            .collect()
    }
}

fn read_entry(path: &Path) -> Result<Entry, Error> {
    let text = std::fs::read(path).map_err(|e| Error::Registry {
        path: path.into(),
        detail: e.to_string(),
    })?;
    serde_json::from_slice(&text).map_err(|e| Error::Registry {
        path: path.into(),
        detail: e.to_string(),
    })
}

fn liveness(entry: &Entry) -> Liveness {
    if process::is_alive(entry.owner_pid, entry.owner_started) {
        Liveness::Live
    } else {
        Liveness::Orphan
    }
}

/// The pid of a running postmaster of this entry's data directory, if any.
fn server_pid(entry: &Entry) -> Option<u32> {
    [
        process::read_pidfile_pid(&entry.data_dir),
        entry.postmaster_pid,
    ]
    .into_iter()
    .flatten()
    .find(|pid| process::is_postmaster_of(*pid, &entry.data_dir))
}

fn reap_one(entry: Entry) -> Reaped {
    let mut problems = Vec::new();
    let mut stopped_server = false;
    if let Some(pid) = server_pid(&entry) {
        stopped_server = true;
        if !process::stop_foreign(pid, &entry.data_dir) {
            problems.push(format!("server pid {pid} did not stop"));
        }
    }
    if problems.is_empty()
        && let Err(e) = fsutil::remove_tree(&entry.instance_dir)
    {
        problems.push(e.to_string());
    }
    Reaped {
        entry,
        stopped_server,
        problems,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(id: &str, owner_pid: u32, owner_started: Option<u64>, root: &Path) -> Entry {
        Entry {
            id: id.into(),
            owner_pid,
            owner_started,
            postmaster_pid: None,
            instance_dir: root.join(id),
            data_dir: root.join(id).join("data"),
            port: 1,
            version: "PostgreSQL 15".into(),
            created_unix: 0,
        }
    }

    #[test]
    fn live_entries_are_kept_and_orphans_reaped() {
        let state = tempfile::tempdir().unwrap();
        let reg = Registry::open(state.path()).unwrap();
        let me = std::process::id();
        let live = entry("pgd-live", me, process::start_time(me), state.path());
        // A finished child: its pid is dead.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let orphan = entry("pgd-orphan", dead, Some(1), state.path());
        std::fs::create_dir_all(&orphan.data_dir).unwrap();
        reg.put(&live).unwrap();
        reg.put(&orphan).unwrap();

        let (listed, problems) = reg.list();
        assert!(problems.is_empty());
        let by_id = |id: &str| listed.iter().find(|l| l.entry.id == id).unwrap().liveness;
        assert_eq!(by_id("pgd-live"), Liveness::Live);
        assert_eq!(by_id("pgd-orphan"), Liveness::Orphan);

        let reaped = reg.reap_orphans();
        assert_eq!(reaped.len(), 1);
        assert_eq!(reaped[0].entry.id, "pgd-orphan");
        assert!(reaped[0].problems.is_empty(), "{:?}", reaped[0].problems);
        assert!(!orphan.instance_dir.exists());
        let (listed, _) = reg.list();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].entry.id, "pgd-live");
    }

    #[test]
    fn a_corrupt_entry_is_reported_not_fatal() {
        let state = tempfile::tempdir().unwrap();
        let reg = Registry::open(state.path()).unwrap();
        std::fs::write(reg.dir().join("pgd-bad.json"), b"{not json").unwrap();
        let (listed, problems) = reg.list();
        assert!(listed.is_empty());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].to_string().contains("pgd-bad.json"));
    }
}

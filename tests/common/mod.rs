//! Shared helpers for pgdrill's integration tests.
//!
//! Every test gets its own state (registry) and runtime directories, so its
//! assertions about "nothing left behind" see only its own instances. The
//! template cache is shared across tests (in Cargo's target tmpdir): it is
//! built once, under pgdrill's own lock, by whichever test comes first.
//!
//! Tests need PostgreSQL's server binaries. When they are missing the tests
//! fail with pgdrill's own message, which says how to install them; they
//! never skip silently.

#![allow(dead_code)]

mod run;

#[allow(unused_imports)]
pub use run::{Ran, Run, root};

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use pgdrill::instance::{Dirs, LocalBackend, PgBinaries, RunAs, Storage};

/// Isolated directories for one test.
pub struct TestEnv {
    root: tempfile::TempDir,
    pub dirs: Dirs,
}

impl TestEnv {
    pub fn new() -> TestEnv {
        let parent = if Path::new("/dev/shm").is_dir() {
            "/dev/shm"
        } else {
            "/tmp"
        };
        let root = tempfile::Builder::new()
            .prefix("pgdrill-test-")
            .tempdir_in(parent)
            .unwrap();
        // When the tests run as root, the server runs as another user and
        // must be able to pass through this directory.
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let dirs = Dirs {
            cache: shared_cache(),
            state: root.path().join("state"),
            runtime: root.path().join("runtime"),
            storage: pgdrill::instance::paths::storage_of(root.path()),
        };
        TestEnv { root, dirs }
    }

    /// The same, with a template cache of its own, empty: the first start
    /// builds the template.
    pub fn with_empty_cache(mut self) -> TestEnv {
        self.dirs.cache = self.root.path().join("cache");
        self
    }

    /// The test's own root directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    pub fn backend(&self) -> LocalBackend {
        let bins = PgBinaries::locate(None).unwrap_or_else(|e| panic!("{e}"));
        let run_as = RunAs::resolve(std::env::var("PGDRILL_RUN_AS").ok().as_deref())
            .unwrap_or_else(|e| panic!("{e}"));
        LocalBackend::new(bins, self.dirs.clone(), run_as).unwrap()
    }

    /// A `pgdrill` command pointed at this test's directories.
    pub fn pgdrill(&self) -> Command {
        self.command(env!("CARGO_BIN_EXE_pgdrill"))
    }

    /// A run of `pgdrill` with `args`, from the repository root, checked
    /// by the expectations added to it (see [`Run`]).
    pub fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Run::new(self.pgdrill()).args(args)
    }

    /// Any program with the environment a `pgdrill` of this test gets
    /// (`script` running pgdrill at a terminal, say).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.env("PGDRILL_CACHE_DIR", &self.dirs.cache)
            .env("PGDRILL_STATE_DIR", &self.dirs.state)
            .env("PGDRILL_RUNTIME_DIR", self.root.path())
            .env_remove("PGDRILL_PG_BIN")
            .env_remove("RUST_LOG");
        cmd
    }

    /// Containers of this test's runs that still exist (by label).
    pub fn containers(&self) -> Vec<String> {
        let filter = format!("label=pgdrill.runtime={}", self.cli_runtime().display());
        let out = Command::new("docker")
            .args(["ps", "-aq", "--filter", &filter])
            .output()
            .expect("docker runs");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// The runtime directory the `pgdrill` binary uses for this test.
    pub fn cli_runtime(&self) -> PathBuf {
        self.root
            .path()
            .join(format!("pgdrill-{}", nix::unistd::geteuid()))
    }

    pub fn storage(&self) -> Storage {
        self.dirs.storage
    }

    /// Entries in the registry (`*.json`), by file name.
    pub fn registry_entries(&self) -> Vec<String> {
        list_names(&self.dirs.state.join("instances"))
    }
}

fn shared_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("pgdrill-cache")
}

/// File names in a directory (empty if it does not exist).
pub fn list_names(dir: &Path) -> Vec<String> {
    match std::fs::read_dir(dir) {
        Ok(read) => read
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// pids of processes whose command line mentions `needle` (an instance id
/// appears in every server process title through `cluster_name`).
pub fn processes_mentioning(needle: &str) -> Vec<u32> {
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        if pid == std::process::id() {
            continue;
        }
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| {
                s.rsplit(')')
                    .next()
                    .unwrap_or("")
                    .trim_start()
                    .starts_with('Z')
            })
            .unwrap_or(true);
        if text.contains(needle) && !zombie {
            pids.push(pid);
        }
    }
    pids
}

/// Waits until no process mentions `needle`, or panics.
pub fn assert_no_process_within(needle: &str, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let left = processes_mentioning(needle);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes still running for {needle}: {left:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `pgdrill up --json` child and the JSON line it printed.
pub struct UpChild {
    pub child: Child,
    pub ready: serde_json::Value,
    pub stderr: mpsc::Receiver<String>,
}

impl UpChild {
    pub fn id(&self) -> String {
        self.ready["id"].as_str().unwrap().to_string()
    }

    pub fn data_dir(&self) -> PathBuf {
        PathBuf::from(self.ready["data_dir"].as_str().unwrap())
    }

    pub fn url(&self) -> String {
        self.ready["url"].as_str().unwrap().to_string()
    }

    pub fn pid(&self) -> u32 {
        self.ready["pid"].as_u64().unwrap() as u32
    }

    pub fn signal(&self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal).unwrap();
    }

    /// Takes the channel of stderr lines (read them after `wait`).
    pub fn stderr_receiver(&mut self) -> mpsc::Receiver<String> {
        std::mem::replace(&mut self.stderr, mpsc::channel().1)
    }

    /// Waits for the child to exit and returns its exit status.
    pub fn wait(mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "pgdrill up did not exit within {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts `pgdrill up --json [args]` and waits until it reports ready.
pub fn start_up(env: &TestEnv, args: &[&str]) -> UpChild {
    let mut child = env
        .pgdrill()
        .arg("up")
        .arg("--json")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let (line_tx, line_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = line_tx.send(line);
        }
    });
    let (err_tx, err_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });
    let line = match line_rx.recv_timeout(Duration::from_secs(60)) {
        Ok(line) => line,
        Err(_) => {
            let _ = child.kill();
            let errors: Vec<String> = err_rx.try_iter().collect();
            panic!(
                "pgdrill up never became ready; stderr:\n{}",
                errors.join("\n")
            );
        }
    };
    let ready: serde_json::Value = serde_json::from_str(&line).unwrap();
    UpChild {
        child,
        ready,
        stderr: err_rx,
    }
}

/// A tokio runtime for tests that drive the library.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A saved transcript (or any JSON file), parsed.
pub fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The moves of a saved transcript, in order.
pub fn moves(transcript: &serde_json::Value) -> Vec<serde_json::Value> {
    transcript["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "move")
        .cloned()
        .collect()
}

/// The PostgreSQL image the Docker tests run: pgdrill's own, built from
/// this machine's Debian packages by `docker/build-postgres-image` (cached
/// by a content tag; a registry is never asked), or PGDRILL_TEST_IMAGE.
pub fn docker_image() -> String {
    if let Ok(image) = std::env::var("PGDRILL_TEST_IMAGE")
        && !image.is_empty()
    {
        return image;
    }
    static IMAGE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    IMAGE
        .get_or_init(|| {
            let script = root().join("docker/build-postgres-image");
            let out = Command::new(&script).output().unwrap_or_else(|e| {
                panic!("cannot run {}: {e}", script.display())
            });
            assert!(
                out.status.success(),
                "the Docker tests need a Docker engine and PostgreSQL's Debian packages to build their image:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        })
        .clone()
}

/// The flags every headless Chromium of the tests starts with: no GPU, no
/// sandbox (tests run as root), no network of its own, no first-run UI.
pub const HEADLESS: [&str; 5] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--no-first-run",
];

/// Headless Chromium (Debian's `chromium`), for the pages' tests.
pub fn chromium() -> PathBuf {
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(found) = std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(name))
                .find(|p| p.is_file())
        }) {
            return found;
        }
    }
    panic!(
        "headless Chromium is needed to test pgdrill's pages: install Debian's `chromium` \
         package (`apt-get install chromium`; .ci/run does this)"
    );
}

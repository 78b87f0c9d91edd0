//! The local backend: PostgreSQL binaries on this machine.
//!
//! The life of one instance:
//! 1. reap orphans of dead pgdrill runs (every start does this);
//! 2. make sure the template cluster for these binaries is cached;
//! 3. register the instance (before anything exists, so a crash from here
//!    on leaves a trace for the next run to clean up);
//! 4. copy the template into `<runtime>/ID/data`, with a private socket
//!    directory `<runtime>/ID/sock` (mode 0700);
//! 5. launch `postgres` directly on a free 127.0.0.1 port and poll
//!    `postmaster.pid` until it says `ready` (retrying on a port race);
//! 6. on shutdown or drop: stop the server, remove `<runtime>/ID`, and
//!    remove the registry entry.
//!
//! A provision that fails or is cancelled at any step undoes what it did
//! ([`Provisioning`]'s `Drop`).

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::process::{Postmaster, StopPolicy};
use super::registry::{Entry, Registry};
use super::template::{self, APP_USER, DATABASE, SUPERUSER};
use super::{
    Backend, Dirs, Error, Instance, InstanceInfo, PgBinaries, Progress, ProgressFn, Role, RunAs,
    Server, Storage, fsutil,
};

/// How long a server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server restored to a point in time may take to replay.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(120);
/// How often a lost port race is retried.
const PORT_ATTEMPTS: usize = 3;

/// Runs instances from local PostgreSQL server binaries.
#[derive(Debug, Clone)]
pub struct LocalBackend {
    bins: PgBinaries,
    dirs: Dirs,
    run_as: RunAs,
    registry: Registry,
}

impl LocalBackend {
    /// A backend for these binaries and directories.
    pub fn new(bins: PgBinaries, dirs: Dirs, run_as: RunAs) -> Result<LocalBackend, Error> {
        let registry = Registry::open(&dirs.state)?;
        Ok(LocalBackend {
            bins,
            dirs,
            run_as,
            registry,
        })
    }

    /// The binaries in use.
    pub fn binaries(&self) -> &PgBinaries {
        &self.bins
    }

    /// The directories in use.
    pub fn dirs(&self) -> &Dirs {
        &self.dirs
    }

    /// Who runs the servers.
    pub fn run_as(&self) -> &RunAs {
        &self.run_as
    }

    /// The registry of live instances.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Stops and removes orphans of dead runs, and their leftover files.
    pub async fn reap_orphans(&self) -> Result<super::GcReport, Error> {
        let dirs = self.dirs.clone();
        tokio::task::spawn_blocking(move || super::gc(&dirs))
            .await
            .expect("gc does not panic")
    }

    /// A new instance copied from `template` (the base one, or a seeded one).
    pub(super) async fn provision_from(
        &self,
        template: &template::Template,
        progress: &ProgressFn<'_>,
    ) -> Result<Instance, Error> {
        let source = Source {
            data_dir: &template.data_dir,
            superuser_password: &template.meta.superuser_password,
            app_password: &template.meta.app_password,
            recovery: None,
        };
        self.provision_copy(source, progress).await
    }

    /// A new instance recovered from a physical snapshot and the archive
    /// of the server it was taken of, up to `recovery`'s target; it is
    /// ready once it has replayed that far and been promoted.
    pub async fn provision_recovered(
        &self,
        recovery: &super::physical::Recovery,
        progress: &ProgressFn<'_>,
    ) -> Result<Instance, Error> {
        self.reap_orphans().await?;
        let source = Source {
            data_dir: &recovery.backup,
            superuser_password: &recovery.superuser_password,
            app_password: &recovery.app_password,
            recovery: Some(recovery),
        };
        self.provision_copy(source, progress).await
    }

    async fn provision_copy(
        &self,
        source: Source<'_>,
        progress: &ProgressFn<'_>,
    ) -> Result<Instance, Error> {
        let id = format!("pgd-{}", super::random_token(8).to_lowercase());
        let instance_dir = self.dirs.runtime.join(&id);
        let data_dir = instance_dir.join("data");
        let socket_dir = instance_dir.join("sock");
        let mut entry = Entry {
            id: id.clone(),
            owner_pid: std::process::id(),
            owner_started: super::process::start_time(std::process::id()),
            postmaster_pid: None,
            instance_dir: instance_dir.clone(),
            data_dir: data_dir.clone(),
            port: 0,
            version: self.bins.version.clone(),
            created_unix: super::now_unix(),
        };
        self.registry.put(&entry)?;
        let mut guard = Provisioning {
            registry: self.registry.clone(),
            id: id.clone(),
            instance_dir: instance_dir.clone(),
            storage: self.dirs.storage,
            postmaster: None,
            copy: Arc::new(CopyControl::default()),
        };

        progress(Progress::Copying);
        self.copy_template(
            source.data_dir,
            &instance_dir,
            &socket_dir,
            guard.copy.clone(),
        )
        .await?;
        let mut settings = vec![(
            "archive_command".to_string(),
            super::physical::archive_command(&instance_dir.join("wal-archive")),
        )];
        if let Some(recovery) = source.recovery {
            let signal = data_dir.join("recovery.signal");
            std::fs::write(&signal, "").map_err(Error::io("create", &signal))?;
            self.run_as.chown(&signal)?;
            settings.extend(recovery.settings());
        }
        progress(Progress::Starting);
        let started = self
            .start_server(&mut entry, &mut guard, &socket_dir, &settings)
            .await;
        if let (Err(Error::StartFailed { log_tail, .. }), Some(recovery)) =
            (&started, source.recovery)
            && let Some(why) = recovery.explain(log_tail)
        {
            return Err(Error::Recovery(why));
        }
        started?;
        progress(Progress::Ready);

        let pid = guard.postmaster.as_ref().expect("started above").pid();
        let mut info = InstanceInfo {
            id: id.clone(),
            backend: self.name(),
            version: self.bins.version.clone(),
            host: "127.0.0.1".into(),
            port: entry.port,
            database: DATABASE.into(),
            superuser: Role {
                user: SUPERUSER.into(),
                password: source.superuser_password.to_string(),
            },
            app: Role {
                user: APP_USER.into(),
                password: source.app_password.to_string(),
            },
            data_dir: Some(data_dir),
            socket_dir: Some(socket_dir),
            storage: Some(self.dirs.storage),
            pid: Some(pid),
            bin_dir: Some(self.bins.bindir.clone()),
            snapshot_dir: Some(instance_dir.join("snapshots")),
            tools: Some(super::Tools::Host {
                bin_dir: self.bins.bindir.clone(),
            }),
            wal_archive: Some(instance_dir.join("wal-archive")),
        };
        // Passwords of this instance alone: the template's are shared by
        // every instance of this user, so one leaked URL would reach them
        // all.
        if let Some(recovery) = source.recovery {
            let postmaster = guard.postmaster.as_mut().expect("started above");
            wait_promoted(&info, postmaster, recovery).await?;
        }
        let fresh = super::fresh_passwords(&info).await?;
        info.superuser.password = fresh.0;
        info.app.password = fresh.1;
        let postmaster = guard.postmaster.take().expect("started above");
        guard.disarm();
        let server = LocalServer {
            postmaster,
            instance_dir,
            storage: self.dirs.storage,
            registry: self.registry.clone(),
            id,
        };
        Ok(Instance::new(info, Box::new(server)))
    }

    /// Copies the template's data directory into the instance's, owned by
    /// the user the server runs as.
    async fn copy_template(
        &self,
        template: &Path,
        instance_dir: &std::path::Path,
        socket_dir: &std::path::Path,
        copy: Arc<CopyControl>,
    ) -> Result<(), Error> {
        let (from, inst, sock, run_as) = (
            template.to_path_buf(),
            instance_dir.to_path_buf(),
            socket_dir.to_path_buf(),
            self.run_as.clone(),
        );
        tokio::task::spawn_blocking(move || -> Result<(), Error> {
            // Held while copying: a cancelled provision's cleanup waits
            // for it, so it cannot remove the directory mid-copy only to
            // have the copy recreate part of it.
            let _copying = copy.lock.lock().unwrap_or_else(|e| e.into_inner());
            // The cleanup sets the flag before it takes the lock: if it
            // ran before this task even started, create nothing.
            if copy.cancel.load(Ordering::Relaxed) {
                return Ok(());
            }
            make_private_dir(&inst, &run_as)?;
            make_private_dir(&sock, &run_as)?;
            fsutil::copy_tree(&from, &inst.join("data"), &run_as, &copy.cancel)
        })
        .await
        .expect("copy task does not panic")
    }

    /// Starts the server on a free port, and on another when one is taken
    /// between the probe and the bind; the registry entry follows.
    async fn start_server(
        &self,
        entry: &mut Entry,
        guard: &mut Provisioning,
        socket_dir: &std::path::Path,
        settings: &[(String, String)],
    ) -> Result<(), Error> {
        let (id, data_dir) = (entry.id.clone(), entry.data_dir.clone());
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port().map_err(Error::io("find a free port on", "127.0.0.1"))?;
            entry.port = port;
            let mut cmd = std::process::Command::new(self.bins.bin("postgres"));
            cmd.arg("-D")
                .arg(&data_dir)
                .arg("-p")
                .arg(port.to_string())
                .arg("-k")
                .arg(socket_dir)
                .args(["-c", &format!("cluster_name={id}")])
                .args(["-c", "archive_mode=on"])
                .args(
                    settings
                        .iter()
                        .flat_map(|(k, v)| ["-c".to_string(), format!("{k}={v}")]),
                )
                .current_dir("/")
                .env("LC_ALL", "C");
            self.run_as.prepare(&mut cmd);
            let log = entry.instance_dir.join("postgres.log");
            let postmaster =
                guard
                    .postmaster
                    .insert(Postmaster::spawn(cmd, data_dir.clone(), log)?);
            entry.postmaster_pid = Some(postmaster.pid());
            self.registry.put(entry)?;
            match postmaster.wait_ready(READY_TIMEOUT).await {
                Ok(()) => return Ok(()),
                Err(e @ Error::StartFailed { .. }) if is_port_clash(&e) => {
                    tracing::debug!(port, "port taken between probe and bind; retrying");
                    guard.postmaster = None;
                    let _ = std::fs::remove_file(data_dir.join("postmaster.pid"));
                    last_error = Some(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(last_error.expect("at least one attempt"))
    }
}

impl Backend for LocalBackend {
    fn name(&self) -> &'static str {
        "local"
    }

    async fn provision(&self, progress: &ProgressFn<'_>) -> Result<Instance, Error> {
        let report = self.reap_orphans().await?;
        for r in &report.reaped {
            tracing::info!(id = %r.entry.id, "reaped an orphaned instance");
        }
        super::prepare_runtime_dir(&self.dirs, &self.run_as)?;
        let template = template::ensure(&self.bins, &self.dirs, &self.run_as, progress).await?;
        self.provision_from(&template, progress).await
    }
}

/// Waits until a recovering server has replayed to its target and been
/// promoted. It accepts read-only sessions (and says `ready`) as soon as
/// it is consistent, which is earlier.
async fn wait_promoted(
    info: &InstanceInfo,
    postmaster: &mut Postmaster,
    recovery: &super::physical::Recovery,
) -> Result<(), Error> {
    let start = std::time::Instant::now();
    let mut conn = None;
    loop {
        if let Some(status) = postmaster.exit() {
            let log = postmaster.log_tail();
            return Err(Error::Recovery(recovery.explain(&log).unwrap_or_else(
                || format!("the server {status}; the end of its log:\n{log}"),
            )));
        }
        if conn.is_none() {
            conn = super::owner_session(info).await.ok();
        }
        if let Some(c) = conn.as_mut() {
            match sqlx::query_scalar::<_, bool>("SELECT pg_is_in_recovery()")
                .fetch_one(c)
                .await
            {
                Ok(false) => return Ok(()),
                Ok(true) => {}
                // The server ends sessions when recovery fails: look
                // again at how it ended.
                Err(_) => conn = None,
            }
        }
        if start.elapsed() > RECOVERY_TIMEOUT {
            return Err(Error::Recovery(format!(
                "still replaying WAL after {}s; the end of its log:\n{}",
                RECOVERY_TIMEOUT.as_secs(),
                postmaster.log_tail()
            )));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn make_private_dir(dir: &Path, run_as: &RunAs) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(Error::io("create", dir))?;
    run_as.chown(dir)
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}

fn is_port_clash(e: &Error) -> bool {
    let text = e.to_string();
    text.contains("could not bind") || text.contains("Address already in use")
}

/// What a new instance is copied from.
struct Source<'a> {
    data_dir: &'a Path,
    superuser_password: &'a str,
    app_password: &'a str,
    /// Set when the copy is a base backup to recover.
    recovery: Option<&'a super::physical::Recovery>,
}

/// Coordinates the blocking template copy with a cancelled provision.
#[derive(Debug, Default)]
struct CopyControl {
    cancel: AtomicBool,
    lock: Mutex<()>,
}

/// Undoes a provision that did not finish (error or cancellation).
struct Provisioning {
    registry: Registry,
    id: String,
    instance_dir: PathBuf,
    storage: Storage,
    postmaster: Option<Postmaster>,
    copy: Arc<CopyControl>,
}

impl Provisioning {
    fn disarm(mut self) {
        self.id.clear();
    }
}

impl Drop for Provisioning {
    fn drop(&mut self) {
        if self.id.is_empty() {
            return;
        }
        if let Some(mut postmaster) = self.postmaster.take() {
            postmaster.stop_blocking(StopPolicy::ABANDON);
        }
        // Stop a copy still running on the blocking pool, and wait for it.
        self.copy.cancel.store(true, Ordering::Relaxed);
        let _copy_done = self.copy.lock.lock().unwrap_or_else(|e| e.into_inner());
        let _ = fsutil::dispose(&self.instance_dir, self.storage);
        self.registry.remove(&self.id);
    }
}

/// A running local server owned by an [`Instance`].
#[derive(Debug)]
struct LocalServer {
    postmaster: Postmaster,
    instance_dir: PathBuf,
    storage: Storage,
    registry: Registry,
    id: String,
}

impl LocalServer {
    fn remove_files(&self) {
        if let Err(e) = fsutil::dispose(&self.instance_dir, self.storage) {
            tracing::warn!("{e}");
        }
        self.registry.remove(&self.id);
    }
}

impl Server for LocalServer {
    fn stop(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            self.postmaster.stop(StopPolicy::ORDERLY).await;
            self.remove_files();
        })
    }

    fn abandon(&mut self) {
        self.postmaster.stop_blocking(StopPolicy::ABANDON);
        self.remove_files();
    }

    fn exit(&mut self) -> Option<String> {
        self.postmaster.exit()
    }

    fn log_tail(&self) -> String {
        self.postmaster.log_tail()
    }

    fn retire_into<'a>(
        &'a mut self,
        dest: &'a Path,
        owner: &'a RunAs,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        Box::pin(async move {
            self.postmaster.stop(StopPolicy::ORDERLY).await;
            let (from, to, owner) = (
                self.instance_dir.join("data"),
                dest.to_path_buf(),
                owner.clone(),
            );
            let clean = !from.join("postmaster.pid").exists();
            let copied = if clean {
                tokio::task::spawn_blocking(move || super::seeded::copy_data(&from, &to, &owner))
                    .await
                    .expect("copy task does not panic")
            } else {
                Err(Error::Cache(format!(
                    "the server did not stop cleanly; the end of its log:\n{}",
                    self.postmaster.log_tail()
                )))
            };
            self.remove_files();
            copied
        })
    }
}

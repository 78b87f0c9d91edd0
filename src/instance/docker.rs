//! The Docker backend: each instance is a container of a PostgreSQL image
//! (the official `postgres`, or pgdrill's own built from Debian's packages
//! by `docker/build-postgres-image`), started with testcontainers.
//!
//! The life of one instance:
//! 1. remove the containers of dead pgdrill runs (found by label: every
//!    container pgdrill starts carries `pgdrill.instance` and its owner's
//!    pid and start time);
//! 2. start a container with the local backend's throwaway settings, its
//!    port published on 127.0.0.1 only, a random superuser password;
//! 3. wait until the superuser can log in over TCP (the official image's
//!    first, initialising server listens on no TCP port, so a login means
//!    the real one), then create the application role and the drill
//!    database with random passwords;
//! 4. on shutdown or drop: remove the container and the instance's host
//!    directory (its snapshots).
//!
//! Snapshots and restores run the container's own `pg_dump` and
//! `pg_restore` ([`super::Tools::Container`]): the host needs nothing of
//! PostgreSQL.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use testcontainers::bollard::Docker;
use testcontainers::bollard::models::{HostConfig, PortBinding};
use testcontainers::core::logs::LogFrame;
use testcontainers::core::{ContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use super::template::{APP_USER, DATABASE, SUPERUSER};
use super::{Backend, Dirs, Error, Instance, InstanceInfo, Progress, ProgressFn, Role, Server};

/// The label every container of pgdrill carries: the instance's id.
pub const LABEL: &str = "pgdrill.instance";
/// The label naming the pgdrill process that owns a container.
const OWNER: &str = "pgdrill.owner";
/// The label naming the runtime directory of the run that started it (a
/// test finds its own containers by it).
pub const RUNTIME: &str = "pgdrill.runtime";
/// How long a container may take to accept its superuser.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// The official image pgdrill uses when none is given.
pub const DEFAULT_IMAGE: &str = "postgres:17";

/// The local backend's settings for a disposable server, as `-c` arguments.
const SETTINGS: &[&str] = &[
    "fsync=off",
    "synchronous_commit=off",
    "full_page_writes=off",
    "shared_buffers=32MB",
    "max_connections=100",
    "jit=off",
    "timezone=UTC",
    "log_timezone=UTC",
    "lc_messages=C",
];

/// Runs instances as Docker containers of `image`.
#[derive(Debug, Clone)]
pub struct DockerBackend {
    image: String,
    dirs: Dirs,
}

impl DockerBackend {
    /// A backend running `image` (`name:tag`), keeping files in `dirs`.
    pub fn new(image: &str, dirs: Dirs) -> DockerBackend {
        DockerBackend {
            image: image.to_string(),
            dirs,
        }
    }

    /// The image it runs.
    pub fn image(&self) -> &str {
        &self.image
    }

    /// Whether a Docker engine answers, and its version.
    pub async fn engine() -> Result<String, String> {
        let docker = Docker::connect_with_local_defaults().map_err(|e| e.to_string())?;
        let version = docker.version().await.map_err(|e| e.to_string())?;
        Ok(version.version.unwrap_or_else(|| "unknown".into()))
    }

    /// Whether the engine has `image` (else a start pulls it).
    pub async fn has_image(image: &str) -> bool {
        let Ok(docker) = Docker::connect_with_local_defaults() else {
            return false;
        };
        docker.inspect_image(image).await.is_ok()
    }

    async fn start(&self, id: &str, password: &str) -> Result<Started, Error> {
        let failed = |detail: String| Error::Docker {
            image: self.image.clone(),
            detail,
        };
        let (name, tag) = self
            .image
            .rsplit_once(':')
            .filter(|(n, _)| !n.is_empty() && !n.ends_with('/'))
            .unwrap_or((self.image.as_str(), "latest"));
        let owner = std::process::id();
        let owner_started = super::process::start_time(owner).unwrap_or(0);
        let logs = Arc::new(Mutex::new(VecDeque::new()));
        let kept = logs.clone();
        let mut args = Vec::new();
        for s in SETTINGS {
            args.extend(["-c".to_string(), s.to_string()]);
        }
        args.extend(["-c".to_string(), format!("cluster_name={id}")]);
        let container = GenericImage::new(name, tag)
            .with_exposed_port(ContainerPort::Tcp(5432))
            .with_wait_for(WaitFor::Nothing)
            .with_env_var("POSTGRES_USER", SUPERUSER)
            .with_env_var("POSTGRES_PASSWORD", password)
            .with_env_var("POSTGRES_DB", "postgres")
            .with_label(LABEL, id)
            .with_label(OWNER, format!("{owner}:{owner_started}"))
            .with_label(RUNTIME, self.dirs.runtime.display().to_string())
            .with_cmd(args)
            .with_host_config_modifier(|host: &mut HostConfig| {
                // Published on loopback only, on a port Docker picks.
                host.publish_all_ports = Some(false);
                host.port_bindings = Some(
                    [(
                        "5432/tcp".to_string(),
                        Some(vec![PortBinding {
                            host_ip: Some("127.0.0.1".into()),
                            host_port: Some(String::new()),
                        }]),
                    )]
                    .into(),
                );
            })
            .with_log_consumer(move |frame: &LogFrame| {
                let bytes = match frame {
                    LogFrame::StdOut(b) | LogFrame::StdErr(b) => b,
                };
                let mut kept = kept.lock().unwrap_or_else(|e| e.into_inner());
                for line in String::from_utf8_lossy(bytes).lines() {
                    if kept.len() == 50 {
                        kept.pop_front();
                    }
                    kept.push_back(line.to_string());
                }
            })
            .start()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let port = match container.get_host_port_ipv4(5432).await {
            Ok(p) => p,
            Err(e) => {
                let _ = container.rm().await;
                return Err(failed(format!("no published port: {e}")));
            }
        };
        Ok(Started {
            container,
            port,
            logs,
        })
    }
}

/// A container that has started, not yet ready.
struct Started {
    container: ContainerAsync<GenericImage>,
    port: u16,
    logs: Arc<Mutex<VecDeque<String>>>,
}

impl Backend for DockerBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn provision(&self, progress: &ProgressFn<'_>) -> Result<Instance, Error> {
        let _ = reap_dead_containers().await;
        let id = format!("pgd-{}", super::random_token(8).to_lowercase());
        let dir = self.dirs.runtime.join(&id);
        super::paths::ensure_private_dir(&dir, 0o700)?;
        let password = super::random_token(24);
        progress(Progress::Starting);
        let started = match self.start(&id, &password).await {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let ended = watch(started.container.id().to_string());
        let server = DockerServer {
            container: Some(started.container),
            dir: dir.clone(),
            logs: started.logs,
            ended,
        };
        let info = InstanceInfo {
            id: id.clone(),
            backend: "docker",
            version: String::new(),
            host: "127.0.0.1".into(),
            port: started.port,
            database: DATABASE.into(),
            superuser: Role {
                user: SUPERUSER.into(),
                password,
            },
            app: Role {
                user: APP_USER.into(),
                password: super::random_token(24),
            },
            data_dir: None,
            socket_dir: None,
            storage: None,
            pid: None,
            bin_dir: None,
            snapshot_dir: Some(dir.join("snapshots")),
            tools: Some(super::Tools::Container {
                id: server.container_id(),
            }),
            wal_archive: None,
        };
        // From here the instance owns the container: an error drops it,
        // and dropping it removes the container.
        let mut instance = Instance::new(info, Box::new(server));
        match prepare(&mut instance.info).await {
            Ok(()) => {
                progress(Progress::Ready);
                Ok(instance)
            }
            Err(e) => {
                let tail = instance.log_tail();
                instance.shutdown().await;
                Err(match e {
                    Error::Docker { image, detail } if !tail.is_empty() => Error::Docker {
                        image,
                        detail: format!("{detail}\n  its log ends:\n{tail}"),
                    },
                    e => e,
                })
            }
        }
    }
}

/// Waits for the server, then creates the drill's database and role.
async fn prepare(info: &mut InstanceInfo) -> Result<(), Error> {
    use sqlx::Executor;
    let admin = |db: &str| {
        format!(
            "postgres://{}:{}@{}:{}/{db}",
            info.superuser.user, info.superuser.password, info.host, info.port
        )
    };
    let deadline = tokio::time::Instant::now() + READY_TIMEOUT;
    let mut conn = loop {
        match super::connect(&admin("postgres")).await {
            Ok(c) => break c,
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(Error::Docker {
                    image: String::new(),
                    detail: format!(
                        "the server did not accept logins within {READY_TIMEOUT:?}: {e}"
                    ),
                });
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    };
    let setup = format!(
        "CREATE ROLE {APP_USER} LOGIN PASSWORD '{}'",
        info.app.password
    );
    let database = format!("CREATE DATABASE {DATABASE} OWNER {APP_USER}");
    for sql in [setup, database] {
        conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
            .await
            .map_err(|e| Error::Docker {
                image: String::new(),
                detail: format!("preparing the drill database: {e}"),
            })?;
    }
    let version: (String,) = sqlx::query_as("SELECT current_setting('server_version')")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| Error::Docker {
            image: String::new(),
            detail: e.to_string(),
        })?;
    info.version = format!("PostgreSQL {}", version.0);
    Ok(())
}

/// A running container and the host directory of its instance.
struct DockerServer {
    container: Option<ContainerAsync<GenericImage>>,
    dir: PathBuf,
    logs: Arc<Mutex<VecDeque<String>>>,
    /// How the container ended, once it has (set by a watcher task).
    ended: Arc<Mutex<Option<String>>>,
}

impl std::fmt::Debug for DockerServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerServer")
            .field("container", &self.container_id())
            .field("dir", &self.dir)
            .finish()
    }
}

impl DockerServer {
    fn container_id(&self) -> String {
        self.container
            .as_ref()
            .map(|c| c.id().to_string())
            .unwrap_or_default()
    }
}

impl Server for DockerServer {
    fn stop(&mut self) -> Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            if let Some(container) = self.container.take() {
                let _ = container.rm().await;
            }
            let _ = std::fs::remove_dir_all(&self.dir);
        })
    }

    fn abandon(&mut self) {
        // Outside any runtime, or inside one that is going away: remove it
        // on a runtime of its own, and wait, so that nothing is left.
        if let Some(container) = self.container.take() {
            let removed = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async move {
                        let _ = container.rm().await;
                    });
                }
            });
            let _ = removed.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    fn exit(&mut self) -> Option<String> {
        self.container.as_ref()?;
        self.ended.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn log_tail(&self) -> String {
        let logs = self.logs.lock().unwrap_or_else(|e| e.into_inner());
        logs.iter().cloned().collect::<Vec<_>>().join("\n")
    }
}

/// Watches a container and says how it ended, once it has.
fn watch(id: String) -> Arc<Mutex<Option<String>>> {
    use futures::StreamExt;
    let ended = Arc::new(Mutex::new(None));
    let told = ended.clone();
    tokio::spawn(async move {
        let Ok(docker) = Docker::connect_with_local_defaults() else {
            return;
        };
        let mut waited = docker.wait_container(
            &id,
            None::<testcontainers::bollard::query_parameters::WaitContainerOptions>,
        );
        let how = match waited.next().await {
            Some(Ok(r)) => format!("its container exited with code {}", r.status_code),
            Some(Err(e)) => format!("its container stopped ({e})"),
            None => "its container is gone".to_string(),
        };
        *told.lock().unwrap_or_else(|e| e.into_inner()) = Some(how);
    });
    ended
}

/// Removes the containers of pgdrill runs that are no longer alive;
/// returns their instance ids. Without a Docker engine there is nothing
/// to remove.
pub async fn reap_dead_containers() -> Result<Vec<String>, String> {
    use testcontainers::bollard::query_parameters::{
        ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
    };
    let docker = Docker::connect_with_local_defaults().map_err(|e| e.to_string())?;
    let filters = std::collections::HashMap::from([("label", vec![LABEL])]);
    let listed = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::default()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .map_err(|e| e.to_string())?;
    let mut reaped = Vec::new();
    for c in listed {
        let labels = c.labels.unwrap_or_default();
        let alive = labels
            .get(OWNER)
            .and_then(|o| o.split_once(':'))
            .and_then(|(pid, started)| {
                Some((pid.parse::<u32>().ok()?, started.parse::<u64>().ok()?))
            })
            .is_some_and(|(pid, started)| super::process::start_time(pid) == Some(started));
        if alive {
            continue;
        }
        let Some(id) = c.id else { continue };
        let removed = docker
            .remove_container(
                &id,
                Some(
                    RemoveContainerOptionsBuilder::default()
                        .force(true)
                        .v(true)
                        .build(),
                ),
            )
            .await;
        if removed.is_ok() {
            let instance = labels.get(LABEL).cloned().unwrap_or(id);
            // Its snapshots, in the runtime directory of the run.
            if let Some(runtime) = labels.get(RUNTIME)
                && super::text_is_instance_id(&instance)
            {
                let _ = std::fs::remove_dir_all(std::path::Path::new(runtime).join(&instance));
            }
            reaped.push(instance);
        }
    }
    Ok(reaped)
}

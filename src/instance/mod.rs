//! Disposable PostgreSQL instances.
//!
//! A [`Backend`] provisions an owned [`Instance`]: a running server with a
//! psql-compatible URL for a superuser and for an application role. The
//! instance is torn down by [`Instance::shutdown`] (the orderly path) or, if
//! its owner forgets or unwinds, by `Drop` (the fallback). Either way the
//! server process and every directory created for it are gone afterwards.
//!
//! The default backend, [`LocalBackend`], runs the PostgreSQL binaries found
//! on this machine; see `local.rs` for the life of one instance.
//!
//! Architecture invariant: nothing in this module prints. Progress is
//! reported through a [`ProgressFn`] callback that the CLI renders.

pub mod binaries;
mod docker;
mod error;
mod external;
pub mod fsutil;
mod local;
pub mod paths;
pub mod physical;
pub mod privilege;
pub mod process;
pub mod registry;
pub mod seeded;
pub mod snapshot;
pub mod template;
mod tools;

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use sqlx::Connection;

pub use binaries::PgBinaries;
pub use docker::{DEFAULT_IMAGE, DockerBackend, reap_dead_containers};
pub use error::Error;
pub use external::{ExternalBackend, gc_external};
pub use local::LocalBackend;
pub use paths::{Dirs, Storage};
pub use privilege::RunAs;
pub use tools::Tools;

/// A step of provisioning, for progress display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Another pgdrill is building the template; waiting for it.
    WaitingForTemplate,
    /// Running `initdb` for the template (once per PostgreSQL build).
    BuildingTemplate {
        /// The PostgreSQL version being initialised.
        version: String,
    },
    /// Copying the template into a new instance.
    Copying,
    /// Keeping a prepared database as a seeded template.
    Caching,
    /// Starting the server.
    Starting,
    /// The server accepts connections.
    Ready,
}

/// Receives [`Progress`] events.
pub type ProgressFn<'a> = dyn Fn(Progress) + Send + Sync + 'a;

/// A progress callback that ignores everything.
pub fn no_progress(_: Progress) {}

/// A login role and its password.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Role {
    /// Role name.
    pub user: String,
    /// Its password.
    pub password: String,
}

/// Everything a user or the drill engine needs to reach an instance.
#[derive(Debug, Clone, serde::Serialize)]
pub struct InstanceInfo {
    /// Unique id, e.g. `pgd-1a2b3c4d` (also the server's `cluster_name`).
    pub id: String,
    /// The backend that made it.
    pub backend: &'static str,
    /// PostgreSQL version string.
    pub version: String,
    /// Host to connect to.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Database for the drill.
    pub database: String,
    /// A superuser (for fault injection, snapshots, inspection).
    pub superuser: Role,
    /// The application role (owns the drill database).
    pub app: Role,
    /// Server data directory, when local.
    pub data_dir: Option<PathBuf>,
    /// Private Unix socket directory, when local.
    pub socket_dir: Option<PathBuf>,
    /// What the data directory is stored on, when local.
    pub storage: Option<Storage>,
    /// Postmaster pid, when local.
    pub pid: Option<u32>,
    /// Directory of the client tools (`pg_dump`, `psql`) matching the server.
    pub bin_dir: Option<PathBuf>,
    /// Where snapshot files of this instance are kept (removed with it).
    pub snapshot_dir: Option<PathBuf>,
    /// Where its client programs (pg_dump, pg_restore) run.
    pub tools: Option<Tools>,
    /// Where its WAL is archived once the drill starts archiving (see
    /// `physical.rs`), when pgdrill runs the server itself.
    pub wal_archive: Option<PathBuf>,
}

impl InstanceInfo {
    /// The psql-compatible URL for `role`.
    pub fn url_for(&self, role: &Role) -> String {
        format!(
            "postgres://{}:{}@{}:{}/{}",
            role.user, role.password, self.host, self.port, self.database
        )
    }
}

/// Something that provisions instances.
pub trait Backend: Send + Sync {
    /// Short name (`local`, ...).
    fn name(&self) -> &'static str;

    /// Starts a new, empty instance.
    fn provision(
        &self,
        progress: &ProgressFn<'_>,
    ) -> impl Future<Output = Result<Instance, Error>> + Send;
}

/// One of the backends, chosen at run time (`--backend`).
#[derive(Debug, Clone)]
pub enum AnyBackend {
    /// PostgreSQL binaries on this machine.
    Local(LocalBackend),
    /// Containers of a PostgreSQL image.
    Docker(DockerBackend),
    /// Databases on a server pgdrill did not start.
    External(ExternalBackend),
}

impl Backend for AnyBackend {
    fn name(&self) -> &'static str {
        match self {
            AnyBackend::Local(b) => b.name(),
            AnyBackend::Docker(b) => b.name(),
            AnyBackend::External(b) => b.name(),
        }
    }

    async fn provision(&self, progress: &ProgressFn<'_>) -> Result<Instance, Error> {
        match self {
            AnyBackend::Local(b) => b.provision(progress).await,
            AnyBackend::Docker(b) => b.provision(progress).await,
            AnyBackend::External(b) => b.provision(progress).await,
        }
    }
}

impl AnyBackend {
    /// A new instance recovered from a physical snapshot (see
    /// `physical.rs`); only the local backend takes physical snapshots.
    pub async fn provision_recovered(
        &self,
        recovery: &physical::Recovery,
        progress: &ProgressFn<'_>,
    ) -> Result<Instance, Error> {
        match self {
            AnyBackend::Local(b) => b.provision_recovered(recovery, progress).await,
            _ => Err(Error::Recovery(format!(
                "the {} backend takes no physical snapshots",
                self.name()
            ))),
        }
    }
}

/// A backend's handle on the server behind an instance.
pub(crate) trait Server: Send + fmt::Debug {
    /// Orderly teardown: stop the server, remove its files.
    fn stop(&mut self) -> Pin<Box<dyn Future<Output = ()> + Send + '_>>;
    /// Synchronous teardown for `Drop`; must never leak a server.
    fn abandon(&mut self);
    /// How the server ended (`killed by SIGKILL`), `None` while it runs.
    fn exit(&mut self) -> Option<String>;
    /// The end of the server's log, for error messages.
    fn log_tail(&self) -> String;
    /// Stops the server cleanly, copies its data directory to `dest`
    /// (owned by `owner`), then removes its files as `stop` does. Only a
    /// server with a local data directory can.
    fn retire_into<'a>(
        &'a mut self,
        dest: &'a std::path::Path,
        owner: &'a RunAs,
    ) -> Pin<Box<dyn Future<Output = Result<(), Error>> + Send + 'a>> {
        let _ = (dest, owner);
        Box::pin(async { Err(Error::Cache("this backend keeps no data directory".into())) })
    }
}

/// An owned, running PostgreSQL instance. Dropping it stops the server and
/// removes its files; [`Instance::shutdown`] does the same in order.
#[derive(Debug)]
pub struct Instance {
    info: InstanceInfo,
    server: Option<Box<dyn Server>>,
}

impl Instance {
    pub(crate) fn new(info: InstanceInfo, server: Box<dyn Server>) -> Instance {
        Instance {
            info,
            server: Some(server),
        }
    }

    /// Connection facts.
    pub fn info(&self) -> &InstanceInfo {
        &self.info
    }

    /// psql-compatible URL for the application role.
    pub fn url(&self) -> String {
        self.info.url_for(&self.info.app)
    }

    /// psql-compatible URL for the superuser.
    pub fn superuser_url(&self) -> String {
        self.info.url_for(&self.info.superuser)
    }

    /// True while the server runs.
    pub fn is_running(&mut self) -> bool {
        self.exit().is_none()
    }

    /// How the server ended (`killed by SIGKILL`), `None` while it runs.
    pub fn exit(&mut self) -> Option<String> {
        match self.server.as_mut() {
            Some(s) => s.exit(),
            None => Some("stopped".into()),
        }
    }

    /// The end of the server's log.
    pub fn log_tail(&self) -> String {
        self.server
            .as_ref()
            .map(|s| s.log_tail())
            .unwrap_or_default()
    }

    /// Opens a connection as the superuser.
    pub async fn connect_superuser(&self) -> Result<sqlx::PgConnection, Error> {
        connect(&self.superuser_url()).await
    }

    /// Opens a connection as the application role.
    pub async fn connect_app(&self) -> Result<sqlx::PgConnection, Error> {
        connect(&self.url()).await
    }

    /// Stops the server cleanly and keeps a copy of its data directory at
    /// `dest` (see `seeded.rs`); the instance is gone afterwards either way.
    pub async fn retire_into(mut self, dest: &std::path::Path, owner: &RunAs) -> Result<(), Error> {
        match self.server.take() {
            Some(mut server) => server.retire_into(dest, owner).await,
            None => Err(Error::Cache("the instance was already stopped".into())),
        }
    }

    /// Stops the server (fast, then immediate, then kill) and removes its files.
    pub async fn shutdown(mut self) {
        if let Some(mut server) = self.server.take() {
            server.stop().await;
        }
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.abandon();
        }
    }
}

/// Opens one connection, with a redacted URL in the error.
pub async fn connect(url: &str) -> Result<sqlx::PgConnection, Error> {
    sqlx::PgConnection::connect(url)
        .await
        .map_err(|e| Error::Connect {
            url: redact(url),
            detail: e.to_string(),
        })
}

/// A session setting that marks pgdrill's own sessions, so the drill's DDL
/// audit does not mistake their DDL for a learner's.
pub const OWN_SESSION: &str = "pgdrill.own";

/// Opens one connection of pgdrill's own, named `application_name` (so
/// `pg_stat_activity` and `locks` show who it is), marked with
/// [`OWN_SESSION`], with an optional `statement_timeout`.
pub async fn connect_as(
    url: &str,
    application_name: &str,
    statement_timeout: Option<std::time::Duration>,
) -> Result<sqlx::PgConnection, Error> {
    use sqlx::ConnectOptions;
    let failed = |detail: String| Error::Connect {
        url: redact(url),
        detail,
    };
    let mut options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url)
        .map_err(|e| failed(e.to_string()))?
        .application_name(application_name)
        .options([(OWN_SESSION, "on")]);
    if let Some(t) = statement_timeout {
        options = options.options([("statement_timeout", format!("{}ms", t.as_millis().max(1)))]);
    }
    options.connect().await.map_err(|e| failed(e.to_string()))
}

/// A URL with its password replaced by `***`.
pub fn redact(url: &str) -> String {
    match password_at(url) {
        Some((head, _, tail)) => format!("{head}:***{tail}"),
        None => url.to_string(),
    }
}

/// A URL cut around its password: `postgres://user`, the password, and
/// `@host:port/db`; `None` when it has no password.
fn password_at(url: &str) -> Option<(&str, &str, &str)> {
    let scheme = url.find("://")? + 3;
    let at = url.rfind('@').filter(|at| *at >= scheme)?;
    let colon = scheme + url[scheme..at].find(':')?;
    Some((&url[..colon], &url[colon + 1..at], &url[at..]))
}

/// Gives an instance's superuser and application role new random
/// passwords, over one superuser connection; returns them (superuser, app).
/// A local instance is reached through its private Unix socket, where the
/// template trusts its owner: a TCP login would cost a SCRAM handshake on
/// every provision.
pub(crate) async fn fresh_passwords(info: &InstanceInfo) -> Result<(String, String), Error> {
    use sqlx::Executor;
    let superuser = random_token(24);
    let app = random_token(24);
    let mut conn = owner_session(info).await?;
    // Tokens are alphanumeric, so they need no quoting beyond the quotes.
    let sql = format!(
        "ALTER ROLE {} PASSWORD '{superuser}'; ALTER ROLE {} PASSWORD '{app}';",
        crate::migrate::quote_ident(&info.superuser.user),
        crate::migrate::quote_ident(&info.app.user),
    );
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
        .await
        .map_err(|e| Error::Connect {
            url: redact(&info.url_for(&info.superuser)),
            detail: format!("setting this instance's passwords: {e}"),
        })?;
    Ok((superuser, app))
}

/// A superuser session: through the private Unix socket of a local
/// instance (where the template trusts its owner), else over TCP.
pub(crate) async fn owner_session(info: &InstanceInfo) -> Result<sqlx::PgConnection, Error> {
    use sqlx::ConnectOptions;
    match &info.socket_dir {
        Some(dir) => sqlx::postgres::PgConnectOptions::new()
            .socket(dir)
            .port(info.port)
            .username(&info.superuser.user)
            .database(&info.database)
            .connect()
            .await
            .map_err(|e| Error::Connect {
                url: format!("the socket in {}", dir.display()),
                detail: e.to_string(),
            }),
        None => connect(&info.url_for(&info.superuser)).await,
    }
}

/// A URL without its password, and the password: for client tools, which
/// get the first on their command line and the second in their
/// environment, because every local user can read a process's arguments.
pub fn split_password(url: &str) -> (String, Option<String>) {
    match password_at(url) {
        Some((head, password, tail)) => (format!("{head}{tail}"), Some(password.to_string())),
        None => (url.to_string(), None),
    }
}

/// A PostgreSQL client tool (`pg_dump`, `pg_restore`) to run against
/// `url`: `--dbname` carries the URL without its password, which goes in
/// the child's `PGPASSWORD` (never in its arguments).
pub fn client_tool(program: &std::path::Path, url: &str) -> tokio::process::Command {
    let (url, password) = split_password(url);
    let mut cmd = tokio::process::Command::new(program);
    cmd.arg("--dbname").arg(url).env_remove("PGPASSWORD");
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    cmd.kill_on_drop(true);
    cmd
}

/// What [`gc`] cleaned up.
#[derive(Debug, Default, serde::Serialize)]
pub struct GcReport {
    /// Orphaned instances (server stopped, directory removed).
    pub reaped: Vec<registry::Reaped>,
    /// Leftovers of dead runs removed: trash, template staging
    /// directories and unfinished copies of templates into the cache.
    pub swept: Vec<PathBuf>,
}

/// What dead pgdrill runs left behind and [`gc`] would remove: trash,
/// template staging directories, unfinished copies of templates.
pub fn leftovers(dirs: &Dirs) -> Vec<PathBuf> {
    let mut found = fsutil::leftovers(&dirs.runtime);
    found.extend(template::partial_builds(&dirs.cache));
    found.extend(seeded::partial_builds(&dirs.cache));
    found
}

/// Stops and removes the orphans of dead pgdrill runs, and their leftover
/// files. Blocking (it waits for servers to exit). Every provision runs it;
/// so does `pgdrill instances gc`.
pub fn gc(dirs: &Dirs) -> Result<GcReport, Error> {
    let registry = registry::Registry::open(&dirs.state)?;
    Ok(GcReport {
        reaped: registry.reap_orphans(),
        swept: fsutil::remove_all(leftovers(dirs)),
    })
}

/// Creates the runtime directory, reachable by the server user.
pub(crate) fn prepare_runtime_dir(dirs: &Dirs, run_as: &RunAs) -> Result<(), Error> {
    let mode = if run_as.switched { 0o711 } else { 0o700 };
    paths::ensure_private_dir(&dirs.runtime, mode)?;
    if run_as.switched {
        paths::check_traversable(&dirs.runtime, run_as.uid, run_as.gid, &run_as.user)?;
    }
    Ok(())
}

/// Whether `id` is an instance id pgdrill makes (`pgd-` and 8 lowercase
/// letters or digits): only such a directory is ever removed by a label.
pub(crate) fn text_is_instance_id(id: &str) -> bool {
    id.strip_prefix("pgd-").is_some_and(|rest| {
        rest.len() == 8
            && rest
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
    })
}

/// A random string of ASCII letters and digits.
pub(crate) fn random_token(len: usize) -> String {
    use rand::RngExt;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// Seconds since the Unix epoch.
pub(crate) fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_the_password_only() {
        assert_eq!(
            redact("postgres://app:s3cret@127.0.0.1:5432/pgdrill"),
            "postgres://app:***@127.0.0.1:5432/pgdrill"
        );
        assert_eq!(redact("postgres://app@host/db"), "postgres://app@host/db");
    }

    #[test]
    fn client_tools_get_the_password_apart_from_the_url() {
        assert_eq!(
            split_password("postgres://postgres:s3cret@127.0.0.1:5432/pgdrill"),
            (
                "postgres://postgres@127.0.0.1:5432/pgdrill".to_string(),
                Some("s3cret".to_string())
            )
        );
        let cmd = client_tool(
            std::path::Path::new("pg_dump"),
            "postgres://postgres:s3cret@127.0.0.1:5432/pgdrill",
        );
        let args: Vec<_> = cmd.as_std().get_args().collect();
        assert!(
            args.iter().all(|a| !a.to_string_lossy().contains("s3cret")),
            "{args:?}"
        );
        assert!(
            cmd.as_std()
                .get_envs()
                .any(|(k, v)| k == "PGPASSWORD" && v.is_some_and(|v| v == "s3cret"))
        );
    }

    #[test]
    fn tokens_are_alphanumeric_and_distinct() {
        let a = random_token(24);
        assert_eq!(a.len(), 24);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, random_token(24));
    }
}

//! The cached template cluster: `initdb` once per PostgreSQL build.
//!
//! `initdb` costs about a second; copying its result costs tens of
//! milliseconds. So each PostgreSQL build (version + binary directory) gets
//! one initialised cluster in the cache, and every instance is a copy of it.
//!
//! Building happens in a staging directory under the runtime directory (the
//! server user may not be able to enter our cache, e.g. `/root/.cache`), is
//! copied into `<cache>/templates/KEY.tmp-PID` and renamed to `KEY` only when
//! complete. A lock file serialises builders, so two first runs at once do one
//! `initdb` between them and neither sees a half-built template.
//!
//! The template has: superuser `postgres` and application role `pgdrill_app`,
//! each with a random password (kept in `template.json`, mode 0600); database
//! `pgdrill` owned by the application role; local socket connections trusted
//! (the socket directory is private) and TCP connections password-checked;
//! throwaway settings (no fsync, small buffers).

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use super::{Dirs, Error, PgBinaries, Progress, RunAs, fsutil, paths, process};

/// Bump when the template's contents change, so old caches are not reused
/// (3: room for 300 connections, enough for a class's drills on one
/// `pgdrill up` server).
const FORMAT: u32 = 3;

/// Name of the application role.
pub const APP_USER: &str = "pgdrill_app";
/// Name of the superuser.
pub const SUPERUSER: &str = "postgres";
/// Name of the drill database.
pub const DATABASE: &str = "pgdrill";

/// Settings for a disposable server: durability off, footprint small.
const THROWAWAY_SETTINGS: &str = "
# pgdrill: settings for a disposable training server
listen_addresses = '127.0.0.1'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
huge_pages = off
max_connections = 300
min_wal_size = 8MB
max_wal_size = 256MB
checkpoint_timeout = 30min
unix_socket_permissions = 0700
# Shared memory segments in the data directory (pg_dynshmem), not /dev/shm:
# a server killed without its shutdown would otherwise leave them behind.
dynamic_shared_memory_type = mmap
timezone = 'UTC'
log_timezone = 'UTC'
lc_messages = 'C'
log_line_prefix = '%m [%p] '
";

/// What the cache records about a template.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemplateMeta {
    /// Template format (see [`FORMAT`]).
    pub format: u32,
    /// The PostgreSQL version it was built with.
    pub version: String,
    /// The binary directory it was built with.
    pub bindir: PathBuf,
    /// Password of [`SUPERUSER`].
    pub superuser_password: String,
    /// Password of [`APP_USER`].
    pub app_password: String,
    /// Seconds since the epoch when it was built.
    pub created_unix: u64,
}

/// A ready template cluster.
#[derive(Debug, Clone)]
pub struct Template {
    /// Its data directory (copy this).
    pub data_dir: PathBuf,
    /// Its metadata.
    pub meta: TemplateMeta,
}

/// The cache key of a PostgreSQL build, e.g. `pg15-9c1e0f3a2b4d5e6f`.
pub fn key(bins: &PgBinaries) -> String {
    // FNV-1a: stable across Rust releases (unlike DefaultHasher).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let input = format!("{FORMAT}\0{}\0{}", bins.version, bins.bindir.display());
    for byte in input.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("pg{}-{hash:016x}", bins.major)
}

fn templates_dir(cache: &Path) -> PathBuf {
    cache.join("templates")
}

/// The cached template for these binaries, if it is complete.
pub fn lookup(bins: &PgBinaries, cache: &Path) -> Option<Template> {
    let dir = templates_dir(cache).join(key(bins));
    let meta: TemplateMeta =
        serde_json::from_slice(&std::fs::read(dir.join("template.json")).ok()?).ok()?;
    (meta.format == FORMAT && dir.join("data/PG_VERSION").is_file()).then(|| Template {
        data_dir: dir.join("data"),
        meta,
    })
}

/// Copies of templates into the cache (`templates/KEY.tmp-PID`) that their
/// builder never finished: it died (Ctrl-C, SIGKILL) mid-copy.
pub fn partial_builds(cache: &Path) -> Vec<PathBuf> {
    fsutil::unfinished_copies(&templates_dir(cache))
}

/// Returns the cached template, building it first if needed.
pub async fn ensure(
    bins: &PgBinaries,
    dirs: &Dirs,
    run_as: &RunAs,
    progress: &super::ProgressFn<'_>,
) -> Result<Template, Error> {
    if let Some(template) = lookup(bins, &dirs.cache) {
        return Ok(template);
    }
    paths::ensure_private_dir(&dirs.cache, 0o700)?;
    let templates = templates_dir(&dirs.cache);
    paths::ensure_private_dir(&templates, 0o700)?;

    let lock_path = templates.join(format!("{}.lock", key(bins)));
    let _lock = build_lock(&lock_path, progress).await?;
    // Someone else may have built it while we waited.
    if let Some(template) = lookup(bins, &dirs.cache) {
        return Ok(template);
    }
    progress(Progress::BuildingTemplate {
        version: bins.version.clone(),
    });
    build(bins, dirs, run_as, &templates).await
}

async fn build(
    bins: &PgBinaries,
    dirs: &Dirs,
    run_as: &RunAs,
    templates: &Path,
) -> Result<Template, Error> {
    super::prepare_runtime_dir(dirs, run_as)?;
    let staging = Staging::create(&dirs.runtime, run_as)?;
    let data = staging.path.join("data");
    let pwfile = staging.path.join("pw");
    let meta = TemplateMeta {
        format: FORMAT,
        version: bins.version.clone(),
        bindir: bins.bindir.clone(),
        superuser_password: super::random_token(24),
        app_password: super::random_token(24),
        created_unix: super::now_unix(),
    };
    write_private(&pwfile, format!("{}\n", meta.superuser_password).as_bytes())?;
    run_as.chown(&pwfile)?;

    let mut initdb = tokio::process::Command::new(bins.bin("initdb"));
    initdb
        .arg("-D")
        .arg(&data)
        .args(["-U", SUPERUSER, "--pwfile"])
        .arg(&pwfile)
        .args([
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "--no-locale",
            "--encoding=UTF8",
            "--no-sync",
            "--no-instructions",
            // 1 MB WAL segments: a 28 MB template instead of 39 MB, so
            // every copy is faster.
            "--wal-segsize=1",
        ]);
    process::run_tool(initdb, run_as, None).await?;
    std::fs::remove_file(&pwfile).map_err(Error::io("remove", &pwfile))?;

    let conf = data.join("postgresql.conf");
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&conf)
        .map_err(Error::io("open", &conf))?;
    file.write_all(THROWAWAY_SETTINGS.as_bytes())
        .map_err(Error::io("write", &conf))?;

    single_user(
        bins,
        run_as,
        &data,
        "postgres",
        &[
            format!(
                "CREATE ROLE {APP_USER} LOGIN PASSWORD '{}'",
                meta.app_password
            ),
            format!("CREATE DATABASE {DATABASE} OWNER {APP_USER}"),
        ],
    )
    .await?;
    // Since PostgreSQL 14 `public` belongs to pg_database_owner, i.e. to
    // the database's owner; before that it must be handed over explicitly.
    if bins.major < 14 {
        let grant = format!("ALTER SCHEMA public OWNER TO {APP_USER}");
        single_user(bins, run_as, &data, DATABASE, &[grant]).await?;
    }

    let key = key(bins);
    let tmp = templates.join(format!("{key}.tmp-{}", std::process::id()));
    fsutil::remove_tree(&tmp)?;
    std::fs::create_dir(&tmp).map_err(Error::io("create", &tmp))?;
    let me = RunAs {
        switched: false,
        ..run_as.clone()
    };
    fsutil::copy_tree(&data, &tmp.join("data"), &me, &AtomicBool::new(false))?;
    let meta_path = tmp.join("template.json");
    write_private(
        &meta_path,
        &serde_json::to_vec_pretty(&meta).expect("meta serialises"),
    )?;
    let dest = templates.join(&key);
    fsutil::remove_tree(&dest)?; // an incomplete or outdated one
    std::fs::rename(&tmp, &dest).map_err(Error::io("move into place", &dest))?;
    Ok(Template {
        data_dir: dest.join("data"),
        meta,
    })
}

/// Runs `postgres --single` on `data`, one statement per line.
async fn single_user(
    bins: &PgBinaries,
    run_as: &RunAs,
    data: &Path,
    database: &str,
    statements: &[String],
) -> Result<(), Error> {
    let mut cmd = tokio::process::Command::new(bins.bin("postgres"));
    cmd.args(["--single", "-D"])
        .arg(data)
        .args(["-c", "exit_on_error=on", database]);
    let input = statements.join("\n") + "\n";
    process::run_tool(cmd, run_as, Some(input)).await
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io("create", path))?;
    file.write_all(bytes).map_err(Error::io("write", path))
}

/// A staging directory that removes itself, even when the build is cancelled.
struct Staging {
    path: PathBuf,
}

impl Staging {
    fn create(runtime: &Path, run_as: &RunAs) -> Result<Staging, Error> {
        let path = runtime.join(format!(
            ".staging-{}-{}",
            std::process::id(),
            super::random_token(6)
        ));
        std::fs::create_dir(&path).map_err(Error::io("create", &path))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .map_err(Error::io("set permissions of", &path))?;
        run_as.chown(&path)?;
        Ok(Staging { path })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Waits for the build lock at `path` (an flock: released when the holder
/// exits, however it exits), saying so when another build holds it.
pub(super) async fn build_lock(
    path: &Path,
    progress: &super::ProgressFn<'_>,
) -> Result<nix::fcntl::Flock<std::fs::File>, Error> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(Error::io("open", path))?;
    match nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusiveNonblock) {
        Ok(lock) => Ok(lock),
        Err((file, _)) => {
            progress(Progress::WaitingForTemplate);
            let path = path.to_path_buf();
            tokio::task::spawn_blocking(move || {
                nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
            })
            .await
            .expect("lock task does not panic")
            .map_err(|(_, errno)| Error::Io {
                action: "lock",
                path,
                source: errno.into(),
            })
        }
    }
}

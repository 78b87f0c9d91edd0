//! Physical snapshots and point-in-time recovery, on servers pgdrill runs
//! itself (the local backend).
//!
//! Every local server starts with `archive_mode = on` and an
//! `archive_command` that copies each finished WAL segment into the
//! instance's `wal-archive` directory when that directory exists, and lets
//! the segment go otherwise. So a server that prepares a seeded template
//! archives nothing, and a drill's server archives from the moment the
//! drill calls [`start_archiving`].
//!
//! A physical snapshot is an online base backup: `pg_backup_start`, a copy
//! of the data directory while traffic runs, `pg_backup_stop` (which waits
//! until the WAL the copy needs is archived). Restoring one is a new server
//! on a copy of it that replays the archive up to a [`Target`]: the end of
//! the backup, a moment, or a restore point (the migration runner names
//! one before every migration it applies, [`restore_point`]). That is what
//! a provider's point-in-time recovery does (runbook 004, option A), and it
//! keeps the source serving throughout.
//!
//! Invariant: nothing here touches a server's data directory but to read
//! it; restores always go to a new directory.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sqlx::Row;

use super::InstanceInfo;

/// Application name of the sessions that take backups.
const SESSION: &str = "pgdrill-snapshot";

/// How long a restore waits for the live server to archive its WAL.
const ARCHIVE_WAIT: Duration = Duration::from_secs(20);

/// What is left out of a base backup: the files PostgreSQL's documentation
/// says a backup may omit, and the server's own lock and options files.
/// `pg_wal` is kept as an empty directory: recovery reads the archive.
const SKIP_CONTENTS: &[&str] = &[
    "pg_wal",
    "pg_replslot",
    "pg_dynshmem",
    "pg_notify",
    "pg_serial",
    "pg_snapshots",
    "pg_stat_tmp",
    "pg_subtrans",
];
const SKIP_FILES: &[&str] = &[
    "postmaster.pid",
    "postmaster.opts",
    "pg_internal.init",
    "backup_label",
    "tablespace_map",
];

/// The `archive_command` of a server whose archive is `dir`: copy the
/// segment when the directory exists, else report it archived (nothing
/// asked for it).
pub fn archive_command(dir: &Path) -> String {
    let dir = shell_quote(&dir.display().to_string()).replace('%', "%%");
    format!("test ! -d {dir} || cp %p {dir}/%f")
}

/// The `restore_command` that reads the archive `dir`.
fn restore_command(dir: &Path) -> String {
    let dir = shell_quote(&dir.display().to_string()).replace('%', "%%");
    format!("cp {dir}/%f %p")
}

fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

pub use crate::migrate::restore_point;

/// Whether the instance can take physical snapshots: pgdrill runs its
/// server and can read its data directory.
pub fn supported(info: &InstanceInfo) -> bool {
    info.wal_archive.is_some() && info.data_dir.is_some()
}

/// Starts keeping the instance's WAL: creates its archive directory, owned
/// like its data directory. False when the instance has no archive (not
/// the local backend). Idempotent.
pub fn start_archiving(info: &InstanceInfo) -> Result<bool, String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt};
    let (Some(dir), Some(data)) = (&info.wal_archive, &info.data_dir) else {
        return Ok(false);
    };
    if dir.is_dir() {
        return Ok(true);
    }
    let owner = std::fs::metadata(data).map_err(|e| format!("{}: {e}", data.display()))?;
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(|e| format!("creating {}: {e}", dir.display()))?;
    std::os::unix::fs::chown(dir, Some(owner.uid()), Some(owner.gid()))
        .map_err(|e| format!("giving {} to the server's user: {e}", dir.display()))?;
    Ok(true)
}

/// Lets `role` (the one migrations run as) set restore points, so the
/// migration runner can mark the WAL before each migration.
pub async fn allow_restore_points(superuser_url: &str, role: &str) -> Result<(), String> {
    let mut conn = super::connect_as(superuser_url, SESSION, None)
        .await
        .map_err(|e| e.to_string())?;
    let grant = format!(
        "GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO {}",
        crate::migrate::quote_ident(role)
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(grant))
        .execute(&mut conn)
        .await
        .map(drop)
        .map_err(|e| crate::sqlstate::message(&e))
}

/// A finished base backup.
#[derive(Debug, Clone)]
pub struct Backup {
    /// Bytes copied.
    pub bytes: u64,
    /// How long it took.
    pub took: Duration,
}

/// Takes an online base backup of the instance into `dest` (a new
/// directory) while it serves.
pub async fn base_backup(
    info: &InstanceInfo,
    superuser_url: &str,
    label: &str,
    dest: &Path,
) -> Result<Backup, String> {
    let Some(data) = info.data_dir.clone() else {
        return Err("this instance has no data directory pgdrill can read".into());
    };
    start_archiving(info)?;
    let started = Instant::now();
    let mut conn = super::connect_as(superuser_url, SESSION, None)
        .await
        .map_err(|e| e.to_string())?;
    let modern = server_version(&mut conn).await? >= 150_000;
    let start = if modern {
        "SELECT pg_backup_start($1, true)::text"
    } else {
        "SELECT pg_start_backup($1, true, false)::text"
    };
    sqlx::query(start)
        .bind(label)
        .execute(&mut conn)
        .await
        .map_err(|e| format!("starting the backup: {}", crate::sqlstate::message(&e)))?;
    let to = dest.to_path_buf();
    let copied = tokio::task::spawn_blocking(move || copy_data(&data, &to))
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    // Not `wait_for_archive`: the server checks that once a second. The
    // segment holding the backup's end is waited for here instead.
    let stop = if modern {
        "SELECT pg_walfile_name(lsn), labelfile, spcmapfile FROM pg_backup_stop(false)"
    } else {
        "SELECT pg_walfile_name(lsn), labelfile, spcmapfile FROM pg_stop_backup(false, false)"
    };
    // Stopped whether or not the copy worked: the session holds the
    // server in backup mode (full-page writes on) until then.
    let stopped = sqlx::query(stop).fetch_one(&mut conn).await;
    let bytes = copied?;
    let row =
        stopped.map_err(|e| format!("ending the backup: {}", crate::sqlstate::message(&e)))?;
    let last: String = row.try_get(0).map_err(|e| e.to_string())?;
    let label_file: String = row.try_get(1).map_err(|e| e.to_string())?;
    let map: Option<String> = row.try_get(2).map_err(|e| e.to_string())?;
    std::fs::write(dest.join("backup_label"), label_file)
        .map_err(|e| format!("{}: {e}", dest.display()))?;
    if let Some(map) = map.filter(|m| !m.is_empty()) {
        std::fs::write(dest.join("tablespace_map"), map)
            .map_err(|e| format!("{}: {e}", dest.display()))?;
    }
    wait_archived(&mut conn, &last).await?;
    Ok(Backup {
        bytes,
        took: started.elapsed(),
    })
}

async fn server_version(conn: &mut sqlx::PgConnection) -> Result<i32, String> {
    sqlx::query_scalar::<_, String>("SELECT current_setting('server_version_num')")
        .fetch_one(conn)
        .await
        .map_err(|e| e.to_string())?
        .parse()
        .map_err(|e| format!("server_version_num: {e}"))
}

/// Copies a live data directory, leaving out what a backup omits. Files
/// the server removes while the copy runs are skipped: the WAL replayed
/// from the backup's start makes the copy consistent.
fn copy_data(from: &Path, to: &Path) -> Result<u64, String> {
    use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
    fn walk(from: &Path, to: &Path, skip_contents: bool) -> Result<u64, String> {
        let meta =
            std::fs::symlink_metadata(from).map_err(|e| format!("{}: {e}", from.display()))?;
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(to)
            .map_err(|e| format!("creating {}: {e}", to.display()))?;
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(meta.mode() & 0o7777))
            .map_err(|e| format!("{}: {e}", to.display()))?;
        if skip_contents {
            return Ok(0);
        }
        let mut bytes = 0;
        let entries = std::fs::read_dir(from).map_err(|e| format!("{}: {e}", from.display()))?;
        for entry in entries {
            let Ok(entry) = entry else { continue };
            let name = entry.file_name();
            let name = name.to_string_lossy();
            let (src, dst) = (entry.path(), to.join(&*name));
            let Ok(meta) = std::fs::symlink_metadata(&src) else {
                continue; // removed meanwhile
            };
            if meta.is_dir() {
                bytes += walk(&src, &dst, SKIP_CONTENTS.contains(&&*name))?;
            } else if SKIP_FILES.contains(&&*name) || name.starts_with("pgsql_tmp") {
                continue;
            } else if meta.file_type().is_symlink() {
                let target =
                    std::fs::read_link(&src).map_err(|e| format!("{}: {e}", src.display()))?;
                std::os::unix::fs::symlink(target, &dst)
                    .map_err(|e| format!("{}: {e}", dst.display()))?;
            } else {
                match std::fs::copy(&src, &dst) {
                    Ok(n) => bytes += n,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(format!("copying {}: {e}", src.display())),
                }
            }
        }
        Ok(bytes)
    }
    let bytes = walk(from, to, false)?;
    std::fs::create_dir_all(to.join("pg_wal/archive_status"))
        .map_err(|e| format!("{}: {e}", to.display()))?;
    Ok(bytes)
}

/// Makes the archive hold every WAL record written so far: switches to a
/// new segment and waits until the old one is archived. A restore to a
/// point in time needs it, since the last segment is still being written.
pub async fn archive_now(superuser_url: &str) -> Result<(), String> {
    let mut conn = super::connect_as(superuser_url, SESSION, None)
        .await
        .map_err(|e| e.to_string())?;
    let segment: String = sqlx::query_scalar("SELECT pg_walfile_name(pg_switch_wal())")
        .fetch_one(&mut conn)
        .await
        .map_err(|e| format!("switching WAL segments: {}", crate::sqlstate::message(&e)))?;
    wait_archived(&mut conn, &segment).await
}

/// Waits until the server has archived WAL segment `segment`.
async fn wait_archived(conn: &mut sqlx::PgConnection, segment: &str) -> Result<(), String> {
    let deadline = Instant::now() + ARCHIVE_WAIT;
    loop {
        let (archived, failed): (Option<String>, Option<String>) =
            sqlx::query_as("SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver")
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| e.to_string())?;
        // Segment names of one timeline sort in WAL order.
        if archived.as_deref().is_some_and(|a| a >= segment) {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "the server did not archive WAL segment {segment} within {}s (last failed: {})",
                ARCHIVE_WAIT.as_secs(),
                failed.as_deref().unwrap_or("none")
            ));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Where a recovery stops replaying WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// As soon as the backup is consistent: the moment it was taken.
    EndOfBackup,
    /// Before the first transaction that committed after this moment (a
    /// `timestamptz` literal of the server's).
    Time(String),
    /// At a restore point ([`restore_point`]).
    Name(String),
}

/// A new server to start from a base backup and the archive.
#[derive(Debug, Clone)]
pub struct Recovery {
    /// The base backup's directory.
    pub backup: PathBuf,
    /// The archive of the server it was taken of.
    pub archive: PathBuf,
    /// Where replay stops.
    pub target: Target,
    /// The roles' passwords in the backup (those of its source).
    pub superuser_password: String,
    /// The application role's.
    pub app_password: String,
}

impl Recovery {
    /// The settings the recovering server starts with.
    pub fn settings(&self) -> Vec<(String, String)> {
        let mut s = vec![
            ("restore_command".into(), restore_command(&self.archive)),
            ("recovery_target_timeline".into(), "latest".into()),
            ("recovery_target_action".into(), "promote".into()),
        ];
        match &self.target {
            Target::EndOfBackup => s.push(("recovery_target".into(), "immediate".into())),
            Target::Time(t) => {
                s.push(("recovery_target_time".into(), t.clone()));
                s.push(("recovery_target_inclusive".into(), "true".into()));
            }
            Target::Name(n) => s.push(("recovery_target_name".into(), n.clone())),
        }
        s
    }

    /// What a server that would not start from this recovery most likely
    /// ran into, from the end of its log.
    pub fn explain(&self, log: &str) -> Option<String> {
        if !log.contains("recovery ended before configured recovery target was reached") {
            return None;
        }
        Some(match &self.target {
            Target::Name(n) => format!(
                "the archive holds no restore point `{n}`: that migration was not applied on this instance after the backup"
            ),
            Target::Time(t) => format!("the archive does not reach {t}"),
            Target::EndOfBackup => "the archive lacks WAL the backup needs".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_quote_the_directory_for_the_shell_and_escape_percent_signs() {
        let dir = Path::new("/run/it's 100%/wal-archive");
        assert_eq!(
            archive_command(dir),
            r"test ! -d '/run/it'\''s 100%%/wal-archive' || cp %p '/run/it'\''s 100%%/wal-archive'/%f"
        );
        assert_eq!(
            restore_command(dir),
            r"cp '/run/it'\''s 100%%/wal-archive'/%f %p"
        );
    }

    #[test]
    fn restore_points_fit_postgresql_s_limit() {
        assert_eq!(restore_point("002_rename"), "pgdrill-before-002_rename");
        let long = restore_point(&"x".repeat(100));
        assert_eq!(long.len(), 63);
        assert!(
            restore_point(&"é".repeat(40)).len() <= 63,
            "cut on a char boundary"
        );
    }

    #[test]
    fn each_target_becomes_its_recovery_settings() {
        let r = |target| Recovery {
            backup: "/b".into(),
            archive: "/a".into(),
            target,
            superuser_password: String::new(),
            app_password: String::new(),
        };
        let has = |r: &Recovery, k: &str, v: &str| {
            r.settings().iter().any(|(key, val)| key == k && val == v)
        };
        assert!(has(&r(Target::EndOfBackup), "recovery_target", "immediate"));
        let at = r(Target::Time("2026-12-07 06:00:00+00".into()));
        assert!(has(&at, "recovery_target_time", "2026-12-07 06:00:00+00"));
        let before = r(Target::Name("pgdrill-before-002".into()));
        assert!(has(&before, "recovery_target_name", "pgdrill-before-002"));
        assert!(has(&before, "recovery_target_action", "promote"));
        assert!(
            before
                .explain("FATAL:  recovery ended before configured recovery target was reached")
                .unwrap()
                .contains("not applied")
        );
    }
}

//! Seeded templates: a template cluster whose drill database is already
//! prepared (fixture, start migrations, generated rows), cached under a key
//! of everything that shapes it, so the next drill at that volume copies
//! files instead of generating a million rows again.
//!
//! The caller gives the key (`drill::seed_key`: the fixture SQL, the rows,
//! the values, the start migrations and pgdrill's own preparation) and the
//! preparation; the directory name adds the PostgreSQL build's template key,
//! so another build never sees it. Building happens in an ordinary instance
//! (registered, so a crash leaves nothing the next run does not reap); once
//! prepared, its passwords are set back to the template's, it is stopped
//! cleanly (a consistent data directory, no recovery needed), copied into
//! `<cache>/seeded/NAME.tmp-PID` and renamed into place. A lock per key
//! makes two first runs at once build it once. The cache keeps the
//! [`KEEP`] most recently used; older ones are removed when a new one is
//! built.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use sqlx::{AssertSqlSafe, Executor};

use super::template::{self, APP_USER, SUPERUSER, Template, TemplateMeta};
use super::{Error, Instance, LocalBackend, Progress, ProgressFn, RunAs, fsutil, paths};

/// Seeded templates kept in the cache.
pub const KEEP: usize = 4;

/// A preparation failed: the instance side, or the caller's own work.
#[derive(Debug)]
pub enum Seeding<E> {
    /// Starting, stopping or copying failed.
    Instance(Error),
    /// The preparation failed (the caller's error).
    Prepare(E),
}

impl<E> From<Error> for Seeding<E> {
    fn from(e: Error) -> Self {
        Seeding::Instance(e)
    }
}

fn seeded_dir(cache: &Path) -> PathBuf {
    cache.join("seeded")
}

/// The directory a seeded template of this build and key lives in.
fn name(bins: &super::PgBinaries, key: &str) -> String {
    let short: String = key.chars().take(16).collect();
    format!("{}-{short}", template::key(bins))
}

/// The cached seeded template, if complete; marks it used.
fn lookup(cache: &Path, name: &str) -> Option<Template> {
    let dir = seeded_dir(cache).join(name);
    let meta: TemplateMeta =
        serde_json::from_slice(&std::fs::read(dir.join("template.json")).ok()?).ok()?;
    if !dir.join("data/PG_VERSION").is_file() {
        return None;
    }
    // The last use orders eviction.
    let _ = std::fs::write(dir.join("used"), super::now_unix().to_string());
    Some(Template {
        data_dir: dir.join("data"),
        meta,
    })
}

/// Seeded templates whose builder died mid-copy.
pub fn partial_builds(cache: &Path) -> Vec<PathBuf> {
    fsutil::unfinished_copies(&seeded_dir(cache))
}

/// Removes all but the `keep` most recently used seeded templates.
fn evict(cache: &Path, keep: usize) {
    let Ok(read) = std::fs::read_dir(seeded_dir(cache)) else {
        return;
    };
    let mut complete: Vec<(u64, PathBuf)> = read
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("template.json").is_file())
        .map(|p| {
            let used = std::fs::read_to_string(p.join("used"))
                .ok()
                .and_then(|s| s.trim().parse().ok())
                .unwrap_or(0);
            (used, p)
        })
        .collect();
    complete.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    for (_, old) in complete.into_iter().skip(keep) {
        if let Err(e) = fsutil::remove_tree(&old) {
            tracing::warn!("{e}");
        }
    }
}

impl LocalBackend {
    /// A new instance whose database `prepare` has prepared: copied from the
    /// seeded template `key` when the cache has it, else built once with
    /// `prepare` (which gets an ordinary new instance) and cached.
    pub async fn provision_seeded<E>(
        &self,
        key: &str,
        prepare: impl AsyncFnOnce(&Instance) -> Result<(), E>,
        progress: &ProgressFn<'_>,
    ) -> Result<Instance, Seeding<E>> {
        super::prepare_runtime_dir(self.dirs(), self.run_as())?;
        let base = template::ensure(self.binaries(), self.dirs(), self.run_as(), progress).await?;
        let name = name(self.binaries(), key);
        let cache = self.dirs().cache.clone();
        if let Some(seeded) = lookup(&cache, &name) {
            return Ok(self.provision_from(&seeded, progress).await?);
        }
        let dir = seeded_dir(&cache);
        paths::ensure_private_dir(&dir, 0o700)?;
        let _lock = template::build_lock(&dir.join(format!("{name}.lock")), progress).await?;
        if let Some(seeded) = lookup(&cache, &name) {
            return Ok(self.provision_from(&seeded, progress).await?);
        }
        let builder = self.provision_from(&base, progress).await?;
        if let Err(e) = prepare(&builder).await {
            builder.shutdown().await;
            return Err(Seeding::Prepare(e));
        }
        progress(Progress::Caching);
        let seeded = keep(
            self.binaries(),
            builder,
            &base.meta,
            &dir,
            &name,
            self.run_as(),
        )
        .await;
        let seeded = seeded?;
        evict(&cache, KEEP);
        Ok(self.provision_from(&seeded, progress).await?)
    }
}

/// Turns a prepared instance into the seeded template `name`: the
/// template's passwords back, a clean stop, its data directory copied into
/// the cache and renamed into place.
async fn keep(
    bins: &super::PgBinaries,
    builder: Instance,
    meta: &TemplateMeta,
    dir: &Path,
    name: &str,
    run_as: &RunAs,
) -> Result<Template, Error> {
    let mut conn = builder.connect_superuser().await?;
    let reset = format!(
        "ALTER ROLE {SUPERUSER} PASSWORD '{}'; ALTER ROLE {APP_USER} PASSWORD '{}'; CHECKPOINT",
        meta.superuser_password, meta.app_password
    );
    conn.execute(sqlx::raw_sql(AssertSqlSafe(reset)))
        .await
        .map_err(|e| Error::Cache(e.to_string()))?;
    drop(conn);
    let tmp = dir.join(format!("{name}.tmp-{}", std::process::id()));
    fsutil::remove_tree(&tmp)?;
    std::fs::create_dir(&tmp).map_err(Error::io("create", &tmp))?;
    let me = RunAs {
        switched: false,
        ..run_as.clone()
    };
    let data = tmp.join("data");
    let copied = builder.retire_into(&data, &me).await;
    let copied = match copied {
        Ok(()) => prune_wal(bins, &data).await,
        Err(e) => Err(e),
    };
    if let Err(e) = copied {
        let _ = fsutil::remove_tree(&tmp);
        return Err(e);
    }
    let meta_path = tmp.join("template.json");
    std::fs::write(
        &meta_path,
        serde_json::to_vec_pretty(meta).expect("meta serialises"),
    )
    .map_err(Error::io("write", &meta_path))?;
    std::fs::set_permissions(
        &meta_path,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .map_err(Error::io("set permissions of", &meta_path))?;
    let dest = dir.join(name);
    fsutil::remove_tree(&dest)?;
    std::fs::rename(&tmp, &dest).map_err(Error::io("move into place", &dest))?;
    lookup(dir.parent().unwrap_or(dir), name)
        .ok_or_else(|| Error::Cache(format!("{} is incomplete", dest.display())))
}

/// Removes the WAL segments a cleanly stopped cluster does not need: all
/// but the one holding its shutdown checkpoint. The server preallocates up
/// to `max_wal_size` of segments, about half of a freshly seeded data
/// directory that every drill would otherwise copy.
async fn prune_wal(bins: &super::PgBinaries, data: &Path) -> Result<(), Error> {
    let out = tokio::process::Command::new(bins.bin("pg_controldata"))
        .arg(data)
        .env("LC_ALL", "C")
        .output()
        .await
        .map_err(Error::io("run pg_controldata on", data))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |label: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(label))
            .map(|v| v.trim().to_string())
    };
    let (Some(state), Some(redo)) = (
        field("Database cluster state:"),
        field("Latest checkpoint's REDO WAL file:"),
    ) else {
        return Err(Error::Cache(format!(
            "pg_controldata said nothing usable about {}: {}",
            data.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    };
    if state != "shut down" {
        return Err(Error::Cache(format!(
            "{} was not shut down cleanly ({state})",
            data.display()
        )));
    }
    let wal = data.join("pg_wal");
    let read = std::fs::read_dir(&wal).map_err(Error::io("read", &wal))?;
    for entry in read.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let segment = name.len() == 24 && name.chars().all(|c| c.is_ascii_hexdigit());
        if segment && *name != *redo {
            std::fs::remove_file(entry.path()).map_err(Error::io("remove", entry.path()))?;
        }
    }
    Ok(())
}

/// Copies a stopped server's data directory (cancellable copies are the
/// provisioning's business; this one runs to the end).
pub(super) fn copy_data(from: &Path, to: &Path, owner: &RunAs) -> Result<(), Error> {
    fsutil::copy_tree(from, to, owner, &AtomicBool::new(false))?;
    // A clean stop removes it; a copy must never carry one.
    let _ = std::fs::remove_file(to.join("postmaster.pid"));
    Ok(())
}

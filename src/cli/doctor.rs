//! `pgdrill doctor`: can this machine run pgdrill, and if not, what to do.
//!
//! Each check is one line: `ok`, `warn` (works, but worth knowing) or `FAIL`
//! with the fix. Exit code 3 when the local backend cannot run.

use std::io::Write;
use std::process::ExitCode;

use serde::Serialize;

use super::{Context, say};
use crate::Error;
use crate::instance::registry::{Liveness, Registry};
use crate::instance::{PgBinaries, RunAs, template};

#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Status {
    Ok,
    Warn,
    Fail,
}

#[derive(Debug, Serialize)]
struct Check {
    check: &'static str,
    status: Status,
    detail: String,
}

impl Check {
    fn new(check: &'static str, status: Status, detail: impl Into<String>) -> Check {
        Check {
            check,
            status,
            detail: detail.into(),
        }
    }
}

/// Runs every check, prints them, and fails (exit 3) when the local
/// backend cannot run.
pub async fn run(ctx: &Context, json: bool, out: &mut impl Write) -> Result<ExitCode, Error> {
    let dirs = &ctx.dirs;
    let (binaries, bins) = binaries(ctx);
    let (user, run_as) = user(ctx);
    let mut checks = vec![binaries, user];
    let runtime = run_as.as_ref().map(|r| runtime_dir(dirs, r));
    let runtime_ok = runtime.as_ref().is_some_and(|c| c.status != Status::Fail);
    checks.extend(runtime);
    checks.extend(bins.as_ref().map(|b| template_cache(b, dirs)));
    checks.push(instances(dirs));
    checks.push(leftovers(dirs));
    checks.push(docker(ctx).await);
    checks.push(external(ctx).await);
    let usable = bins.is_some() && run_as.is_some() && runtime_ok;
    checks.push(Check::new(
        "backend local",
        if usable { Status::Ok } else { Status::Fail },
        if usable {
            "usable: `pgdrill up` will work"
        } else {
            "not usable until the failures above are fixed"
        },
    ));
    if json {
        let value = serde_json::json!({ "usable": usable, "checks": checks });
        say!(out, "{value:#}");
    } else {
        for c in &checks {
            let tag = match c.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            let detail = c.detail.replace('\n', "\n                       ");
            say!(out, "{tag}  {:<15}  {detail}", c.check);
        }
    }
    if usable {
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Error::NotReady)
    }
}

/// PostgreSQL's server binaries, and where they were found.
fn binaries(ctx: &Context) -> (Check, Option<PgBinaries>) {
    match PgBinaries::locate(ctx.requested_bin.as_ref()) {
        Ok(bins) => {
            let detail = format!(
                "{} in {} (found via {})",
                bins.version,
                bins.bindir.display(),
                bins.origin
            );
            (Check::new("binaries", Status::Ok, detail), Some(bins))
        }
        Err(e) => (Check::new("binaries", Status::Fail, e.to_string()), None),
    }
}

/// Who the servers run as (never root).
fn user(ctx: &Context) -> (Check, Option<RunAs>) {
    match RunAs::resolve(ctx.run_as.as_deref()) {
        Ok(r) if r.switched => {
            let detail = format!(
                "running as root: servers run as `{}` (uid {}), which owns their directories",
                r.user, r.uid
            );
            (Check::new("root", Status::Ok, detail), Some(r))
        }
        Ok(r) => {
            let detail = format!("servers run as you (`{}`)", r.user);
            (Check::new("user", Status::Ok, detail), Some(r))
        }
        Err(e) => (Check::new("root", Status::Fail, e.to_string()), None),
    }
}

/// The runtime directory, and whether it is in memory.
fn runtime_dir(dirs: &crate::instance::Dirs, run_as: &RunAs) -> Check {
    if let Err(e) = crate::instance::prepare_runtime_dir(dirs, run_as) {
        return Check::new("runtime dir", Status::Fail, e.to_string());
    }
    let (status, note) = match dirs.storage {
        crate::instance::Storage::Tmpfs => (Status::Ok, "in memory: fast to copy and delete"),
        crate::instance::Storage::Disk => (
            Status::Warn,
            "on disk: starts are slower; free some space in /dev/shm or set PGDRILL_RUNTIME_DIR to a tmpfs",
        ),
    };
    Check::new(
        "runtime dir",
        status,
        format!("{} ({}; {note})", dirs.runtime.display(), dirs.storage),
    )
}

/// The initdb template, built or still to build.
fn template_cache(bins: &PgBinaries, dirs: &crate::instance::Dirs) -> Check {
    let detail = match template::lookup(bins, &dirs.cache) {
        Some(t) => format!(
            "{} template ready in {}",
            t.meta.version,
            t.data_dir.display()
        ),
        None => format!(
            "empty ({}): the first start runs initdb once (about a second), later starts copy the result",
            dirs.cache.display()
        ),
    };
    Check::new("template cache", Status::Ok, detail)
}

/// Instances in the registry, and the orphans among them.
fn instances(dirs: &crate::instance::Dirs) -> Check {
    let registry = match Registry::open(&dirs.state) {
        Ok(r) => r,
        Err(e) => return Check::new("instances", Status::Fail, e.to_string()),
    };
    let (listed, problems) = registry.list();
    let live = listed
        .iter()
        .filter(|l| l.liveness == Liveness::Live)
        .count();
    let orphans = listed.len() - live;
    let (status, mut detail) = if orphans > 0 {
        (
            Status::Warn,
            format!(
                "{live} live, {orphans} orphaned: `pgdrill instances gc` removes them (the next start does too)"
            ),
        )
    } else {
        (Status::Ok, format!("{live} live instance(s), no orphans"))
    };
    if !problems.is_empty() {
        detail.push_str(&format!("; {} unreadable entries", problems.len()));
    }
    Check::new("instances", status, detail)
}

/// What interrupted runs left behind.
fn leftovers(dirs: &crate::instance::Dirs) -> Check {
    let leftovers = crate::instance::leftovers(dirs);
    if leftovers.is_empty() {
        return Check::new("leftovers", Status::Ok, "none from interrupted runs");
    }
    Check::new(
        "leftovers",
        Status::Warn,
        format!(
            "{} from interrupted runs ({}): `pgdrill instances gc` removes them (the next start does too)",
            leftovers.len(),
            leftovers
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    )
}

/// The Docker backend: whether an engine answers and has the image.
async fn docker(ctx: &Context) -> Check {
    let image = ctx
        .image
        .clone()
        .unwrap_or_else(|| crate::instance::DEFAULT_IMAGE.to_string());
    let engine = match crate::instance::DockerBackend::engine().await {
        Ok(v) => v,
        Err(e) => {
            return Check::new(
                "backend docker",
                Status::Warn,
                format!(
                    "no Docker engine answers ({e}): `--backend docker` needs one; the local backend does not"
                ),
            );
        }
    };
    let present = crate::instance::DockerBackend::has_image(&image).await;
    let detail = if present {
        format!("Docker {engine}; image {image} present: `--backend docker` will work")
    } else {
        format!(
            "Docker {engine}; image {image} not here: the first start pulls it (without registry access, build one with docker/build-postgres-image and pass --image)"
        )
    };
    Check::new("backend docker", Status::Ok, detail)
}

/// The external backend: with `--url`, whether its role may run drills.
async fn external(ctx: &Context) -> Check {
    let Some(url) = &ctx.url else {
        return Check::new(
            "backend external",
            Status::Ok,
            "needs --url postgres://ADMIN@HOST:PORT/DB, a role with CREATEDB and CREATEROLE (a superuser also scores DDL from other clients)",
        );
    };
    let backend = match crate::instance::ExternalBackend::new(url, &ctx.dirs.state, ctx.yes) {
        Ok(b) => b,
        Err(e) => return Check::new("backend external", Status::Fail, e.to_string()),
    };
    match backend.check_access().await {
        Ok(superuser) => Check::new(
            "backend external",
            Status::Ok,
            format!(
                "{}: may create databases and roles{}",
                backend.server(),
                if superuser {
                    " (a superuser: DDL from other clients is scored)"
                } else {
                    "; not a superuser, so DDL from other clients is not scored"
                }
            ),
        ),
        Err(e) => Check::new("backend external", Status::Fail, e.to_string()),
    }
}

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

pub async fn run(ctx: &Context, json: bool, out: &mut impl Write) -> Result<ExitCode, Error> {
    let mut checks = Vec::new();

    let bins = match PgBinaries::locate(ctx.requested_bin.as_ref()) {
        Ok(bins) => {
            checks.push(Check::new(
                "binaries",
                Status::Ok,
                format!(
                    "{} in {} (found via {})",
                    bins.version,
                    bins.bindir.display(),
                    bins.origin
                ),
            ));
            Some(bins)
        }
        Err(e) => {
            checks.push(Check::new("binaries", Status::Fail, e.to_string()));
            None
        }
    };

    let run_as = match RunAs::resolve(ctx.run_as.as_deref()) {
        Ok(r) if r.switched => {
            checks.push(Check::new(
                "root",
                Status::Ok,
                format!(
                    "running as root: servers run as `{}` (uid {}), which owns their directories",
                    r.user, r.uid
                ),
            ));
            Some(r)
        }
        Ok(r) => {
            checks.push(Check::new(
                "user",
                Status::Ok,
                format!("servers run as you (`{}`)", r.user),
            ));
            Some(r)
        }
        Err(e) => {
            checks.push(Check::new("root", Status::Fail, e.to_string()));
            None
        }
    };

    let dirs = &ctx.dirs;
    let runtime_ok = match &run_as {
        Some(run_as) => match crate::instance::prepare_runtime_dir(dirs, run_as) {
            Ok(()) => {
                let (status, note) = match dirs.storage {
                    crate::instance::Storage::Tmpfs => {
                        (Status::Ok, "in memory: fast to copy and delete")
                    }
                    crate::instance::Storage::Disk => (
                        Status::Warn,
                        "on disk: starts are slower; free some space in /dev/shm or set PGDRILL_RUNTIME_DIR to a tmpfs",
                    ),
                };
                checks.push(Check::new(
                    "runtime dir",
                    status,
                    format!("{} ({}; {note})", dirs.runtime.display(), dirs.storage),
                ));
                true
            }
            Err(e) => {
                checks.push(Check::new("runtime dir", Status::Fail, e.to_string()));
                false
            }
        },
        None => false,
    };

    if let Some(bins) = &bins {
        match template::lookup(bins, &dirs.cache) {
            Some(t) => checks.push(Check::new(
                "template cache",
                Status::Ok,
                format!("{} template ready in {}", t.meta.version, t.data_dir.display()),
            )),
            None => checks.push(Check::new(
                "template cache",
                Status::Ok,
                format!(
                    "empty ({}): the first start runs initdb once (about a second), later starts copy the result",
                    dirs.cache.display()
                ),
            )),
        }
    }

    match Registry::open(&dirs.state) {
        Ok(registry) => {
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
            checks.push(Check::new("instances", status, detail));
        }
        Err(e) => checks.push(Check::new("instances", Status::Fail, e.to_string())),
    }

    let leftovers = crate::instance::leftovers(dirs);
    checks.push(if leftovers.is_empty() {
        Check::new("leftovers", Status::Ok, "none from interrupted runs")
    } else {
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
    });

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

//! `pgdrill instances list|gc`. Neither needs PostgreSQL binaries: they only
//! read the registry and act on recorded processes and directories.

use std::io::Write;
use std::process::ExitCode;

use tabled::settings::Style;

use super::{Context, say};
use crate::instance::registry::{Liveness, Registry};
use crate::{Error, Exit};

pub fn list(ctx: &Context, json: bool, out: &mut impl Write) -> Result<ExitCode, Error> {
    let registry = Registry::open(&ctx.dirs.state)?;
    let (listed, problems) = registry.list();
    if json {
        let value = serde_json::json!({
            "instances": listed,
            "problems": problems.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
        });
        say!(out, "{value:#}");
        return Ok(ExitCode::SUCCESS);
    }
    for problem in &problems {
        eprintln!("warning: {problem}");
    }
    if listed.is_empty() {
        say!(out, "no instances (registry: {})", registry.dir().display());
        return Ok(ExitCode::SUCCESS);
    }
    let now = crate::instance::now_unix();
    let mut builder = tabled::builder::Builder::new();
    builder.push_record([
        "ID",
        "STATE",
        "SERVER",
        "PORT",
        "OWNER PID",
        "AGE",
        "DATA DIR",
    ]);
    for l in &listed {
        builder.push_record([
            l.entry.id.clone(),
            match l.liveness {
                Liveness::Live => "live".into(),
                Liveness::Orphan => "orphan".into(),
            },
            if l.server_running {
                "running".into()
            } else {
                "stopped".into()
            },
            l.entry.port.to_string(),
            l.entry.owner_pid.to_string(),
            age(now.saturating_sub(l.entry.created_unix)),
            l.entry.data_dir.display().to_string(),
        ]);
    }
    say!(out, "{}", builder.build().with(Style::sharp()));
    let orphans = listed
        .iter()
        .filter(|l| l.liveness == Liveness::Orphan)
        .count();
    if orphans > 0 {
        say!(
            out,
            "{orphans} orphan(s): `pgdrill instances gc` stops and removes them"
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn gc(
    ctx: &Context,
    json: bool,
    url: Option<&str>,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let dirs = ctx.dirs.clone();
    let crate::instance::GcReport { reaped, swept } =
        tokio::task::spawn_blocking(move || crate::instance::gc(&dirs))
            .await
            .map_err(|e| Error::Internal(e.to_string()))??;
    // Containers of dead runs (Docker backend); none without an engine.
    let containers = crate::instance::reap_dead_containers()
        .await
        .unwrap_or_default();
    // Databases and roles dead runs left on an external server.
    let dropped = match url {
        Some(url) => crate::instance::gc_external(url, &ctx.dirs.state).await?,
        None => Vec::new(),
    };
    let failed = reaped.iter().any(|r| !r.problems.is_empty());
    if json {
        let value = serde_json::json!({
            "reaped": reaped,
            "removed_leftovers": swept,
            "removed_containers": containers,
            "dropped_databases": dropped,
        });
        say!(out, "{value:#}");
    } else {
        if reaped.is_empty() && swept.is_empty() && containers.is_empty() && dropped.is_empty() {
            say!(out, "no orphans");
        }
        for d in &dropped {
            say!(
                out,
                "dropped the database and role of {d} (its run is gone)"
            );
        }
        for c in &containers {
            say!(out, "removed the container of {c} (its run is gone)");
        }
        for r in &reaped {
            let server = if r.entry.postmaster_pid.is_some() || r.stopped_server {
                if r.stopped_server {
                    "server stopped, "
                } else {
                    "server already gone, "
                }
            } else {
                ""
            };
            if r.problems.is_empty() {
                say!(
                    out,
                    "reaped {}: {server}{} removed",
                    r.entry.id,
                    r.entry.instance_dir.display()
                );
            } else {
                say!(
                    out,
                    "could not reap {}: {}",
                    r.entry.id,
                    r.problems.join("; ")
                );
            }
        }
        for path in &swept {
            say!(out, "removed leftover {}", path.display());
        }
    }
    Ok(Exit::verdict(!failed))
}

fn age(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

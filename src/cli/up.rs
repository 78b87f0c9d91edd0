//! `pgdrill up`: a disposable PostgreSQL until Ctrl-C.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::{Context, Interrupt, progress::Spinner, say};
use crate::Error;
use crate::instance::{Backend, Instance};

pub async fn run(
    ctx: &Context,
    sql: Option<PathBuf>,
    json: bool,
    interrupt: &Interrupt,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let (backend, why) = ctx.backend().await?;
    if !json {
        eprintln!("{why}");
    }
    let spinner = Spinner::new();
    let provisioned = interrupt
        .guard(backend.provision(&|e| spinner.show(e)))
        .await;
    spinner.clear();
    let instance = provisioned??;

    if let Some(path) = &sql {
        let loaded = interrupt
            .guard(async {
                let mut conn = instance.connect_app().await?;
                super::sqlfile::load(&mut conn, path).await
            })
            .await;
        if let Err(e) = loaded.and_then(|r| r) {
            instance.shutdown().await;
            return Err(e);
        }
    }

    print_ready(&instance, sql.as_deref(), json, out);
    let _ = out.flush();

    let mut instance = instance;
    let outcome = tokio::select! {
        signal = interrupt.wait() => {
            tracing::debug!("{signal}: stopping");
            Ok(())
        }
        () = watch_server(&mut instance) => Err(Error::ServerDied { log_tail: instance.log_tail() }),
    };
    if !json {
        eprintln!("stopping {} and removing its files...", instance.info().id);
    }
    instance.shutdown().await;
    outcome.map(|()| ExitCode::SUCCESS)
}

/// Resolves when the server is no longer running.
async fn watch_server(instance: &mut Instance) {
    while instance.is_running() {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

fn print_ready(
    instance: &Instance,
    sql: Option<&std::path::Path>,
    json: bool,
    out: &mut impl Write,
) {
    let info = instance.info();
    if json {
        let value = serde_json::json!({
            "id": info.id,
            "backend": info.backend,
            "version": info.version,
            "url": instance.url(),
            "superuser_url": instance.superuser_url(),
            "host": info.host,
            "port": info.port,
            "database": info.database,
            "pid": info.pid,
            "data_dir": info.data_dir,
            "socket_dir": info.socket_dir,
            "storage": info.storage,
            "loaded_sql": sql,
        });
        say!(out, "{value}");
        return;
    }
    let storage = info
        .storage
        .map(|s| format!(", data on {s}"))
        .unwrap_or_default();
    say!(out, "{} is up: instance {}{storage}", info.version, info.id);
    if let Some(path) = sql {
        say!(out, "loaded {}", path.display());
    }
    say!(out);
    say!(out, "  connect:    psql '{}'", instance.url());
    say!(out, "  superuser:  psql '{}'", instance.superuser_url());
    say!(out);
    say!(out, "export DATABASE_URL='{}'", instance.url());
    say!(out);
    say!(
        out,
        "Press Ctrl-C to stop; the server and all its files are removed."
    );
}

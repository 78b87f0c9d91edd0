//! The external backend: drills on a PostgreSQL server pgdrill did not
//! start (a CloudNativePG cluster, a staging server, one server for a
//! class), reached with `--url`.
//!
//! pgdrill never touches what it did not create. Per drill it creates an
//! application role `pgdrill_<suffix>_app` and, per instance, a database
//! `pgdrill_<suffix>` owned by it; a restore "to a new instance" is a new
//! database on the same server, owned by the same role, so a dump restores
//! with its owners. Each is recorded (`<state>/external/ID.json`) before
//! it is created, so what a killed run created is dropped by the next
//! start or `pgdrill instances gc`; a run drops only its own records'
//! objects, and only on the server they name.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use sqlx::Executor;

use super::{Backend, Error, Instance, InstanceInfo, Progress, ProgressFn, Role, Server};

/// The prefix of every database and role pgdrill creates on a server.
pub const PREFIX: &str = "pgdrill_";

/// Drills on a server reached with an administrator's URL.
#[derive(Debug, Clone)]
pub struct ExternalBackend {
    admin: Admin,
    records: PathBuf,
    tools: Option<super::Tools>,
    /// The drill's application role, once its first instance made it,
    /// and how many of its instances are alive (the last drops the role).
    role: Arc<Mutex<(Option<Role>, usize)>>,
}

/// Where the server is and who administers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Admin {
    host: String,
    port: u16,
    user: String,
    /// The administrator's own database, to connect to.
    database: String,
    #[serde(skip)]
    password: Option<String>,
}

impl Admin {
    fn parse(url: &str) -> Result<Admin, Error> {
        let bad = |why: &str| Error::ExternalUrl {
            url: super::redact(url),
            why: why.to_string(),
        };
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err(bad("not a postgres:// URL"));
        }
        let options = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(url)
            .map_err(|e| bad(&e.to_string()))?;
        let (_, password) = super::split_password(url);
        let password = password.or_else(|| std::env::var("PGPASSWORD").ok());
        Ok(Admin {
            host: options.get_host().to_string(),
            port: options.get_port(),
            user: options.get_username().to_string(),
            database: options
                .get_database()
                .unwrap_or(options.get_username())
                .to_string(),
            password,
        })
    }

    fn url(&self, database: &str) -> String {
        let auth = match &self.password {
            Some(p) => format!("{}:{p}", self.user),
            None => self.user.clone(),
        };
        format!("postgres://{auth}@{}:{}/{database}", self.host, self.port)
    }

    /// Whether the server is on this machine.
    fn is_loopback(&self) -> bool {
        matches!(self.host.as_str(), "localhost" | "::1")
            || self.host.starts_with("127.")
            || self.host.starts_with('/')
    }
}

/// What one instance created, written before it creates it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    id: String,
    server: Admin,
    database: String,
    /// The drill's role, which owns the database; dropped with the
    /// drill's last database.
    role: String,
    owner_pid: u32,
    owner_started: u64,
}

impl ExternalBackend {
    /// A backend on the server `url` names, administered by its user.
    /// A server off this machine needs `confirmed` (`--yes`): drills
    /// create and drop databases and roles there.
    pub fn new(url: &str, state: &Path, confirmed: bool) -> Result<ExternalBackend, Error> {
        let admin = Admin::parse(url)?;
        if !admin.is_loopback() && !confirmed {
            return Err(Error::ExternalNotConfirmed {
                host: admin.host.clone(),
            });
        }
        let records = state.join("external");
        super::paths::ensure_private_dir(&records, 0o700)?;
        Ok(ExternalBackend {
            admin,
            records,
            tools: host_tools(),
            role: Arc::new(Mutex::new((None, 0))),
        })
    }

    /// The server, for messages (`host:port as user`).
    pub fn server(&self) -> String {
        format!(
            "{}:{} as {}",
            self.admin.host, self.admin.port, self.admin.user
        )
    }

    /// Connects and checks that the administrator may run drills; whether
    /// it is a superuser.
    pub async fn check_access(&self) -> Result<bool, Error> {
        let mut conn = super::connect(&self.admin.url(&self.admin.database)).await?;
        self.check(&mut conn).await?;
        let superuser: bool = sqlx::query_scalar("SELECT current_setting('is_superuser') = 'on'")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| self.failed(e))?;
        Ok(superuser)
    }

    /// Checks that the administrator may create databases and roles.
    async fn check(&self, conn: &mut sqlx::PgConnection) -> Result<(), Error> {
        let (superuser, createdb, createrole): (bool, bool, bool) = sqlx::query_as(
            "SELECT rolsuper, rolcreatedb, rolcreaterole FROM pg_roles WHERE rolname = current_user",
        )
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| self.failed(e))?;
        let mut missing = Vec::new();
        if !superuser && !createdb {
            missing.push("CREATEDB");
        }
        if !superuser && !createrole {
            missing.push("CREATEROLE");
        }
        if missing.is_empty() {
            Ok(())
        } else {
            Err(Error::ExternalPrivileges {
                user: self.admin.user.clone(),
                missing: missing.join(" and "),
            })
        }
    }

    fn failed(&self, e: impl std::fmt::Display) -> Error {
        Error::Connect {
            url: super::redact(&self.admin.url(&self.admin.database)),
            detail: e.to_string(),
        }
    }

    fn save(&self, record: &Record) -> Result<PathBuf, Error> {
        let path = self.records.join(format!("{}.json", record.id));
        let json = serde_json::to_vec_pretty(record).expect("a record serialises");
        std::fs::write(&path, json).map_err(Error::io("write", &path))?;
        Ok(path)
    }
}

/// `pg_dump` and `pg_restore` of this machine, if it has them.
fn host_tools() -> Option<super::Tools> {
    let bins = super::PgBinaries::locate(None).ok()?;
    bins.bindir
        .join("pg_restore")
        .is_file()
        .then(|| super::Tools::Host {
            bin_dir: bins.bindir.clone(),
        })
}

impl Backend for ExternalBackend {
    fn name(&self) -> &'static str {
        "external"
    }

    async fn provision(&self, progress: &ProgressFn<'_>) -> Result<Instance, Error> {
        progress(Progress::Starting);
        let mut conn = super::connect(&self.admin.url(&self.admin.database)).await?;
        self.check(&mut conn).await?;
        let _ = drop_dead(&self.records, &self.admin).await;
        let suffix = super::random_token(8).to_lowercase();
        let id = format!("pgd-{suffix}");
        let database = format!("{PREFIX}{suffix}");
        let existing = self
            .role
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone();
        let (role, creates_role) = match existing {
            Some(r) => (r, false),
            None => (
                Role {
                    user: format!("{PREFIX}{suffix}_app"),
                    password: super::random_token(24),
                },
                true,
            ),
        };
        let record = Record {
            id: id.clone(),
            server: self.admin.clone(),
            database: database.clone(),
            role: role.user.clone(),
            owner_pid: std::process::id(),
            owner_started: super::process::start_time(std::process::id()).unwrap_or(0),
        };
        let path = self.save(&record)?;
        let mut statements = Vec::new();
        if creates_role {
            statements.push(format!(
                "CREATE ROLE {} LOGIN PASSWORD '{}'",
                role.user, role.password
            ));
            // A non-superuser administrator restores objects owned by it.
            statements.push(format!("GRANT {} TO CURRENT_USER", role.user));
        }
        statements.push(format!("CREATE DATABASE {database} OWNER {}", role.user));
        // Other drills' roles on the same server cannot connect to it.
        statements.push(format!("REVOKE CONNECT ON DATABASE {database} FROM PUBLIC"));
        statements.push(format!(
            "GRANT CONNECT ON DATABASE {database} TO {}, CURRENT_USER",
            role.user
        ));
        for sql in statements {
            if let Err(e) = conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql))).await {
                let _ = drop_record(&record, &self.admin, creates_role).await;
                let _ = std::fs::remove_file(&path);
                return Err(self.failed(format!("setting up the drill's database: {e}")));
            }
        }
        {
            let mut held = self.role.lock().unwrap_or_else(|e| e.into_inner());
            held.0 = Some(role.clone());
            held.1 += 1;
        }
        let version: (String,) = sqlx::query_as("SELECT current_setting('server_version')")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| self.failed(e))?;
        progress(Progress::Ready);
        let info = InstanceInfo {
            id,
            backend: "external",
            version: format!("PostgreSQL {}", version.0),
            host: self.admin.host.clone(),
            port: self.admin.port,
            database: database.clone(),
            superuser: Role {
                user: self.admin.user.clone(),
                password: self.admin.password.clone().unwrap_or_default(),
            },
            app: role,
            data_dir: None,
            socket_dir: None,
            storage: None,
            pid: None,
            bin_dir: None,
            snapshot_dir: Some(self.records.join(format!("{}-snapshots", record.id))),
            tools: self.tools.clone(),
            wal_archive: None,
        };
        let server = ExternalServer {
            record,
            path,
            role_holder: self.role.clone(),
        };
        Ok(Instance::new(info, Box::new(server)))
    }
}

/// One drill database on someone else's server.
#[derive(Debug)]
struct ExternalServer {
    record: Record,
    path: PathBuf,
    /// The drill's role and its live instances.
    role_holder: Arc<Mutex<(Option<Role>, usize)>>,
}

impl ExternalServer {
    /// One fewer live instance; whether it was the drill's last.
    fn last(&self) -> bool {
        let mut held = self.role_holder.lock().unwrap_or_else(|e| e.into_inner());
        held.1 = held.1.saturating_sub(1);
        if held.1 == 0 {
            held.0 = None;
        }
        held.1 == 0
    }

    async fn remove(&mut self) {
        let last = self.last();
        if drop_record(&self.record, &self.record.server, last)
            .await
            .is_ok()
        {
            let _ = std::fs::remove_file(&self.path);
            let _ = std::fs::remove_dir_all(snapshots_of(&self.path));
        }
    }
}

fn snapshots_of(record_path: &Path) -> PathBuf {
    let stem = record_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    record_path.with_file_name(format!("{stem}-snapshots"))
}

impl Server for ExternalServer {
    fn stop(&mut self) -> Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(self.remove())
    }

    fn abandon(&mut self) {
        let last = self.last();
        let record = self.record.clone();
        let path = self.path.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            runtime
                .block_on(drop_record(&record, &record.server, last))
                .ok()
        });
        if matches!(dropped.join(), Ok(Some(()))) {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_dir_all(snapshots_of(&path));
        }
    }

    fn exit(&mut self) -> Option<String> {
        // Not ours to watch: the server outlives every drill.
        None
    }

    fn log_tail(&self) -> String {
        String::new()
    }
}

/// Drops what a record names: its database (its sessions ended first),
/// then, with `role`, the drill's role. Only `pgdrill_` names are dropped.
async fn drop_record(record: &Record, admin: &Admin, role: bool) -> Result<(), String> {
    if !record.database.starts_with(PREFIX) || !record.role.starts_with(PREFIX) {
        return Err(format!("{}: not a pgdrill name, left alone", record.id));
    }
    let mut conn = super::connect(&admin.url(&admin.database))
        .await
        .map_err(|e| e.to_string())?;
    let database = &record.database;
    let mut statements = vec![format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)")];
    if role {
        statements.push(format!("DROP ROLE IF EXISTS {}", record.role));
    }
    for sql in statements {
        conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Drops what dead runs recorded on this server; returns their ids.
/// Records of other servers are left for a run on those.
async fn drop_dead(records: &Path, admin: &Admin) -> Vec<String> {
    let mut dropped = Vec::new();
    let Ok(entries) = std::fs::read_dir(records) else {
        return dropped;
    };
    let dead: Vec<(PathBuf, Record)> = entries
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| {
            let record: Record = serde_json::from_slice(&std::fs::read(&p).ok()?).ok()?;
            Some((p, record))
        })
        .filter(|(_, r)| {
            r.server.host == admin.host
                && r.server.port == admin.port
                && super::process::start_time(r.owner_pid) != Some(r.owner_started)
        })
        .collect();
    // Every database before the roles that own them.
    let mut roles = std::collections::BTreeMap::new();
    for (path, record) in dead {
        if drop_record(&record, admin, false).await.is_ok() {
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_dir_all(snapshots_of(&path));
            roles.insert(record.role.clone(), record.clone());
            dropped.push(record.id);
        }
    }
    for record in roles.values() {
        let _ = drop_record(record, admin, true).await;
    }
    dropped
}

/// What dead runs left on the server `url` names: dropped now.
pub async fn gc_external(url: &str, state: &Path) -> Result<Vec<String>, Error> {
    let admin = Admin::parse(url)?;
    Ok(drop_dead(&state.join("external"), &admin).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_names_the_server_and_its_administrator() {
        let a = Admin::parse("postgres://dana:s3cret@db.example:6432/app").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.user.as_str()),
            ("db.example", 6432, "dana")
        );
        assert_eq!(a.database, "app");
        assert!(!a.is_loopback());
        assert_eq!(
            a.url("pgdrill_x"),
            "postgres://dana:s3cret@db.example:6432/pgdrill_x"
        );
        let local = Admin::parse("postgres://postgres@127.0.0.1/postgres").unwrap();
        assert!(local.is_loopback());
        assert!(Admin::parse("mysql://x").is_err());
    }
}

//! What the engine reads from the database on its own, apart from moves:
//! integrity checks, the DDL audit (changes made from any client, psql
//! included) and, at the end, the RPO: acknowledged writes missing from
//! the database the app uses.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::{AssertSqlSafe, Row};

use super::{Db, Drill, Ledger, Target};
use crate::migrate::quote_ident;
use crate::scenario::Scenario;
use crate::transcript::{EventKind, Level, Rpo};

/// How long one check may take before it counts as failing.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);
/// Name of the probe's sessions.
const PROBE: &str = "pgdrill-probe";

/// DDL typed in another client.
#[derive(Debug, Clone)]
pub(super) struct Audited {
    pub id: i64,
    /// The server process that ran it.
    pub pid: Option<i32>,
    pub app: String,
    pub tag: String,
    pub query: String,
}

/// One probe's findings.
#[derive(Debug, Default)]
pub(super) struct Probed {
    /// Each check: rows wrong, or the error its query met.
    pub checks: Vec<(String, Result<i64, String>)>,
    /// New audit rows.
    pub audit: Vec<Audited>,
}

/// Runs the checks and, when `cursor` is given, reads audit rows after it.
pub(super) async fn probe(scenario: Arc<Scenario>, target: Target, cursor: Option<i64>) -> Probed {
    let mut out = Probed::default();
    let Ok(mut conn) =
        crate::instance::connect_as(&target.superuser_url, PROBE, Some(CHECK_TIMEOUT)).await
    else {
        return out;
    };
    for check in &scenario.checks {
        let result = match sqlx::raw_sql(AssertSqlSafe(check.sql.clone()))
            .fetch_all(&mut conn)
            .await
        {
            Ok(rows) => rows
                .first()
                .and_then(|r| r.try_get_unchecked::<Option<String>, _>(0).ok().flatten())
                .and_then(|v| v.trim().parse::<i64>().ok())
                .ok_or_else(|| "the check's query did not return a number".to_string()),
            Err(e) => Err(crate::sqlstate::message(&e)),
        };
        out.checks.push((check.name.clone(), result));
    }
    if let Some(cursor) = cursor {
        let rows = sqlx::query(
            "SELECT id, app, tag, query, pid FROM pgdrill_audit.ddl WHERE id > $1 AND NOT own ORDER BY id",
        )
        .bind(cursor)
        .fetch_all(&mut conn)
        .await
        .unwrap_or_default();
        out.audit = rows
            .iter()
            .map(|r| Audited {
                id: r.get(0),
                app: r.get::<Option<String>, _>(1).unwrap_or_default(),
                tag: r.get::<Option<String>, _>(2).unwrap_or_default(),
                query: r.get::<Option<String>, _>(3).unwrap_or_default(),
                pid: r.get::<Option<i32>, _>(4),
            })
            .collect();
    }
    out
}

/// The highest audit row id in a database (0 when there is none).
pub(super) async fn audit_cursor(superuser_url: &str) -> i64 {
    let Ok(mut conn) = crate::instance::connect_as(superuser_url, PROBE, None).await else {
        return 0;
    };
    sqlx::query_scalar::<_, Option<i64>>("SELECT max(id) FROM pgdrill_audit.ddl")
        .fetch_one(&mut conn)
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
}

/// Acknowledged writes missing from the database at `superuser_url`.
pub(super) async fn rpo(superuser_url: &str, ledger: &Ledger) -> Rpo {
    let mut by_table: BTreeMap<&(String, String), Vec<(i64, u64)>> = BTreeMap::new();
    for w in ledger.acks() {
        by_table
            .entry(&**w.table)
            .or_default()
            .push((w.key, w.t_ms));
    }
    let mut rpo = Rpo {
        writes: by_table.values().map(|v| v.len() as u64).sum(),
        ..Rpo::default()
    };
    let mut conn = match crate::instance::connect_as(superuser_url, PROBE, None).await {
        Ok(c) => c,
        Err(e) => {
            rpo.error = Some(e.to_string());
            return rpo;
        }
    };
    for ((table, key), writes) in by_table {
        let keys: Vec<i64> = writes.iter().map(|w| w.0).collect();
        let sql = format!(
            "SELECT k FROM unnest($1::bigint[]) AS k WHERE NOT EXISTS (SELECT 1 FROM {} t WHERE t.{} = k)",
            quote_ident(table),
            quote_ident(key)
        );
        match sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .bind(&keys)
            .fetch_all(&mut conn)
            .await
        {
            Ok(missing) => {
                let missing: std::collections::HashSet<i64> = missing.into_iter().collect();
                // A key acknowledged twice means the first row vanished and
                // its key was handed out again (a restore rewound the
                // sequence): every acknowledgment but the last is lost.
                let mut last: BTreeMap<i64, usize> = BTreeMap::new();
                for (i, (k, _)) in writes.iter().enumerate() {
                    last.insert(*k, i);
                }
                let lost: Vec<(i64, u64)> = writes
                    .iter()
                    .enumerate()
                    .filter(|(i, (k, _))| last[k] != *i || missing.contains(k))
                    .map(|(_, w)| *w)
                    .collect();
                for (k, t) in &lost {
                    rpo.missing += 1;
                    rpo.first_missing_ms = Some(rpo.first_missing_ms.map_or(*t, |f| f.min(*t)));
                    rpo.last_missing_ms = Some(rpo.last_missing_ms.map_or(*t, |l| l.max(*t)));
                    if rpo.sample.len() < 10 {
                        rpo.sample.push(format!("{table}.{key}={k}"));
                    }
                }
            }
            Err(e) => {
                rpo.error = Some(match e {
                    sqlx::Error::Database(db) => format!("{table}: {}", db.message()),
                    other => other.to_string(),
                });
            }
        }
    }
    rpo
}

impl Drill {
    /// Records what a probe found: check results that changed, and DDL from
    /// other clients as moves.
    pub(super) fn on_probe(&mut self, db: usize, probed: Probed) {
        if db != self.serving {
            return;
        }
        let mut changed = false;
        for (name, result) in probed.checks {
            let ok = matches!(result, Ok(0));
            let key = (ok, result.is_err());
            if self.health.checks.get(&name) == Some(&key) {
                continue;
            }
            let first = !self.health.checks.contains_key(&name);
            self.health.checks.insert(name.clone(), key);
            let (bad, error) = match result {
                Ok(n) => (Some(n), None),
                Err(e) => (None, Some(e)),
            };
            if !(first && ok) {
                let why = self
                    .scenario
                    .checks
                    .iter()
                    .find(|c| c.name == name)
                    .map(|c| c.why.clone())
                    .unwrap_or_default();
                let (level, message) = if ok {
                    (Level::Info, format!("integrity check {name} passes again"))
                } else {
                    let what = error
                        .clone()
                        .unwrap_or_else(|| format!("{} bad row(s)", bad.unwrap_or_default()));
                    (
                        Level::Alert,
                        format!("integrity check {name} FAILS: {what}. {why}"),
                    )
                };
                self.observe(level, message);
            }
            self.push(EventKind::Check {
                name,
                ok,
                bad,
                error,
            });
            changed = true;
        }
        if changed {
            let timing = self.timing();
            self.follow_recovery(&timing);
        }
        let mut last_query = String::new();
        for row in probed.audit {
            self.dbs[db].audit_cursor = self.dbs[db].audit_cursor.max(row.id);
            // One statement with several commands is one move; one typed
            // through pgdrill's endpoints is recorded from there.
            if row.query == last_query || self.proxied(db, row.pid) {
                continue;
            }
            last_query = row.query.clone();
            self.direct_move(&row);
        }
    }
}

/// A database just added to the drill: where its audit stands and which
/// migrations its tracking table lists.
pub(super) async fn fresh_db(scenario: &Scenario, target: Target) -> Db {
    let audit_cursor = audit_cursor(&target.superuser_url).await;
    let tracking = scenario.migrations.tracking();
    let applied = match crate::instance::connect_as(&target.app_url, PROBE, None).await {
        Ok(mut conn) => crate::migrate::Runner::new(&tracking, &scenario.migrations.list)
            .applied(&mut conn)
            .await
            .unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    Db {
        target,
        audit_cursor,
        applied,
    }
}

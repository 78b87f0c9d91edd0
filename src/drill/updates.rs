//! Acknowledged UPDATEs: the value each key was last told it holds
//! (runbook 003: "missing or corrupted values"), for the RPO, `replay` and
//! `backfill`.
//!
//! An endpoint `UPDATE t SET col = ... WHERE key = ... RETURNING key, col`
//! acknowledges a value. Only the last one per key matters (a later update
//! overwrites the earlier), so memory grows with the keys touched, never
//! with the writes. Two pods updating one key at once may commit in the
//! other order than they were acknowledged: the value acknowledged just
//! before (within [`RACE_MS`]) counts as kept too.
//!
//! `replay` and `backfill` write while the app runs: they lock the rows
//! they write, then read the acknowledgments again (the map is shared), so
//! a value the app acknowledged after the move began is never overwritten
//! with an older one.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::AssertSqlSafe;

use super::data::connect;
use crate::migrate::quote_ident;
use crate::scenario::Scenario;
use crate::sqlstate::message;
use crate::transcript::Rpo;

/// Table, key column and value column an update endpoint writes.
pub type UpdateTarget = Arc<(String, String, String)>;

/// How close two acknowledgments of one key are to count as racing.
const RACE_MS: u64 = 1_000;

/// The last acknowledged value of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Last {
    t_ms: u64,
    db: usize,
    value: String,
    /// The value acknowledged just before, when it raced this one.
    racing: Option<String>,
}

/// Each key's last acknowledgment, shared with the moves that write.
pub(super) type LastAcks = Arc<Mutex<BTreeMap<(UpdateTarget, i64), Last>>>;

/// The update endpoints and what they acknowledged.
#[derive(Default)]
pub(super) struct Updates {
    targets: BTreeMap<(Arc<str>, Arc<str>), UpdateTarget>,
    last: LastAcks,
}

/// What a write-back writes for a key, decided under the rows' locks.
pub(super) enum Source {
    /// The last acknowledged value (`backfill`).
    Ledger,
    /// The value the old instance holds, for keys whose last
    /// acknowledgment was there (`replay`).
    Instance {
        /// The old instance's superuser URL.
        url: String,
        /// Its index in the drill.
        db: usize,
    },
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Updates {
    /// The scenario's update endpoints, by version and endpoint.
    pub(super) fn of(scenario: &Scenario) -> Updates {
        let targets = scenario
            .writers()
            .filter_map(|(name, e)| {
                let key = (Arc::from(name), Arc::from(e.name.as_str()));
                Some((key, Arc::new(e.update_target()?)))
            })
            .collect();
        Updates {
            targets,
            last: LastAcks::default(),
        }
    }

    /// Whether the scenario has update endpoints.
    pub(super) fn tracked(&self) -> bool {
        !self.targets.is_empty()
    }

    /// Takes in an acknowledged write of `version`'s `endpoint`, if it is
    /// an update.
    pub(super) fn push(
        &mut self,
        t_ms: u64,
        db: usize,
        at: &(Arc<str>, Arc<str>),
        key: i64,
        value: &str,
    ) {
        let Some(target) = self.targets.get(at) else {
            return;
        };
        let mut last = lock(&self.last);
        let racing = last
            .get(&(target.clone(), key))
            .filter(|l| t_ms.saturating_sub(l.t_ms) < RACE_MS)
            .map(|l| l.value.clone());
        last.insert(
            (target.clone(), key),
            Last {
                t_ms,
                db,
                value: value.to_string(),
                racing,
            },
        );
    }

    /// The keys, per target, whose last acknowledged update was made on
    /// `db` from `since_ms` on (on any instance: `None`).
    pub(super) fn since(
        &self,
        db: Option<usize>,
        since_ms: u64,
    ) -> BTreeMap<UpdateTarget, Vec<i64>> {
        let mut out: BTreeMap<UpdateTarget, Vec<i64>> = BTreeMap::new();
        for ((target, key), last) in lock(&self.last).iter() {
            if last.t_ms >= since_ms && db.is_none_or(|d| d == last.db) {
                out.entry(target.clone()).or_default().push(*key);
            }
        }
        out
    }

    /// A handle on the acknowledgments for a move that writes them back.
    pub(super) fn shared(&self) -> LastAcks {
        self.last.clone()
    }

    /// Adds to `rpo` the acknowledged values missing or different on the
    /// database at `url`.
    pub(super) async fn check(&self, url: &str, rpo: &mut Rpo) {
        let acks = lock(&self.last).clone();
        if acks.is_empty() {
            return;
        }
        let mut conn = match connect(url).await {
            Ok(c) => c,
            Err(e) => {
                rpo.error = Some(e);
                return;
            }
        };
        let mut by_target: BTreeMap<&UpdateTarget, Vec<(i64, &Last)>> = BTreeMap::new();
        for ((target, key), last) in &acks {
            by_target.entry(target).or_default().push((*key, last));
        }
        for (target, acked) in by_target {
            let (table, key, column) = &**target;
            rpo.writes += acked.len() as u64;
            let keys: Vec<i64> = acked.iter().map(|(k, _)| *k).collect();
            let sql = format!(
                "SELECT u.k, t.{c}::text FROM unnest($1::bigint[]) AS u(k) LEFT JOIN {t} t ON t.{k} = u.k",
                c = quote_ident(column),
                t = quote_ident(table),
                k = quote_ident(key),
            );
            let found: Vec<(i64, Option<String>)> = match sqlx::query_as(AssertSqlSafe(sql))
                .bind(&keys)
                .fetch_all(&mut conn)
                .await
            {
                Ok(rows) => rows,
                Err(e) => {
                    rpo.error = Some(format!("{table}: {}", message(&e)));
                    continue;
                }
            };
            let now: BTreeMap<i64, Option<String>> = found.into_iter().collect();
            for (k, last) in acked {
                let holds = now.get(&k).cloned().flatten();
                let kept = holds.as_deref() == Some(last.value.as_str())
                    || (holds.is_some() && holds.as_deref() == last.racing.as_deref());
                if kept {
                    continue;
                }
                rpo.missing += 1;
                rpo.values_lost += 1;
                let t = last.t_ms;
                rpo.first_missing_ms = Some(rpo.first_missing_ms.map_or(t, |f| f.min(t)));
                rpo.last_missing_ms = Some(rpo.last_missing_ms.map_or(t, |l| l.max(t)));
                if rpo.sample.len() < 10 {
                    let now = holds.map_or("no row".to_string(), |v| format!("holds {v:?}"));
                    rpo.sample.push(format!(
                        "{table}.{column} at {key}={k}: acknowledged {:?}, {now}",
                        last.value
                    ));
                }
            }
        }
    }
}

/// Writes acknowledged updates back into `target`'s rows (as the app
/// role), in one transaction: it locks the rows, then decides each key's
/// value from `source` with the acknowledgments as they are then. Returns
/// the rows changed.
pub(super) async fn write_back(
    target: &str,
    keys: &BTreeMap<UpdateTarget, Vec<i64>>,
    source: Source,
    acks: LastAcks,
) -> Result<u64, String> {
    let held = match &source {
        Source::Ledger => None,
        Source::Instance { url, .. } => Some(read_values(url, keys).await?),
    };
    let mut to = connect(target).await?;
    let mut tx = sqlx::Connection::begin(&mut to)
        .await
        .map_err(|e| message(&e))?;
    let mut changed = 0;
    for (t, ids) in keys {
        let (table, key, column) = &**t;
        let (tq, cq, kq) = (quote_ident(table), quote_ident(column), quote_ident(key));
        let lock_rows = format!("SELECT 1 FROM {tq} WHERE {kq} = ANY($1) FOR UPDATE");
        sqlx::query(AssertSqlSafe(lock_rows))
            .bind(ids)
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("locking {table}: {}", message(&e)))?;
        let rows: Vec<serde_json::Value> = {
            let acks = lock(&acks);
            ids.iter()
                .filter_map(|k| {
                    let last = acks.get(&(t.clone(), *k))?;
                    let value = match (&source, &held) {
                        (Source::Ledger, _) => last.value.clone(),
                        (Source::Instance { db, .. }, Some(held)) if last.db == *db => {
                            held.get(t)?.get(k)?.clone()
                        }
                        _ => return None,
                    };
                    Some(serde_json::json!({ key: k, column: value }))
                })
                .collect()
        };
        // The record type casts each text value to the column's type.
        let write = format!(
            "UPDATE {tq} AS t SET {cq} = s.{cq} FROM json_populate_recordset(NULL::{tq}, $1::json) AS s WHERE t.{kq} = s.{kq} AND t.{cq} IS DISTINCT FROM s.{cq}"
        );
        let result = sqlx::query(AssertSqlSafe(write))
            .bind(serde_json::Value::Array(rows).to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| format!("writing {table}.{column}: {}", message(&e)))?;
        changed += result.rows_affected();
    }
    tx.commit().await.map_err(|e| message(&e))?;
    Ok(changed)
}

/// The values `source` holds now for these keys.
async fn read_values(
    source: &str,
    keys: &BTreeMap<UpdateTarget, Vec<i64>>,
) -> Result<BTreeMap<UpdateTarget, BTreeMap<i64, String>>, String> {
    let mut from = connect(source).await?;
    let mut out = BTreeMap::new();
    for (t, ids) in keys {
        let (table, key, column) = &**t;
        let sql = format!(
            "SELECT {k}::bigint, {c}::text FROM {t} WHERE {k} = ANY($1) AND {c} IS NOT NULL",
            t = quote_ident(table),
            c = quote_ident(column),
            k = quote_ident(key),
        );
        let found: Vec<(i64, String)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(ids)
            .fetch_all(&mut from)
            .await
            .map_err(|e| format!("reading {table} on the source: {}", message(&e)))?;
        out.insert(t.clone(), found.into_iter().collect());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn updates() -> (Updates, (Arc<str>, Arc<str>)) {
        let at: (Arc<str>, Arc<str>) = ("v1".into(), "POST /status".into());
        let mut u = Updates::default();
        u.targets.insert(
            at.clone(),
            Arc::new(("jobs".into(), "id".into(), "status".into())),
        );
        (u, at)
    }

    #[test]
    fn the_last_value_per_key_is_kept_and_a_racing_one_is_remembered() {
        let (mut u, at) = updates();
        for (t, key, value) in [
            (0, 1, "queued"),
            (5_000, 1, "done"),
            (5_200, 1, "failed"),
            (10, 2, "x"),
        ] {
            u.push(t, 0, &at, key, value);
        }
        // One entry per key, however many writes.
        assert_eq!(lock(&u.last).len(), 2);
        let one = lock(&u.last).values().next().unwrap().clone();
        assert_eq!(
            (one.value.as_str(), one.racing.as_deref()),
            ("failed", Some("done"))
        );
        let since = u.since(Some(0), 1_000);
        assert_eq!(since.values().next().unwrap(), &vec![1]);
        assert!(u.since(Some(1), 0).is_empty());
        // Writes of other endpoints are not updates.
        u.push(20_000, 0, &("v1".into(), "GET /".into()), 3, "y");
        assert_eq!(lock(&u.last).len(), 2);
    }
}

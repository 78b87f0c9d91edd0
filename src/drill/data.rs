//! Moves on the data itself: snapshots, restores (to a new instance or in
//! place), cutover, replay of lost writes from the ledger, and repair of
//! columns from another instance. Restores and copies run as tasks; the
//! engine applies their effect when they finish.

use sqlx::{AssertSqlSafe, PgConnection};
use std::collections::BTreeMap;

use super::apply::{Done, Effect, rows};
use super::{Drill, MOVES, Pending, Snap};
use crate::action::{Look, Part, Recover, Snapshot};
use crate::instance::snapshot;
use crate::migrate::quote_ident;
use crate::score::clock;
use crate::sqlstate::message;
use crate::transcript::Tag;

/// A replay waiting for the old instance's requests in flight.
pub(super) struct Deferred {
    pending: Pending,
    canonical: String,
    since: String,
    /// Writes acknowledged from this scenario time on are replayed...
    t_ms: u64,
    /// ...those made on this instance (the snapshot's).
    db: usize,
    /// No request was in flight there at the last tick.
    quiet: bool,
}

impl Deferred {
    /// Answers it as stopped (cancelled, or the drill ended).
    pub(super) fn stopped(self, outcome: crate::transcript::Outcome) -> (Pending, Done) {
        let done = Done {
            outcome,
            ..Done::fail(self.canonical, outcome.describe())
        };
        (self.pending, done)
    }
}

impl Drill {
    pub(super) fn snapshot_create(
        &mut self,
        pending: Pending,
        name: Option<String>,
        logical: bool,
    ) {
        let name = name.unwrap_or_else(|| format!("snap-{}", self.snapshots.len() + 1));
        let canonical = Snapshot::Create {
            name: Some(name.clone()),
            logical,
        }
        .to_string();
        if self.snapshots.iter().any(|s| s.snapshot.name == name) {
            let done = Done::refuse(
                canonical,
                format!("a snapshot named `{name}` exists; pick another name"),
            );
            return self.complete(pending, done);
        }
        let (info, url, db) = (
            self.db().info.clone(),
            self.db().superuser_url.clone(),
            self.serving,
        );
        let instance = self.db().name.clone();
        let t_ms = pending.t_ms;
        self.spawn_move(pending, Done::fail(canonical.clone(), ""), async move {
            match snapshot::create(&info, &url, &name, logical).await {
                Ok(s) => Done {
                    effect: Effect::Snapshot(Snap {
                        t_ms,
                        db,
                        snapshot: s.clone(),
                        by_timeline: false,
                    }),
                    ..Done::ok(
                        canonical,
                        format!(
                            "{} snapshot {name} of {instance} taken: {} KiB in {} ms",
                            s.kind.word(),
                            s.bytes / 1024,
                            s.took.as_millis()
                        ),
                    )
                },
                Err(e) => Done::fail(canonical, e.to_string()),
            }
        });
    }

    pub(super) fn snapshot_list(&self) -> Done {
        let table = self
            .snapshots
            .iter()
            .map(|s| {
                vec![
                    s.snapshot.name.clone(),
                    self.dbs[s.db].target.name.clone(),
                    clock(s.t_ms),
                    format!("{} KiB", s.snapshot.bytes / 1024),
                    s.snapshot.kind.word().to_string(),
                    if s.by_timeline { "pipeline" } else { "you" }.to_string(),
                ]
            })
            .collect();
        Done::ok(
            Snapshot::List.to_string(),
            format!(
                "{} snapshot(s){}",
                self.snapshots.len(),
                self.pitr.summary()
            ),
        )
        .view(rows(
            &["snapshot", "of", "taken at", "size", "kind", "by"],
            table,
        ))
    }

    pub(super) fn instances(&self) -> Done {
        let table: Vec<Vec<String>> = self
            .dbs
            .iter()
            .enumerate()
            .map(|(i, d)| {
                vec![
                    d.target.name.clone(),
                    format!("{}:{}", d.target.info.host, d.target.info.port),
                    if i == self.serving {
                        "the app uses it"
                    } else {
                        ""
                    }
                    .to_string(),
                    self.psql_url(i),
                ]
            })
            .collect();
        // The service address first: the one to use. URLs are shown, never
        // recorded (they carry the password).
        let service = self.service_url().map(|url| {
            vec![
                "service".to_string(),
                url.split('@')
                    .nth(1)
                    .unwrap_or_default()
                    .split('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                format!("follows the cutover (now {})", self.db().name),
                url,
            ]
        });
        let table = service.into_iter().chain(table).collect();
        Done::ok(
            Look::Instances.to_string(),
            format!("{} instance(s)", self.dbs.len()),
        )
        .view(rows(&["instance", "address", "", "psql"], table))
    }

    /// Restore, cutover, replay or repair; recorded as the learner gave it.
    pub(super) fn recover(&mut self, pending: Pending, recover: Recover) {
        let canonical = recover.to_string();
        match recover {
            Recover::Restore {
                snapshot,
                in_place,
                point,
                name,
            } => match (snapshot, point) {
                (snapshot, Some(point)) => {
                    self.restore_to_point(pending, canonical, snapshot, point, name)
                }
                (Some(snapshot), None) => {
                    self.restore(pending, canonical, snapshot, in_place, name)
                }
                (None, None) => {
                    let done = Done::refuse(canonical, "say which snapshot to restore");
                    self.complete(pending, done)
                }
            },
            Recover::Cutover { instance, part } => {
                let done = self.cutover(canonical, &instance, part);
                self.complete(pending, done);
            }
            Recover::Replay { since } => self.replay(pending, canonical, since),
            Recover::Backfill { since } => self.backfill(pending, canonical, since),
            Recover::Repair {
                table,
                columns,
                from,
            } => self.repair(pending, canonical, table, columns, from),
        }
    }

    fn cutover(&mut self, canonical: String, instance: &str, part: Option<Part>) -> Done {
        let Some(db) = self.db_named(instance) else {
            let known: Vec<&str> = self.dbs.iter().map(|d| d.target.name.as_str()).collect();
            return Done::refuse(
                canonical,
                format!("no instance `{instance}` (instances: {})", known.join(", ")),
            );
        };
        if db == self.serving {
            return Done::refuse(canonical, format!("the app already uses {instance}"));
        }
        let url = self.dbs[db].target.app_url.clone();
        if let (Some(part), Some(fleet)) = (part, &self.fleet) {
            let on = fleet.pod_dbs();
            let staying: Vec<usize> = (0..on.len()).filter(|p| on[*p] != db).collect();
            let moving: Vec<usize> = staying.iter().copied().take(part.of(on.len())).collect();
            // A part that leaves no pod behind is the whole cutover.
            if moving.len() < staying.len() {
                return match fleet.repoint_pods(&url, db, &moving) {
                    Ok(()) => {
                        let now = on.iter().filter(|d| **d == db).count() + moving.len();
                        let names: Vec<String> =
                            moving.iter().map(|p| format!("pod-{}", p + 1)).collect();
                        Done::ok(
                            canonical,
                            format!(
                                "{} now use{} {instance} ({now} of {} pods); the app still uses {} for the rest: watch `status`, then `cutover {instance}` moves them",
                                names.join(", "),
                                if moving.len() == 1 { "s" } else { "" },
                                on.len(),
                                self.db().name
                            ),
                        )
                    }
                    Err(e) => Done::fail(canonical, e.to_string()),
                };
            }
        }
        if let Err(e) = self.repoint_workers(&url, db) {
            return Done::fail(canonical, e);
        }
        // Pods a gradual cutover moved already stay where they are.
        let rest = |f: &crate::workload::Fleet| -> Vec<usize> {
            let on = f.pod_dbs();
            (0..on.len()).filter(|p| on[*p] != db).collect()
        };
        match self
            .fleet
            .as_ref()
            .map(|f| f.repoint_pods(&url, db, &rest(f)))
        {
            Some(Ok(())) | None => {
                let from = self.db().name.clone();
                let applied = std::mem::take(&mut self.dbs[db].applied);
                self.dbs[self.serving].applied = std::mem::replace(&mut self.applied, applied);
                self.serving = db;
                self.pitr.served.push((self.clock.now_ms(), db));
                self.route_service();
                Done::ok(
                    canonical,
                    format!(
                        "the app's pools now point at {instance} (was {from}); requests in flight finish on {from}"
                    ),
                )
            }
            Some(Err(e)) => Done::fail(canonical, e.to_string()),
        }
    }

    /// Since a snapshot, or since a scenario time (after a point-in-time
    /// restore): the time, and the instance the app used then; or why not.
    fn since(&self, since: &str) -> Result<(u64, usize), String> {
        match self.snapshots.iter().find(|s| s.snapshot.name == since) {
            Some(snap) => Ok((snap.t_ms, snap.db)),
            None => crate::scenario::Dur::parse(since)
                .map(|d| (d.as_millis(), self.pitr.serving_at(d.as_millis())))
                .map_err(|_| {
                    format!(
                        "no snapshot `{since}` (see `snapshot list`), nor a scenario time such as `1m20s`"
                    )
                }),
        }
    }

    fn replay(&mut self, pending: Pending, canonical: String, since: String) {
        // The writes the app had acknowledged on the instance it used then.
        let (t_ms, db) = match self.since(&since) {
            Ok(from) => from,
            Err(text) => return self.complete(pending, Done::refuse(canonical, text)),
        };
        if db == self.serving {
            let done = Done::refuse(
                canonical,
                format!(
                    "since {since}, the app has used {}: nothing to replay (replay after a cutover to a restored instance)",
                    self.db().name
                ),
            );
            return self.complete(pending, done);
        }
        // Requests still in flight on the old instance (a cutover lets them
        // finish there) have writes the ledger does not hold yet: the
        // replay waits until none is left and their outcomes are recorded.
        self.work.replays.push(Deferred {
            pending,
            canonical,
            since,
            t_ms,
            db,
            quiet: false,
        });
    }

    /// Replays that waited for the old instance's requests, when they have
    /// finished: no request in flight there at two ticks in a row, so the
    /// outcomes sent before the last one ended have been recorded.
    pub(super) fn resume_replays(&mut self) {
        for mut d in std::mem::take(&mut self.work.replays) {
            let busy = self.fleet.as_ref().is_some_and(|f| f.in_flight(d.db) > 0);
            if busy || !d.quiet {
                d.quiet = !busy;
                self.work.replays.push(d);
            } else {
                self.replay_now(d);
            }
        }
    }

    fn replay_now(&mut self, d: Deferred) {
        let Deferred {
            pending,
            canonical,
            since,
            t_ms,
            db,
            ..
        } = d;
        let mut keys: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
        for w in self.ledger.acks().filter(|w| w.db == db && w.t_ms >= t_ms) {
            keys.entry((**w.table).clone()).or_default().push(w.key);
        }
        let updated = self.updates.since(Some(db), t_ms);
        let acks = self.updates.shared();
        let source = self.dbs[db].target.clone();
        let target = self.db().clone();
        let taken = clock(t_ms);
        self.spawn_move(pending, Done::fail(canonical.clone(), ""), async move {
            let result = copy_rows(&source.superuser_url, &target.superuser_url, &keys).await;
            let total: usize = keys.values().map(Vec::len).sum();
            // Acknowledged updates: the values their rows hold on the old
            // instance, written over the new one's.
            let updates = async {
                if updated.is_empty() {
                    return Ok(String::new());
                }
                let from = super::updates::Source::Instance {
                    url: source.superuser_url.clone(),
                    db,
                };
                let n = super::updates::write_back(&target.app_url, &updated, from, acks).await?;
                let acked: usize = updated.values().map(Vec::len).sum();
                Ok::<_, String>(format!("; {acked} acknowledged update(s): {n} row(s) brought up to date"))
            };
            match result {
                Ok(inserted) => match updates.await {
                    Ok(updated) => Done {
                        tags: vec![Tag::Corrective],
                        ..Done::ok(
                            canonical,
                            format!(
                                "{total} write(s) acknowledged on {} since {since} ({taken}): {inserted} copied into {}, {} already there{updated}",
                                source.name,
                                target.name,
                                total as u64 - inserted
                            ),
                        )
                    },
                    Err(e) => Done::fail(canonical, format!("inserts copied ({inserted}); {e}")),
                },
                Err(e) => Done::fail(canonical, e),
            }
        });
    }

    /// `backfill --since SNAPSHOT|TIME`: writes the values the app
    /// acknowledged for its updates since then into the instance it uses,
    /// from the app's own record of them (the ledger), as a backfill from
    /// logs or a queue would: no other instance is needed.
    pub(super) fn backfill(&mut self, pending: Pending, canonical: String, since: String) {
        let t_ms = match self.since(&since) {
            Ok((t_ms, _)) => t_ms,
            Err(text) => return self.complete(pending, Done::refuse(canonical, text)),
        };
        if !self.updates.tracked() {
            let text =
                "this app acknowledges no updates to backfill (its writes are inserts: `replay`)";
            return self.complete(pending, Done::refuse(canonical, text));
        }
        let keys = self.updates.since(None, t_ms);
        let acks = self.updates.shared();
        let target = self.db().clone();
        let taken = clock(t_ms);
        self.spawn_move(pending, Done::fail(canonical.clone(), ""), async move {
            let acked: usize = keys.values().map(Vec::len).sum();
            let from = super::updates::Source::Ledger;
            match super::updates::write_back(&target.app_url, &keys, from, acks).await {
                Ok(n) => Done {
                    tags: vec![Tag::Corrective],
                    ..Done::ok(
                        canonical,
                        format!(
                            "{acked} value(s) acknowledged since {since} ({taken}) written back: {n} row(s) of {} changed",
                            target.name
                        ),
                    )
                },
                Err(e) => Done::fail(canonical, e),
            }
        });
    }

    fn repair(
        &mut self,
        pending: Pending,
        canonical: String,
        table: String,
        columns: Vec<String>,
        from: String,
    ) {
        let Some(source) = self.db_named(&from) else {
            let done = Done::refuse(canonical, format!("no instance `{from}` (see `instances`)"));
            return self.complete(pending, done);
        };
        if source == self.serving {
            let done = Done::refuse(
                canonical,
                format!("the app uses {from}: repair the live instance from another one"),
            );
            return self.complete(pending, done);
        }
        let source = self.dbs[source].target.clone();
        let target = self.db().clone();
        self.spawn_move(pending, Done::fail(canonical.clone(), ""), async move {
            // As the app role: a repair may touch only what the app owns.
            match repair_columns(&source.app_url, &target.app_url, &table, &columns).await {
                Ok(n) => Done {
                    tags: vec![Tag::Corrective],
                    ..Done::ok(
                        canonical,
                        format!(
                            "{n} row(s) of {table} on {} repaired from {}",
                            target.name, source.name
                        ),
                    )
                },
                Err(Refusal::NotOurs(e)) => Done::refuse(canonical, e),
                Err(Refusal::Failed(e)) => Done::fail(canonical, e),
            }
        });
    }
}

pub(super) async fn connect(url: &str) -> Result<PgConnection, String> {
    crate::instance::connect_as(url, MOVES, None)
        .await
        .map_err(|e| e.to_string())
}

/// Row counts of the scenario's tables, as `; users 2000` for a reply.
pub(super) async fn row_counts(url: &str, tables: &[String]) -> String {
    let Ok(mut conn) = connect(url).await else {
        return String::new();
    };
    let mut parts = Vec::new();
    for t in tables {
        let sql = format!("SELECT count(*) FROM {}", quote_ident(t));
        if let Ok(n) = sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
            .fetch_one(&mut conn)
            .await
        {
            parts.push(format!("{t} {n} rows"));
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// Copies rows by key from `source` to `target`; returns how many were new.
async fn copy_rows(
    source: &str,
    target: &str,
    keys: &BTreeMap<(String, String), Vec<i64>>,
) -> Result<u64, String> {
    let mut from = connect(source).await?;
    let mut to = connect(target).await?;
    let mut inserted = 0;
    // Parents before the tables whose foreign keys reference them, or
    // a child's rows would be refused for want of their parent's.
    let order = parents_first(&mut to, keys.keys().map(|(t, _)| t.as_str())).await;
    let mut keys: Vec<_> = keys.iter().collect();
    keys.sort_by_key(|((table, _), _)| order.iter().position(|t| t == table));
    for ((table, key), ids) in keys {
        let (t, k) = (quote_ident(table), quote_ident(key));
        let read =
            format!("SELECT coalesce(json_agg(r), '[]')::text FROM {t} r WHERE r.{k} = ANY($1)");
        let rows: String = sqlx::query_scalar(AssertSqlSafe(read))
            .bind(ids)
            .fetch_one(&mut from)
            .await
            .map_err(|e| format!("reading {table} on the source: {}", message(&e)))?;
        let write = format!(
            "INSERT INTO {t} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_recordset(NULL::{t}, $1::json) ON CONFLICT DO NOTHING"
        );
        let result = sqlx::query(AssertSqlSafe(write))
            .bind(&rows)
            .execute(&mut to)
            .await
            .map_err(|e| format!("writing {table}: {}", message(&e)))?;
        inserted += result.rows_affected();
        // Keep the key's sequence ahead of the copied keys.
        let sequence: Option<String> = sqlx::query_scalar("SELECT pg_get_serial_sequence($1, $2)")
            .bind(t.clone())
            .bind(key)
            .fetch_one(&mut to)
            .await
            .ok()
            .flatten();
        if let Some(sequence) = sequence {
            let bump = format!(
                "SELECT setval($1::regclass, greatest((SELECT max({k}) FROM {t}), (SELECT coalesce(last_value, 1) FROM pg_sequences WHERE format('%I.%I', schemaname, sequencename)::regclass = $1::regclass)))"
            );
            let _ = sqlx::query(AssertSqlSafe(bump))
                .bind(sequence)
                .execute(&mut to)
                .await;
        }
    }
    Ok(inserted)
}

/// `tables` ordered parents first, by the foreign keys between them on the
/// database `conn` reaches (as declared there; in name order otherwise).
async fn parents_first<'a>(
    conn: &mut PgConnection,
    tables: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let edges: Vec<(String, String)> = sqlx::query_as(
        "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint \
         WHERE contype = 'f' AND conrelid <> confrelid",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap_or_default();
    order_parents_first(tables.map(str::to_string).collect(), &edges)
}

/// `tables` with each after its parents among them (`edges` are (child,
/// parent)); a cycle is broken in name order.
fn order_parents_first(mut left: Vec<String>, edges: &[(String, String)]) -> Vec<String> {
    left.sort();
    left.dedup();
    let mut order = Vec::new();
    while !left.is_empty() {
        let ready = left
            .iter()
            .position(|t| {
                !edges
                    .iter()
                    .any(|(child, parent)| child == t && left.contains(parent))
            })
            .unwrap_or(0);
        order.push(left.remove(ready));
    }
    order
}

/// Copies `columns` of `table` from `source` by primary key; returns the
/// rows changed.
/// Why a repair did not happen.
enum Refusal {
    /// The table is not the drill's: nothing was touched.
    NotOurs(String),
    /// It was tried and failed.
    Failed(String),
}

impl From<String> for Refusal {
    fn from(e: String) -> Refusal {
        Refusal::Failed(e)
    }
}

async fn repair_columns(
    source: &str,
    target: &str,
    table: &str,
    columns: &[String],
) -> Result<u64, Refusal> {
    let mut to = connect(target).await?;
    // Only the drill's own tables: in the drill's schema, owned by the app
    // role (the fixture's and the migrations' tables), never a catalog.
    let own: Vec<String> = sqlx::query_scalar(
        "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND c.relowner = \
         (SELECT oid FROM pg_roles WHERE rolname = current_user) ORDER BY 1",
    )
    .fetch_all(&mut to)
    .await
    .map_err(|e| message(&e))?;
    if !own.iter().any(|t| t == table) {
        return Err(Refusal::NotOurs(format!(
            "`{table}` is not one of this drill's tables (tables: {}); repair copies only the app's own data",
            if own.is_empty() {
                "none".to_string()
            } else {
                own.join(", ")
            }
        )));
    }
    let key: String = sqlx::query_scalar(
        "SELECT a.attname::text FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = $1::regclass AND i.indisprimary",
    )
    .bind(quote_ident(table))
    .fetch_one(&mut to)
    .await
    .map_err(|e| format!("{table} has no primary key to match rows by: {}", message(&e)))?;
    let t = quote_ident(table);
    let k = quote_ident(&key);
    let cols: Vec<String> = columns.iter().map(|c| quote_ident(c)).collect();
    let read = format!(
        "SELECT coalesce(json_agg(r), '[]')::text FROM (SELECT {k}, {} FROM {t}) r",
        cols.join(", ")
    );
    let mut from = connect(source).await?;
    let rows: String = sqlx::query_scalar(AssertSqlSafe(read))
        .fetch_one(&mut from)
        .await
        .map_err(|e| format!("reading {table} on the source: {}", message(&e)))?;
    let set: Vec<String> = cols.iter().map(|c| format!("{c} = s.{c}")).collect();
    let live: Vec<String> = cols.iter().map(|c| format!("t.{c}")).collect();
    let good: Vec<String> = cols.iter().map(|c| format!("s.{c}")).collect();
    let write = format!(
        "UPDATE {t} AS t SET {} FROM json_populate_recordset(NULL::{t}, $1::json) AS s WHERE t.{k} = s.{k} AND ({}) IS DISTINCT FROM ({})",
        set.join(", "),
        live.join(", "),
        good.join(", ")
    );
    let result = sqlx::query(AssertSqlSafe(write))
        .bind(&rows)
        .execute(&mut to)
        .await
        .map_err(|e| format!("repairing {table}: {}", message(&e)))?;
    Ok(result.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::order_parents_first;

    #[test]
    fn parents_come_before_the_tables_that_reference_them() {
        let edge = |c: &str, p: &str| (c.to_string(), p.to_string());
        let tables = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        // Regression: alphabetical order put hero_snapshots before users.
        assert_eq!(
            order_parents_first(
                tables(&["users", "hero_snapshots"]),
                &[edge("hero_snapshots", "users")]
            ),
            ["users", "hero_snapshots"]
        );
        // A chain, with an unrelated table and an edge to a table not copied.
        assert_eq!(
            order_parents_first(
                tables(&["c", "a", "b", "z"]),
                &[edge("a", "b"), edge("b", "c"), edge("z", "elsewhere")]
            ),
            ["c", "b", "a", "z"]
        );
        // A cycle does not hang.
        assert_eq!(
            order_parents_first(tables(&["x", "y"]), &[edge("x", "y"), edge("y", "x")]),
            ["x", "y"]
        );
    }
}

//! Moves on the data itself: snapshots, restores (to a new instance or in
//! place), cutover, replay of lost writes from the ledger, and repair of
//! columns from another instance. Restores and copies run as tasks; the
//! engine applies their effect when they finish.

use std::collections::BTreeMap;
use std::time::Instant;

use sqlx::{AssertSqlSafe, PgConnection};

use super::apply::{Done, Effect, rows};
use super::{Drill, MOVES, Pending, Snap, Target};
use crate::action::{Look, Recover, Snapshot};
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
    /// The instance the snapshot was taken of.
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

/// A restore's inputs, once its snapshot is found.
struct Restore {
    canonical: String,
    snapshot: String,
    file: std::path::PathBuf,
    live: Target,
    tables: Vec<String>,
}

/// Sequences on a restored instance are moved this far past the live
/// instance's values, so writes made after the snapshot keep their ids
/// when they are replayed.
const SEQUENCE_GAP: i64 = 1000;

impl Drill {
    pub(super) fn snapshot_create(&mut self, pending: Pending, name: Option<String>) {
        let name = name.unwrap_or_else(|| format!("snap-{}", self.snapshots.len() + 1));
        let canonical = Snapshot::Create {
            name: Some(name.clone()),
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
            match snapshot::create(&info, &url, &name).await {
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
                            "snapshot {name} of {instance} taken: {} KiB in {} ms",
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
                    if s.by_timeline { "pipeline" } else { "you" }.to_string(),
                ]
            })
            .collect();
        Done::ok(
            Snapshot::List.to_string(),
            format!("{} snapshots", self.snapshots.len()),
        )
        .view(rows(&["snapshot", "of", "taken at", "size", "by"], table))
    }

    pub(super) fn instances(&self) -> Done {
        let table = self
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
                    d.target.app_url.clone(),
                ]
            })
            .collect();
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
                name,
            } => self.restore(pending, canonical, snapshot, in_place, name),
            Recover::Cutover { instance } => {
                let done = self.cutover(canonical, &instance);
                self.complete(pending, done);
            }
            Recover::Replay { since } => self.replay(pending, canonical, since),
            Recover::Repair {
                table,
                columns,
                from,
            } => self.repair(pending, canonical, table, columns, from),
        }
    }

    fn restore(
        &mut self,
        pending: Pending,
        canonical: String,
        snapshot: String,
        in_place: bool,
        name: Option<String>,
    ) {
        let Some(snap) = self.snapshots.iter().find(|s| s.snapshot.name == snapshot) else {
            let known: Vec<String> = self
                .snapshots
                .iter()
                .map(|s| s.snapshot.name.clone())
                .collect();
            let done = Done::refuse(
                canonical,
                format!(
                    "no snapshot `{snapshot}` (snapshots: {})",
                    if known.is_empty() {
                        "none".into()
                    } else {
                        known.join(", ")
                    }
                ),
            );
            return self.complete(pending, done);
        };
        let restore = Restore {
            canonical,
            snapshot,
            file: snap.snapshot.file.clone(),
            live: self.db().clone(),
            tables: self.scenario.fixture.rows.keys().cloned().collect(),
        };
        if in_place {
            self.restore_in_place(pending, restore);
        } else {
            self.restore_to_new(pending, restore, name);
        }
    }

    /// `restore --to in-place`: over the database the app uses.
    fn restore_in_place(&mut self, pending: Pending, r: Restore) {
        let Restore {
            canonical,
            snapshot,
            file,
            live,
            tables,
        } = r;
        self.spawn_move(
            pending,
            Done {
                tags: in_place_tags(),
                ..Done::fail(canonical.clone(), "")
            },
            async move {
                let started = Instant::now();
                match pg_restore(&live, &file, true).await {
                    Ok(()) => {
                        let counts = row_counts(&live.superuser_url, &tables).await;
                        Done {
                            tags: in_place_tags(),
                            ..Done::ok(
                                canonical,
                                format!(
                                    "snapshot {snapshot} restored over {} in {:.1}s{counts}",
                                    live.name,
                                    started.elapsed().as_secs_f64()
                                ),
                            )
                        }
                    }
                    // `--clean` may already have dropped objects: the
                    // attempt is as destructive as a success.
                    Err(e) => Done {
                        tags: vec![Tag::Corrective, Tag::Destructive, Tag::InPlace],
                        ..Done::fail(canonical, e)
                    },
                }
            },
        );
    }

    /// `restore --to new`: a new instance, its sequences moved past the
    /// live instance's values.
    fn restore_to_new(&mut self, pending: Pending, r: Restore, name: Option<String>) {
        let Restore {
            canonical,
            snapshot,
            file,
            live,
            tables,
        } = r;
        let Some(provision) = self.provision.clone() else {
            let done = Done::refuse(canonical, "this drill cannot start new instances");
            return self.complete(pending, done);
        };
        let name = name.unwrap_or_else(|| format!("restored-{}", self.dbs.len()));
        if self.db_named(&name).is_some() {
            let done = Done::refuse(canonical, format!("an instance named `{name}` exists"));
            return self.complete(pending, done);
        }
        let scenario = self.scenario.clone();
        self.spawn_move(pending, Done {
            tags: vec![Tag::Corrective],
            ..Done::fail(canonical.clone(), "")
        }, async move {
            let started = Instant::now();
            let instance = match provision().await {
                Ok(i) => i,
                Err(e) => {
                    return Done::fail(canonical, format!("starting a new instance failed: {e}"));
                }
            };
            let target = Target {
                name: name.clone(),
                info: instance.info().clone(),
                app_url: instance.url(),
                superuser_url: instance.superuser_url(),
            };
            let result = async {
                pg_restore(&target, &file, false).await?;
                advance_sequences(&live.superuser_url, &target.superuser_url).await
            }
            .await;
            match result {
                Ok(moved) => {
                    let counts = row_counts(&target.superuser_url, &tables).await;
                    let db = super::probe::fresh_db(&scenario, target).await;
                    Done {
                        tags: vec![Tag::Corrective],
                        effect: Effect::Restored(Box::new((db, instance))),
                        ..Done::ok(
                            canonical,
                            format!(
                                "snapshot {snapshot} restored to new instance {name} in {:.1}s{counts}; {moved} sequence(s) moved past the live values. The app still uses {}: validate, then `cutover {name}`",
                                started.elapsed().as_secs_f64(),
                                live.name
                            ),
                        )
                    }
                }
                Err(e) => {
                    instance.shutdown().await;
                    Done::fail(canonical, e)
                }
            }
        });
    }

    fn cutover(&mut self, canonical: String, instance: &str) -> Done {
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
        match self.fleet.as_ref().map(|f| f.repoint(&url, db)) {
            Some(Ok(())) | None => {
                let from = self.db().name.clone();
                let applied = std::mem::take(&mut self.dbs[db].applied);
                self.dbs[self.serving].applied = std::mem::replace(&mut self.applied, applied);
                self.serving = db;
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

    fn replay(&mut self, pending: Pending, canonical: String, since: String) {
        let Some(snap) = self.snapshots.iter().find(|s| s.snapshot.name == since) else {
            let done = Done::refuse(
                canonical,
                format!("no snapshot `{since}` (see `snapshot list`)"),
            );
            return self.complete(pending, done);
        };
        if snap.db == self.serving {
            let done = Done::refuse(
                canonical,
                format!(
                    "{since} was taken of {}, which the app still uses: nothing to replay (replay after a cutover to a restored instance)",
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
            db: snap.db,
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
                self.replay_now(d.pending, d.canonical, d.since);
            }
        }
    }

    fn replay_now(&mut self, pending: Pending, canonical: String, since: String) {
        let Some(snap) = self.snapshots.iter().find(|s| s.snapshot.name == since) else {
            return self.complete(pending, Done::fail(canonical, "the snapshot is gone"));
        };
        let mut keys: BTreeMap<(String, String), Vec<i64>> = BTreeMap::new();
        for w in self
            .ledger
            .iter()
            .filter(|w| w.db == snap.db && w.t_ms >= snap.t_ms)
        {
            if let (Some(t), Some(k)) = (&w.table, w.key) {
                keys.entry((**t).clone()).or_default().push(k);
            }
        }
        let source = self.dbs[snap.db].target.clone();
        let target = self.db().clone();
        let taken = clock(snap.t_ms);
        self.spawn_move(pending, Done::fail(canonical.clone(), ""), async move {
            let result = copy_rows(&source.superuser_url, &target.superuser_url, &keys).await;
            let total: usize = keys.values().map(Vec::len).sum();
            match result {
                Ok(inserted) => Done {
                    tags: vec![Tag::Corrective],
                    ..Done::ok(
                        canonical,
                        format!(
                            "{total} write(s) acknowledged on {} since {since} ({taken}): {inserted} copied into {}, {} already there",
                            source.name,
                            target.name,
                            total as u64 - inserted
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

/// A restore in place replaces the data the app uses: corrective,
/// destructive, in place, whether or not it completes.
fn in_place_tags() -> Vec<Tag> {
    vec![Tag::Corrective, Tag::Destructive, Tag::InPlace]
}

async fn connect(url: &str) -> Result<PgConnection, String> {
    crate::instance::connect_as(url, MOVES, None)
        .await
        .map_err(|e| e.to_string())
}

/// Runs pg_restore of `file` into `target` (with `--clean` for in place),
/// with the instance's own client programs.
async fn pg_restore(target: &Target, file: &std::path::Path, clean: bool) -> Result<(), String> {
    let tools = target
        .info
        .tools
        .as_ref()
        .ok_or("this instance has no client tools for pg_restore")?;
    tools.restore(&target.superuser_url, file, clean).await
}

/// Moves each sequence of `restored` past the same sequence on `live`.
async fn advance_sequences(live: &str, restored: &str) -> Result<usize, String> {
    const LIST: &str = "SELECT schemaname || '.' || sequencename, coalesce(last_value, 0) FROM pg_sequences WHERE schemaname NOT IN ('pgdrill_audit')";
    let mut live = connect(live).await?;
    let values: Vec<(String, i64)> = sqlx::query_as(LIST)
        .fetch_all(&mut live)
        .await
        .map_err(|e| message(&e))?;
    let mut restored = connect(restored).await?;
    let mut moved = 0;
    for (sequence, value) in values {
        let sql = "SELECT setval($1::regclass, greatest($2, (SELECT coalesce(last_value, 1) FROM pg_sequences WHERE schemaname || '.' || sequencename = $1)))";
        if sqlx::query(sql)
            .bind(&sequence)
            .bind(value + SEQUENCE_GAP)
            .execute(&mut restored)
            .await
            .is_ok()
        {
            moved += 1;
        }
    }
    Ok(moved)
}

/// Row counts of the scenario's tables, as `; users 2000` for a reply.
async fn row_counts(url: &str, tables: &[String]) -> String {
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

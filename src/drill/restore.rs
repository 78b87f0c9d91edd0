//! Restoring a snapshot: to a new instance (the safe way), or over the
//! database the app uses. A logical snapshot is a `pg_dump` file replayed
//! with `pg_restore`; a physical one comes back as a server recovered from
//! the base backup and the WAL archive (`instance::physical`).

use std::time::Instant;

use super::apply::{Done, Effect};
use super::data::{connect, row_counts};
use super::{Drill, Pending, Target};
use crate::instance::{physical, snapshot};
use crate::sqlstate::message;
use crate::transcript::Tag;

/// A restore's inputs, once its snapshot is found.
struct Restore {
    canonical: String,
    snapshot: String,
    file: std::path::PathBuf,
    /// For a physical snapshot: the recovery that brings it back.
    recovery: Option<physical::Recovery>,
    live: Target,
    tables: Vec<String>,
}

/// Sequences on a restored instance are moved this far past the live
/// instance's values, so writes made after the snapshot keep their ids
/// when they are replayed.
const SEQUENCE_GAP: i64 = 1000;

impl Drill {
    /// `restore SNAPSHOT [--to new|in-place] [--as NAME]`.
    pub(super) fn restore(
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
        let recovery = (snap.snapshot.kind == snapshot::Kind::Physical)
            .then(|| self.recovery_from(snap, physical::Target::EndOfBackup));
        let restore = Restore {
            canonical,
            snapshot,
            recovery,
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
            recovery,
            file,
            live,
            tables,
        } = r;
        let provision = self.provision.clone();
        self.spawn_move(
            pending,
            Done {
                tags: in_place_tags(),
                ..Done::fail(canonical.clone(), "")
            },
            async move {
                let started = Instant::now();
                // A physical snapshot comes back in place as a logical
                // copy of it: a server recovered from it, dumped.
                let file = match (recovery, provision) {
                    (None, _) => Ok(file),
                    (Some(r), Some(provision)) => {
                        dump_recovered(&provision, r, &live, &snapshot).await
                    }
                    (Some(_), None) => Err("this drill cannot start new instances".to_string()),
                };
                let restored = match file {
                    Ok(file) => pg_restore(&live, &file, true).await,
                    Err(e) => Err(e),
                };
                match restored {
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
            recovery,
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
            let physical = recovery.is_some();
            let instance = match provision(recovery).await {
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
            let target = target.with_password_of(&live).await;
            let result = async {
                if !physical {
                    pg_restore(&target, &file, false).await?;
                }
                let _ = physical::start_archiving(&target.info);
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
}

/// A restore in place replaces the data the app uses: corrective,
/// destructive, in place, whether or not it completes.
fn in_place_tags() -> Vec<Tag> {
    vec![Tag::Corrective, Tag::Destructive, Tag::InPlace]
}

/// A dump of what a physical snapshot holds: a server recovered from it,
/// dumped next to the live instance's snapshots, then stopped.
async fn dump_recovered(
    provision: &super::Provision,
    recovery: physical::Recovery,
    live: &Target,
    snapshot: &str,
) -> Result<std::path::PathBuf, String> {
    let (Some(tools), Some(dir)) = (&live.info.tools, &live.info.snapshot_dir) else {
        return Err("this instance has no client tools for pg_dump".into());
    };
    let file = dir.join(format!("{snapshot}.in-place.dump"));
    let _ = std::fs::remove_file(&file);
    let temporary = provision(Some(recovery))
        .await
        .map_err(|e| format!("recovering the snapshot failed: {e}"))?;
    let dumped = tools.dump(&temporary.superuser_url(), &file).await;
    temporary.shutdown().await;
    dumped.map(|()| file)
}

/// Runs pg_restore of `file` into `target` (with `--clean` for in place),
/// with the instance's own client programs.
pub(super) async fn pg_restore(
    target: &Target,
    file: &std::path::Path,
    clean: bool,
) -> Result<(), String> {
    let tools = target
        .info
        .tools
        .as_ref()
        .ok_or("this instance has no client tools for pg_restore")?;
    tools.restore(&target.superuser_url, file, clean).await
}

/// Moves each sequence of `restored` past the same sequence on `live`.
pub(super) async fn advance_sequences(live: &str, restored: &str) -> Result<usize, String> {
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

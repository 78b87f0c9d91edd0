//! Point-in-time restores (runbook 004, option A: the provider's PITR).
//!
//! Where pgdrill runs the server itself, the drill archives the primary's
//! WAL from its start and takes a base backup then, as a provider's
//! automated backups would; every physical snapshot is one more base. A
//! `restore --to new --at T` starts a new server on the latest base taken
//! before T on the instance the app used at T, and has it replay the
//! archive up to the moment scenario time T passed; `--before MIGRATION`
//! replays up to the restore point the migration runner set just before
//! that migration. Either way the live instance keeps serving.

use std::time::Instant;

use super::apply::{Done, Effect};
use super::data::row_counts;
use super::restore::advance_sequences;
use super::{Drill, Finished, Pending, Snap, Target};
use crate::action::Point;
use crate::instance::physical::{self, Recovery};
use crate::instance::snapshot::{self, Kind};
use crate::score::clock;
use crate::transcript::Tag;

/// Name of the base backup the drill takes at its start.
const START_BACKUP: &str = "drill-start";

/// The drill's side of point-in-time recovery.
#[derive(Default)]
pub(super) struct Pitr {
    /// Base backups taken by the drill itself (not snapshots anyone
    /// asked for): the one at the start.
    pub bases: Vec<Snap>,
    /// Each cutover: when, and to which instance (before the first, the
    /// app used instance 0).
    pub served: Vec<(u64, usize)>,
}

impl Pitr {
    /// The instance the app used at scenario time `t_ms`.
    pub fn serving_at(&self, t_ms: u64) -> usize {
        self.served
            .iter()
            .take_while(|(at, _)| *at <= t_ms)
            .last()
            .map_or(0, |(_, db)| *db)
    }

    /// What `snapshot list` adds about point-in-time restores.
    pub fn summary(&self) -> String {
        match self.bases.first() {
            Some(b) => format!(
                "; WAL archived and a base backup taken at {}: `restore --to new --at TIME` recovers any moment since",
                clock(b.t_ms)
            ),
            None => String::new(),
        }
    }
}

impl Drill {
    /// Starts archiving the primary's WAL and takes the drill's own base
    /// backup beside the traffic, where the backend allows (the local
    /// one). A failure only means no point-in-time restore; the drill goes
    /// on.
    pub(super) fn start_archiving(&mut self) {
        let target = self.db().clone();
        if !physical::supported(&target.info) {
            return;
        }
        let started = self.clock.now_ms();
        self.work.tasks.spawn(async move {
            let app = &target.info.app.user;
            if let Err(e) = physical::allow_restore_points(&target.superuser_url, app).await {
                tracing::warn!("no restore points before migrations in this drill: {e}");
            }
            let url = &target.superuser_url;
            let taken = snapshot::create(&target.info, url, START_BACKUP, false).await;
            Finished::Base(started, taken.map_err(|e| e.to_string()))
        });
    }

    /// Keeps the drill's base backup, once taken (begun at `t_ms`).
    pub(super) fn on_base(&mut self, t_ms: u64, taken: Result<snapshot::Snapshot, String>) {
        match taken {
            Ok(s) => self.pitr.bases.push(Snap {
                t_ms,
                db: 0,
                snapshot: s,
                by_timeline: true,
            }),
            Err(e) => tracing::warn!("no point-in-time restores in this drill: {e}"),
        }
    }

    /// When a physical snapshot became consistent: its scenario time plus
    /// the time it took.
    fn ready_ms(&self, s: &Snap) -> u64 {
        let took = s.snapshot.took.as_secs_f64() * self.clock.scale() * 1000.0;
        s.t_ms + took as u64
    }

    /// How to bring back physical snapshot `snap` up to `target`.
    pub(super) fn recovery_from(&self, snap: &Snap, target: physical::Target) -> Recovery {
        let source = &self.dbs[snap.db].target.info;
        Recovery {
            backup: snap.snapshot.file.clone(),
            archive: source.wal_archive.clone().unwrap_or_default(),
            target,
            superuser_password: source.superuser.password.clone(),
            app_password: source.app.password.clone(),
        }
    }

    /// `restore [SNAPSHOT] --to new --at TIME|--before MIGRATION`.
    pub(super) fn restore_to_point(
        &mut self,
        pending: Pending,
        canonical: String,
        snapshot: Option<String>,
        point: Point,
        name: Option<String>,
    ) {
        let now = pending.t_ms;
        let planned = match self.plan_point(now, snapshot.as_deref(), &point, name) {
            Ok(p) => p,
            Err(why) => return self.complete(pending, Done::refuse(canonical, why)),
        };
        let Some(provision) = self.provision.clone() else {
            let done = Done::refuse(canonical, "this drill cannot start new instances");
            return self.complete(pending, done);
        };
        let Planned {
            base,
            source,
            wall,
            name,
        } = planned;
        let live = self.db().clone();
        let scenario = self.scenario.clone();
        let tables: Vec<String> = self.scenario.fixture.rows.keys().cloned().collect();
        let from = format!("{} (taken {})", base.snapshot.name, clock(base.t_ms));
        let recovery = self.recovery_from(&base, physical::Target::EndOfBackup);
        let attempt = Done {
            tags: vec![Tag::Corrective],
            ..Done::fail(canonical.clone(), "")
        };
        self.spawn_move(pending, attempt, async move {
            let started = Instant::now();
            let target = match &point {
                Point::At(_) => server_time(&source.superuser_url, wall).await,
                Point::Before(m) => Ok(physical::Target::Name(physical::restore_point(m))),
            };
            let archived = physical::archive_now(&source.superuser_url).await;
            let recovery = match (target, archived) {
                (Ok(target), Ok(())) => Recovery { target, ..recovery },
                (Err(e), _) | (_, Err(e)) => return Done::fail(canonical, e),
            };
            let instance = match provision(Some(recovery)).await {
                Ok(i) => i,
                Err(e) => return Done::fail(canonical, format!("recovery failed: {e}")),
            };
            let target = Target {
                name: name.clone(),
                info: instance.info().clone(),
                app_url: instance.url(),
                superuser_url: instance.superuser_url(),
            };
            let target = target.with_password_of(&live).await;
            let _ = physical::start_archiving(&target.info);
            let moved = match advance_sequences(&live.superuser_url, &target.superuser_url).await {
                Ok(n) => n,
                Err(e) => {
                    instance.shutdown().await;
                    return Done::fail(canonical, e);
                }
            };
            let counts = row_counts(&target.superuser_url, &tables).await;
            let db = super::probe::fresh_db(&scenario, target).await;
            let when = match &point {
                Point::At(d) => format!("as it was at {}", clock(d.0.as_millis() as u64)),
                Point::Before(m) => format!("as it was just before {m} was applied"),
            };
            Done {
                tags: vec![Tag::Corrective],
                effect: Effect::Restored(Box::new((db, instance))),
                ..Done::ok(
                    canonical,
                    format!(
                        "{} {when} recovered to new instance {name} in {:.1}s, from base backup {from} and the WAL archived since{counts}; {moved} sequence(s) moved past the live values. The app still uses {}: validate, then `cutover {name}`",
                        source.name,
                        started.elapsed().as_secs_f64(),
                        live.name
                    ),
                )
            }
        });
    }

    /// Checks a point-in-time restore against the drill and picks its
    /// base backup; the refusal says why not.
    fn plan_point(
        &self,
        now: u64,
        snapshot: Option<&str>,
        point: &Point,
        name: Option<String>,
    ) -> Result<Planned, String> {
        let name = name.unwrap_or_else(|| format!("restored-{}", self.dbs.len()));
        if self.db_named(&name).is_some() {
            return Err(format!("an instance named `{name}` exists"));
        }
        let (db, until) = match point {
            Point::At(d) => {
                let t = d.0.as_millis() as u64;
                if t > now {
                    return Err(format!(
                        "{} has not happened yet: it is {}",
                        clock(t),
                        clock(now)
                    ));
                }
                (self.pitr.serving_at(t), t)
            }
            Point::Before(m) => {
                if !self.scenario.migrations.list.iter().any(|x| &x.id == m) {
                    let known: Vec<&str> = self
                        .scenario
                        .migrations
                        .list
                        .iter()
                        .map(|x| x.id.as_str())
                        .collect();
                    return Err(format!(
                        "no migration `{m}` (migrations: {})",
                        known.join(", ")
                    ));
                }
                (self.serving, now)
            }
        };
        let source = self.dbs[db].target.clone();
        if !physical::supported(&source.info) {
            return Err(format!(
                "{} keeps no WAL archive: point-in-time restores need a server pgdrill runs itself (`--backend local`); restore a snapshot instead",
                source.name
            ));
        }
        let physical_of = |s: &&Snap| s.db == db && s.snapshot.kind == Kind::Physical;
        let base = match snapshot {
            Some(n) => {
                let s = self
                    .snapshots
                    .iter()
                    .find(|s| s.snapshot.name == n)
                    .ok_or_else(|| format!("no snapshot `{n}` (see `snapshot list`)"))?;
                if !physical_of(&s) || self.ready_ms(s) > until {
                    return Err(format!(
                        "{n} cannot be the base: it must be a physical snapshot of {} taken before the point",
                        source.name
                    ));
                }
                s.clone()
            }
            None => {
                let mut bases: Vec<&Snap> = self
                    .pitr
                    .bases
                    .iter()
                    .chain(&self.snapshots)
                    .filter(physical_of)
                    .filter(|s| self.ready_ms(s) <= until)
                    .collect();
                bases.sort_by_key(|s| self.ready_ms(s));
                // Before a migration: the earliest base, since when the
                // migration ran is the archive's to say.
                let pick = match point {
                    Point::At(_) => bases.last(),
                    Point::Before(_) => bases.first(),
                };
                (*pick.ok_or_else(|| {
                    format!(
                        "no physical backup of {} from before {}: take snapshots (they are physical here)",
                        source.name,
                        clock(until)
                    )
                })?)
                .clone()
            }
        };
        let wall = match point {
            Point::At(d) => self.clock.wall_at(d.0.as_millis() as u64),
            Point::Before(_) => std::time::SystemTime::now(),
        };
        Ok(Planned {
            base,
            source,
            wall,
            name,
        })
    }
}

/// A point-in-time restore, checked.
struct Planned {
    base: Snap,
    /// The instance whose archive is replayed.
    source: Target,
    /// The wall-clock moment to recover to (for `--at`).
    wall: std::time::SystemTime,
    name: String,
}

/// `wall` as the server writes timestamps, for `recovery_target_time`.
async fn server_time(
    superuser_url: &str,
    wall: std::time::SystemTime,
) -> Result<physical::Target, String> {
    let secs = wall
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs_f64();
    let mut conn = crate::instance::connect_as(superuser_url, super::MOVES, None)
        .await
        .map_err(|e| e.to_string())?;
    sqlx::query_scalar::<_, String>("SELECT to_timestamp($1)::timestamptz::text")
        .bind(secs)
        .fetch_one(&mut conn)
        .await
        .map(physical::Target::Time)
        .map_err(|e| crate::sqlstate::message(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_instance_serving_at_a_time_follows_the_cutovers() {
        let pitr = Pitr {
            bases: Vec::new(),
            served: vec![(60_000, 1), (120_000, 2)],
        };
        assert_eq!(pitr.serving_at(0), 0);
        assert_eq!(pitr.serving_at(59_999), 0);
        assert_eq!(pitr.serving_at(60_000), 1);
        assert_eq!(pitr.serving_at(200_000), 2);
    }
}

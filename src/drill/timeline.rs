//! The scenario's timeline: scripted events (releases, migration jobs,
//! flag changes, the pipeline's snapshots, background SQL) carried out
//! when `schedule.rs` says they are due. Faults are timeline data; this
//! file only carries them out.

use super::schedule::Slot;
use super::{Drill, Finished, MIGRATION_JOB, Snap, migrations};

impl Drill {
    /// Makes a scripted event happen.
    pub(super) fn fire(&mut self, slot: Slot) {
        let Some(event) = slot.event(&self.scenario).cloned() else {
            return;
        };
        let hidden = event.hidden;
        if let Some(say) = &event.say {
            self.announce_as(hidden, say.clone());
        }
        // The author's `say` tells the story; pgdrill's own line for the
        // same event would say it twice.
        let told = event.say.is_some();
        if let Some(release) = event.release {
            let message = if release.migrations.is_empty() {
                format!("release {}: rolling deploy starts", release.version)
            } else {
                format!(
                    "release {}: the migration job applies {}",
                    release.version,
                    release.migrations.join(", ")
                )
            };
            if !told {
                self.announce_as(hidden, message);
            }
            let timeout = release
                .job_timeout
                .map(|t| t.0.div_f64(self.options.time_scale));
            let job = migrations::migrate_ids(
                self.scenario.clone(),
                self.db().app_url.clone(),
                release.migrations.clone(),
                MIGRATION_JOB.to_string(),
                timeout,
            );
            self.work
                .tasks
                .spawn(async move { Finished::Release(release, job.await) });
        }
        if !event.migrate.is_empty() {
            if !told {
                self.announce_as(
                    hidden,
                    format!("the migration job applies {}", event.migrate.join(", ")),
                );
            }
            let job = migrations::migrate_ids(
                self.scenario.clone(),
                self.db().app_url.clone(),
                event.migrate.clone(),
                MIGRATION_JOB.to_string(),
                None,
            );
            self.work
                .tasks
                .spawn(async move { Finished::Job(None, job.await) });
        }
        if let Some(change) = event.flag {
            self.flags.set(&change.name, change.value);
            if !told {
                self.announce_as(
                    hidden,
                    format!("flag {} set to {}", change.name, change.value),
                );
            }
        }
        if let Some(name) = event.snapshot {
            if !told {
                self.announce_as(hidden, format!("the pipeline takes snapshot {name}"));
            }
            let (info, url) = (self.db().info.clone(), self.db().superuser_url.clone());
            let t = self.clock.now_ms();
            self.work.tasks.spawn(async move {
                let result = crate::instance::snapshot::create(&info, &url, &name, false)
                    .await
                    .map_err(|e| e.to_string());
                Finished::Snapshot(t, result)
            });
        }
        if let Some(sql) = event.sql {
            let url = self.db().superuser_url.clone();
            let sql = scale_durations(&sql, self.options.time_scale);
            let job = event.job.unwrap_or_else(|| "timeline-job".into());
            if !told {
                self.announce_as(
                    hidden,
                    format!("background job {job} started: {}", one_line(&sql)),
                );
            }
            self.work.background.spawn(async move {
                if let Ok(mut conn) = crate::instance::connect_as(&url, &job, None).await {
                    let _ =
                        sqlx::Executor::execute(&mut conn, sqlx::raw_sql(sqlx::AssertSqlSafe(sql)))
                            .await;
                }
            });
        }
    }

    /// Takes in what a background job finished with (the timeline's jobs,
    /// and the probe).
    pub(super) fn on_finished(&mut self, done: Finished) {
        match done {
            Finished::Release(release, Ok(applied)) => {
                self.applied = applied;
                self.announce(format!(
                    "release {}: migrations done; pods roll to {} one every {}",
                    release.version, release.version, release.step
                ));
                self.start_rollout(
                    &release.version,
                    release.step.as_millis(),
                    release.stop_after_pods,
                );
            }
            Finished::Release(release, Err(e)) => {
                self.announce(format!(
                    "release {} failed in its migration job: {e}",
                    release.version
                ));
                if release.continue_on_error {
                    self.announce(format!(
                            "the pipeline ignores the failed migration job: pods roll to {} one every {}",
                            release.version, release.step
                        ));
                    self.start_rollout(
                        &release.version,
                        release.step.as_millis(),
                        release.stop_after_pods,
                    );
                }
            }
            Finished::Job(version, result) => {
                let what = match &version {
                    Some(v) => {
                        self.starting.retain(|s| s != v);
                        format!("{v} startup migrations")
                    }
                    None => "the migration job".to_string(),
                };
                let message = match result {
                    Ok(applied) => {
                        self.applied = applied;
                        format!("{what}: done")
                    }
                    Err(e) => format!("{what} failed: {e}"),
                };
                self.announce(message);
            }
            Finished::Snapshot(t_ms, Ok(snapshot)) => {
                self.announce(format!(
                    "snapshot {} taken of {} ({} KiB)",
                    snapshot.name,
                    self.db().name,
                    snapshot.bytes / 1024
                ));
                self.snapshots.push(Snap {
                    t_ms,
                    db: self.serving,
                    snapshot,
                    by_timeline: true,
                });
            }
            Finished::Snapshot(_, Err(e)) => {
                self.announce(format!("the pipeline's snapshot failed: {e}"));
            }
            Finished::Probe(db, probed) => {
                self.pace.probing = false;
                self.on_probe(db, probed);
            }
            Finished::Base(t_ms, result) => self.on_base(t_ms, result),
        }
    }
}

/// Replaces `{{90s}}` by the real seconds 90 scenario seconds take.
fn scale_durations(sql: &str, scale: f64) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(open) = rest.find("{{") {
        let Some(close) = rest[open..].find("}}") else {
            break;
        };
        out.push_str(&rest[..open]);
        let inner = &rest[open + 2..open + close];
        match crate::scenario::Dur::parse(inner.trim()) {
            Ok(d) => out.push_str(&format!("{:.3}", d.0.as_secs_f64() / scale)),
            Err(_) => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &rest[open + close + 2..];
    }
    out.push_str(rest);
    out
}

fn one_line(sql: &str) -> String {
    let flat = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 80 {
        format!("{}...", flat.chars().take(77).collect::<String>())
    } else {
        flat
    }
}

//! Applying the learner's moves. Moves on the engine's own state (app,
//! flags, notes, waits) apply at once; moves that talk to the database run
//! as tasks and complete through [`Drill::complete`].

use sqlx::{AssertSqlSafe, Column, Row};
use tokio::sync::oneshot;

use super::{Db, Drill, Pending, Reply, Snap, View, Waiting};
use crate::action::{Action, HELP, Wait};
use crate::instance::Instance;
use crate::migrate::classify::classify;
use crate::scenario::Scenario;
use crate::transcript::{EndReason, Event, EventKind, Move, Outcome, Tag};

/// The result of a move.
pub(super) struct Done {
    pub outcome: Outcome,
    pub canonical: String,
    pub text: String,
    pub view: Option<View>,
    pub effect: Effect,
    pub tags: Vec<Tag>,
}

/// What a finished move changes in the engine.
pub(super) enum Effect {
    None,
    Applied(Vec<String>),
    Snapshot(Snap),
    Restored(Box<(Db, Instance)>),
}

impl Done {
    pub(super) fn ok(canonical: impl Into<String>, text: impl Into<String>) -> Done {
        Done {
            outcome: Outcome::Done,
            canonical: canonical.into(),
            text: text.into(),
            view: None,
            effect: Effect::None,
            tags: Vec::new(),
        }
    }
    /// Carried out, and it failed.
    pub(super) fn fail(canonical: impl Into<String>, text: impl Into<String>) -> Done {
        Done {
            outcome: Outcome::Failed,
            ..Done::ok(canonical, text)
        }
    }
    /// Not carried out: nothing changed (see [`Outcome::Refused`]).
    pub(super) fn refuse(canonical: impl Into<String>, text: impl Into<String>) -> Done {
        Done {
            outcome: Outcome::Refused,
            ..Done::ok(canonical, text)
        }
    }

    pub(super) fn view(mut self, view: View) -> Done {
        self.view = Some(view);
        self
    }
}

/// Tags of a move that runs `sql`.
pub(super) fn sql_tags(sql: &str) -> Vec<Tag> {
    let class = classify(sql);
    let mut tags = Vec::new();
    if class.writes {
        tags.push(Tag::Corrective);
    }
    if class.destructive {
        tags.push(Tag::Destructive);
    }
    if class.contract {
        tags.push(Tag::Contract);
    }
    tags
}

pub(super) fn rows(columns: &[&str], rows: Vec<Vec<String>>) -> View {
    View::Rows {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows,
    }
}

impl Drill {
    /// Plays one move.
    pub(super) fn act(&mut self, input: String, action: Action, reply: oneshot::Sender<Reply>) {
        let pending = Pending {
            t_ms: self.clock.now_ms(),
            input,
            state: self.state(),
            reply,
        };
        let done = match action {
            Action::Help(topic) => {
                let _ = pending.reply.send(Reply::ok(help_text(topic.as_deref())));
                return;
            }
            Action::Status => {
                Done::ok("status", "status shown").view(View::Status(Box::new(self.status())))
            }
            Action::Events => {
                let events: Vec<Event> = self
                    .transcript
                    .events
                    .iter()
                    .filter(|e| {
                        !matches!(
                            e.kind,
                            EventKind::Window(_) | EventKind::Timeline { hidden: true, .. }
                        )
                    })
                    .cloned()
                    .collect();
                Done::ok("events", format!("{} events", events.len())).view(View::Events(events))
            }
            Action::FlagSet { name, value } => {
                if self.flags.set(&name, value) {
                    Done::ok(
                        format!("flag set {name} {value}"),
                        format!("flag {name} is now {value}"),
                    )
                } else {
                    let known: Vec<String> = self.flags.values().into_keys().collect();
                    Done::refuse(
                        format!("flag set {name} {value}"),
                        format!("no flag `{name}` (flags: {})", list_or_none(&known)),
                    )
                }
            }
            Action::FlagList => {
                let table = self
                    .flags
                    .values()
                    .into_iter()
                    .map(|(k, v)| vec![k, v.to_string()])
                    .collect();
                Done::ok("flag list", "flags shown").view(rows(&["flag", "value"], table))
            }
            Action::AppStatus => {
                let versions = self
                    .fleet
                    .as_ref()
                    .map(|f| f.pod_versions())
                    .unwrap_or_default();
                let table = versions
                    .iter()
                    .enumerate()
                    .map(|(i, v)| vec![format!("pod-{}", i + 1), v.clone()])
                    .collect();
                let text = self
                    .rollout_text()
                    .unwrap_or_else(|| "no rollout in progress".into());
                Done::ok("app status", text).view(rows(&["pod", "version"], table))
            }
            Action::AppDeploy { version } => self.deploy(&version),
            Action::AppRollback => self.rollback(),
            Action::AppPause | Action::AppResume => {
                let pause = matches!(action, Action::AppPause);
                let word = if pause { "pause" } else { "resume" };
                let pods = self
                    .fleet
                    .as_ref()
                    .map(|f| f.pod_versions())
                    .unwrap_or_default();
                match &mut self.rollout {
                    Some(r) if r.phase(&pods) != crate::workload::Phase::Done => {
                        r.paused = pause;
                        let target = r.target.clone();
                        if !pause {
                            r.next_at_ms = r.next_at_ms.max(pending.t_ms);
                        }
                        Done::ok(
                            format!("app {word}"),
                            format!("rollout to {target} {word}d"),
                        )
                    }
                    _ => Done::refuse(
                        format!("app {word}"),
                        format!("no rollout in progress to {word}"),
                    ),
                }
            }
            Action::Note(text) => Done::ok(format!("note {text}"), "noted"),
            Action::Wait(wait) => {
                let t = pending.t_ms;
                let (until_ms, recovered, result) = match wait {
                    Wait::For(d) => (t + d.as_millis(), false, format!("waited {d}")),
                    Wait::Recovered { max } => (
                        max.map_or(u64::MAX, |d| t + d.as_millis()),
                        true,
                        "watched until the service recovered".to_string(),
                    ),
                };
                self.record_move(
                    t,
                    Move {
                        input: pending.input.trim().to_string(),
                        canonical: wait.to_string(),
                        ok: true,
                        result,
                        tags: Vec::new(),
                        state: pending.state.clone(),
                        outcome: Some(Outcome::Done),
                    },
                );
                self.waits.push(Waiting {
                    until_ms,
                    recovered,
                    pending,
                });
                return;
            }
            Action::Hint => {
                let given = self.transcript.hints();
                let done = match self.scenario.hints.get(given) {
                    Some(text) => {
                        let text = text.clone();
                        self.push(EventKind::Hint {
                            n: given + 1,
                            text: text.clone(),
                        });
                        Reply::ok(format!(
                            "hint {} of {} (costs {} points): {text}",
                            given + 1,
                            self.scenario.hints.len(),
                            self.scenario.rubric.hint_cost
                        ))
                    }
                    None => Reply::fail("no more hints"),
                };
                let _ = pending.reply.send(done);
                return;
            }
            Action::Resolve => {
                self.ended = Some(EndReason::Resolved);
                Done::ok("resolve", "incident declared resolved")
            }
            Action::MigrateStatus
            | Action::MigrateUp { .. }
            | Action::MigrateDown { .. }
            | Action::MigrateApply { .. } => {
                let scenario = self.scenario.clone();
                let url = self.db().app_url.clone();
                let canonical = as_typed(&pending.input);
                self.spawn_move_on(
                    pending,
                    canonical,
                    url,
                    Box::new(move |conn| {
                        Box::pin(super::migrations::migrate(scenario, conn, action))
                    }),
                );
                return;
            }
            Action::Sql(text) => {
                let url = self.db().app_url.clone();
                let canonical = format!("sql {text}");
                self.spawn_move_on(
                    pending,
                    canonical,
                    url,
                    Box::new(move |conn| Box::pin(sql(conn, text))),
                );
                return;
            }
            Action::SnapshotCreate { name } => return self.snapshot_create(pending, name),
            Action::SnapshotList => self.snapshot_list(),
            Action::Restore {
                snapshot,
                in_place,
                name,
            } => return self.restore(pending, snapshot, in_place, name),
            Action::Cutover { instance } => self.cutover(&instance),
            Action::Replay { since } => return self.replay(pending, since),
            Action::Repair {
                table,
                columns,
                from,
            } => return self.repair(pending, table, columns, from),
            Action::Instances => self.instances(),
            Action::Locks => return self.locks(pending),
            Action::Kill { target, terminate } => return self.kill(pending, target, terminate),
            Action::IncidentDeclare { severity } => {
                let before = self.incident.replace(severity.clone());
                let text = match before {
                    Some(b) if b != severity => {
                        format!("incident severity changed from {b} to {severity}")
                    }
                    _ => format!("{severity} incident declared: incident channel open"),
                };
                Done::ok(format!("incident declare {severity}"), text)
            }
            Action::Comms(text) => Done::ok(format!("comms {text}"), "update sent to stakeholders"),
            Action::Plan(None) => self.plan_view(),
            Action::Plan(Some(plan)) => self.plan(plan),
            Action::Decide { go, what, reason } => {
                let word = if go { "go" } else { "no-go" };
                let canonical = format!("decide {word} {what} {reason}");
                if self.scenario.migrations.get(&what).is_none() {
                    Done::refuse(canonical, unknown_migration(&self.scenario, &what))
                } else {
                    Done::ok(
                        canonical,
                        format!("decision recorded: {word} for {what} ({reason})"),
                    )
                }
            }
            Action::Approve { what, by } => Done::ok(
                format!("approve {what} by {by}"),
                format!("approval for {what} recorded from {by}"),
            ),
        };
        self.complete(pending, done);
    }

    /// Records a finished move, applies its effect and answers.
    pub(super) fn complete(&mut self, pending: Pending, done: Done) {
        match done.effect {
            Effect::None => {}
            Effect::Applied(applied) => self.applied = applied,
            Effect::Snapshot(s) => self.snapshots.push(s),
            Effect::Restored(restored) => {
                let (db, instance) = *restored;
                self.dbs.push(db);
                self.owned.push((self.dbs.len() - 1, instance));
            }
        }
        self.record_move(
            pending.t_ms,
            Move {
                input: pending.input.trim().to_string(),
                canonical: done.canonical,
                ok: done.outcome == Outcome::Done,
                result: done.text.clone(),
                tags: done.tags,
                state: pending.state,
                outcome: Some(done.outcome),
            },
        );
        let _ = pending.reply.send(Reply {
            ok: done.outcome == Outcome::Done,
            text: done.text,
            view: done.view,
        });
    }

    /// Appends a move at its time, keeping the transcript in time order.
    fn record_move(&mut self, t_ms: u64, mv: Move) {
        let event = Event {
            hash: None,
            t_ms,
            kind: EventKind::Move(mv),
        };
        if let Some(n) = &self.notices {
            let _ = n.send(event.clone());
        }
        // An attempt can break a hard stop as well as a success can.
        let attempted = matches!(&event.kind, EventKind::Move(m) if m.attempted());
        let events = &mut self.transcript.events;
        let at = events
            .iter()
            .rposition(|e| e.t_ms <= t_ms)
            .map_or(0, |i| i + 1);
        events.insert(at, event);
        if attempted {
            self.enforce_hard_stops();
        }
    }

    /// A move that breaks a hard stop fails the drill on the spot: the
    /// engine says why and ends it. Scoring decides, so the rule the
    /// learner meets live is the one the score applies.
    fn enforce_hard_stops(&mut self) {
        let has_fatal = self.scenario.rubric.forbid.iter().any(|f| f.fatal)
            || crate::scenario::GUARDRAILS.iter().any(|g| {
                g.fatal
                    && !self
                        .scenario
                        .rubric
                        .guardrails_off
                        .iter()
                        .any(|o| o == g.id)
            });
        if !has_fatal || self.ended.is_some() {
            return;
        }
        let score = crate::score::score(&self.scenario, &self.transcript);
        if !score.hard_stops.is_empty() {
            let stops: Vec<&str> = score
                .hard_stops
                .iter()
                .map(|s| s.trim_end_matches('.'))
                .collect();
            self.observe(
                crate::transcript::Level::Alert,
                format!("{}. The drill ends here.", stops.join("; ")),
            );
            self.ended = Some(EndReason::HardStop);
        }
    }

    /// DDL another client ran, seen by the audit: scored like a move.
    pub(super) fn direct_move(&mut self, row: &super::probe::Audited) {
        let mut tags = sql_tags(&row.query);
        tags.push(Tag::Direct);
        let app = if row.app.is_empty() {
            "another client"
        } else {
            row.app.as_str()
        };
        let state = self.state();
        let t = self.clock.now_ms();
        self.record_move(
            t,
            Move {
                input: format!("({app}) {}", row.query.trim()),
                canonical: format!("sql {}", row.query.trim()),
                ok: true,
                result: format!("{} seen in the DDL audit, run from {app}", row.tag),
                tags,
                state,
                outcome: Some(Outcome::Done),
            },
        );
    }

    fn plan(&mut self, plan: crate::action::Plan) -> Done {
        let mut canonical = format!(
            "plan {} {} --window {} --owner {}",
            plan.migration, plan.kind, plan.window, plan.owner
        );
        if let Some(p) = &plan.purpose {
            canonical.push_str(&format!(" --purpose {p}"));
        }
        if self.scenario.migrations.get(&plan.migration).is_none() {
            return Done::refuse(
                canonical,
                unknown_migration(&self.scenario, &plan.migration),
            );
        }
        let text = format!(
            "plan recorded: {} classified {}, rollback window {} owned by {}",
            plan.migration, plan.kind, plan.window, plan.owner
        );
        self.plans.retain(|p| p.migration != plan.migration);
        self.plans.push(plan);
        Done::ok(canonical, text)
    }

    fn plan_view(&self) -> Done {
        let table = self
            .plans
            .iter()
            .map(|p| {
                vec![
                    p.migration.clone(),
                    p.kind.clone(),
                    p.window.to_string(),
                    p.owner.clone(),
                    p.purpose.clone().unwrap_or_default(),
                ]
            })
            .collect::<Vec<_>>();
        let text = if table.is_empty() {
            "no plan yet: `plan MIGRATION expand|contract --window 24h --owner NAME`".to_string()
        } else {
            format!("{} migration(s) planned", table.len())
        };
        Done::ok("plan", text).view(rows(
            &["migration", "kind", "rollback window", "owner", "purpose"],
            table,
        ))
    }

    fn deploy(&mut self, version: &str) -> Done {
        let canonical = format!("app deploy {version}");
        if self.scenario.app.version(version).is_none() {
            let known: Vec<String> = self
                .scenario
                .app
                .versions
                .iter()
                .map(|v| v.name.clone())
                .collect();
            return Done::refuse(
                canonical,
                format!("no version `{version}` (versions: {})", known.join(", ")),
            );
        }
        if self
            .fleet
            .as_ref()
            .is_some_and(|f| f.pod_versions().iter().all(|v| v == version))
        {
            return Done::refuse(canonical, format!("every pod already runs {version}"));
        }
        let step = self.scenario.fleet.rollout_step;
        self.start_rollout(version, step.as_millis(), None);
        Done::ok(
            canonical,
            format!("rolling deploy to {version} started: one pod every {step}"),
        )
    }

    fn rollback(&mut self) -> Done {
        let Some(previous) = self.previous_version.clone() else {
            return Done::refuse(
                "app rollback",
                "nothing to roll back to: no deploy has happened",
            );
        };
        let step = self.scenario.fleet.rollout_step;
        self.start_rollout(&previous, step.as_millis(), None);
        self.previous_version = None;
        Done::ok(
            format!("app rollback {previous}"),
            format!("rolling back to {previous}: one pod every {step}"),
        )
    }

    fn rollout_text(&self) -> Option<String> {
        let r = self.rollout.as_ref()?;
        let pods = self.fleet.as_ref()?.pod_versions();
        let on = pods.iter().filter(|p| **p == r.target).count();
        let phase = match r.phase(&pods) {
            crate::workload::Phase::Rolling => "rolling",
            crate::workload::Phase::Paused => "paused",
            crate::workload::Phase::Stalled => "stalled",
            crate::workload::Phase::Done => "complete",
        };
        Some(format!(
            "rollout to {}: {phase}, {on} of {} pods",
            r.target,
            pods.len()
        ))
    }

    pub(super) fn status(&self) -> super::StatusView {
        let window = self.transcript.windows().last().cloned();
        let state = self.state();
        let pending = self
            .scenario
            .migrations
            .list
            .iter()
            .filter(|m| !state.applied.contains(&m.id))
            .map(|m| m.id.clone())
            .collect();
        let slo = &self.scenario.slo;
        let now = self.clock.now_ms();
        let timing = self.timing();
        super::StatusView {
            t_ms: now,
            window_real_secs: window.as_ref().map_or(1.0, |w| {
                ((w.end_ms - w.start_ms) as f64 / 1000.0 / self.clock.scale()).max(0.001)
            }),
            window,
            pods: state.pods,
            rollout: self.rollout_text(),
            flags: state.flags.into_iter().collect(),
            applied: state.applied,
            pending,
            incident_start_ms: timing.incident_start_ms,
            recovered: timing
                .recovered_at(now)
                .then(|| timing.recovered_ms().zip(timing.rto_ms()))
                .flatten(),
            failing_checks: timing
                .failing_at_end()
                .into_iter()
                .map(|(name, what)| format!("{name} ({what})"))
                .collect(),
            slo: format!(
                "error rate ≤ {}%, p99 ≤ {}, held for {}",
                slo.max_error_rate * 100.0,
                slo.p99,
                slo.stable_for
            ),
        }
    }
}

/// A move as typed, with its words single-spaced: its record when it is
/// stopped before it could say what it did.
pub(super) fn as_typed(input: &str) -> String {
    input.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn unknown_migration(scenario: &Scenario, id: &str) -> String {
    let known: Vec<String> = scenario
        .migrations
        .list
        .iter()
        .map(|m| m.id.clone())
        .collect();
    format!("no migration `{id}` (migrations: {})", list_or_none(&known))
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

fn help_text(topic: Option<&str>) -> String {
    if let Some(topic) = topic {
        return match crate::action::help(topic) {
            Some(h) => format!("{}\n  {}\n\n{}", h.usage, h.summary, h.detail)
                .trim_end()
                .to_string(),
            None => format!("no command `{topic}`; type `help` for the list"),
        };
    }
    let mut out = String::from("Moves (type `help COMMAND` for details):\n");
    for h in HELP {
        out.push_str(&format!("  {:<10} {}\n", h.name, h.summary));
    }
    out.trim_end().to_string()
}

async fn sql(conn: &mut sqlx::PgConnection, text: String) -> Done {
    let done = run_sql(conn, &text).await;
    Done {
        tags: sql_tags(&text),
        ..done
    }
}

async fn run_sql(conn: &mut sqlx::PgConnection, text: &str) -> Done {
    let canonical = format!("sql {text}");
    match sqlx::raw_sql(AssertSqlSafe(text.to_string()))
        .fetch_all(conn)
        .await
    {
        Ok(result) if result.is_empty() => Done::ok(canonical, "OK"),
        Ok(result) => {
            let columns: Vec<String> = result[0]
                .columns()
                .iter()
                .map(|c| c.name().to_string())
                .collect();
            let shown: Vec<Vec<String>> = result
                .iter()
                .take(20)
                .map(|row| {
                    (0..row.len())
                        .map(|i| {
                            row.try_get_unchecked::<Option<String>, _>(i)
                                .map(|v| v.unwrap_or_else(|| "NULL".into()))
                                .unwrap_or_else(|_| "?".into())
                        })
                        .collect()
                })
                .collect();
            let more = if result.len() > 20 {
                format!(" (first 20 of {})", result.len())
            } else {
                String::new()
            };
            let text = format!("{} row(s){more}", result.len());
            Done::ok(canonical, text).view(View::Rows {
                columns,
                rows: shown,
            })
        }
        Err(e @ sqlx::Error::Database(_)) => Done::fail(
            canonical,
            format!("ERROR: {}", crate::sqlstate::message(&e)),
        ),
        Err(e) => Done::fail(canonical, e.to_string()),
    }
}

//! Applying the learner's moves: [`Drill::act`] dispatches each family to
//! its own file (`fleet.rs`, `command.rs`, `data.rs`, `locks.rs`,
//! `migrations.rs`). Moves on the engine's own state (app, flags, notes,
//! waits) apply at once; moves that talk to the database run as tasks and
//! complete through [`Drill::complete`]. Every move is recorded by the
//! canonical form its action type prints.

use sqlx::{AssertSqlSafe, Column, Row};
use tokio::sync::oneshot;

use super::{Db, Drill, Pending, Reply, Snap, View, Waiting};
use crate::action::{Action, HELP, Look, Migrate, On, Snapshot, Until, Wait};
use crate::instance::Instance;
use crate::migrate::classify::classify;
use crate::transcript::{Actor, EndReason, Event, EventKind, Move, Outcome, Parsed, Tag};

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
    /// The migrations applied on the database the move ran on.
    Applied(Vec<String>),
    /// The same, on the drill's database with this index.
    AppliedOn(usize, Vec<String>),
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

/// The instance a move ran on, when the app used another one then.
pub(super) struct OnRecord {
    instance: String,
}

/// The record of a move made aside from the service: its canonical form
/// names the instance, and it carries no tags.
fn on_instance(mut done: Done, on: Option<&OnRecord>) -> Done {
    if on.is_some() {
        done.canonical = marked(done.canonical, on);
        done.tags.clear();
    }
    done
}

/// A canonical form with `--on NAME` when the move named its instance.
fn marked(canonical: String, on: Option<&OnRecord>) -> String {
    match on {
        Some(r) => On::mark(&canonical, &r.instance),
        None => canonical,
    }
}

pub(super) fn rows(columns: &[&str], rows: Vec<Vec<String>>) -> View {
    View::Rows {
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows,
    }
}

impl Drill {
    /// Plays one move.
    pub(super) fn act(
        &mut self,
        input: String,
        action: Action,
        by: Option<Actor>,
        reply: oneshot::Sender<Reply>,
    ) {
        let pending = Pending {
            t_ms: self.clock.now_ms(),
            input,
            parsed: Box::new(action.parsed()),
            by,
            state: self.state(),
            reply,
        };
        if self.clock.is_paused() && !action.changes_nothing() {
            let _ = pending.reply.send(Reply::fail(
                "the game master has paused the scenario clock: moves that change something wait until it resumes",
            ));
            return;
        }
        let done = match action {
            Action::Help(topic) => {
                let _ = pending.reply.send(Reply::ok(help_text(topic.as_deref())));
                return;
            }
            Action::Look(Look::Status) => Done::ok(Look::Status.to_string(), "status shown")
                .view(View::Status(Box::new(self.status()))),
            Action::Look(Look::Events) => self.events(),
            Action::Look(Look::Instances) => self.instances(),
            Action::Look(Look::Locks) => return self.locks(pending),
            Action::Flag(flag) => self.flag(flag),
            Action::App(app) => self.app(app, pending.t_ms),
            Action::Migrate(order) => return self.migrate(pending, self.serving, order, None),
            Action::Snapshot(Snapshot::Create { name, logical }) => {
                return self.snapshot_create(pending, name, logical);
            }
            Action::Snapshot(Snapshot::List) => self.snapshot_list(),
            Action::Recover(recover) => return self.recover(pending, recover),
            Action::Kill(order) => return self.kill(pending, order),
            Action::Incident(incident) => self.incident(incident),
            Action::Change(change) => self.change(change),
            Action::Sql(text) => return self.sql(pending, self.serving, text, None),
            Action::Workers(order) => self.workers_move(order),
            Action::On(on) => return self.on(pending, on),
            Action::Wait(wait) => return self.wait(pending, wait),
            Action::Hint => return self.hint(pending),
            Action::Resolve => {
                self.ended = Some(EndReason::Resolved);
                Done::ok(Action::Resolve.to_string(), "incident declared resolved")
            }
        };
        self.complete(pending, done);
    }

    /// `events`: what has happened so far, without the metrics windows and
    /// the timeline's hidden entries.
    fn events(&self) -> Done {
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
        Done::ok(Look::Events.to_string(), format!("{} events", events.len()))
            .view(View::Events(events))
    }

    /// A migration move runs as a task on its own connection to database
    /// `db`; `on` names it in the record.
    fn migrate(&mut self, pending: Pending, db: usize, order: Migrate, on: Option<OnRecord>) {
        let scenario = self.scenario.clone();
        let canonical = marked(Action::Migrate(order.clone()).to_string(), on.as_ref());
        self.spawn_move_on(
            pending,
            canonical,
            db,
            Box::new(move |conn| {
                Box::pin(async move {
                    let done = super::migrations::migrate(scenario, conn, order).await;
                    let effect = match done.effect {
                        Effect::Applied(applied) => Effect::AppliedOn(db, applied),
                        other => other,
                    };
                    on_instance(Done { effect, ..done }, on.as_ref())
                })
            }),
        );
    }

    /// `sql`: runs as the app's role on database `db`, as a task; `on`
    /// names it in the record.
    fn sql(&mut self, pending: Pending, db: usize, text: String, on: Option<OnRecord>) {
        let canonical = marked(Action::Sql(text.clone()).to_string(), on.as_ref());
        self.spawn_move_on(
            pending,
            canonical,
            db,
            Box::new(move |conn| {
                Box::pin(async move { on_instance(sql(conn, text).await, on.as_ref()) })
            }),
        );
    }

    /// `sql --on NAME`, `migrate ... --on NAME`: the move runs on that
    /// instance of the drill, whichever the app uses.
    fn on(&mut self, pending: Pending, on: On) {
        let Some(db) = self.db_named(&on.instance) else {
            let names: Vec<String> = self.dbs.iter().map(|d| d.target.name.clone()).collect();
            let text = format!(
                "no instance `{}` (instances: {})",
                on.instance,
                names.join(", ")
            );
            self.complete(pending, Done::refuse(on.to_string(), text));
            return;
        };
        // Run on an instance the app does not use, a move cannot harm the
        // service: it is recorded with the instance's name and without the
        // tags that rules about the service read (contract, destructive,
        // corrective). On the one it uses, it is the plain move.
        let record = (db != self.serving).then(|| OnRecord {
            instance: on.instance.clone(),
        });
        match *on.action {
            Action::Sql(text) => self.sql(pending, db, text, record),
            Action::Migrate(order) => self.migrate(pending, db, order, record),
            other => {
                let text = format!("`{other}` does not run on another instance");
                let canonical = On::mark(&other.to_string(), &on.instance);
                self.complete(pending, Done::refuse(canonical, text));
            }
        }
    }

    /// `wait`: recorded at once; answered when the tick finds it due.
    fn wait(&mut self, pending: Pending, wait: Wait) {
        let t = pending.t_ms;
        if let Some(Until::Version(v)) = wait.until()
            && self.scenario.app.version(v).is_none()
        {
            let known: Vec<&str> = self
                .scenario
                .app
                .versions
                .iter()
                .map(|v| v.name.as_str())
                .collect();
            let text = format!("no version `{v}` (versions: {})", known.join(", "));
            self.complete(pending, Done::refuse(Action::Wait(wait).to_string(), text));
            return;
        }
        let until = wait.until().cloned();
        let until_ms = wait.max().map_or(u64::MAX, |d| t + d.as_millis());
        let result = match &wait {
            Wait::For(d) => format!("waited {d}"),
            Wait::Until { until, .. } => match until {
                Until::Recovered => "watched until the service recovered".to_string(),
                Until::Incident => "watched until an incident began".to_string(),
                Until::Rollout => "watched until a rollout began".to_string(),
                Until::Version(v) => format!("watched until every pod ran {v}"),
            },
        };
        self.record_move(
            t,
            Move {
                input: pending.input.trim().to_string(),
                canonical: Action::Wait(wait).to_string(),
                ok: true,
                result,
                tags: Vec::new(),
                state: pending.state.clone(),
                outcome: Some(Outcome::Done),
                parsed: Some(pending.parsed.clone()),
                by: pending.by.clone(),
            },
        );
        self.waits.push(Waiting {
            wait: super::decide::WaitFor { until_ms, until },
            pending,
        });
    }

    /// `hint`: the next of the scenario's hints, as an event.
    fn hint(&mut self, pending: Pending) {
        let given = self.transcript.hints();
        let reply = match self.scenario.hints.get(given) {
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
        let _ = pending.reply.send(reply);
    }

    /// Records a finished move, applies its effect and answers.
    pub(super) fn complete(&mut self, pending: Pending, done: Done) {
        match done.effect {
            Effect::None => {}
            Effect::Applied(applied) => self.applied = applied,
            Effect::AppliedOn(db, applied) if db == self.serving => self.applied = applied,
            Effect::AppliedOn(db, applied) => {
                if let Some(d) = self.dbs.get_mut(db) {
                    d.applied = applied;
                }
            }
            Effect::Snapshot(s) => self.snapshots.push(s),
            Effect::Restored(restored) => {
                let (db, instance) = *restored;
                self.dbs.push(db);
                self.owned.push((self.dbs.len() - 1, instance));
                self.expose_newest();
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
                parsed: Some(pending.parsed),
                by: pending.by,
            },
        );
        let _ = pending.reply.send(Reply {
            ok: done.outcome == Outcome::Done,
            text: done.text,
            view: done.view,
        });
    }

    /// Appends a move at its time, keeping the transcript in time order.
    pub(super) fn record_move(&mut self, t_ms: u64, mv: Move) {
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
                canonical: Action::Sql(row.query.trim().to_string()).to_string(),
                ok: true,
                result: format!("{} seen in the DDL audit, run from {app}", row.tag),
                tags,
                state,
                outcome: Some(Outcome::Done),
                parsed: Some(Box::new(Parsed::Act)),
                by: None,
            },
        );
    }
}

pub(super) fn list_or_none(items: &[String]) -> String {
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
    let canonical = Action::Sql(text.to_string()).to_string();
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

//! What people type in psql, through the drill's endpoints
//! ([`crate::service`]): the service address follows the cutover, each
//! instance has its own, and every statement run through them is a move
//! in the transcript, reads included (runbook 003's verification is
//! SELECTs: the tracking table, `to_regclass`, counts).

use std::collections::BTreeSet;

use tokio::sync::mpsc;

use super::apply::sql_tags;
use super::{Drill, Target};
use crate::action::{Action, On};
use crate::migrate::classify::classify;
use crate::service::{Seen, Service, Typed, Upstream, url_at};
use crate::transcript::{Move, Outcome, Parsed, Tag};

/// The drill's endpoints and what they report.
#[derive(Default)]
pub(super) struct Endpoints {
    service: Option<Service>,
    seen: Option<mpsc::UnboundedReceiver<Seen>>,
    /// Server processes of sessions through the endpoints, by instance:
    /// the DDL audit leaves their statements to the endpoints.
    proxied: BTreeSet<(String, i32)>,
}

impl Target {
    /// This database with `like`'s application password. A restored copy
    /// keeps the credentials of the database it copies, as a provider's
    /// restore does, so the service address reaches it after the cutover
    /// with the password people were given. Unchanged if that fails.
    pub(super) async fn with_password_of(mut self, like: &Target) -> Target {
        let (mine, theirs) = (&self.info.app, &like.info.app);
        if mine.user != theirs.user || mine.password == theirs.password {
            return self;
        }
        let sql = format!(
            "ALTER ROLE {} PASSWORD '{}'",
            crate::migrate::quote_ident(&mine.user),
            theirs.password.replace('\'', "''")
        );
        let Ok(mut conn) =
            crate::instance::connect_as(&self.superuser_url, "pgdrill-restore", None).await
        else {
            return self;
        };
        if sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .is_ok()
        {
            self.info.app.password = theirs.password.clone();
            self.app_url = self.info.url_for(&self.info.app);
        }
        self
    }

    /// Where an endpoint sends sessions for this database.
    pub fn upstream(&self) -> Upstream {
        Upstream {
            name: self.name.clone(),
            host: self.info.host.clone(),
            port: self.info.port,
        }
    }
}

impl Drill {
    /// Gives the drill its endpoints (opened on the primary, see
    /// [`Service::open`]) and what they see.
    pub fn with_service(mut self, service: Service, seen: mpsc::UnboundedReceiver<Seen>) -> Drill {
        self.endpoints.service = Some(service);
        self.endpoints.seen = Some(seen);
        self
    }

    /// What the endpoints see, for the loop (a closed channel without
    /// them).
    pub(super) fn take_seen(&mut self) -> mpsc::UnboundedReceiver<Seen> {
        self.endpoints
            .seen
            .take()
            .unwrap_or_else(|| mpsc::unbounded_channel().1)
    }

    /// Routes the service address to the instance the app now uses.
    pub(super) fn route_service(&self) {
        if let Some(s) = &self.endpoints.service {
            s.route(self.db().upstream());
        }
    }

    /// Opens the newest instance's own endpoint.
    pub(super) fn expose_newest(&mut self) {
        let Some(target) = self.dbs.last().map(|d| d.target.upstream()) else {
            return;
        };
        if let Some(s) = &mut self.endpoints.service
            && let Err(e) = s.expose(target.clone())
        {
            self.observe(
                crate::transcript::Level::Info,
                format!(
                    "{} has no address through pgdrill ({e}): statements typed on its own address are not recorded",
                    target.name
                ),
            );
        }
    }

    /// The psql URL of database `db`: through its endpoint, when it has
    /// one.
    pub(super) fn psql_url(&self, db: usize) -> String {
        let target = &self.dbs[db].target;
        self.endpoints
            .service
            .as_ref()
            .and_then(|s| s.addr_of(&target.name))
            .map_or_else(|| target.app_url.clone(), |a| url_at(&target.app_url, a))
    }

    /// The service address's psql URL (it follows the cutover).
    pub fn service_url(&self) -> Option<String> {
        let s = self.endpoints.service.as_ref()?;
        Some(url_at(&self.dbs[0].target.app_url, s.addr()))
    }

    /// Whether the audit should leave this row to the endpoints.
    pub(super) fn proxied(&self, db: usize, pid: Option<i32>) -> bool {
        pid.is_some_and(|pid| {
            self.endpoints
                .proxied
                .contains(&(self.dbs[db].target.name.clone(), pid))
        })
    }

    /// Takes in what an endpoint saw.
    pub(super) fn seen(&mut self, seen: Seen) {
        match seen {
            Seen::Opened { instance, pid } => {
                self.endpoints.proxied.insert((instance, pid));
            }
            Seen::Ran(typed) => self.typed(typed),
        }
    }

    /// A statement typed through an endpoint, recorded as the `sql` move
    /// that would have run it: `sql TEXT` on the instance the app uses,
    /// `sql --on NAME TEXT` on another (tagged as nothing, since it cannot
    /// harm the service).
    fn typed(&mut self, t: Typed) {
        let aside = t.instance != self.db().name;
        // One line, as a `sql` move is: psql sends its own queries (`\d`)
        // over many.
        let text = t.sql.split_whitespace().collect::<Vec<_>>().join(" ");
        let sql = Action::Sql(text.clone());
        let canonical = if aside {
            On::mark(&sql.to_string(), &t.instance)
        } else {
            sql.to_string()
        };
        let class = classify(&text);
        let mut tags = if aside { Vec::new() } else { sql_tags(&text) };
        tags.push(Tag::Direct);
        let client = if t.app.is_empty() {
            "another client".to_string()
        } else {
            t.app.clone()
        };
        let through = if t.via_service {
            "the service address"
        } else {
            "its own address"
        };
        let (outcome, result) = match &t.error {
            None => (
                Outcome::Done,
                format!("typed in {client} on {} ({through})", t.instance),
            ),
            Some(e) => (Outcome::Failed, format!("ERROR: {e}")),
        };
        let state = self.state();
        let t_ms = self.clock.now_ms();
        let mv = Move {
            input: format!("({client} on {}) {text}", t.instance),
            canonical,
            ok: outcome == Outcome::Done,
            result,
            tags,
            state,
            outcome: Some(outcome),
            parsed: Some(Box::new(
                if class.writes || class.destructive || class.contract {
                    Parsed::Act
                } else {
                    Parsed::Look
                },
            )),
            by: None,
        };
        self.record_move(t_ms, mv);
    }
}

//! The app as HTTP clients meet it, on the fleet's side: one request sent
//! by a pod of the current fleet, running that pod's version's SQL on the
//! pod's own pool, counted in the metrics and the write ledger like the
//! pod's own traffic. `http.rs` puts routes in front of it.
//!
//! Routes come from endpoint names: `GET /orders/:id` answers
//! `GET /orders/42` (`(password)` after a name labels one of several flows
//! behind the same route). Values the request gives fill the statement's
//! `$1, $2, ...` in order (the path's `:params`, then the query string's
//! values, then a JSON body's); the rest are drawn as the pods draw them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use rand::SeedableRng;
use rand::rngs::ChaCha8Rng;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Column, Row, TypeInfo, ValueRef};
use tokio::sync::Semaphore;

use super::{Fleet, InFlight, Outcome, Sample, Version, error_code, params};
use crate::scenario::{Endpoint, ParamGen};

/// Rows a response carries at most.
pub const MAX_ROWS: usize = 100;

/// Requests the front lets wait at once before it sheds load.
const MAX_WAITING: usize = 64;

/// A handle on the running fleet for single requests.
#[derive(Clone)]
pub struct Front {
    fleet: Arc<Shared>,
}

struct Shared {
    versions: Arc<Vec<Version>>,
    pods: Vec<Arc<AtomicUsize>>,
    pools: Vec<Arc<std::sync::RwLock<(usize, super::Conns)>>>,
    in_flight: InFlight,
    flags: super::Flags,
    samples: tokio::sync::mpsc::UnboundedSender<Sample>,
    next_pod: AtomicUsize,
    draw: Mutex<(params::Generator, ChaCha8Rng)>,
    waiting: Arc<Semaphore>,
}

/// What became of a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The statement ran: its rows (at most [`MAX_ROWS`]).
    Rows {
        /// Who answered: `pod-2 (v1)`.
        served_by: String,
        /// Each row, column name to value.
        rows: Vec<serde_json::Map<String, serde_json::Value>>,
    },
    /// It failed: the SQLSTATE (or `pool_timeout`, `connection`) and the
    /// database's message.
    Failed {
        /// Who answered.
        served_by: String,
        /// The code.
        code: String,
        /// The message.
        message: String,
    },
    /// No endpoint of the answering pod's version has this route.
    NotFound(String),
    /// A value the request gave does not fit its parameter.
    BadValue(String),
    /// Too many requests wait already (HTTP 503).
    Overloaded,
}

impl Fleet {
    /// A handle for single requests, sent by the fleet's pods.
    pub fn front(&self, rows: std::collections::BTreeMap<String, u64>, seed: u64) -> Front {
        Front {
            fleet: Arc::new(Shared {
                versions: self.versions.clone(),
                pods: self.pods.clone(),
                pools: self.pools.clone(),
                in_flight: self.in_flight.clone(),
                flags: self.flags.clone(),
                samples: self.samples.clone(),
                next_pod: AtomicUsize::new(0),
                // Its own pod number, so the emails it makes up are its own.
                draw: Mutex::new((
                    params::Generator::new(9_999, rows),
                    ChaCha8Rng::seed_from_u64(seed ^ 0x00F0_0D00),
                )),
                waiting: Arc::new(Semaphore::new(MAX_WAITING)),
            }),
        }
    }
}

/// A route of an endpoint name: its method and path pattern
/// (`POST /login (sms)` is `POST` `/login`).
pub fn route_of(name: &str) -> Option<(&str, &str)> {
    let (method, rest) = name.split_once(' ')?;
    let path = rest.split(" (").next().unwrap_or(rest).trim();
    path.starts_with('/').then_some((method, path))
}

/// The values a path gives a pattern's `:params`, if it matches.
pub fn matches(pattern: &str, path: &str) -> Option<Vec<String>> {
    let want: Vec<&str> = pattern.trim_end_matches('/').split('/').collect();
    let got: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    if want.len() != got.len() {
        return None;
    }
    let mut values = Vec::new();
    for (w, g) in want.iter().zip(&got) {
        if w.starts_with(':') {
            if g.is_empty() {
                return None;
            }
            values.push((*g).to_string());
        } else if w != g {
            return None;
        }
    }
    Some(values)
}

/// A value the request gave, read as its parameter's type.
fn value_for(generator: &ParamGen, given: &str) -> Result<params::Value, String> {
    match generator {
        ParamGen::ExistingId { .. } | ParamGen::Int { .. } => given
            .trim()
            .parse::<i64>()
            .map(params::Value::Int)
            .map_err(|_| format!("`{given}` is not an integer")),
        _ => Ok(params::Value::Text(given.to_string())),
    }
}

impl Front {
    /// Every route the scenario's versions answer, once each.
    pub fn routes(&self) -> Vec<String> {
        let mut routes: Vec<String> = self
            .fleet
            .versions
            .iter()
            .flat_map(|v| v.endpoints.iter())
            .filter_map(|(name, _)| route_of(name).map(|(m, p)| format!("{m} {p}")))
            .collect();
        routes.sort();
        routes.dedup();
        routes
    }

    /// How many pods run, and the version of each.
    pub fn pods(&self) -> Vec<String> {
        self.fleet
            .pods
            .iter()
            .map(|p| {
                self.fleet.versions[p.load(Ordering::Relaxed)]
                    .name
                    .to_string()
            })
            .collect()
    }

    /// Whether some pod can reach the database: a `SELECT 1` on its pool.
    pub async fn probe(&self) -> Result<(), String> {
        let Some(slot) = self.fleet.pools.first() else {
            return Err("no pod is running".into());
        };
        let pool = slot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .1
            .clone();
        let probe = pool.fetch_optional(|| sqlx::query("SELECT 1"));
        match tokio::time::timeout(std::time::Duration::from_secs(1), probe).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(format!("the database refuses the pods: {}", error_code(&e))),
            Err(_) => Err("the database did not answer the pods within 1s".into()),
        }
    }

    /// Sends one request: the next pod in turn answers it with its
    /// version's endpoint for the route.
    pub async fn call(&self, method: &str, path: &str, given: Vec<String>) -> Answer {
        let f = &self.fleet;
        if f.pods.is_empty() {
            return Answer::NotFound("no pod is running".into());
        }
        let pod = f.next_pod.fetch_add(1, Ordering::Relaxed) % f.pods.len();
        let version = &f.versions[f.pods[pod].load(Ordering::Relaxed)];
        let served_by = format!("pod-{} ({})", pod + 1, version.name);
        let Some((endpoint, spec, from_path)) = self.pick(version, method, path) else {
            return Answer::NotFound(format!(
                "{served_by} has no {method} {path}; the app's routes: {}",
                self.routes().join(", ")
            ));
        };
        let mut given = from_path.into_iter().chain(given);
        let mut values = Vec::with_capacity(spec.params.len());
        {
            let mut draw = f.draw.lock().unwrap_or_else(PoisonError::into_inner);
            let (generator, rng) = &mut *draw;
            for p in &spec.params {
                values.push(match given.next() {
                    Some(v) => match value_for(p, &v) {
                        Ok(v) => v,
                        Err(e) => return Answer::BadValue(e),
                    },
                    None => generator.value(p, rng),
                });
            }
        }
        let Ok(_permit) = f.waiting.clone().try_acquire_owned() else {
            return Answer::Overloaded;
        };
        let (db, pool) = f.pools[pod]
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        *f.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(db)
            .or_default() += 1;
        let started = Instant::now();
        let result = fetch(&pool, &spec, &values).await;
        let outcome = match &result {
            Ok(rows) => {
                let row = rows.first().filter(|_| spec.write);
                Outcome::Ok {
                    write: spec.write,
                    written: row.and_then(super::returned_key),
                    value: row.and_then(super::returned_value),
                }
            }
            Err(e) => Outcome::Failed(error_code(e)),
        };
        let _ = f.samples.send(Sample {
            pod,
            db,
            version: version.name.clone(),
            endpoint,
            latency: started.elapsed(),
            outcome,
        });
        if let Some(n) = f
            .in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&db)
        {
            *n = n.saturating_sub(1);
        }
        match result {
            Ok(rows) => Answer::Rows {
                served_by,
                rows: rows.iter().take(MAX_ROWS).map(to_json).collect(),
            },
            Err(e) => Answer::Failed {
                served_by,
                code: error_code(&e),
                message: match &e {
                    sqlx::Error::Database(db) => db.message().to_string(),
                    other => other.to_string(),
                },
            },
        }
    }

    /// The endpoint of `version` for a route, among those its flags allow
    /// for this request (by weight, as a pod picks), with the path's values.
    fn pick(
        &self,
        version: &Version,
        method: &str,
        path: &str,
    ) -> Option<(Arc<str>, Arc<Endpoint>, Vec<String>)> {
        let mut rng = rand::rng();
        let flags = &self.fleet.flags;
        let candidates: Vec<(&Arc<str>, &Arc<Endpoint>, Vec<String>)> = version
            .endpoints
            .iter()
            .filter_map(|(name, spec)| {
                let (m, pattern) = route_of(name)?;
                if !m.eq_ignore_ascii_case(method) {
                    return None;
                }
                let allowed = spec
                    .flag
                    .as_deref()
                    .is_none_or(|f| flags.on_for(f, &mut rng))
                    && spec
                        .unless_flag
                        .as_deref()
                        .is_none_or(|f| !flags.on_for(f, &mut rng));
                allowed
                    .then(|| matches(pattern, path))
                    .flatten()
                    .map(|values| (name, spec, values))
            })
            .collect();
        let total: u32 = candidates.iter().map(|c| c.1.weight.max(1)).sum();
        let mut pick = rand::RngExt::random_range(&mut rng, 0..total.max(1));
        candidates
            .into_iter()
            .find(|c| {
                let w = c.1.weight.max(1);
                if pick < w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map(|(n, s, v)| (n.clone(), s.clone(), v))
    }
}

async fn fetch(
    pool: &super::Conns,
    spec: &Endpoint,
    values: &[params::Value],
) -> Result<Vec<PgRow>, sqlx::Error> {
    pool.fetch_all(|| {
        let mut query = sqlx::query(AssertSqlSafe(spec.sql.as_str()));
        for v in values {
            query = match v {
                params::Value::Int(i) => query.bind(*i),
                params::Value::Text(t) => query.bind(t.clone()),
            };
        }
        query
    })
    .await
}

/// A write's key: the first column of its first row.
/// A row as JSON: numbers, text, booleans and times as they are; a type
/// this reader does not decode is named instead of guessed at.
fn to_json(row: &PgRow) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::Value as J;
    row.columns()
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let null = row.try_get_raw(i).map_or(true, |v| v.is_null());
            let value = if null {
                J::Null
            } else {
                match c.type_info().name() {
                    "INT2" => row.try_get::<i16, _>(i).map_or(J::Null, J::from),
                    "INT4" => row.try_get::<i32, _>(i).map_or(J::Null, J::from),
                    "INT8" => row.try_get::<i64, _>(i).map_or(J::Null, J::from),
                    "FLOAT4" => row.try_get::<f32, _>(i).map_or(J::Null, J::from),
                    "FLOAT8" => row.try_get::<f64, _>(i).map_or(J::Null, J::from),
                    "BOOL" => row.try_get::<bool, _>(i).map_or(J::Null, J::Bool),
                    "TEXT" | "VARCHAR" | "BPCHAR" | "NAME" => {
                        row.try_get::<String, _>(i).map_or(J::Null, J::String)
                    }
                    "TIMESTAMPTZ" | "TIMESTAMP" => row
                        .try_get_unchecked::<i64, _>(i)
                        .map_or(J::Null, |micros| J::String(timestamp(micros))),
                    other => J::String(format!("({} value)", other.to_lowercase())),
                }
            };
            (c.name().to_string(), value)
        })
        .collect()
}

/// PostgreSQL's binary timestamp (microseconds since 2000-01-01 UTC) in
/// RFC 3339, through the calendar `text::utc` already keeps (times before
/// 1970 read as 1970).
fn timestamp(micros: i64) -> String {
    const UNIX_2000: i64 = 946_684_800;
    let secs = micros
        .div_euclid(1_000_000)
        .saturating_add(UNIX_2000)
        .max(0) as u64;
    format!("{}Z", crate::text::utc(secs).replacen(' ', "T", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_come_from_endpoint_names_and_match_paths() {
        assert_eq!(route_of("GET /orders/:id"), Some(("GET", "/orders/:id")));
        assert_eq!(route_of("POST /login (sms)"), Some(("POST", "/login")));
        assert_eq!(route_of("read"), None);
        assert_eq!(route_of("GET profile"), None);
        assert_eq!(
            matches("/orders/:id", "/orders/42"),
            Some(vec!["42".to_string()])
        );
        assert_eq!(matches("/profile", "/profile/"), Some(vec![]));
        assert_eq!(matches("/orders/:id", "/orders/"), None);
        assert_eq!(matches("/orders/:id", "/orders/1/2"), None);
        assert_eq!(matches("/profile", "/signup"), None);
    }

    #[test]
    fn a_given_value_is_read_as_its_parameter_type() {
        let id = ParamGen::ExistingId {
            table: "users".into(),
        };
        assert_eq!(value_for(&id, "42"), Ok(params::Value::Int(42)));
        assert!(value_for(&id, "42; DROP TABLE users").is_err());
        assert_eq!(
            value_for(&ParamGen::NewName, "Ada"),
            Ok(params::Value::Text("Ada".into()))
        );
    }

    #[test]
    fn binary_timestamps_read_as_rfc3339() {
        assert_eq!(timestamp(0), "2000-01-01T00:00:00Z");
        assert_eq!(timestamp(-1_000_000), "1999-12-31T23:59:59Z");
        // 2026-12-01T23:20:16Z
        assert_eq!(timestamp(849_482_416_000_000), "2026-12-01T23:20:16Z");
    }
}

//! The app's HTTP face: what the runbooks' `curl "$API_BASE_URL/..."`
//! checks reach while a drill runs.
//!
//! - `GET /health/ready`: 200 while a pod runs and reaches the database,
//!   else 503 with the reason (a readiness probe).
//! - `GET /api/health`: 200 when the last metrics window met the SLO, else
//!   503 with its error rate and top SQLSTATE.
//! - every endpoint of the scenario's versions as a route, answered by a
//!   pod of the current fleet ([`Front`]): 200 with the rows as JSON, or a
//!   5xx whose body carries the SQLSTATE (504 for a statement timeout, 503
//!   when the pool or the database cannot be reached), counted in the
//!   drill's metrics like the pods' own requests.
//!
//! The engine keeps two watches current: the front once the fleet runs,
//! and the last window with its verdict.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, RawQuery, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::sync::watch;

use super::{Answer, Front};
use crate::transcript::Window;

/// The largest request body the app reads.
pub const BODY_LIMIT: usize = 16 * 1024;

/// What the engine tells the app's face.
#[derive(Clone, Default)]
pub struct Face {
    /// The fleet, once it runs (and `None` again once it stopped).
    pub front: Option<Front>,
    /// The last metrics window, and whether it met the SLO.
    pub last: Option<(Arc<Window>, bool)>,
}

/// The routes, over what the engine keeps current.
pub fn router(face: watch::Receiver<Face>) -> axum::Router {
    axum::Router::new()
        .route("/health/ready", get(ready))
        .route("/api/health", get(health))
        .fallback(endpoint)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(face)
}

type Shared = State<watch::Receiver<Face>>;

fn unavailable(reason: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "unavailable", "reason": reason })),
    )
        .into_response()
}

async fn ready(State(face): Shared) -> Response {
    let Some(front) = face.borrow().front.clone() else {
        return unavailable(
            "the app's pods are not running (they are starting, or the drill is over)",
        );
    };
    let pods = front.pods();
    if pods.is_empty() {
        return unavailable("no pod is running");
    }
    match front.probe().await {
        Ok(()) => Json(json!({ "status": "ready", "pods": pods })).into_response(),
        Err(reason) => unavailable(&reason),
    }
}

async fn health(State(face): Shared) -> Response {
    let last = face.borrow().last.clone();
    let Some((window, healthy)) = last else {
        return unavailable("no metrics window has closed yet");
    };
    let body = json!({
        "status": if healthy { "ok" } else { "failing" },
        "requests": window.requests,
        "error_rate": window.error_rate(),
        "p99_ms": window.p99_ms,
        "top_sqlstate": window.top_error().map(|(code, _)| code),
    });
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn endpoint(
    State(face): Shared,
    method: Method,
    uri: Uri,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let Some(front) = face.borrow().front.clone() else {
        return unavailable(
            "the app's pods are not running (they are starting, or the drill is over)",
        );
    };
    let mut given: Vec<String> = query.as_deref().map(form_values).unwrap_or_default();
    match body_values(&body) {
        Ok(values) => given.extend(values),
        Err(e) => {
            return (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response();
        }
    }
    match front.call(method.as_str(), uri.path(), given).await {
        Answer::Rows { served_by, rows } => {
            Json(json!({ "served_by": served_by, "rows": rows })).into_response()
        }
        Answer::Failed {
            served_by,
            code,
            message,
        } => {
            let status = match code.as_str() {
                "57014" => StatusCode::GATEWAY_TIMEOUT,
                "pool_timeout" | "connection" => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::INTERNAL_SERVER_ERROR,
            };
            let body = json!({ "error": message, "sqlstate": code, "served_by": served_by });
            (status, Json(body)).into_response()
        }
        Answer::NotFound(e) => (StatusCode::NOT_FOUND, Json(json!({ "error": e }))).into_response(),
        Answer::BadValue(e) => {
            (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response()
        }
        Answer::Overloaded => unavailable("overloaded: too many requests wait already"),
    }
}

/// The values of a query string, in order (`?id=42&x=a%20b`: 42, "a b").
fn form_values(query: &str) -> Vec<String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let value = pair.split_once('=').map_or(pair, |(_, v)| v);
            percent_decode(&value.replace('+', " "))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(h), Some(l)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            )
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The values of a JSON body, in order: an object's values as written, an
/// array's items, or one scalar. Empty: none.
fn body_values(body: &[u8]) -> Result<Vec<String>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let ordered: Ordered = serde_json::from_slice(body)
        .map_err(|e| format!("the body must be JSON (an object, an array or a value): {e}"))?;
    Ok(ordered.0)
}

/// JSON values in the order the document writes them.
struct Ordered(Vec<String>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Ordered, D::Error> {
        struct Visit;
        fn text(v: serde_json::Value) -> String {
            match v {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }
        }
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object, array or value")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((_, v)) = m.next_entry::<String, serde_json::Value>()? {
                    out.push(text(v));
                }
                Ok(Ordered(out))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut s: A,
            ) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = s.next_element::<serde_json::Value>()? {
                    out.push(text(v));
                }
                Ok(Ordered(out))
            }
            fn visit_str<E>(self, v: &str) -> Result<Ordered, E> {
                Ok(Ordered(vec![v.to_string()]))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Ordered, E> {
                Ok(Ordered(vec![v.to_string()]))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Ordered, E> {
                Ok(Ordered(vec![v.to_string()]))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Ordered, E> {
                Ok(Ordered(vec![v.to_string()]))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Ordered, E> {
                Ok(Ordered(vec![v.to_string()]))
            }
        }
        d.deserialize_any(Visit)
    }
}

/// Serves the app on `listener` until the task is aborted.
pub fn serve(
    listener: tokio::net::TcpListener,
    face: watch::Receiver<Face>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router(face)).await {
            tracing::warn!("the app's HTTP face stopped: {e}");
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_values_come_in_the_order_written() {
        assert_eq!(
            form_values("id=42&name=Ada+L%C3%B6f&&x"),
            ["42", "Ada Löf", "x"]
        );
        assert_eq!(
            body_values(br#"{"name": "Ada", "email": "a@x", "age": 3}"#).unwrap(),
            ["Ada", "a@x", "3"]
        );
        assert_eq!(body_values(b"[1, \"b\"]").unwrap(), ["1", "b"]);
        assert_eq!(body_values(b"  ").unwrap(), Vec::<String>::new());
        assert!(body_values(b"{\"a\": ").is_err());
        assert_eq!(
            percent_decode("%zz%4"),
            "%zz%4",
            "broken escapes stay as they are"
        );
    }
}

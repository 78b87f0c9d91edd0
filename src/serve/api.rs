//! The HTTP API of a served drill (axum): who am I, send a line, follow
//! the feed, look at the status.
//!
//! Every route needs a participant's token (`Authorization: Bearer T`):
//! none or a wrong one is 401 and changes nothing. A line goes through the
//! same gates in the same order for everyone: the participant's rate
//! limit (429), the body's shape (400, and 413 past [`BODY_LIMIT`]), the
//! language (400, with the usage), the role (403, with who may), and only
//! then the engine, which applies lines in the order they arrive. Errors
//! are JSON `{"error": "..."}`; no response carries a token.

use std::convert::Infallible;
use std::sync::{Arc, PoisonError};
use std::time::Instant;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::roles::{Line, Role, permit};
use super::{Desk, Participant, tokens};
use crate::drill::Command;
use crate::transcript::{EndReason, EventKind};

/// The largest request body: a move is a line, a few kilobytes at most.
pub const BODY_LIMIT: usize = 16 * 1024;

/// The routes.
pub(super) fn router(desk: Arc<Desk>) -> axum::Router {
    axum::Router::new()
        .route("/api/me", get(me))
        .route("/api/moves", post(moves))
        .route("/api/events", get(events))
        .route("/api/status", get(status))
        .route("/", get(super::page::front))
        .route("/live", get(super::page::live))
        .route("/move", post(super::page::form_move))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(desk)
}

/// An error answer.
pub(super) struct Refusal(pub StatusCode, pub String);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = (self.0, Json(ErrorBody { error: self.1 })).into_response();
        if self.0 == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// The body of an error.
#[derive(Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong and what to do.
    pub error: String,
}

async fn not_found() -> Refusal {
    Refusal(
        StatusCode::NOT_FOUND,
        "no such page: the live page is /, the API /api/me, /api/moves, /api/events and /api/status".into(),
    )
}

impl Desk {
    /// The participant whose token the request carries.
    pub(super) fn who(&self, headers: &HeaderMap) -> Result<&Participant, Refusal> {
        let given = bearer(headers).or_else(|| cookie(headers));
        let Some(given) = given else {
            return Err(Refusal(
                StatusCode::UNAUTHORIZED,
                "no token: send `Authorization: Bearer TOKEN` with the token `pgdrill serve` printed for you".into(),
            ));
        };
        let all: Vec<&tokens::Token> = self.participants.iter().map(|p| &p.token).collect();
        match tokens::find(&all, given.trim()) {
            Some(i) => Ok(&self.participants[i]),
            None => Err(Refusal(
                StatusCode::UNAUTHORIZED,
                "this token opens no seat of this drill: check it, or ask whoever runs `pgdrill serve`".into(),
            )),
        }
    }

    /// Takes one move's worth of the participant's rate limit.
    pub(super) fn spend(&self, who: &Participant) -> Result<(), Refusal> {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets
            .entry(who.name.clone())
            .or_insert_with(|| super::limit::Bucket::new(Instant::now()));
        bucket.take(Instant::now()).map_err(|wait| {
            Refusal(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "too many moves at once: at most {} a second; try again in {} ms",
                    super::limit::PER_SECOND,
                    wait.as_millis().max(1)
                ),
            )
        })
    }
}

/// The token of an `Authorization: Bearer` header.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

/// The token a browser keeps in its cookie, after a first visit.
pub(super) fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(super::COOKIE)?.strip_prefix('='))
}

/// Who the token belongs to, and the drill they are in.
#[derive(Debug, Serialize, Deserialize)]
pub struct Me {
    /// Their name.
    pub name: String,
    /// Their role.
    pub role: String,
    /// The scenario's id.
    pub scenario: String,
    /// Its title.
    pub title: String,
    /// The briefing, as `pgdrill show` prints it.
    pub briefing: String,
    /// Whether they make moves (observers only look).
    pub acts: bool,
    /// The drill database's psql URL, for those who make moves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psql: Option<String>,
}

async fn me(State(desk): State<Arc<Desk>>, headers: HeaderMap) -> Result<Json<Me>, Refusal> {
    let who = desk.who(&headers)?;
    Ok(Json(Me {
        name: who.name.clone(),
        role: who.role.to_string(),
        scenario: desk.scenario.id.clone(),
        title: desk.scenario.title.clone(),
        briefing: crate::action::briefing(&desk.scenario),
        acts: who.role.acts(),
        psql: matches!(who.role, Role::Commander | Role::Operator | Role::Learner)
            .then(|| desk.psql.clone())
            .flatten(),
    }))
}

/// A line to play.
#[derive(Debug, Serialize, Deserialize)]
pub struct MoveBody {
    /// As typed: a move (`flag set new_checkout off`) or, for the game
    /// master, a control (`inject lock-storm`).
    #[serde(rename = "move")]
    pub line: String,
}

/// How a line went.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Answer {
    /// Whether it did what it said.
    pub ok: bool,
    /// Its answer, as the prompt shows it.
    pub text: String,
}

async fn moves(
    State(desk): State<Arc<Desk>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<Answer>, Refusal> {
    let who = desk.who(&headers)?;
    desk.spend(who)?;
    let body: MoveBody = serde_json::from_slice(&body).map_err(|e| {
        Refusal(
            StatusCode::BAD_REQUEST,
            format!("the body must be JSON like {{\"move\": \"status\"}}: {e}"),
        )
    })?;
    desk.play(who, &body.line).await.map(Json)
}

impl Desk {
    /// Plays a participant's line, through the language and their role,
    /// in the order lines arrive; the caller has checked their rate.
    pub(super) async fn play(&self, who: &Participant, line: &str) -> Result<Answer, Refusal> {
        let bad = |m: String| Refusal(StatusCode::BAD_REQUEST, m);
        let input = line.trim().to_string();
        if input.is_empty() {
            return Err(bad("the move is empty: type `help` for the moves".into()));
        }
        let line = Line::parse(&input).map_err(bad)?;
        permit(who.role, &line).map_err(|m| Refusal(StatusCode::FORBIDDEN, m))?;
        let by = Some(who.actor());
        let (reply, answer) = oneshot::channel();
        let command = match line {
            Line::Move(action) => Command::Act {
                input,
                action,
                by,
                reply,
            },
            Line::Control(control) => Command::Control { control, by, reply },
            Line::End => {
                let _ = self
                    .commands
                    .send(Command::End(EndReason::GameMaster))
                    .await;
                return Ok(Answer {
                    ok: true,
                    text: "the drill ends".into(),
                });
            }
        };
        let over = || {
            Refusal(
                StatusCode::CONFLICT,
                "the drill is over: no more moves".into(),
            )
        };
        self.commands.send(command).await.map_err(|_| over())?;
        let reply = answer.await.map_err(|_| over())?;
        Ok(Answer {
            ok: reply.ok,
            text: crate::report::reply(&reply),
        })
    }
}

/// Where a feed starts, and what it carries besides the events a
/// participant sees.
#[derive(Debug, Default, Deserialize)]
struct FeedQuery {
    /// The first item to send (a reader that reconnects says where it was).
    #[serde(default)]
    after: Option<usize>,
    /// Also the metrics windows (for charts).
    #[serde(default)]
    windows: bool,
}

async fn events(
    State(desk): State<Arc<Desk>>,
    headers: HeaderMap,
    Query(query): Query<FeedQuery>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, Refusal> {
    let role = desk.who(&headers)?.role;
    let from = query.after.map_or(0, |a| a.saturating_add(1));
    let keep = move |item: &super::feed::Item| match &item.event {
        None => true,
        Some(e) if matches!(e.kind, EventKind::Window(_)) => query.windows,
        Some(e) => e.for_learner() || role.sees_hidden(),
    };
    let batches = futures::stream::unfold((desk, from), move |(desk, mut next)| async move {
        loop {
            let (items, upto) = desk.feed.since(next, keep);
            if !items.is_empty() {
                return Some((items, (desk, upto)));
            }
            if !desk.feed.wait_past(upto).await {
                return None;
            }
            next = upto;
        }
    });
    let stream = batches.flat_map(|items| {
        futures::stream::iter(items.into_iter().map(|item| {
            let data = serde_json::to_string(&item).unwrap_or_default();
            Ok(SseEvent::default().id(item.seq.to_string()).data(data))
        }))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn status(
    State(desk): State<Arc<Desk>>,
    headers: HeaderMap,
) -> Result<Json<Answer>, Refusal> {
    desk.who(&headers)?;
    let (tx, rx) = oneshot::channel();
    let over = || Refusal(StatusCode::CONFLICT, "the drill is over".into());
    desk.commands
        .send(Command::Peek(tx))
        .await
        .map_err(|_| over())?;
    let view = rx.await.map_err(|_| over())?;
    Ok(Json(Answer {
        ok: true,
        text: crate::report::status(&view),
    }))
}

//! The live page of a served drill, for every participant: the report's
//! charts drawn from the events so far, the status (pods, rollout, flags,
//! instances), the lock tree and the timeline with who did what; a move
//! box for the roles that act.
//!
//! It needs no script, so its Content Security Policy is as strict as the
//! report's: the page is a frame that reloads itself every two seconds
//! (`/live`) inside one that does not (`/`), which holds the move box, so
//! a move being typed is never lost to a refresh. A first visit with
//! `?token=` moves the token into a cookie (`HttpOnly`, `SameSite=Strict`,
//! so no other site's form can send it) and drops it from the address.

use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use tokio::sync::oneshot;

use super::api::{Answer, Refusal};
use super::{COOKIE, Desk, Participant};
use crate::drill::Command;
use crate::transcript::{EventKind, Transcript};

/// What the pages may load: their inline style, data images, their own
/// frame, and forms to this server.
pub(super) const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'";

/// How often the live frame reloads.
const REFRESH_SECS: u32 = 2;

/// How long a lock tree is reused for the pages that ask.
const LOCKS_FRESH: Duration = Duration::from_secs(2);

/// The timeline's entries the page shows, newest first.
const TIMELINE: usize = 40;

/// A page, with the headers every page carries.
fn page(status: StatusCode, body: Markup) -> Response {
    let mut response = (status, axum::response::Html(body.into_string())).into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // Not `no-referrer`: with it, a browser sends `Origin: null` on the
    // page's own form posts, and the origin check could not tell them
    // from another site's.
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn head(title: &str, refresh: bool) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            @if refresh { meta http-equiv="refresh" content=(REFRESH_SECS); }
            title { (title) }
            style { (PreEscaped(crate::report::html::style())) (PreEscaped(EXTRA)) }
        }
    }
}

const EXTRA: &str = r#"
body.live { max-width: none; margin: 0.5em 1em; }
pre { font-size: 12px; overflow-x: auto; background: #f6f6f6; padding: 0.5em; }
iframe { width: 100%; height: 78vh; border: 1px solid #ccc; }
form.move input[type=text] { width: 70%; font: 15px monospace; padding: 0.3em; }
.answer { white-space: pre-wrap; font: 13px monospace; background: #f6f6f6; padding: 0.5em; }
.refused { color: #a00; }
"#;

/// Who a page request comes from: the cookie's token.
fn visitor<'d>(desk: &'d Desk, headers: &HeaderMap) -> Result<&'d Participant, Box<Response>> {
    desk.who(headers).map_err(|Refusal(status, message)| {
        Box::new(page(
            status,
            html! {
                (DOCTYPE)
                html lang="en" {
                    (head("pgdrill: no seat", false))
                    body {
                        h1 { "No seat" }
                        p { (message) }
                        p { "Open the link with your token once (" code { "URL/?token=TOKEN" } "); the page then remembers it." }
                    }
                }
            },
        ))
    })
}

/// `?token=` on a first visit.
#[derive(Debug, Default, Deserialize)]
pub(super) struct First {
    #[serde(default)]
    token: Option<String>,
}

/// A first visit with `?token=` to `path`: the token, if it opens a
/// seat, goes into the cookie, and the browser back to `path` without it.
fn first_visit(desk: &Desk, token: &str, path: &'static str) -> Response {
    let mut probe = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        probe.insert(header::AUTHORIZATION, v);
    }
    if let Err(r) = visitor(desk, &probe) {
        return *r;
    }
    let mut r = Redirect::to(path).into_response();
    let cookie = format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/");
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r.headers_mut().insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// `/`: the frame that does not reload, with the move box.
pub(super) async fn front(
    State(desk): State<Arc<Desk>>,
    headers: HeaderMap,
    Query(first): Query<First>,
) -> Response {
    if let Some(token) = first.token {
        return first_visit(&desk, &token, "/");
    }
    let who = match visitor(&desk, &headers) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let answer = desk
        .answers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&who.name)
        .cloned();
    let title = format!("{}: {}", desk.scenario.id, desk.scenario.title);
    page(
        StatusCode::OK,
        html! {
            (DOCTYPE)
            html lang="en" {
                (head(&title, false))
                body.live {
                    h1 { (desk.scenario.title) }
                    p { "You are " strong { (who.name) } " (" (who.role) ")." }
                    @if who.role.acts() {
                        form.move method="post" action="/move" {
                            label for="move" { "Move: " }
                            input id="move" type="text" name="move" autofocus autocomplete="off"
                                placeholder="status, flag set NAME off, app rollback, help";
                            " "
                            button type="submit" { "Send" }
                        }
                        @if let Some((line, a)) = answer {
                            div.answer.refused[!a.ok] { "> " (line) "\n" (a.text) }
                        }
                    }
                    iframe src="/live" title="the drill, live" {}
                }
            }
        },
    )
}

/// The form's field.
#[derive(Debug, Deserialize)]
pub(super) struct MoveForm {
    #[serde(rename = "move")]
    line: String,
}

/// `POST /move`: a move from the page, through the same gates as the
/// API; its answer is shown on the page the browser is sent back to.
pub(super) async fn form_move(
    State(desk): State<Arc<Desk>>,
    headers: HeaderMap,
    form: Result<axum::Form<MoveForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let who = match visitor(&desk, &headers) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    if !same_origin(&headers) {
        return (
            StatusCode::FORBIDDEN,
            "a move must come from this server's own page",
        )
            .into_response();
    }
    let line = match form {
        Ok(f) => f.0.line,
        Err(e) => return (StatusCode::BAD_REQUEST, e.body_text()).into_response(),
    };
    let answer = match desk.spend(who) {
        Ok(()) => desk.play(who, &line).await,
        Err(r) => Err(r),
    };
    let answer = answer.unwrap_or_else(|Refusal(_, message)| Answer {
        ok: false,
        text: format!("refused: {message}"),
    });
    desk.answers
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(who.name.clone(), (line.trim().to_string(), answer));
    Redirect::to("/").into_response()
}

/// Whether a form post names this server as its origin (or no origin:
/// the cookie's `SameSite=Strict` already keeps other sites out).
fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    origin == format!("http://{host}")
}

/// `/live`: the drill now, reloaded every two seconds.
pub(super) async fn live(
    State(desk): State<Arc<Desk>>,
    headers: HeaderMap,
    Query(first): Query<First>,
) -> Response {
    if let Some(token) = first.token {
        return first_visit(&desk, &token, "/live");
    }
    let who = match visitor(&desk, &headers) {
        Ok(w) => w,
        Err(r) => return *r,
    };
    let role = who.role;
    let events = desk.feed.events();
    let mut transcript = Transcript::new(&desk.scenario.id, 0, 1.0, 0);
    transcript.events = events;
    let charts = crate::report::html::charts_so_far(&desk.scenario, &transcript);
    let status = peek(&desk).await;
    let locks = desk.locks().await;
    let timeline: Vec<String> = transcript
        .events
        .iter()
        .rev()
        .filter(|e| !matches!(e.kind, EventKind::Window(_)))
        .filter(|e| e.for_learner() || role.sees_hidden())
        .filter_map(crate::report::event_line)
        .take(TIMELINE)
        .collect();
    let over = transcript
        .events
        .iter()
        .any(|e| matches!(e.kind, EventKind::Ended { .. }));
    page(
        StatusCode::OK,
        html! {
            (DOCTYPE)
            html lang="en" {
                (head("live", !over))
                body.live {
                    @if over { p { strong { "The drill is over." } } }
                    h2 { "What the service sees" }
                    (charts)
                    h2 { "Pods, rollout, flags, instances" }
                    pre { (status) }
                    h2 { "Locks" }
                    pre { (locks) }
                    h2 { "Timeline (newest first)" }
                    pre { @for line in &timeline { (line) "\n" } }
                }
            }
        },
    )
}

/// The status table, or why there is none.
async fn peek(desk: &Desk) -> String {
    let (tx, rx) = oneshot::channel();
    if desk.commands.send(Command::Peek(tx)).await.is_err() {
        return "the drill is over".into();
    }
    match rx.await {
        Ok(view) => crate::report::status(&view),
        Err(_) => "the drill is over".into(),
    }
}

impl Desk {
    /// The lock tree, asked of the engine at most every [`LOCKS_FRESH`]
    /// however many pages look.
    async fn locks(&self) -> String {
        let mut cached = self.locks.lock().await;
        if let Some((at, text)) = &*cached
            && at.elapsed() < LOCKS_FRESH
        {
            return text.clone();
        }
        let (tx, rx) = oneshot::channel();
        let text = if self.commands.send(Command::PeekLocks(tx)).await.is_err() {
            "the drill is over".to_string()
        } else {
            match tokio::time::timeout(Duration::from_secs(5), rx).await {
                Ok(Ok(reply)) => crate::report::reply(&reply),
                _ => "the lock tree could not be read".to_string(),
            }
        };
        *cached = Some((Instant::now(), text.clone()));
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_from_another_origin_is_refused() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:4000"));
        assert!(same_origin(&h), "no Origin: the cookie's SameSite decides");
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:4000"),
        );
        assert!(same_origin(&h));
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://evil.example"),
        );
        assert!(!same_origin(&h));
    }
}

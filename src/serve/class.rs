//! A class (`pgdrill serve SCENARIO --class N`): one drill per learner,
//! each on its own instance, started when its learner first arrives; the
//! instructor watches them all. Transcripts are scored, sealed and signed
//! here, with a key only the server holds, into one folder that `pgdrill
//! grade --key` reads as it is: a learner never holds their transcript,
//! so cannot edit or sign it.
//!
//! A learner's requests go to their own drill's desk, the same routes as
//! a game day's; the instructor's token opens the overview (`/`) and every
//! learner's live page under `/class/NAME/`, where the instructor is an
//! observer who also sees what is hidden.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use futures::future::LocalBoxFuture;
use maud::{DOCTYPE, html};
use tokio::sync::{mpsc, watch};
use tower::ServiceExt;

use super::api::Refusal;
use super::{Desk, Hosting, Opened, Participant, Role, tokens};
use crate::drill::{Command, Drill};
use crate::scenario::Scenario;
use crate::transcript::{EndReason, Transcript};

/// How long a learner's first request waits for their drill to start.
const START_WAIT: Duration = Duration::from_secs(120);

/// A learner's drill, ready to play.
pub struct Started {
    /// The engine.
    pub drill: Drill,
    /// The drill database's psql URL.
    pub psql: Option<String>,
    /// Whatever must live as long as the drill (its app's HTTP face).
    pub keep: Box<dyn Send + Sync>,
}

/// Starts the drill of the learner named.
pub type Starter<'a> = Box<dyn Fn(String) -> LocalBoxFuture<'a, Result<Started, String>> + 'a>;

/// Where a learner's drill stands.
#[derive(Clone)]
enum Stage {
    Waiting,
    Starting,
    Playing(Arc<Desk>, axum::Router),
    Over(Arc<Desk>, axum::Router),
    Failed(String),
}

struct Room {
    learner: Participant,
    stage: watch::Sender<Stage>,
}

/// The class's shared state.
struct School {
    scenario: Arc<Scenario>,
    instructor: Participant,
    rooms: Vec<Room>,
    start: mpsc::UnboundedSender<usize>,
}

/// What the class ended with: each learner's transcript file, or why not.
pub struct Graded {
    /// `(learner, path or error)`, in seat order.
    pub files: Vec<(String, Result<PathBuf, String>)>,
    /// Whether Ctrl-C ended it.
    pub interrupted: bool,
}

/// Who takes part in a class, with fresh tokens: the instructor, then
/// `learner-01` to `learner-N`.
pub fn seats(n: usize) -> (Participant, Vec<Participant>) {
    let width = n.to_string().len().max(2);
    let learners = (1..=n)
        .map(|i| Participant::new(format!("learner-{i:0width$}"), Role::Learner))
        .collect();
    (
        Participant::new("instructor".into(), Role::Instructor),
        learners,
    )
}

/// Runs a class on `listener` until every learner's drill has ended or
/// `stop` resolves; each transcript is scored, sealed with `key` and saved
/// in `folder` as `LEARNER.json`.
#[allow(clippy::too_many_arguments)]
pub async fn run(
    scenario: Arc<Scenario>,
    instructor: Participant,
    learners: Vec<Participant>,
    listener: tokio::net::TcpListener,
    starter: Starter<'_>,
    key: &[u8],
    folder: PathBuf,
    stop: impl std::future::Future<Output = ()>,
) -> Result<Graded, super::Error> {
    let (start, mut starts) = mpsc::unbounded_channel();
    let school = Arc::new(School {
        scenario: scenario.clone(),
        instructor,
        rooms: learners
            .into_iter()
            .map(|learner| Room {
                learner,
                stage: watch::Sender::new(Stage::Waiting),
            })
            .collect(),
        start,
    });
    let app = axum::Router::new()
        .route("/", axum::routing::get(overview))
        .route("/class/{name}/{*rest}", axum::routing::any(as_instructor))
        .fallback(as_learner)
        .with_state(school.clone());
    let server = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!("the class's server stopped: {e}");
        }
    });
    let (ended_tx, mut ended) = mpsc::unbounded_channel::<(usize, Result<Transcript, String>)>();
    let mut starting = futures::stream::FuturesUnordered::new();
    let mut keep: Vec<Box<dyn Send + Sync>> = Vec::new();
    let mut files: Vec<Option<Result<PathBuf, String>>> = vec![None; school.rooms.len()];
    let mut interrupted = false;
    tokio::pin!(stop);
    while files.iter().any(Option::is_none) {
        tokio::select! {
            Some(i) = starts.recv() => {
                let name = school.rooms[i].learner.name.clone();
                let started = starter(name);
                starting.push(async move { (i, started.await) });
            }
            Some((i, started)) = starting.next(), if !starting.is_empty() => match started {
                Ok(started) => {
                    keep.push(started.keep);
                    open_room(&school, i, started.drill, started.psql, ended_tx.clone());
                }
                Err(e) => {
                    school.rooms[i].stage.send_replace(Stage::Failed(e.clone()));
                    files[i] = Some(Err(e));
                }
            },
            Some((i, transcript)) = ended.recv() => {
                files[i] = Some(file(&school, i, transcript, key, &folder));
            }
            () = &mut stop, if !interrupted => {
                interrupted = true;
                for (i, room) in school.rooms.iter().enumerate() {
                    match &*room.stage.borrow() {
                        Stage::Playing(desk, _) => {
                            let _ = desk.commands.try_send(Command::End(EndReason::Interrupted));
                        }
                        Stage::Waiting | Stage::Failed(_) if files[i].is_none() => {
                            files[i] = Some(Err("never joined".into()));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    // The last summaries reach the pages before the server goes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.abort();
    drop(keep);
    Ok(Graded {
        files: school
            .rooms
            .iter()
            .zip(files)
            .map(|(r, f)| {
                (
                    r.learner.name.clone(),
                    f.unwrap_or(Err("not played".into())),
                )
            })
            .collect(),
        interrupted,
    })
}

/// Starts learner `i`'s engine behind a desk of their own (the instructor
/// sits there too), and reports its transcript when it ends.
fn open_room(
    school: &Arc<School>,
    i: usize,
    drill: Drill,
    psql: Option<String>,
    ended: mpsc::UnboundedSender<(usize, Result<Transcript, String>)>,
) {
    let room = &school.rooms[i];
    let Opened { desk, engine, pump } = super::open(
        drill,
        Hosting {
            scenario: school.scenario.clone(),
            participants: vec![room.learner.clone(), school.instructor.clone()],
            psql,
        },
        |_| {},
    );
    let router = super::api::router(desk.clone());
    room.stage
        .send_replace(Stage::Playing(desk.clone(), router.clone()));
    let school = school.clone();
    tokio::spawn(async move {
        let finished = engine.await;
        let _ = pump.await;
        let transcript = match finished {
            Ok(Ok(t)) => Ok(t),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("the drill engine failed: {e}")),
        };
        let summary = match &transcript {
            Ok(t) => crate::report::score(&crate::score::score(&school.scenario, t)),
            Err(e) => e.clone(),
        };
        desk.feed.close(Some(summary));
        school.rooms[i]
            .stage
            .send_replace(Stage::Over(desk, router));
        let _ = ended.send((i, transcript));
    });
}

/// Scores, seals, signs and saves learner `i`'s transcript.
fn file(
    school: &School,
    i: usize,
    transcript: Result<Transcript, String>,
    key: &[u8],
    folder: &std::path::Path,
) -> Result<PathBuf, String> {
    let mut t = transcript?;
    let score = crate::score::score(&school.scenario, &t);
    t.score = serde_json::to_value(&score).ok();
    t.seal(Some(key));
    let path = folder.join(format!("{}.json", school.rooms[i].learner.name));
    t.save(&path).map_err(|e| e.to_string())?;
    Ok(path)
}

/// The room of the learner whose token the request carries.
fn room_of<'s>(school: &'s School, headers: &HeaderMap, uri: &Uri) -> Option<&'s Room> {
    let given = given_token(headers, uri)?;
    let all: Vec<&tokens::Token> = school.rooms.iter().map(|r| &r.learner.token).collect();
    tokens::find(&all, given.trim()).map(|i| &school.rooms[i])
}

/// A learner's request: their drill starts on their first, and every
/// request goes to it.
async fn as_learner(State(school): State<Arc<School>>, request: Request) -> Response {
    let Some(room) = room_of(&school, request.headers(), request.uri()) else {
        return Refusal(
            StatusCode::UNAUTHORIZED,
            "this token opens no seat of this class: check it, or ask your instructor".into(),
        )
        .into_response();
    };
    let index = school
        .rooms
        .iter()
        .position(|r| std::ptr::eq(r, room))
        .unwrap_or(0);
    let mut stage = room.stage.subscribe();
    let first = matches!(*stage.borrow(), Stage::Waiting);
    if first {
        room.stage.send_replace(Stage::Starting);
        let _ = school.start.send(index);
    }
    // The watch's guard is not held across the request below.
    let now = match tokio::time::timeout(
        START_WAIT,
        stage.wait_for(|s| !matches!(s, Stage::Waiting | Stage::Starting)),
    )
    .await
    {
        Ok(Ok(stage)) => Some(stage.clone()),
        _ => None,
    };
    let router = match now {
        Some(Stage::Playing(_, r) | Stage::Over(_, r)) => r,
        Some(Stage::Failed(e)) => {
            return Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                format!("your drill could not start: {e}"),
            )
            .into_response();
        }
        _ => {
            return Refusal(
                StatusCode::SERVICE_UNAVAILABLE,
                "your drill is still starting: try again in a moment".into(),
            )
            .into_response();
        }
    };
    router.oneshot(request).await.unwrap_or_else(|e| match e {})
}

/// The instructor, into a learner's drill: `/class/NAME/live` is that
/// drill's `/live`.
async fn as_instructor(
    State(school): State<Arc<School>>,
    Path((name, rest)): Path<(String, String)>,
    request: Request,
) -> Response {
    if !is_instructor(&school, request.headers(), request.uri()) {
        return not_instructor();
    }
    let Some(room) = school.rooms.iter().find(|r| r.learner.name == name) else {
        return Refusal(StatusCode::NOT_FOUND, format!("no learner `{name}`")).into_response();
    };
    let router = match &*room.stage.borrow() {
        Stage::Playing(_, r) | Stage::Over(_, r) => r.clone(),
        _ => {
            return Refusal(
                StatusCode::NOT_FOUND,
                format!("{name} has not started their drill"),
            )
            .into_response();
        }
    };
    let (mut parts, body) = request.into_parts();
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    parts.uri = match format!("/{rest}{query}").parse() {
        Ok(u) => u,
        Err(_) => return Refusal(StatusCode::BAD_REQUEST, "a bad path".into()).into_response(),
    };
    router
        .oneshot(Request::from_parts(parts, body))
        .await
        .unwrap_or_else(|e| match e {})
}

/// The token a request carries: a bearer header, the cookie, or a first
/// visit's `?token=`.
fn given_token(headers: &HeaderMap, uri: &Uri) -> Option<String> {
    super::api::bearer(headers)
        .or_else(|| super::api::cookie(headers))
        .map(str::to_string)
        .or_else(|| {
            uri.query()?
                .split('&')
                .find_map(|p| p.strip_prefix("token=").map(str::to_string))
        })
}

/// Whether the request carries the instructor's token.
fn is_instructor(school: &School, headers: &HeaderMap, uri: &Uri) -> bool {
    let given = given_token(headers, uri).unwrap_or_default();
    tokens::find(&[&school.instructor.token], given.trim()).is_some()
}

fn not_instructor() -> Response {
    Refusal(
        StatusCode::UNAUTHORIZED,
        "only the instructor's token opens the class overview and the learners' pages".into(),
    )
    .into_response()
}

/// `/`: every learner's drill, for the instructor (a learner's `/` is
/// their own drill's page).
async fn overview(State(school): State<Arc<School>>, request: Request<Body>) -> Response {
    if room_of(&school, request.headers(), request.uri()).is_some() {
        return as_learner(State(school), request).await;
    }
    if !is_instructor(&school, request.headers(), request.uri()) {
        return not_instructor();
    }
    if let Some(token) = request
        .uri()
        .query()
        .and_then(|q| q.split('&').find_map(|p| p.strip_prefix("token=")))
    {
        let mut r = axum::response::Redirect::to("/").into_response();
        if let Ok(v) = format!(
            "{}={token}; HttpOnly; SameSite=Strict; Path=/",
            super::COOKIE
        )
        .parse()
        {
            r.headers_mut().insert(axum::http::header::SET_COOKIE, v);
        }
        return r;
    }
    let rows: Vec<[String; 6]> = school.rooms.iter().map(|r| row(&school, r)).collect();
    let body = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="3";
                title { "class: " (school.scenario.title) }
                style { (maud::PreEscaped(crate::report::html::style())) }
            }
            body {
                h1 { "Class: " (school.scenario.title) }
                table {
                    tr { th { "learner" } th { "drill" } th { "scenario time" } th { "incident" } th { "score so far" } th { "RTO" } }
                    @for r in &rows {
                        tr {
                            td { @if r[1] == "waiting" { (r[0]) } @else { a href={"/class/" (r[0]) "/live"} { (r[0]) } } }
                            td { (r[1]) } td { (r[2]) } td { (r[3]) } td { (r[4]) } td { (r[5]) }
                        }
                    }
                }
            }
        }
    };
    let mut response = axum::response::Html(body.into_string()).into_response();
    if let Ok(v) = super::page::CSP.parse() {
        response
            .headers_mut()
            .insert(axum::http::header::CONTENT_SECURITY_POLICY, v);
    }
    response
}

/// A learner's line of the overview: name, stage, time, incident, score
/// so far, RTO.
fn row(school: &School, room: &Room) -> [String; 6] {
    let name = room.learner.name.clone();
    let stage = room.stage.borrow().clone();
    let desk = match &stage {
        Stage::Waiting => {
            return [
                name,
                "waiting".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ];
        }
        Stage::Starting => {
            return [
                name,
                "starting".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ];
        }
        Stage::Failed(e) => {
            return [
                name,
                format!("failed: {e}"),
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
            ];
        }
        Stage::Playing(d, _) | Stage::Over(d, _) => d,
    };
    let mut t = Transcript::new(&school.scenario.id, 0, 1.0, 0);
    t.events = desk.feed.events();
    let score = crate::score::score(&school.scenario, &t);
    let now = t.events.last().map_or(0, |e| e.t_ms);
    let clock = crate::score::clock;
    [
        name,
        match stage {
            Stage::Over(..) => "over".into(),
            _ => "playing".into(),
        },
        clock(now),
        score
            .incident_start_ms
            .map_or("none yet".into(), |s| format!("since {}", clock(s))),
        format!(
            "{} of {} ({})",
            score.points,
            score.max_points,
            if score.passed {
                "passing"
            } else {
                "not passing"
            }
        ),
        match score.rto_ms {
            Some(rto) => format!("{} (target {})", clock(rto), clock(score.rto_target_ms)),
            None => format!("target {}", clock(score.rto_target_ms)),
        },
    ]
}

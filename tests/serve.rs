//! `pgdrill serve`, `join` and `act` on real PostgreSQL: a game day played
//! by four participants from their own processes, and the clients a server
//! on a network must survive.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{Ran, TestEnv, moves, read_json};

/// A served drill: the `pgdrill serve --json` child and its seats.
struct GameDay<'e> {
    env: &'e TestEnv,
    child: Child,
    url: String,
    /// The app's HTTP face (`$API_BASE_URL`).
    api: String,
    seats: serde_json::Value,
    stdout: mpsc::Receiver<String>,
    stderr: std::thread::JoinHandle<String>,
}

impl<'e> GameDay<'e> {
    fn start(env: &'e TestEnv, scenario: &str, extra: &[&str]) -> GameDay<'e> {
        let mut child = env
            .pgdrill()
            .current_dir(common::root())
            .args(["serve", scenario, "--json"])
            .args(if extra.contains(&"--time-scale") {
                &[][..]
            } else {
                &["--time-scale", "10"][..]
            })
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text);
            text
        });
        let Ok(first) = lines.recv_timeout(Duration::from_secs(120)) else {
            let _ = child.kill();
            panic!("serve never became ready: {}", stderr.join().unwrap());
        };
        let ready: serde_json::Value = serde_json::from_str(&first)
            .unwrap_or_else(|e| panic!("the first line is the seats as JSON ({e}): {first}"));
        GameDay {
            env,
            child,
            url: ready["url"].as_str().unwrap().to_string(),
            api: ready["api_base_url"].as_str().unwrap().to_string(),
            seats: ready["participants"].clone(),
            stdout: lines,
            stderr,
        }
    }

    fn token(&self, name: &str) -> String {
        self.seats
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no seat {name}"))["token"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// `pgdrill act` as `name`.
    fn act(&self, name: &str, line: &str) -> common::Run {
        self.env
            .run(["act", "--server", &self.url])
            .env("PGDRILL_TOKEN", self.token(name))
            .arg(line)
    }

    /// Waits for the server to exit: its code, the rest of stdout, stderr.
    fn wait(mut self, within: Duration) -> (Option<i32>, String, String) {
        let deadline = Instant::now() + within;
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("serve did not end within {within:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        let rest: Vec<String> = self.stdout.try_iter().collect();
        (status.code(), rest.join("\n"), self.stderr.join().unwrap())
    }
}

/// A `pgdrill join` whose screen is collected, fed lines on stdin.
struct Joined {
    child: Child,
    stdin: Option<ChildStdin>,
    screen: std::thread::JoinHandle<String>,
}

fn join(day: &GameDay, name: &str) -> Joined {
    let mut child = day
        .env
        .pgdrill()
        .args(["join", &day.url])
        .env("PGDRILL_TOKEN", day.token(name))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let screen = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    Joined {
        stdin: child.stdin.take(),
        child,
        screen,
    }
}

impl Joined {
    fn type_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        let _ = writeln!(stdin, "{line}");
        let _ = stdin.flush();
    }

    /// Presses Enter (the prompt then sees the drill is over), closes
    /// stdin and returns the screen.
    fn finish(mut self) -> String {
        self.type_line("");
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "join did not end");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.screen.join().unwrap()
    }
}

/// Plays `line` as `name` until its answer shows `text`.
fn until_shows(day: &GameDay, name: &str, line: &str, text: &str) -> Ran {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ran = day.act(name, line).success().go();
        if ran.stdout.contains(text) {
            return ran;
        }
        assert!(
            Instant::now() < deadline,
            "status never showed {text:?}:\n{}",
            ran.stdout
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn a_game_day_four_people_one_drill_every_move_attributed_and_roles_enforced() {
    let env = TestEnv::new();
    let transcript = env.root().join("game-day.json");
    let day = GameDay::start(
        &env,
        "mixed-version-rename",
        &[
            "--transcript",
            transcript.to_str().unwrap(),
            "--learner",
            "blue-team",
        ],
    );
    assert_eq!(day.seats.as_array().unwrap().len(), 4);
    let seats = day.seats.clone();
    let watcher = join(&day, "watch");

    // What a role may not do is refused with who may, and changes nothing.
    day.act("watch", "app pause")
        .code(1)
        .stderr_has("an observer only looks")
        .go();
    day.act("op", "incident declare sev2")
        .code(1)
        .stderr_has("only the commander declares")
        .go();
    day.act("ic", "pause")
        .code(1)
        .stderr_has("only the game master")
        .go();
    day.act("gm", "app rollback")
        .code(1)
        .stderr_has("does not play it")
        .go();
    day.act("op", "flag sett x")
        .code(2)
        .stderr_has("usage: flag")
        .go();
    day.env
        .run([
            "act",
            "--server",
            &day.url,
            "--token",
            "not-a-seat",
            "status",
        ])
        .code(2)
        .stderr_has("opens no seat")
        .go();

    // The game master stops the clock: moves that change something wait.
    day.act("gm", "pause").success().go();
    day.act("op", "app pause")
        .code(1)
        .stdout_has("paused the scenario clock")
        .go();
    day.act("gm", "resume").success().go();

    until_shows(&day, "watch", "status", "INCIDENT");
    day.act("ic", "incident declare sev2").success().go();
    day.act("op", "app pause").success().go();
    day.act("op", "app rollback").success().go();
    day.act("op", "wait 25s").success().go();
    day.act("op", "snapshot create before-schema-fix")
        .success()
        .go();
    day.act("op", "migrate down 002_rename_name").success().go();
    day.act("op", "wait until recovered").success().go();
    day.act(
        "ic",
        "comms \"rolled back to v1 and reverted 002; SLO holds\"",
    )
    .success()
    .go();
    day.act("ic", "note \"v1 pods failed with 42703 after 002_rename_name; paused, rolled back, snapshot, down\"")
        .success()
        .go();
    day.act("op", "resolve")
        .code(1)
        .stderr_has("only the commander")
        .go();
    day.act("ic", "resolve").success().go();
    let (code, score, stderr) = day.wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "the team passed:\n{score}\n{stderr}");
    let score: serde_json::Value = serde_json::from_str(&score).unwrap();
    assert_eq!(score["passed"], true, "{score:#}");
    let screen = watcher.finish();

    // The transcript says who made each move, with which role.
    let t = read_json(&transcript);
    assert_eq!(t["learner"], "blue-team");
    let by: Vec<(String, String, String)> = moves(&t)
        .iter()
        .map(|m| {
            (
                m["input"].as_str().unwrap().to_string(),
                m["by"]["name"].as_str().unwrap_or("-").to_string(),
                m["by"]["role"].as_str().unwrap_or("-").to_string(),
            )
        })
        .collect();
    let who = |input: &str| {
        by.iter()
            .find(|(i, _, _)| i == input)
            .map(|(_, n, r)| format!("{n} {r}"))
            .unwrap_or_else(|| panic!("no move {input:?} in {by:?}"))
    };
    assert_eq!(who("app rollback"), "op operator");
    assert_eq!(who("incident declare sev2"), "ic commander");
    assert_eq!(who("resolve"), "ic commander");
    assert_eq!(who("status"), "watch observer");
    assert!(
        by.iter().all(|(_, n, _)| n != "-"),
        "every move is attributed: {by:?}"
    );
    assert_eq!(
        by.iter().filter(|(i, _, _)| i == "app pause").count(),
        1,
        "the moves refused by role or by the pause were never played: {by:?}"
    );
    let events = t["events"].as_array().unwrap();
    assert!(
        events.iter().any(|e| e["message"]
            .as_str()
            .is_some_and(|m| m.contains("gm (game-master) paused the scenario clock"))),
        "the pause is in the transcript"
    );

    // The observer's feed showed everyone's moves as they happened, then
    // the score.
    for line in [
        "op (operator) > app rollback",
        "ic (commander) > resolve",
        "gm (game-master) paused the scenario clock",
        "You are watch (observer)",
    ] {
        assert!(
            screen.contains(line),
            "join's screen lacks {line:?}:\n{screen}"
        );
    }
    assert!(screen.contains("PASS"), "the score comes last:\n{screen}");
    // Tokens are shown once, on the first line, never again.
    let kept = serde_json::to_string(&t).unwrap();
    for seat in ["ic", "op", "watch", "gm"] {
        let token = seats_token(&seats, seat);
        assert!(
            !stderr.contains(&token),
            "{seat}'s token in the server's log"
        );
        assert!(!kept.contains(&token), "{seat}'s token in the transcript");
        assert!(!screen.contains(&token), "{seat}'s token on a screen");
    }
    assert!(
        env.registry_entries().is_empty(),
        "the drill's server is gone"
    );
}

fn seats_token(seats: &serde_json::Value, name: &str) -> String {
    seats
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// One raw HTTP/1.1 exchange: the status code and the body.
fn raw(url: &str, request: &[u8]) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = stream.write_all(request);
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let text = String::from_utf8_lossy(&response).to_string();
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (code, body)
}

fn post(url: &str, token: Option<&str>, body: &[u8]) -> (u16, String) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let mut request = format!(
        "POST /api/moves HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    request.extend_from_slice(body);
    raw(url, &request)
}

#[test]
fn hostile_clients_get_clear_errors_and_the_drill_goes_on() {
    let env = TestEnv::new();
    let transcript = env.root().join("hostile.json");
    let day = GameDay::start(
        &env,
        "lock-queue",
        &["--transcript", transcript.to_str().unwrap()],
    );
    let (op, watch) = (day.token("op"), day.token("watch"));
    let status = br#"{"move": "status"}"#;

    let (code, body) = post(&day.url, None, status);
    assert_eq!(code, 401, "{body}");
    assert!(body.contains("no token"), "{body}");
    let (code, _) = post(&day.url, Some(&"x".repeat(32)), status);
    assert_eq!(code, 401);
    let (code, body) = post(&day.url, Some(&op), b"{\"move\": ");
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("must be JSON"), "{body}");
    let (code, _) = post(&day.url, Some(&op), b"[1, 2]");
    assert_eq!(code, 400);
    let huge = format!("{{\"move\": \"note {}\"}}", "a".repeat(1 << 20));
    let (code, _) = post(&day.url, Some(&op), huge.as_bytes());
    assert_eq!(code, 413, "a body past the limit");
    for path in [
        "/../../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/api/../../etc/passwd",
        "/api/moves/..%2f..%2fetc%2fpasswd",
    ] {
        let (code, body) = raw(
            &day.url,
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {op}\r\n\r\n").as_bytes(),
        );
        assert!(
            code == 404 || code == 400 || code == 405,
            "{path}: {code} {body}"
        );
        assert!(!body.contains("root:"), "{path} reached a file");
    }

    // A flood from one seat is held back; the others play on.
    let codes: Vec<u16> = (0..40)
        .map(|_| post(&day.url, Some(&op), status).0)
        .collect();
    assert!(codes.contains(&429), "{codes:?}");
    assert!(codes.iter().all(|c| *c == 200 || *c == 429), "{codes:?}");
    assert_eq!(post(&day.url, Some(&watch), status).0, 200);

    // A reader that goes away mid-stream takes nothing with it.
    {
        let addr = day.url.trim_start_matches("http://");
        let mut stream = TcpStream::connect(addr).unwrap();
        write!(
            stream,
            "GET /api/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {watch}\r\n\r\n"
        )
        .unwrap();
        let mut first = [0u8; 256];
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let n = stream.read(&mut first).unwrap();
        assert!(String::from_utf8_lossy(&first[..n]).contains("200"));
    }
    std::thread::sleep(Duration::from_millis(300));
    day.act("watch", "status").success().go();

    // The game master injects a fault in reserve: the team is not told,
    // its effect is real (a second blocker in the lock tree).
    day.act("gm", "faults")
        .success()
        .stdout_has("analyst-query: an analyst")
        .go();
    day.act("gm", "inject nothing-such")
        .code(1)
        .stdout_has("no fault `nothing-such`")
        .go();
    day.act("gm", "inject analyst-query").success().go();
    until_shows(&day, "op", "locks", "analyst-query");
    day.act("watch", "events")
        .success()
        .stdout_lacks("injected")
        .go();

    day.act("gm", "end").success().go();
    let (code, _, stderr) = day.wait(Duration::from_secs(60));
    assert_eq!(
        code,
        Some(1),
        "ended by the game master, not resolved: {stderr}"
    );
    let t = read_json(&transcript);
    let end = t["events"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(end["reason"], "game_master", "{end}");
    assert!(
        t["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["hidden"] == true
                && e["message"] == "gm (game-master) injected the fault `analyst-query`"),
        "the injection is in the transcript, kept from the team"
    );
    for token in [&op, &watch] {
        assert!(
            !stderr.contains(token.as_str()),
            "a token in the server's log"
        );
        assert!(!serde_json::to_string(&t).unwrap().contains(token.as_str()));
    }
    assert!(env.registry_entries().is_empty());
}

/// `curl -sS "$API_BASE_URL/PATH"`: the status and the body as JSON.
fn curl(api: &str, method: &str, path: &str, body: &str) -> (u16, serde_json::Value) {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (code, text) = raw(api, request.as_bytes());
    let json = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
    (code, json)
}

#[test]
fn runbook_004s_curl_checks_pass_against_the_app_while_the_drill_runs() {
    let env = TestEnv::new();
    let transcript = env.root().join("app.json");
    let day = GameDay::start(
        &env,
        "startup-migration-no-down",
        &["--transcript", transcript.to_str().unwrap()],
    );
    let api = day.api.clone();
    // A readiness probe: 503 while the pods start, then 200.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, ready) = curl(&api, "GET", "/health/ready", "");
        if code == 200 {
            assert_eq!(ready["status"], "ready", "{ready}");
            break;
        }
        assert_eq!(code, 503, "{ready}");
        assert!(Instant::now() < deadline, "never ready: {ready}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, row) = curl(&api, "GET", "/courses/7", "");
    assert_eq!(code, 200, "{row}");
    assert_eq!(row["rows"][0]["id"], 7, "the value the path gives: {row}");
    let (code, e) = curl(&api, "GET", "/courses/seven", "");
    assert_eq!(code, 400, "{e}");
    let (code, e) = curl(&api, "GET", "/no-such-route", "");
    assert_eq!(code, 404, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("GET /lectures"),
        "{e}"
    );

    // The incident, as the app's clients see it: v1 pods cannot insert.
    let deadline = Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let (code, answer) = curl(&api, "POST", "/enroll", r#"{"user_id": 7, "course_id": 3}"#);
        if code == 500 && answer["sqlstate"] == "23502" {
            break answer;
        }
        assert!(Instant::now() < deadline, "POST /enroll never failed");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(failed["sqlstate"], "23502", "{failed}");
    assert!(
        failed["served_by"].as_str().unwrap().contains("(v1)"),
        "{failed}"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (code, health) = curl(&api, "GET", "/api/health", "");
        if code == 503 && health["top_sqlstate"] == "23502" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "/api/health never said 503: {health}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    day.act("ic", "app pause").success().go();
    day.act("ic", "snapshot create before-fix").success().go();
    day.act(
        "ic",
        "migrate apply scenarios/solutions/fixes/003_enrollment_source_default.sql",
    )
    .success()
    .go();
    day.act("ic", "wait until recovered").success().go();

    // Runbook 004, post-rollback validation, unchanged.
    let (code, ready) = curl(&api, "GET", "/health/ready", "");
    assert_eq!(code, 200, "{ready}");
    for path in ["/courses", "/lectures"] {
        let (code, rows) = curl(&api, "GET", path, "");
        assert_eq!(code, 200, "{path}: {rows}");
        assert_eq!(rows["rows"].as_array().unwrap().len(), 20, "{path}: {rows}");
    }
    let (code, health) = curl(&api, "GET", "/api/health", "");
    assert_eq!(
        (code, health["status"].as_str()),
        (200, Some("ok")),
        "{health}"
    );
    let (code, written) = curl(&api, "POST", "/enroll", r#"{"user_id": 7, "course_id": 3}"#);
    assert_eq!(code, 200, "both versions write again: {written}");
    // The app's requests count in the metrics like the pods' own: a burst
    // of reads shows in the windows, beside the pods' few a second.
    for _ in 0..150 {
        assert_eq!(curl(&api, "GET", "/lectures", "").0, 200);
    }
    std::thread::sleep(Duration::from_millis(1200));
    day.act(
        "ic",
        "note \"forward fix 003; runbook 004 validation passed\"",
    )
    .success()
    .go();
    day.act("ic", "resolve").success().go();
    let (code, _, stderr) = day.wait(Duration::from_secs(60));
    assert_eq!(code, Some(0), "{stderr}");
    let t = read_json(&transcript);
    let burst = t["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "window")
        .flat_map(|w| w["series"].as_array().unwrap().iter())
        .filter(|s| s["endpoint"] == "GET /lectures")
        .map(|s| s["requests"].as_u64().unwrap())
        .max()
        .unwrap();
    // The pods alone send about 7 a second (80 requests/s, 1 in 12); the
    // burst's 150 span a window or a few, however busy the machine.
    assert!(
        burst >= 40,
        "the burst is counted: at most {burst} a window"
    );
    // Once the drill is over, nothing answers there.
    assert!(TcpStream::connect(api.trim_start_matches("http://")).is_err());
}

/// A headless Chromium with its DevTools port open, on a page of ours.
struct Browser {
    child: Child,
    devtools: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    fn open(url: &str) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(common::chromium())
            .args(common::HEADLESS)
            .args(["--remote-debugging-port=0", "--window-size=1200,1400"])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(url)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(ws) = line.split("DevTools listening on ").nth(1) {
                    let _ = tx.send(ws.trim().to_string());
                }
            }
        });
        let ws = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium opens its DevTools port");
        let devtools = ws
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .unwrap()
            .to_string();
        Browser {
            child,
            devtools: format!("http://{devtools}"),
            _profile: profile,
        }
    }

    /// The page's DevTools socket, once it shows `url_prefix`.
    fn page(
        &self,
        url_prefix: &str,
    ) -> tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // DevTools answers only a Host that is an address, and names
            // its sockets after it.
            let host = self.devtools.trim_start_matches("http://");
            let (_, list) = raw(
                &self.devtools,
                format!("GET /json/list HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            let list: serde_json::Value = serde_json::from_str(&list).unwrap_or_default();
            if let Some(page) = list.as_array().into_iter().flatten().find(|t| {
                t["type"] == "page" && t["url"].as_str().is_some_and(|u| u.starts_with(url_prefix))
            }) {
                let ws = page["webSocketDebuggerUrl"].as_str().unwrap();
                let socket = tungstenite::connect(ws).unwrap().0;
                // A command that never answers fails the test, not hangs it.
                if let tungstenite::stream::MaybeTlsStream::Plain(s) = socket.get_ref() {
                    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
                }
                return socket;
            }
            assert!(Instant::now() < deadline, "no page at {url_prefix}: {list}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One DevTools command and its result.
fn cdp(
    ws: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<TcpStream>>,
    id: u64,
    method: &str,
    params: serde_json::Value,
) -> serde_json::Value {
    let call = serde_json::json!({ "id": id, "method": method, "params": params });
    ws.send(tungstenite::Message::text(call.to_string()))
        .unwrap();
    loop {
        let message = ws.read().unwrap();
        let Ok(text) = message.to_text() else {
            continue;
        };
        let reply: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
        if reply["id"] == id {
            assert!(reply["error"].is_null(), "{method}: {reply}");
            return reply["result"].clone();
        }
    }
}

/// The page as Chromium parsed it (`--dump-dom`), and what its console said.
fn dump(url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(common::chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--no-first-run",
            "--enable-logging=stderr",
            "--v=0",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let console: Vec<String> = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Content Security Policy"))
        .map(String::from)
        .collect();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        console.join("\n"),
    )
}

/// How many windows with traffic the page's chart key says it drew.
fn windows_drawn(dom: &str) -> u64 {
    dom.split(" windows with traffic)")
        .next()
        .and_then(|head| head.rsplit('(').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn the_live_page_updates_takes_moves_and_shows_no_move_box_to_an_observer() {
    let env = TestEnv::new();
    // Slow enough that the drill outlasts the browsers on a busy machine.
    let day = GameDay::start(&env, "lock-queue", &["--time-scale", "2"]);
    let watcher = join(&day, "watch");
    let (op, watch) = (day.token("op"), day.token("watch"));

    // The charts grow while traffic runs; the page runs no script and
    // asks for nothing the policy forbids.
    let deadline = Instant::now() + Duration::from_secs(30);
    let (first, console) = loop {
        let (dom, console) = dump(&format!("{}/live?token={watch}", day.url));
        if windows_drawn(&dom) > 0 {
            break (dom, console);
        }
        assert!(dom.contains("No traffic measured yet"), "{dom}");
        assert!(Instant::now() < deadline, "no chart was ever drawn");
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(console.is_empty(), "the console spoke:\n{console}");
    assert!(first.contains("Error rate per app version"), "{first}");
    assert!(first.contains("Timeline (newest first)"), "{first}");
    std::thread::sleep(Duration::from_secs(3));
    let (later, _) = dump(&format!("{}/live?token={watch}", day.url));
    assert!(
        windows_drawn(&later) > windows_drawn(&first),
        "the charts did not grow: {} then {}",
        windows_drawn(&first),
        windows_drawn(&later)
    );
    assert!(
        later.contains("revenue-report") || later.contains("Locks"),
        "{later}"
    );

    // An observer's page has no move box; an operator's has one.
    let (page, _) = dump(&format!("{}/?token={watch}", day.url));
    assert!(
        page.contains("You are <strong>watch</strong> (observer)"),
        "{page}"
    );
    assert!(
        !page.contains("name=\"move\""),
        "an observer got a move box"
    );
    let (page, _) = dump(&format!("{}/?token={op}", day.url));
    assert!(
        page.contains("name=\"move\""),
        "the operator has no move box:\n{page}"
    );

    // A move typed in the operator's page: keys, not script.
    let browser = Browser::open(&format!("{}/?token={op}", day.url));
    let mut ws = browser.page(&format!("{}/", day.url));
    let deadline = Instant::now() + Duration::from_secs(20);
    let input = loop {
        let root = cdp(&mut ws, 1, "DOM.getDocument", serde_json::json!({}));
        let node = cdp(
            &mut ws,
            2,
            "DOM.querySelector",
            serde_json::json!({ "nodeId": root["root"]["nodeId"], "selector": "#move" }),
        );
        if node["nodeId"].as_u64().unwrap_or(0) != 0 {
            break node["nodeId"].clone();
        }
        assert!(Instant::now() < deadline, "the move box never appeared");
        std::thread::sleep(Duration::from_millis(200));
    };
    cdp(
        &mut ws,
        3,
        "DOM.focus",
        serde_json::json!({ "nodeId": input }),
    );
    cdp(
        &mut ws,
        4,
        "Input.insertText",
        serde_json::json!({ "text": "note \"typed in the live page\"" }),
    );
    for kind in ["keyDown", "keyUp"] {
        cdp(
            &mut ws,
            5,
            "Input.dispatchKeyEvent",
            serde_json::json!({ "type": kind, "key": "Enter", "code": "Enter",
                                "windowsVirtualKeyCode": 13, "text": "\r" }),
        );
    }
    // The move reaches the drill: another participant's feed shows it.
    until_shows(&day, "watch", "events", "typed in the live page");
    drop(ws);
    drop(browser);
    day.act("gm", "end").success().go();
    let _ = day.wait(Duration::from_secs(60));
    let screen = watcher.finish();
    assert!(
        screen.contains("op (operator) > note \"typed in the live page\""),
        "the observer's join feed lacks the page's move:\n{screen}"
    );
}

#[test]
fn a_class_of_eight_each_on_their_own_drill_graded_from_the_servers_folder() {
    let env = TestEnv::new();
    let folder = env.root().join("class");
    let key = "class-key-0123456789abcdef";
    let mut child = env
        .pgdrill()
        .current_dir(common::root())
        .args([
            "serve",
            "lock-queue",
            "--class",
            "8",
            "--json",
            "--time-scale",
            "10",
        ])
        .arg("--class-dir")
        .arg(&folder)
        .env("PGDRILL_SIGNING_KEY", key)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready: serde_json::Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    let url = ready["url"].as_str().unwrap().to_string();
    let seats = ready["participants"].clone();
    let token = |name: &str| seats_token(&seats, name);
    assert_eq!(
        seats.as_array().unwrap().len(),
        9,
        "an instructor and 8 learners"
    );
    let act = |name: &str, line: &str| {
        env.run(["act", "--server", &url])
            .env("PGDRILL_TOKEN", token(name))
            .arg(line)
    };
    // Before anyone joins, the instructor sees eight waiting seats.
    let (code, page) = raw(
        &url,
        format!(
            "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: pgdrill_token={}\r\n\r\n",
            token("instructor")
        )
        .as_bytes(),
    );
    assert_eq!(code, 200);
    assert_eq!(page.matches("<td>waiting</td>").count(), 8, "{page}");

    // Eight learners at once, each starting their own drill by arriving.
    std::thread::scope(|s| {
        for i in 1..=8 {
            let act = &act;
            s.spawn(move || {
                let me = format!("learner-{i:02}");
                act(&me, "status")
                    .success()
                    .stdout_has("scenario time")
                    .go();
                act(&me, &format!("note \"{me} was here\"")).success().go();
                act(&me, "resolve").success().go();
            });
        }
    });
    // A learner sees only their own drill.
    let (code, _) = raw(
        &url,
        format!("GET /class/learner-02/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: pgdrill_token={}\r\n\r\n", token("learner-01")).as_bytes(),
    );
    assert_eq!(code, 401, "a learner cannot open another's page");

    let status = child.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "{rest:?}");
    let summary: serde_json::Value = serde_json::from_str(rest.last().unwrap()).unwrap();
    assert_eq!(
        summary["transcripts"].as_array().unwrap().len(),
        8,
        "{summary}"
    );

    // The folder grades as it is, every signature the server's.
    let graded = env
        .run(["grade"])
        .arg(&folder)
        .args(["--key", "--format", "json"])
        .env("PGDRILL_SIGNING_KEY", key)
        .go();
    let graded = graded.json();
    let rows = graded["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 8, "{rows:?}");
    for (i, row) in rows.iter().enumerate() {
        assert_eq!(row["learner"], format!("learner-{:02}", i + 1), "{row}");
        assert_eq!(row["status"], "graded", "{row}");
        assert_eq!(row["signed"], true, "{row}");
        assert_eq!(row["flags"], serde_json::json!([]), "{row}");
    }
    let t = read_json(&folder.join("learner-03.json"));
    assert_eq!(t["learner"], "learner-03");
    assert!(
        moves(&t)
            .iter()
            .any(|m| m["input"] == "note \"learner-03 was here\""),
        "each drill holds its own learner's moves"
    );
    assert!(
        !moves(&t)
            .iter()
            .any(|m| m["input"] == "note \"learner-04 was here\""),
        "and nobody else's"
    );
    // With another key, every file is flagged.
    let other = env
        .run(["grade"])
        .arg(&folder)
        .args(["--key", "--format", "json"])
        .env("PGDRILL_SIGNING_KEY", "another-key-0123456789abcdef")
        .go()
        .json();
    assert!(
        other["rows"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["flags"].to_string().contains("signed with another key")),
        "{other}"
    );
    assert!(
        env.registry_entries().is_empty(),
        "every learner's server is gone"
    );
}

#[test]
fn serving_beyond_loopback_or_a_class_without_a_key_is_refused_before_anything_starts() {
    let env = TestEnv::new();
    env.run(["serve", "lock-queue", "--listen", "0.0.0.0:0"])
        .code(2)
        .stderr_has("pass --allow-remote")
        .stderr_has("plain HTTP")
        .go();
    env.run(["serve", "lock-queue", "--class", "3"])
        .env_remove("PGDRILL_SIGNING_KEY")
        .code(2)
        .stderr_has("set PGDRILL_SIGNING_KEY")
        .go();
    env.run(["serve", "lock-queue", "--participants", "op=operator"])
        .code(2)
        .stderr_has("needs a commander")
        .go();
    assert!(env.registry_entries().is_empty(), "no server was started");
}

//! `pgdrill bench grade`: how long `pgdrill grade` takes over a class.
//!
//! It writes N synthetic transcripts shaped like real ones: one scenario of
//! the folder each, round-robin; a drill of `minutes` scenario minutes at
//! time scale 1 (one metrics window per second, a series per app version
//! and endpoint, an incident with real SQLSTATEs in the middle); the moves
//! of one of the scenario's solution scripts (reference or unsafe); sealed
//! and signed as `pgdrill run` does. Then it times the real grading path
//! (read, parse, verify chain and signature, check the fingerprint, score)
//! over the folder, alternating with the peer: `sha256sum` over the same
//! files, the least any verifier must do (read and hash every byte once).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};
use serde::Serialize;

use super::Error;
use super::{Stats, TempDir};
use crate::grade::{Outcome, Scenarios};
use crate::scenario::Scenario;
use crate::transcript::{
    EndReason, Event, EventKind, Level, Move, Rpo, Series, State, Transcript, Window,
};

/// The key the synthetic transcripts are signed and verified with.
const KEY: &[u8] = b"pgdrill bench grade signing key";

/// Target: this many transcripts...
pub const TARGET_TRANSCRIPTS: usize = 1000;
/// ...in under this many milliseconds.
pub const TARGET_MS: f64 = 1000.0;

/// The result of `pgdrill bench grade`.
#[derive(Debug, Clone, Serialize)]
pub struct GradeReport {
    /// Transcripts graded per run.
    pub transcripts: usize,
    /// Their total size.
    pub bytes: u64,
    /// Events in one transcript, on average.
    pub events_per_transcript: usize,
    /// Scenario minutes each drill lasts.
    pub minutes: u32,
    /// Scenarios the class played.
    pub scenarios: Vec<String>,
    /// CPU cores of this machine.
    pub cores: usize,
    /// Whether this binary was built with optimisations.
    pub optimized: bool,
    /// `pgdrill grade`'s work.
    pub grade: Stats,
    /// `sha256sum` over the same files.
    pub peer: Stats,
    /// grade median / peer median.
    pub ratio: f64,
    /// Transcripts per second (median run).
    pub per_second: f64,
    /// How the transcripts graded: passed, failed (and none flagged or
    /// unreadable, or the benchmark fails).
    pub passed: usize,
    /// Did not pass.
    pub failed: usize,
}

/// Runs the benchmark in a fresh folder under `work`, removed afterwards.
pub fn grade(
    scenarios_dir: &Path,
    work: &Path,
    transcripts: usize,
    minutes: u32,
    runs: u32,
    note: &dyn Fn(String),
) -> Result<GradeReport, Error> {
    let found = crate::scenario::discover(scenarios_dir).unwrap_or_default();
    let mut class = Vec::new();
    for path in found {
        let scenario = crate::scenario::load(&path)?;
        let scripts = solutions(scenarios_dir, &scenario.id);
        class.push((scenario, scripts));
    }
    if class.is_empty() {
        return Err(Error::Usage(format!(
            "no scenarios in {} to synthesise transcripts from (pass --scenarios DIR)",
            scenarios_dir.display()
        )));
    }
    let dir = TempDir::new(work.to_path_buf(), "pgdrill-bench-grade")?;
    let result = (|| {
        note(format!(
            "writing {transcripts} transcripts of {minutes}-minute drills to {}",
            dir.path().display()
        ));
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(2026);
        let mut files = Vec::with_capacity(transcripts);
        let mut bytes = 0;
        let mut events = 0;
        for i in 0..transcripts {
            let (scenario, scripts) = &class[i % class.len()];
            let script =
                (!scripts.is_empty()).then(|| &scripts[rng.random_range(0..scripts.len())]);
            let t = synthesize(scenario, script.map(|s| s.as_slice()), i, minutes, &mut rng);
            events += t.events.len();
            let path = dir.path().join(format!("learner-{i:04}.json"));
            let json = serde_json::to_vec_pretty(&t).expect("a transcript serialises");
            bytes += json.len() as u64;
            std::fs::write(&path, json).map_err(|source| Error::Write {
                path: path.clone(),
                source,
            })?;
            files.push(path);
        }

        let mut grade_times = Vec::new();
        let mut peer_times = Vec::new();
        let mut tally = (0, 0);
        for run in 1..=runs {
            let started = Instant::now();
            // A new catalogue each run: loading scenarios is part of grading.
            let rows = crate::grade::grade_all(&files, &Scenarios::new(scenarios_dir), Some(KEY));
            let took = started.elapsed();
            tally = check(&rows)?;
            let peer = sha256sum(&files)?;
            note(format!(
                "run {run}/{runs}: grade {:.0} ms, sha256sum {:.0} ms",
                took.as_secs_f64() * 1000.0,
                peer.as_secs_f64() * 1000.0
            ));
            grade_times.push(took);
            peer_times.push(peer);
        }
        let (grade, peer) = (Stats::of(&grade_times), Stats::of(&peer_times));
        Ok(GradeReport {
            transcripts,
            bytes,
            events_per_transcript: events / transcripts.max(1),
            minutes,
            scenarios: class.iter().map(|(s, _)| s.id.clone()).collect(),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            optimized: !cfg!(debug_assertions),
            ratio: grade.median_ms / peer.median_ms,
            per_second: transcripts as f64 / (grade.median_ms / 1000.0),
            grade,
            peer,
            passed: tally.0,
            failed: tally.1,
        })
    })();
    drop(dir);
    result
}

/// Every row graded and trusted; (passed, failed).
fn check(rows: &[crate::grade::Row]) -> Result<(usize, usize), Error> {
    let mut tally = (0, 0);
    for r in rows {
        match &r.outcome {
            Outcome::Graded(g) if g.flags.is_empty() => {
                if g.score.passed {
                    tally.0 += 1
                } else {
                    tally.1 += 1
                }
            }
            Outcome::Graded(g) => {
                return Err(Error::Failed(format!(
                    "{}: a synthetic transcript was flagged: {}",
                    r.file.display(),
                    g.flags.join("; ")
                )));
            }
            Outcome::Unreadable { reason } => {
                return Err(Error::Failed(format!("{}: {reason}", r.file.display())));
            }
        }
    }
    Ok(tally)
}

/// The peer: `sha256sum` reading and hashing every file once.
fn sha256sum(files: &[PathBuf]) -> Result<Duration, Error> {
    let started = Instant::now();
    // Batches keep the command line short of the system's limit.
    for batch in files.chunks(500) {
        let status = std::process::Command::new("sha256sum")
            .args(batch)
            .stdout(std::process::Stdio::null())
            .status()
            .map_err(|e| Error::Failed(format!("cannot run sha256sum (the peer): {e}")))?;
        if !status.success() {
            return Err(Error::Failed(format!("sha256sum failed: {status}")));
        }
    }
    Ok(started.elapsed())
}

/// The moves of each solution script of a scenario.
fn solutions(dir: &Path, id: &str) -> Vec<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(dir.join("solutions")) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            name.starts_with(&format!("{id}.")) && name.ends_with(".txt")
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|text| crate::action::parse_script(&text).ok())
        .map(|lines| lines.into_iter().map(|l| l.text).collect())
        .collect()
}

/// A drill as `pgdrill run` would record it: healthy traffic, an incident
/// from minute one to the middle, the script's moves spread over it.
fn synthesize(
    scenario: &Scenario,
    script: Option<&[String]>,
    n: usize,
    minutes: u32,
    rng: &mut rand::rngs::ChaCha8Rng,
) -> Transcript {
    let mut t = Transcript::new(&scenario.id, n as u64, 1.0, 1_790_000_000 + n as u64 * 60);
    t.learner = Some(format!("learner-{n:04}"));
    t.scenario_fingerprint = Some(scenario.fingerprint());
    let end_ms = u64::from(minutes) * 60_000;
    let incident = (60_000, end_ms / 2);
    let push = |t: &mut Transcript, t_ms: u64, kind: EventKind| {
        t.events.push(Event {
            t_ms,
            hash: None,
            kind,
        })
    };
    push(
        &mut t,
        0,
        EventKind::Started {
            message: format!("{} pods serving", scenario.fleet.pods),
        },
    );
    let moves = script.unwrap_or_default();
    let step = (end_ms - 90_000) / (moves.len() as u64 + 1);
    let mut next_move = 0;
    let mut writes = 0;
    for sec in 1..=end_ms / 1000 {
        let t_ms = sec * 1000;
        if t_ms == incident.0 {
            push(
                &mut t,
                t_ms,
                EventKind::Timeline {
                    message: "release v2 with its migration".into(),
                    hidden: false,
                },
            );
            push(
                &mut t,
                t_ms,
                EventKind::Observation {
                    level: Level::Alert,
                    message: "SLO broken: error rate 38.2% (max 1.0%)".into(),
                },
            );
        }
        if t_ms == incident.1 {
            push(
                &mut t,
                t_ms,
                EventKind::Observation {
                    level: Level::Recovered,
                    message: "SLO held again".into(),
                },
            );
        }
        while next_move < moves.len() && t_ms >= 30_000 + step * (next_move as u64 + 1) {
            push(
                &mut t,
                t_ms,
                EventKind::Move(played(scenario, &moves[next_move])),
            );
            next_move += 1;
        }
        let broken = (incident.0..incident.1).contains(&t_ms);
        let window = window(scenario, t_ms, broken, rng);
        writes += window.writes;
        push(&mut t, t_ms, EventKind::Window(window));
    }
    push(
        &mut t,
        end_ms,
        EventKind::Rpo(Rpo {
            writes,
            ..Rpo::default()
        }),
    );
    push(
        &mut t,
        end_ms,
        EventKind::Ended {
            reason: EndReason::Resolved,
        },
    );
    t.seal(Some(KEY));
    t
}

/// A successful move of the script, with the state a drill half way
/// through its rollout would record.
fn played(scenario: &Scenario, text: &str) -> Move {
    Move {
        input: text.to_string(),
        canonical: text.to_string(),
        ok: true,
        result: format!("done: {text}"),
        tags: Vec::new(),
        outcome: Some(crate::transcript::Outcome::Done),
        parsed: crate::action::parse(text)
            .ok()
            .map(|a| Box::new(a.parsed())),
        by: None,
        state: State {
            pods: scenario
                .app
                .versions
                .iter()
                .map(|v| (v.name.clone(), scenario.fleet.pods / 2))
                .collect(),
            flags: scenario
                .flags
                .iter()
                .map(|f| (f.name.clone(), "off".into()))
                .collect(),
            applied: scenario
                .migrations
                .list
                .iter()
                .map(|m| m.id.clone())
                .collect(),
            snapshots: 1,
            instance: "primary".into(),
        },
    }
}

/// One second of traffic ending at `t_ms`: every endpoint of every
/// version, the new version failing while `broken`.
fn window(
    scenario: &Scenario,
    t_ms: u64,
    broken: bool,
    rng: &mut rand::rngs::ChaCha8Rng,
) -> Window {
    let mut window = Window {
        start_ms: t_ms - 1000,
        end_ms: t_ms,
        ..Window::default()
    };
    for v in &scenario.app.versions {
        for e in &v.endpoints {
            let requests = rng.random_range(3..12u64);
            let failed = if broken && v.name != scenario.fleet.version {
                rng.random_range(0..=requests)
            } else {
                0
            };
            let mut errors = std::collections::BTreeMap::new();
            if failed > 0 {
                errors.insert("42703".to_string(), failed);
            }
            let p50 = (rng.random_range(300..900u32) as f64) / 1000.0;
            let p99 = if broken {
                rng.random_range(1_000_000..2_100_000u32) as f64 / 1000.0
            } else {
                rng.random_range(900..9_000u32) as f64 / 1000.0
            };
            window.requests += requests;
            window.errors += failed;
            if e.write {
                window.writes += requests - failed;
            }
            window.series.push(Series {
                version: v.name.clone(),
                endpoint: e.name.clone(),
                requests,
                errors,
                p50_ms: p50,
                p99_ms: p99,
            });
        }
    }
    window.p50_ms = window.series.iter().map(|s| s.p50_ms).fold(0.0, f64::max);
    window.p99_ms = window.series.iter().map(|s| s.p99_ms).fold(0.0, f64::max);
    window
}

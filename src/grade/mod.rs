//! Batch grading: a folder of transcripts becomes a class table.
//!
//! Every transcript is re-scored from its events with the instructor's copy
//! of its scenario; a stored score is never read. Each one is also checked:
//! its hash chain and seal, its signature when a key is given, and the
//! fingerprint of the scenario files it was played against. A file that
//! cannot be graded (not JSON, cut short, another format, an unknown
//! scenario) becomes a row with the reason; it never stops the others.
//!
//! Grading is pure apart from reading files, and files are graded in
//! parallel; rows come back in the order of the files. One file per output
//! format lays the rows out (`table.rs`, `csv.rs`, `junit.rs`; JSON is the
//! serialised rows).

pub mod csv;
pub mod junit;
pub mod table;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::scenario::Scenario;
use crate::score::{ItemKind, Score};
use crate::transcript::{Finding, Transcript};

/// One transcript's line in the class table.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// The file, as found.
    pub file: PathBuf,
    /// The grade, or why there is none.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// What grading a file gave.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Scored.
    Graded(Box<Graded>),
    /// Not gradable.
    Unreadable {
        /// Why, in words.
        reason: String,
    },
}

/// A graded transcript.
#[derive(Debug, Clone, Serialize)]
pub struct Graded {
    /// Who played: the transcript's learner, else the file's name.
    pub learner: String,
    /// Whether the name came from the file name (the transcript has none).
    pub learner_from_file: bool,
    /// Scenario id.
    pub scenario: String,
    /// When it was played (UTC).
    pub started: String,
    /// The pgdrill that recorded it.
    pub pgdrill_version: String,
    /// The score, recomputed now.
    pub score: Score,
    /// Points lost and steps missed, with their lessons.
    pub deductions: Vec<Deduction>,
    /// Why this grade should not be trusted as it stands (empty: trusted).
    pub flags: Vec<String>,
    /// Whether a signature was verified with the instructor's key.
    pub signed: bool,
    /// Scenario seconds the drill lasted.
    pub duration_ms: u64,
}

impl Graded {
    /// Passed, and nothing about the transcript is in doubt.
    pub fn clean_pass(&self) -> bool {
        self.score.passed && self.flags.is_empty()
    }
}

/// A line of the score that cost the learner.
#[derive(Debug, Clone, Serialize)]
pub struct Deduction {
    /// The step, rule or move.
    pub label: String,
    /// Points taken (0 for a step not earned).
    pub points: i64,
    /// What happened and the lesson.
    pub detail: String,
}

impl Deduction {
    /// `flag-off (missed)` or `migrate down 002 (-40)`.
    pub fn short(&self) -> String {
        if self.points == 0 {
            format!("{} (missed)", self.label)
        } else {
            format!("{} ({})", self.label, self.points)
        }
    }
}

/// The instructor's scenarios, loaded once each, by id.
pub struct Scenarios {
    dir: PathBuf,
    loaded: Mutex<HashMap<String, Arc<Result<Loaded, String>>>>,
}

/// A scenario and the fingerprint of its files.
pub struct Loaded {
    /// The scenario.
    pub scenario: Scenario,
    /// [`Scenario::fingerprint`].
    pub fingerprint: String,
}

impl Scenarios {
    /// Scenarios from this folder.
    pub fn new(dir: &Path) -> Scenarios {
        Scenarios {
            dir: dir.to_path_buf(),
            loaded: Mutex::new(HashMap::new()),
        }
    }

    /// The scenario with this id, or why it cannot be had.
    pub fn get(&self, id: &str) -> Arc<Result<Loaded, String>> {
        let mut loaded = self.loaded.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = loaded.get(id) {
            return found.clone();
        }
        let result = self.load(id);
        let result = Arc::new(result);
        loaded.insert(id.to_string(), result.clone());
        result
    }

    fn load(&self, id: &str) -> Result<Loaded, String> {
        // An id, never a path: a transcript does not choose which files
        // the grader reads.
        if !crate::text::is_plain_name(id) {
            return Err(format!("unknown scenario `{id}` (not a scenario id)"));
        }
        let path = crate::scenario::find(id, &self.dir).map_err(|known| {
            format!(
                "unknown scenario `{id}`: not in {} (it has: {})",
                self.dir.display(),
                if known.is_empty() {
                    "nothing".into()
                } else {
                    known.join(", ")
                }
            )
        })?;
        let scenario = crate::scenario::load(&path)
            .map_err(|e| format!("scenario `{id}` has problems; run `pgdrill validate`:\n{e}"))?;
        Ok(Loaded {
            fingerprint: scenario.fingerprint(),
            scenario,
        })
    }
}

/// The transcript files among `paths`: files as given, folders searched
/// (recursively) for `*.json`, skipping reports (`*.evidence.json`) and
/// hidden entries. Paths that do not exist become unreadable rows.
pub fn collect(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<Row>) {
    fn walk(dir: &Path, files: &mut Vec<PathBuf>, bad: &mut Vec<Row>) {
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                bad.push(unreadable(dir, format!("cannot list the folder: {e}")));
                return;
            }
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                walk(&p, files, bad);
            } else if name.ends_with(".json") && !name.ends_with(".evidence.json") {
                files.push(p);
            }
        }
    }
    let mut files = Vec::new();
    let mut bad = Vec::new();
    for p in paths {
        if p.is_dir() {
            walk(p, &mut files, &mut bad);
        } else if p.exists() {
            files.push(p.clone());
        } else {
            bad.push(unreadable(p, "no such file or folder".into()));
        }
    }
    (files, bad)
}

fn unreadable(file: &Path, reason: String) -> Row {
    Row {
        file: file.to_path_buf(),
        outcome: Outcome::Unreadable { reason },
    }
}

/// Grades one transcript file.
pub fn grade_file(path: &Path, scenarios: &Scenarios, key: Option<&[u8]>) -> Row {
    match std::fs::read(path) {
        Ok(bytes) => grade_bytes(path, &bytes, scenarios, key),
        Err(e) => unreadable(path, format!("cannot read: {e}")),
    }
}

/// Grades one transcript's text (`path` names it in the row).
pub fn grade_bytes(path: &Path, bytes: &[u8], scenarios: &Scenarios, key: Option<&[u8]>) -> Row {
    let transcript = match Transcript::parse(path, bytes) {
        Ok(t) => t,
        Err(e) => {
            // The error names the file; the row already does.
            let text = e.to_string();
            let prefix = format!("{}: ", path.display());
            let reason = text.strip_prefix(&prefix).unwrap_or(&text).to_string();
            return unreadable(path, reason);
        }
    };
    let loaded = scenarios.get(&transcript.scenario);
    let loaded = match loaded.as_ref() {
        Ok(l) => l,
        Err(reason) => return unreadable(path, reason.clone()),
    };
    Row {
        file: path.to_path_buf(),
        outcome: Outcome::Graded(Box::new(grade(path, &transcript, loaded, key))),
    }
}

/// Grades a parsed transcript with its scenario.
pub fn grade(path: &Path, t: &Transcript, loaded: &Loaded, key: Option<&[u8]>) -> Graded {
    let score = crate::score::score(&loaded.scenario, t);
    let deductions = score
        .items
        .iter()
        .filter(|i| i.points < 0 || i.kind == ItemKind::MissedStep)
        .map(|i| Deduction {
            label: i.label.clone(),
            points: i.points,
            detail: i.detail.clone(),
        })
        .collect();
    let findings = t.verify(key);
    let signed = key.is_some() && findings.is_empty();
    let mut flags: Vec<String> = findings.iter().map(Finding::describe).collect();
    match &t.scenario_fingerprint {
        Some(f) if *f != loaded.fingerprint => flags.push(
            "played against other scenario files than yours (fingerprints differ): \
             scored with yours"
                .into(),
        ),
        Some(_) => {}
        // An unsealed transcript has no fingerprint either; said once.
        None if t.seal.is_some() => flags.push("no scenario fingerprint".into()),
        None => {}
    }
    if newer(&t.pgdrill_version, env!("CARGO_PKG_VERSION")) {
        flags.push(format!(
            "recorded by pgdrill {}, newer than this one ({}): grade with the newer one",
            t.pgdrill_version,
            env!("CARGO_PKG_VERSION")
        ));
    }
    let (learner, learner_from_file) = match &t.learner {
        Some(l) => (l.clone(), false),
        None => (
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            true,
        ),
    };
    Graded {
        learner,
        learner_from_file,
        scenario: t.scenario.clone(),
        started: crate::text::utc(t.started_at),
        pgdrill_version: t.pgdrill_version.clone(),
        duration_ms: t.events.last().map_or(0, |e| e.t_ms),
        score,
        deductions,
        flags,
        signed,
    }
}

/// Whether version `a` is newer than `b` (dotted numbers; other text is 0).
fn newer(a: &str, b: &str) -> bool {
    let parts = |v: &str| -> Vec<u64> {
        v.split(['.', '-', '+'])
            .take(3)
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    parts(a) > parts(b)
}

/// Grades files on every core; rows in the order of `files`.
pub fn grade_all(files: &[PathBuf], scenarios: &Scenarios, key: Option<&[u8]>) -> Vec<Row> {
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let mut rows: Vec<Option<Row>> = vec![None; files.len()];
    let done: Vec<Vec<(usize, Row)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                s.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(file) = files.get(i) else { break };
                        mine.push((i, grade_file(file, scenarios, key)));
                    }
                    mine
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("grading does not panic"))
            .collect()
    });
    for (i, row) in done.into_iter().flatten() {
        rows[i] = Some(row);
    }
    rows.into_iter().flatten().collect()
}

/// Counts for the summary line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Files looked at.
    pub files: usize,
    /// Passed with nothing flagged.
    pub passed: usize,
    /// Did not pass (flagged or not).
    pub failed: usize,
    /// Graded, with something about the transcript in doubt.
    pub flagged: usize,
    /// Not gradable.
    pub unreadable: usize,
}

impl Summary {
    /// Counts the rows.
    pub fn of(rows: &[Row]) -> Summary {
        let mut s = Summary {
            files: rows.len(),
            ..Summary::default()
        };
        for r in rows {
            match &r.outcome {
                Outcome::Graded(g) => {
                    if g.score.passed {
                        s.passed += usize::from(g.flags.is_empty());
                    } else {
                        s.failed += 1;
                    }
                    s.flagged += usize::from(!g.flags.is_empty());
                }
                Outcome::Unreadable { .. } => s.unreadable += 1,
            }
        }
        s
    }

    /// `24 transcripts: 18 passed, 4 failed, 1 flagged, 1 unreadable`.
    pub fn describe(&self) -> String {
        format!(
            "{} transcript(s): {} passed, {} failed, {} flagged, {} unreadable",
            self.files, self.passed, self.failed, self.flagged, self.unreadable
        )
    }
}

/// RTO achieved against its target, in words: `1m04s of 2m`, `not
/// recovered (2m)`, `no incident`.
pub fn rto(score: &Score) -> String {
    let target = crate::score::clock(score.rto_target_ms);
    match (score.incident_start_ms, score.rto_ms) {
        (None, _) => "no incident".into(),
        (Some(_), Some(rto)) => format!("{} of {target}", crate::score::clock(rto)),
        (Some(_), None) => format!("not recovered ({target})"),
    }
}

/// Writes lost, in words: `0 of 295`, `12 lost of 300 (max 0)`, `-`.
pub fn rpo(score: &Score) -> String {
    match &score.rpo {
        None => "-".into(),
        Some(r) if r.error.is_some() => "not measured".into(),
        Some(r) => match score.rpo_target {
            Some(max) => format!("{} lost of {} (max {max})", r.missing, r.writes),
            None => format!("{} lost of {}", r.missing, r.writes),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_number() {
        assert!(newer("0.10.0", "0.9.3"));
        assert!(!newer("0.1.0", "0.1.0"));
        assert!(!newer("0.1.0", "0.2.0"));
        assert!(newer("1.0.0-rc1", "0.9.0"));
    }

    #[test]
    fn a_transcript_does_not_choose_the_files_read() {
        let s = Scenarios::new(Path::new("scenarios"));
        for id in ["../secret", "/etc/x.toml", "a b", ""] {
            let got = s.get(id);
            let err = got.as_ref().as_ref().err().unwrap();
            assert!(err.contains("not a scenario id"), "{id}: {err}");
        }
    }
}

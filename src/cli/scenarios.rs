//! `pgdrill list`, `show` and `validate`: the scenario catalogue.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::say;
use crate::scenario::{self, LoadError};
use crate::{Error, Exit};

/// `pgdrill list`.
/// `built_in`: the folder is the course set built into this binary.
pub fn list(
    dir: &Path,
    built_in: bool,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let mut found = Vec::new();
    let mut broken = 0;
    for path in scenario::discover(dir)? {
        match scenario::load(&path) {
            Ok(s) => found.push(s),
            Err(e) => {
                broken += 1;
                eprintln!(
                    "{}: invalid, skipped (run `pgdrill validate {}`): {}",
                    path.display(),
                    path.display(),
                    first_line(&e)
                );
            }
        }
    }
    if json {
        let items: Vec<_> = found
            .iter()
            .map(|s| {
                serde_json::json!({
                    "id": s.id, "title": s.title, "kind": s.kind, "difficulty": s.difficulty,
                    "rto": s.rubric.rto.to_string(), "path": s.source.path,
                    "built_in": built_in,
                })
            })
            .collect();
        say!(out, "{}", serde_json::Value::Array(items));
    } else if found.is_empty() {
        say!(out, "no scenarios in {}", dir.display());
    } else {
        let width = found.iter().map(|s| s.id.len()).max().unwrap_or(0);
        for s in &found {
            say!(
                out,
                "{:<width$}  {:<9} {:<12} {}",
                s.id,
                format!("{:?}", s.kind).to_lowercase(),
                format!("{:?}", s.difficulty).to_lowercase(),
                s.title
            );
        }
        say!(out);
        let from = if built_in {
            " (the course set built into this pgdrill; --scenarios DIR or ./scenarios take precedence)"
        } else {
            ""
        };
        say!(out, "From {}{from}.", dir.display());
        say!(
            out,
            "Play one with `pgdrill run ID`; read its briefing with `pgdrill show ID`."
        );
    }
    Ok(if broken > 0 {
        Exit::BadInput.into()
    } else {
        ExitCode::SUCCESS
    })
}

fn first_line(e: &LoadError) -> String {
    e.to_string().lines().next().unwrap_or_default().to_string()
}

/// `pgdrill show SCENARIO`.
pub fn show(path: &Path, out: &mut impl Write) -> Result<ExitCode, Error> {
    let s = scenario::load(path)?;
    say!(out, "{}", crate::action::briefing(&s));
    Ok(ExitCode::SUCCESS)
}

/// `pgdrill validate [PATH...]`: every file, every problem. A file with
/// `[[questions]]` is checked as a quiz, any other as a scenario.
pub fn validate(
    paths: &[PathBuf],
    scenarios: &Path,
    quizzes: &Path,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let mut files = Vec::new();
    if paths.is_empty() {
        files = scenario::discover(scenarios)?;
        if quizzes.is_dir() {
            files.extend(scenario::discover(quizzes)?);
        }
    }
    for p in paths {
        if p.is_dir() {
            files.extend(scenario::discover(p)?);
        } else {
            files.push(p.clone());
        }
    }
    let mut bad = 0;
    let mut report = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let (kind, result) = if crate::quiz::is_quiz(&text) {
            let r = crate::quiz::load(file).map(|_| ()).map_err(|e| match e {
                crate::quiz::Error::Invalid(d) => (Some(d), String::new()),
                other => (None, other.to_string()),
            });
            ("quiz", r)
        } else {
            let r = scenario::load(file).map(|_| ()).map_err(|e| match e {
                LoadError::Invalid(d) => (Some(d), String::new()),
                other => (None, other.to_string()),
            });
            ("scenario", r)
        };
        match result {
            Ok(()) => {
                report.push(
                    serde_json::json!({ "file": file, "kind": kind, "ok": true, "problems": [] }),
                );
                if !json {
                    say!(out, "ok    {}", file.display());
                }
            }
            Err((diags, other)) => {
                bad += 1;
                let (problems, shown) = match diags {
                    Some(d) => (
                        serde_json::to_value(&d).unwrap_or_default(),
                        scenario::render(&d),
                    ),
                    None => (serde_json::json!([{ "message": other }]), other),
                };
                report.push(serde_json::json!({ "file": file, "kind": kind, "ok": false, "problems": problems }));
                if !json {
                    say!(out, "FAIL  {}\n{shown}\n", file.display());
                }
            }
        }
    }
    if json {
        say!(out, "{}", serde_json::Value::Array(report));
    } else {
        say!(out, "{} file(s) checked, {bad} with problems", files.len());
    }
    if bad > 0 {
        Err(Error::Invalid(bad))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

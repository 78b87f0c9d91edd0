//! `pgdrill score TRANSCRIPT` re-scores a saved transcript without a
//! database; `pgdrill report TRANSCRIPT` writes its evidence (incident
//! timeline, postmortem skeleton) as Markdown or JSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::say;
use crate::report::{Evidence, Format};
use crate::scenario::Scenario;
use crate::transcript::Transcript;
use crate::{Error, Exit};

/// A transcript and the scenario it was played against.
fn load(
    path: &Path,
    scenario: Option<PathBuf>,
    dir: &Path,
) -> Result<(Scenario, Transcript), Error> {
    let mut transcript = Transcript::load(path)?;
    // Scored all the same; `pgdrill grade` is where a class is checked.
    for f in transcript.verify(None) {
        if f != crate::transcript::Finding::Unsealed {
            eprintln!("warning: {}: {}", path.display(), f.describe());
        }
    }
    // After the seal is checked: it covers the file as written.
    crate::action::upgrade(&mut transcript);
    let scenario_path = match scenario {
        Some(p) => p,
        None => crate::scenario::resolve(&transcript.scenario, dir)?,
    };
    let scenario = crate::scenario::load(&scenario_path)?;
    if scenario.id != transcript.scenario {
        return Err(Error::Mismatch(format!(
            "{} is a transcript of `{}`, but {} is `{}`",
            path.display(),
            transcript.scenario,
            scenario_path.display(),
            scenario.id
        )));
    }
    Ok((scenario, transcript))
}

/// Re-scores a transcript with the scenario it names (or the one given).
pub fn run(
    path: &Path,
    scenario: Option<PathBuf>,
    dir: &Path,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let (scenario, transcript) = load(path, scenario, dir)?;
    let score = crate::score::score(&scenario, &transcript);
    if json {
        say!(
            out,
            "{}",
            serde_json::to_string_pretty(&score).unwrap_or_default()
        );
    } else {
        say!(out, "{}", crate::report::score(&score));
    }
    Ok(Exit::verdict(score.passed))
}

/// Writes a transcript's evidence to `output` (or `out`).
pub fn report(
    path: &Path,
    scenario: Option<PathBuf>,
    dir: &Path,
    format: Format,
    output: Option<&Path>,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let (scenario, transcript) = load(path, scenario, dir)?;
    match output {
        Some(file) => {
            write_report(&scenario, &transcript, format, file)?;
            say!(out, "wrote {}", file.display());
        }
        None => {
            let _ = crate::report::write(format, &evidence(&scenario, &transcript), out);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes a drill's evidence to a file (written whole, then renamed into
/// place, so a failed write never leaves half a report).
pub fn write_report(
    scenario: &Scenario,
    transcript: &Transcript,
    format: Format,
    file: &Path,
) -> Result<(), Error> {
    let mut buf = Vec::new();
    crate::report::write(format, &evidence(scenario, transcript), &mut buf)
        .expect("writing to memory");
    write_whole(file, &buf)
}

/// Writes a file whole: to a temporary name beside it, then renamed into
/// place, so a failed write never leaves half a file.
pub fn write_whole(file: &Path, bytes: &[u8]) -> Result<(), Error> {
    let mut tmp = file.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, file))
        .map_err(|source| Error::WriteOutput {
            path: file.to_path_buf(),
            source,
        })
}

/// A transcript's evidence, re-scored with the scenario (never the stored score).
fn evidence(scenario: &Scenario, transcript: &Transcript) -> Evidence {
    let score = crate::score::score(scenario, transcript);
    Evidence::build(scenario, transcript, &score)
}

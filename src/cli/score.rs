//! `pgdrill score TRANSCRIPT`: re-score a saved transcript without a database.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::say;
use crate::Error;
use crate::transcript::Transcript;

/// Re-scores a transcript with the scenario it names (or the one given).
pub fn run(
    path: &Path,
    scenario: Option<PathBuf>,
    dir: &Path,
    json: bool,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let transcript = Transcript::load(path)?;
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
    Ok(if score.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

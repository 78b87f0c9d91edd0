//! `pgdrill grade PATHS...`: re-score a class's transcripts and print the
//! class table, CSV, JSON or JUnit XML.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{Context, say};
use crate::grade::{self, Outcome, Row, Scenarios, Summary};
use crate::{Error, Exit};

/// Output formats of `pgdrill grade`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GradeFormat {
    /// The class table, then what was flagged or not graded.
    Table,
    /// One row per file, for a spreadsheet or gradebook.
    Csv,
    /// Every row with its full score.
    Json,
    /// JUnit XML: one test per learner and drill, for a course's CI.
    Junit,
}

/// Settings of `pgdrill grade`.
pub struct GradeArgs {
    /// Files and folders.
    pub paths: Vec<PathBuf>,
    /// Output format.
    pub format: GradeFormat,
    /// Where to write (default: stdout).
    pub output: Option<PathBuf>,
    /// Require and verify signatures.
    pub key: bool,
}

/// Grades the transcripts.
pub fn run(ctx: &Context, args: GradeArgs, out: &mut impl Write) -> Result<ExitCode, Error> {
    let key = match (args.key, ctx.signing_key()?) {
        (true, Some(k)) => Some(k),
        (true, None) => {
            return Err(Error::Usage(
                "--key verifies signatures with the key in PGDRILL_SIGNING_KEY, which is not set"
                    .into(),
            ));
        }
        (false, _) => None,
    };
    let (files, mut rows) = grade::collect(&args.paths);
    if files.is_empty() && rows.is_empty() {
        return Err(Error::Usage(format!(
            "no transcripts (*.json) in {}",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let scenarios = Scenarios::new(&ctx.scenarios);
    let mut graded = grade::grade_all(&files, &scenarios, key);
    graded.append(&mut rows);
    let rows = graded;

    let mut buf = Vec::new();
    write(args.format, &rows, &mut buf).expect("writing to memory");
    match &args.output {
        Some(file) => {
            super::score::write_whole(file, &buf)?;
            say!(out, "{}", Summary::of(&rows).describe());
            say!(out, "wrote {}", file.display());
        }
        None => {
            let _ = out.write_all(&buf);
        }
    }
    let trusted = rows
        .iter()
        .all(|r| matches!(&r.outcome, Outcome::Graded(g) if g.flags.is_empty()));
    Ok(Exit::verdict(trusted))
}

/// Lays the rows out in a format.
pub fn write(format: GradeFormat, rows: &[Row], out: &mut impl Write) -> std::io::Result<()> {
    match format {
        GradeFormat::Table => writeln!(out, "{}", grade::table::render(rows)),
        GradeFormat::Csv => grade::csv::write(rows, out),
        GradeFormat::Json => {
            let doc = serde_json::json!({
                "summary": Summary::of(rows),
                "rows": rows,
            });
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)
        }
        GradeFormat::Junit => grade::junit::write(rows, out),
    }
}

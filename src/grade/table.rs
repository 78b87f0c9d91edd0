//! The class table for the terminal: one line per transcript, then what
//! was flagged and what could not be read, each with its reason.

use tabled::builder::Builder;
use tabled::settings::{Modify, Style, Width, object::Columns};

use super::{Outcome, Row, Summary, rpo, rto};

/// The table, the flagged and unreadable files, and the summary line.
pub fn render(rows: &[Row]) -> String {
    let mut b = Builder::default();
    b.push_record([
        "file",
        "learner",
        "scenario",
        "score",
        "pass",
        "RTO of target",
        "RPO",
        "deductions",
        "trust",
    ]);
    let mut flagged = Vec::new();
    let mut failed = Vec::new();
    let mut unreadable = Vec::new();
    for r in rows {
        match &r.outcome {
            Outcome::Graded(g) => {
                let s = &g.score;
                // The same name CSV, JSON and JUnit give (the file's stem
                // when the transcript names nobody).
                let learner = g.learner.clone();
                let trust = match (g.flags.len(), g.signed) {
                    (0, true) => "signed".to_string(),
                    (0, false) => "ok".to_string(),
                    (n, _) => format!("FLAGGED ({n})"),
                };
                let deductions = if g.deductions.is_empty() {
                    "-".to_string()
                } else {
                    g.deductions
                        .iter()
                        .map(|d| d.short())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let file = r
                    .file
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                b.push_record([
                    file,
                    learner,
                    g.scenario.clone(),
                    format!("{}/{}", s.points, s.max_points),
                    if s.passed { "PASS" } else { "FAIL" }.to_string(),
                    rto(s),
                    rpo(s),
                    deductions,
                    trust,
                ]);
                if !g.flags.is_empty() {
                    flagged.push((r, &g.flags));
                }
                if !s.passed {
                    failed.push((r, g));
                }
            }
            Outcome::Unreadable { reason } => unreadable.push((r, reason)),
        }
    }
    let mut out = String::new();
    if b.count_records() > 1 {
        let mut table = b.build();
        table
            .with(Style::sharp())
            .with(Modify::new(Columns::one(7)).with(Width::wrap(32).keep_words(true)));
        out.push_str(&table.to_string());
        out.push('\n');
    }
    if !failed.is_empty() {
        out.push_str("\nDid not pass:\n");
        for (r, g) in failed {
            let name = r.file.file_name().unwrap_or_default().to_string_lossy();
            out.push_str(&format!("  {} ({name})\n", g.learner));
            for reason in &g.score.reasons {
                out.push_str(&format!("    - {reason}\n"));
            }
        }
    }
    if !flagged.is_empty() {
        out.push_str("\nFlagged (graded, but check before you trust the grade):\n");
        for (r, flags) in flagged {
            out.push_str(&format!("  {}\n", r.file.display()));
            for f in flags {
                out.push_str(&format!("    - {f}\n"));
            }
        }
    }
    if !unreadable.is_empty() {
        out.push_str("\nNot graded:\n");
        for (r, reason) in unreadable {
            let reason = reason.replace('\n', "\n      ");
            out.push_str(&format!("  {}: {reason}\n", r.file.display()));
        }
    }
    out.push('\n');
    out.push_str(&Summary::of(rows).describe());
    out
}

//! The class table as JUnit XML, so a course's CI shows one test per
//! learner and drill: a suite per scenario, a test case per transcript
//! (named after the learner), a failure when the drill did not pass or the
//! transcript is flagged, an error when the file could not be graded.

use std::collections::BTreeMap;
use std::io::{self, Write};

use super::{Graded, Outcome, Row, rpo, rto};
use crate::text::escape_markup as esc;

/// Why a graded transcript fails its test case, if it does.
fn failure(g: &Graded) -> Option<(String, String)> {
    if g.clean_pass() {
        return None;
    }
    let s = &g.score;
    let message = if !g.flags.is_empty() {
        format!("flagged: {}", g.flags.join("; "))
    } else {
        s.reasons.join("; ")
    };
    let mut body = format!(
        "score {} of {} (pass mark {}); RTO {}; RPO {}\n",
        s.points,
        s.max_points,
        s.pass_mark,
        rto(s),
        rpo(s)
    );
    for r in &s.reasons {
        body.push_str(&format!("- {r}\n"));
    }
    for f in &g.flags {
        body.push_str(&format!("- flagged: {f}\n"));
    }
    for d in &g.deductions {
        body.push_str(&format!("- {}: {}\n", d.short(), d.detail));
    }
    Some((message, body))
}

/// Writes the rows.
pub fn write(rows: &[Row], out: &mut impl Write) -> io::Result<()> {
    let mut suites: BTreeMap<&str, Vec<&Row>> = BTreeMap::new();
    for r in rows {
        let suite = match &r.outcome {
            Outcome::Graded(g) => g.scenario.as_str(),
            Outcome::Unreadable { .. } => "unreadable",
        };
        suites.entry(suite).or_default().push(r);
    }
    let count =
        |pred: &dyn Fn(&Row) -> bool, rows: &[&Row]| rows.iter().filter(|r| pred(r)).count();
    let is_failure = |r: &Row| matches!(&r.outcome, Outcome::Graded(g) if !g.clean_pass());
    let is_error = |r: &Row| matches!(r.outcome, Outcome::Unreadable { .. });
    let all: Vec<&Row> = rows.iter().collect();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="pgdrill grade" tests="{}" failures="{}" errors="{}">"#,
        all.len(),
        count(&is_failure, &all),
        count(&is_error, &all)
    )?;
    for (suite, rows) in &suites {
        writeln!(
            out,
            r#"  <testsuite name="{}" tests="{}" failures="{}" errors="{}">"#,
            esc(suite),
            rows.len(),
            count(&is_failure, rows),
            count(&is_error, rows)
        )?;
        for r in rows {
            let file = r.file.display().to_string();
            match &r.outcome {
                Outcome::Graded(g) => {
                    writeln!(
                        out,
                        r#"    <testcase classname="pgdrill.{}" name="{}" file="{}" time="{:.3}">"#,
                        esc(&g.scenario),
                        esc(&g.learner),
                        esc(&file),
                        g.duration_ms as f64 / 1000.0
                    )?;
                    if let Some((message, body)) = failure(g) {
                        writeln!(
                            out,
                            r#"      <failure message="{}" type="{}">{}</failure>"#,
                            esc(&message),
                            if g.flags.is_empty() {
                                "failed"
                            } else {
                                "flagged"
                            },
                            esc(&body)
                        )?;
                    }
                    writeln!(
                        out,
                        "      <system-out>{}</system-out>",
                        esc(&format!(
                            "score {}/{}; RTO {}; RPO {}; played {} UTC with pgdrill {}",
                            g.score.points,
                            g.score.max_points,
                            rto(&g.score),
                            rpo(&g.score),
                            g.started,
                            g.pgdrill_version
                        ))
                    )?;
                    writeln!(out, "    </testcase>")?;
                }
                Outcome::Unreadable { reason } => {
                    writeln!(
                        out,
                        r#"    <testcase classname="pgdrill.unreadable" name="{}" file="{}">"#,
                        esc(&file),
                        esc(&file)
                    )?;
                    writeln!(
                        out,
                        r#"      <error message="{}" type="unreadable"/>"#,
                        esc(reason)
                    )?;
                    writeln!(out, "    </testcase>")?;
                }
            }
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_is_escaped() {
        assert_eq!(
            esc(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        assert_eq!(esc("bell\u{7}"), "bell?");
    }
}

//! The incident timeline as Markdown: what a team pastes into its incident
//! ticket and turns into a postmortem. Laid out from [`Evidence`] only.

use std::io::{self, Write};

use super::evidence::{Evidence, Line, Source};
use super::postmortem::Postmortem;
use crate::score::Score;
use crate::score::clock;

/// A table cell: one line, pipes escaped.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// A move as inline code (its own backticks would end the span).
fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'"))
}

fn yes_no(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

fn timeline_table(out: &mut impl Write, lines: &[Line]) -> io::Result<()> {
    writeln!(out, "| time | source | what | result |")?;
    writeln!(out, "| ---: | --- | --- | --- |")?;
    for l in lines {
        let what = match l.source {
            Source::Move => code(&cell(&l.text)),
            _ => cell(&l.text),
        };
        let result = match (l.ok, &l.result) {
            (Some(true), Some(r)) => format!("ok: {}", cell(r)),
            (Some(false), Some(r)) => format!("**failed**: {}", cell(r)),
            _ => String::new(),
        };
        writeln!(
            out,
            "| {} | {} | {what} | {result} |",
            clock(l.t_ms),
            l.source.label()
        )?;
    }
    Ok(())
}

/// Writes the report, section by section.
pub fn write(e: &Evidence, out: &mut impl Write) -> io::Result<()> {
    facts(e, out)?;
    plan(e, out)?;
    signal(e, out)?;
    timeline(e, out)?;
    score(&e.score, out)?;
    postmortem(&e.postmortem, out)
}

/// The title and the table of facts: drill, result, RTO, RPO, end.
fn facts(e: &Evidence, out: &mut impl Write) -> io::Result<()> {
    let s = &e.score;
    let heading = match e.scenario.kind {
        crate::scenario::ScenarioKind::Incident => "Incident timeline",
        crate::scenario::ScenarioKind::Rollout => "Rollout timeline",
    };
    writeln!(out, "# {heading}: {}", e.scenario.title)?;
    writeln!(out)?;
    writeln!(out, "| | |")?;
    writeln!(out, "| --- | --- |")?;
    let kind = match e.scenario.kind {
        crate::scenario::ScenarioKind::Incident => "incident drill",
        crate::scenario::ScenarioKind::Rollout => "rollout lab",
    };
    writeln!(out, "| drill | `{}` ({kind}) |", e.scenario.id)?;
    writeln!(out, "| trains | {} |", cell(&e.scenario.trains.join("; ")))?;
    writeln!(
        out,
        "| played | {} UTC, time scale {}x, seed {}, pgdrill {}{} |",
        e.started,
        e.time_scale,
        e.seed,
        e.pgdrill_version,
        e.backend
            .as_deref()
            .map(|b| format!(", {b} backend"))
            .unwrap_or_default()
    )?;
    let verdict = if s.passed { "PASS" } else { "FAIL" };
    writeln!(
        out,
        "| result | **{verdict}**: {} of {} points (pass mark {}) |",
        s.points, s.max_points, s.pass_mark
    )?;
    let r = &e.recovery;
    let rto = match (r.incident_start_ms, r.rto_ms) {
        (None, _) => "no incident".to_string(),
        (Some(start), Some(rto)) => format!(
            "{} (incident {} → recovered {}), target {}: **{}**",
            clock(rto),
            clock(start),
            clock(start + rto),
            clock(r.rto_target_ms),
            yes_no(r.met)
        ),
        (Some(start), None) => format!(
            "not recovered (incident since {}), target {}: **missed**",
            clock(start),
            clock(r.rto_target_ms)
        ),
    };
    writeln!(out, "| RTO | {rto} |")?;
    if let Some(rpo) = &e.rpo {
        let target = rpo
            .target
            .map(|t| format!(", target at most {t}: **{}**", yes_no(rpo.met)))
            .unwrap_or_else(|| " (not graded)".to_string());
        writeln!(
            out,
            "| RPO | {} of {} acknowledged writes lost{target} |",
            rpo.missing, rpo.writes
        )?;
    }
    if let Some(end) = &e.ended {
        writeln!(
            out,
            "| ended | {} at {} |",
            end.reason.describe(),
            clock(end.t_ms)
        )?;
    }
    writeln!(out)?;
    Ok(())
}

/// The migration plan, approvals and go/no-go decisions.
fn plan(e: &Evidence, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "## Migration plan")?;
    writeln!(out)?;
    if e.plan.is_empty() {
        writeln!(
            out,
            "No plan was recorded. Runbook 000's pre-deploy checklist asks for the migration's classification and a rollback window with an owner before any rollout."
        )?;
    } else {
        writeln!(
            out,
            "| recorded | migration | declared | classified | rollback window | owner | purpose |"
        )?;
        writeln!(out, "| ---: | --- | --- | --- | --- | --- | --- |")?;
        for p in &e.plan {
            let classified = match &p.declared_kind {
                Some(d) if *d != p.classified => format!("{} (**wrong**)", p.classified),
                _ => p.classified.clone(),
            };
            writeln!(
                out,
                "| {} | `{}` | {} | {classified} | {} | {} | {} |",
                clock(p.t_ms),
                p.migration,
                p.declared_kind.as_deref().unwrap_or("unknown"),
                p.window,
                cell(&p.owner),
                cell(p.purpose.as_deref().unwrap_or(""))
            )?;
        }
    }
    if !e.approvals.is_empty() {
        writeln!(out)?;
        for a in &e.approvals {
            writeln!(out, "- Approval at {}: {}", clock(a.t_ms), a.text)?;
        }
    }
    if !e.decisions.is_empty() {
        writeln!(out)?;
        writeln!(out, "Decisions:")?;
        writeln!(out)?;
        for d in &e.decisions {
            writeln!(
                out,
                "- {}: **{}** for `{}`: {}",
                clock(d.t_ms),
                if d.go { "GO" } else { "NO-GO" },
                d.migration,
                d.reason
            )?;
        }
    }
    writeln!(out)?;
    Ok(())
}

/// The failure signal the drill observed.
fn signal(e: &Evidence, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "## Observed failure signal")?;
    writeln!(out)?;
    match &e.signal {
        None => writeln!(
            out,
            "None: every window met the SLO and every integrity check passed."
        )?,
        Some(sig) => {
            for line in &e.postmortem.detection {
                writeln!(out, "- {line}")?;
            }
            if sig.worst.requests > 0 && sig.worst.t_ms != sig.first.t_ms {
                writeln!(
                    out,
                    "- Worst window at {}: {}.",
                    clock(sig.worst.t_ms),
                    sig.worst.describe()
                )?;
            }
        }
    }
    writeln!(out)?;
    Ok(())
}

/// Every event and move, then the notes and updates sent.
fn timeline(e: &Evidence, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "## Timeline")?;
    writeln!(out)?;
    writeln!(
        out,
        "Scenario time since the drill started. Every move as typed, with its result."
    )?;
    writeln!(out)?;
    timeline_table(out, &e.timeline)?;
    writeln!(out)?;

    if !e.notes.is_empty() {
        writeln!(out, "## Evidence and communication")?;
        writeln!(out)?;
        for n in &e.notes {
            writeln!(out, "- {}: {}", clock(n.t_ms), n.text)?;
        }
        writeln!(out)?;
    }
    Ok(())
}

/// The score lines and the verdict.
fn score(s: &Score, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "## Score")?;
    writeln!(out)?;
    writeln!(out, "| | what | points | why |")?;
    writeln!(out, "| --- | --- | ---: | --- |")?;
    for i in &s.items {
        writeln!(
            out,
            "| {} | {} | {} | {} |",
            i.kind.tag(),
            cell(&i.label),
            i.signed_points(),
            cell(&i.detail)
        )?;
    }
    writeln!(out)?;
    if s.reasons.is_empty() {
        writeln!(out, "Passed.")?;
    } else {
        writeln!(out, "Why it failed:")?;
        writeln!(out)?;
        for reason in &s.reasons {
            writeln!(out, "- {reason}")?;
        }
    }
    writeln!(out)?;
    Ok(())
}

/// The postmortem skeleton: the facts filled in, the questions left open.
fn postmortem(pm: &Postmortem, out: &mut impl Write) -> io::Result<()> {
    writeln!(out, "## Postmortem")?;
    writeln!(out)?;
    writeln!(
        out,
        "A skeleton to complete (runbook 003: timeline, root cause, detection and mitigation, permanent fixes). The facts are filled in from the drill; the questions are yours."
    )?;
    writeln!(out)?;
    writeln!(out, "### Summary")?;
    writeln!(out)?;
    writeln!(out, "{}", pm.summary)?;
    writeln!(out)?;
    writeln!(out, "### Timeline")?;
    writeln!(out)?;
    if pm.timeline.is_empty() {
        writeln!(out, "Nothing happened that a postmortem would list.")?;
    } else {
        for l in &pm.timeline {
            let what = match l.source {
                Source::Move => code(&l.text),
                _ => l.text.clone(),
            };
            writeln!(out, "- {} ({}) {what}", clock(l.t_ms), l.source.label())?;
        }
    }
    writeln!(out)?;
    writeln!(out, "### Root cause")?;
    writeln!(out)?;
    if !pm.changes.is_empty() {
        writeln!(out, "What changed right before the incident:")?;
        writeln!(out)?;
        for l in &pm.changes {
            writeln!(out, "- {} ({}) {}", clock(l.t_ms), l.source.label(), l.text)?;
        }
        writeln!(out)?;
    }
    writeln!(
        out,
        "_Why did this change break the service or the data? Why did review, tests or the rollout plan not stop it?_"
    )?;
    writeln!(out)?;
    writeln!(out, "### Detection")?;
    writeln!(out)?;
    if pm.detection.is_empty() {
        writeln!(out, "Nothing was detected.")?;
    }
    for d in &pm.detection {
        writeln!(out, "- {d}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "_Would a real alert have fired this fast? Which signal should page next time?_"
    )?;
    writeln!(out)?;
    writeln!(out, "### Mitigation")?;
    writeln!(out)?;
    if pm.mitigation.is_empty() {
        writeln!(
            out,
            "No move changed anything between the incident's start and its end."
        )?;
    }
    for l in &pm.mitigation {
        let result = match (l.ok, &l.result) {
            (Some(false), Some(r)) => format!(" (failed: {r})"),
            _ => String::new(),
        };
        writeln!(out, "- {} {}{result}", clock(l.t_ms), code(&l.text))?;
    }
    writeln!(out)?;
    writeln!(out, "### Follow-ups")?;
    writeln!(out)?;
    for f in &pm.follow_ups {
        writeln!(out, "- [ ] {f}")?;
    }
    Ok(())
}

//! The evidence of a drill as one self-contained HTML page: inline CSS,
//! inline SVG charts (`svg.rs`), no script and nothing fetched (a Content
//! Security Policy forbids it, so a stray reference fails loudly in a
//! browser's console instead of leaking a request). Laid out from
//! [`Evidence`] only.
//!
//! Written with maud, which escapes every value it is given: a learner's
//! note, a move, a scenario's title are text, never markup, without a call
//! to remember. Markup is only what these templates spell out.
//!
//! Readable without colour: the verdict is a word, not a colour; the charts
//! say in words what their colours mean.

mod svg;

use std::io::{self, Write};

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::evidence::{Evidence, Line, RecoveryInfo, Source};
use crate::score::{Item, ItemKind, Score, clock};

/// What the page may load: nothing but its own inline style and data
/// images.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = r#"
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1a1a1a; max-width: 1000px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: .2em; }
h2 { margin-top: 1.8em; border-bottom: 1px solid #bbb; padding-bottom: .2em; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; font-size: .92em; }
th, td { border: 1px solid #ccc; padding: .3em .5em; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
td.num { text-align: right; white-space: nowrap; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .2em 1em; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.verdict { display: inline-block; font-weight: 700; font-size: 1.1em; padding: .2em .6em; border: 2px solid; border-radius: 4px; }
.verdict.pass { color: #1d6b2f; background: #e8f5ea; }
.verdict.fail { color: #a4161a; background: #fbe9e9; }
.bad { font-weight: 600; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: .92em; background: #f4f4f4; padding: 0 .2em; }
figure { margin: 1em 0; }
figcaption { font-weight: 600; margin-bottom: .3em; }
svg { display: block; max-width: 100%; height: auto; font-family: "DejaVu Sans", sans-serif; }
.lesson { margin: .2em 0 .8em 0; }
@media print { body { margin: 0; max-width: none; } h2 { break-after: avoid; } figure { break-inside: avoid; } }
"#;

/// The report's style sheet, for other pages that show its charts.
pub fn style() -> &'static str {
    STYLE
}

/// The charts of a drill so far (error rate and p99 per version), as the
/// report draws them; for a live page.
pub fn charts_so_far(
    scenario: &crate::scenario::Scenario,
    transcript: &crate::transcript::Transcript,
) -> Markup {
    let score = crate::score::score(scenario, transcript);
    let chart = crate::report::chart::Chart::build(scenario, transcript, &score);
    if chart.versions.is_empty() {
        return html! { p { "No traffic measured yet." } };
    }
    svg::charts(&chart)
}

/// Writes the report page.
pub fn write(e: &Evidence, out: &mut impl Write) -> io::Result<()> {
    out.write_all(page(e).into_string().as_bytes())
}

fn page(e: &Evidence) -> Markup {
    let heading = match e.scenario.kind {
        crate::scenario::ScenarioKind::Incident => "Incident timeline",
        crate::scenario::ScenarioKind::Rollout => "Rollout timeline",
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="Content-Security-Policy" content=(CSP);
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content={"pgdrill " (e.pgdrill_version)};
                title { (heading) ": " (e.scenario.title) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                h1 { (heading) ": " (e.scenario.title) }
                (verdict(&e.score))
                (facts(e))
                @if !e.score.reasons.is_empty() {
                    p { "Why it failed:" }
                    ul class="reasons" { @for reason in &e.score.reasons { li { (reason) } } }
                }
                h2 id="charts" { "What the service saw" }
                @if e.chart.versions.is_empty() {
                    p { "No metrics windows were recorded." }
                } @else {
                    (svg::charts(&e.chart))
                }
                (score_table(&e.score))
                (deductions(&e.score))
                h2 id="timeline" { "Timeline" }
                p { "Scenario time since the drill started. Every move as typed, with its result." }
                (timeline(&e.timeline))
                h2 id="follow-ups" { "Follow-ups" }
                ul { @for f in &e.postmortem.follow_ups { li { (f) } } }
                footer { p { "Written by pgdrill " (env!("CARGO_PKG_VERSION")) " from the transcript alone." } }
            }
        }
    }
}

fn verdict(s: &Score) -> Markup {
    let (class, word) = if s.passed {
        ("pass", "PASS")
    } else {
        ("fail", "FAIL")
    };
    html! {
        p {
            span class={"verdict " (class)} id="verdict" { (word) }
            " " (s.points) " of " (s.max_points) " points (pass mark " (s.pass_mark) ")"
        }
    }
}

/// A target met, or missed in bold.
fn met(ok: bool) -> Markup {
    html! { @if ok { "met" } @else { b { "missed" } } }
}

fn facts(e: &Evidence) -> Markup {
    html! {
        dl class="facts" {
            dt { "drill" } dd { code { (e.scenario.id) } }
            @if let Some(l) = &e.learner { dt { "learner" } dd { (l) } }
            dt { "played" }
            dd {
                (e.started) " UTC, time scale " (e.time_scale) "x, seed " (e.seed)
                ", pgdrill " (e.pgdrill_version)
                @if let Some(b) = &e.backend { ", " (b) " backend" }
            }
            dt { "RTO" } dd { (rto(&e.recovery)) }
            @if let Some(rpo) = &e.rpo {
                dt { "RPO" }
                dd {
                    (rpo.missing) " of " (rpo.writes) " acknowledged writes lost"
                    @match rpo.target {
                        Some(t) => { ", target at most " (t) ": " (met(rpo.met)) }
                        None => { " (not graded)" }
                    }
                }
            }
            @if let Some(end) = &e.ended {
                dt { "ended" } dd { (end.reason.describe()) " at " (clock(end.t_ms)) }
            }
        }
    }
}

fn rto(r: &RecoveryInfo) -> Markup {
    html! {
        @match (r.incident_start_ms, r.rto_ms) {
            (None, _) => { "no incident" }
            (Some(start), Some(rto)) => {
                (clock(rto)) " (incident " (clock(start)) " → recovered " (clock(start + rto))
                "), target " (clock(r.rto_target_ms)) ": " (met(r.met))
            }
            (Some(start), None) => {
                "not recovered (incident since " (clock(start)) "), target "
                (clock(r.rto_target_ms)) ": " b { "missed" }
            }
        }
    }
}

fn kind(i: &Item) -> &'static str {
    match i.kind {
        ItemKind::Step => "step",
        ItemKind::MissedStep => "missed step",
        ItemKind::Forbidden => "forbidden move",
        ItemKind::Guardrail => "guardrail",
        ItemKind::Check => "integrity check",
        ItemKind::Rpo => "RPO",
        ItemKind::Hint => "hint",
        ItemKind::Comms => "comms cadence",
    }
}

fn score_table(s: &Score) -> Markup {
    html! {
        h2 id="score" { "Score" }
        table class="score" {
            tr { th { "line" } th { "label" } th { "points" } th { "at" } th { "detail" } }
            @for i in &s.items {
                tr {
                    td { (kind(i)) }
                    td { (i.label) }
                    td class="num" { (format!("{:+}", i.points)) }
                    td class="num" { (i.t_ms.map(clock).unwrap_or_default()) }
                    td { (i.detail) }
                }
            }
            tr {
                th colspan="2" { "total" }
                th class="num" { (s.points) }
                th colspan="2" { "of " (s.max_points) " (pass mark " (s.pass_mark) ")" }
            }
        }
    }
}

fn deductions(s: &Score) -> Markup {
    let deductions: Vec<&Item> = s
        .items
        .iter()
        .filter(|i| i.points < 0 || i.kind == ItemKind::MissedStep)
        .collect();
    html! {
        h2 id="deductions" { "Deductions and their lessons" }
        @if deductions.is_empty() {
            p { "None: every step earned, no rule broken." }
        }
        @for d in deductions {
            h3 {
                (d.label) " ("
                @if d.points < 0 { (d.points) " points" } @else { "not earned" }
                ")"
            }
            p class="lesson" { (d.detail) }
        }
    }
}

fn timeline(lines: &[Line]) -> Markup {
    html! {
        table class="timeline" {
            tr { th { "time" } th { "source" } th { "what" } th { "result" } }
            @for l in lines {
                tr {
                    td class="num" { (clock(l.t_ms)) }
                    td { (l.source.label()) }
                    td { @if l.source == Source::Move { code { (l.text) } } @else { (l.text) } }
                    td {
                        @match (l.ok, &l.result) {
                            (Some(true), Some(r)) => { "ok: " (r) }
                            (Some(false), Some(r)) => { span class="bad" { "failed" } ": " (r) }
                            _ => {}
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_learner_typed_is_text_never_markup() {
        let hostile = "<script>alert(1)</script> & \"quoted\"";
        let lines = [Line {
            t_ms: 1000,
            source: Source::Move,
            text: hostile.into(),
            result: Some(format!("noted: {hostile}")),
            ok: Some(true),
            changes_nothing: false,
        }];
        let page = timeline(&lines).into_string();
        assert!(!page.contains("<script>"), "{page}");
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quoted&quot;"),
            "{page}"
        );
    }
}

//! The evidence of a drill as one self-contained HTML page: inline CSS,
//! inline SVG charts, no script and nothing fetched (a Content Security
//! Policy forbids it, so a stray reference fails loudly in a browser's
//! console instead of leaking a request). Laid out from [`Evidence`] only.
//!
//! Readable without colour: every series has its own dash pattern and a
//! label at its end, every marker a tag (`F1`, `3`, `R`, `RTO`) explained in
//! the key below the charts, and the verdict is a word, not a colour.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::chart::{Chart, MarkerKind, VersionSeries};
use super::escape_markup as esc;
use super::evidence::{Evidence, Line, Source};
use crate::score::{ItemKind, clock};

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

/// Series styles: a colour and a dash pattern each, so they differ in grey too.
const SERIES: [(&str, &str, &str); 4] = [
    ("#1b6ca8", "", "solid"),
    ("#c0392b", "8 4", "dashed"),
    ("#2e8540", "2 3", "dotted"),
    ("#7d3c98", "10 3 2 3", "dash-dot"),
];

fn marker_style(kind: MarkerKind) -> (&'static str, &'static str, f64) {
    match kind {
        MarkerKind::Fault => ("#a4161a", "3 3", 1.5),
        MarkerKind::Move => ("#555555", "", 1.0),
        MarkerKind::IncidentStart => ("#a4161a", "6 3", 2.0),
        MarkerKind::Recovery => ("#1d6b2f", "", 2.5),
        MarkerKind::RtoTarget => ("#000000", "10 4", 2.0),
    }
}

fn marker_class(kind: MarkerKind) -> &'static str {
    match kind {
        MarkerKind::Fault => "fault",
        MarkerKind::Move => "move",
        MarkerKind::IncidentStart => "incident-start",
        MarkerKind::Recovery => "recovery",
        MarkerKind::RtoTarget => "rto-target",
    }
}

/// Geometry shared by both charts.
struct Frame {
    width: f64,
    left: f64,
    right: f64,
    band: f64,
    plot: f64,
    end_ms: u64,
}

impl Frame {
    fn x(&self, t_ms: u64) -> f64 {
        let span = (self.width - self.left - self.right).max(1.0);
        self.left + span * (t_ms.min(self.end_ms) as f64 / self.end_ms.max(1) as f64)
    }

    fn top(&self) -> f64 {
        self.band + 8.0
    }

    fn bottom(&self) -> f64 {
        self.top() + self.plot
    }

    fn height(&self) -> f64 {
        self.bottom() + 34.0
    }
}

/// A marker's tag as drawn: one past the axis's end says where it is.
fn shown_tag(m: &super::chart::Marker, end_ms: u64) -> String {
    if m.t_ms > end_ms {
        format!("{} at {} →", m.tag, clock(m.t_ms))
    } else {
        m.tag.clone()
    }
}

/// Tags laid out in rows so they do not overlap: the row of each marker,
/// and how many rows.
fn tag_rows(chart: &Chart, frame: &Frame) -> (Vec<usize>, usize) {
    let mut ends: Vec<f64> = Vec::new();
    let mut rows = Vec::new();
    for m in &chart.markers {
        let w = tag_width(&shown_tag(m, frame.end_ms));
        let x0 = (frame.x(m.t_ms) - w / 2.0).min(frame.width - frame.right + 40.0 - w);
        let row = match ends.iter().position(|end| *end + 2.0 <= x0) {
            Some(r) => r,
            None if ends.len() < 6 => {
                ends.push(f64::MIN);
                ends.len() - 1
            }
            // Crowded: the row whose last tag ends first.
            None => (0..ends.len())
                .min_by(|a, b| ends[*a].total_cmp(&ends[*b]))
                .unwrap_or(0),
        };
        ends[row] = x0 + w;
        rows.push(row);
    }
    let used = ends.len().max(1);
    (rows, used)
}

fn tag_width(tag: &str) -> f64 {
    tag.chars().count() as f64 * 7.0 + 8.0
}

/// Nice time ticks for the x axis.
fn time_ticks(end_ms: u64) -> Vec<u64> {
    const STEPS_S: [u64; 9] = [5, 10, 15, 30, 60, 120, 300, 600, 1800];
    let secs = end_ms / 1000;
    let step = STEPS_S
        .iter()
        .copied()
        .find(|s| secs / s <= 10)
        .unwrap_or(3600);
    (0..=secs / step).map(|i| i * step * 1000).collect()
}

/// What one chart plots.
struct Plot<'a> {
    /// The SVG's id.
    id: &'a str,
    /// Its accessible title.
    title: &'a str,
    /// A value's y coordinate.
    y: &'a dyn Fn(f64) -> f64,
    /// Gridlines: value and label.
    ticks: Vec<(f64, String)>,
    /// The value of a point.
    value: &'a dyn Fn(&super::chart::Point) -> f64,
    /// The SLO's ceiling and its label.
    slo: (f64, String),
}

/// Draws one chart: the marker band, the plot with its axes, the series.
fn chart_svg(out: &mut String, chart: &Chart, frame: &Frame, plot: &Plot) {
    let Plot {
        id,
        title,
        y,
        ticks,
        value,
        slo,
    } = plot;
    let (rows, _) = tag_rows(chart, frame);
    let (w, h) = (frame.width, frame.height());
    let _ = writeln!(
        out,
        r#"<svg id="{id}" class="chart" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" aria-labelledby="{id}-title">"#
    );
    let _ = writeln!(out, r#"<title id="{id}-title">{}</title>"#, esc(title));
    let (top, bottom) = (frame.top(), frame.bottom());
    let (left, right) = (frame.left, frame.width - frame.right);
    // Grid and y axis.
    let _ = writeln!(out, r#"<g class="axis y">"#);
    for (v, label) in ticks {
        let py = y(*v);
        let _ = writeln!(
            out,
            r##"<line x1="{left}" x2="{right}" y1="{py:.1}" y2="{py:.1}" stroke="#e3e3e3"/><text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end">{}</text>"##,
            left - 6.0,
            py + 4.0,
            esc(label)
        );
    }
    let _ = writeln!(out, "</g>");
    // x axis.
    let _ = writeln!(out, r#"<g class="axis x">"#);
    for t in time_ticks(frame.end_ms) {
        let px = frame.x(t);
        let _ = writeln!(
            out,
            r##"<line x1="{px:.1}" x2="{px:.1}" y1="{bottom}" y2="{:.1}" stroke="#777"/><text x="{px:.1}" y="{:.1}" font-size="11" text-anchor="middle">{}</text>"##,
            bottom + 4.0,
            bottom + 16.0,
            clock(t)
        );
    }
    let _ = writeln!(
        out,
        r##"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="middle">scenario time</text>"##,
        (left + right) / 2.0,
        bottom + 30.0
    );
    let _ = writeln!(
        out,
        r##"<rect x="{left}" y="{top}" width="{:.1}" height="{}" fill="none" stroke="#777"/></g>"##,
        right - left,
        frame.plot
    );
    // The SLO line.
    let sy = y(slo.0);
    let _ = writeln!(
        out,
        r##"<g class="slo"><line x1="{left}" x2="{right}" y1="{sy:.1}" y2="{sy:.1}" stroke="#000" stroke-width="1" stroke-dasharray="1 3"/><text x="{:.1}" y="{:.1}" font-size="11">{}</text></g>"##,
        right + 4.0,
        sy + 4.0,
        esc(&slo.1)
    );
    // Markers: a line through the plot, a tag in the band above.
    for (m, row) in chart.markers.iter().zip(&rows) {
        let (colour, dash, width) = marker_style(m.kind);
        let px = frame.x(m.t_ms);
        let ty = 4.0 + *row as f64 * 16.0;
        let tag = shown_tag(m, frame.end_ms);
        let tw = tag_width(&tag);
        // Tags near the right edge stay inside the picture.
        let tx = (px - tw / 2.0).min(frame.width - frame.right + 40.0 - tw);
        let _ = writeln!(
            out,
            r##"<g class="marker marker-{}" data-t-ms="{}" data-tag="{}"><title>{} at {}: {}</title><line x1="{px:.1}" x2="{px:.1}" y1="{:.1}" y2="{bottom}" stroke="{colour}" stroke-width="{width}" stroke-dasharray="{dash}"/><rect x="{:.1}" y="{ty:.1}" width="{tw:.1}" height="14" rx="2" fill="#fff" stroke="{colour}"/><text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text></g>"##,
            marker_class(m.kind),
            m.t_ms,
            esc(&m.tag),
            esc(&m.tag),
            clock(m.t_ms),
            esc(&m.label),
            ty + 14.0,
            tx,
            tx + tw / 2.0,
            ty + 10.5,
            esc(&tag)
        );
    }
    // Series, each with its label at its last point.
    for (i, s) in chart.versions.iter().enumerate() {
        let (colour, dash, _) = SERIES[i % SERIES.len()];
        let d = path(s, frame, y, value);
        let _ = writeln!(
            out,
            r#"<g class="series" data-version="{}"><title>{}</title><path d="{d}" fill="none" stroke="{colour}" stroke-width="2" stroke-dasharray="{dash}"/>"#,
            esc(&s.version),
            esc(&format!("app {}", s.version))
        );
        if let Some(last) = s.points.last() {
            let _ = writeln!(
                out,
                r#"<text x="{:.1}" y="{:.1}" font-size="12" font-weight="600" fill="{colour}">{}</text>"#,
                frame.x(last.t_ms) + 4.0,
                y(value(last)) + 4.0 + i as f64 * 12.0,
                esc(&s.version)
            );
        }
        let _ = writeln!(out, "</g>");
    }
    let _ = writeln!(out, "</svg>");
}

/// A series as an SVG path, broken where the version served nothing.
fn path(
    s: &VersionSeries,
    frame: &Frame,
    y: &dyn Fn(f64) -> f64,
    value: &dyn Fn(&super::chart::Point) -> f64,
) -> String {
    let mut deltas: Vec<u64> = s
        .points
        .windows(2)
        .map(|w| w[1].t_ms.saturating_sub(w[0].t_ms))
        .collect();
    deltas.sort_unstable();
    let gap = deltas.get(deltas.len() / 2).copied().unwrap_or(1000) * 3;
    let mut d = String::new();
    let mut previous: Option<u64> = None;
    for p in &s.points {
        let cmd = match previous {
            Some(t) if p.t_ms.saturating_sub(t) <= gap => 'L',
            _ => 'M',
        };
        let _ = write!(d, "{cmd}{:.1},{:.1} ", frame.x(p.t_ms), y(value(p)));
        previous = Some(p.t_ms);
    }
    d.trim_end().to_string()
}

/// The smallest of a few round ceilings that holds `max`.
fn rate_ceiling(max: f64) -> f64 {
    [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]
        .into_iter()
        .find(|c| max <= *c)
        .unwrap_or(1.0)
}

fn percent(share: f64) -> String {
    let p = share * 100.0;
    if p.fract() == 0.0 {
        format!("{p:.0}%")
    } else {
        format!("{p:.1}%")
    }
}

fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{}s", ms / 1000.0)
    } else {
        format!("{ms}ms")
    }
}

fn charts(out: &mut String, chart: &Chart) {
    let mut frame = Frame {
        width: 960.0,
        left: 64.0,
        right: 110.0,
        band: 0.0,
        plot: 200.0,
        end_ms: chart.end_ms,
    };
    let (_, rows) = tag_rows(chart, &frame);
    frame.band = rows as f64 * 16.0 + 4.0;

    // Error rate, linear.
    let max_rate = chart
        .versions
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.error_rate))
        .fold(chart.slo_error_rate * 1.5, f64::max);
    let ceiling = rate_ceiling(max_rate);
    let (top, plot) = (frame.top(), frame.plot);
    let y_rate = move |v: f64| top + plot - plot * (v / ceiling).clamp(0.0, 1.0);
    let ticks: Vec<(f64, String)> = (0..=4)
        .map(|i| {
            let v = ceiling * f64::from(i) / 4.0;
            (v, percent(v))
        })
        .collect();
    let _ = writeln!(
        out,
        "<figure><figcaption>Error rate per app version</figcaption>"
    );
    chart_svg(
        out,
        chart,
        &frame,
        &Plot {
            id: "error-rate",
            title: "Share of requests that failed, per app version, per metrics window",
            y: &y_rate,
            ticks,
            value: &|p| p.error_rate,
            slo: (
                chart.slo_error_rate,
                format!("SLO {}", percent(chart.slo_error_rate)),
            ),
        },
    );
    let _ = writeln!(out, "</figure>");

    // p99, logarithmic: healthy milliseconds and stalled seconds both show.
    let max_p99 = chart
        .versions
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.p99_ms))
        .fold(chart.slo_p99_ms * 2.0, f64::max);
    let (lo, hi) = (0.1f64.log10(), max_p99.max(1.0).log10().ceil());
    let y_p99 = move |v: f64| {
        let f = (v.max(0.1).log10() - lo) / (hi - lo);
        top + plot - plot * f.clamp(0.0, 1.0)
    };
    let ticks: Vec<(f64, String)> = (-1..=hi as i32)
        .map(|e| {
            let v = 10f64.powi(e);
            (v, millis(v))
        })
        .collect();
    let _ = writeln!(
        out,
        "<figure><figcaption>p99 latency per app version (slowest endpoint, log scale)</figcaption>"
    );
    chart_svg(
        out,
        chart,
        &frame,
        &Plot {
            id: "p99",
            title: "p99 latency of each app version's slowest endpoint, per metrics window",
            y: &y_p99,
            ticks,
            value: &|p| p.p99_ms,
            slo: (
                chart.slo_p99_ms,
                format!("SLO {}", millis(chart.slo_p99_ms)),
            ),
        },
    );
    let _ = writeln!(out, "</figure>");

    // The key: series and markers in words.
    let _ = writeln!(
        out,
        "<table class=\"key\"><tr><th>on the charts</th><th>what</th></tr>"
    );
    for (i, s) in chart.versions.iter().enumerate() {
        let (_, _, pattern) = SERIES[i % SERIES.len()];
        let _ = writeln!(
            out,
            "<tr><td>{pattern} line labelled <b>{}</b></td><td>app version {} ({} windows with traffic)</td></tr>",
            esc(&s.version),
            esc(&s.version),
            s.points.len()
        );
    }
    for m in &chart.markers {
        let kind = match m.kind {
            MarkerKind::Fault => "scenario event",
            MarkerKind::Move => "your move",
            MarkerKind::IncidentStart => "incident began",
            MarkerKind::Recovery => "recovery point",
            MarkerKind::RtoTarget => "RTO target",
        };
        let _ = writeln!(
            out,
            "<tr class=\"key-{}\"><td><b>{}</b> at {}</td><td>{kind}: {}</td></tr>",
            marker_class(m.kind),
            esc(&m.tag),
            clock(m.t_ms),
            esc(&m.label)
        );
    }
    let _ = writeln!(out, "</table>");
}

fn timeline(out: &mut String, lines: &[Line]) {
    let _ = writeln!(
        out,
        "<table class=\"timeline\"><tr><th>time</th><th>source</th><th>what</th><th>result</th></tr>"
    );
    for l in lines {
        let what = match l.source {
            Source::Move => format!("<code>{}</code>", esc(&l.text)),
            _ => esc(&l.text),
        };
        let result = match (l.ok, &l.result) {
            (Some(true), Some(r)) => format!("ok: {}", esc(r)),
            (Some(false), Some(r)) => format!("<span class=\"bad\">failed</span>: {}", esc(r)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"num\">{}</td><td>{}</td><td>{what}</td><td>{result}</td></tr>",
            clock(l.t_ms),
            l.source.label()
        );
    }
    let _ = writeln!(out, "</table>");
}

/// Writes the page.
pub fn write(e: &Evidence, out: &mut impl Write) -> io::Result<()> {
    let s = &e.score;
    let mut h = String::new();
    let heading = match e.scenario.kind {
        crate::scenario::ScenarioKind::Incident => "Incident timeline",
        crate::scenario::ScenarioKind::Rollout => "Rollout timeline",
    };
    let _ = writeln!(
        h,
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pgdrill {}">
<title>{heading}: {}</title>
<style>{STYLE}</style>
</head>
<body>"#,
        esc(&e.pgdrill_version),
        esc(&e.scenario.title)
    );
    let _ = writeln!(h, "<h1>{heading}: {}</h1>", esc(&e.scenario.title));
    let (class, word) = if s.passed {
        ("pass", "PASS")
    } else {
        ("fail", "FAIL")
    };
    let _ = writeln!(
        h,
        r#"<p><span class="verdict {class}" id="verdict">{word}</span> {} of {} points (pass mark {})</p>"#,
        s.points, s.max_points, s.pass_mark
    );
    let _ = writeln!(h, "<dl class=\"facts\">");
    let mut fact = |k: &str, v: String| {
        let _ = writeln!(h, "<dt>{k}</dt><dd>{v}</dd>");
    };
    fact("drill", format!("<code>{}</code>", esc(&e.scenario.id)));
    if let Some(l) = &e.learner {
        fact("learner", esc(l));
    }
    fact(
        "played",
        format!(
            "{} UTC, time scale {}x, seed {}, pgdrill {}",
            esc(&e.started),
            e.time_scale,
            e.seed,
            esc(&e.pgdrill_version)
        ),
    );
    let r = &e.recovery;
    let met = |ok: bool| if ok { "met" } else { "<b>missed</b>" };
    let rto = match (r.incident_start_ms, r.rto_ms) {
        (None, _) => "no incident".to_string(),
        (Some(start), Some(rto)) => format!(
            "{} (incident {} → recovered {}), target {}: {}",
            clock(rto),
            clock(start),
            clock(start + rto),
            clock(r.rto_target_ms),
            met(r.met)
        ),
        (Some(start), None) => format!(
            "not recovered (incident since {}), target {}: <b>missed</b>",
            clock(start),
            clock(r.rto_target_ms)
        ),
    };
    fact("RTO", rto);
    if let Some(rpo) = &e.rpo {
        let target = rpo
            .target
            .map(|t| format!(", target at most {t}: {}", met(rpo.met)))
            .unwrap_or_else(|| " (not graded)".into());
        fact(
            "RPO",
            format!(
                "{} of {} acknowledged writes lost{target}",
                rpo.missing, rpo.writes
            ),
        );
    }
    if let Some(end) = &e.ended {
        fact(
            "ended",
            format!("{} at {}", end.reason.describe(), clock(end.t_ms)),
        );
    }
    let _ = writeln!(h, "</dl>");
    if !s.reasons.is_empty() {
        let _ = writeln!(h, "<p>Why it failed:</p><ul class=\"reasons\">");
        for reason in &s.reasons {
            let _ = writeln!(h, "<li>{}</li>", esc(reason));
        }
        let _ = writeln!(h, "</ul>");
    }

    let _ = writeln!(h, "<h2 id=\"charts\">What the service saw</h2>");
    if e.chart.versions.is_empty() {
        let _ = writeln!(h, "<p>No metrics windows were recorded.</p>");
    } else {
        charts(&mut h, &e.chart);
    }

    let _ = writeln!(h, "<h2 id=\"score\">Score</h2>");
    let _ = writeln!(
        h,
        "<table class=\"score\"><tr><th>line</th><th>label</th><th>points</th><th>at</th><th>detail</th></tr>"
    );
    for i in &s.items {
        let kind = match i.kind {
            ItemKind::Step => "step",
            ItemKind::MissedStep => "missed step",
            ItemKind::Forbidden => "forbidden move",
            ItemKind::Guardrail => "guardrail",
            ItemKind::Check => "integrity check",
            ItemKind::Rpo => "RPO",
            ItemKind::Hint => "hint",
        };
        let _ = writeln!(
            h,
            "<tr><td>{kind}</td><td>{}</td><td class=\"num\">{:+}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&i.label),
            i.points,
            i.t_ms.map(clock).unwrap_or_default(),
            esc(&i.detail)
        );
    }
    let _ = writeln!(
        h,
        "<tr><th colspan=\"2\">total</th><th class=\"num\">{}</th><th colspan=\"2\">of {} (pass mark {})</th></tr></table>",
        s.points, s.max_points, s.pass_mark
    );

    let _ = writeln!(h, "<h2 id=\"deductions\">Deductions and their lessons</h2>");
    let deductions: Vec<_> = s
        .items
        .iter()
        .filter(|i| i.points < 0 || i.kind == ItemKind::MissedStep)
        .collect();
    if deductions.is_empty() {
        let _ = writeln!(h, "<p>None: every step earned, no rule broken.</p>");
    }
    for d in deductions {
        let points = if d.points < 0 {
            format!("{} points", d.points)
        } else {
            "not earned".into()
        };
        let _ = writeln!(
            h,
            "<h3>{} ({points})</h3><p class=\"lesson\">{}</p>",
            esc(&d.label),
            esc(&d.detail)
        );
    }

    let _ = writeln!(h, "<h2 id=\"timeline\">Timeline</h2>");
    let _ = writeln!(
        h,
        "<p>Scenario time since the drill started. Every move as typed, with its result.</p>"
    );
    timeline(&mut h, &e.timeline);

    let pm = &e.postmortem;
    let _ = writeln!(h, "<h2 id=\"follow-ups\">Follow-ups</h2><ul>");
    for f in &pm.follow_ups {
        let _ = writeln!(h, "<li>{}</li>", esc(f));
    }
    let _ = writeln!(h, "</ul>");
    let _ = writeln!(
        h,
        "<footer><p>Written by pgdrill {} from the transcript alone.</p></footer>\n</body>\n</html>",
        esc(env!("CARGO_PKG_VERSION"))
    );
    out.write_all(h.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_and_ceilings_are_round() {
        assert_eq!(
            time_ticks(95_000),
            [
                0, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 70_000, 80_000, 90_000
            ]
        );
        assert_eq!(time_ticks(300_000).len(), 11); // every 30s
        assert_eq!(rate_ceiling(0.003), 0.01);
        assert_eq!(rate_ceiling(0.38), 0.5);
        assert_eq!(percent(0.015), "1.5%");
        assert_eq!(millis(250.0), "250ms");
        assert_eq!(millis(2000.0), "2s");
    }
}

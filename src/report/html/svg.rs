//! The charts of the HTML report as inline SVG: error rate and p99 per app
//! version over scenario time, with markers for scenario events, moves, the
//! incident's start, the recovery point and the RTO target, and a key in
//! words. Readable without colour: every series has its own dash pattern
//! and a label at its end, every marker a tag explained in the key.

use std::fmt::Write as _;

use maud::{Markup, html};

use crate::report::chart::{Chart, Marker, MarkerKind, Point, VersionSeries};
use crate::score::clock;

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
fn shown_tag(m: &Marker, end_ms: u64) -> String {
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
    value: &'a dyn Fn(&Point) -> f64,
    /// The SLO's ceiling and its label.
    slo: (f64, String),
}

/// A coordinate as the charts write it: one decimal.
fn f1(v: f64) -> String {
    format!("{v:.1}")
}

/// Draws one chart: the marker band, the plot with its axes, the series.
fn chart_svg(chart: &Chart, frame: &Frame, plot: &Plot) -> Markup {
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
    let (top, bottom) = (frame.top(), frame.bottom());
    let (left, right) = (frame.left, frame.width - frame.right);
    let sy = y(slo.0);
    html! {
        svg id=(id) class="chart" viewBox={"0 0 " (w) " " (h)} width=(w) height=(h) role="img" aria-labelledby={(id) "-title"} {
            title id={(id) "-title"} { (title) }
            g class="axis y" {
                @for (v, label) in ticks {
                    @let py = f1(y(*v));
                    line x1=(left) x2=(right) y1=(py) y2=(py) stroke="#e3e3e3" {}
                    text x=(f1(left - 6.0)) y=(f1(y(*v) + 4.0)) font-size="11" text-anchor="end" { (label) }
                }
            }
            g class="axis x" {
                @for t in time_ticks(frame.end_ms) {
                    @let px = f1(frame.x(t));
                    line x1=(px) x2=(px) y1=(bottom) y2=(f1(bottom + 4.0)) stroke="#777" {}
                    text x=(px) y=(f1(bottom + 16.0)) font-size="11" text-anchor="middle" { (clock(t)) }
                }
                text x=(f1((left + right) / 2.0)) y=(f1(bottom + 30.0)) font-size="11" text-anchor="middle" { "scenario time" }
                rect x=(left) y=(top) width=(f1(right - left)) height=(frame.plot) fill="none" stroke="#777" {}
            }
            g class="slo" {
                line x1=(left) x2=(right) y1=(f1(sy)) y2=(f1(sy)) stroke="#000" stroke-width="1" stroke-dasharray="1 3" {}
                text x=(f1(right + 4.0)) y=(f1(sy + 4.0)) font-size="11" { (slo.1) }
            }
            // Markers: a line through the plot, a tag in the band above.
            @for (m, row) in chart.markers.iter().zip(&rows) {
                (marker(m, *row, frame))
            }
            // Series, each with its label at its last point.
            @for (i, s) in chart.versions.iter().enumerate() {
                @let (colour, dash, _) = SERIES[i % SERIES.len()];
                g class="series" data-version=(s.version) {
                    title { "app " (s.version) }
                    path d=(path(s, frame, y, value)) fill="none" stroke=(colour) stroke-width="2" stroke-dasharray=(dash) {}
                    @if let Some(last) = s.points.last() {
                        text x=(f1(frame.x(last.t_ms) + 4.0)) y=(f1(y(value(last)) + 4.0 + i as f64 * 12.0)) font-size="12" font-weight="600" fill=(colour) { (s.version) }
                    }
                }
            }
        }
    }
}

/// A marker: its line through the plot and its tag in the band above,
/// in the row that keeps tags apart.
fn marker(m: &Marker, row: usize, frame: &Frame) -> Markup {
    let (colour, dash, width) = marker_style(m.kind);
    let px = f1(frame.x(m.t_ms));
    let ty = 4.0 + row as f64 * 16.0;
    let tag = shown_tag(m, frame.end_ms);
    let tw = tag_width(&tag);
    // Tags near the right edge stay inside the picture.
    let tx = (frame.x(m.t_ms) - tw / 2.0).min(frame.width - frame.right + 40.0 - tw);
    html! {
        g class={"marker marker-" (marker_class(m.kind))} data-t-ms=(m.t_ms) data-tag=(m.tag) {
            title { (m.tag) " at " (clock(m.t_ms)) ": " (m.label) }
            line x1=(px) x2=(px) y1=(f1(ty + 14.0)) y2=(frame.bottom()) stroke=(colour) stroke-width=(width) stroke-dasharray=(dash) {}
            rect x=(f1(tx)) y=(f1(ty)) width=(f1(tw)) height="14" rx="2" fill="#fff" stroke=(colour) {}
            text x=(f1(tx + tw / 2.0)) y=(f1(ty + 10.5)) font-size="10" text-anchor="middle" { (tag) }
        }
    }
}

/// A series as an SVG path, broken where the version served nothing.
fn path(
    s: &VersionSeries,
    frame: &Frame,
    y: &dyn Fn(f64) -> f64,
    value: &dyn Fn(&Point) -> f64,
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

/// Both charts (error rate, p99) and their key.
pub(super) fn charts(chart: &Chart) -> Markup {
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
    let (top, plot) = (frame.top(), frame.plot);

    // Error rate, linear.
    let max_rate = chart
        .versions
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.error_rate))
        .fold(chart.slo_error_rate * 1.5, f64::max);
    let ceiling = rate_ceiling(max_rate);
    let y_rate = move |v: f64| top + plot - plot * (v / ceiling).clamp(0.0, 1.0);
    let rate = Plot {
        id: "error-rate",
        title: "Share of requests that failed, per app version, per metrics window",
        y: &y_rate,
        ticks: (0..=4)
            .map(|i| {
                let v = ceiling * f64::from(i) / 4.0;
                (v, percent(v))
            })
            .collect(),
        value: &|p| p.error_rate,
        slo: (
            chart.slo_error_rate,
            format!("SLO {}", percent(chart.slo_error_rate)),
        ),
    };

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
    let p99 = Plot {
        id: "p99",
        title: "p99 latency of each app version's slowest endpoint, per metrics window",
        y: &y_p99,
        ticks: (-1..=hi as i32)
            .map(|e| {
                let v = 10f64.powi(e);
                (v, millis(v))
            })
            .collect(),
        value: &|p| p.p99_ms,
        slo: (
            chart.slo_p99_ms,
            format!("SLO {}", millis(chart.slo_p99_ms)),
        ),
    };

    html! {
        figure {
            figcaption { "Error rate per app version" }
            (chart_svg(chart, &frame, &rate))
        }
        figure {
            figcaption { "p99 latency per app version (slowest endpoint, log scale)" }
            (chart_svg(chart, &frame, &p99))
        }
        (key(chart))
    }
}

/// The key: series and markers in words.
fn key(chart: &Chart) -> Markup {
    html! {
        table class="key" {
            tr { th { "on the charts" } th { "what" } }
            @for (i, s) in chart.versions.iter().enumerate() {
                tr {
                    td { (SERIES[i % SERIES.len()].2) " line labelled " b { (s.version) } }
                    td { "app version " (s.version) " (" (s.points.len()) " windows with traffic)" }
                }
            }
            @for m in &chart.markers {
                tr class={"key-" (marker_class(m.kind))} {
                    td { b { (m.tag) } " at " (clock(m.t_ms)) }
                    td { (marker_kind(m.kind)) ": " (m.label) }
                }
            }
        }
    }
}

fn marker_kind(kind: MarkerKind) -> &'static str {
    match kind {
        MarkerKind::Fault => "scenario event",
        MarkerKind::Move => "your move",
        MarkerKind::IncidentStart => "incident began",
        MarkerKind::Recovery => "recovery point",
        MarkerKind::RtoTarget => "RTO target",
    }
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

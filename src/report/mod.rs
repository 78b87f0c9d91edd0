//! Renderers. This file turns engine views, events and scores into text
//! for the terminal (returned as strings, so they are testable and the
//! caller decides where the text goes). The evidence of a drill (incident
//! timeline, postmortem skeleton) is gathered once in [`evidence`] and laid
//! out by one file per [`Format`].

pub mod chart;
pub mod evidence;
pub mod html;
pub mod markdown;
pub mod postmortem;

pub use evidence::Evidence;

use tabled::builder::Builder;
use tabled::settings::Style;

use crate::drill::StatusView;
use crate::score::{Score, clock};
use crate::transcript::{Event, EventKind, Level};

pub use crate::text::{escape_markup, wrap_hanging, wrap_lines};

/// A format the evidence of a drill can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The incident timeline and postmortem skeleton, as Markdown.
    Markdown,
    /// The same evidence as JSON, for scripts.
    Json,
    /// One self-contained page with charts, to look at and to share.
    Html,
}

/// Writes the evidence of a drill in a format.
pub fn write(
    format: Format,
    evidence: &Evidence,
    out: &mut impl std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Markdown => markdown::write(evidence, out),
        Format::Html => html::write(evidence, out),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, evidence)?;
            writeln!(out)
        }
    }
}

fn table(columns: &[String], rows: &[Vec<String>]) -> String {
    let mut b = Builder::default();
    b.push_record(columns.iter().cloned());
    for r in rows {
        b.push_record(r.iter().cloned());
    }
    b.build().with(Style::sharp()).to_string()
}

/// A plain table of rows.
pub fn rows(columns: &[String], rows: &[Vec<String>]) -> String {
    if rows.is_empty() {
        return "(none)".into();
    }
    table(columns, rows)
}

/// The `status` screen.
pub fn status(s: &StatusView) -> String {
    let mut out = format!("scenario time {}", clock(s.t_ms));
    match (s.incident_start_ms, s.recovered) {
        (None, _) => out.push_str(" · no incident yet"),
        (Some(start), None) => out.push_str(&format!(
            " · INCIDENT since {} ({} ago)",
            clock(start),
            clock(s.t_ms.saturating_sub(start))
        )),
        (Some(_), Some((at, rto))) => out.push_str(&format!(
            " · recovered at {} (RTO {})",
            clock(at),
            clock(rto)
        )),
    }
    if !s.failing_checks.is_empty() {
        out.push_str(&format!(
            "\nintegrity checks failing: {}",
            s.failing_checks.join("; ")
        ));
    }
    out.push_str(&format!("\nSLO: {}\n", s.slo));
    let mut rows_out = Vec::new();
    if let Some(w) = &s.window {
        for version in s.pods.keys() {
            let pods = s.pods[version];
            let series: Vec<_> = w.series.iter().filter(|x| &x.version == version).collect();
            if series.is_empty() {
                rows_out.push(vec![
                    version.clone(),
                    pods.to_string(),
                    "-".into(),
                    "0".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                ]);
            }
            for x in series {
                let top = x
                    .errors
                    .iter()
                    .max_by_key(|(_, n)| **n)
                    .map(|(c, n)| format!("{} ×{n}", crate::sqlstate::describe(c)))
                    .unwrap_or_else(|| "-".into());
                let rate = if x.requests == 0 {
                    0.0
                } else {
                    x.error_count() as f64 * 100.0 / x.requests as f64
                };
                rows_out.push(vec![
                    version.clone(),
                    pods.to_string(),
                    x.endpoint.clone(),
                    format!("{:.0}", x.requests as f64 / s.window_real_secs),
                    format!("{rate:.1}%"),
                    format!("{:.1}ms", x.p50_ms),
                    format!("{:.1}ms", x.p99_ms),
                    top,
                ]);
            }
        }
        let cols: Vec<String> = [
            "version",
            "pods",
            "endpoint",
            "rps",
            "errors",
            "p50",
            "p99",
            "top error",
        ]
        .iter()
        .map(|c| c.to_string())
        .collect();
        out.push_str(&table(&cols, &rows_out));
        out.push_str(&format!(
            "\nall: {} requests, {:.1}% errors, p99 {:.1}ms in the last window\n",
            w.requests,
            w.error_rate() * 100.0,
            w.p99_ms
        ));
    } else {
        out.push_str("no metrics yet (the first window closes after one second)\n");
    }
    if let Some(r) = &s.rollout {
        out.push_str(&format!("{r}\n"));
    }
    if !s.flags.is_empty() {
        let flags: Vec<String> = s.flags.iter().map(|(k, v)| format!("{k}={v}")).collect();
        out.push_str(&format!("flags: {}\n", flags.join(", ")));
    }
    out.push_str(&format!(
        "schema: applied {}; pending {}",
        if s.applied.is_empty() {
            "none".into()
        } else {
            s.applied.join(", ")
        },
        if s.pending.is_empty() {
            "none".into()
        } else {
            s.pending.join(", ")
        }
    ));
    for line in &s.workers {
        out.push_str(&format!("\nworkers: {line}"));
    }
    if s.instances.len() > 1 {
        out.push_str(&format!("\ninstances: {}", s.instances.join(", ")));
    }
    out
}

/// A move's answer as text: its table, or its words (`failed: ...` when
/// it failed).
pub fn reply(reply: &crate::drill::Reply) -> String {
    use crate::drill::View;
    let text = if reply.ok {
        reply.text.clone()
    } else {
        format!("failed: {}", reply.text)
    };
    match &reply.view {
        Some(View::Status(s)) => status(s),
        Some(View::Rows { columns, rows: r }) => format!("{}\n{text}", rows(columns, r)),
        Some(View::Events(e)) => events(e),
        None => text,
    }
}

/// One event as a line for the live feed and `events` (none for windows).
pub fn event_line(e: &Event) -> Option<String> {
    let t = format!("[{:>6}]", clock(e.t_ms));
    let text = match &e.kind {
        EventKind::Started { message } => format!("{t} {message}"),
        EventKind::Timeline { message, .. } => format!("{t} TIMELINE {message}"),
        EventKind::Observation { level, message } => {
            let tag = match level {
                Level::Info => "info",
                Level::Alert => "ALERT",
                Level::Recovered => "RECOVERED",
            };
            format!("{t} {tag} {message}")
        }
        EventKind::Move(m) => {
            let mark = if m.ok { "ok" } else { "failed" };
            match &m.by {
                Some(by) => format!("{t} {by} > {} ({mark}: {})", m.input, m.result),
                None => format!("{t} > {} ({mark}: {})", m.input, m.result),
            }
        }
        EventKind::Hint { n, text } => format!("{t} hint {n}: {text}"),
        // The engine's alert for a check says it, with its lesson: one
        // line per fact.
        EventKind::Check { .. } => return None,
        EventKind::Rpo(r) => match &r.error {
            Some(e) => format!("{t} RPO could not be measured: {e}"),
            None => format!(
                "{t} RPO {} of {} acknowledged writes missing",
                r.missing, r.writes
            ),
        },
        EventKind::Ended { reason } => format!("{t} drill ended: {}", reason.describe()),
        EventKind::Window(_) => return None,
    };
    Some(text)
}

/// Events as lines.
pub fn events(events: &[Event]) -> String {
    events
        .iter()
        .filter_map(event_line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The score at the end of a drill.
pub fn score(s: &Score) -> String {
    let mut rows_out = Vec::new();
    for i in &s.items {
        rows_out.push(vec![
            i.kind.tag().to_string(),
            i.label.clone(),
            i.signed_points(),
            crate::text::wrap(&i.detail, 70),
        ]);
    }
    let cols: Vec<String> = ["", "what", "points", "why"]
        .iter()
        .map(|c| c.to_string())
        .collect();
    let mut out = table(&cols, &rows_out);
    let rto = match (s.incident_start_ms, s.rto_ms) {
        (None, _) => "no incident observed".to_string(),
        (Some(_), None) => format!("not recovered (target {})", clock(s.rto_target_ms)),
        (Some(_), Some(r)) => format!(
            "{} (target {}){}",
            clock(r),
            clock(s.rto_target_ms),
            if r <= s.rto_target_ms {
                ", met"
            } else {
                ", MISSED"
            }
        ),
    };
    out.push_str(&format!(
        "\npoints: {} of {} (pass mark {})\nRTO: {rto}\n",
        s.points, s.max_points, s.pass_mark
    ));
    if let Some(r) = &s.rpo
        && r.error.is_none()
    {
        let target = s
            .rpo_target
            .map(|t| format!(" (target: at most {t} lost)"))
            .unwrap_or_default();
        out.push_str(&format!(
            "RPO: {} of {} acknowledged writes lost{target}\n",
            r.missing, r.writes
        ));
    }
    if s.passed {
        out.push_str("result: PASS");
    } else {
        out.push_str("result: FAIL");
        for r in &s.reasons {
            out.push_str(&format!("\n  - {r}"));
        }
    }
    out
}

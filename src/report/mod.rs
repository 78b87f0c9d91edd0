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

/// Escapes text for HTML and XML, content and attributes alike; characters
/// XML 1.0 cannot carry at all become `?`.
pub fn escape_markup(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => s.push('?'),
            c => s.push(c),
        }
    }
    s
}

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
    out
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
            format!("{t} > {} ({mark}: {})", m.input, m.result)
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
            wrap(&i.detail, 70),
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

/// Wraps text at word boundaries.
/// Each line of `text` that is wider than `width` broken at spaces, its
/// continuation lines indented like the line itself (so usage lines and
/// indented explanations stay readable in a narrow terminal). A word
/// longer than the width stays whole.
pub fn wrap_lines(text: &str, width: usize) -> String {
    text.lines()
        .map(|line| wrap_hanging(line, width, term_column(line)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// In an indented `  term     what it means` line, how far past the
/// indent the meaning starts (continuation lines go there); else 0.
fn term_column(line: &str) -> usize {
    let body = line.trim_start();
    if body.len() == line.len() {
        return 0;
    }
    let Some(term_end) = body.find(' ') else {
        return 0;
    };
    let gap = body[term_end..].len() - body[term_end..].trim_start().len();
    if gap >= 2 {
        body[..term_end + gap].chars().count()
    } else {
        0
    }
}

/// [`wrap_lines`], with continuation lines indented `hang` columns more
/// (`[ 1m05s] ALERT ...` continues under its text, not its time).
pub fn wrap_hanging(text: &str, width: usize, hang: usize) -> String {
    let width = width.max(20);
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let indent: String = line.chars().take_while(|c| c.is_whitespace()).collect();
        let cont = format!("{indent}{}", " ".repeat(hang));
        let mut rest = line;
        let mut first = true;
        loop {
            let lead = if first { "" } else { cont.as_str() };
            let room = width.saturating_sub(lead.chars().count()).max(10);
            if rest.chars().count() <= room {
                out.push(format!("{lead}{rest}"));
                break;
            }
            // The last space within the room (spacing inside the line is
            // kept: `[   10s]` stays aligned), else the first space after
            // it: a word longer than the room stays whole.
            let cut = rest
                .char_indices()
                .take(room + 1)
                .filter(|(_, c)| *c == ' ')
                .map(|(i, _)| i)
                .filter(|i| rest[..*i].trim_start().chars().count() > 0)
                .last()
                .or_else(|| {
                    rest.char_indices()
                        .skip(room)
                        .find(|(_, c)| *c == ' ')
                        .map(|(i, _)| i)
                });
            let Some(cut) = cut else {
                out.push(format!("{lead}{rest}"));
                break;
            };
            out.push(format!("{lead}{}", rest[..cut].trim_end()));
            rest = rest[cut..].trim_start();
            first = false;
            if rest.is_empty() {
                break;
            }
        }
    }
    out.join("\n")
}

fn wrap(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = 0;
    for word in text.split_whitespace() {
        if line > 0 && line + 1 + word.len() > width {
            out.push('\n');
            line = 0;
        } else if line > 0 {
            out.push(' ');
            line += 1;
        }
        out.push_str(word);
        line += word.len();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::wrap_lines;

    #[test]
    fn help_is_wrapped_to_the_width_with_its_indentation() {
        let help = crate::action::HELP
            .iter()
            .find(|h| h.name == "status")
            .unwrap();
        let text = format!("{}\n  {}\n\n{}", help.usage, help.summary, help.detail);
        let wrapped = wrap_lines(&text, 40);
        for line in wrapped.lines() {
            assert!(line.chars().count() <= 40, "{line:?}");
        }
        // The summary's continuation lines keep its two-space indent.
        let summary: Vec<&str> = wrapped
            .lines()
            .skip(1)
            .take_while(|l| !l.is_empty())
            .collect();
        assert!(
            summary.len() > 1 && summary.iter().all(|l| l.starts_with("  ")),
            "{summary:?}"
        );
        // Nothing is lost: the same words in the same order.
        let words = |t: &str| t.split_whitespace().map(String::from).collect::<Vec<_>>();
        assert_eq!(words(&wrapped), words(&text));
        // An event line keeps its aligned time and continues under its text.
        let event = format!("[   10s] TIMELINE {}", "word ".repeat(12));
        let wrapped = super::wrap_hanging(event.trim_end(), 30, 9);
        assert!(wrapped.starts_with("[   10s] TIMELINE"), "{wrapped}");
        assert!(
            wrapped
                .lines()
                .skip(1)
                .all(|l| l.starts_with("         word")),
            "{wrapped}"
        );
        // A list of terms continues under the meanings.
        let list = "  repair     copy column values from another instance, row by row";
        let wrapped = wrap_lines(list, 40);
        assert!(
            wrapped
                .lines()
                .skip(1)
                .all(|l| l.starts_with("             ")),
            "{wrapped}"
        );
        // Short lines, and a word longer than the width, stay as they are.
        assert_eq!(wrap_lines("status", 40), "status");
        let long = "x".repeat(60);
        assert_eq!(wrap_lines(&long, 40), long);
    }
}

//! What a transcript may hold: times within what a drill can last, counts
//! a drill can reach. A transcript is a file anyone can edit; refusing the
//! impossible when it is read keeps every sum and difference in scoring and
//! reports within range, instead of guarding each one.

use super::{EventKind, Transcript, Window};
use crate::scenario::Dur;

/// The latest scenario time an event may carry: the longest duration a
/// scenario can name, twice (a time limit plus the waits after it).
pub const MAX_MS: u64 = 2 * Dur::MAX.as_millis();

/// The most requests, errors or writes one number may count: a million a
/// second for the longest drill, with room to spare.
pub const MAX_COUNT: u64 = 1_000_000_000_000;

/// The latest start time: the end of year 9999 (Unix seconds).
const MAX_STARTED_AT: u64 = 253_402_300_799;

/// Why `t` cannot have been written by a drill, if it cannot.
pub(super) fn implausible(t: &Transcript) -> Option<String> {
    if !(t.time_scale.is_finite() && t.time_scale > 0.0 && t.time_scale <= 1e6) {
        return Some(format!("time_scale {} is not a time scale", t.time_scale));
    }
    if t.started_at > MAX_STARTED_AT {
        return Some(format!(
            "started_at {} is after the year 9999",
            t.started_at
        ));
    }
    // Windows follow each other: each starts where the last one ended.
    let mut last_end = 0;
    for (i, e) in t.events.iter().enumerate() {
        if let EventKind::Window(w) = &e.kind {
            if w.start_ms < last_end {
                return Some(format!(
                    "event {} (a metrics window): it starts at {} ms, before the window before it ended ({last_end} ms)",
                    i + 1,
                    w.start_ms
                ));
            }
            last_end = w.end_ms;
        }
    }
    t.events.iter().enumerate().find_map(|(i, e)| {
        let at = |what: String| Some(format!("event {} ({}): {what}", i + 1, e.kind.what()));
        if e.t_ms > MAX_MS {
            return at(format!(
                "t_ms {} is beyond any drill's length ({MAX_MS})",
                e.t_ms
            ));
        }
        let problem = match &e.kind {
            EventKind::Window(w) => window(w),
            EventKind::Rpo(r) => [r.writes, r.missing]
                .into_iter()
                .find(|n| *n > MAX_COUNT)
                .map(|n| format!("a count of {n} is more than any drill makes"))
                .or_else(|| {
                    [r.first_missing_ms, r.last_missing_ms]
                        .into_iter()
                        .flatten()
                        .find(|ms| *ms > MAX_MS)
                        .map(|ms| format!("time {ms} is beyond any drill's length"))
                }),
            EventKind::Check { bad: Some(n), .. } if !(0..=MAX_COUNT as i64).contains(n) => {
                Some(format!("{n} bad rows is not a row count"))
            }
            _ => None,
        };
        problem.and_then(at)
    })
}

fn window(w: &Window) -> Option<String> {
    if w.start_ms > MAX_MS || w.end_ms > MAX_MS || w.start_ms > w.end_ms {
        return Some(format!(
            "window {}..{} ms is not a span of a drill",
            w.start_ms, w.end_ms
        ));
    }
    let counts = [w.requests, w.errors, w.writes].into_iter().chain(
        w.series
            .iter()
            .flat_map(|s| std::iter::once(s.requests).chain(s.errors.values().copied())),
    );
    if let Some(n) = counts.into_iter().find(|n| *n > MAX_COUNT) {
        return Some(format!("a count of {n} is more than any drill makes"));
    }
    let latencies = [w.p50_ms, w.p99_ms]
        .into_iter()
        .chain(w.series.iter().flat_map(|s| [s.p50_ms, s.p99_ms]));
    if let Some(ms) = latencies
        .into_iter()
        .find(|ms| !(0.0..=MAX_MS as f64).contains(ms))
    {
        return Some(format!("a latency of {ms} ms is not a latency"));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::super::{Error, Transcript};

    const SHIPPED: &str =
        include_str!("../../tests/fixtures/transcripts/contract-too-early.reference.json");

    fn parse_edited(edit: impl Fn(&mut serde_json::Value)) -> Result<Transcript, Error> {
        let mut v: serde_json::Value = serde_json::from_str(SHIPPED).unwrap();
        edit(&mut v);
        Transcript::parse(Path::new("t.json"), v.to_string().as_bytes())
    }

    #[test]
    fn a_drills_own_transcript_is_plausible() {
        parse_edited(|_| {}).expect("the shipped transcript reads");
    }

    #[test]
    fn times_and_counts_no_drill_reaches_are_refused_when_read() {
        // Found by fuzzing: an event at u64::MAX ms overflowed the chart's
        // axis (`end + end / 20`) while a report was written.
        let last = |v: &mut serde_json::Value, key: &str, value: serde_json::Value| {
            let events = v["events"].as_array_mut().unwrap();
            let e = events
                .iter_mut()
                .rev()
                .find(|e| e.get(key).is_some())
                .unwrap();
            e[key] = value;
        };
        type Edit<'a> = Box<dyn Fn(&mut serde_json::Value) + 'a>;
        let cases: Vec<(&str, Edit)> = vec![
            ("t_ms", Box::new(|v| last(v, "t_ms", u64::MAX.into()))),
            ("window", Box::new(|v| last(v, "end_ms", u64::MAX.into()))),
            ("count", Box::new(|v| last(v, "requests", u64::MAX.into()))),
            ("latency", Box::new(|v| last(v, "p99_ms", 1e300.into()))),
            ("time scale", Box::new(|v| v["time_scale"] = 0.0.into())),
            ("started", Box::new(|v| v["started_at"] = u64::MAX.into())),
            // Found by fuzzing: windows out of order made a chart's time
            // step negative (an overflow while the HTML report was drawn).
            (
                "order",
                Box::new(|v| {
                    let events = v["events"].as_array_mut().unwrap();
                    let windows: Vec<usize> = (0..events.len())
                        .filter(|i| events[*i]["type"] == "window")
                        .collect();
                    events.swap(windows[0], windows[1]);
                }),
            ),
        ];
        for (what, edit) in cases {
            match parse_edited(edit) {
                Err(Error::Implausible { why, .. }) => {
                    assert!(!why.is_empty(), "{what}")
                }
                other => panic!("{what}: read as {other:?}"),
            }
        }
    }
}

//! `pgdrill bench memory`: a long drill at 1,000 requests/s with writes
//! (ten pods of 100/s, 20% of them INSERTs the write ledger keeps), and
//! this process's resident set sampled as it goes. A drill must not grow
//! with its traffic: the figure is the RSS at the first minute, half way
//! and at the end, and its growth per minute after the first. The peer is
//! the same process before the drill starts (the floor it grows from).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::Error;
use super::volume::seeded_aside;
use crate::drill::{Command, Drill, Options, Target};
use crate::instance::LocalBackend;
use crate::scenario::{Dur, Scenario};
use crate::transcript::EndReason;

/// Target: growth per minute after the first, in KiB.
pub const GROWTH_TARGET_KIB_PER_MIN: f64 = 100.0;

/// The result of `pgdrill bench memory`.
#[derive(Debug, Clone, Serialize)]
pub struct MemoryReport {
    /// Minutes the drill ran.
    pub minutes: u64,
    /// Requests per second asked of the fleet.
    pub rps: u32,
    /// Requests served (from the transcript's windows).
    pub requests: u64,
    /// Acknowledged writes.
    pub writes: u64,
    /// RSS before the drill started, KiB.
    pub before_kib: u64,
    /// (minute, RSS KiB) samples, one a minute.
    pub samples: Vec<(u64, u64)>,
    /// Growth per minute after the first, KiB.
    pub growth_kib_per_min: f64,
}

/// Runs `scenario` (mixed-version-rename's v1, without its timeline) for
/// `minutes` at 1,000 requests/s.
pub async fn memory(
    backend: &LocalBackend,
    scenario: &Scenario,
    minutes: u64,
    note: &(dyn Fn(String) + Send + Sync),
) -> Result<MemoryReport, Error> {
    let mut s = scenario.clone();
    s.timeline.clear();
    s.fleet.pods = 10;
    s.fleet.rps_per_pod = 100;
    s.rubric.time_limit = Some(Dur::from_secs(minutes * 60 + 60));
    let (_cache, _backend, instance) = seeded_aside(backend, &s).await?;
    let target = Target {
        name: "primary".into(),
        info: instance.info().clone(),
        app_url: instance.url(),
        superuser_url: instance.superuser_url(),
    };
    let options = Options {
        seed: 1,
        time_scale: 1.0,
        learner: Some("bench".into()),
        backend: Some("local".into()),
        rows: None,
    };
    let before_kib = rss_kib();
    let drill =
        Drill::new(Arc::new(s), target, options, crate::instance::now_unix()).owning(instance);
    let (commands, rx) = tokio::sync::mpsc::channel(8);
    let (notices, mut events) = tokio::sync::mpsc::unbounded_channel();
    let running = tokio::spawn(drill.run(rx, notices));
    let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
    let start = Instant::now();
    let mut samples = Vec::new();
    for minute in 1..=minutes {
        tokio::time::sleep_until((start + Duration::from_secs(minute * 60)).into()).await;
        let kib = rss_kib();
        note(format!("minute {minute}/{minutes}: {kib} KiB resident"));
        samples.push((minute, kib));
    }
    let _ = commands.send(Command::End(EndReason::Interrupted)).await;
    let transcript = running
        .await
        .map_err(|e| Error::Failed(e.to_string()))?
        .map_err(|e| Error::Failed(e.to_string()))?;
    drain.abort();
    let (mut requests, mut writes) = (0, 0);
    for w in transcript.windows() {
        requests += w.requests;
        writes += w.writes;
    }
    Ok(MemoryReport {
        minutes,
        rps: 1000,
        requests,
        writes,
        before_kib,
        growth_kib_per_min: growth(&samples),
        samples,
    })
}

/// KiB per minute from the first sample to the last.
fn growth(samples: &[(u64, u64)]) -> f64 {
    match (samples.first(), samples.last()) {
        (Some(&(m0, k0)), Some(&(m1, k1))) if m1 > m0 => (k1 as f64 - k0 as f64) / (m1 - m0) as f64,
        _ => 0.0,
    }
}

/// This process's resident set, KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn growth_is_per_minute_after_the_first() {
        assert_eq!(super::growth(&[(1, 1000), (5, 1400), (10, 1900)]), 100.0);
        assert_eq!(super::growth(&[(1, 1000)]), 0.0);
        assert!(super::rss_kib() > 0, "this process has a resident set");
    }
}

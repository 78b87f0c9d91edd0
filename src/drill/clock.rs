//! The scenario clock: real time multiplied by the time scale.
//!
//! Every duration in a scenario (timeline, rollout steps, stability window,
//! RTO, `wait`) is scenario time; `--time-scale 10` makes ten scenario
//! seconds pass per real second. Requests and their latencies stay real.
//!
//! It reads tokio's clock, so a test under `#[tokio::test(start_paused =
//! true)]` drives scenario time with `tokio::time::advance`, without
//! sleeping.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// Scenario time since the drill started. Clones share one clock, so a
/// pause (a game master's) stops it for every holder.
#[derive(Debug, Clone)]
pub struct Clock {
    start: Instant,
    /// The wall clock at the start, to name a scenario time to PostgreSQL
    /// (a point-in-time restore's target).
    wall_start: std::time::SystemTime,
    scale: f64,
    paused: Arc<Mutex<Paused>>,
}

/// Real time the clock has stood still.
#[derive(Debug, Default)]
struct Paused {
    /// Since when it stands still, if it does now.
    since: Option<Instant>,
    /// Pauses that are over, in all.
    total: Duration,
    /// Each pause that is over: the scenario time it began at, how long
    /// it lasted.
    past: Vec<(u64, Duration)>,
    /// The scenario time the pause going on began at.
    since_ms: u64,
}

impl Clock {
    /// A clock starting now.
    pub fn start(scale: f64) -> Clock {
        Clock {
            start: Instant::now(),
            wall_start: std::time::SystemTime::now(),
            scale,
            paused: Arc::default(),
        }
    }

    /// Scenario seconds per real second.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Scenario milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        let paused = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        let standing = paused.since.map_or(Duration::ZERO, |s| s.elapsed());
        let running = self.start.elapsed().saturating_sub(paused.total + standing);
        (running.as_secs_f64() * self.scale * 1000.0) as u64
    }

    /// Stops scenario time; false if it already stood still.
    pub fn pause(&self) -> bool {
        let now_ms = self.now_ms();
        let mut paused = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        if paused.since.is_some() {
            return false;
        }
        paused.since = Some(Instant::now());
        paused.since_ms = now_ms;
        true
    }

    /// Lets scenario time run again; false if it was running.
    pub fn resume(&self) -> bool {
        let mut paused = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(since) = paused.since.take() else {
            return false;
        };
        paused.total += since.elapsed();
        let at = paused.since_ms;
        paused.past.push((at, since.elapsed()));
        true
    }

    /// The wall-clock moment scenario time `t_ms` passed (or will pass, if
    /// nothing pauses the clock before): its real offset from the start,
    /// with every pause that began before it.
    pub fn wall_at(&self, t_ms: u64) -> std::time::SystemTime {
        let paused = self.paused.lock().unwrap_or_else(PoisonError::into_inner);
        let mut offset = Duration::from_secs_f64(t_ms as f64 / 1000.0 / self.scale);
        for (at, lasted) in &paused.past {
            if *at < t_ms {
                offset += *lasted;
            }
        }
        if let Some(since) = paused.since
            && paused.since_ms < t_ms
        {
            offset += since.elapsed();
        }
        self.wall_start + offset
    }

    /// Whether scenario time stands still.
    pub fn is_paused(&self) -> bool {
        self.paused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .since
            .is_some()
    }

    /// Real time until scenario time `t_ms` (zero if it has passed).
    pub fn real_until(&self, t_ms: u64) -> Duration {
        let now = self.now_ms();
        Duration::from_secs_f64(t_ms.saturating_sub(now) as f64 / 1000.0 / self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn scenario_time_is_real_time_times_the_scale() {
        let clock = Clock::start(10.0);
        assert_eq!(clock.now_ms(), 0);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(clock.now_ms(), 15_000);
        assert_eq!(clock.real_until(25_000), Duration::from_secs(1));
        assert_eq!(clock.real_until(10_000), Duration::ZERO, "already passed");
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_clock_stands_still_for_every_clone() {
        let clock = Clock::start(2.0);
        let seen_by_a_script = clock.clone();
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(clock.pause());
        assert!(!clock.pause(), "a second pause changes nothing");
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(seen_by_a_script.now_ms(), 2_000);
        assert!(seen_by_a_script.is_paused());
        assert!(clock.resume());
        assert!(!clock.resume());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!(seen_by_a_script.now_ms(), 4_000, "the pause does not count");
        let wall = |t_ms| {
            clock
                .wall_at(t_ms)
                .duration_since(clock.wall_start)
                .unwrap()
        };
        assert_eq!(wall(1_000), Duration::from_millis(500));
        assert_eq!(wall(2_000), Duration::from_secs(1), "the moment it paused");
        assert_eq!(
            wall(3_000),
            Duration::from_millis(6_500),
            "after the pause: its five real seconds come first"
        );
    }
}

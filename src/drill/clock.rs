//! The scenario clock: real time multiplied by the time scale.
//!
//! Every duration in a scenario (timeline, rollout steps, stability window,
//! RTO, `wait`) is scenario time; `--time-scale 10` makes ten scenario
//! seconds pass per real second. Requests and their latencies stay real.
//!
//! It reads tokio's clock, so a test under `#[tokio::test(start_paused =
//! true)]` drives scenario time with `tokio::time::advance`, without
//! sleeping.

use std::time::Duration;

use tokio::time::Instant;

/// Scenario time since the drill started.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
    scale: f64,
}

impl Clock {
    /// A clock starting now.
    pub fn start(scale: f64) -> Clock {
        Clock {
            start: Instant::now(),
            scale,
        }
    }

    /// Scenario seconds per real second.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Scenario milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        (self.start.elapsed().as_secs_f64() * self.scale * 1000.0) as u64
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
}

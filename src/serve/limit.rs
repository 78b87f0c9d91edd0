//! A rate limit per participant: a token bucket, pure (the caller passes
//! the time), so a flood of moves from one client is refused with 429
//! while everyone else plays on.

use std::time::{Duration, Instant};

/// Moves a participant may send at once.
pub const BURST: f64 = 10.0;
/// Moves per second a participant may send on average.
pub const PER_SECOND: f64 = 5.0;

/// One participant's bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// A full bucket at `now`.
    pub fn new(now: Instant) -> Bucket {
        Bucket {
            tokens: BURST,
            at: now,
        }
    }

    /// Takes one move's worth at `now`; if there is none, how long until
    /// there is.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let since = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + since * PER_SECOND).min(BURST);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / PER_SECOND))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_a_flood_is_held_and_time_refills() {
        let t0 = Instant::now();
        let mut b = Bucket::new(t0);
        for _ in 0..BURST as usize {
            assert!(b.take(t0).is_ok());
        }
        let wait = b.take(t0).unwrap_err();
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert!(b.take(t0 + Duration::from_millis(200)).is_ok());
        assert!(b.take(t0 + Duration::from_millis(200)).is_err());
        // A long pause refills the bucket, but no more than a burst.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..BURST as usize {
            assert!(b.take(later).is_ok());
        }
        assert!(b.take(later).is_err());
    }
}

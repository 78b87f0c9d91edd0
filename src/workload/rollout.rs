//! A rolling deploy as pure state: which pod moves next, and when.
//!
//! The engine asks [`Rollout::due`] on every tick with the scenario time and
//! the pods' current versions; the rollout answers with at most one pod to
//! move. Pausing stops it where it is, a limit stalls it part-way (a deploy
//! whose health checks fail), and rolling back is a new rollout to the old
//! version.

use serde::Serialize;

/// A rolling deploy in progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollout {
    /// The version pods move to.
    pub target: String,
    /// Scenario milliseconds between two pods.
    pub step_ms: u64,
    /// When the next pod moves.
    pub next_at_ms: u64,
    /// Stall after this many pods (a deploy half done).
    pub limit: Option<u32>,
    /// Pods moved so far.
    pub moved: u32,
    /// Stopped by the learner.
    pub paused: bool,
}

/// What a rollout is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// Moving pods.
    Rolling,
    /// Paused by the learner.
    Paused,
    /// Stopped at its limit.
    Stalled,
    /// Every pod runs the target.
    Done,
}

impl Rollout {
    /// A rollout to `target` whose first pod moves at `now_ms`.
    pub fn new(target: &str, now_ms: u64, step_ms: u64, limit: Option<u32>) -> Rollout {
        Rollout {
            target: target.to_string(),
            step_ms,
            next_at_ms: now_ms,
            limit,
            moved: 0,
            paused: false,
        }
    }

    /// Its phase, given the pods' versions.
    pub fn phase<S: AsRef<str>>(&self, pods: &[S]) -> Phase {
        if pods.iter().all(|p| p.as_ref() == self.target) {
            Phase::Done
        } else if self.paused {
            Phase::Paused
        } else if self.limit.is_some_and(|l| self.moved >= l) {
            Phase::Stalled
        } else {
            Phase::Rolling
        }
    }

    /// The pod to move now, if one is due.
    pub fn due<S: AsRef<str>>(&mut self, now_ms: u64, pods: &[S]) -> Option<usize> {
        if self.phase(pods) != Phase::Rolling || now_ms < self.next_at_ms {
            return None;
        }
        let pod = pods.iter().position(|p| p.as_ref() != self.target)?;
        self.moved += 1;
        self.next_at_ms = now_ms + self.step_ms;
        Some(pod)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drive(r: &mut Rollout, pods: &mut [String], until_ms: u64) -> Vec<(u64, usize)> {
        let mut moves = Vec::new();
        for t in (0..=until_ms).step_by(100) {
            if let Some(p) = r.due(t, pods) {
                pods[p] = r.target.clone();
                moves.push((t, p));
            }
        }
        moves
    }

    #[test]
    fn moves_one_pod_per_step_then_is_done() {
        let mut pods = vec!["v1".to_string(); 3];
        let mut r = Rollout::new("v2", 1000, 5000, None);
        assert_eq!(
            drive(&mut r, &mut pods, 20_000),
            vec![(1000, 0), (6000, 1), (11_000, 2)]
        );
        assert_eq!(r.phase(&pods), Phase::Done);
    }

    #[test]
    fn stalls_at_its_limit_and_stops_when_paused() {
        let mut pods = vec!["v1".to_string(); 4];
        let mut r = Rollout::new("v2", 0, 1000, Some(2));
        drive(&mut r, &mut pods, 10_000);
        assert_eq!(pods, ["v2", "v2", "v1", "v1"]);
        assert_eq!(r.phase(&pods), Phase::Stalled);

        let mut back = Rollout::new("v1", 10_000, 1000, None);
        back.paused = true;
        assert_eq!(back.due(20_000, &pods), None);
        assert_eq!(back.phase(&pods), Phase::Paused);
        back.paused = false;
        assert_eq!(back.due(20_000, &pods), Some(0));
    }
}

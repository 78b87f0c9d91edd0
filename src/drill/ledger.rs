//! The write ledger: every write the app acknowledged, the truth the RPO
//! is measured against and `replay` copies from.
//!
//! A drill at 1,000 requests/s acknowledges hundreds of writes a second for
//! as long as it runs, so the ledger keeps them compactly: the keys
//! acknowledged within one 100 ms stretch, on one instance, in one table,
//! are sorted and stored as runs of consecutive keys (a sequence hands out
//! consecutive ids, so a stretch is a run or a few), each with the stretch's
//! first and last acknowledgment time. Memory grows with the stretches, not
//! with the writes. A key acknowledged twice stays twice (the RPO reads
//! that as a row that vanished and had its id handed out again).

use std::sync::Arc;

use super::Drill;
use crate::workload::{Outcome, Sample};

/// The table and key column a write is checked in.
pub type LedgerTarget = Arc<(String, String)>;

/// Where each (version, endpoint)'s inserts are checked.
pub(super) fn targets(
    scenario: &crate::scenario::Scenario,
) -> std::collections::BTreeMap<(Arc<str>, Arc<str>), LedgerTarget> {
    scenario
        .writers()
        .filter_map(|(name, e)| {
            let key = (Arc::from(name), Arc::from(e.name.as_str()));
            Some((key, Arc::new(e.ledger_target()?)))
        })
        .collect()
}

/// How long a stretch of writes is collected before it is compressed.
const STRETCH_MS: u64 = 100;

/// Acknowledged writes, compressed by stretch.
#[derive(Default)]
pub struct Ledger {
    /// Compressed stretches, in time order.
    runs: Vec<Run>,
    /// The stretch being collected: (instance, target, key), and its times.
    open: Vec<(u16, u16, i64)>,
    open_from: u64,
    open_to: u64,
    /// Every table a write went to, indexed by the runs.
    targets: Vec<LedgerTarget>,
}

/// Consecutive keys acknowledged in one stretch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    from_ms: u64,
    to_ms: u64,
    db: u16,
    target: u16,
    first: i64,
    count: u32,
}

/// One acknowledged write as the ledger gives it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack<'a> {
    /// The latest its acknowledgment can have been (the end of its
    /// stretch): a replay since a time includes it when in doubt.
    pub t_ms: u64,
    /// The instance it went to (index into the drill's instances).
    pub db: usize,
    /// Table and key column.
    pub table: &'a LedgerTarget,
    /// The key it returned.
    pub key: i64,
}

impl Ledger {
    /// Takes in a write acknowledged at `t_ms`.
    pub fn push(&mut self, t_ms: u64, db: usize, table: &LedgerTarget, key: i64) {
        if !self.open.is_empty() && t_ms >= self.open_from + STRETCH_MS {
            self.seal();
        }
        let target = match self.targets.iter().position(|t| t == table) {
            Some(i) => i,
            None => {
                self.targets.push(table.clone());
                self.targets.len() - 1
            }
        };
        if self.open.is_empty() {
            self.open_from = t_ms;
        }
        self.open_to = t_ms;
        self.open.push((db as u16, target as u16, key));
    }

    /// Compresses the open stretch into runs.
    fn seal(&mut self) {
        let mut open = std::mem::take(&mut self.open);
        open.sort_unstable();
        for (db, target, key) in open {
            match self.runs.last_mut() {
                Some(r)
                    if r.from_ms == self.open_from
                        && (r.db, r.target) == (db, target)
                        && r.first.checked_add(i64::from(r.count)) == Some(key) =>
                {
                    r.count += 1;
                }
                _ => self.runs.push(Run {
                    from_ms: self.open_from,
                    to_ms: self.open_to,
                    db,
                    target,
                    first: key,
                    count: 1,
                }),
            }
        }
    }

    /// Whether no write was acknowledged.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty() && self.open.is_empty()
    }

    /// Every acknowledged write, stretch by stretch.
    pub fn acks(&self) -> impl Iterator<Item = Ack<'_>> {
        let sealed = self.runs.iter().flat_map(move |r| {
            (0..i64::from(r.count)).map(move |i| Ack {
                t_ms: r.to_ms,
                db: usize::from(r.db),
                table: &self.targets[usize::from(r.target)],
                key: r.first + i,
            })
        });
        let open = self.open.iter().map(move |&(db, target, key)| Ack {
            t_ms: self.open_to,
            db: usize::from(db),
            table: &self.targets[usize::from(target)],
            key,
        });
        sealed.chain(open)
    }

    /// Bytes it holds.
    pub fn bytes(&self) -> usize {
        self.runs.capacity() * std::mem::size_of::<Run>()
            + self.open.capacity() * std::mem::size_of::<(u16, u16, i64)>()
    }
}

impl Drill {
    /// Takes in finished requests, all received at scenario time `now_ms`:
    /// their metrics, and writes' acks.
    pub(super) fn record(&mut self, samples: impl IntoIterator<Item = Sample>) {
        // Read once: the clock takes a lock, and a batch arrived at once.
        let now_ms = self.clock.now_ms();
        let measured = !self.clock.is_paused();
        for sample in samples {
            self.record_one(sample, now_ms, measured);
        }
    }

    fn record_one(&mut self, sample: Sample, now_ms: u64, measured: bool) {
        // A paused drill is not measured; its writes still count.
        if measured {
            self.health.builder.record(&sample, now_ms);
        }
        self.acknowledge(sample, now_ms);
    }

    /// A write's acknowledgment, into the ledger or the updates.
    pub(super) fn acknowledge(&mut self, sample: Sample, now_ms: u64) {
        let Outcome::Ok {
            write: true,
            written: Some(key),
            value,
        } = sample.outcome
        else {
            return;
        };
        let at = (sample.version, sample.endpoint);
        if let Some(table) = self.ledger_targets.get(&at) {
            self.ledger.push(now_ms, sample.db, table, key);
        } else if let Some(value) = value {
            self.updates.push(now_ms, sample.db, &at, key, &value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users() -> LedgerTarget {
        Arc::new(("users".into(), "id".into()))
    }

    #[test]
    fn a_stretch_of_consecutive_keys_is_one_run_and_comes_back_whole() {
        let (t, mut l) = (users(), Ledger::default());
        // Out of order within the stretch, as pods acknowledge them.
        for (ms, key) in [(0, 3), (10, 1), (20, 2), (30, 5), (40, 4)] {
            l.push(ms, 0, &t, key);
        }
        l.push(150, 0, &t, 6);
        l.seal();
        assert_eq!(l.runs.len(), 2, "{:?}", l.runs);
        let keys: Vec<(i64, u64)> = l.acks().map(|a| (a.key, a.t_ms)).collect();
        assert_eq!(
            keys,
            vec![(1, 40), (2, 40), (3, 40), (4, 40), (5, 40), (6, 150)],
            "each with the latest time of its stretch"
        );
    }

    #[test]
    fn a_key_acknowledged_twice_stays_twice_and_instances_stay_apart() {
        let (t, mut l) = (users(), Ledger::default());
        let other = Arc::new(("orders".to_string(), "id".to_string()));
        l.push(0, 0, &t, 7);
        l.push(1, 1, &t, 8);
        l.push(2, 0, &t, 7);
        l.push(3, 0, &other, 8);
        let mut seen: Vec<(usize, String, i64)> =
            l.acks().map(|a| (a.db, a.table.0.clone(), a.key)).collect();
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (0, "orders".into(), 8),
                (0, "users".into(), 7),
                (0, "users".into(), 7),
                (1, "users".into(), 8)
            ]
        );
    }

    #[test]
    fn ten_minutes_of_sequential_writes_take_kilobytes_not_megabytes() {
        let (t, mut l) = (users(), Ledger::default());
        // 200 writes a second for ten minutes, ids from one sequence.
        for i in 0..120_000u64 {
            l.push(i * 5, 0, &t, i as i64 + 1);
        }
        assert_eq!(l.acks().count(), 120_000);
        assert!(l.bytes() < 300_000, "{} bytes", l.bytes());
    }
}

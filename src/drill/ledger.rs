//! The write ledger: every write the app acknowledged, the truth the RPO
//! is measured against and `replay` copies from.

use std::sync::Arc;

use super::Drill;
use crate::workload::{Outcome, Sample};

/// The table and key column a write is checked in.
pub(super) type LedgerTarget = Arc<(String, String)>;

/// An acknowledged write, in the ledger the RPO is measured from.
pub(super) struct Write {
    /// Scenario time it was acknowledged.
    pub t_ms: u64,
    /// The database it went to (index into the drill's instances).
    pub db: usize,
    /// Table and key column it is checked in (shared by every write of
    /// its endpoint).
    pub table: Option<LedgerTarget>,
    /// The key it returned.
    pub key: Option<i64>,
}

impl Drill {
    /// Takes in a finished request: its metrics, and a write's ack.
    pub(super) fn record(&mut self, sample: Sample) {
        // A paused drill is not measured; its writes still count.
        if !self.clock.is_paused() {
            self.health.builder.record(&sample, self.clock.now_ms());
        }
        if let Outcome::Ok {
            write: true,
            written,
        } = sample.outcome
        {
            let table = self
                .ledger_targets
                .get(&(sample.version, sample.endpoint))
                .cloned();
            self.ledger.push(Write {
                t_ms: self.clock.now_ms(),
                db: sample.db,
                table,
                key: written,
            });
        }
    }
}

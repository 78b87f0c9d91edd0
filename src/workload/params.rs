//! Parameter values for endpoint statements, drawn from a pod's seeded
//! random stream so that a run with the same `--seed` asks the same things.

use std::collections::BTreeMap;

use rand::{Rng, RngExt};

use crate::scenario::ParamGen;

/// A bound parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// An integer (`bigint`).
    Int(i64),
    /// Text.
    Text(String),
}

const FIRST: &[&str] = &[
    "Ada", "Grace", "Linus", "Edsger", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Donald",
];
const LAST: &[&str] = &[
    "Lovelace", "Hopper", "Torvalds", "Dijkstra", "Liskov", "Thompson", "Hamilton", "Ritchie",
    "Allen", "Knuth",
];

/// Generates parameters for one pod.
#[derive(Debug, Clone)]
pub struct Generator {
    pod: usize,
    counter: u64,
    rows: BTreeMap<String, u64>,
}

impl Generator {
    /// A generator for `pod`, drawing existing ids from the fixture's row counts.
    pub fn new(pod: usize, rows: BTreeMap<String, u64>) -> Generator {
        Generator {
            pod,
            counter: 0,
            rows,
        }
    }

    /// One value.
    pub fn value(&mut self, generator: &ParamGen, rng: &mut impl Rng) -> Value {
        match generator {
            ParamGen::ExistingId { table } => {
                let max = self.rows.get(table).copied().unwrap_or(1).max(1) as i64;
                Value::Int(rng.random_range(1..=max))
            }
            ParamGen::NewName => Value::Text(format!(
                "{} {}",
                FIRST[rng.random_range(0..FIRST.len())],
                LAST[rng.random_range(0..LAST.len())]
            )),
            ParamGen::NewEmail => {
                self.counter += 1;
                Value::Text(format!(
                    "signup-{}-{}@example.com",
                    self.pod + 1,
                    self.counter
                ))
            }
            ParamGen::NewPhone => Value::Text(format!("+1-555-{:04}", rng.random_range(0..10_000))),
            ParamGen::Int { lo, hi } => Value::Int(rng.random_range(*lo..=*hi)),
            ParamGen::Text(t) => Value::Text(t.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn same_seed_same_values_and_emails_are_unique() {
        let rows = BTreeMap::from([("users".to_string(), 50)]);
        let gens = [
            ParamGen::ExistingId {
                table: "users".into(),
            },
            ParamGen::NewName,
            ParamGen::NewEmail,
        ];
        let run = || {
            let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(42);
            let mut g = Generator::new(1, rows.clone());
            (0..20)
                .flat_map(|_| {
                    gens.iter()
                        .map(|p| g.value(p, &mut rng))
                        .collect::<Vec<_>>()
                })
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(a, run());
        let emails: std::collections::HashSet<_> = a
            .iter()
            .filter(|v| matches!(v, Value::Text(t) if t.contains('@')))
            .collect();
        assert_eq!(emails.len(), 20);
        assert!(
            a.iter()
                .all(|v| !matches!(v, Value::Int(i) if !(1..=50).contains(i)))
        );
    }
}

//! Feature flags, shared by the engine (which sets them) and the pods
//! (which evaluate them per request).

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use rand::{Rng, RngExt};

use crate::scenario::FlagValue;

/// The flags of one drill.
#[derive(Debug, Clone, Default)]
pub struct Flags(Arc<RwLock<BTreeMap<String, FlagValue>>>);

impl Flags {
    /// Flags with these starting values.
    pub fn new(values: impl IntoIterator<Item = (String, FlagValue)>) -> Flags {
        Flags(Arc::new(RwLock::new(values.into_iter().collect())))
    }

    /// Sets a flag; false when there is no such flag.
    pub fn set(&self, name: &str, value: FlagValue) -> bool {
        let mut flags = self.0.write().unwrap_or_else(|e| e.into_inner());
        match flags.get_mut(name) {
            Some(v) => {
                *v = value;
                true
            }
            None => false,
        }
    }

    /// Every flag and its value.
    pub fn values(&self) -> BTreeMap<String, FlagValue> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the flag is on for one request (percentages draw from `rng`).
    pub fn on_for(&self, name: &str, rng: &mut impl Rng) -> bool {
        let value = self
            .0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .copied()
            .unwrap_or_default();
        match value {
            FlagValue::Off => false,
            FlagValue::On => true,
            FlagValue::Percent(p) => rng.random_range(0..100u8) < p,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn percentages_are_drawn_per_request() {
        let flags = Flags::new([("f".to_string(), FlagValue::Percent(25))]);
        let mut rng = rand::rngs::ChaCha8Rng::seed_from_u64(7);
        let on = (0..4000).filter(|_| flags.on_for("f", &mut rng)).count();
        assert!((800..1200).contains(&on), "{on}");
        assert!(flags.set("f", FlagValue::On));
        assert!(flags.on_for("f", &mut rng));
        assert!(!flags.set("nope", FlagValue::On));
    }
}

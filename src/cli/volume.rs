//! `--rows` and `--scale`: drills at a volume other than the scenario's.

use std::collections::BTreeMap;

/// `--rows` and `--scale`: how many rows to generate, if not the
/// scenario's numbers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Volume {
    /// Exact counts per table.
    pub rows: BTreeMap<String, u64>,
    /// A factor for every table of the scenario's.
    pub scale: Option<f64>,
}

impl Volume {
    /// The scenario's rows with these changes, or `None` when there are
    /// none (the scenario's own volume).
    pub fn apply(&self, scenario: &BTreeMap<String, u64>) -> Option<BTreeMap<String, u64>> {
        if self.rows.is_empty() && self.scale.is_none() {
            return None;
        }
        let factor = self.scale.unwrap_or(1.0);
        let mut rows: BTreeMap<String, u64> = scenario
            .iter()
            .map(|(t, n)| {
                let scaled = (*n as f64 * factor).round();
                (t.clone(), (scaled as u64).min(MAX_ROWS))
            })
            .collect();
        rows.extend(self.rows.iter().map(|(t, n)| (t.clone(), *n)));
        Some(rows)
    }
}

pub(super) fn parse_rows(text: &str) -> Result<(String, u64), String> {
    let (table, n) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: say TABLE=N, e.g. `users=1000000`"))?;
    if !crate::text::is_plain_name(table) {
        return Err(format!(
            "`{table}` is not a table name: letters, digits and `_`"
        ));
    }
    let n = n.replace('_', "");
    match n.parse::<u64>() {
        Ok(n) if n <= MAX_ROWS => Ok((table.to_string(), n)),
        _ => Err(format!(
            "`{text}`: N is a row count from 0 to {MAX_ROWS} (`1_000_000` works too)"
        )),
    }
}

/// The most rows a table may be asked for: a billion narrow rows already
/// need about 100 GB.
pub(crate) const MAX_ROWS: u64 = 1_000_000_000;

pub(super) fn parse_factor(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(x) if x > 0.0 && x <= 100_000.0 => Ok(x),
        _ => Err(format!(
            "`{text}` is not a factor between 0 and 100000 (e.g. `--scale 50`)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_table_equals_count_and_refuse_anything_else() {
        assert_eq!(
            parse_rows("users=1_000_000"),
            Ok(("users".into(), 1_000_000))
        );
        assert_eq!(parse_rows("users=0"), Ok(("users".into(), 0)));
        for bad in [
            "users",
            "users=lots",
            "users=-1",
            "=5",
            "us;ers=5",
            "users=2000000000",
        ] {
            assert!(parse_rows(bad).is_err(), "{bad}");
        }
        assert!(parse_factor("0").is_err());
        assert!(parse_factor("nan").is_err());
        assert_eq!(parse_factor("0.5"), Ok(0.5));
    }

    #[test]
    fn scale_multiplies_the_scenarios_tables_and_rows_set_one_exactly() {
        let scenario: BTreeMap<String, u64> =
            [("users".to_string(), 2000), ("orders".to_string(), 3)].into();
        assert_eq!(
            Volume::default().apply(&scenario),
            None,
            "the scenario's own"
        );
        let v = Volume {
            rows: [("users".to_string(), 1_000_000)].into(),
            scale: Some(2.5),
        };
        let applied = v.apply(&scenario).unwrap();
        assert_eq!(applied["users"], 1_000_000);
        assert_eq!(applied["orders"], 8, "2.5 x 3, rounded");
        let extra = Volume {
            rows: [("lectures".to_string(), 10)].into(),
            scale: None,
        };
        assert_eq!(extra.apply(&scenario).unwrap()["lectures"], 10);
    }
}

//! What a piece of SQL does to the schema and the data, for the guardrails
//! and for classifying a forward fix. A keyword reading of each statement,
//! not a parser: it errs towards calling a statement a write, and knows the
//! destructive forms the runbooks name (DROP TABLE/COLUMN, TRUNCATE,
//! DELETE, an in-place restore) and the contract forms (drops, renames,
//! type changes, new NOT NULL constraints).

use super::split;

/// What SQL does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Class {
    /// Changes schema or data (anything but reads and session settings).
    pub writes: bool,
    /// Drops data: DROP TABLE/SCHEMA, DROP COLUMN, TRUNCATE, DELETE.
    pub destructive: bool,
    /// Breaks what an older app version relies on: drops, renames, type
    /// changes, SET NOT NULL.
    pub contract: bool,
}

/// Classifies every statement of `sql` and combines them.
pub fn classify(sql: &str) -> Class {
    let mut class = Class::default();
    for statement in split::statements(sql) {
        let words: Vec<String> = statement
            .split(|c: char| c.is_whitespace() || c == '(' || c == ',' || c == ';')
            .filter(|w| !w.is_empty())
            .map(|w| w.to_ascii_uppercase())
            .collect();
        let has = |w: &str| words.iter().any(|x| x == w);
        let pair = |a: &str, b: &str| words.windows(2).any(|p| p[0] == a && p[1] == b);
        let first = words.first().map(String::as_str).unwrap_or("");
        let reads = match first {
            "SELECT" | "WITH" | "TABLE" | "VALUES" | "SHOW" | "EXPLAIN" => {
                !["INSERT", "UPDATE", "DELETE", "INTO"]
                    .iter()
                    .any(|w| has(w))
            }
            "BEGIN" | "COMMIT" | "ROLLBACK" | "SET" | "RESET" | "START" | "END" | "ANALYZE" => true,
            _ => false,
        };
        if reads {
            continue;
        }
        class.writes = true;
        let drops_data = (first == "DROP"
            && matches!(
                words.get(1).map(String::as_str),
                Some("TABLE" | "SCHEMA" | "DATABASE" | "MATERIALIZED")
            ))
            || first == "TRUNCATE"
            || first == "DELETE"
            || (first == "WITH" && has("DELETE"))
            || (first == "ALTER" && pair("DROP", "COLUMN"));
        class.destructive |= drops_data;
        class.contract |= drops_data
            || (first == "ALTER"
                && (has("RENAME")
                    || pair("DROP", "CONSTRAINT")
                    || pair("SET", "NOT")
                    || has("TYPE")))
            || (first == "DROP"
                && matches!(words.get(1).map(String::as_str), Some("VIEW" | "FUNCTION")));
    }
    class
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_not_writes() {
        assert_eq!(
            classify("SELECT count(*) FROM users; SHOW lock_timeout"),
            Class::default()
        );
        assert!(classify("WITH x AS (DELETE FROM users RETURNING id) SELECT * FROM x").destructive);
    }

    #[test]
    fn destructive_and_contract_forms() {
        let drop = classify("ALTER TABLE users DROP COLUMN phone;");
        assert!(drop.writes && drop.destructive && drop.contract);
        let rename = classify("ALTER TABLE users RENAME COLUMN name TO full_name");
        assert!(rename.contract && !rename.destructive);
        let not_null = classify("ALTER TABLE enrollments ALTER COLUMN source SET NOT NULL");
        assert!(not_null.contract);
        let index = classify("DROP INDEX CONCURRENTLY IF EXISTS users_email_lower_key");
        assert!(index.writes && !index.destructive && !index.contract);
        let add = classify("ALTER TABLE users ADD COLUMN IF NOT EXISTS phone text");
        assert!(add.writes && !add.contract);
        assert!(classify("TRUNCATE orders").destructive);
        assert!(classify("DELETE FROM users WHERE id > 10").destructive);
        assert!(classify("UPDATE users SET email = lower(email)").writes);
    }
}

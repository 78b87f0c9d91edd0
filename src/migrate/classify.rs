//! What a piece of SQL does to the schema and the data, for the guardrails
//! and for classifying a forward fix: PostgreSQL's own parser
//! ([`super::analyze`]) when the SQL parses. SQL it refuses would fail at
//! the server too, but an attempt still counts against the rules, so it is
//! read by keywords instead: erring towards calling a statement a write,
//! and knowing the destructive forms the runbooks name (DROP TABLE/COLUMN,
//! TRUNCATE, DELETE, an in-place restore) and the contract forms (drops,
//! renames, type changes, new NOT NULL constraints).

use super::analyze::{Kind, analyze};
use super::split;

/// What SQL does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Class {
    /// Changes schema or data (anything but reads and session settings).
    pub writes: bool,
    /// Drops data: DROP TABLE/SCHEMA, DROP COLUMN, TRUNCATE, DELETE.
    pub destructive: bool,
    /// Breaks what an older app version relies on: drops, renames, type
    /// changes, SET NOT NULL, new constraints.
    pub contract: bool,
}

/// Classifies every statement of `sql` and combines them.
pub fn classify(sql: &str) -> Class {
    match analyze(sql) {
        Ok(verdicts) => verdicts.iter().fold(Class::default(), |c, v| Class {
            writes: c.writes || v.writes,
            destructive: c.destructive || v.destructive,
            contract: c.contract || v.kind == Kind::Contract,
        }),
        Err(_) => by_keywords(sql),
    }
}

/// Whether every statement of `sql` can run inside a transaction block
/// (not CREATE INDEX CONCURRENTLY, VACUUM, ...).
pub fn transactional(sql: &str) -> bool {
    match analyze(sql) {
        Ok(verdicts) => verdicts.iter().all(|v| v.transactional),
        Err(_) => !sql.to_ascii_lowercase().contains("concurrently"),
    }
}

/// The keyword reading, for SQL the parser refuses.
fn by_keywords(sql: &str) -> Class {
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

    #[test]
    fn the_parser_reads_what_keywords_misread() {
        // A column named `type` is added, not a type change.
        assert!(!classify("ALTER TABLE users ADD COLUMN type text").contract);
        assert!(by_keywords("ALTER TABLE users ADD COLUMN type text").contract);
        // A SELECT that sets a sequence writes.
        assert!(classify("SELECT setval('users_id_seq', 10)").writes);
        assert!(!by_keywords("SELECT setval('users_id_seq', 10)").writes);
        // ANALYZE and SET change nothing a rule cares about.
        assert!(!classify("SET lock_timeout = '1s'; ANALYZE users").writes);
        // What the parser refuses is read by keywords, erring to a write.
        let typo = classify("DROP TABEL users");
        assert!(typo.writes);
        assert!(transactional("ALTER TABLE t ADD COLUMN c int"));
        assert!(!transactional("CREATE INDEX CONCURRENTLY i ON t (c)"));
        // The word in a string is not the option.
        assert!(transactional(
            "INSERT INTO notes VALUES ('build it concurrently')"
        ));
    }
}

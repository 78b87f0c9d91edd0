//! PostgreSQL's own parser classifying SQL, case by case: each file in
//! `tests/classify/` has an `-- expect: KIND DESTRUCTIVE LOCK TRANSACTIONAL`
//! line before each statement (`-` for no and for no lock). Add a case by
//! adding a statement and its line; no Rust to write.

use std::path::Path;

use pgdrill::migrate::analyze::{Verdict, analyze};

fn shown(v: &Verdict) -> String {
    format!(
        "{} {} {} {}",
        serde_json::to_value(v.kind).unwrap().as_str().unwrap(),
        if v.destructive { "destructive" } else { "-" },
        v.lock.map_or("-", |l| l.name()),
        if v.transactional {
            "transactional"
        } else {
            "non-transactional"
        }
    )
}

#[test]
fn every_case_gets_its_expected_verdict() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/classify");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "sql") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("-- expect: "))
            .collect();
        let verdicts = analyze(&text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        assert_eq!(
            verdicts.len(),
            expected.len(),
            "{}: statements vs expect lines",
            path.display()
        );
        for (v, want) in verdicts.iter().zip(&expected) {
            assert_eq!(&shown(v), want, "{}:{}: {}", path.display(), v.line, v.sql);
            assert!(!v.why.is_empty());
            checked += 1;
        }
    }
    assert!(checked >= 30, "only {checked} cases");
}

#[test]
fn every_shipped_migration_and_fix_parses() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for entry in std::fs::read_dir(root.join("scenarios")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let scenario = pgdrill::scenario::load(&path).unwrap();
        for m in &scenario.migrations.list {
            for sql in [&m.up].into_iter().chain(m.down.as_ref()) {
                analyze(sql).unwrap_or_else(|e| panic!("{} {}: {e:?}", path.display(), m.id));
            }
        }
        analyze(&scenario.fixture.sql_text).unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    }
    for entry in std::fs::read_dir(root.join("scenarios/solutions/fixes")).unwrap() {
        let path = entry.unwrap().path();
        analyze(&std::fs::read_to_string(&path).unwrap())
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
    }
}

#[test]
fn sql_the_parser_refuses_is_placed_at_its_line_and_column() {
    let sql = "SELECT 1;\n\nALTER TABLE users ADD COLUMN phone text;\nALTER TABLE users DROP COLUMM name;\n";
    let e = analyze(sql).unwrap_err();
    // Where PostgreSQL stopped: `COLUMM` reads as a column name, `name` is
    // the token it cannot take.
    assert_eq!((e.line, e.column), (4, 31), "{e:?}");
    assert!(e.message.contains("syntax error"), "{e:?}");
}

#[test]
fn pgdrill_classify_prints_json_for_scripts_and_places_errors() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let pgdrill = env!("CARGO_BIN_EXE_pgdrill");
    let mut child = Command::new(pgdrill)
        .args(["classify", "-", "--json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"ALTER TABLE users ADD COLUMN phone text;\nCREATE INDEX CONCURRENTLY i ON users (phone);\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = json.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let keys: Vec<&str> = rows[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6, "{keys:?}");
    for key in ["sql", "kind", "destructive", "lock", "transactional", "why"] {
        assert!(keys.contains(&key), "{key} missing: {keys:?}");
    }
    assert_eq!(rows[1]["lock"], "ShareUpdateExclusiveLock");
    assert_eq!(rows[1]["transactional"], false);

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.sql");
    std::fs::write(&bad, "SELECT 1;\nDROP TABEL users;\n").unwrap();
    let out = Command::new(pgdrill)
        .arg("classify")
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(5));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.sql:2:6: syntax error"), "{err}");
}

#[test]
fn statements_are_split_where_postgresql_splits_them() {
    use pgdrill::migrate::analyze::statements;
    // A SQL-standard function body holds `;`s of its own: the scanner's
    // rules split it apart, the parser does not.
    let sql = "CREATE INDEX CONCURRENTLY i ON users (email);\n\
               CREATE FUNCTION one() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 1; END;\n";
    let split = statements(sql);
    assert_eq!(split.len(), 2, "{split:#?}");
    assert!(split[1].ends_with("END"), "{split:#?}");
    assert_eq!(pgdrill::migrate::split::statements(sql).len(), 4);
    // SQL the parser refuses is still split, by the scanner's rules.
    assert_eq!(statements("SELECT 1; DROP TABEL x; SELECT 2").len(), 3);
}

//! SQL as a migration file or a `sql` move brings it: splitting into
//! statements, classifying them (PostgreSQL's parser, and the keyword
//! reading behind it), and the excerpt shown when one fails.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let statements = pgdrill::migrate::split::statements(sql);
    for s in &statements {
        assert!(!s.trim().is_empty(), "an empty statement came out of {sql:?}");
        let _ = pgdrill::migrate::excerpt(s);
        let _ = pgdrill::migrate::classify::classify(s);
    }
    let _ = pgdrill::migrate::classify::classify(sql);
    let _ = pgdrill::migrate::classify::transactional(sql);
    match pgdrill::migrate::analyze::analyze(sql) {
        Ok(verdicts) => {
            for v in verdicts {
                assert!(sql.contains(v.sql.as_str()), "a statement not in {sql:?}");
                assert!(v.line >= 1 && v.line <= sql.lines().count().max(1) + 1);
            }
        }
        Err(e) => assert!(e.line >= 1 && e.column >= 1, "{e:?}"),
    }
    let _ = pgdrill::migrate::excerpt(sql);
});

//! SQL as a migration file or a `sql` move brings it: splitting into
//! statements, classifying them, and the excerpt shown when one fails.
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
    let _ = pgdrill::migrate::excerpt(sql);
});

//! A transcript file as `pgdrill grade`, `score` and `report` read it:
//! parsed, checked for tampering, scored against the shipped scenario it
//! names, and written as every report format.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pgdrill::grade::Scenarios;
use pgdrill::report::{Evidence, Format};
use pgdrill::transcript::Transcript;

fn scenarios() -> &'static Scenarios {
    static SHIPPED: OnceLock<Scenarios> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        Scenarios::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios"))
    })
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzzed.json");
    let _ = pgdrill::grade::grade_bytes(path, data, scenarios(), Some(b"fuzzing key"));
    let Ok(mut t) = Transcript::parse(path, data) else {
        return;
    };
    let _ = t.verify(None);
    pgdrill::action::upgrade(&mut t);
    let loaded = scenarios().get(&t.scenario);
    let Ok(loaded) = loaded.as_ref() else {
        return;
    };
    let score = pgdrill::score::score(&loaded.scenario, &t);
    let _ = pgdrill::report::score(&score);
    let evidence = Evidence::build(&loaded.scenario, &t, &score);
    for format in [Format::Markdown, Format::Html, Format::Json] {
        pgdrill::report::write(format, &evidence, &mut std::io::sink()).expect("writing to a sink");
    }
});

//! A scenario file: loading and validation, then scoring the shipped
//! transcripts against whatever validated and writing their reports.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pgdrill::report::{Evidence, Format};
use pgdrill::transcript::Transcript;

fn transcripts() -> &'static [Transcript] {
    static SHIPPED: OnceLock<Vec<Transcript>> = OnceLock::new();
    SHIPPED.get_or_init(|| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/transcripts");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&dir).expect("the shipped transcripts") {
            let path = entry.expect("a folder entry").path();
            let mut t = Transcript::load(&path).expect("a shipped transcript loads");
            pgdrill::action::upgrade(&mut t);
            out.push(t);
        }
        out
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("scenarios/fuzzed.toml");
    match pgdrill::scenario::parse(path, text) {
        Err(diags) => {
            let _ = pgdrill::scenario::render(&diags);
        }
        Ok(scenario) => {
            let _ = scenario.fingerprint();
            for t in transcripts() {
                let score = pgdrill::score::score(&scenario, t);
                let evidence = Evidence::build(&scenario, t, &score);
                for format in [Format::Markdown, Format::Html, Format::Json] {
                    pgdrill::report::write(format, &evidence, &mut std::io::sink())
                        .expect("writing to a sink");
                }
            }
        }
    }
});

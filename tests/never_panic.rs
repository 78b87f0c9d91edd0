//! Whatever a file or a learner brings, the parsers answer with a value or
//! an error, never a panic. The fuzzers under `fuzz/` search the same entry
//! points far longer (`fuzz/run`); these properties keep CI checking them
//! on stable Rust. Found cases are kept as unit tests beside the code.

use std::path::Path;

use pgdrill::scenario::Dur;
use pgdrill::transcript::Transcript;
use proptest::prelude::*;

const SCENARIO: &str = include_str!("../scenarios/lock-queue.toml");
const QUIZ: &str = include_str!("../quizzes/chapter-16.toml");
const SCRIPT: &str = include_str!("../scenarios/solutions/lock-queue.reference.txt");
const TRANSCRIPT: &str = include_str!("fixtures/transcripts/contract-too-early.reference.json");

/// Text that looks like the file it stands for: the shipped file with a
/// slice replaced by arbitrary text (pure noise rarely gets past the first
/// line of a parser).
fn mutated(base: &'static str) -> impl Strategy<Value = String> {
    (0..=base.len(), 0..64usize, ".{0,40}").prop_map(move |(at, len, noise)| {
        let start = (0..=at)
            .rev()
            .find(|i| base.is_char_boundary(*i))
            .unwrap_or(0);
        let end = (start + len).min(base.len());
        let end = (end..=base.len())
            .find(|i| base.is_char_boundary(*i))
            .unwrap_or(base.len());
        format!("{}{noise}{}", &base[..start], &base[end..])
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn scenario_files(text in prop_oneof![mutated(SCENARIO), ".{0,200}"]) {
        if let Err(diags) = pgdrill::scenario::parse(Path::new("s.toml"), &text) {
            prop_assert!(!pgdrill::scenario::render(&diags).is_empty());
        }
    }

    #[test]
    fn quiz_and_answers_files(text in prop_oneof![mutated(QUIZ), ".{0,200}"], answers in ".{0,80}") {
        if let Ok(quiz) = pgdrill::quiz::parse(Path::new("q.toml"), &text) {
            let _ = pgdrill::quiz::parse_answers(&quiz, Path::new("a.toml"), &answers);
        }
    }

    #[test]
    fn moves_and_scripts(text in prop_oneof![mutated(SCRIPT), ".{0,120}"]) {
        for line in text.lines() {
            let _ = pgdrill::action::parse(line);
        }
        let _ = pgdrill::action::parse_script(&text);
    }

    #[test]
    fn sql(text in prop_oneof![".{0,200}", "[-/*;'\"$a-z \\\\\n\u{b}é]{0,80}"]) {
        for statement in pgdrill::migrate::split::statements(&text) {
            prop_assert!(!statement.is_empty());
            let _ = pgdrill::migrate::classify::classify(&statement);
            let _ = pgdrill::migrate::excerpt(&statement);
        }
        match pgdrill::migrate::analyze::analyze(&text) {
            Ok(verdicts) => prop_assert!(verdicts.iter().all(|v| text.contains(v.sql.as_str()))),
            Err(e) => prop_assert!(e.line >= 1 && e.column >= 1),
        }
    }

    #[test]
    fn durations(text in prop_oneof!["[0-9]{1,25}(ms|s|m|h)([0-9]{1,25}(ms|s|m|h))?", ".{0,20}"]) {
        if let Ok(d) = Dur::parse(&text) {
            prop_assert!(d <= Dur::MAX);
        }
    }

    #[test]
    fn transcripts(text in mutated(TRANSCRIPT)) {
        let scenarios = pgdrill::grade::Scenarios::new(&Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios"));
        let _ = pgdrill::grade::grade_bytes(Path::new("t.json"), text.as_bytes(), &scenarios, None);
        if let Ok(t) = Transcript::parse(Path::new("t.json"), text.as_bytes()) {
            let _ = t.verify(None);
        }
    }
}

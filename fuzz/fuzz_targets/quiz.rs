//! A quiz file and an answers file: the input is split at the first NUL
//! byte, the quiz before it and the answers after; answers are checked
//! against the fuzzed quiz when it validates, else against the shipped one.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use pgdrill::quiz::Quiz;

fn shipped() -> &'static Quiz {
    static QUIZ: OnceLock<Quiz> = OnceLock::new();
    QUIZ.get_or_init(|| {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../quizzes/chapter-16.toml");
        pgdrill::quiz::load(&path).expect("the shipped quiz loads")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (quiz_text, answers_text) = text.split_once('\0').unwrap_or((text, ""));
    let fuzzed = pgdrill::quiz::parse(Path::new("quizzes/fuzzed.toml"), quiz_text);
    if let Err(diags) = &fuzzed {
        let _ = pgdrill::scenario::render(diags);
    }
    let quiz = fuzzed.as_ref().unwrap_or_else(|_| shipped());
    for q in &quiz.questions {
        let _ = q.shown();
        let order = q.shuffle();
        let _ = q.is_right(&order);
        let _ = pgdrill::quiz::letters(&q.key());
    }
    match pgdrill::quiz::parse_answers(quiz, Path::new("answers.toml"), answers_text) {
        Ok(answers) => {
            let _ = pgdrill::quiz::grade(quiz, &answers);
        }
        Err(diags) => {
            let _ = pgdrill::scenario::render(&diags);
        }
    }
});

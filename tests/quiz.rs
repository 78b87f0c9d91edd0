//! `pgdrill quiz`: the course's quizzes, graded from answers files through
//! the binary, and validated like scenarios.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::{Run, TestEnv, root};
use pgdrill::quiz::{self, Kind};

fn quiz_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("quizzes"))
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// An answers file: every question answered with `answer(question)`.
fn answers_file(
    dir: &Path,
    quiz: &quiz::Quiz,
    answer: impl Fn(&quiz::Question) -> String,
) -> PathBuf {
    let text: String = quiz
        .questions
        .iter()
        .map(|q| format!("{} = \"{}\"\n", q.id, answer(q)))
        .collect();
    let path = dir.join("answers.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// `pgdrill quiz chapter-16 [EXTRA...] --answers FILE`, from the repository.
fn answer(env: &TestEnv, extra: &[&str], file: &Path) -> Run {
    env.run(["quiz", "chapter-16"])
        .args(extra)
        .arg("--answers")
        .arg(file)
}

#[test]
fn every_quiz_loads_and_validates() {
    assert!(!quiz_files().is_empty());
    for file in quiz_files() {
        quiz::load(&file).unwrap_or_else(|e| panic!("{}:\n{e}", file.display()));
    }
}

#[test]
fn the_chapter_quiz_covers_every_doctrine_rule_with_every_kind_of_question() {
    let q = quiz::load(&root().join("quizzes/chapter-16.toml")).unwrap();
    assert!(q.questions.len() >= 15, "{} questions", q.questions.len());
    let covered: BTreeSet<u32> = q
        .questions
        .iter()
        .flat_map(|q| q.doctrine.iter().copied())
        .collect();
    let all: BTreeSet<u32> = (1..=quiz::DOCTRINE_RULES.len() as u32).collect();
    assert_eq!(covered, all, "doctrine rules not asked");
    for kind in [Kind::Single, Kind::Multiple, Kind::Order] {
        assert!(q.questions.iter().any(|x| x.kind == kind), "no {kind:?}");
    }
    for x in &q.questions {
        assert!(
            ["runbook", "chapter", "lab"]
                .iter()
                .any(|c| x.cites.contains(c)),
            "{}: cite the course material",
            x.id
        );
    }
}

#[test]
fn right_answers_pass_and_the_result_is_json() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let q = quiz::load(&root().join("quizzes/chapter-16.toml")).unwrap();
    let file = answers_file(dir.path(), &q, |x| quiz::letters(&x.key()));
    let result = answer(&env, &["--json"], &file).success().go().json();
    assert_eq!(result["percent"], 100);
    assert_eq!(result["passed"], true);
    assert_eq!(
        result["questions"].as_array().unwrap().len(),
        q.questions.len()
    );
}

#[test]
fn wrong_answers_fail_with_the_explanation_and_its_source() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let q = quiz::load(&root().join("quizzes/chapter-16.toml")).unwrap();
    // The rollback order reversed, every other answer right: still a pass
    // (20 of 21); then the first five wrong too: a fail.
    let reversed = |x: &quiz::Question| {
        let mut key = x.key();
        if x.id == "rollback-order" {
            key.reverse();
        }
        quiz::letters(&key)
    };
    let file = answers_file(dir.path(), &q, reversed);
    answer(&env, &[], &file)
        .success()
        .stdout_has("WRONG")
        .stdout_has("runbook 000, rollback order")
        .go();

    let first_five: Vec<String> = q.questions[..5].iter().map(|x| x.id.clone()).collect();
    let file = answers_file(dir.path(), &q, |x| {
        if first_five.contains(&x.id) {
            let n = x.shown().len();
            let key = x.key();
            match x.kind {
                Kind::Order => quiz::letters(&(0..n).collect::<Vec<_>>()),
                _ => quiz::letters(&[(key[0] + 1) % n]),
            }
        } else {
            quiz::letters(&x.key())
        }
    });
    answer(&env, &[], &file).code(1).stdout_has("FAIL").go();
}

#[test]
fn a_bad_answers_file_is_refused_with_every_problem_and_its_place() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("answers.toml");
    std::fs::write(
        &file,
        "classify-rename = \"B\"\nrollout-order = \"A A\"\nno-such-question = \"A\"\n",
    )
    .unwrap();
    let err = answer(&env, &[], &file)
        .code(5)
        .stderr_has("answers.toml:2:")
        .stderr_has("answers.toml:3:")
        .stderr_has("2 problems")
        .go()
        .stderr;
    // Each problem is one `error:` line, never `error: error:`.
    assert!(err.starts_with("error: rollout-order"), "{err}");
    assert!(!err.contains("error: error:"), "{err}");
}

#[test]
fn a_bad_scenario_file_is_reported_once_per_problem() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("typo.toml");
    std::fs::write(&file, "id = \"typo\"\ntitel = \"t\"\n").unwrap();
    let err = env.run(["run"]).arg(&file).code(5).go().stderr;
    assert!(err.contains("\nerror: unknown field `titel`"), "{err}");
    assert!(err.starts_with("error: missing field `kind`"), "{err}");
    assert!(err.contains("did you mean `title`?"), "{err}");
    assert!(!err.contains("error: error:"), "{err}");
}

#[test]
fn without_a_terminal_the_quiz_says_how_to_answer_from_a_file() {
    let env = TestEnv::new();
    env.run(["quiz", "chapter-16"])
        .code(2)
        .stderr_has("--answers FILE")
        .go();
}

#[test]
fn validate_checks_quizzes_with_file_line_col() {
    let env = TestEnv::new();
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(root().join("quizzes/chapter-16.toml")).unwrap();
    let bad = good
        .replacen("answer = \"A\"", "answer = \"Q\"", 1)
        .replacen("pass_mark = 80", "pass_mark = 80\npassmark = 1", 1);
    let path = dir.path().join("chapter-16.toml");
    std::fs::write(&path, &bad).unwrap();
    let report = env
        .run(["validate", "--json"])
        .arg(&path)
        .code(5)
        .go()
        .json();
    assert_eq!(report[0]["kind"], "quiz");
    let problems = report[0]["problems"].as_array().unwrap();
    assert_eq!(problems[0]["line"], 8);
    assert!(
        problems[0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field")
    );
    // The shape error comes first; fix it and every semantic problem shows.
    std::fs::write(&path, bad.replacen("passmark = 1\n", "", 1)).unwrap();
    let report = env
        .run(["validate", "--json"])
        .arg(&path)
        .code(5)
        .go()
        .json();
    let problems = report[0]["problems"].as_array().unwrap();
    assert_eq!(problems.len(), 1, "{problems:#?}");
    assert!(
        problems[0]["message"]
            .as_str()
            .unwrap()
            .contains("`Q` is not one of the choices")
    );
    assert_eq!(problems[0]["line"], 24);
}

//! Reading quizzes and answers files: the only I/O of the quiz module.
//! Problems come back as `file:line:col` diagnostics, every one of them,
//! the same way scenario problems do.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::de::DeTable;

use super::{Answers, DOCTRINE_RULES, Kind, Letters, Quiz, letter, position};
use crate::scenario::{Diagnostic, Problem, parse_checked, render, toml_diagnostic};
use crate::text::did_you_mean;

/// Where quiz keys are documented.
const README: &str = "quizzes/README.md";

/// Why a quiz or an answers file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("could not read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file has problems.
    #[error("{}", render(.0))]
    Invalid(Vec<Diagnostic>),
    /// No quiz by that name.
    #[error("no quiz `{name}` in {}; available: {}", dir.display(), if known.is_empty() { "none".to_string() } else { known.join(", ") })]
    NotFound {
        /// What was asked for.
        name: String,
        /// Where it was looked for.
        dir: PathBuf,
        /// The ids that exist there.
        known: Vec<String>,
    },
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// Loads and validates a quiz file.
pub fn load(path: &Path) -> Result<Quiz, Error> {
    parse(path, &read(path)?).map_err(Error::Invalid)
}

/// Parses and validates quiz text; `path` labels the diagnostics.
pub fn parse(path: &Path, text: &str) -> Result<Quiz, Vec<Diagnostic>> {
    let mut quiz: Quiz = parse_checked(path, text, README, |q: &Quiz| &q.id, validate)?;
    quiz.path = path.to_path_buf();
    Ok(quiz)
}

/// Every problem in a quiz.
pub fn validate(quiz: &Quiz) -> Vec<Problem> {
    let mut p = Vec::new();
    if !(1..=100).contains(&quiz.pass_mark) {
        p.push(
            Problem::at("pass_mark", "must be a percentage from 1 to 100")
                .hint("80 means 80% of the points"),
        );
    }
    if quiz.questions.is_empty() {
        p.push(Problem::at(
            "questions",
            "a quiz needs at least one question",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, q) in quiz.questions.iter().enumerate() {
        let at = |key: &str| format!("questions.{i}.{key}");
        if !crate::text::is_plain_name(&q.id) {
            p.push(Problem::at(
                &at("id"),
                format!(
                    "`{}` is not a valid id: use letters, digits, `-` and `_`",
                    q.id
                ),
            ));
        } else if !seen.insert(q.id.as_str()) {
            p.push(Problem::at(
                &at("id"),
                format!("question `{}` is declared twice", q.id),
            ));
        }
        for (key, text) in [
            ("prompt", &q.prompt),
            ("explain", &q.explain),
            ("cites", &q.cites),
        ] {
            if text.trim().is_empty() {
                let hint = match key {
                    "explain" => {
                        "say why the answer is right; the learner reads it after answering"
                    }
                    "cites" => "name the runbook section or chapter the answer comes from",
                    _ => "ask the question",
                };
                p.push(Problem::at(&at(key), "must not be empty").hint(hint));
            }
        }
        if q.points == 0 {
            p.push(Problem::at(
                &at("points"),
                "a question is worth at least 1 point",
            ));
        }
        for (k, rule) in q.doctrine.iter().enumerate() {
            if *rule == 0 || *rule as usize > DOCTRINE_RULES.len() {
                p.push(
                    Problem::at(
                        &format!("questions.{i}.doctrine.{k}"),
                        format!("no doctrine rule {rule}"),
                    )
                    .hint(format!("DESIGN.md has rules 1 to {}", DOCTRINE_RULES.len())),
                );
            }
        }
        match q.kind {
            Kind::Single | Kind::Multiple => {
                if q.choices.len() < 2 || q.choices.len() > 26 {
                    p.push(Problem::at(&at("choices"), "give between 2 and 26 choices"));
                }
                if !q.items.is_empty() {
                    p.push(
                        Problem::at(&at("items"), "`items` belong to ordering questions")
                            .hint("use `choices` and `answer`, or `type = \"order\"`"),
                    );
                }
                check_answer(
                    &mut p,
                    &at("answer"),
                    q.kind,
                    q.answer.as_ref(),
                    q.choices.len(),
                );
            }
            Kind::Order => {
                if q.items.len() < 2 || q.items.len() > 26 {
                    p.push(
                        Problem::at(
                            &at("items"),
                            "give between 2 and 26 items, in the right order",
                        )
                        .hint("they are shown shuffled"),
                    );
                }
                if !q.choices.is_empty() || q.answer.is_some() {
                    let key = if q.choices.is_empty() {
                        "answer"
                    } else {
                        "choices"
                    };
                    p.push(
                        Problem::at(&at(key), "an ordering question has no choices or answer")
                            .hint("list the `items` in the right order; that is the answer"),
                    );
                }
                let distinct: BTreeSet<&String> = q.items.iter().collect();
                if distinct.len() != q.items.len() {
                    p.push(Problem::at(&at("items"), "two items are the same"));
                }
            }
        }
    }
    p
}

fn check_answer(p: &mut Vec<Problem>, at: &str, kind: Kind, answer: Option<&Letters>, n: usize) {
    let Some(answer) = answer else {
        p.push(
            Problem::at(at, "missing: which choice is right")
                .hint("`answer = \"B\"`, or a list for multiple choice: `answer = [\"A\", \"C\"]`"),
        );
        return;
    };
    if answer.0.is_empty() {
        p.push(Problem::at(at, "name at least one choice"));
    }
    for l in &answer.0 {
        if position(l).is_none_or(|i| i >= n) {
            p.push(
                Problem::at(at, format!("`{l}` is not one of the choices")).hint(format!(
                    "the choices are A to {}",
                    letter(n.saturating_sub(1))
                )),
            );
        }
    }
    if kind == Kind::Single && answer.0.len() > 1 {
        p.push(
            Problem::at(at, "a single-choice question has one answer")
                .hint("use `type = \"multiple\"` when several choices are right"),
        );
    }
}

/// Reads a learner's answers file for a quiz.
pub fn load_answers(quiz: &Quiz, path: &Path) -> Result<Answers, Error> {
    parse_answers(quiz, path, &read(path)?).map_err(Error::Invalid)
}

/// Parses answers: one line per question, `question-id = "B"`, `"A C"` or
/// `"C A D B"` for an ordering. Every problem is reported.
pub fn parse_answers(quiz: &Quiz, path: &Path, text: &str) -> Result<Answers, Vec<Diagnostic>> {
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|e| toml_diagnostic(path, text, e, README))
            .collect());
    }
    // Each answer on its own, so that one of the wrong shape does not hide
    // the problems of the others.
    let raw: std::collections::BTreeMap<String, toml::Value> =
        toml::from_str(text).map_err(|e| vec![toml_diagnostic(path, text, &e, README)])?;
    let mut problems = Vec::new();
    let mut answers = Answers::new();
    for (id, value) in raw {
        let Some(q) = quiz.questions.iter().find(|q| q.id == id) else {
            problems.push(
                Problem::at(&id, format!("not a question of quiz `{}`", quiz.id))
                    .on_key()
                    .hint(
                        match did_you_mean(&id, quiz.questions.iter().map(|q| q.id.as_str())) {
                            Some(near) => format!("did you mean `{near}`?"),
                            None => format!(
                                "the questions are: {}",
                                quiz.questions
                                    .iter()
                                    .map(|q| q.id.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        },
                    ),
            );
            continue;
        };
        let given = match Letters::deserialize(value) {
            Ok(given) => given,
            Err(e) => {
                problems.push(Problem::at(&id, e.message().to_string()));
                continue;
            }
        };
        let n = q.shown().len();
        let mut positions = Vec::new();
        for l in &given.0 {
            match position(l).filter(|i| *i < n) {
                Some(i) => positions.push(i),
                None => problems.push(
                    Problem::at(
                        &id,
                        format!("`{l}` is not one of the letters A to {}", letter(n - 1)),
                    )
                    .hint("see the letters with `pgdrill quiz QUIZ --print`"),
                ),
            }
        }
        let distinct: BTreeSet<usize> = positions.iter().copied().collect();
        let bad_shape = match q.kind {
            Kind::Single => (positions.len() != 1).then_some("answer with one letter"),
            Kind::Multiple => (positions.is_empty() || distinct.len() != positions.len())
                .then_some("give each chosen letter once"),
            Kind::Order => (positions.len() != n || distinct.len() != n)
                .then_some("give every letter exactly once, in your order"),
        };
        if let Some(what) = bad_shape
            && given.0.iter().all(|l| position(l).is_some_and(|i| i < n))
        {
            problems.push(Problem::at(&id, what.to_string()));
        }
        answers.insert(id, positions);
    }
    if problems.is_empty() {
        Ok(answers)
    } else {
        let mut diags: Vec<Diagnostic> = problems
            .iter()
            .map(|p| Diagnostic::locate(path, text, Some(doc.get_ref()), p))
            .collect();
        diags.sort_by_key(|d| (d.line, d.column));
        Err(diags)
    }
}

/// A quiz named by id (looked up in `dir`) or by path.
pub fn resolve(name: &str, dir: &Path) -> Result<PathBuf, Error> {
    crate::scenario::find(name, dir).map_err(|known| Error::NotFound {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        known,
    })
}

/// Whether TOML text is a quiz (it has `questions`) rather than a scenario.
pub fn is_quiz(text: &str) -> bool {
    text.parse::<toml::Table>()
        .map(|t| t.contains_key("questions"))
        .unwrap_or_else(|_| text.contains("[[questions]]"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let text = r#"id = "t"
title = "T"
pass_mark = 120

[[questions]]
id = "a"
type = "single"
prompt = "?"
choices = ["x", "y"]
answer = "C"
explain = ""
cites = "runbook 000"

[[questions]]
id = "a"
type = "order"
prompt = "?"
items = ["one"]
answer = "A"
explain = "e"
cites = "c"
doctrine = [9]
"#;
        let diags = parse(Path::new("t.toml"), text).unwrap_err();
        let shown: Vec<String> = diags
            .iter()
            .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
            .collect();
        let expect = [
            "3:13 pass_mark: must be a percentage",
            "10:10 questions[0].answer: `C` is not one of the choices",
            "11:11 questions[0].explain: must not be empty",
            "15:6 questions[1].id: question `a` is declared twice",
            "18:9 questions[1].items: give between 2 and 26 items",
            "19:10 questions[1].answer: an ordering question has no choices or answer",
            "22:13 questions[1].doctrine[0]: no doctrine rule 9",
        ];
        for e in expect {
            assert!(
                shown.iter().any(|s| s.starts_with(e)),
                "{e} not in {shown:#?}"
            );
        }
        assert_eq!(shown.len(), expect.len(), "{shown:#?}");
    }

    #[test]
    fn unknown_keys_are_errors() {
        let text = "id = \"t\"\ntitle = \"T\"\npass_mark = 50\nquestions = []\npassmark = 1\n";
        let diags = parse(Path::new("t.toml"), text).unwrap_err();
        assert_eq!(diags[0].line, 5);
        assert!(
            diags[0].message.contains("unknown field"),
            "{}",
            diags[0].message
        );
    }

    #[test]
    fn answers_files_are_checked_against_the_quiz() {
        let quiz = parse(
            Path::new("q.toml"),
            r#"id = "q"
title = "Q"
pass_mark = 50
[[questions]]
id = "one"
type = "single"
prompt = "?"
choices = ["x", "y"]
answer = "A"
explain = "e"
cites = "c"
[[questions]]
id = "steps"
type = "order"
prompt = "?"
items = ["a", "b", "c"]
explain = "e"
cites = "c"
"#,
        )
        .unwrap();
        let ok = parse_answers(
            &quiz,
            Path::new("a.toml"),
            "one = \"a\"\nsteps = \"C, A, B\"\n",
        )
        .unwrap();
        assert_eq!(ok["one"], vec![0]);
        assert_eq!(ok["steps"], vec![2, 0, 1]);
        let bad = parse_answers(
            &quiz,
            Path::new("a.toml"),
            "one = \"A B\"\nsteps = \"A A B\"\nthree = \"A\"\nstep = 5\n",
        )
        .unwrap_err();
        let lines: Vec<(usize, &str)> = bad.iter().map(|d| (d.line, d.message.as_str())).collect();
        assert_eq!(lines.len(), 4, "{lines:#?}");
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 1 && m.contains("one letter"))
        );
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 2 && m.contains("exactly once"))
        );
        assert!(
            lines
                .iter()
                .any(|(l, m)| *l == 3 && m.contains("not a question of quiz"))
        );
        // An unknown question is a wrong key: the caret is under the key,
        // with the question it may have meant.
        let unknown = bad.iter().find(|d| d.line == 4).unwrap();
        assert_eq!((unknown.column, unknown.width), (1, 4), "{unknown}");
        assert_eq!(unknown.hint.as_deref(), Some("did you mean `steps`?"));
        // A value of the wrong shape does not hide the other problems, and
        // says what it should be.
        assert!(
            unknown.message.starts_with("step: not a question"),
            "{unknown}"
        );
        let typed = parse_answers(
            &quiz,
            Path::new("a.toml"),
            "one = 5
three = \"A\"\n",
        )
        .unwrap_err();
        assert_eq!(typed.len(), 2, "{typed:#?}");
        assert!(
            typed[0].message.contains(r#"expected letters such as "B""#),
            "{}",
            typed[0]
        );
    }

    #[test]
    fn quizzes_are_told_from_scenarios() {
        assert!(is_quiz("id = \"q\"\n[[questions]]\nid = \"a\"\n"));
        assert!(!is_quiz("id = \"s\"\n[fixture]\nsql = \"x\"\n"));
    }
}

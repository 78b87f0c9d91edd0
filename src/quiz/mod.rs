//! Quizzes: single-choice, multiple-choice and ordering questions, each
//! with an explanation that cites the runbook it comes from.
//!
//! A quiz is a TOML file (`quizzes/*.toml`), loaded and validated like a
//! scenario (every problem as `file:line:col`, unknown keys are errors).
//! Choices are labelled with letters in file order; an ordering question
//! lists its items in the right order and is shown shuffled, always the same
//! way (the shuffle is derived from the question's id), so an answers file
//! written against `pgdrill quiz QUIZ --print` stays valid. Grading is a
//! pure function of the quiz and the answers.

mod load;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use load::{Error, is_quiz, load, load_answers, parse, parse_answers, resolve, validate};

/// The doctrine rules of DESIGN.md a question can be tagged with
/// (`doctrine = [3]`), so a test can prove a quiz covers all of them.
pub const DOCTRINE_RULES: &[&str] = &[
    "migrations are classified expand or contract",
    "rollout order: expand, deploy flag off, enable, observe, contract",
    "rollback order: flag first, app if needed, keep the expanded schema",
    "after a destructive migration: snapshot, restore to a new instance, cut over, lost writes, RTO/RPO",
    "downs only when tested and non-destructive; forward fixes higher and idempotent",
    "non-transactional DDL apart; a failed one leaves an INVALID index",
    "long locks: stop, reduce scope, lock_timeout",
    "hard stops",
];

/// A quiz, as its file declares it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Quiz {
    /// Stable id (the file name).
    pub id: String,
    /// Title.
    pub title: String,
    /// Shown before the first question.
    #[serde(default)]
    pub intro: String,
    /// Percentage of the points needed to pass.
    pub pass_mark: u32,
    /// The questions, in order.
    pub questions: Vec<Question>,
    /// Where it was loaded from.
    #[serde(skip)]
    pub path: PathBuf,
}

/// The kinds of questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// One right choice.
    Single,
    /// Every right choice and no wrong one.
    Multiple,
    /// The items in the right order.
    Order,
}

/// One question.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Stable id (answers files use it).
    pub id: String,
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// The question.
    pub prompt: String,
    /// Choices (single, multiple), labelled A, B, C... in this order.
    #[serde(default)]
    pub choices: Vec<String>,
    /// The right choice(s) by letter: `"B"`, or `["A", "C"]`.
    #[serde(default)]
    pub answer: Option<Letters>,
    /// Items (order), listed in the right order.
    #[serde(default)]
    pub items: Vec<String>,
    /// Why the answer is right.
    pub explain: String,
    /// The runbook or chapter it comes from.
    pub cites: String,
    /// Points (default 1); all or nothing.
    #[serde(default = "one")]
    pub points: u32,
    /// The doctrine rules (1-based, DESIGN.md) it tests.
    #[serde(default)]
    pub doctrine: Vec<u32>,
}

fn one() -> u32 {
    1
}

/// Letters as a file writes them: `"B"`, `"A C"`, `"A, C"` or `["A", "C"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letters(pub Vec<String>);

impl<'de> Deserialize<'de> for Letters {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Letters, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Letters;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str(r#"letters such as "B", "A C" or ["A", "C"]"#)
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Letters, E> {
                Ok(Letters(split_letters(s)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Letters, A::Error> {
                let mut words = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    words.extend(split_letters(&s));
                }
                Ok(Letters(words))
            }
        }
        d.deserialize_any(Visitor)
    }
}

fn split_letters(s: &str) -> Vec<String> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_ascii_uppercase())
        .collect()
}

/// The letter of a 0-based position.
pub fn letter(i: usize) -> String {
    char::from(b'A' + (i as u8 % 26)).to_string()
}

/// The 0-based position of a letter.
pub fn position(letter: &str) -> Option<usize> {
    let mut chars = letter.chars();
    match (chars.next(), chars.next()) {
        (Some(c @ 'A'..='Z'), None) => Some(c as usize - 'A' as usize),
        _ => None,
    }
}

impl Question {
    /// What is shown, in order: the choices, or the items shuffled.
    pub fn shown(&self) -> Vec<&str> {
        match self.kind {
            Kind::Single | Kind::Multiple => self.choices.iter().map(String::as_str).collect(),
            Kind::Order => self
                .shuffle()
                .iter()
                .map(|&i| self.items[i].as_str())
                .collect(),
        }
    }

    /// For an ordering question: which item (index in the right order) is
    /// shown at each position. Derived from the id, so it never changes,
    /// and never the right order itself.
    pub fn shuffle(&self) -> Vec<usize> {
        let n = self.items.len();
        let mut order: Vec<usize> = (0..n).collect();
        // FNV-1a of the id seeds a small LCG for a Fisher-Yates shuffle.
        let mut state = self.id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
        for i in (1..n).rev() {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let j = (state >> 33) as usize % (i + 1);
            order.swap(i, j);
        }
        if n > 1 && order.iter().enumerate().all(|(i, &o)| i == o) {
            order.rotate_left(1);
        }
        order
    }

    /// The right answer as positions of what is shown.
    pub fn key(&self) -> Vec<usize> {
        match self.kind {
            Kind::Single | Kind::Multiple => {
                let mut key: Vec<usize> = self
                    .answer
                    .as_ref()
                    .map(|a| a.0.iter().filter_map(|l| position(l)).collect())
                    .unwrap_or_default();
                key.sort_unstable();
                key
            }
            Kind::Order => {
                let shuffle = self.shuffle();
                (0..self.items.len())
                    .filter_map(|item| shuffle.iter().position(|&s| s == item))
                    .collect()
            }
        }
    }

    /// Whether a response (positions of what is shown) is right.
    pub fn is_right(&self, response: &[usize]) -> bool {
        match self.kind {
            Kind::Order => response == self.key().as_slice(),
            Kind::Single | Kind::Multiple => {
                let mut given = response.to_vec();
                given.sort_unstable();
                given.dedup();
                given == self.key()
            }
        }
    }
}

/// Letters of positions, space-separated.
pub fn letters(positions: &[usize]) -> String {
    positions
        .iter()
        .map(|&p| letter(p))
        .collect::<Vec<_>>()
        .join(" ")
}

/// A learner's answers: question id → positions of what was shown.
pub type Answers = std::collections::BTreeMap<String, Vec<usize>>;

/// A graded quiz.
#[derive(Debug, Clone, Serialize)]
pub struct Graded {
    /// Quiz id.
    pub quiz: String,
    /// Its title.
    pub title: String,
    /// Points earned.
    pub points: u32,
    /// Points possible.
    pub max_points: u32,
    /// Percentage earned.
    pub percent: u32,
    /// Percentage needed.
    pub pass_mark: u32,
    /// The verdict.
    pub passed: bool,
    /// Per question.
    pub questions: Vec<GradedQuestion>,
}

/// One graded question.
#[derive(Debug, Clone, Serialize)]
pub struct GradedQuestion {
    /// Question id.
    pub id: String,
    /// Its kind.
    pub kind: Kind,
    /// The question.
    pub prompt: String,
    /// What was answered (letters), if anything.
    pub given: Option<String>,
    /// The right answer (letters).
    pub correct: String,
    /// Whether it was right.
    pub right: bool,
    /// Points earned.
    pub points: u32,
    /// Why the answer is right.
    pub explain: String,
    /// Where that comes from.
    pub cites: String,
}

/// Grades answers; an unanswered question earns nothing.
pub fn grade(quiz: &Quiz, answers: &Answers) -> Graded {
    let questions: Vec<GradedQuestion> = quiz
        .questions
        .iter()
        .map(|q| {
            let given = answers.get(&q.id);
            let right = given.is_some_and(|g| q.is_right(g));
            GradedQuestion {
                id: q.id.clone(),
                kind: q.kind,
                prompt: q.prompt.clone(),
                given: given.map(|g| letters(g)),
                correct: letters(&q.key()),
                right,
                points: if right { q.points } else { 0 },
                explain: q.explain.clone(),
                cites: q.cites.clone(),
            }
        })
        .collect();
    let points: u32 = questions.iter().map(|q| q.points).sum();
    let max_points: u32 = quiz.questions.iter().map(|q| q.points).sum();
    let percent = (points * 100).checked_div(max_points).unwrap_or(0);
    Graded {
        quiz: quiz.id.clone(),
        title: quiz.title.clone(),
        points,
        max_points,
        percent,
        pass_mark: quiz.pass_mark,
        passed: percent >= quiz.pass_mark,
        questions,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUIZ: &str = r#"
id = "t"
title = "T"
pass_mark = 60

[[questions]]
id = "one"
type = "single"
prompt = "Which?"
choices = ["a", "b", "c"]
answer = "B"
explain = "b."
cites = "runbook 000"

[[questions]]
id = "many"
type = "multiple"
prompt = "Which ones?"
choices = ["a", "b", "c"]
answer = ["A", "C"]
explain = "a and c."
cites = "runbook 000"

[[questions]]
id = "steps"
type = "order"
prompt = "In order"
items = ["first", "second", "third", "fourth"]
explain = "1, 2, 3, 4."
cites = "runbook 000"
"#;

    fn quiz() -> Quiz {
        parse(std::path::Path::new("t.toml"), QUIZ).unwrap()
    }

    #[test]
    fn ordering_is_shuffled_the_same_way_every_time_and_never_solved() {
        let q = &quiz().questions[2];
        assert_eq!(q.shuffle(), q.shuffle());
        assert_ne!(q.shuffle(), vec![0, 1, 2, 3]);
        let shown = q.shown();
        let key = q.key();
        let in_order: Vec<&str> = key.iter().map(|&p| shown[p]).collect();
        assert_eq!(in_order, ["first", "second", "third", "fourth"]);
    }

    #[test]
    fn grading_is_all_or_nothing_per_question() {
        let quiz = quiz();
        let order = quiz.questions[2].key();
        let all_right: Answers = [
            ("one".to_string(), vec![1]),
            ("many".to_string(), vec![2, 0]),
            ("steps".to_string(), order.clone()),
        ]
        .into();
        let g = grade(&quiz, &all_right);
        assert_eq!((g.points, g.percent, g.passed), (3, 100, true));
        let mut partly: Answers = all_right.clone();
        partly.insert("many".into(), vec![0]);
        partly.remove("steps");
        let g = grade(&quiz, &partly);
        assert_eq!((g.points, g.percent, g.passed), (1, 33, false));
        assert_eq!(g.questions[1].given.as_deref(), Some("A"));
        assert_eq!(g.questions[1].correct, "A C");
        assert_eq!(g.questions[2].given, None);
    }
}

//! `pgdrill quiz`: take a quiz at the terminal (dialoguer: arrow keys,
//! space to pick, a sortable list for ordering), or grade an answers file.
//! The result is a table, or JSON.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::say;
use crate::quiz::{self, Answers, Graded, Kind, Quiz, letter};
use crate::{Error, Exit};

/// Settings of `pgdrill quiz`.
pub struct QuizArgs {
    /// Quiz id or path; none lists the quizzes.
    pub quiz: Option<String>,
    /// Grade this answers file instead of asking.
    pub answers: Option<PathBuf>,
    /// Print the questions (for writing an answers file) and stop.
    pub print: bool,
    /// Print the result as JSON.
    pub json: bool,
}

/// Runs `pgdrill quiz`.
pub async fn run(
    dir: &Path,
    args: QuizArgs,
    interrupt: &super::Interrupt,
    out: &mut impl Write,
) -> Result<ExitCode, Error> {
    let Some(name) = args.quiz else {
        return list(dir, args.json, out);
    };
    let quiz = quiz::load(&quiz::resolve(&name, dir)?)?;
    if args.print {
        say!(out, "{}", printed(&quiz));
        return Ok(ExitCode::SUCCESS);
    }
    let answers = match &args.answers {
        Some(path) => quiz::load_answers(&quiz, path)?,
        None => ask_until_interrupted(&quiz, interrupt).await?,
    };
    let graded = quiz::grade(&quiz, &answers);
    if args.json {
        say!(
            out,
            "{}",
            serde_json::to_string_pretty(&graded).unwrap_or_default()
        );
    } else {
        say!(out, "{}", table(&graded));
    }
    Ok(Exit::verdict(graded.passed))
}

fn list(dir: &Path, json: bool, out: &mut impl Write) -> Result<ExitCode, Error> {
    let mut found = Vec::new();
    for path in crate::scenario::discover(dir).unwrap_or_default() {
        match quiz::load(&path) {
            Ok(q) => found.push(q),
            Err(e) => eprintln!(
                "{}: invalid, skipped (run `pgdrill validate {}`): {}",
                path.display(),
                path.display(),
                e.to_string().lines().next().unwrap_or_default()
            ),
        }
    }
    if json {
        let items: Vec<_> = found
            .iter()
            .map(|q| serde_json::json!({"id": q.id, "title": q.title, "questions": q.questions.len(), "pass_mark": q.pass_mark, "path": q.path}))
            .collect();
        say!(out, "{}", serde_json::Value::Array(items));
    } else if found.is_empty() {
        say!(out, "no quizzes in {}", dir.display());
    } else {
        for q in &found {
            say!(
                out,
                "{}  {} ({} questions, pass mark {}%)",
                q.id,
                q.title,
                q.questions.len(),
                q.pass_mark
            );
        }
        say!(out);
        say!(
            out,
            "Take one with `pgdrill quiz ID`; grade an answers file with `pgdrill quiz ID --answers FILE`."
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn kind_hint(kind: Kind) -> &'static str {
    match kind {
        Kind::Single => "one answer",
        Kind::Multiple => "every right answer",
        Kind::Order => "put them in order",
    }
}

/// The questions with their letters, and how to write an answers file.
fn printed(quiz: &Quiz) -> String {
    let mut s = format!("# {}\n\n", quiz.title);
    if !quiz.intro.trim().is_empty() {
        s.push_str(&format!("{}\n\n", quiz.intro.trim()));
    }
    s.push_str(&format!(
        "{} questions; pass mark {}%. Answers file (TOML), one line per question:\n  question-id = \"B\"        # single choice\n  question-id = \"A C\"      # multiple choice\n  question-id = \"C A D B\"  # ordering: the letters in your order\n",
        quiz.questions.len(),
        quiz.pass_mark
    ));
    for (n, q) in quiz.questions.iter().enumerate() {
        s.push_str(&format!(
            "\n{}. [{}] {} ({})\n",
            n + 1,
            q.id,
            q.prompt.trim(),
            kind_hint(q.kind)
        ));
        for (i, text) in q.shown().iter().enumerate() {
            s.push_str(&format!("   {}. {text}\n", letter(i)));
        }
    }
    s
}

/// [`ask`], ended by a stop signal too. Between two questions the terminal
/// is not in raw mode, so a Ctrl-C there arrives as SIGINT, which pgdrill's
/// handler holds; unwatched, it was swallowed and the quiz went on.
async fn ask_until_interrupted(
    quiz: &Quiz,
    interrupt: &super::Interrupt,
) -> Result<Answers, Error> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let quiz = quiz.clone();
    // A thread of its own, not joined: on a signal the process exits while
    // it still waits for a key.
    std::thread::spawn(move || {
        let _ = tx.send(ask(&quiz));
    });
    tokio::select! {
        asked = rx => asked.unwrap_or(Err(Error::Interrupted)),
        _ = interrupt.wait() => {
            let _ = console::Term::stderr().show_cursor();
            eprintln!();
            Err(Error::Interrupted)
        }
    }
}

/// Asks every question at the terminal; feedback after each.
fn ask(quiz: &Quiz) -> Result<Answers, Error> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "the quiz needs a terminal; to grade answers from a file use --answers FILE (see --print for the letters)".into(),
        ));
    }
    let term = console::Term::stderr();
    // A neutral mark after each answer: the theme's green tick would say
    // "right" before the verdict says "not quite".
    let theme = dialoguer::theme::ColorfulTheme {
        success_prefix: console::style("›".to_string()).for_stderr().dim(),
        ..dialoguer::theme::ColorfulTheme::default()
    };
    let _ = term.write_line(&format!("{}\n", quiz.title));
    if !quiz.intro.trim().is_empty() {
        let _ = term.write_line(&format!("{}\n", quiz.intro.trim()));
    }
    let mut answers = Answers::new();
    let total = quiz.questions.len();
    for (n, q) in quiz.questions.iter().enumerate() {
        let labelled: Vec<String> = q
            .shown()
            .iter()
            .enumerate()
            .map(|(i, t)| format!("{}. {t}", letter(i)))
            .collect();
        // The question is printed once; the widget's own prompt stays short,
        // because a prompt that wraps is not redrawn cleanly.
        let _ = term.write_line(&format!("{}/{total}  {}", n + 1, q.prompt.trim()));
        let prompt = match q.kind {
            Kind::Single => "arrows, Enter",
            Kind::Multiple => "Space to pick each right answer, Enter",
            Kind::Order => "Space to grab an item, arrows to move it, Enter",
        };
        // Ctrl-C in the widget is a key, not a signal: it ends the quiz as
        // an interruption (exit 130), like Ctrl-C anywhere else.
        let interrupted = |e: dialoguer::Error| match e {
            dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted => {
                Error::Interrupted
            }
            e => Error::Usage(format!("quiz ended: {e}")),
        };
        let response: Vec<usize> = match q.kind {
            Kind::Single => vec![
                dialoguer::Select::with_theme(&theme)
                    .with_prompt(prompt)
                    .items(&labelled)
                    .default(0)
                    .interact_on(&term)
                    .map_err(interrupted)?,
            ],
            Kind::Multiple => dialoguer::MultiSelect::with_theme(&theme)
                .with_prompt(prompt)
                .items(&labelled)
                .interact_on(&term)
                .map_err(interrupted)?,
            Kind::Order => dialoguer::Sort::with_theme(&theme)
                .with_prompt(prompt)
                .items(&labelled)
                .interact_on(&term)
                .map_err(interrupted)?,
        };
        let right = q.is_right(&response);
        let verdict = if right {
            "right".to_string()
        } else {
            format!("not quite: the answer is {}", quiz::letters(&q.key()))
        };
        let _ = term.write_line(&format!(
            "  {verdict}. {} ({})\n",
            q.explain.trim(),
            q.cites
        ));
        answers.insert(q.id.clone(), response);
    }
    Ok(answers)
}

/// The result as a table and a verdict.
fn table(g: &Graded) -> String {
    let mut b = tabled::builder::Builder::default();
    b.push_record(["", "question", "yours", "answer", "why"]);
    for q in &g.questions {
        b.push_record([
            if q.right { "ok" } else { "WRONG" }.to_string(),
            q.id.clone(),
            q.given
                .clone()
                .filter(|g| !g.is_empty())
                .unwrap_or_else(|| "-".into()),
            q.correct.clone(),
            if q.right {
                q.cites.clone()
            } else {
                format!("{} ({})", q.explain.trim(), q.cites)
            },
        ]);
    }
    let mut t = b.build();
    t.with(tabled::settings::Style::sharp()).with(
        tabled::settings::Modify::new(tabled::settings::object::Columns::new(4..5))
            .with(tabled::settings::Width::wrap(56).keep_words(true)),
    );
    format!(
        "{t}\n{}: {} of {} points ({}%, pass mark {}%): {}",
        g.title,
        g.points,
        g.max_points,
        g.percent,
        g.pass_mark,
        if g.passed { "PASS" } else { "FAIL" }
    )
}

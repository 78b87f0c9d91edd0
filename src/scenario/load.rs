//! Reading scenario files: the only I/O of this module.
//!
//! Loading reports problems in three layers, each as `file:line:col`
//! diagnostics: TOML syntax (every error the parser recovers from), then the
//! shape (types, unknown or missing keys: serde stops at the first), then
//! every semantic problem [`validate`](super::validate) finds.

use std::path::{Path, PathBuf};

use toml::de::DeTable;

use super::{Diagnostic, Problem, Scenario, validate};

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
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
    /// No scenario by that name.
    #[error("no scenario `{name}` in {}{}", dir.display(), known_list(known))]
    NotFound {
        /// What was asked for.
        name: String,
        /// Where it was looked for.
        dir: PathBuf,
        /// The ids that exist there.
        known: Vec<String>,
    },
}

fn known_list(known: &[String]) -> String {
    if known.is_empty() {
        "; it has no scenarios (pass --scenarios DIR, or a path to a .toml file)".into()
    } else {
        format!("; available: {}", known.join(", "))
    }
}

/// Diagnostics one after the other, with a count when there are several.
pub fn render(diags: &[Diagnostic]) -> String {
    let mut out = diags
        .iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("\n\n");
    if diags.len() > 1 {
        out.push_str(&format!("\n\n{} problems", diags.len()));
    }
    out
}

/// Loads and validates a scenario file, with its fixture SQL.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut scenario = parse(path, &text).map_err(LoadError::Invalid)?;
    let base = path.parent().unwrap_or(Path::new("."));
    match read_relative(base, &scenario.fixture.sql) {
        Ok(sql) => scenario.fixture.sql_text = sql,
        Err(tried) => {
            let doc = DeTable::parse(&text).ok();
            let problem = Problem::at("fixture.sql", "fixture file not found").hint(format!(
                "looked for {}; paths are relative to the scenario's folder or its parent",
                tried
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(" and ")
            ));
            let diag = Diagnostic::locate(path, &text, doc.as_ref().map(|d| d.get_ref()), &problem);
            return Err(LoadError::Invalid(vec![diag]));
        }
    }
    Ok(scenario)
}

/// A file relative to `base` or, failing that, to its parent.
fn read_relative(base: &Path, name: &str) -> Result<String, Vec<PathBuf>> {
    let mut tried = vec![base.join(name)];
    if let Some(parent) = base.parent() {
        tried.push(parent.join(name));
    }
    for candidate in &tried {
        if let Ok(text) = std::fs::read_to_string(candidate) {
            return Ok(text);
        }
    }
    Err(tried)
}

/// Parses and validates scenario text (no file reads; the fixture SQL is
/// left empty). `path` is only used to label diagnostics.
pub fn parse(path: &Path, text: &str) -> Result<Scenario, Vec<Diagnostic>> {
    let mut scenario: Scenario = parse_checked(path, text, README, |s: &Scenario| &s.id, validate)?;
    scenario.source.path = path.to_path_buf();
    scenario.source.text = text.to_string();
    Ok(scenario)
}

/// Parses a TOML file of pgdrill's (a scenario, a quiz) into `T`, reporting
/// every problem as a diagnostic: every syntax error the parser recovers
/// from; else the first shape error (serde stops there); else every problem
/// `validate` finds, and an `id` that differs from the file's name.
/// `readme` is where the file's keys are documented.
pub fn parse_checked<T: serde::de::DeserializeOwned>(
    path: &Path,
    text: &str,
    readme: &str,
    id: impl Fn(&T) -> &str,
    validate: impl Fn(&T) -> Vec<Problem>,
) -> Result<T, Vec<Diagnostic>> {
    let (doc, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        return Err(errors
            .iter()
            .map(|e| toml_diagnostic(path, text, e, readme))
            .collect());
    }
    let value: T = super::shape::deserialize_all(path, text, readme)?;
    let mut problems = validate(&value);
    let id = id(&value);
    if let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        && stem != id
        && path.extension().is_some_and(|x| x == "toml")
    {
        problems.insert(
            0,
            Problem::at(
                "id",
                format!("the id `{id}` differs from the file name `{stem}`"),
            )
            .hint(format!(
                "rename the file to {id}.toml or the id to `{stem}`, so it can be named by its id"
            )),
        );
    }
    if problems.is_empty() {
        Ok(value)
    } else {
        Err(problems
            .iter()
            .map(|p| Diagnostic::locate(path, text, Some(doc.get_ref()), p))
            .collect())
    }
}

/// Where a scenario's keys are documented.
const README: &str = "scenarios/README.md";

/// A TOML syntax or shape error as a diagnostic; `readme` documents the keys.
pub fn toml_diagnostic(path: &Path, text: &str, e: &toml::de::Error, readme: &str) -> Diagnostic {
    shape_diagnostic(path, text, e.message(), e.span().unwrap_or(0..0), readme)
}

/// The key an `unknown field` message most likely meant, from the keys it
/// lists (serde writes them as `a`, `b` or `c`).
pub(super) fn meant_key(message: &str) -> Option<&str> {
    meant_of(message.strip_prefix("unknown field `")?)
}

/// The word an `unknown variant` message (a value such as a tag or a kind)
/// most likely meant, from the words it lists.
pub(super) fn meant_variant(message: &str) -> Option<&str> {
    meant_of(message.strip_prefix("unknown variant `")?)
}

fn meant_of(rest: &str) -> Option<&str> {
    let (typed, expected) = rest.split_once('`')?;
    crate::text::did_you_mean(typed, expected.split('`').skip(1).step_by(2))
}

/// A shape error's message at a span of `text`, with a hint.
pub(super) fn shape_diagnostic(
    path: &Path,
    text: &str,
    message: &str,
    span: std::ops::Range<usize>,
    readme: &str,
) -> Diagnostic {
    let message = message.trim().to_string();
    let hint = if message.starts_with("unknown field") {
        Some(match meant_key(&message) {
            Some(meant) => format!("did you mean `{meant}`?"),
            None => "check the spelling; the keys this table accepts are listed above".into(),
        })
    } else if let Some(meant) = meant_variant(&message) {
        Some(format!("did you mean `{meant}`?"))
    } else if message.starts_with("missing field") {
        Some(format!("add it; see {readme} for every key"))
    } else {
        None
    };
    Diagnostic::new(path, text, span, message, hint)
}

/// The `.toml` files in a directory, sorted.
pub fn discover(dir: &Path) -> Result<Vec<PathBuf>, LoadError> {
    let entries = std::fs::read_dir(dir).map_err(|source| LoadError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// A scenario named by id (looked up in `dir`) or by path.
pub fn resolve(name: &str, dir: &Path) -> Result<PathBuf, LoadError> {
    find(name, dir).map_err(|known| LoadError::NotFound {
        name: name.to_string(),
        dir: dir.to_path_buf(),
        known,
    })
}

/// A file named by id (`DIR/ID.toml`) or by path (ends in `.toml` or has a
/// `/`); when there is none, the ids `dir` has.
pub fn find(name: &str, dir: &Path) -> Result<PathBuf, Vec<String>> {
    let as_path = Path::new(name);
    if as_path.extension().is_some_and(|x| x == "toml") || name.contains('/') {
        return Ok(as_path.to_path_buf());
    }
    let candidate = dir.join(format!("{name}.toml"));
    if candidate.is_file() {
        return Ok(candidate);
    }
    Err(discover(dir)
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
id = "t"
title = "t"
kind = "incident"
difficulty = "beginner"
objectives = ["learn"]
briefing = "story"
[fixture]
sql = "f.sql"
rows = { users = 10 }
[migrations]
[[migrations.list]]
id = "001"
kind = "expand"
up = "SELECT 1"
[[app.versions]]
name = "v1"
endpoints = [{ name = "read", weight = 1, sql = "SELECT $1::bigint", params = ["existing_user_id"] }]
[fleet]
pods = 2
version = "v1"
rps_per_pod = 5
statement_timeout = "1s"
[slo]
max_error_rate = 0.01
p99 = "100ms"
stable_for = "10s"
[rubric]
rto = "1m"
[[rubric.steps]]
id = "a"
move = "app rollback"
points = 10
why = "because"
"#;

    fn errors(text: &str) -> Vec<Diagnostic> {
        parse(Path::new("t.toml"), text).expect_err("should be invalid")
    }

    #[test]
    fn a_minimal_scenario_loads() {
        let s = parse(Path::new("t.toml"), MINIMAL).unwrap();
        assert_eq!(s.fleet.pool_size, 2);
        assert_eq!(s.rubric.pass_mark(), 7);
        assert_eq!(
            s.migrations.tracking(),
            crate::scenario::Tracking::default()
        );
    }

    #[test]
    fn unknown_keys_are_errors_at_their_place() {
        let text = MINIMAL.replace("rps_per_pod = 5", "rps_per_pod = 5\nrps_per_pad = 5");
        let d = errors(&text);
        assert_eq!(d.len(), 1);
        assert!(
            d[0].message.contains("unknown field `rps_per_pad`"),
            "{}",
            d[0]
        );
        assert_eq!(d[0].snippet, "rps_per_pad = 5");
        assert!(d[0].hint.is_some());
    }

    #[test]
    fn bad_values_are_errors_at_their_place() {
        let text = MINIMAL.replace("stable_for = \"10s\"", "stable_for = \"10 seconds\"");
        let d = errors(&text);
        assert!(d[0].message.contains("not a duration"), "{}", d[0]);
        assert_eq!(d[0].snippet, "stable_for = \"10 seconds\"");
        assert_eq!(d[0].column, 14);
    }

    #[test]
    fn syntax_errors_are_reported() {
        let d = errors("id = \"t\"\ntitle = \n");
        assert_eq!(d[0].line, 2, "{}", d[0]);
    }

    #[test]
    fn every_broken_reference_is_reported_at_once() {
        let text = MINIMAL
            .replace("version = \"v1\"\nrps", "version = \"v9\"\nrps")
            .replace(
                "params = [\"existing_user_id\"]",
                "params = [\"existing_id:orders\"], flag = \"nope\"",
            )
            .replace(
                "move = \"app rollback\"",
                "move = \"teleport\"\nafter = [\"zz\"]",
            )
            + "[[timeline]]\nat = \"5s\"\nrelease = { version = \"v3\", migrations = [\"404\"] }\n";
        let d = errors(&text);
        let shown: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        let all = shown.join("\n");
        for needle in [
            "unknown app version `v9`",
            "`orders` has no generated rows",
            "unknown flag `nope`",
            "`teleport` is not a move",
            "unknown step `zz`",
            "unknown app version `v3`",
            "unknown migration `404`",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
        assert_eq!(d.len(), 7, "{all}");
        let v9 = d.iter().find(|d| d.message.contains("v9")).unwrap();
        assert_eq!(v9.snippet, "version = \"v9\"");
        assert!(v9.hint.as_deref().unwrap().contains("declared: v1"));
    }

    #[test]
    fn injected_faults_are_checked_like_the_timeline_at_their_place() {
        let text = MINIMAL.to_string()
            + r#"
[[inject]]
name = "storm"
about = "a release nobody asked for"
[[inject.events]]
at = "0s"
release = { version = "v3" }
[[inject.events]]
at = "5s"
when = { flag = "f", at_least = "on" }
say = "waits for a flag"
[[inject]]
name = "storm"
events = []
"#;
        let d = errors(&text);
        let all: Vec<String> = d.iter().map(|d| d.to_string()).collect();
        let all = all.join("\n");
        for needle in [
            "unknown app version `v3`",
            "cannot wait for a flag",
            "unknown flag `f`",
            "fault `storm` is declared twice",
            "the fault does nothing",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
        let v3 = d.iter().find(|d| d.message.contains("v3")).unwrap();
        assert_eq!(v3.snippet, "release = { version = \"v3\" }");
        let twice = d.iter().find(|d| d.message.contains("twice")).unwrap();
        assert_eq!(twice.snippet, "name = \"storm\"");
        assert!(twice.line > v3.line, "the second declaration is named");
    }

    #[test]
    fn the_id_must_match_the_file_name() {
        let d = parse(Path::new("dir/other.toml"), MINIMAL).unwrap_err();
        assert!(
            d[0].message.contains("differs from the file name"),
            "{}",
            d[0]
        );
    }

    #[test]
    fn parameters_must_match_placeholders() {
        let text = MINIMAL.replace("SELECT $1::bigint", "SELECT $1::bigint, $2");
        let d = errors(&text);
        assert!(
            d[0].message.contains("uses 2 parameter(s) but 1"),
            "{}",
            d[0]
        );
    }

    #[test]
    fn numbers_the_engine_cannot_run_are_refused() {
        // Regression: these validated, then overflowed in scoring or in the
        // engine after a server had been provisioned.
        let d = errors(&MINIMAL.replace("points = 10", "points = 4294967295"));
        assert!(
            d[0].message.contains("more than a step may be worth"),
            "{}",
            d[0]
        );
        let d = errors(&MINIMAL.replace("points = 10", "points = 700000000"));
        assert!(
            d[0].message.contains("more than a step may be worth"),
            "{}",
            d[0]
        );
        let d = errors(&MINIMAL.replace(
            "stable_for = \"10s\"",
            "stable_for = \"18446744073709551615s\"",
        ));
        assert!(d[0].message.contains("too long"), "{}", d[0]);
        assert_eq!(d[0].line, 27, "{}", d[0]);
        let d = errors(
            &(MINIMAL.to_string()
                + "[[rubric.forbid]]\nmove = \"sql\"\npenalty = 5000\nwhy = \"no\"\n"),
        );
        assert!(d[0].message.contains("penalty of 5000"), "{}", d[0]);
    }
}

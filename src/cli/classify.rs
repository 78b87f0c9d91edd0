//! `pgdrill classify FILE|-`: SQL read by PostgreSQL's parser, statement by
//! statement, in the doctrine's terms.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use super::say;
use crate::Error;
use crate::migrate::analyze::analyze;

/// Classifies a file's SQL (`-`: standard input).
pub fn run(file: &Path, json: bool, out: &mut impl Write) -> Result<ExitCode, Error> {
    let stdin = file == Path::new("-");
    let read = if stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(file)
    };
    let sql = read.map_err(|source| Error::ReadInput {
        path: file.to_path_buf(),
        source,
    })?;
    let shown = if stdin {
        "<stdin>".into()
    } else {
        file.display().to_string()
    };
    let verdicts = analyze(&sql).map_err(|e| {
        let line = sql.lines().nth(e.line - 1).unwrap_or_default();
        Error::SqlParse {
            path: shown.clone(),
            line: e.line,
            column: e.column,
            message: e.message,
            snippet: format!("  {line}\n  {}^", " ".repeat(e.column.saturating_sub(1))),
        }
    })?;
    if json {
        say!(
            out,
            "{}",
            serde_json::to_string_pretty(&verdicts).unwrap_or_default()
        );
        return Ok(ExitCode::SUCCESS);
    }
    if verdicts.is_empty() {
        say!(out, "{shown}: no statements");
    }
    for v in &verdicts {
        let destructive = if v.destructive { "  destructive" } else { "" };
        let lock = v.lock.map_or("no table lock", |l| l.name());
        let tx = if v.transactional {
            "in a transaction block: yes"
        } else {
            "in a transaction block: no"
        };
        let kind = serde_json::to_value(v.kind).ok();
        let kind = kind.as_ref().and_then(|k| k.as_str()).unwrap_or("?");
        say!(out, "{shown}:{}  {kind}{destructive}  {lock}  {tx}", v.line);
        say!(out, "  {}", crate::transcript::first_line(&v.sql, 100));
        say!(out, "  {}\n", v.why);
    }
    Ok(ExitCode::SUCCESS)
}

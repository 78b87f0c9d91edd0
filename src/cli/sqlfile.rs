//! Loading a SQL file into an instance, with errors that point into the file.
//!
//! The file runs as one simple-protocol batch, so it is atomic: Postgres wraps
//! a multi-statement batch in one implicit transaction. An error is reported
//! as `FILE:LINE:COLUMN` (from Postgres' error position) with the line itself.

use std::path::Path;

use sqlx::postgres::{PgDatabaseError, PgErrorPosition};
use sqlx::{AssertSqlSafe, Executor};

use crate::Error;

/// Runs the SQL in `path` on `conn`.
pub async fn load(conn: &mut sqlx::PgConnection, path: &Path) -> Result<(), Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::ReadInput {
        path: path.into(),
        source,
    })?;
    match conn
        .execute(sqlx::raw_sql(AssertSqlSafe(text.clone())))
        .await
    {
        Ok(_) => Ok(()),
        Err(sqlx::Error::Database(db)) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            let (message, position) = match db.try_downcast_ref::<PgDatabaseError>() {
                Some(pg) => {
                    let mut message = pg.message().to_string();
                    if let Some(hint) = pg.hint() {
                        message.push_str(&format!("\n  hint: {hint}"));
                    }
                    let position = match pg.position() {
                        Some(PgErrorPosition::Original(p)) => Some(p),
                        _ => None,
                    };
                    (message, position)
                }
                None => (db.message().to_string(), None),
            };
            let (line, column) = position.map_or((1, 1), |p| line_col(&text, p));
            Err(Error::SqlFile {
                path: path.into(),
                line,
                column,
                code,
                message,
                snippet: snippet(&text, line, column, position.is_some()),
            })
        }
        Err(e) => Err(Error::Internal(format!("loading {}: {e}", path.display()))),
    }
}

/// 1-based line and column of a 1-based character position.
pub fn line_col(text: &str, position: usize) -> (usize, usize) {
    let mut line = 1;
    let mut column = 1;
    for ch in text.chars().take(position.saturating_sub(1)) {
        if ch == '\n' {
            line += 1;
            column = 1;
        } else {
            column += 1;
        }
    }
    (line, column)
}

fn snippet(text: &str, line: usize, column: usize, has_position: bool) -> String {
    let Some(src) = text.lines().nth(line - 1) else {
        return String::new();
    };
    let gutter = format!("{line:>4} | ");
    let mut out = format!("{gutter}{src}");
    if has_position {
        out.push_str(&format!("\n{}^", " ".repeat(gutter.len() + column - 1)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_map_to_lines_and_columns() {
        let text = "CREATE TABLE a (id int);\nSELEC 1;\n";
        assert_eq!(line_col(text, 1), (1, 1));
        // 'S' of SELEC is character 26 (1-based).
        assert_eq!(line_col(text, 26), (2, 1));
        assert_eq!(line_col(text, 28), (2, 3));
    }

    #[test]
    fn snippet_points_at_the_column() {
        let s = snippet("a\nSELEC 1;", 2, 1, true);
        assert_eq!(s, "   2 | SELEC 1;\n       ^");
    }
}

//! Splitting SQL text into statements.
//!
//! Non-transactional migrations (CREATE INDEX CONCURRENTLY) must reach the
//! server one statement at a time: a multi-statement batch runs as one
//! implicit transaction and fails with 25001. The splitter knows enough of
//! PostgreSQL's lexical rules to not split inside quotes, dollar quotes or
//! comments.

/// The statements of `sql`, trimmed, without empty or comment-only ones.
pub fn statements(sql: &str) -> Vec<String> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut has_code = false;
    let mut i = 0;
    while i < bytes.len() {
        let rest = &sql[i..];
        match bytes[i] {
            b'-' if rest.starts_with("--") => {
                i += rest.find('\n').unwrap_or(rest.len());
                continue;
            }
            b'/' if rest.starts_with("/*") => {
                i += block_comment_len(rest);
                continue;
            }
            b'\'' => {
                let escapes = i > 0 && matches!(bytes[i - 1], b'E' | b'e');
                i += quoted_len(rest, b'\'', escapes);
                has_code = true;
                continue;
            }
            b'"' => {
                i += quoted_len(rest, b'"', false);
                has_code = true;
                continue;
            }
            b'$' => {
                if let Some(len) = dollar_quoted_len(rest) {
                    i += len;
                    has_code = true;
                    continue;
                }
            }
            b';' => {
                if has_code {
                    out.push(sql[start..i].trim_matches(is_space).to_string());
                }
                start = i + 1;
                has_code = false;
            }
            c if !is_space(char::from(c)) => has_code = true,
            _ => {}
        }
        // One character on: `i` must stay on a character boundary, or the
        // next `&sql[i..]` panics inside a multi-byte letter (`prénom`).
        i += rest.chars().next().map_or(1, char::len_utf8);
    }
    if has_code {
        out.push(sql[start..].trim_matches(is_space).to_string());
    }
    out
}

/// Whitespace as PostgreSQL's scanner knows it (`scan.l`): space, tab,
/// newline, carriage return, form feed and vertical tab. Not Unicode's
/// wider set: to the server a no-break space is part of a word.
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b')
}

/// Length of a `/* ... */` comment (they nest in PostgreSQL).
fn block_comment_len(s: &str) -> usize {
    let mut depth = 0;
    let mut i = 0;
    while i < s.len() {
        if s[i..].starts_with("/*") {
            depth += 1;
            i += 2;
        } else if s[i..].starts_with("*/") {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += s[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    s.len()
}

/// Length of a quoted run starting at `s[0] == quote`; a doubled quote is an
/// escaped quote, and with `backslash` a `\` escapes the next byte.
fn quoted_len(s: &str, quote: u8, backslash: bool) -> usize {
    let b = s.as_bytes();
    let mut i = 1;
    while i < b.len() {
        if backslash && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// Length of a `$tag$ ... $tag$` run, or `None` if `s` does not open one
/// (e.g. a `$1` parameter).
fn dollar_quoted_len(s: &str) -> Option<usize> {
    let tag_end = s[1..].find('$')? + 1;
    let tag = &s[..=tag_end];
    let inner = &tag[1..tag.len() - 1];
    if !inner.chars().all(|c| c.is_alphanumeric() || c == '_')
        || inner.starts_with(|c: char| c.is_ascii_digit())
    {
        return None;
    }
    let close = s[tag.len()..].find(tag)?;
    Some(tag.len() + close + tag.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whitespace_is_what_the_server_calls_whitespace() {
        // Found by fuzzing: a vertical tab counted as code, then was
        // trimmed away, leaving an empty statement.
        assert_eq!(statements(";*-;\u{b};\0"), vec!["*-", "\0"]);
        assert_eq!(statements("SELECT 1;\u{b}\u{c}\t;"), vec!["SELECT 1"]);
        // A no-break space is not whitespace to PostgreSQL: it stays.
        assert_eq!(statements("\u{a0};"), vec!["\u{a0}"]);
    }

    #[test]
    fn splits_on_semicolons() {
        assert_eq!(
            statements("SELECT 1; SELECT 2;\n"),
            vec!["SELECT 1", "SELECT 2"]
        );
        assert_eq!(statements("SELECT 1"), vec!["SELECT 1"]);
    }

    #[test]
    fn keeps_semicolons_in_quotes_and_comments() {
        let sql = "INSERT INTO t VALUES ('a;b', E'c\\';d'); -- x; y\nSELECT \"we;ird\" FROM t /* ; /* nested ; */ */;";
        let got = statements(sql);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].ends_with("E'c\\';d')"));
        assert!(got[1].starts_with("-- x; y\nSELECT \"we;ird\""));
    }

    #[test]
    fn keeps_do_blocks_whole() {
        let sql = "DO $body$ BEGIN PERFORM 1; PERFORM 2; END $body$;\nCREATE INDEX CONCURRENTLY i ON t (a);";
        let got = statements(sql);
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].ends_with("END $body$"));
        let anon = statements("DO $$ BEGIN NULL; END $$; SELECT $1;");
        assert_eq!(anon.len(), 2, "{anon:?}");
    }

    #[test]
    fn splits_text_with_multibyte_characters() {
        // Regression: stepping one byte at a time sliced inside `é`.
        assert_eq!(
            statements("ALTER TABLE users ADD COLUMN prénom text; SELECT '€;ß'"),
            vec!["ALTER TABLE users ADD COLUMN prénom text", "SELECT '€;ß'"]
        );
        assert_eq!(
            statements("SELECT \"naïve\" -- ü\n; /* ø */ ;é"),
            vec!["SELECT \"naïve\" -- ü", "é"]
        );
    }

    #[test]
    fn drops_empty_and_comment_only_statements() {
        assert_eq!(
            statements(" ; -- nothing\n;\n/* none */"),
            Vec::<String>::new()
        );
    }
}

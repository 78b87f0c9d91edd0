//! Setting the stage: the fixture schema, the migrations applied at the
//! start, and generated demo rows.

use sqlx::{AssertSqlSafe, Executor, PgConnection, Row};

use crate::migrate::{RunOptions, Runner, quote_ident};
use crate::scenario::Scenario;

use super::Error;

/// An error of the SQL a scenario brings: the server refused it (the
/// scenario's fault, bad input), or the server could not be reached.
fn blame(e: &sqlx::Error, message: String) -> Error {
    if e.as_database_error().is_some() {
        Error::Scenario(message)
    } else {
        Error::Setup(message)
    }
}

/// Loads the fixture, applies the start migrations and generates rows.
/// `progress` hears each stage.
pub async fn prepare(
    scenario: &Scenario,
    conn: &mut PgConnection,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), Error> {
    progress("loading the fixture schema");
    conn.execute(sqlx::raw_sql(AssertSqlSafe(
        scenario.fixture.sql_text.clone(),
    )))
    .await
    .map_err(|e| {
        blame(
            &e,
            format!(
                "the fixture {} failed: {}",
                scenario.fixture.sql,
                crate::sqlstate::message(&e)
            ),
        )
    })?;

    let tracking = scenario.migrations.tracking();
    let runner = Runner::new(&tracking, &scenario.migrations.list);
    let at_start = scenario
        .migrations
        .list
        .iter()
        .filter(|m| m.applied_at_start)
        .count();
    if at_start > 0 {
        progress("applying the migrations already in production");
        runner
            .up(conn, Some(at_start), RunOptions::default())
            .await
            .map_err(|e| match e.code() {
                // The server refused a migration of the scenario's.
                Some(_) => Error::Scenario(e.to_string()),
                None => Error::Setup(e.to_string()),
            })?;
    } else {
        runner
            .ensure_table(conn)
            .await
            .map_err(|e| Error::Setup(e.to_string()))?;
    }

    for (table, rows) in &scenario.fixture.rows {
        progress(&format!("generating {rows} rows in {table}"));
        let insert = insert_rows(conn, scenario, table, *rows).await?;
        conn.execute(sqlx::raw_sql(AssertSqlSafe(insert.clone())))
            .await
            .map_err(|e| {
                blame(
                    &e,
                    format!(
                        "generating rows for {table} failed: {}\n  statement: {insert}",
                        crate::sqlstate::message(&e)
                    ),
                )
            })?;
    }
    for table in scenario.fixture.rows.keys() {
        let analyze = format!("ANALYZE {}", quote_ident(table));
        conn.execute(sqlx::raw_sql(AssertSqlSafe(analyze)))
            .await
            .map_err(|e| Error::Setup(crate::sqlstate::message(&e)))?;
    }
    Ok(())
}

/// The `INSERT ... SELECT ... FROM generate_series` that fills a table:
/// columns named in the scenario use its expressions; the others are
/// inferred from their name and type, or left to their default.
async fn insert_rows(
    conn: &mut PgConnection,
    scenario: &Scenario,
    table: &str,
    rows: u64,
) -> Result<String, Error> {
    let columns = sqlx::query(
        "SELECT column_name::text, data_type::text, is_nullable = 'YES', \
                (column_default IS NOT NULL OR is_identity = 'YES' OR is_generated <> 'NEVER') \
         FROM information_schema.columns \
         WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Error::Setup(crate::sqlstate::message(&e)))?;
    if columns.is_empty() {
        return Err(Error::Scenario(format!(
            "[fixture] rows names table `{table}`, which the fixture does not create"
        )));
    }
    let overrides = scenario.fixture.values.get(table);
    let mut names = Vec::new();
    let mut exprs = Vec::new();
    for row in &columns {
        let name: String = row.get(0);
        let data_type: String = row.get(1);
        let nullable: bool = row.get(2);
        let has_default: bool = row.get(3);
        let expr = match overrides.and_then(|o| o.get(&name)) {
            Some(e) => Some(e.clone()),
            None if has_default => None,
            None => infer(&name, &data_type, nullable),
        };
        match expr {
            Some(e) => {
                names.push(quote_ident(&name));
                exprs.push(e);
            }
            None if !nullable && !has_default => {
                return Err(Error::Scenario(format!(
                    "cannot generate {table}.{name} ({data_type}); add `{name} = \"SQL over i\"` under [fixture.values.{table}]"
                )));
            }
            None => {}
        }
    }
    Ok(format!(
        "INSERT INTO {} ({}) SELECT {} FROM generate_series(1, {rows}) AS g(i)",
        quote_ident(table),
        names.join(", "),
        exprs.join(", ")
    ))
}

/// A value for column `name` of row `i`, from its name or type.
fn infer(name: &str, data_type: &str, nullable: bool) -> Option<String> {
    let n = name.to_ascii_lowercase();
    let texty = matches!(data_type, "text" | "character varying" | "character");
    if texty && n.contains("email") {
        return Some("'user' || i || '@example.com'".into());
    }
    if texty && n.ends_with("name") {
        return Some("'User ' || i".into());
    }
    if texty && n.contains("phone") {
        return Some("'+1-555-' || lpad((i % 10000)::text, 4, '0')".into());
    }
    if nullable {
        return None;
    }
    Some(
        match data_type {
            "text" | "character varying" | "character" => "'value ' || i",
            "integer" | "bigint" | "smallint" | "numeric" => "i",
            "boolean" => "(i % 2 = 0)",
            "timestamp with time zone" | "timestamp without time zone" => {
                "now() - i * interval '1 minute'"
            }
            "date" => "current_date - (i % 365)",
            "uuid" => "md5(i::text)::uuid",
            _ => return None,
        }
        .into(),
    )
}

/// The DDL audit: an event trigger that records every DDL command, from any
/// client, with the session's `application_name` and whether it is one of
/// pgdrill's own (`instance::OWN_SESSION`), in a table only the superuser
/// can write. The engine reads it into the transcript, so a
/// `DROP` typed in psql is scored like a move. Installed as the superuser
/// after the fixture, so the fixture's own DDL is not in it.
const AUDIT: &str = r#"
CREATE SCHEMA IF NOT EXISTS pgdrill_audit;
CREATE TABLE IF NOT EXISTS pgdrill_audit.ddl (
    id    bigserial PRIMARY KEY,
    at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    app   text DEFAULT current_setting('application_name'),
    usr   text DEFAULT session_user,
    own   boolean DEFAULT coalesce(current_setting('pgdrill.own', true), '') = 'on',
    tag   text,
    query text
);
CREATE OR REPLACE FUNCTION pgdrill_audit.record() RETURNS event_trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
    INSERT INTO pgdrill_audit.ddl (tag, query) VALUES (tg_tag, current_query());
END
$$;
DROP EVENT TRIGGER IF EXISTS pgdrill_audit_ddl;
CREATE EVENT TRIGGER pgdrill_audit_ddl ON ddl_command_end
    EXECUTE FUNCTION pgdrill_audit.record();
"#;

/// Installs the DDL audit (needs a superuser connection).
/// Returns false, installing nothing, when the connection is not a
/// superuser's: event triggers need one (an external server's
/// administrator may only create databases and roles).
pub async fn install_audit(conn: &mut PgConnection) -> Result<bool, Error> {
    let superuser: bool = sqlx::query_scalar("SELECT current_setting('is_superuser') = 'on'")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| Error::Setup(format!("installing the DDL audit: {e}")))?;
    if !superuser {
        return Ok(false);
    }
    conn.execute(sqlx::raw_sql(AssertSqlSafe(AUDIT)))
        .await
        .map_err(|e| Error::Setup(format!("installing the DDL audit: {e}")))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_lab_columns() {
        assert_eq!(
            infer("email", "text", false).unwrap(),
            "'user' || i || '@example.com'"
        );
        assert_eq!(infer("full_name", "text", false).unwrap(), "'User ' || i");
        assert!(infer("phone", "text", true).unwrap().contains("555"));
        assert_eq!(infer("notes", "text", true), None);
        assert_eq!(infer("n", "integer", false).unwrap(), "i");
        assert_eq!(infer("shape", "polygon", false), None);
    }
}

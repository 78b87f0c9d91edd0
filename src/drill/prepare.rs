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

/// Bump when what `prepare` and the audit make changes, so seeded
/// databases cached by an older pgdrill are not reused.
const PREPARE_FORMAT: u32 = 1;

/// From this many generated rows, a drill's prepared database is cached
/// (`instance::seeded`): below it, preparing takes about as long as the
/// copy, and a cache entry per small variant would only fill the disk.
pub const SEED_CACHE_MIN_ROWS: u64 = 100_000;

/// A hash of everything that shapes the database [`prepare`] and
/// [`install_audit`] make for this scenario: the fixture SQL, the rows and
/// values asked for, the tracking table, the migrations applied at the
/// start, and pgdrill's own preparation. Not the workload's seed: rows are
/// generated from their number alone. Equal keys, equal databases.
pub fn seed_key(scenario: &Scenario) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let mut put = |text: &str| {
        h.update((text.len() as u64).to_be_bytes());
        h.update(text.as_bytes());
    };
    put("pgdrill seed");
    put(&PREPARE_FORMAT.to_string());
    put(env!("CARGO_PKG_VERSION"));
    put(AUDIT);
    put(&scenario.fixture.sql_text.replace("\r\n", "\n"));
    for (table, rows) in &scenario.fixture.rows {
        put(table);
        put(&rows.to_string());
    }
    put("values");
    for (table, columns) in &scenario.fixture.values {
        for (column, expr) in columns {
            put(table);
            put(column);
            put(expr);
        }
    }
    let tracking = scenario.migrations.tracking();
    put(&format!("{tracking:?}"));
    for m in scenario
        .migrations
        .list
        .iter()
        .filter(|m| m.applied_at_start)
    {
        put(&m.id);
        put(&m.up);
        put(&m.transactional.to_string());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Dates the tracking rows of the migrations applied at the start as the
/// scenario says they were installed (`installed_ago` before now, the
/// drill's start), so the runbook's `ORDER BY installed_on` reads a
/// history. Run on each drill's database: a prepared one may be a copy.
/// Connects only when a migration has an install time.
pub async fn backdate(
    scenario: &Scenario,
    instance: &crate::instance::Instance,
) -> Result<(), Error> {
    let dated: Vec<_> = scenario
        .migrations
        .list
        .iter()
        .filter(|m| m.applied_at_start)
        .filter_map(|m| Some((&m.id, m.installed_ago?)))
        .collect();
    if dated.is_empty() {
        return Ok(());
    }
    let mut conn = instance
        .connect_app()
        .await
        .map_err(|e| Error::Setup(format!("dating the migrations: {e}")))?;
    let tracking = scenario.migrations.tracking();
    let sql = format!(
        "UPDATE {} SET {} = now() - make_interval(secs => $2) WHERE {}::text = $1",
        crate::migrate::quote_ident(&tracking.table),
        crate::migrate::quote_ident(&tracking.applied_column),
        crate::migrate::quote_ident(&tracking.id_column),
    );
    for (id, ago) in dated {
        sqlx::query(AssertSqlSafe(sql.clone()))
            .bind(id)
            .bind(ago.0.as_secs_f64())
            .execute(&mut conn)
            .await
            .map_err(|e| Error::Setup(format!("dating migration {id}: {e}")))?;
    }
    Ok(())
}

/// The rows `prepare` generates in all.
pub fn generated_rows(scenario: &Scenario) -> u64 {
    scenario
        .fixture
        .rows
        .values()
        .fold(0, |a, n| a.saturating_add(*n))
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

    generate_rows(scenario, conn, progress).await?;
    for table in scenario.fixture.rows.keys() {
        let analyze = format!("ANALYZE {}", quote_ident(table));
        conn.execute(sqlx::raw_sql(AssertSqlSafe(analyze)))
            .await
            .map_err(|e| Error::Setup(crate::sqlstate::message(&e)))?;
    }
    Ok(())
}

/// Generates the scenario's rows, parents before the tables that reference
/// them (so a foreign key finds the rows it points at), one `INSERT ...
/// SELECT ... FROM generate_series` per table.
pub async fn generate_rows(
    scenario: &Scenario,
    conn: &mut PgConnection,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(), Error> {
    let edges = foreign_keys(conn).await?;
    let tables: Vec<String> = scenario.fixture.rows.keys().cloned().collect();
    for table in generation_order(&tables, &edges) {
        let rows = scenario.fixture.rows[&table];
        progress(&format!("generating {rows} rows in {table}"));
        let insert = insert_rows(conn, scenario, &table, rows, &edges).await?;
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
    Ok(())
}

/// A single-column foreign key: `table.column` references
/// `parent.parent_column`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ForeignKey {
    table: String,
    column: String,
    parent: String,
    parent_column: String,
}

/// The single-column foreign keys between tables of the drill's schema.
async fn foreign_keys(conn: &mut PgConnection) -> Result<Vec<ForeignKey>, Error> {
    let rows = sqlx::query(
        "SELECT ch.relname::text, ca.attname::text, pa.relname::text, pk.attname::text \
         FROM pg_constraint c \
         JOIN pg_class ch ON ch.oid = c.conrelid \
         JOIN pg_class pa ON pa.oid = c.confrelid \
         JOIN pg_attribute ca ON ca.attrelid = c.conrelid AND ca.attnum = c.conkey[1] \
         JOIN pg_attribute pk ON pk.attrelid = c.confrelid AND pk.attnum = c.confkey[1] \
         WHERE c.contype = 'f' AND cardinality(c.conkey) = 1 \
           AND ch.relnamespace = current_schema()::text::regnamespace \
         ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| Error::Setup(crate::sqlstate::message(&e)))?;
    Ok(rows
        .iter()
        .map(|r| ForeignKey {
            table: r.get(0),
            column: r.get(1),
            parent: r.get(2),
            parent_column: r.get(3),
        })
        .collect())
}

/// The tables in an order where each comes after the tables it references
/// (ties and cycles alphabetically: a cycle's foreign key error then says
/// which rows are missing).
fn generation_order(tables: &[String], edges: &[ForeignKey]) -> Vec<String> {
    let mut left: Vec<&String> = tables.iter().collect();
    left.sort();
    let mut done: Vec<String> = Vec::new();
    while !left.is_empty() {
        let ready = left.iter().position(|t| {
            edges.iter().all(|e| {
                e.table != **t || e.parent == **t || !left.iter().any(|other| **other == e.parent)
            })
        });
        done.push(left.remove(ready.unwrap_or(0)).clone());
    }
    done
}

/// The expression for a foreign key column that names no value: a key of
/// the parent's rows, spread evenly over them (integer keys; the parent's
/// rows are generated first).
async fn foreign_value(
    conn: &mut PgConnection,
    table: &str,
    fk: &ForeignKey,
    nullable: bool,
) -> Result<Option<String>, Error> {
    let range = format!(
        "SELECT min({c})::bigint, max({c})::bigint FROM {p}",
        c = quote_ident(&fk.parent_column),
        p = quote_ident(&fk.parent)
    );
    let row = sqlx::query(AssertSqlSafe(range))
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| {
            blame(
                &e,
                format!(
                    "cannot generate {table}.{}: it references {}.{}, which is not an integer key ({}); add `{} = \"SQL over i\"` under [fixture.values.{table}]",
                    fk.column,
                    fk.parent,
                    fk.parent_column,
                    crate::sqlstate::message(&e),
                    fk.column
                ),
            )
        })?;
    let (min, max): (Option<i64>, Option<i64>) = (row.get(0), row.get(1));
    match (min, max) {
        (Some(min), Some(max)) => Ok(Some(format!("{min} + (i - 1) % {}", max - min + 1))),
        _ if nullable => Ok(None),
        _ => Err(Error::Scenario(format!(
            "cannot generate {table}.{}: it references {}, which has no rows; generate rows in {} too (`rows = {{ {} = 1000 }}`), or add `{} = \"SQL over i\"` under [fixture.values.{table}]",
            fk.column, fk.parent, fk.parent, fk.parent, fk.column
        ))),
    }
}

/// The `INSERT ... SELECT ... FROM generate_series` that fills a table
/// (`edges`: the schema's foreign keys, read once per generation):
/// columns named in the scenario use its expressions; the others are
/// inferred from their name and type, or left to their default.
async fn insert_rows(
    conn: &mut PgConnection,
    scenario: &Scenario,
    table: &str,
    rows: u64,
    edges: &[ForeignKey],
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
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY 1",
        )
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_default();
        return Err(Error::Scenario(format!(
            "rows were asked for table `{table}` ([fixture] rows, or `--rows`), which the fixture does not create; its tables: {}",
            if tables.is_empty() {
                "none".to_string()
            } else {
                tables.join(", ")
            }
        )));
    }
    let overrides = scenario.fixture.values.get(table);
    let fks: Vec<&ForeignKey> = edges.iter().filter(|f| f.table == table).collect();
    let mut names = Vec::new();
    let mut exprs = Vec::new();
    for row in &columns {
        let name: String = row.get(0);
        let data_type: String = row.get(1);
        let nullable: bool = row.get(2);
        let has_default: bool = row.get(3);
        let fk = fks.iter().find(|f| f.column == name);
        let expr = match (overrides.and_then(|o| o.get(&name)), fk) {
            (Some(e), _) => Some(e.clone()),
            (None, Some(fk)) => foreign_value(conn, table, fk, nullable).await?,
            (None, None) if has_default => None,
            (None, None) => infer(&name, &data_type, nullable),
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
    query text,
    pid   integer DEFAULT pg_backend_pid()
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

    fn fk(table: &str, parent: &str) -> ForeignKey {
        ForeignKey {
            table: table.into(),
            column: format!("{parent}_id"),
            parent: parent.into(),
            parent_column: "id".into(),
        }
    }

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parents_are_generated_before_the_tables_that_reference_them() {
        // Alphabetically hero_snapshots would come first and find no users.
        let tables = names(&["hero_snapshots", "users"]);
        let edges = [fk("hero_snapshots", "users")];
        assert_eq!(
            generation_order(&tables, &edges),
            names(&["users", "hero_snapshots"])
        );
        // A chain, a self-reference, and a parent with no rows to generate.
        let tables = names(&["a", "b", "c", "d"]);
        let edges = [
            fk("a", "b"),
            fk("b", "c"),
            fk("c", "c"),
            fk("d", "elsewhere"),
        ];
        assert_eq!(
            generation_order(&tables, &edges),
            names(&["c", "b", "a", "d"])
        );
        // A cycle: alphabetical, so the foreign key error names the rows.
        let edges = [fk("a", "b"), fk("b", "a")];
        assert_eq!(
            generation_order(&names(&["b", "a"]), &edges),
            names(&["a", "b"])
        );
    }
}

//! The migration runner on real PostgreSQL.

mod common;

use std::time::Duration;

use common::{TestEnv, runtime};
use pgdrill::instance::{Backend, Instance, no_progress};
use pgdrill::migrate::{Direction, Error, RunOptions, Runner};
use pgdrill::scenario::{Migration, MigrationKind, Tracking, TrackingColumn};
use pgdrill::sqlstate;
use sqlx::{Executor, PgConnection};

fn migration(id: &str, kind: MigrationKind, up: &str, down: Option<&str>) -> Migration {
    Migration {
        id: id.into(),
        kind,
        up: up.into(),
        down: down.map(Into::into),
        transactional: true,
        applied_at_start: false,
        installed_ago: None,
    }
}

/// A node-pg-migrate style tracking table, as seed 003 queries it.
fn node_pg_migrate() -> Tracking {
    Tracking {
        table: "node_pgmigrations_schema_version".into(),
        id_column: "version".into(),
        applied_column: "installed_on".into(),
        columns: Vec::new(),
    }
}

/// Flyway's `flyway_schema_history`, as a scenario would declare it.
fn flyway() -> Tracking {
    let column = |name: &str, sql_type: &str, value: Option<&str>| TrackingColumn {
        name: name.into(),
        sql_type: sql_type.into(),
        value: value.map(Into::into),
    };
    Tracking {
        table: "flyway_schema_history".into(),
        id_column: "version".into(),
        applied_column: "installed_on".into(),
        columns: vec![
            column(
                "installed_rank",
                "integer PRIMARY KEY",
                Some("(SELECT coalesce(max(installed_rank), 0) + 1 FROM flyway_schema_history)"),
            ),
            column("script", "text NOT NULL", Some("'V' || $1 || '.sql'")),
            column("installed_by", "text NOT NULL", Some("current_user")),
            column("success", "boolean NOT NULL", Some("true")),
            column("checksum", "integer", None),
        ],
    }
}

/// Runs `body` against a fresh instance, then shuts the instance down.
fn with_instance(body: impl AsyncFnOnce(&Instance)) {
    let env = TestEnv::new();
    runtime().block_on(async {
        let instance = env.backend().provision(&no_progress).await.unwrap();
        body(&instance).await;
        instance.shutdown().await;
    });
}

async fn code_of(conn: &mut PgConnection, sql: &'static str) -> Option<String> {
    match conn.execute(sql).await {
        Ok(_) => None,
        Err(sqlx::Error::Database(db)) => db.code().map(|c| c.into_owned()),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn a_tracking_table_with_a_real_tools_columns_records_runs_as_it_would() {
    with_instance(async |instance| {
        let tracking = flyway();
        let migrations = vec![
            migration(
                "1",
                MigrationKind::Expand,
                "CREATE TABLE a (id int);",
                Some("DROP TABLE a;"),
            ),
            migration(
                "2",
                MigrationKind::Expand,
                "CREATE TABLE b (id int);",
                Some("DROP TABLE b;"),
            ),
        ];
        let runner = Runner::new(&tracking, &migrations);
        let mut conn = instance.connect_app().await.unwrap();
        let applied = runner
            .up(&mut conn, None, RunOptions::default())
            .await
            .unwrap();
        assert_eq!(applied, ["1", "2"]);
        let rows: Vec<(i32, String, String, bool, Option<i32>)> = sqlx::query_as(
            "SELECT installed_rank, version, script, success, checksum FROM flyway_schema_history ORDER BY installed_rank",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            rows,
            [
                (1, "1".into(), "V1.sql".into(), true, None),
                (2, "2".into(), "V2.sql".into(), true, None)
            ]
        );
        // The id stays unique although another column is the key: a second
        // run of the same migration is one row.
        let dupe = sqlx::query("INSERT INTO flyway_schema_history (installed_rank, version, script, installed_by, success) VALUES (9, '1', 'x', 'y', true)")
            .execute(&mut conn)
            .await;
        assert!(dupe.is_err(), "a second row for version 1 was accepted");
        let reverted = runner
            .down(&mut conn, 1, RunOptions::default())
            .await
            .unwrap();
        assert_eq!(reverted, ["2"]);
        assert_eq!(runner.applied(&mut conn).await.unwrap(), ["1"]);
    });
}

#[test]
fn up_status_down_with_a_custom_tracking_table() {
    with_instance(async |instance| {
        let tracking = node_pg_migrate();
        let migrations = vec![
            migration(
                "001_init",
                MigrationKind::Expand,
                "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL, email text);",
                Some("DROP TABLE users;"),
            ),
            migration(
                "002_rename_name",
                MigrationKind::Contract,
                "ALTER TABLE users RENAME COLUMN name TO full_name;",
                Some("ALTER TABLE users RENAME COLUMN full_name TO name;"),
            ),
        ];
        let runner = Runner::new(&tracking, &migrations);
        let mut conn = instance.connect_app().await.unwrap();

        let applied = runner
            .up(&mut conn, None, RunOptions::default())
            .await
            .unwrap();
        assert_eq!(applied, ["001_init", "002_rename_name"]);
        let status = runner.status(&mut conn).await.unwrap();
        assert!(status.iter().all(|s| s.applied && s.has_down));
        // Recorded where the runbook's verification query looks.
        let versions: Vec<String> = sqlx::query_scalar(
            "SELECT version FROM node_pgmigrations_schema_version ORDER BY installed_on, version",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(versions, ["001_init", "002_rename_name"]);

        // The old version's query really fails with undefined_column.
        let old_query = "SELECT id, name FROM users";
        assert_eq!(
            code_of(&mut conn, old_query).await.as_deref(),
            Some(sqlstate::UNDEFINED_COLUMN)
        );

        let reverted = runner
            .down(&mut conn, 1, RunOptions::default())
            .await
            .unwrap();
        assert_eq!(reverted, ["002_rename_name"]);
        assert_eq!(code_of(&mut conn, old_query).await, None);
        let status = runner.status(&mut conn).await.unwrap();
        assert_eq!(
            status.iter().map(|s| s.applied).collect::<Vec<_>>(),
            [true, false]
        );
    });
}

#[test]
fn a_failed_transactional_migration_changes_nothing() {
    with_instance(async |instance| {
        let tracking = Tracking::default();
        let migrations = vec![
            migration(
                "001",
                MigrationKind::Expand,
                "CREATE TABLE t (a int);",
                None,
            ),
            migration(
                "002",
                MigrationKind::Expand,
                "ALTER TABLE t ADD COLUMN b int; ALTER TABLE t ADD COLUMN a int;",
                None,
            ),
        ];
        let runner = Runner::new(&tracking, &migrations);
        let mut conn = instance.connect_app().await.unwrap();
        let err = runner
            .up(&mut conn, None, RunOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some("42701"), "{err}"); // duplicate_column
        assert!(
            err.to_string().contains("migration 002 (up) failed"),
            "{err}"
        );
        assert_eq!(runner.applied(&mut conn).await.unwrap(), ["001"]);
        // Column b from the first half was rolled back too.
        let cols: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns WHERE table_name = 't'",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(cols, ["a"]);
        let no_down = runner
            .down(&mut conn, 1, RunOptions::default())
            .await
            .unwrap_err();
        assert!(matches!(no_down, Error::NoDown { .. }), "{no_down}");
    });
}

#[test]
fn a_failed_concurrent_index_leaves_an_invalid_index_and_is_not_recorded() {
    with_instance(async |instance| {
        let tracking = Tracking::default();
        let mut cic = migration(
            "002_unique_email",
            MigrationKind::Expand,
            "-- must run outside a transaction\nCREATE UNIQUE INDEX CONCURRENTLY users_email_key ON users (email);",
            Some("DROP INDEX CONCURRENTLY IF EXISTS users_email_key;"),
        );
        let migrations = [
            migration(
                "001_init",
                MigrationKind::Expand,
                "CREATE TABLE users (id int, email text); INSERT INTO users VALUES (1, 'a@x'), (2, 'a@x');",
                None,
            ),
            cic.clone(),
        ];
        let mut conn = instance.connect_app().await.unwrap();

        // Declared transactional by mistake: PostgreSQL refuses it (25001).
        let wrong = [migrations[0].clone(), cic.clone()];
        let err = Runner::new(&tracking, &wrong)
            .up(&mut conn, None, RunOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(sqlstate::ACTIVE_SQL_TRANSACTION), "{err}");

        cic.transactional = false;
        let migrations = [migrations[0].clone(), cic];
        let runner = Runner::new(&tracking, &migrations);
        let err = runner
            .up(&mut conn, None, RunOptions::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(sqlstate::UNIQUE_VIOLATION), "{err}");
        assert_eq!(runner.applied(&mut conn).await.unwrap(), ["001_init"]);
        let valid: bool = sqlx::query_scalar(
            "SELECT indisvalid FROM pg_index WHERE indexrelid = 'users_email_key'::regclass",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(
            !valid,
            "a failed CREATE INDEX CONCURRENTLY leaves an INVALID index"
        );
    });
}

#[test]
fn lock_timeout_stops_ddl_from_queueing_behind_a_long_transaction() {
    with_instance(async |instance| {
        let tracking = Tracking::default();
        let migrations = vec![
            migration(
                "001",
                MigrationKind::Expand,
                "CREATE TABLE users (id int);",
                None,
            ),
            migration(
                "002",
                MigrationKind::Expand,
                "ALTER TABLE users ADD COLUMN phone text;",
                None,
            ),
        ];
        let runner = Runner::new(&tracking, &migrations);
        let mut conn = instance.connect_app().await.unwrap();
        runner
            .up(&mut conn, Some(1), RunOptions::default())
            .await
            .unwrap();

        // A report job holds ACCESS SHARE in an open transaction.
        let mut report = instance.connect_app().await.unwrap();
        report
            .execute("BEGIN; SELECT count(*) FROM users;")
            .await
            .unwrap();

        let opts = RunOptions {
            lock_timeout: Some(Duration::from_millis(100)),
            ..RunOptions::default()
        };
        let err = runner.up(&mut conn, None, opts).await.unwrap_err();
        assert_eq!(err.code(), Some(sqlstate::LOCK_NOT_AVAILABLE), "{err}");
        assert!(matches!(
            err,
            Error::Statement {
                direction: Direction::Up,
                ..
            }
        ));

        report.execute("COMMIT").await.unwrap();
        assert_eq!(runner.up(&mut conn, None, opts).await.unwrap(), ["002"]);
    });
}

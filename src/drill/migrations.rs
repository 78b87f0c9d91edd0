//! The migration moves and jobs: `migrate status|up|down|apply` for the
//! learner, and the migration jobs of releases, timelines and pods that
//! migrate at startup. A failed run is named and tagged by what it set out
//! to apply, so rules that count attempts see it for what it was.

use std::sync::Arc;

use super::apply::{Done, Effect, rows, sql_tags};
use crate::action::{Apply, Down, Migrate, MigrateRecord as Record, MigrateVerb as Verb, Up};
use crate::migrate::classify::classify;
use crate::migrate::{RunOptions, Runner};
use crate::scenario::{Migration, MigrationKind, Scenario};
use crate::transcript::Tag;

/// Applies the given migrations (a release's migration job).
pub(super) async fn migrate_ids(
    scenario: Arc<Scenario>,
    url: String,
    ids: Vec<String>,
    application_name: String,
    statement_timeout: Option<std::time::Duration>,
) -> Result<Vec<String>, String> {
    let mut conn = crate::instance::connect_as(&url, &application_name, statement_timeout)
        .await
        .map_err(|e| e.to_string())?;
    let tracking = scenario.migrations.tracking();
    let list: Vec<_> = scenario
        .migrations
        .list
        .iter()
        .filter(|m| m.applied_at_start || ids.contains(&m.id))
        .cloned()
        .collect();
    let runner = Runner::new(&tracking, &list);
    runner
        .up(&mut conn, None, RunOptions::default())
        .await
        .map_err(|e| e.to_string())?;
    Runner::new(&tracking, &scenario.migrations.list)
        .applied(&mut conn)
        .await
        .map_err(|e| e.to_string())
}

pub(super) async fn migrate(
    scenario: Arc<Scenario>,
    conn: &mut sqlx::PgConnection,
    order: Migrate,
) -> Done {
    let tracking = scenario.migrations.tracking();
    let runner = Runner::new(&tracking, &scenario.migrations.list);
    match order {
        Migrate::Status => status(&runner, &tracking.table, conn).await,
        Migrate::Apply(apply) => forward_fix(conn, &runner, &apply).await,
        Migrate::Up(up) => run(&scenario, conn, &runner, Run::Up(up)).await,
        Migrate::Down(down) => run(&scenario, conn, &runner, Run::Down(down)).await,
    }
}

/// `migrate up` or `migrate down`.
enum Run {
    Up(Up),
    Down(Down),
}

impl Run {
    fn verb(&self) -> Verb {
        match self {
            Run::Up(_) => Verb::Up,
            Run::Down(_) => Verb::Down,
        }
    }

    fn lock_timeout(&self) -> Option<std::time::Duration> {
        match self {
            Run::Up(up) => up.lock_timeout,
            Run::Down(down) => down.lock_timeout,
        }
    }
}

async fn run(
    scenario: &Scenario,
    conn: &mut sqlx::PgConnection,
    runner: &Runner<'_>,
    order: Run,
) -> Done {
    let (verb, lock_timeout) = (order.verb(), order.lock_timeout());
    let record = |ids: Vec<String>| {
        Record {
            verb,
            lock_timeout,
            ids,
        }
        .to_string()
    };
    let applied = match runner.applied(conn).await {
        Ok(a) => a,
        Err(e) => return Done::refuse(record(Vec::new()), e.to_string()),
    };
    let options = RunOptions {
        lock_timeout,
        ..RunOptions::default()
    };
    // What the run sets out to touch, known before it runs: a run that
    // fails or is cancelled is named and tagged like one that succeeds,
    // because forbidden moves and guardrails count attempts.
    let (planned, result) = match order {
        Run::Up(up) => {
            let planned = pending(scenario, &applied, up.count);
            (planned, up_with_retries(conn, runner, up, options).await)
        }
        Run::Down(down) => {
            let count = match down.target {
                None => down.count,
                Some(id) => match applied.iter().rposition(|a| *a == id) {
                    Some(i) => applied.len() - i,
                    None => {
                        let text = format!("{id} is not applied (see `migrate status`)");
                        return Done::refuse(record(vec![id]), text);
                    }
                },
            };
            let planned = applied.iter().rev().take(count).cloned().collect();
            (planned, runner.down(conn, count, options).await)
        }
    };
    let effect = runner
        .applied(conn)
        .await
        .map_or(Effect::None, Effect::Applied);
    let touched: Vec<&Migration> = match &result {
        Ok(ids) => ids,
        Err(_) => &planned,
    }
    .iter()
    .filter_map(|id| scenario.migrations.get(id))
    .collect();
    let tags = run_tags(verb, &touched);
    let (past, nothing) = match verb {
        Verb::Down => ("reverted", "nothing to revert"),
        _ => ("applied", "nothing to apply"),
    };
    let done = match result {
        Ok(ids) if ids.is_empty() => Done::refuse(record(ids), nothing),
        Ok(ids) => {
            let text = format!("{past} {}", ids.join(", "));
            Done::ok(record(ids), text)
        }
        Err(e) => {
            // The migration it failed on, or what it set out to do.
            let ids = match &e {
                crate::migrate::Error::Statement { id, .. }
                | crate::migrate::Error::NoDown { id } => vec![id.clone()],
                _ => planned,
            };
            match e {
                // Nothing ran: there is no down SQL to run.
                crate::migrate::Error::NoDown { .. } => Done::refuse(record(ids), e.to_string()),
                e => Done::fail(record(ids), e.to_string()),
            }
        }
    };
    Done {
        effect,
        tags,
        ..done
    }
}

/// The pending migrations a `migrate up` sets out to apply, oldest first.
fn pending(scenario: &Scenario, applied: &[String], count: Option<usize>) -> Vec<String> {
    scenario
        .migrations
        .list
        .iter()
        .filter(|m| !applied.contains(&m.id))
        .take(count.unwrap_or(usize::MAX))
        .map(|m| m.id.clone())
        .collect()
}

/// `migrate up`, tried again after a lock timeout as often as `--retries`
/// says, with a pause that grows each time.
async fn up_with_retries(
    conn: &mut sqlx::PgConnection,
    runner: &Runner<'_>,
    up: Up,
    options: RunOptions,
) -> Result<Vec<String>, crate::migrate::Error> {
    let mut attempt = 0;
    loop {
        match runner.up(conn, up.count, options).await {
            Err(e) if e.code() == Some("55P03") && attempt < up.retries => {
                attempt += 1;
                let pause = std::time::Duration::from_millis(250 * u64::from(attempt));
                tokio::time::sleep(pause).await;
            }
            result => return result,
        }
    }
}

/// A down is a corrective action; an up is the planned release going on,
/// unless it destroys data. An up of a contract migration is a contract
/// step.
fn run_tags(verb: Verb, touched: &[&Migration]) -> Vec<Tag> {
    let destructive = touched.iter().any(|m| {
        let sql = match verb {
            Verb::Down => m.down.as_deref().unwrap_or_default(),
            _ => m.up.as_str(),
        };
        classify(sql).destructive
    });
    let mut tags = Vec::new();
    if verb == Verb::Down || destructive {
        tags.push(Tag::Corrective);
    }
    if destructive {
        tags.push(Tag::Destructive);
    }
    if verb == Verb::Up && touched.iter().any(|m| m.kind == MigrationKind::Contract) {
        tags.push(Tag::Contract);
    }
    tags
}

/// `migrate status`: the scenario's migrations and their state.
async fn status(runner: &Runner<'_>, table: &str, conn: &mut sqlx::PgConnection) -> Done {
    match runner.status(conn).await {
        Ok(status) => {
            let rows_out = status
                .iter()
                .map(|s| {
                    vec![
                        s.id.clone(),
                        s.kind.to_string(),
                        if s.applied { "applied" } else { "pending" }.into(),
                        if s.has_down { "yes" } else { "no" }.into(),
                    ]
                })
                .collect();
            Done::ok(
                Migrate::Status.to_string(),
                format!("tracking table {table}"),
            )
            .view(rows(&["migration", "kind", "state", "down"], rows_out))
        }
        Err(e) => Done::fail(Migrate::Status.to_string(), e.to_string()),
    }
}

/// `migrate apply FILE`: a corrective forward migration. Its file name is
/// its version; it must sort after every applied migration, and it must
/// survive being run twice.
async fn forward_fix(conn: &mut sqlx::PgConnection, runner: &Runner<'_>, apply: &Apply) -> Done {
    let (file, lock_timeout) = (apply.file.as_str(), apply.lock_timeout);
    let path = std::path::Path::new(file);
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Recorded by its version, which is what rubric patterns name.
    let canonical = Record {
        verb: Verb::Apply,
        lock_timeout,
        ids: vec![id.clone()],
    }
    .to_string();
    let up = match tokio::fs::read_to_string(path).await {
        Ok(t) if !t.trim().is_empty() => t,
        Ok(_) => return Done::refuse(canonical, format!("{file} is empty")),
        Err(e) => return Done::refuse(canonical, format!("cannot read {file}: {e}")),
    };
    let applied = match runner.applied(conn).await {
        Ok(a) => a,
        Err(e) => return Done::refuse(canonical, e.to_string()),
    };
    if applied.contains(&id) {
        return Done::refuse(canonical, format!("{id} is already applied"));
    }
    if let Some(newest) = applied.iter().max()
        && id.as_str() <= newest.as_str()
    {
        return Done {
            tags: vec![Tag::LowerVersion],
            ..Done::refuse(
                canonical,
                format!(
                    "{id} does not sort after {newest}: a forward fix gets a higher version, e.g. {}_fix_...sql (runbook 004, option B)",
                    next_version(newest)
                ),
            )
        };
    }
    let class = classify(&up);
    let migration = Migration {
        id: id.clone(),
        kind: if class.contract {
            MigrationKind::Contract
        } else {
            MigrationKind::Expand
        },
        transactional: crate::migrate::classify::transactional(&up),
        up: up.clone(),
        down: None,
        applied_at_start: false,
        installed_ago: None,
    };
    let mut tags = sql_tags(&up);
    if !tags.contains(&Tag::Corrective) {
        tags.push(Tag::Corrective);
    }
    let result = runner
        .forward_fix(
            conn,
            &migration,
            RunOptions {
                lock_timeout,
                ..RunOptions::default()
            },
        )
        .await;
    let effect = runner
        .applied(conn)
        .await
        .map_or(Effect::None, Effect::Applied);
    let done = match result {
        Ok(()) => Done::ok(
            canonical,
            format!(
                "applied {id} ({}, {}); it ran twice without error, so it is idempotent",
                migration.kind,
                if migration.transactional {
                    "in one transaction"
                } else {
                    "statement by statement"
                }
            ),
        ),
        Err(e) => {
            if matches!(e, crate::migrate::Error::NotIdempotent { .. }) {
                tags.push(Tag::NotIdempotent);
            }
            Done::fail(canonical, e.to_string())
        }
    };
    Done {
        effect,
        tags,
        ..done
    }
}

/// The version prefix after `id` (`002_x` gives `003`).
fn next_version(id: &str) -> String {
    let digits: String = id.chars().take_while(char::is_ascii_digit).collect();
    match digits.parse::<u64>() {
        Ok(n) => format!("{:0width$}", n + 1, width = digits.len()),
        Err(_) => format!("{id}_1"),
    }
}

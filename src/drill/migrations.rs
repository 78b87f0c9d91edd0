//! The migration moves and jobs: `migrate status|up|down|apply` for the
//! learner, and the migration jobs of releases, timelines and pods that
//! migrate at startup. A failed run is named and tagged by what it set out
//! to apply, so rules that count attempts see it for what it was.

use std::sync::Arc;

use super::apply::{Done, Effect, rows, sql_tags};
use crate::action::Action;
use crate::migrate::classify::classify;
use crate::migrate::{Direction, RunOptions, Runner};
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
    action: Action,
) -> Done {
    let tracking = scenario.migrations.tracking();
    let runner = Runner::new(&tracking, &scenario.migrations.list);
    let (direction, lock_timeout) = match &action {
        Action::MigrateStatus => return status(&runner, &tracking.table, conn).await,
        Action::MigrateApply { file, lock_timeout } => {
            return forward_fix(conn, &runner, file, *lock_timeout).await;
        }
        Action::MigrateUp { lock_timeout, .. } => (Direction::Up, *lock_timeout),
        Action::MigrateDown { lock_timeout, .. } => (Direction::Down, *lock_timeout),
        _ => unreachable!("only migrate actions are sent here"),
    };
    let applied = match runner.applied(conn).await {
        Ok(a) => a,
        Err(e) => return Done::refuse(format!("migrate {direction}"), e.to_string()),
    };
    let options = RunOptions {
        lock_timeout,
        ..RunOptions::default()
    };
    // What the run sets out to touch, known before it runs: a run that
    // fails or is cancelled is named and tagged like one that succeeds,
    // because forbidden moves and guardrails count attempts.
    let (planned, result) = match action {
        Action::MigrateUp { count, retries, .. } => {
            let planned: Vec<String> = scenario
                .migrations
                .list
                .iter()
                .filter(|m| !applied.contains(&m.id))
                .take(count.unwrap_or(usize::MAX))
                .map(|m| m.id.clone())
                .collect();
            let mut attempt = 0;
            let result = loop {
                match runner.up(conn, count, options).await {
                    Err(e) if e.code() == Some("55P03") && attempt < retries => {
                        attempt += 1;
                        tokio::time::sleep(std::time::Duration::from_millis(
                            250 * u64::from(attempt),
                        ))
                        .await;
                    }
                    result => break result,
                }
            };
            (planned, result)
        }
        Action::MigrateDown { count, target, .. } => {
            let count = match target {
                None => count,
                Some(id) => match applied.iter().rposition(|a| *a == id) {
                    Some(i) => applied.len() - i,
                    None => {
                        return Done::refuse(
                            format!("migrate down {id}"),
                            format!("{id} is not applied (see `migrate status`)"),
                        );
                    }
                },
            };
            let planned = applied.iter().rev().take(count).cloned().collect();
            (planned, runner.down(conn, count, options).await)
        }
        _ => unreachable!("only migrate actions are sent here"),
    };
    let applied_now = runner.applied(conn).await.ok();
    let effect = applied_now.map_or(Effect::None, Effect::Applied);
    // Right after the direction, so a rubric pattern `migrate up 002_x`
    // matches only runs without a lock timeout.
    let flag = lock_timeout
        .map(|t| format!(" --lock-timeout {}", crate::scenario::Dur(t)))
        .unwrap_or_default();
    let touched: Vec<&Migration> = match &result {
        Ok(ids) => ids,
        Err(_) => &planned,
    }
    .iter()
    .filter_map(|id| scenario.migrations.get(id))
    .collect();
    // A down is a corrective action; an up is the planned release going
    // on, unless it destroys data.
    let text_of = |m: &&Migration| match direction {
        Direction::Up => m.up.clone(),
        Direction::Down => m.down.clone().unwrap_or_default(),
    };
    let destructive = touched
        .iter()
        .map(text_of)
        .any(|sql| classify(&sql).destructive);
    let mut tags = Vec::new();
    if direction == Direction::Down || destructive {
        tags.push(Tag::Corrective);
    }
    if destructive {
        tags.push(Tag::Destructive);
    }
    if direction == Direction::Up && touched.iter().any(|m| m.kind == MigrationKind::Contract) {
        tags.push(Tag::Contract);
    }
    let done = match result {
        Ok(ids) if ids.is_empty() => Done {
            effect,
            ..Done::refuse(
                format!("migrate {direction}"),
                format!(
                    "nothing to {}",
                    if direction == Direction::Up {
                        "apply"
                    } else {
                        "revert"
                    }
                ),
            )
        },
        Ok(ids) => Done {
            effect,
            ..Done::ok(
                format!("migrate {direction}{flag} {}", ids.join(" ")),
                format!(
                    "{} {}",
                    if direction == Direction::Up {
                        "applied"
                    } else {
                        "reverted"
                    },
                    ids.join(", ")
                ),
            )
        },
        Err(e) => {
            // The migration it failed on, or what it set out to do; with
            // its lock timeout, so that a rule against runs without one
            // never matches a run that had one.
            let ids = match &e {
                crate::migrate::Error::Statement { id, .. }
                | crate::migrate::Error::NoDown { id } => format!(" {id}"),
                _ if planned.is_empty() => String::new(),
                _ => format!(" {}", planned.join(" ")),
            };
            let canonical = format!("migrate {direction}{flag}{ids}");
            match e {
                // Nothing ran: there is no down SQL to run.
                crate::migrate::Error::NoDown { .. } => Done {
                    effect,
                    ..Done::refuse(canonical, e.to_string())
                },
                e => Done {
                    effect,
                    ..Done::fail(canonical, e.to_string())
                },
            }
        }
    };
    Done { tags, ..done }
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
            Done::ok("migrate status", format!("tracking table {table}"))
                .view(rows(&["migration", "kind", "state", "down"], rows_out))
        }
        Err(e) => Done::fail("migrate status", e.to_string()),
    }
}

/// `migrate apply FILE`: a corrective forward migration. Its file name is
/// its version; it must sort after every applied migration, and it must
/// survive being run twice.
async fn forward_fix(
    conn: &mut sqlx::PgConnection,
    runner: &Runner<'_>,
    file: &str,
    lock_timeout: Option<std::time::Duration>,
) -> Done {
    let path = std::path::Path::new(file);
    let id = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let canonical = format!("migrate apply {id}");
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

//! `locks` and `kill`: the blocking tree from pg_stat_activity, pg_locks
//! and pg_blocking_pids(), and cancelling or terminating backends by pid or
//! by application name (scripts cannot know pids in advance; names like
//! `migration-job` or a report job's name they can).

use sqlx::Row;

use super::apply::{Done, rows};
use super::{Drill, MOVES, Pending};
use crate::action::{self, Look};

/// Sessions that wait for a lock or hold one somebody waits for.
const TREE: &str = r#"
WITH s AS (
    SELECT a.pid, a.application_name AS app, a.state,
           pg_blocking_pids(a.pid) AS blocked_by,
           now() - coalesce(a.xact_start, a.query_start) AS age,
           left(regexp_replace(a.query, '\s+', ' ', 'g'), 70) AS query,
           (SELECT l.mode || ' on ' || coalesce(l.relation::regclass::text, l.locktype)
              FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted LIMIT 1) AS waits_for
    FROM pg_stat_activity a
    WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
)
SELECT pid, app, state, blocked_by::text, extract(epoch FROM age)::float8, query, waits_for
FROM s
WHERE cardinality(blocked_by) > 0
   OR pid IN (SELECT unnest(blocked_by) FROM s)
ORDER BY age DESC NULLS LAST
"#;

struct Session {
    pid: i32,
    app: String,
    state: String,
    blocked_by: Vec<i32>,
    age_s: f64,
    query: String,
    waits_for: Option<String>,
}

impl Drill {
    pub(super) fn locks(&mut self, pending: Pending) {
        let url = self.db().superuser_url.clone();
        let canonical = Look::Locks.to_string();
        self.spawn_move(pending, Done::fail(canonical.clone(), ""), async move {
            match tree(&url).await {
                Ok(sessions) => render(&sessions),
                Err(e) => Done::fail(canonical, e),
            }
        });
    }

    /// The lock tree for a page that looks without playing a move: the
    /// same query and table as `locks`, not recorded.
    pub(super) fn peek_locks(&self, reply: tokio::sync::oneshot::Sender<super::Reply>) {
        let url = self.db().superuser_url.clone();
        tokio::spawn(async move {
            let done = match tree(&url).await {
                Ok(sessions) => render(&sessions),
                Err(e) => Done::fail(Look::Locks.to_string(), e),
            };
            let _ = reply.send(super::Reply {
                ok: done.outcome == crate::transcript::Outcome::Done,
                text: done.text,
                view: done.view,
            });
        });
    }

    /// Recorded with the application names it hit, so a rubric pattern
    /// names a job whether the learner gave its name or a pid.
    pub(super) fn kill(&mut self, pending: Pending, order: action::Kill) {
        let url = self.db().superuser_url.clone();
        let canonical = order.to_string();
        self.spawn_move(pending, Done::fail(canonical.clone(), ""), async move {
            let how = order.how();
            match kill(&url, &order.target, order.terminate).await {
                Ok((names, n)) if n > 0 => Done::ok(
                    action::Kill {
                        target: names.clone(),
                        ..order
                    }
                    .to_string(),
                    format!("{how}led {n} backend(s) of {names}"),
                ),
                Ok(_) => Done::refuse(
                    canonical,
                    format!("no backend matches `{}` (see `locks`)", order.target),
                ),
                Err(e) => Done::fail(canonical, e),
            }
        });
    }
}

async fn tree(url: &str) -> Result<Vec<Session>, String> {
    let mut conn = crate::instance::connect_as(url, MOVES, None)
        .await
        .map_err(|e| e.to_string())?;
    let found = sqlx::query(TREE)
        .fetch_all(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    Ok(found
        .iter()
        .map(|r| Session {
            pid: r.get(0),
            app: r.get::<Option<String>, _>(1).unwrap_or_default(),
            state: r.get::<Option<String>, _>(2).unwrap_or_default(),
            blocked_by: r
                .get::<Option<String>, _>(3)
                .unwrap_or_default()
                .trim_matches(|c| c == '{' || c == '}')
                .split(',')
                .filter_map(|p| p.trim().parse().ok())
                .collect(),
            age_s: r.get::<Option<f64>, _>(4).unwrap_or_default(),
            query: r.get::<Option<String>, _>(5).unwrap_or_default(),
            waits_for: r.get(6),
        })
        .collect())
}

/// The tree as rows, roots first, each waiter under what it waits for;
/// pods waiting on the same blocker are folded into one row.
fn render(sessions: &[Session]) -> Done {
    if sessions.is_empty() {
        return Done::ok(Look::Locks.to_string(), "no session waits for a lock");
    }
    let roots: Vec<&Session> = sessions
        .iter()
        .filter(|s| s.blocked_by.is_empty())
        .collect();
    let mut table = Vec::new();
    let mut shown = std::collections::HashSet::new();
    fn walk<'a>(
        s: &'a Session,
        depth: usize,
        all: &'a [Session],
        table: &mut Vec<Vec<String>>,
        shown: &mut std::collections::HashSet<i32>,
    ) {
        if !shown.insert(s.pid) {
            return;
        }
        table.push(vec![
            format!("{}{}", "  ".repeat(depth), s.pid),
            s.app.clone(),
            s.state.clone(),
            format!("{:.0}s", s.age_s),
            s.waits_for.clone().unwrap_or_else(|| "-".into()),
            s.query.clone(),
        ]);
        let children: Vec<&Session> = all
            .iter()
            .filter(|c| c.blocked_by.contains(&s.pid))
            .collect();
        let (pods, others): (Vec<&Session>, Vec<&Session>) = children
            .into_iter()
            .partition(|c| c.app.starts_with("pgdrill-pod-"));
        for c in others {
            walk(c, depth + 1, all, table, shown);
        }
        if !pods.is_empty() {
            for p in &pods {
                shown.insert(p.pid);
            }
            let wait = pods
                .iter()
                .filter_map(|p| p.waits_for.clone())
                .next()
                .unwrap_or_default();
            table.push(vec![
                format!("{}×{}", "  ".repeat(depth + 1), pods.len()),
                "app pods".into(),
                "active".into(),
                format!("≤{:.0}s", pods.iter().map(|p| p.age_s).fold(0.0, f64::max)),
                wait,
                pods[0].query.clone(),
            ]);
        }
    }
    for r in &roots {
        walk(r, 0, sessions, &mut table, &mut shown);
    }
    // Cycles (deadlocks in the making) have no root; show what is left.
    for s in sessions {
        walk(s, 0, sessions, &mut table, &mut shown);
    }
    let waiting = sessions.iter().filter(|s| !s.blocked_by.is_empty()).count();
    let blockers: Vec<String> = roots
        .iter()
        .map(|r| format!("{} ({})", r.pid, r.app))
        .collect();
    Done::ok(
        Look::Locks.to_string(),
        format!(
            "{waiting} session(s) wait; at the root: {}. `kill PID|NAME` cancels a query, `--terminate` ends the session",
            blockers.join(", ")
        ),
    )
    .view(rows(&["pid", "who", "state", "for", "waits for", "query"], table))
}

/// Cancels or terminates the backends a pid or application name names;
/// returns their application names and how many were hit.
/// Ends the sessions of the drill's own jobs (the timeline's background
/// SQL, migration jobs) once the drill is over. Dropping a job's
/// connection is not enough: a backend in `pg_sleep`, or waiting for a
/// lock, notices its client is gone only when it next talks to it, and
/// meanwhile holds or queues for locks that the final measurements would
/// wait behind.
pub(super) async fn end_jobs(url: &str, jobs: &[String]) {
    let Ok(mut conn) = crate::instance::connect_as(url, MOVES, None).await else {
        return;
    };
    let ended = sqlx::query(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = ANY($1)",
    )
    .bind(jobs)
    .fetch_one(&mut conn)
    .await;
    if let Err(e) = ended {
        tracing::debug!("ending the drill's jobs: {e}");
    }
}

async fn kill(url: &str, target: &str, terminate: bool) -> Result<(String, u64), String> {
    let mut conn = crate::instance::connect_as(url, MOVES, None)
        .await
        .map_err(|e| e.to_string())?;
    let function = if terminate {
        "pg_terminate_backend"
    } else {
        "pg_cancel_backend"
    };
    let sql = format!(
        "SELECT coalesce(string_agg(DISTINCT application_name, ','), ''), count(*) FILTER (WHERE {function}(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND (pid::text = $1 OR application_name = $1)"
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(target)
        .fetch_one(&mut conn)
        .await
        .map_err(|e| e.to_string())?;
    let names: String = row.get(0);
    let n: i64 = row.get(1);
    Ok((
        if names.is_empty() {
            target.to_string()
        } else {
            names
        },
        n as u64,
    ))
}

//! Semantic checks of a parsed scenario: every reference resolves, every
//! number makes sense. Pure: returns every problem, located by key path.

use std::collections::{BTreeSet, HashSet};

use super::{ParamGen, Problem, Scenario};

mod rubric;
#[cfg(test)]
mod tests;

use rubric::check_rubric;

/// The first words of the learner's moves, which rubric patterns may name.
pub const MOVE_VERBS: &[&str] = &[
    "status",
    "events",
    "flag",
    "app",
    "migrate",
    "snapshot",
    "restore",
    "cutover",
    "workers",
    "backfill",
    "replay",
    "repair",
    "instances",
    "locks",
    "kill",
    "incident",
    "comms",
    "approve",
    "plan",
    "decide",
    "sql",
    "note",
    "wait",
    "hint",
    "resolve",
];

/// The most points a step is worth, a penalty takes or a hint costs: totals
/// stay far from overflowing, and a score stays readable.
pub const MAX_POINTS: u32 = 1000;

/// The most steps a rubric may require.
pub const MAX_STEPS: usize = 100;

/// Every problem in the scenario; empty when it is valid.
pub fn validate(s: &Scenario) -> Vec<Problem> {
    let mut p = Vec::new();
    check_metadata(s, &mut p);
    check_migrations(s, &mut p);
    check_app(s, &mut p);
    check_fleet(s, &mut p);
    check_workers(s, &mut p);
    check_timeline(s, &mut p);
    check_injects(s, &mut p);
    check_slo(s, &mut p);
    check_rubric(s, &mut p);
    check_checks(s, &mut p);
    p
}

fn check_checks(s: &Scenario, p: &mut Vec<Problem>) {
    for (i, name) in duplicates(s.checks.iter().map(|c| c.name.as_str())) {
        p.push(Problem::at(
            &format!("checks.{i}.name"),
            format!("check `{name}` is declared twice"),
        ));
    }
    for (i, c) in s.checks.iter().enumerate() {
        if c.sql.trim().is_empty() {
            p.push(
                Problem::at(&format!("checks.{i}.sql"), "the check's SQL is empty")
                    .hint("write a query that returns how many rows are wrong"),
            );
        }
        if c.why.trim().is_empty() {
            p.push(Problem::at(
                &format!("checks.{i}.why"),
                "say what a failure means",
            ));
        }
    }
}

fn check_migration_ref(s: &Scenario, at: &str, id: &str, p: &mut Vec<Problem>) {
    if s.migrations.get(id).is_none() {
        p.push(
            Problem::at(at, format!("unknown migration `{id}`"))
                .hint(listing(s.migrations.list.iter().map(|m| m.id.as_str()))),
        );
    }
}

fn listing<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.into_iter().collect();
    if names.is_empty() {
        "none are declared".into()
    } else {
        format!("declared: {}", names.join(", "))
    }
}

fn duplicates<'a>(names: impl IntoIterator<Item = &'a str>) -> Vec<(usize, &'a str)> {
    let mut seen = HashSet::new();
    names
        .into_iter()
        .enumerate()
        .filter(|(_, n)| !seen.insert(*n))
        .collect()
}

fn check_metadata(s: &Scenario, p: &mut Vec<Problem>) {
    let ok = !s.id.is_empty()
        && s.id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        p.push(
            Problem::at("id", format!("`{}` is not a valid scenario id", s.id))
                .hint("use lowercase letters, digits and dashes, like `mixed-version-rename`"),
        );
    }
    if s.objectives.is_empty() {
        p.push(
            Problem::at(
                "objectives",
                "a scenario needs at least one learning objective",
            )
            .hint("say what the learner should be able to do afterwards"),
        );
    }
    if s.briefing.trim().is_empty() {
        p.push(Problem::at("briefing", "the briefing is empty").hint("tell the learner the story"));
    }
}

fn check_migrations(s: &Scenario, p: &mut Vec<Problem>) {
    let m = &s.migrations;
    for (key, value) in [
        ("table", &m.table),
        ("id_column", &m.id_column),
        ("applied_column", &m.applied_column),
    ] {
        if value.trim().is_empty() {
            p.push(Problem::at(&format!("migrations.{key}"), "cannot be empty"));
        }
    }
    for (i, id) in duplicates(m.list.iter().map(|m| m.id.as_str())) {
        p.push(
            Problem::at(
                &format!("migrations.list.{i}.id"),
                format!("migration `{id}` is declared twice"),
            )
            .hint("migration ids must be unique"),
        );
    }
    let mut seen_pending = false;
    for (i, mig) in m.list.iter().enumerate() {
        if mig.up.trim().is_empty() {
            p.push(Problem::at(
                &format!("migrations.list.{i}.up"),
                "the up SQL is empty",
            ));
        }
        if mig.down.as_deref().is_some_and(|d| d.trim().is_empty()) {
            p.push(
                Problem::at(
                    &format!("migrations.list.{i}.down"),
                    "the down SQL is empty",
                )
                .hint("leave `down` out when a migration has none"),
            );
        }
        if mig.applied_at_start && seen_pending {
            p.push(
                Problem::at(
                    &format!("migrations.list.{i}.applied_at_start"),
                    "a migration applied at the start comes after one that is not",
                )
                .hint("list the migrations applied at the start first, in the order they ran"),
            );
        }
        seen_pending |= !mig.applied_at_start;
    }
    check_history(s, p);
}

/// The tracking table's other columns, and the install times of the
/// migrations applied at the start: older first, as they ran.
fn check_history(s: &Scenario, p: &mut Vec<Problem>) {
    let m = &s.migrations;
    let mut names = BTreeSet::from([m.id_column.as_str(), m.applied_column.as_str()]);
    for (i, c) in m.columns.iter().enumerate() {
        let at = format!("migrations.columns.{i}");
        if c.name.trim().is_empty() || !names.insert(c.name.as_str()) {
            p.push(
                Problem::at(
                    &format!("{at}.name"),
                    format!("`{}` is not a new column name", c.name),
                )
                .hint("each column once, besides the id and applied columns"),
            );
        }
        let bad = |text: &str| text.trim().is_empty() || text.contains(';');
        if bad(&c.sql_type) {
            p.push(Problem::at(
                &format!("{at}.type"),
                "give the column's SQL type (`integer`, `text NOT NULL`), one clause, no `;`",
            ));
        }
        if c.value.as_deref().is_some_and(bad) {
            p.push(Problem::at(
                &format!("{at}.value"),
                "give one SQL expression (`$1` is the migration's id), no `;`",
            ));
        }
    }
    let mut newest: Option<u64> = None;
    for (i, mig) in m.list.iter().enumerate() {
        let Some(ago) = mig.installed_ago else {
            // Without one, it was installed at the drill's start.
            if mig.applied_at_start {
                newest = Some(0);
            }
            continue;
        };
        let at = format!("migrations.list.{i}.installed_ago");
        if !mig.applied_at_start {
            p.push(
                Problem::at(
                    &at,
                    "only a migration applied at the start has an install time",
                )
                .hint("a migration applied during the drill is installed when it runs"),
            );
        } else if newest.is_some_and(|n| ago.as_millis() > n) {
            p.push(
                Problem::at(
                    &at,
                    format!("installed {ago} ago, before the migration listed above it"),
                )
                .hint("list the migrations in the order they ran, with older ones further back"),
            );
        }
        newest = Some(ago.as_millis());
    }
}

/// The highest `$N` placeholder in a statement.
fn placeholders(sql: &str) -> usize {
    let bytes = sql.as_bytes();
    let mut max = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' {
            let digits = bytes[i + 1..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            if digits > 0 {
                let n: usize = sql[i + 1..i + 1 + digits].parse().unwrap_or(0);
                max = max.max(n);
            }
            i += 1 + digits;
        } else {
            i += 1;
        }
    }
    max
}

fn check_app(s: &Scenario, p: &mut Vec<Problem>) {
    if s.app.versions.is_empty() {
        p.push(
            Problem::at("app.versions", "no app versions")
                .hint("declare at least one [[app.versions]]"),
        );
    }
    for (i, name) in duplicates(s.app.versions.iter().map(|v| v.name.as_str())) {
        p.push(Problem::at(
            &format!("app.versions.{i}.name"),
            format!("version `{name}` is declared twice"),
        ));
    }
    for (i, name) in duplicates(s.flags.iter().map(|f| f.name.as_str())) {
        p.push(Problem::at(
            &format!("flags.{i}.name"),
            format!("flag `{name}` is declared twice"),
        ));
    }
    for (vi, version) in s.app.versions.iter().enumerate() {
        for (k, id) in version.migrate_on_start.iter().enumerate() {
            check_migration_ref(s, &format!("app.versions.{vi}.migrate_on_start.{k}"), id, p);
        }
        if version.endpoints.is_empty() {
            p.push(Problem::at(
                &format!("app.versions.{vi}.endpoints"),
                "a version needs at least one endpoint",
            ));
        }
        for (ei, e) in version.endpoints.iter().enumerate() {
            check_endpoint(
                s,
                e,
                &|key| format!("app.versions.{vi}.endpoints.{ei}.{key}"),
                p,
            );
        }
    }
}

/// One endpoint, or one worker's job: weight, parameters, what a write
/// returns, the flags it names. `at` gives a key's path.
fn check_endpoint(
    s: &Scenario,
    e: &super::Endpoint,
    at: &dyn Fn(&str) -> String,
    p: &mut Vec<Problem>,
) {
    if e.weight == 0 {
        p.push(
            Problem::at(&at("weight"), "weight must be at least 1")
                .hint("remove the endpoint instead"),
        );
    }
    let wanted = placeholders(&e.sql);
    if wanted != e.params.len() {
        p.push(
            Problem::at(
                &at("params"),
                format!(
                    "`{}` uses {wanted} parameter(s) but {} generator(s) are given",
                    e.name,
                    e.params.len()
                ),
            )
            .hint(format!(
                "give one generator per $N placeholder; known: {}",
                ParamGen::KNOWN
            )),
        );
    }
    if e.write && e.ledger_target().is_none() && e.update_target().is_none() {
        p.push(
            Problem::at(
                &at("sql"),
                format!("`{}` is a write, but its table and key cannot be read from the SQL", e.name),
            )
            .hint("a write is `INSERT INTO table ... RETURNING key`, or `UPDATE table SET column = ... RETURNING key, column`, so what it acknowledged can be checked (RPO)"),
        );
    }
    for (pi, param) in e.params.iter().enumerate() {
        if let ParamGen::ExistingId { table } = param
            && !s.fixture.rows.contains_key(table)
        {
            p.push(
                Problem::at(
                    &at(&format!("params.{pi}")),
                    format!("`{table}` has no generated rows to pick ids from"),
                )
                .hint(format!("add `{table} = N` to [fixture] rows")),
            );
        }
    }
    for (key, flag) in [("flag", &e.flag), ("unless_flag", &e.unless_flag)] {
        if let Some(flag) = flag
            && !s.flags.iter().any(|f| &f.name == flag)
        {
            p.push(
                Problem::at(&at(key), format!("unknown flag `{flag}`"))
                    .hint(listing(s.flags.iter().map(|f| f.name.as_str()))),
            );
        }
    }
}

/// `[[workers]]`: plain unique names, sizes the engine can run, jobs as
/// endpoints are.
fn check_workers(s: &Scenario, p: &mut Vec<Problem>) {
    for (i, name) in duplicates(s.workers.iter().map(|w| w.name.as_str())) {
        p.push(Problem::at(
            &format!("workers.{i}.name"),
            format!("workers `{name}` are declared twice"),
        ));
    }
    for (i, w) in s.workers.iter().enumerate() {
        let at = |key: &str| format!("workers.{i}.{key}");
        if !crate::is_plain_name(&w.name) {
            p.push(
                Problem::at(&at("name"), format!("`{}` is not a plain name", w.name))
                    .hint("letters, digits, `-` and `_`: it is typed in `workers pause NAME`"),
            );
        }
        if w.max_concurrency() == 0 || w.max_concurrency() > 64 {
            p.push(Problem::at(
                &at("concurrency"),
                "between 1 and 64 workers (max_concurrency, or concurrency)",
            ));
        }
        if !(1..=super::MAX_RPS_PER_POD).contains(&w.jobs_per_second) {
            p.push(Problem::at(
                &at("jobs_per_second"),
                format!("between 1 and {} jobs a second", super::MAX_RPS_PER_POD),
            ));
        }
        if w.statement_timeout.is_some_and(|t| t.0.is_zero()) {
            p.push(Problem::at(&at("statement_timeout"), "must be above zero"));
        }
        if w.jobs.is_empty() {
            p.push(Problem::at(&at("jobs"), "workers need at least one job"));
        }
        for (j, job) in w.jobs.iter().enumerate() {
            check_endpoint(s, job, &|key| format!("workers.{i}.jobs.{j}.{key}"), p);
        }
    }
}

fn check_fleet(s: &Scenario, p: &mut Vec<Problem>) {
    let f = &s.fleet;
    if !(1..=64).contains(&f.pods) {
        p.push(Problem::at("fleet.pods", "pods must be between 1 and 64"));
    }
    if !(1..=super::MAX_RPS_PER_POD).contains(&f.rps_per_pod) {
        p.push(Problem::at(
            "fleet.rps_per_pod",
            format!(
                "rps_per_pod must be between 1 and {}",
                super::MAX_RPS_PER_POD
            ),
        ));
    }
    if !(1..=20).contains(&f.pool_size) {
        p.push(Problem::at(
            "fleet.pool_size",
            "pool_size must be between 1 and 20",
        ));
    }
    if f.statement_timeout.0.is_zero() {
        p.push(Problem::at(
            "fleet.statement_timeout",
            "the API timeout must be above zero",
        ));
    }
    if f.rollout_step.0.is_zero() {
        p.push(Problem::at(
            "fleet.rollout_step",
            "the rollout step must be above zero",
        ));
    }
    check_version(s, "fleet.version", &f.version, p);
}

fn check_version(s: &Scenario, at: &str, name: &str, p: &mut Vec<Problem>) {
    if s.app.version(name).is_none() {
        p.push(
            Problem::at(at, format!("unknown app version `{name}`"))
                .hint(listing(s.app.versions.iter().map(|v| v.name.as_str()))),
        );
    }
}

fn check_timeline(s: &Scenario, p: &mut Vec<Problem>) {
    for (i, event) in s.timeline.iter().enumerate() {
        check_event(s, &format!("timeline.{i}"), event, p);
    }
}

/// Injectable faults: named once each, and each event checked like the
/// timeline's, with times counted from the moment the game master injects
/// the fault.
fn check_injects(s: &Scenario, p: &mut Vec<Problem>) {
    for (i, name) in duplicates(s.inject.iter().map(|f| f.name.as_str())) {
        p.push(Problem::at(
            &format!("inject.{i}.name"),
            format!("fault `{name}` is declared twice"),
        ));
    }
    for (i, fault) in s.inject.iter().enumerate() {
        if !crate::text::is_plain_name(&fault.name) {
            p.push(Problem::at(
                &format!("inject.{i}.name"),
                format!(
                    "`{}` is not a valid fault name: use letters, digits, `-` and `_`",
                    fault.name
                ),
            ));
        }
        if fault.events.is_empty() {
            p.push(
                Problem::at(&format!("inject.{i}"), "the fault does nothing")
                    .hint("give it [[inject.events]] entries, shaped like [[timeline]] ones"),
            );
        }
        for (k, event) in fault.events.iter().enumerate() {
            let at = format!("inject.{i}.events.{k}");
            if event.when.is_some() {
                p.push(
                    Problem::at(
                        &format!("{at}.when"),
                        "an injected fault's events cannot wait for a flag",
                    )
                    .hint("`at` counts from the moment the game master injects the fault"),
                );
            }
            check_event(s, &at, event, p);
        }
    }
}

/// One scripted event, at key path `at` (`timeline.3`).
fn check_event(
    s: &Scenario,
    at: &str,
    event: &crate::scenario::TimelineEvent,
    p: &mut Vec<Problem>,
) {
    let actions = [
        event.release.is_some(),
        event.flag.is_some(),
        event.sql.is_some(),
        event.snapshot.is_some(),
        !event.migrate.is_empty(),
    ];
    let count = actions.iter().filter(|a| **a).count();
    if count > 1 {
        p.push(
                Problem::at(at, "one event does one thing")
                    .hint("split release, migrate, flag, sql and snapshot into separate [[timeline]] entries at the same time"),
            );
    }
    if count == 0 && event.say.is_none() {
        p.push(
            Problem::at(at, "the event does nothing")
                .hint("give it `release`, `migrate`, `flag`, `sql`, `snapshot` or `say`"),
        );
    }
    for (k, id) in event.migrate.iter().enumerate() {
        check_migration_ref(s, &format!("{at}.migrate.{k}"), id, p);
    }
    if event.job.is_some() && event.sql.is_none() {
        p.push(
            Problem::at(&format!("{at}.job"), "`job` names a background `sql` job")
                .hint("add the job's `sql`, or remove `job`"),
        );
    }
    if let Some(job) = &event.job
        && !crate::text::is_plain_name(job)
    {
        p.push(Problem::at(
            &format!("{at}.job"),
            format!("`{job}` is not a valid job name: use letters, digits, `-` and `_`"),
        ));
    }
    if let Some(release) = &event.release {
        check_version(s, &format!("{at}.release.version"), &release.version, p);
        for (mi, id) in release.migrations.iter().enumerate() {
            let key = format!("{at}.release.migrations.{mi}");
            match s.migrations.get(id) {
                None => check_migration_ref(s, &key, id, p),
                Some(m) if m.applied_at_start => p.push(
                    Problem::at(&key, format!("`{id}` is already applied at the start"))
                        .hint("a release ships migrations that are not yet applied"),
                ),
                Some(_) => {}
            }
        }
        if let Some(n) = release.stop_after_pods
            && (n == 0 || n > s.fleet.pods)
        {
            p.push(Problem::at(
                &format!("{at}.release.stop_after_pods"),
                format!("must be between 1 and the fleet's {} pods", s.fleet.pods),
            ));
        }
    }
    if let Some(trigger) = &event.when
        && !s.flags.iter().any(|f| f.name == trigger.flag)
    {
        p.push(
            Problem::at(
                &format!("{at}.when.flag"),
                format!("unknown flag `{}`", trigger.flag),
            )
            .hint(listing(s.flags.iter().map(|f| f.name.as_str()))),
        );
    }
    if let Some(change) = &event.flag
        && !s.flags.iter().any(|f| f.name == change.name)
    {
        p.push(
            Problem::at(
                &format!("{at}.flag.name"),
                format!("unknown flag `{}`", change.name),
            )
            .hint(listing(s.flags.iter().map(|f| f.name.as_str()))),
        );
    }
}

fn check_slo(s: &Scenario, p: &mut Vec<Problem>) {
    if !(0.0..1.0).contains(&s.slo.max_error_rate) {
        p.push(
            Problem::at(
                "slo.max_error_rate",
                "must be a fraction from 0 up to (not including) 1",
            )
            .hint("0.01 means 1% of requests may fail"),
        );
    }
    if s.slo.p99.0.is_zero() {
        p.push(Problem::at("slo.p99", "must be above zero"));
    }
    if s.slo.stable_for.0.as_secs() < 1 {
        p.push(Problem::at(
            "slo.stable_for",
            "must be at least 1s (metrics come in one-second windows)",
        ));
    }
}

//! Helpers for the engine's unit tests: the rollout lab (it has a flag, a
//! triggered event, checks and an RPO) with the timeline a test needs, and
//! a drill built on it that never connects anywhere.

use std::sync::Arc;

use super::{Drill, Options, Target};
use crate::instance::{InstanceInfo, Role};
use crate::scenario::Scenario;

/// The rollout lab with its timeline replaced by `timeline` (TOML
/// `[[timeline]]` tables).
pub(super) fn with_timeline(timeline: &str) -> Scenario {
    let text = include_str!("../../scenarios/rollout-lab.toml");
    let mut kept = String::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.starts_with('[') {
            skipping = line.starts_with("[[timeline]]") || line.starts_with("[timeline.");
        }
        if !skipping {
            kept.push_str(line);
            kept.push('\n');
        }
    }
    kept.push_str(timeline);
    crate::scenario::parse(std::path::Path::new("rollout-lab.toml"), &kept)
        .unwrap_or_else(|e| panic!("{e:?}"))
}

/// A drill of `scenario` whose database is nowhere: the engine's decisions
/// can be driven without a server (nothing here connects).
pub(super) fn drill(scenario: Scenario, time_scale: f64) -> Drill {
    let role = |user: &str| Role {
        user: user.into(),
        password: "unused".into(),
    };
    let info = InstanceInfo {
        id: "pgd-test".into(),
        backend: "local",
        version: "PostgreSQL 15".into(),
        host: "127.0.0.1".into(),
        port: 9,
        database: "pgdrill".into(),
        superuser: role("pgdrill_admin"),
        app: role("app"),
        data_dir: None,
        socket_dir: None,
        storage: None,
        pid: None,
        bin_dir: None,
        snapshot_dir: None,
        tools: None,
        wal_archive: None,
    };
    let target = Target {
        name: "primary".into(),
        app_url: "postgres://app@127.0.0.1:9/pgdrill".into(),
        superuser_url: "postgres://pgdrill_admin@127.0.0.1:9/pgdrill".into(),
        info,
    };
    let options = Options {
        seed: 1,
        time_scale,
        learner: Some("tester".into()),
        backend: None,
        rows: None,
    };
    Drill::new(Arc::new(scenario), target, options, 0)
}

//! The local backend on real PostgreSQL: isolation and leak-free teardown.

mod common;

use std::time::Duration;

use common::{TestEnv, assert_no_process_within, list_names, runtime};
use pgdrill::instance::{Backend, no_progress};

#[test]
fn five_concurrent_instances_are_isolated() {
    let env = TestEnv::new();
    let backend = env.backend();
    runtime().block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..5 {
            let backend = backend.clone();
            set.spawn(async move { backend.provision(&no_progress).await });
        }
        let instances: Vec<_> = set
            .join_all()
            .await
            .into_iter()
            .map(|r| r.unwrap())
            .collect();

        let mut ports: Vec<u16> = instances.iter().map(|i| i.info().port).collect();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), 5, "every instance has its own port");
        let mut dirs: Vec<_> = instances
            .iter()
            .map(|i| i.info().data_dir.clone())
            .collect();
        dirs.sort();
        dirs.dedup();
        assert_eq!(dirs.len(), 5, "every instance has its own data directory");

        // Each writes its own marker; each must see only its own.
        for (n, instance) in instances.iter().enumerate() {
            let mut conn = instance.connect_app().await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE TABLE marker (n int); INSERT INTO marker VALUES ({n});"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        for (n, instance) in instances.iter().enumerate() {
            let mut conn = instance.connect_app().await.unwrap();
            let seen: Vec<i32> = sqlx::query_scalar("SELECT n FROM marker")
                .fetch_all(&mut conn)
                .await
                .unwrap();
            assert_eq!(seen, vec![n as i32], "instance {n} sees only its own row");
        }
        assert_eq!(env.registry_entries().len(), 5);
        for instance in instances {
            instance.shutdown().await;
        }
    });
    assert!(env.registry_entries().is_empty());
    assert!(
        list_names(&env.dirs.runtime)
            .iter()
            .all(|n| !n.starts_with("pgd-"))
    );
}

/// Asserts that nothing of an instance is left: no server process (its id is
/// in every process title), no directory, no registry entry.
fn assert_gone(env: &TestEnv, info: &pgdrill::instance::InstanceInfo) {
    if let Some(pid) = info.pid {
        assert!(
            !pgdrill::instance::process::is_alive(pid, None),
            "postmaster {pid} still alive"
        );
    }
    assert_no_process_within(&info.id, Duration::from_secs(5));
    pgdrill::instance::fsutil::flush_trash();
    let instance_dir = info.data_dir.as_ref().unwrap().parent().unwrap();
    assert!(
        !instance_dir.exists(),
        "{} left behind",
        instance_dir.display()
    );
    assert!(
        env.registry_entries().is_empty(),
        "{:?}",
        env.registry_entries()
    );
}

#[test]
fn shutdown_leaves_no_process_and_no_directory() {
    let env = TestEnv::new();
    let rt = runtime();
    let instance = rt.block_on(env.backend().provision(&no_progress)).unwrap();
    let info = instance.info().clone();
    assert!(info.data_dir.as_ref().unwrap().is_dir());
    assert!(!common::processes_mentioning(&info.id).is_empty());
    // The socket directory is private to the server user.
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(info.socket_dir.as_ref().unwrap())
            .unwrap()
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o700);

    rt.block_on(instance.shutdown());
    assert_gone(&env, &info);
}

#[test]
fn drop_leaves_no_process_and_no_directory() {
    let env = TestEnv::new();
    let instance = runtime()
        .block_on(env.backend().provision(&no_progress))
        .unwrap();
    let info = instance.info().clone();
    drop(instance);
    assert_gone(&env, &info);
}

#[test]
fn a_cancelled_provision_cleans_up_after_itself() {
    let env = TestEnv::new();
    let backend = env.backend();
    let rt = runtime();
    // Warm the cache so the provision below spends its time starting.
    rt.block_on(async {
        backend
            .provision(&no_progress)
            .await
            .unwrap()
            .shutdown()
            .await
    });
    for delay_ms in [1, 5, 20, 60] {
        rt.block_on(async {
            let _ = tokio::time::timeout(
                Duration::from_millis(delay_ms),
                backend.provision(&no_progress),
            )
            .await;
        });
        pgdrill::instance::fsutil::flush_trash();
        let left: Vec<_> = list_names(&env.dirs.runtime)
            .into_iter()
            .filter(|n| n.starts_with("pgd-"))
            .collect();
        assert!(
            left.is_empty(),
            "after cancelling at {delay_ms} ms: {left:?}"
        );
        assert!(
            env.registry_entries().is_empty(),
            "after cancelling at {delay_ms} ms"
        );
    }
    assert_no_process_within(
        &env.dirs.runtime.display().to_string(),
        Duration::from_secs(5),
    );
}

#[test]
fn no_password_appears_in_a_process_list_and_each_instance_has_its_own() {
    // Regression: pg_dump and pg_restore got the superuser URL, password
    // included, in their arguments (readable by every local user in `ps`),
    // and every instance of a user shared the template's passwords.
    let env = TestEnv::new();
    let backend = env.backend();
    runtime().block_on(async {
        let a = backend.provision(&no_progress).await.unwrap();
        let b = backend.provision(&no_progress).await.unwrap();
        assert_ne!(a.info().superuser.password, b.info().superuser.password);
        assert_ne!(a.info().app.password, b.info().app.password);
        let mut conn = a.connect_superuser().await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(
            "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS v FROM generate_series(1, 300000) g",
        ))
        .execute(&mut conn)
        .await
        .unwrap();
        let secret = a.info().superuser.password.clone();
        let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let watcher = {
            let watching = watching.clone();
            let secret = secret.clone();
            std::thread::spawn(move || {
                let (mut dumps, mut leaks) = (0, Vec::new());
                while watching.load(std::sync::atomic::Ordering::SeqCst) {
                    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
                            continue;
                        };
                        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                        if cmdline.contains("pg_dump") {
                            dumps += 1;
                        }
                        if cmdline.contains(&secret) {
                            leaks.push(cmdline);
                        }
                    }
                }
                (dumps, leaks)
            })
        };
        for n in 0..3 {
            pgdrill::instance::snapshot::create(a.info(), &a.superuser_url(), &format!("s{n}"), true)
                .await
                .unwrap();
        }
        watching.store(false, std::sync::atomic::Ordering::SeqCst);
        let (dumps, leaks) = watcher.join().unwrap();
        assert!(dumps > 0, "the watcher never saw pg_dump run");
        assert!(leaks.is_empty(), "the password is in a process's arguments: {leaks:?}");
        a.shutdown().await;
        b.shutdown().await;
    });
}

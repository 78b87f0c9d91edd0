//! The thread the pods of every fleet run on.

/// The runtime the pods run on: one thread of its own, shared by every
/// fleet of the process. On the process's multi-threaded runtime each
/// request's wakeups crossed between its worker threads: `pgdrill bench
/// fleet` measured the pods at 0.053 cores per 1,000 requests/s there, and
/// 0.025 on one thread, where the sessions' sockets are driven by the
/// thread their requests run on. The engine, the HTTP face and everything
/// else stay on the process's runtime. Should the thread not start, the
/// pods run on the caller's runtime, as before.
pub(super) fn pods_runtime() -> tokio::runtime::Handle {
    static PODS: std::sync::OnceLock<Option<tokio::runtime::Handle>> = std::sync::OnceLock::new();
    PODS.get_or_init(|| {
        // Built on its thread, so nothing here ever drops a runtime inside
        // the caller's.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("pgdrill-pods".into())
            .spawn(move || {
                let built = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                match built {
                    Ok(runtime) => {
                        let _ = tx.send(Some(runtime.handle().clone()));
                        runtime.block_on(std::future::pending::<()>());
                    }
                    Err(_) => {
                        let _ = tx.send(None);
                    }
                }
            })
            .ok()?;
        rx.recv().ok().flatten()
    })
    .clone()
    .unwrap_or_else(tokio::runtime::Handle::current)
}

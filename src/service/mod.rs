//! The drill's addresses for people: a PostgreSQL endpoint that follows
//! the cutover, and one per instance, each recording the statements typed
//! through it.
//!
//! Runbook 003 cuts over by switching "DNS/Proxy": the address the team
//! uses stays, and what answers behind it changes. [`Service`] is that
//! proxy (as CloudNativePG's `-rw` service is for its clusters): the
//! service endpoint routes each new session to the instance the app uses
//! when the session starts, and each instance's endpoint to that instance.
//! Bytes pass through unchanged (authentication included); pgdrill reads
//! the client's queries and the server's answers on the way, so a read in
//! psql (`SELECT count(*) FROM users` on `restored-1`) is evidence in the
//! transcript as a move is. The app's pods connect to the servers
//! directly: only people's sessions come through here.
//!
//! Encryption is declined (`sslmode=prefer`, psql's default, then talks
//! in the clear to this loopback address); the servers behind are local
//! or the backend's own.

mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Where an endpoint sends its sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// The instance's name in the drill (`primary`, `restored-1`).
    pub name: String,
    /// Its host and port.
    pub host: String,
    /// Its TCP port.
    pub port: u16,
}

/// What an endpoint saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// A session opened on `instance` with server process `pid`, before it
    /// ran anything: what that process does is recorded here, so the DDL
    /// audit need not record it again.
    Opened {
        /// The instance.
        instance: String,
        /// Its server process.
        pid: i32,
    },
    /// A statement, once answered.
    Ran(Typed),
}

/// One statement a person ran through an endpoint, once its answer came.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Typed {
    /// The instance it ran on.
    pub instance: String,
    /// Whether it came through the service endpoint (and not an
    /// instance's own).
    pub via_service: bool,
    /// The client's `application_name` (`psql`), when it gave one.
    pub app: String,
    /// The statement, as sent.
    pub sql: String,
    /// The server's error, when it failed (`42703: column ... does not
    /// exist`).
    pub error: Option<String>,
}

/// The endpoints of one drill. Dropping it closes every listener and
/// ends the sessions going through them.
pub struct Service {
    host: String,
    /// Where new service sessions go: the instance the app uses.
    route: Arc<Mutex<Upstream>>,
    service_addr: SocketAddr,
    /// Each instance's own endpoint, by name.
    own: BTreeMap<String, SocketAddr>,
    /// Cancel keys of the sessions passing through, to the server that
    /// gave them: a cancel from psql reaches the right server after a
    /// cutover too.
    keys: wire::Keys,
    typed: mpsc::UnboundedSender<Seen>,
    tasks: JoinSet<()>,
}

impl Service {
    /// Opens the service endpoint on `host` (a loopback address), routed
    /// to `first`, with `first`'s own endpoint beside it. Statements go to
    /// the returned receiver. Call it within a tokio runtime.
    pub fn open(
        host: &str,
        first: Upstream,
    ) -> std::io::Result<(Service, mpsc::UnboundedReceiver<Seen>)> {
        let (typed, rx) = mpsc::unbounded_channel();
        let listener = bind(host)?;
        let mut service = Service {
            host: host.to_string(),
            route: Arc::new(Mutex::new(first.clone())),
            service_addr: listener.local_addr()?,
            own: BTreeMap::new(),
            keys: wire::Keys::default(),
            typed,
            tasks: JoinSet::new(),
        };
        let route = service.route.clone();
        service.serve(listener, Box::new(move || lock(&route).clone()), true);
        service.expose(first)?;
        Ok((service, rx))
    }

    /// Opens an instance's own endpoint (a restored one, say); its
    /// address, or the one it already has.
    pub fn expose(&mut self, upstream: Upstream) -> std::io::Result<SocketAddr> {
        if let Some(addr) = self.own.get(&upstream.name) {
            return Ok(*addr);
        }
        let listener = bind(&self.host)?;
        let addr = listener.local_addr()?;
        self.own.insert(upstream.name.clone(), addr);
        self.serve(listener, Box::new(move || upstream.clone()), false);
        Ok(addr)
    }

    /// Routes new service sessions to `upstream` (a cutover). Sessions
    /// already open stay where they are, as behind a real proxy.
    pub fn route(&self, upstream: Upstream) {
        *lock(&self.route) = upstream;
    }

    /// The service endpoint's address.
    pub fn addr(&self) -> SocketAddr {
        self.service_addr
    }

    /// An instance's own endpoint, if it has one.
    pub fn addr_of(&self, name: &str) -> Option<SocketAddr> {
        self.own.get(name).copied()
    }

    fn serve(
        &mut self,
        listener: TcpListener,
        upstream: Box<dyn Fn() -> Upstream + Send + Sync>,
        via_service: bool,
    ) {
        let (typed, keys) = (self.typed.clone(), self.keys.clone());
        self.tasks.spawn(async move {
            let mut sessions = JoinSet::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    // Out of descriptors, say: wait rather than spin.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                };
                while sessions.try_join_next().is_some() {}
                let to = upstream();
                let (typed, keys) = (typed.clone(), keys.clone());
                sessions.spawn(async move {
                    // A session that breaks ends; nothing else does.
                    let _ = wire::session(client, to, via_service, typed, keys).await;
                });
            }
        });
    }
}

/// A `postgres://user:password@host:port/db` URL with its host and port
/// replaced by `addr`'s.
pub fn url_at(url: &str, addr: SocketAddr) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let authority_end = url[scheme_end..]
        .find(['/', '?'])
        .map_or(url.len(), |i| scheme_end + i);
    let host_start = url[scheme_end..authority_end]
        .rfind('@')
        .map_or(scheme_end, |i| scheme_end + i + 1);
    format!("{}{addr}{}", &url[..host_start], &url[authority_end..])
}

/// A listener on a free port of `host`. Needs a tokio runtime.
fn bind(host: &str) -> std::io::Result<TcpListener> {
    let listener = std::net::TcpListener::bind((host, 0))?;
    listener.set_nonblocking(true)?;
    TcpListener::from_std(listener)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Connects to an upstream.
async fn dial(to: &Upstream) -> std::io::Result<TcpStream> {
    let stream = TcpStream::connect((to.host.as_str(), to.port)).await?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_moves_to_the_endpoint_and_keeps_its_credentials() {
        let addr: SocketAddr = "127.0.0.1:6000".parse().unwrap();
        assert_eq!(
            url_at("postgres://app:s3cret@127.0.0.1:5433/drill", addr),
            "postgres://app:s3cret@127.0.0.1:6000/drill"
        );
        assert_eq!(
            url_at("postgres://app@db.example:5432/drill?sslmode=disable", addr),
            "postgres://app@127.0.0.1:6000/drill?sslmode=disable"
        );
        assert_eq!(url_at("postgres://h:1", addr), "postgres://127.0.0.1:6000");
        assert_eq!(url_at("not a url", addr), "not a url");
    }
}

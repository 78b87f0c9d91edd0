//! Errors of the instance layer.
//!
//! Every variant carries what a user needs to act: the path, the command, the
//! log lines of a server that would not start, and (in its message) the next
//! step. Messages are lowercase fragments; the CLI prefixes them with `error:`.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while finding, provisioning or stopping a
/// disposable PostgreSQL instance.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No directory with `initdb` and `postgres` was found anywhere.
    #[error(
        "PostgreSQL server binaries (initdb, postgres) not found\n  searched:\n{}\n  install them: {install}\n  or point pgdrill at them: --pg-bin DIR or PGDRILL_PG_BIN=DIR",
        searched.iter().map(|s| format!("    - {s}")).collect::<Vec<_>>().join("\n")
    )]
    BinariesNotFound {
        /// Each place looked at, with what was found there.
        searched: Vec<String>,
        /// The install command for this platform.
        install: String,
    },

    /// An explicitly named binary directory lacks a server binary.
    #[error(
        "{origin} points at {dir}, which has no executable `{missing}`\n  point it at the directory that holds initdb and postgres (for example /usr/lib/postgresql/15/bin), or unset it to let pgdrill search"
    )]
    BadPgBin {
        /// The directory given.
        dir: PathBuf,
        /// Where it came from (`--pg-bin` or `PGDRILL_PG_BIN`).
        origin: String,
        /// The binary that is missing.
        missing: &'static str,
    },

    /// A binary ran but its version could not be read.
    #[error("could not read the version of {binary}: {detail}")]
    Version {
        /// The binary that was asked.
        binary: PathBuf,
        /// What went wrong.
        detail: String,
    },

    /// Running as root without an unprivileged user for the server.
    #[error(
        "PostgreSQL refuses to run as root, and there is no user `{user}` to run it as\n  create one (`useradd --system --home-dir /var/lib/postgresql --shell /usr/sbin/nologin postgres`; Debian's postgresql package does this), set PGDRILL_RUN_AS=<an unprivileged user>, or run pgdrill as a normal user"
    )]
    NoRunAsUser {
        /// The user looked up.
        user: String,
    },

    /// `PGDRILL_RUN_AS` named root or was used by a non-root caller.
    #[error("PGDRILL_RUN_AS={user} cannot be used: {why}")]
    BadRunAs {
        /// The user named.
        user: String,
        /// Why it cannot be used.
        why: String,
    },

    /// `--url` is not a PostgreSQL URL.
    #[error(
        "--url {url}: {why}\n  write postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (the password may come from PGPASSWORD)"
    )]
    ExternalUrl {
        /// The URL, its password hidden.
        url: String,
        /// What is wrong with it.
        why: String,
    },

    /// A server off this machine, not confirmed.
    #[error(
        "{host} is not this machine: drills create and drop `pgdrill_` databases and roles on it (and nothing else); add --yes to go ahead"
    )]
    ExternalNotConfirmed {
        /// The server's host.
        host: String,
    },

    /// The role of `--url` may not create databases and roles.
    #[error(
        "the role `{user}` lacks {missing}: a drill creates its own database and role. Use a role with CREATEDB and CREATEROLE (`ALTER ROLE {user} CREATEDB CREATEROLE;`) or a superuser; with a superuser, DDL typed in other clients is scored too"
    )]
    ExternalPrivileges {
        /// The role.
        user: String,
        /// The privileges it lacks.
        missing: String,
    },

    /// The Docker engine could not run a container of the image.
    #[error(
        "docker: {detail}\n  image: {image}\n  check the engine (`docker version`), and that the image exists (`docker images`; a machine without registry access builds pgdrill's with docker/build-postgres-image)"
    )]
    Docker {
        /// The image.
        image: String,
        /// What went wrong.
        detail: String,
    },

    /// A directory pgdrill needs could not be created, read or written.
    #[error("could not {action} {}: {source}", path.display())]
    Io {
        /// What pgdrill was doing.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// A directory is not safe to use (wrong owner, a symlink, ...).
    #[error("refusing to use {}: {why}", path.display())]
    UnsafeDir {
        /// The directory.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },

    /// The unprivileged server user cannot reach a directory.
    #[error(
        "user `{user}` (which runs PostgreSQL because pgdrill runs as root) cannot enter {}\n  make it traversable (`chmod o+x {}`) or choose another place with PGDRILL_RUNTIME_DIR",
        path.display(), path.display()
    )]
    NotTraversable {
        /// The directory that blocks the way.
        path: PathBuf,
        /// The server user.
        user: String,
    },

    /// A helper program (initdb, postgres --single, pg_ctl) failed.
    #[error("`{command}` failed ({status})\n{output}")]
    Command {
        /// The command line, for reproducing it by hand.
        command: String,
        /// Its exit status.
        status: String,
        /// What it printed.
        output: String,
    },

    /// The server exited during start-up.
    #[error("PostgreSQL exited while starting ({status}); the end of its log:\n{log_tail}")]
    StartFailed {
        /// Exit status of the postmaster.
        status: String,
        /// The last lines of the server log.
        log_tail: String,
    },

    /// A server started from a physical snapshot could not recover to
    /// its target.
    #[error("the restored server could not recover: {0}")]
    Recovery(String),

    /// The server did not become ready in time.
    #[error("PostgreSQL did not become ready within {waited:?}; the end of its log:\n{log_tail}")]
    StartTimeout {
        /// How long pgdrill waited.
        waited: Duration,
        /// The last lines of the server log.
        log_tail: String,
    },

    /// The server started but would not accept a connection.
    #[error("could not connect to the new instance at {url}: {detail}")]
    Connect {
        /// The URL (password redacted).
        url: String,
        /// What the driver said.
        detail: String,
    },

    /// A prepared database could not be kept in the cache.
    #[error("could not keep the prepared database in the cache: {0}")]
    Cache(String),

    /// A registry entry could not be read or written.
    #[error("instance registry entry {}: {detail}", path.display())]
    Registry {
        /// The entry file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

impl Error {
    /// True when the machine is not set up to run instances (binaries,
    /// users, directories), as opposed to one instance failing.
    pub fn is_environment(&self) -> bool {
        matches!(
            self,
            Error::BinariesNotFound { .. }
                | Error::BadPgBin { .. }
                | Error::Version { .. }
                | Error::NoRunAsUser { .. }
                | Error::BadRunAs { .. }
                | Error::UnsafeDir { .. }
                | Error::NotTraversable { .. }
                | Error::ExternalNotConfirmed { .. }
                | Error::ExternalPrivileges { .. }
                | Error::ExternalUrl { .. }
        )
    }

    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io {
            action,
            path,
            source,
        }
    }
}

//! Who runs the PostgreSQL server.
//!
//! PostgreSQL refuses to run as root, yet course machines and CI often run
//! everything as root. When our effective uid is 0 the server (and `initdb`)
//! run as an unprivileged user: `PGDRILL_RUN_AS`, else `postgres`. pgdrill
//! itself stays root: it creates the directories, hands them to that user,
//! and removes them afterwards. Otherwise everything runs as ourselves.

use std::path::Path;

use super::Error;

/// The identity server processes run under.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunAs {
    /// User name (for messages).
    pub user: String,
    /// Numeric user id.
    pub uid: u32,
    /// Numeric primary group id.
    pub gid: u32,
    /// True when this differs from our own identity (we are root).
    pub switched: bool,
}

impl RunAs {
    /// Decides who runs the server. `requested` is `PGDRILL_RUN_AS`.
    pub fn resolve(requested: Option<&str>) -> Result<RunAs, Error> {
        let euid = nix::unistd::geteuid();
        if !euid.is_root() {
            let me = nix::unistd::User::from_uid(euid).ok().flatten();
            let user = me
                .as_ref()
                .map_or_else(|| euid.to_string(), |u| u.name.clone());
            if let Some(req) = requested.filter(|r| *r != user) {
                return Err(Error::BadRunAs {
                    user: req.into(),
                    why: "it only applies when pgdrill runs as root; unset it".into(),
                });
            }
            return Ok(RunAs {
                user,
                uid: euid.as_raw(),
                gid: nix::unistd::getegid().as_raw(),
                switched: false,
            });
        }
        let name = requested.unwrap_or("postgres");
        let user = nix::unistd::User::from_name(name)
            .ok()
            .flatten()
            .ok_or_else(|| Error::NoRunAsUser { user: name.into() })?;
        if user.uid.is_root() {
            return Err(Error::BadRunAs {
                user: name.into(),
                why:
                    "it is uid 0, and PostgreSQL refuses to run as root; name an unprivileged user"
                        .into(),
            });
        }
        Ok(RunAs {
            user: user.name,
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            switched: true,
        })
    }

    /// Makes a command run as this identity (and in its own process group,
    /// so a terminal's Ctrl-C reaches pgdrill, which then stops the server
    /// in order, instead of reaching the server directly).
    pub fn prepare(&self, cmd: &mut std::process::Command) {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        if self.switched {
            cmd.uid(self.uid).gid(self.gid);
        }
    }

    /// Async twin of [`RunAs::prepare`] for tokio commands.
    pub fn prepare_tokio(&self, cmd: &mut tokio::process::Command) {
        cmd.process_group(0);
        if self.switched {
            cmd.uid(self.uid).gid(self.gid);
        }
    }

    /// Gives `path` to this identity (a no-op when not switched).
    pub fn chown(&self, path: &Path) -> Result<(), Error> {
        if self.switched {
            std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid))
                .map_err(Error::io("change the owner of", path))?;
        }
        Ok(())
    }
}

//! Finding the PostgreSQL server binaries.
//!
//! Search order: an explicit directory (`--pg-bin` / `PGDRILL_PG_BIN`), then
//! `initdb` on `PATH`, then `pg_config --bindir`, then the newest
//! `/usr/lib/postgresql/*/bin` (Debian and Ubuntu keep the server binaries
//! off `PATH`). An explicit directory is never second-guessed: if it is wrong
//! the user hears so, rather than silently getting another version.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::Error;

/// Where a binary directory came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// `--pg-bin DIR`.
    Flag,
    /// `PGDRILL_PG_BIN`.
    Env,
    /// `initdb` found on `PATH`.
    Path,
    /// `pg_config --bindir`.
    PgConfig,
    /// `/usr/lib/postgresql/<major>/bin`.
    Distribution,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Origin::Flag => "--pg-bin",
            Origin::Env => "PGDRILL_PG_BIN",
            Origin::Path => "PATH",
            Origin::PgConfig => "pg_config --bindir",
            Origin::Distribution => "/usr/lib/postgresql",
        })
    }
}

/// An explicit request for a binary directory.
#[derive(Debug, Clone)]
pub struct Requested {
    /// The directory.
    pub dir: PathBuf,
    /// `Flag` or `Env`.
    pub origin: Origin,
}

/// A usable set of PostgreSQL server binaries.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PgBinaries {
    /// The directory holding `initdb`, `postgres` and `pg_ctl`.
    pub bindir: PathBuf,
    /// How it was found.
    pub origin: Origin,
    /// `postgres --version`, e.g. `PostgreSQL 15.18 (Debian 15.18-0+deb12u1)`.
    pub version: String,
    /// The major version, e.g. 15.
    pub major: u32,
}

impl PgBinaries {
    /// Path of one binary in the directory.
    pub fn bin(&self, name: &str) -> PathBuf {
        self.bindir.join(name)
    }

    /// Finds binaries, honouring an explicit request first.
    pub fn locate(requested: Option<&Requested>) -> Result<PgBinaries, Error> {
        if let Some(req) = requested {
            for missing in ["initdb", "postgres"] {
                if !is_executable(&req.dir.join(missing)) {
                    return Err(Error::BadPgBin {
                        dir: req.dir.clone(),
                        origin: req.origin.to_string(),
                        missing,
                    });
                }
            }
            return PgBinaries::at(req.dir.clone(), req.origin.clone());
        }

        let mut searched = Vec::new();
        let candidates = [
            (Origin::Path, from_path(&mut searched)),
            (Origin::PgConfig, from_pg_config(&mut searched)),
            (Origin::Distribution, from_distribution(&mut searched)),
        ];
        for (origin, dir) in candidates {
            if let Some(dir) = dir {
                if is_server_dir(&dir) {
                    return PgBinaries::at(dir, origin);
                }
                searched.push(format!(
                    "{origin}: {} has no initdb/postgres",
                    dir.display()
                ));
            }
        }
        Err(Error::BinariesNotFound {
            searched,
            install: install_hint(),
        })
    }

    fn at(bindir: PathBuf, origin: Origin) -> Result<PgBinaries, Error> {
        let postgres = bindir.join("postgres");
        let out = Command::new(&postgres)
            .arg("--version")
            .output()
            .map_err(|e| Error::Version {
                binary: postgres.clone(),
                detail: e.to_string(),
            })?;
        let text = String::from_utf8_lossy(&out.stdout);
        let (version, major) = parse_version(&text).ok_or_else(|| Error::Version {
            binary: postgres.clone(),
            detail: format!("unexpected output {:?}", text.trim()),
        })?;
        Ok(PgBinaries {
            bindir,
            origin,
            version,
            major,
        })
    }
}

/// Parses `postgres (PostgreSQL) 15.18 (Debian ...)` into
/// (`PostgreSQL 15.18 (Debian ...)`, 15).
fn parse_version(text: &str) -> Option<(String, u32)> {
    let line = text.lines().next()?.trim();
    let rest = line.strip_prefix("postgres (PostgreSQL) ")?;
    let major = rest
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()?;
    Some((format!("PostgreSQL {rest}"), major))
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn is_server_dir(dir: &Path) -> bool {
    is_executable(&dir.join("initdb")) && is_executable(&dir.join("postgres"))
}

fn from_path(searched: &mut Vec<String>) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let initdb = dir.join("initdb");
        if is_executable(&initdb) {
            // /usr/local/bin/initdb is often a symlink into the real bindir,
            // next to which `postgres` and `pg_ctl` live.
            let real = std::fs::canonicalize(&initdb).unwrap_or(initdb);
            return real.parent().map(Path::to_path_buf);
        }
    }
    searched.push("PATH: no initdb".into());
    None
}

fn from_pg_config(searched: &mut Vec<String>) -> Option<PathBuf> {
    match Command::new("pg_config").arg("--bindir").output() {
        Ok(out) if out.status.success() => {
            let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
            Some(PathBuf::from(dir))
        }
        Ok(_) => {
            searched.push("pg_config --bindir: failed".into());
            None
        }
        Err(_) => {
            searched.push("pg_config --bindir: no pg_config on PATH".into());
            None
        }
    }
}

fn from_distribution(searched: &mut Vec<String>) -> Option<PathBuf> {
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let major: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            is_server_dir(&bin).then_some((major, bin))
        })
        .max_by_key(|(major, _)| *major);
    if newest.is_none() {
        searched.push("/usr/lib/postgresql/*/bin: none".into());
    }
    newest.map(|(_, bin)| bin)
}

/// The command that installs the server binaries on this platform.
pub fn install_hint() -> String {
    let sudo = if nix::unistd::geteuid().is_root() {
        ""
    } else {
        "sudo "
    };
    if cfg!(target_os = "macos") {
        return "brew install postgresql@15".into();
    }
    let os_release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    let ids: Vec<&str> = os_release
        .lines()
        .filter_map(|l| l.strip_prefix("ID=").or_else(|| l.strip_prefix("ID_LIKE=")))
        .flat_map(|v| v.trim_matches('"').split_whitespace())
        .collect();
    let has = |id: &str| ids.contains(&id);
    if has("debian") || has("ubuntu") {
        format!("{sudo}apt-get install -y postgresql")
    } else if has("fedora") || has("rhel") || has("centos") {
        format!("{sudo}dnf install -y postgresql-server")
    } else if has("arch") {
        format!("{sudo}pacman -S postgresql")
    } else if has("alpine") {
        format!("{sudo}apk add postgresql")
    } else if has("opensuse") || has("suse") {
        format!("{sudo}zypper install postgresql-server")
    } else {
        "install the PostgreSQL server package of your distribution".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_debian_version() {
        let (v, major) =
            parse_version("postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n").unwrap();
        assert_eq!(v, "PostgreSQL 15.18 (Debian 15.18-0+deb12u1)");
        assert_eq!(major, 15);
    }

    #[test]
    fn parses_development_version() {
        assert_eq!(
            parse_version("postgres (PostgreSQL) 18beta1").unwrap().1,
            18
        );
    }

    #[test]
    fn rejects_other_output() {
        assert!(parse_version("bash: postgres: not found").is_none());
    }

    #[test]
    fn explicit_dir_without_binaries_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let req = Requested {
            dir: dir.path().into(),
            origin: Origin::Flag,
        };
        let err = PgBinaries::locate(Some(&req)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("--pg-bin"), "{msg}");
        assert!(msg.contains("initdb"), "{msg}");
        assert!(err.is_environment());
    }
}

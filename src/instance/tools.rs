//! The PostgreSQL client programs that snapshots and restores run, and
//! where they run: this machine's (the local backend), or the container's
//! own, through the Docker API (the Docker backend), so a Docker drill needs
//! no PostgreSQL program on the host. Passwords travel in the programs'
//! environment, never in their arguments.

use std::path::{Path, PathBuf};

use testcontainers::bollard::Docker;
use testcontainers::bollard::exec::{CreateExecOptions, StartExecResults};
use tokio::io::AsyncWriteExt;

/// Where an instance's client programs run.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Tools {
    /// Programs of this machine, in this directory.
    Host {
        /// The directory holding `pg_dump` and `pg_restore`.
        bin_dir: PathBuf,
    },
    /// Programs inside the instance's container, which reach the server on
    /// its own port 5432.
    Container {
        /// The container's id.
        id: String,
    },
}

/// A session setting for pg_restore's sessions: pgdrill's own, so the DDL
/// audit does not count its DDL as the learner's.
fn own_options() -> String {
    format!("-c {}=on", super::OWN_SESSION)
}

impl Tools {
    /// A custom-format `pg_dump` of `url`'s database into `file`.
    pub async fn dump(&self, url: &str, file: &Path) -> Result<(), String> {
        match self {
            Tools::Host { bin_dir } => {
                let output = super::client_tool(&bin_dir.join("pg_dump"), url)
                    .arg("--format=custom")
                    .arg("--file")
                    .arg(file)
                    .output()
                    .await
                    .map_err(|e| e.to_string())?;
                exited("pg_dump", output.status.success(), &output.stderr)
            }
            Tools::Container { id } => {
                let out = exec(id, url, "pg_dump", &["--format=custom"], None).await?;
                tokio::fs::write(file, &out.stdout)
                    .await
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                exited("pg_dump", out.ok, &out.stderr)
            }
        }
    }

    /// `pg_restore` of `file` into `url`'s database; with `clean`, over
    /// what is there (`--clean --if-exists`).
    pub async fn restore(&self, url: &str, file: &Path, clean: bool) -> Result<(), String> {
        let mut args = Vec::new();
        if clean {
            args.extend(["--clean", "--if-exists"]);
        }
        match self {
            Tools::Host { bin_dir } => {
                let output = super::client_tool(&bin_dir.join("pg_restore"), url)
                    .args(&args)
                    .arg(file)
                    .env("PGAPPNAME", "pg_restore")
                    .env("PGOPTIONS", own_options())
                    .output()
                    .await
                    .map_err(|e| format!("pg_restore: {e}"))?;
                exited("pg_restore", output.status.success(), &output.stderr)
            }
            Tools::Container { id } => {
                let input = tokio::fs::read(file)
                    .await
                    .map_err(|e| format!("{}: {e}", file.display()))?;
                let out = exec(id, url, "pg_restore", &args, Some(input)).await?;
                exited("pg_restore", out.ok, &out.stderr)
            }
        }
    }
}

fn exited(program: &str, ok: bool, stderr: &[u8]) -> Result<(), String> {
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{program} failed: {}",
            String::from_utf8_lossy(stderr).trim()
        ))
    }
}

/// What a program run in a container printed, and whether it succeeded.
struct Exec {
    ok: bool,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// The connection a program inside the container uses: the URL's user and
/// database on the container's own port, the password apart.
fn inside(url: &str) -> Result<(String, Option<String>), String> {
    let (bare, password) = super::split_password(url);
    let scheme = bare.find("://").ok_or("not a postgres:// URL")? + 3;
    let at = bare.rfind('@').ok_or("a URL without a user")?;
    let slash = bare[at..]
        .find('/')
        .map(|s| at + s)
        .ok_or("a URL without a database")?;
    let user = &bare[scheme..at];
    let database = &bare[slash + 1..];
    Ok((
        format!("postgres://{user}@127.0.0.1:5432/{database}"),
        password,
    ))
}

/// Runs `program` in container `id` against `url`, with `stdin` fed to it.
async fn exec(
    id: &str,
    url: &str,
    program: &str,
    args: &[&str],
    stdin: Option<Vec<u8>>,
) -> Result<Exec, String> {
    use futures::StreamExt;
    let docker = Docker::connect_with_local_defaults().map_err(|e| e.to_string())?;
    let (url, password) = inside(url)?;
    let mut cmd = vec![program.to_string(), "--dbname".into(), url];
    cmd.extend(args.iter().map(|a| a.to_string()));
    let mut env = vec![
        format!("PGAPPNAME={program}"),
        format!("PGOPTIONS={}", own_options()),
    ];
    env.extend(password.map(|p| format!("PGPASSWORD={p}")));
    let created = docker
        .create_exec(
            id,
            CreateExecOptions {
                cmd: Some(cmd),
                env: Some(env),
                attach_stdin: Some(stdin.is_some()),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("{program} in container {id}: {e}"))?;
    let started = docker
        .start_exec(&created.id, None)
        .await
        .map_err(|e| format!("{program} in container {id}: {e}"))?;
    let StartExecResults::Attached {
        mut output,
        mut input,
    } = started
    else {
        return Err(format!("{program} in container {id}: not attached"));
    };
    let feed = async move {
        if let Some(bytes) = stdin {
            input.write_all(&bytes).await?;
        }
        input.shutdown().await
    };
    let read = async {
        let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
        while let Some(chunk) = output.next().await {
            use testcontainers::bollard::container::LogOutput;
            match chunk.map_err(|e| e.to_string())? {
                LogOutput::StdOut { message } => stdout.extend_from_slice(&message),
                LogOutput::StdErr { message } => stderr.extend_from_slice(&message),
                _ => {}
            }
        }
        Ok::<_, String>((stdout, stderr))
    };
    let (fed, read) = tokio::join!(feed, read);
    let (stdout, mut stderr) = read?;
    if let Err(e) = fed {
        stderr.extend_from_slice(format!("\n(writing its input: {e})").as_bytes());
    }
    let inspected = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| format!("{program} in container {id}: {e}"))?;
    Ok(Exec {
        ok: inspected.exit_code == Some(0),
        stdout,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_program_in_the_container_reaches_the_server_on_its_own_port() {
        assert_eq!(
            inside("postgres://postgres:s3cret@127.0.0.1:49153/pgdrill").unwrap(),
            (
                "postgres://postgres@127.0.0.1:5432/pgdrill".to_string(),
                Some("s3cret".to_string())
            )
        );
    }
}

//! One run of the `pgdrill` binary, built fluently and checked in one
//! place (just's `Test` is the model):
//!
//! ```ignore
//! let out = env.run(["score", "t.json"]).code(1).stdout_has("FAIL").go();
//! ```
//!
//! It runs from the repository root (scenarios resolve as in the README)
//! with the test's own directories, and on a failed expectation prints the
//! command, its exit code and both streams.

use std::ffi::OsStr;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A run of `pgdrill` with what is expected of it.
pub struct Run {
    cmd: Command,
    stdin: Option<Vec<u8>>,
    code: Option<i32>,
    checks: Vec<(Stream, Check)>,
}

#[derive(Clone, Copy, Debug)]
enum Stream {
    Stdout,
    Stderr,
}

enum Check {
    Has(String),
    Lacks(String),
    Is(String),
}

/// What a run printed and how it ended.
pub struct Ran {
    /// The exit code (`None` when a signal ended it).
    pub code: Option<i32>,
    /// Standard output, as text.
    pub stdout: String,
    /// Standard error, as text.
    pub stderr: String,
}

impl Ran {
    /// Standard output as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{}", self.stdout))
    }
}

impl Run {
    pub(crate) fn new(cmd: Command) -> Run {
        let mut cmd = cmd;
        cmd.current_dir(root());
        Run {
            cmd,
            stdin: None,
            code: None,
            checks: Vec::new(),
        }
    }

    /// More arguments.
    pub fn args<I, S>(mut self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.cmd.args(args);
        self
    }

    /// One more argument (a path, say).
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Run {
        self.cmd.arg(arg);
        self
    }

    /// An environment variable.
    pub fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Run {
        self.cmd.env(key, value);
        self
    }

    /// Without an environment variable the test's own may have set.
    pub fn env_remove(mut self, key: &str) -> Run {
        self.cmd.env_remove(key);
        self
    }

    /// Runs in another directory than the repository root.
    pub fn dir(mut self, dir: &Path) -> Run {
        self.cmd.current_dir(dir);
        self
    }

    /// What standard input reads (else it is empty).
    pub fn stdin(mut self, text: impl Into<Vec<u8>>) -> Run {
        self.stdin = Some(text.into());
        self
    }

    /// The exit code expected.
    pub fn code(mut self, code: i32) -> Run {
        self.code = Some(code);
        self
    }

    /// Exit code 0 expected.
    pub fn success(self) -> Run {
        self.code(0)
    }

    /// Standard output must contain `text`.
    pub fn stdout_has(mut self, text: &str) -> Run {
        self.checks.push((Stream::Stdout, Check::Has(text.into())));
        self
    }

    /// Standard output must not contain `text`.
    pub fn stdout_lacks(mut self, text: &str) -> Run {
        self.checks
            .push((Stream::Stdout, Check::Lacks(text.into())));
        self
    }

    /// Standard output must be exactly `text` (ends of lines trimmed).
    pub fn stdout_is(mut self, text: &str) -> Run {
        self.checks.push((Stream::Stdout, Check::Is(text.into())));
        self
    }

    /// Standard error must contain `text`.
    pub fn stderr_has(mut self, text: &str) -> Run {
        self.checks.push((Stream::Stderr, Check::Has(text.into())));
        self
    }

    /// Standard error must not contain `text`.
    pub fn stderr_lacks(mut self, text: &str) -> Run {
        self.checks
            .push((Stream::Stderr, Check::Lacks(text.into())));
        self
    }

    /// Runs it and checks every expectation.
    pub fn go(mut self) -> Ran {
        let shown = format!("{:?}", self.cmd);
        let mut child = self
            .cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {shown}: {e}"));
        let input = self.stdin.take().unwrap_or_default();
        let mut stdin = child.stdin.take().expect("a piped stdin");
        let writer = std::thread::spawn(move || {
            // A program that exits without reading all of it is fine.
            let _ = stdin.write_all(&input);
        });
        let out = child.wait_with_output().expect("the run finishes");
        let _ = writer.join();
        let ran = Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        let fail = |why: String| -> ! {
            panic!(
                "{why}\ncommand: {shown}\nexit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
                ran.code, ran.stdout, ran.stderr
            )
        };
        if let Some(code) = self.code
            && ran.code != Some(code)
        {
            fail(format!("expected exit code {code}"));
        }
        for (stream, check) in &self.checks {
            let text = match stream {
                Stream::Stdout => &ran.stdout,
                Stream::Stderr => &ran.stderr,
            };
            match check {
                Check::Has(t) if !text.contains(t.as_str()) => {
                    fail(format!("{stream:?} lacks {t:?}"))
                }
                Check::Lacks(t) if text.contains(t.as_str()) => {
                    fail(format!("{stream:?} has {t:?}"))
                }
                Check::Is(t) if text.trim_end() != t.trim_end() => {
                    fail(format!("{stream:?} is not {t:?}"))
                }
                _ => {}
            }
        }
        ran
    }
}

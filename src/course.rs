//! The course set built into the binary: every scenario (with its
//! solutions and fixtures) and quiz of this release, so that a pgdrill
//! installed with `cargo install` or copied to another machine plays them
//! from any directory. They are written out once per build into the cache
//! (`course/VERSION-HASH/`), where the loaders read them like any folder;
//! a folder given with `--scenarios`/`--quizzes`, or `./scenarios` and
//! `./quizzes` in the working directory, takes precedence.

use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/course.rs"));

/// Where the built-in set lives once written out under `cache`; writes it
/// the first time (into a staging directory renamed into place, so a
/// half-written set is never read).
pub fn folder(cache: &Path) -> std::io::Result<PathBuf> {
    let dir = cache
        .join("course")
        .join(format!("{}-{TAG}", env!("CARGO_PKG_VERSION")));
    if dir.is_dir() {
        return Ok(dir);
    }
    let staging = cache
        .join("course")
        .join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    for (path, bytes) in FILES {
        let target = staging.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&target, bytes)?;
    }
    match std::fs::rename(&staging, &dir) {
        Ok(()) => Ok(dir),
        // Another pgdrill wrote it first.
        Err(_) if dir.is_dir() => {
            let _ = std::fs::remove_dir_all(&staging);
            Ok(dir)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_set_is_every_course_file_and_is_written_once() {
        assert!(
            FILES
                .iter()
                .any(|(p, _)| *p == "scenarios/mixed-version-rename.toml")
        );
        assert!(FILES.iter().any(|(p, _)| *p == "quizzes/chapter-16.toml"));
        assert!(FILES.iter().any(|(p, _)| p.starts_with("fixtures/")));
        let cache = tempfile::tempdir().unwrap();
        let dir = folder(cache.path()).unwrap();
        assert!(dir.join("scenarios/lock-queue.toml").is_file());
        assert_eq!(folder(cache.path()).unwrap(), dir, "written once");
    }
}

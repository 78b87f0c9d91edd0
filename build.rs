//! Embeds the course set (scenarios, their solutions and fixtures, quizzes)
//! in the binary, so an installed pgdrill plays them from any directory
//! (`src/course.rs` writes them out once per build).

use std::path::{Path, PathBuf};

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, out);
        } else {
            out.push(path);
        }
    }
}

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let mut files = Vec::new();
    for dir in ["scenarios", "fixtures", "quizzes"] {
        println!("cargo:rerun-if-changed={dir}");
        walk(&root.join(dir), &mut files);
    }
    files.sort();
    // The tag of this set, so a new build writes its own copy once and
    // the binary never hashes its files at start-up.
    let mut hasher = std::hash::DefaultHasher::new();
    for f in &files {
        use std::hash::Hash;
        f.strip_prefix(&root)
            .expect("under the root")
            .hash(&mut hasher);
        std::fs::read(f)
            .expect("a course file reads")
            .hash(&mut hasher);
    }
    let tag = std::hash::Hasher::finish(&hasher);
    let mut code = format!(
        "/// A hash of the course set, naming its folder in the cache.\npub const TAG: &str = \"{tag:016x}\";\n"
    );
    code.push_str(
        "/// The course set: (path in the repository, contents).\npub const FILES: &[(&str, &[u8])] = &[\n",
    );
    for f in &files {
        let rel = f.strip_prefix(&root).expect("under the root");
        code.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            rel.to_string_lossy(),
            f.to_string_lossy()
        ));
    }
    code.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets it")).join("course.rs");
    std::fs::write(out, code).expect("OUT_DIR is writable");
}

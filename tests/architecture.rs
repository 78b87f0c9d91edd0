//! ARCHITECTURE.md's table of module dependencies, held against the code:
//! every `crate::MODULE` a module's code names (its tests aside) must be in
//! its row.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

fn allowed(architecture: &str) -> BTreeMap<String, Option<BTreeSet<String>>> {
    let section = architecture
        .split("## Module dependencies")
        .nth(1)
        .expect("ARCHITECTURE.md has a Module dependencies section");
    let mut rows = BTreeMap::new();
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        let module = cells[1].trim_matches('`').to_string();
        let uses = if cells[2] == "every module" {
            None
        } else if cells[2].starts_with('(') {
            Some(BTreeSet::new())
        } else {
            Some(cells[2].split(", ").map(String::from).collect())
        };
        rows.insert(module, uses);
    }
    rows
}

/// The modules a source file's code (before its tests) names.
fn named(code: &str) -> BTreeSet<String> {
    let code = code.split("#[cfg(test)]").next().unwrap_or(code);
    let mut out = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let groups: Vec<&str> = if let Some(inner) = rest.strip_prefix('{') {
            let inner = &inner[..inner.find('}').unwrap_or(inner.len())];
            inner.split(',').collect()
        } else {
            vec![rest]
        };
        for g in groups {
            let word: String = g
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            match word.as_str() {
                "" | "self" => {}
                "Error" | "Exit" => {
                    out.insert("error".to_string());
                }
                "did_you_mean" | "is_plain_name" => {
                    out.insert("text".to_string());
                }
                w => {
                    out.insert(w.to_string());
                }
            }
        }
    }
    out
}

fn walk(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            walk(&path, files);
        } else if path.extension().is_some_and(|x| x == "rs") {
            files.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_what_architecture_md_allows() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let rows = allowed(&std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap());
    let src = root.join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut problems = Vec::new();
    for file in files {
        let rel = file.strip_prefix(&src).unwrap();
        let name = file.file_name().unwrap().to_string_lossy();
        // Test-only files, and the crate's root (it declares the modules).
        if name == "tests.rs"
            || name.starts_with("tests_")
            || rel.to_str() == Some("lib.rs")
            || rel.to_str() == Some("main.rs")
        {
            continue;
        }
        let module = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_string();
        let Some(row) = rows.get(&module) else {
            problems.push(format!(
                "src/{module} has no row in ARCHITECTURE.md's table"
            ));
            continue;
        };
        let Some(may) = row else { continue };
        let code = std::fs::read_to_string(&file).unwrap();
        for used in named(&code) {
            if used != module && !may.contains(&used) {
                problems.push(format!(
                    "src/{}: `{module}` uses `{used}`, which its row does not allow",
                    rel.display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Functions of a file longer than `max` lines: from a line that starts a
/// `fn` to the closing brace at its indentation.
fn long_functions(code: &str, max: usize) -> Vec<(usize, String, usize)> {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let body = line.trim_start();
        let indent = &line[..line.len() - body.len()];
        let body = ["pub(crate) ", "pub(super) ", "pub "]
            .iter()
            .find_map(|p| body.strip_prefix(p))
            .unwrap_or(body);
        let body = body.strip_prefix("async ").unwrap_or(body);
        let Some(rest) = body.strip_prefix("fn ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let closing = format!("{indent}}}");
        if let Some(end) = lines[i + 1..].iter().position(|l| *l == closing)
            && end + 2 > max
        {
            out.push((i + 1, name, end + 2));
        }
    }
    out
}

/// STYLE.md's sizes: a function says one thing (at most ~120 lines), a
/// file holds one part (at most ~700); split by what the parts mean.
#[test]
fn no_function_over_120_lines_and_no_file_over_700() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    let mut problems = Vec::new();
    for file in files {
        let code = std::fs::read_to_string(&file).unwrap();
        let rel = file.strip_prefix(&src).unwrap().display();
        let lines = code.lines().count();
        if lines > 700 {
            problems.push(format!("src/{rel}: {lines} lines"));
        }
        for (at, name, len) in long_functions(&code, 120) {
            problems.push(format!("src/{rel}:{at}: fn {name} is {len} lines"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_size_check_measures_functions() {
    let code = "fn a() {\n    x();\n}\n\n    pub(super) async fn b() {\n        y();\n        z();\n    }\n";
    assert_eq!(long_functions(code, 3), vec![(5, "b".to_string(), 4)]);
}

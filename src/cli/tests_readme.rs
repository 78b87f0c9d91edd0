//! The README's command lines are commands pgdrill takes.

use std::path::Path;

/// Every command line the README shows: those of its shell blocks
/// (`cargo run -- ...`, joined across `\` continuations) and the inline
/// `pgdrill ...` ones that are not synopses (no `[`, `|` or `...`), with
/// their placeholders (`FILE`) filled in.
fn command_lines(readme: &str) -> Vec<(bool, Vec<String>)> {
    let mut lines = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_block = !in_block;
            continue;
        }
        if in_block {
            // The command alone: not its comment, nor the shell's
            // redirections and pipes.
            let code = line.split(" #").next().unwrap_or("").trim();
            let code = [" < ", " > ", " | "]
                .iter()
                .fold(code, |c, sep| c.split(sep).next().unwrap_or(c));
            if let Some(rest) = code
                .strip_prefix("cargo run -- ")
                .or_else(|| (!pending.is_empty()).then_some(code))
            {
                pending.push_str(rest.trim_end_matches('\\'));
                pending.push(' ');
                if !code.ends_with('\\') {
                    lines.push((true, std::mem::take(&mut pending)));
                }
            }
            continue;
        }
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 1
                && let Some(rest) = part.strip_prefix("pgdrill ")
                && !rest.contains(['[', '|'])
                && !rest.contains("...")
            {
                lines.push((false, rest.to_string()));
            }
        }
    }
    lines
        .into_iter()
        .map(|(whole, l)| {
            let args = std::iter::once("pgdrill".to_string())
                .chain(l.split_whitespace().map(|w| {
                    let placeholder = w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase());
                    match w {
                        "COMMAND" => "run".to_string(),
                        _ if placeholder => "x".to_string(),
                        _ => w.to_string(),
                    }
                }))
                .collect();
            (whole, args)
        })
        .collect()
}

#[test]
fn every_command_line_in_the_readme_parses_and_names_files_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let commands = command_lines(&readme);
    assert!(commands.len() > 30, "found only {}", commands.len());
    for (whole, args) in &commands {
        if let Err(e) = super::parse(args) {
            use clap::error::ErrorKind;
            // `--help` is a parse "error" that prints help; prose may name
            // a command without its arguments (`pgdrill run`), but never
            // one that does not exist or an option it does not take.
            let named = !whole && e.kind() == ErrorKind::MissingRequiredArgument;
            assert!(
                named || e.kind() == ErrorKind::DisplayHelp,
                "README: `{}` does not parse:\n{e}",
                args.join(" ")
            );
        }
        for arg in args.iter().skip(1) {
            let shipped = ["scenarios/", "quizzes/", "fixtures/"];
            if shipped.iter().any(|d| arg.starts_with(d)) {
                assert!(
                    root.join(arg).exists(),
                    "README names {arg}, which does not exist"
                );
            }
        }
    }
}

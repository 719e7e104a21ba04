//! The aggregates are laid out alike (issue 14 item 7): `case/`, `consultation/` and
//! `reward/nomination/` are directories whose `mod.rs` holds the aggregate and a `decide` that
//! hands each command to a function of its own, with the shapes in `command.rs`, `event.rs`,
//! `error.rs` and `types.rs`. These tests read the sources, so a stream that grows back into one
//! long file or one long `decide` fails here, not in a review.

use std::path::{Path, PathBuf};

/// The most lines a function of a split aggregate may span. `evolve` is exempt: it is one flat
/// match with one short arm per recorded event, and splitting it would only scatter the fold.
const MAX_FUNCTION_LINES: usize = 100;

/// The most lines one file of a split aggregate may hold.
const MAX_FILE_LINES: usize = 700;

const SPLIT_AGGREGATES: &[&str] = &["case", "consultation", "reward/nomination"];

fn source_dir(module: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(module)
}

fn sources(module: &str) -> Vec<(PathBuf, String)> {
    let dir = source_dir(module);
    let mut files: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{} is not a directory: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "rs"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect();
    files.sort();
    files
}

/// `(name, first line, number of lines)` of every `fn` in `text` whose body closes on a line of
/// its own at the indentation it opened with (what rustfmt writes).
fn functions(text: &str) -> Vec<(String, usize, usize)> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found = Vec::new();
    for (start, line) in lines.iter().enumerate() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        let signature = [
            "pub fn ",
            "pub(super) fn ",
            "pub(crate) fn ",
            "fn ",
            "async fn ",
        ]
        .iter()
        .find_map(|prefix| trimmed.strip_prefix(prefix));
        // A declaration without a body, or a body on the signature's line, spans one line.
        let (Some(signature), false) = (signature, trimmed.ends_with(['}', ';'])) else {
            continue;
        };
        let name: String = signature
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect();
        let closing = format!("{indent}}}");
        if let Some(end) = (start + 1..lines.len()).find(|&i| lines[i] == closing) {
            found.push((name, start + 1, end - start + 1));
        }
    }
    found
}

#[test]
fn split_aggregates_have_the_files_of_case() {
    for module in SPLIT_AGGREGATES {
        for file in ["mod.rs", "command.rs", "event.rs", "error.rs", "types.rs"] {
            let path = source_dir(module).join(file);
            assert!(path.is_file(), "{} is missing", path.display());
        }
    }
}

#[test]
fn every_file_of_a_split_aggregate_opens_with_a_module_doc() {
    for module in SPLIT_AGGREGATES {
        for (path, text) in sources(module) {
            assert!(
                text.starts_with("//! "),
                "{} does not open with a `//!` saying what lives there",
                path.display()
            );
        }
    }
}

#[test]
fn consultation_and_nomination_keep_files_and_functions_short() {
    for module in ["consultation", "reward/nomination"] {
        for (path, text) in sources(module) {
            let n_lines = text.lines().count();
            assert!(
                n_lines <= MAX_FILE_LINES,
                "{} has {n_lines} lines (at most {MAX_FILE_LINES})",
                path.display()
            );
            for (name, line, n_lines) in functions(&text) {
                if name == "evolve" {
                    continue;
                }
                assert!(
                    n_lines <= MAX_FUNCTION_LINES,
                    "{}:{line}: fn {name} spans {n_lines} lines (at most {MAX_FUNCTION_LINES})",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn the_function_scan_measures_what_rustfmt_writes() {
    let text =
        "impl A {\n    pub fn decide(&self) {\n        one();\n    }\n\n    fn other() {}\n}\n";
    assert_eq!(functions(text), vec![("decide".to_owned(), 2, 3)]);
}

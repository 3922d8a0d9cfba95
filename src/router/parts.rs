//! The parts of a repository an instruction names by what they are rather than by file name:
//! "the deploy script", "the pagination helper", "in the utils folder", "in package geo",
//! "under `src/api/`". A file belongs to such a part when its path (for a folder) or its path
//! or text (for the rest) holds the part's name; `scope` skips the files that belong to none.
//!
//! Owns the reading of those phrases and the matching only; the decision is `scope`'s.

use super::words;

/// A part of the repository an instruction names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// As the instruction gives it ("the deploy script").
    pub shown: String,
    /// The lower-case name that must occur: a word's stem, or a folder's path.
    name: String,
    /// Whether only the file's folders can hold the name (a folder), or its path and text too.
    folder: bool,
}

impl Part {
    /// Whether the file at `path` with `content` belongs to the part: for a folder, one of the
    /// file's folders is it; otherwise its path or text holds the name's stem ("pagination"
    /// is in `paginate.ts`, "config" in `ConfigLoader.java` and in the code that calls it).
    pub fn holds(&self, path: &str, content: &str) -> bool {
        let path = path.to_lowercase();
        if self.folder {
            let dirs = match path.rsplit_once('/') {
                Some((dirs, _)) => format!("/{dirs}/"),
                None => return false,
            };
            return dirs.contains(&format!("/{}/", self.name));
        }
        path.contains(&self.name) || content.to_lowercase().contains(&self.name)
    }
}

/// Nouns for a part of the code named by the word before them ("the deploy script").
const PART_NOUNS: &[&str] = &[
    "script",
    "helper",
    "helpers",
    "loader",
    "module",
    "package",
    "service",
    "handler",
    "handlers",
    "controller",
    "middleware",
    "client",
    "parser",
    "plugin",
    "component",
    "command",
    "page",
    "view",
    "library",
    "worker",
    "endpoint",
    "endpoints",
    "routes",
    "migration",
    "schema",
];

/// Nouns for a folder named by the word before them ("the utils folder").
const FOLDER_NOUNS: &[&str] = &["folder", "directory", "dir"];

/// Words that describe rather than name a part ("the main module", "the Python package").
const NOT_NAMES: &[&str] = &[
    "main",
    "new",
    "old",
    "whole",
    "entire",
    "existing",
    "current",
    "other",
    "following",
    "public",
    "private",
    "exported",
    "shared",
    "common",
    "same",
    "test",
    "tests",
    "unit",
    "integration",
    "own",
    "root",
    "top",
    "first",
    "last",
    "slow",
    "broken",
    "default",
    "custom",
    "internal",
    "external",
    "given",
    "relevant",
    "only",
    "single",
    "each",
    "every",
    "all",
    "this",
    "that",
    "python",
    "rust",
    "javascript",
    "typescript",
    "go",
    "golang",
    "java",
    "c",
    "shell",
    "bash",
    "node",
    "react",
    "vue",
    "npm",
    "cargo",
    "pip",
    "build",
    "source",
];

/// Words that say the edit reaches past the part: a rename's callers, "everywhere".
const REACHES_PAST: &[&str] = &[
    "rename",
    "renames",
    "everywhere",
    "across",
    "callers",
    "caller",
    "usages",
    "uses",
    "codebase",
    "repo",
    "repository",
    "project",
];

/// The parts the instruction's clauses name, or none unless every clause names one. A clause
/// that only points back ("and document it") names the part before it. An instruction whose
/// edit reaches past a part (a rename, "… and every caller") names none.
pub fn named(clauses: &[String]) -> Vec<Part> {
    let mut parts = Vec::new();
    // "in the tests, replace …": a clause that only places names the part of the next one.
    let mut carried = false;
    for clause in clauses {
        let lower = clause.to_lowercase();
        let words = words::as_written(&lower);
        if words.iter().any(|w| REACHES_PAST.contains(w)) {
            return Vec::new();
        }
        let found = clause_parts(&words);
        if found.is_empty() {
            if points_back(&words) || std::mem::take(&mut carried) {
                continue;
            }
            return Vec::new();
        }
        carried = words.first().is_some_and(|w| PLACING.contains(w));
        parts.extend(found);
    }
    parts
}

/// A short clause whose object is a pronoun ("document it", "and add tests for them").
fn points_back(words: &[&str]) -> bool {
    words.len() <= 4 && words.iter().any(|w| matches!(*w, "it" | "them"))
}

/// Words that place what follows them.
const PLACING: &[&str] = &["in", "inside", "within", "under"];

/// The parts one clause names.
fn clause_parts(words: &[&str]) -> Vec<Part> {
    let mut parts = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let before = |back: usize| i.checked_sub(back).map(|j| words[j]);
        let determiner = |w: Option<&str>| matches!(w, Some("the" | "our" | "my" | "this"));
        let placing = |w: Option<&str>| w.is_some_and(|w| PLACING.contains(&w));
        // "in the tests", "in the test files": the tests, wherever they live (`tests/`,
        // `*_test.go`, a `#[cfg(test)]` module).
        if placing(before(2)) && determiner(before(1)) && is_tests(word, words.get(i + 1)) {
            parts.push(word_part("the tests".to_owned(), "test"));
            parts.push(word_part("the specs".to_owned(), "spec"));
            continue;
        }
        // "under src/api/", "in `web/components`": a folder by its path.
        if placing(before(1)) || placing(before(2)) && determiner(before(1)) {
            if let Some(path) = folder_path(word) {
                parts.push(Part {
                    shown: format!("{path}/"),
                    name: path,
                    folder: true,
                });
                continue;
            }
        }
        // "in package geo" (Go's way of naming one).
        if *word == "package" && placing(before(1)) {
            if let Some(name) = words.get(i + 1).filter(|n| is_name(n)) {
                parts.push(word_part(format!("package {name}"), name));
            }
            continue;
        }
        let folder = FOLDER_NOUNS.contains(word);
        if !(folder || PART_NOUNS.contains(word)) || !determiner(before(2)) {
            continue;
        }
        let Some(name) = before(1).filter(|n| is_name(n)) else {
            continue;
        };
        let shown = format!("the {name} {word}");
        parts.push(if folder {
            Part {
                shown,
                name: name.to_owned(),
                folder: true,
            }
        } else {
            word_part(shown, name)
        });
    }
    parts
}

/// Whether `word` (and the one after it) name the tests: "tests", "specs", "test files", "test
/// suite".
fn is_tests(word: &str, next: Option<&&str>) -> bool {
    matches!(word, "tests" | "specs")
        || matches!(word, "test" | "spec")
            && next.is_some_and(|n| matches!(*n, "files" | "suite" | "suites" | "code"))
}

/// A part found by its name's stem in a file's path or text.
fn word_part(shown: String, name: &str) -> Part {
    Part {
        shown,
        name: stem(name).to_owned(),
        folder: false,
    }
}

/// The first five letters of a name, so that "pagination" finds `paginate` and "deploy"
/// finds `deployment`.
fn stem(name: &str) -> &str {
    match name.char_indices().nth(5) {
        Some((i, _)) => &name[..i],
        None => name,
    }
}

/// Whether a word can name a part: a plain lower-case word of letters (digits, `_` and `-`
/// inside), not a describing word, not a file name.
fn is_name(word: &str) -> bool {
    word.len() >= 3
        && word.starts_with(|c: char| c.is_ascii_lowercase())
        && word
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'))
        && !NOT_NAMES.contains(&word)
}

/// The folder a path-like word names (`src/api/`, `web/components`), trimmed of slashes; not
/// a file (`src/app.py`) and not a ratio or an alternative (`and/or`, `1/2`).
fn folder_path(word: &str) -> Option<String> {
    let trimmed = word.trim_matches('/');
    let segments: Vec<&str> = trimmed.split('/').collect();
    let pathlike = word.contains('/')
        && segments.iter().all(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'))
        })
        && segments
            .iter()
            .any(|s| s.chars().any(|c| c.is_ascii_alphabetic()))
        && !matches!(trimmed, "and/or" | "or" | "and");
    // "src/app" without a slash at the end may be a file named without its extension.
    let folder = word.ends_with('/') || segments.len() >= 2;
    (pathlike && folder).then(|| trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(instruction: &str) -> Vec<String> {
        let clauses = crate::router::facts::clauses(instruction);
        named(&clauses).into_iter().map(|p| p.shown).collect()
    }

    fn holds(instruction: &str, path: &str, content: &str) -> bool {
        let clauses = crate::router::facts::clauses(instruction);
        named(&clauses).iter().any(|p| p.holds(path, content))
    }

    #[test]
    fn a_part_is_named_by_the_word_before_its_noun() {
        assert_eq!(
            parts("fix the off-by-one in the pagination helper"),
            vec!["the pagination helper"]
        );
        assert_eq!(
            parts("add a --dry-run flag to the deploy script and document it"),
            vec!["the deploy script"]
        );
        assert_eq!(
            parts("add JSDoc to the exported functions in the utils folder"),
            vec!["the utils folder"]
        );
        assert_eq!(
            parts("add doc comments to the exported identifiers in package geo"),
            vec!["package geo"]
        );
        assert_eq!(parts("add type hints under src/api/"), vec!["src/api/"]);
        assert_eq!(
            parts("in the tests, replace the sleep calls with a fake clock"),
            vec!["the tests", "the specs"]
        );
        assert_eq!(
            parts("add docstrings in the src folder"),
            vec!["the src folder"]
        );
    }

    #[test]
    fn describing_words_renames_and_unplaced_clauses_name_no_part() {
        assert!(parts("add docstrings to the main module").is_empty());
        assert!(parts("add tests for the Python package").is_empty());
        assert!(parts("rename `load` to `read` in the config loader").is_empty());
        assert!(parts("speed up the pagination helper and every caller").is_empty());
        assert!(parts("fix the pagination helper and update the README").is_empty());
        assert!(parts("add a helper for dates").is_empty());
        assert!(parts("handle and/or in the parser").is_empty());
        assert!(parts("move the code in src/app.py").is_empty());
    }

    #[test]
    fn a_file_belongs_by_path_or_text_and_a_folder_by_path_only() {
        let i = "fix the off-by-one in the pagination helper";
        assert!(holds(i, "src/lib/paginate.ts", ""));
        assert!(holds(i, "src/list.ts", "import { paginate } from './lib';"));
        assert!(!holds(
            i,
            "src/lib/slugify.ts",
            "export function slugify() {}"
        ));
        let j = "add JSDoc comments to the exported functions in the utils folder";
        assert!(holds(j, "src/utils/format.js", ""));
        assert!(!holds(
            j,
            "src/components/Price.jsx",
            "import { f } from '../utils/format';"
        ));
        assert!(!holds(j, "utils.js", ""));
        let t = "use a fixed seed in the test files";
        assert!(holds(t, "tests/test_shuffle.py", "") && holds(t, "src/lib.rs", "#[cfg(test)]"));
        assert!(!holds(t, "src/shuffle.py", "import random"));
        let k = "add type hints under src/api/";
        assert!(holds(k, "app/src/api/users.py", ""));
        assert!(!holds(k, "src/apis/users.py", ""));
    }
}

//! Cheap facts about an instruction and a file: the identifiers the instruction names in
//! backticks, its clauses, the part of it that concerns a file, the names a file defines (a line
//! scan, no parser), the renames it asks for, and the deterministic reasons a file is out of the
//! instruction's scope.
//!
//! Owns no model and no decision beyond scope (whether anything is due is `due`'s); the router
//! combines these facts.

use serde::{Deserialize, Serialize};

/// Cheap facts about one file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FileFacts {
    pub path: String,
    /// Names the file defines (functions, types), in order, at most [`MAX_SYMBOLS`].
    pub symbols: Vec<String>,
    /// For each backticked identifier of the instruction, whether the file contains it.
    pub mentions: Vec<(String, bool)>,
}

/// At most this many symbols go into the router's prompt.
pub const MAX_SYMBOLS: usize = 12;

/// Identifiers written in backticks in the instruction, in order, without duplicates.
pub fn backticked(instruction: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (i, part) in instruction.split('`').enumerate() {
        let name = part.trim();
        let is_ident = !name.is_empty()
            && name.len() <= 80
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '.' | '-' | '$'));
        if i % 2 == 1 && is_ident && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// Keywords that introduce a definition, across the languages codey meets most.
const DEFINERS: &[&str] = &[
    "def",
    "class",
    "fn",
    "struct",
    "enum",
    "trait",
    "impl",
    "func",
    "function",
    "interface",
    "type",
    "const",
    "let",
    "var",
    "static",
];

/// The names a file defines, found by scanning for definition keywords at the start of lines.
pub fn symbols(content: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in content.lines() {
        let words: Vec<&str> = line
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .take(4)
            .collect();
        let Some(pos) = words.iter().position(|w| DEFINERS.contains(w)) else {
            continue;
        };
        // Only the first keywords of a line count (`pub fn x`, `export function x`).
        if pos > 2 || line.starts_with([' ', '\t']) && words[pos] != "def" && words[pos] != "fn" {
            continue;
        }
        if let Some(name) = words.get(pos + 1).filter(|w| !DEFINERS.contains(w)) {
            if !out.iter().any(|n| n == name) {
                out.push((*name).to_owned());
            }
        }
        if out.len() >= MAX_SYMBOLS {
            break;
        }
    }
    out
}

/// Words after which a backticked name is what the edit brings in, not what it looks for:
/// "use `logging`", "wrap errors with `fmt.Errorf`", "add a `--dry-run` flag".
const NEW_MARKERS: &[&str] = &[
    "with",
    "use",
    "using",
    "via",
    "add",
    "adds",
    "adding",
    "enable",
    "introduce",
    "create",
    "insert",
    "on",
];

/// Verbs that make "to"/"into" point at the new name ("rename `a` to `b`", "switch from `a`
/// to `b`"), where otherwise it points at the subject ("add a docstring to `f`").
const CHANGE_VERBS: &[&str] = &[
    "rename", "change", "convert", "switch", "migrate", "move", "replace", "upgrade", "update",
];

/// The backticked names an edit brings in rather than looks for. A file need not mention
/// them to be in scope.
pub fn introduced(instruction: &str) -> Vec<String> {
    let mut out = Vec::new();
    for clause in clauses(instruction) {
        let lower = clause.to_lowercase();
        let changes = CHANGE_VERBS.iter().any(|v| lower.contains(v));
        let parts: Vec<&str> = clause.split('`').collect();
        // Odd parts are inside backticks; the part before each holds the words leading to it.
        for i in (1..parts.len()).step_by(2) {
            let before = parts[i - 1].to_lowercase();
            let words: Vec<&str> = before
                .split(|c: char| !c.is_alphanumeric())
                .filter(|w| !w.is_empty() && !matches!(*w, "the" | "a" | "an" | "new"))
                .collect();
            let Some(last) = words.last() else {
                continue;
            };
            let new = NEW_MARKERS.contains(last) || (changes && matches!(*last, "to" | "into"));
            if new {
                out.push(parts[i].trim().to_owned());
            }
        }
    }
    out
}

impl FileFacts {
    /// Gathers the facts for one file. Names the edit introduces are not mentions.
    pub fn gather(instruction: &str, path: &str, content: &str) -> Self {
        let new = introduced(instruction);
        FileFacts {
            path: path.to_owned(),
            symbols: symbols(content),
            mentions: backticked(instruction)
                .into_iter()
                .filter(|name| !new.contains(name))
                .map(|name| {
                    let found = content.contains(&name);
                    (name, found)
                })
                .collect(),
        }
    }
}

/// Languages an instruction can restrict itself to, with their file extensions.
const LANGUAGES: &[(&str, &[&str])] = &[
    ("python", &["py", "pyi"]),
    ("rust", &["rs"]),
    ("javascript", &["js", "mjs", "cjs", "jsx"]),
    ("typescript", &["ts", "tsx"]),
    ("go", &["go"]),
    ("golang", &["go"]),
    ("c", &["c", "h"]),
    ("c++", &["cc", "cpp", "cxx", "hpp", "hh", "h"]),
    ("java", &["java"]),
    ("shell", &["sh", "bash"]),
    ("bash", &["sh", "bash"]),
    ("markdown", &["md", "markdown"]),
    ("yaml", &["yaml", "yml"]),
    ("yml", &["yaml", "yml"]),
    ("toml", &["toml"]),
    ("json", &["json"]),
    ("css", &["css", "scss", "sass", "less"]),
    ("html", &["html", "htm"]),
    ("sql", &["sql"]),
];

/// Words and notations only one language has: an instruction that uses them concerns that
/// language's files even when it does not name it ("the `log` crate", "`println!`",
/// "`#[derive(Debug)]`", "JSDoc", "goroutines").
const LANGUAGE_MARKERS: &[(&str, &[&str])] = &[
    ("crate", &["rs"]),
    ("crates", &["rs"]),
    ("jsdoc", &["js", "mjs", "cjs", "jsx", "ts", "tsx"]),
    ("javadoc", &["java"]),
    ("goroutine", &["go"]),
    ("goroutines", &["go"]),
    ("gofmt", &["go"]),
    ("pytest", &["py", "pyi"]),
];

/// Formats that cannot hold a comment: an instruction about comments does not concern them.
const NO_COMMENT_EXTENSIONS: &[&str] = &["json", "csv", "tsv", "md", "markdown", "txt", "rst"];

/// Data and configuration formats: prose edits ("the docs") do not concern them.
const DATA_EXTENSIONS: &[&str] = &[
    "json", "yaml", "yml", "toml", "csv", "tsv", "lock", "ini", "cfg", "svg",
];

/// Phrases that confine an instruction to continuous-integration configuration.
const CI_PHRASES: &[&str] = &[
    "ci config",
    "ci configuration",
    "ci workflow",
    "ci pipeline",
    "ci job",
    "github actions",
    "github workflow",
];

/// Whether `path` is a CI system's configuration.
fn is_ci_file(path: &str) -> bool {
    let lower = path.to_lowercase();
    let name = lower.rsplit('/').next().unwrap_or(&lower);
    lower.starts_with(".github/workflows/")
        || lower.starts_with(".circleci/")
        || lower.starts_with(".buildkite/")
        || lower.starts_with(".woodpecker")
        || matches!(
            name,
            ".gitlab-ci.yml"
                | ".travis.yml"
                | "azure-pipelines.yml"
                | "bitbucket-pipelines.yml"
                | "jenkinsfile"
                | "appveyor.yml"
        )
}

/// The extensions a language's notation in the instruction points to: a backticked macro call
/// (`name!`) or attribute (`#[...]`) is Rust; marker words point to their language. None when
/// there is no marker, or markers of more than one language.
fn marked_language(instruction: &str) -> Option<&'static [&'static str]> {
    let lower = instruction.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    let mut found: Vec<&'static [&'static str]> = LANGUAGE_MARKERS
        .iter()
        .filter(|(marker, _)| words.contains(marker))
        .map(|(_, exts)| *exts)
        .collect();
    let rust_notation = instruction.split('`').skip(1).step_by(2).any(|code| {
        let code = code.trim();
        code.starts_with("#[") || (code.ends_with('!') && code.len() > 1 && !code.contains(' '))
    });
    if rust_notation {
        found.push(&["rs"]);
    }
    found.dedup();
    match found.as_slice() {
        [one] => Some(*one),
        _ => None,
    }
}

/// Nouns that make a language word a restriction ("the Python files", "C sources", "every
/// Python function", "the Rust tests").
const SCOPE_NOUNS: &[&str] = &[
    "files",
    "file",
    "sources",
    "source",
    "code",
    "scripts",
    "script",
    "modules",
    "module",
    "docs",
    "function",
    "functions",
    "class",
    "classes",
    "method",
    "methods",
    "test",
    "tests",
    "type",
    "types",
    "docstring",
    "docstrings",
    "imports",
    "struct",
    "structs",
    "package",
    "packages",
];

/// Words that make an instruction about code constructs, which prose and data files lack.
const CODE_WORDS: &[&str] = &[
    "function",
    "method",
    "class",
    "docstring",
    "type hint",
    "type annotation",
    "import",
    "variable",
    "struct",
    "parameter",
    "argument",
    "return type",
    "exception",
    "unit test",
    "loop",
    "algorithm",
    "complexity",
];

/// Words that make an instruction concern prose or data too, whatever else it says.
const PROSE_WORDS: &[&str] = &[
    "readme",
    "documentation",
    "docs",
    "markdown",
    "text",
    "typo",
    "spelling",
    "wording",
    "changelog",
    "license",
    "translate",
    "prose",
    "config",
    "json",
    "yaml",
    "toml",
    "every file",
    "all files",
];

/// Extensions of prose and data files: no functions, classes or imports to edit.
const PROSE_EXTENSIONS: &[&str] = &[
    "md", "markdown", "txt", "rst", "adoc", "org", "json", "yaml", "yml", "toml", "csv", "tsv",
    "lock", "ini", "cfg", "svg",
];

/// The extensions the instruction restricts itself to, if it names a language scope.
fn language_scope(instruction: &str) -> Option<&'static [&'static str]> {
    let lower = instruction.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '+'))
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).find_map(|pair| {
        let (_, exts) = LANGUAGES.iter().find(|(name, _)| *name == pair[0])?;
        SCOPE_NOUNS.contains(&pair[1]).then_some(*exts)
    })
}

/// Splits an instruction into clauses at `;`, and at ` and ` / `, ` when what follows starts a
/// new request rather than continuing a list of names ("rename `a` and `b`" stays whole).
pub fn clauses(instruction: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in instruction.split(';') {
        let mut current = String::new();
        let mut rest = part;
        while let Some((i, sep)) = [" and ", ", "]
            .iter()
            .filter_map(|sep| rest.find(sep).map(|i| (i, *sep)))
            .min_by_key(|(i, _)| *i)
        {
            let after = &rest[i + sep.len()..];
            current.push_str(&rest[..i]);
            let continues_list =
                after.trim_start().starts_with('`') || after.trim_start().starts_with("and ");
            if continues_list || current.trim().is_empty() {
                current.push_str(sep);
            } else {
                out.push(std::mem::take(&mut current));
            }
            rest = after;
        }
        current.push_str(rest);
        out.push(current);
    }
    out.into_iter()
        .map(|c| c.trim().trim_end_matches(['.', ',']).trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect()
}

/// The part of the instruction that concerns a file: the clauses that name an identifier the
/// file contains, or name none of the `known` ones (identifiers some file of the batch has; a
/// name nobody has yet is one the edit introduces). The whole instruction when every clause is
/// kept or none is.
pub fn focus(instruction: &str, content: &str, known: &[String]) -> String {
    let all = clauses(instruction);
    let kept: Vec<&String> = all
        .iter()
        .filter(|c| {
            let names: Vec<String> = backticked(c)
                .into_iter()
                .filter(|n| known.contains(n))
                .collect();
            names.is_empty() || names.iter().any(|n| content.contains(n.as_str()))
        })
        .collect();
    if kept.is_empty() || kept.len() == all.len() {
        instruction.to_owned()
    } else {
        kept.iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Deterministic reasons a file is outside what the instruction concerns: it mentions none of
/// the names the instruction gives, it is in another language than the one the instruction
/// names ("every Python function"), or the instruction is about code constructs and the file
/// is prose or data that mentions none of its names.
pub fn skip_reason(instruction: &str, facts: &FileFacts) -> Option<String> {
    if !facts.mentions.is_empty() && facts.mentions.iter().all(|(_, found)| !found) {
        let names: Vec<String> = facts
            .mentions
            .iter()
            .map(|(n, _)| format!("`{n}`"))
            .collect();
        return Some(format!("does not mention {}", names.join(" or ")));
    }
    let lower = instruction.to_lowercase();
    if CI_PHRASES.iter().any(|p| lower.contains(p)) {
        return (!is_ci_file(&facts.path))
            .then(|| "the instruction is about CI configuration and this is not".to_owned());
    }
    let ext = facts.path.rsplit_once('.').map(|(_, e)| e.to_lowercase())?;
    if let Some(exts) = language_scope(instruction).or_else(|| marked_language(instruction)) {
        return (!exts.contains(&ext.as_str()))
            .then(|| format!("the instruction is limited to {} files", exts.join("/")));
    }
    let mentioned = facts.mentions.iter().any(|(_, found)| *found);
    if mentioned {
        return None;
    }
    let ext = ext.as_str();
    if PROSE_EXTENSIONS.contains(&ext) && about_code_only(instruction) {
        return Some(format!(
            "the instruction is about code and a .{ext} file has none"
        ));
    }
    if NO_COMMENT_EXTENSIONS.contains(&ext) && about_comments_only(&lower) {
        return Some(format!(
            "the instruction is about comments and a .{ext} file has none"
        ));
    }
    (DATA_EXTENSIONS.contains(&ext) && about_docs_only(&lower))
        .then(|| format!("the instruction is about documentation and a .{ext} file is data"))
}

/// Whether the instruction's subject is comments, and nothing prose or data files hold.
fn about_comments_only(lower: &str) -> bool {
    lower.contains("comment")
        && ![
            "readme",
            "docs",
            "documentation",
            "markdown",
            "text",
            "every file",
            "all files",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

/// Whether the instruction's subject is documentation ("the docs", "the README"), and nothing
/// that data or configuration files hold.
fn about_docs_only(lower: &str) -> bool {
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    ["docs", "documentation", "readme"]
        .iter()
        .any(|w| words.contains(w))
        && ![
            "config",
            "json",
            "yaml",
            "toml",
            "every file",
            "all files",
            "package",
            "version",
        ]
        .iter()
        .any(|w| lower.contains(w))
}

/// Whether the instruction names code constructs and nothing that prose or data files hold.
fn about_code_only(instruction: &str) -> bool {
    let lower = instruction.to_lowercase();
    CODE_WORDS.iter().any(|w| lower.contains(w)) && !PROSE_WORDS.iter().any(|w| lower.contains(w))
}

/// The renames an instruction asks for, as (old, new) pairs: every clause must be one
/// ("rename `x` to `count`", "rename the function `a` to `b` and `c` to `d`"), else none.
pub fn renames(instruction: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    for clause in clauses(instruction) {
        let lower = clause.to_lowercase();
        if !lower.contains("rename") {
            return Vec::new();
        }
        let names = backticked(&clause);
        if names.len() < 2 || names.len() % 2 == 1 {
            return Vec::new();
        }
        for pair in names.chunks(2) {
            // The words between the two names must say which way the rename goes.
            let between = clause
                .split_once(&format!("`{}`", pair[0]))
                .and_then(|(_, rest)| rest.split_once(&format!("`{}`", pair[1])))
                .map(|(mid, _)| mid.to_lowercase());
            if !between.is_some_and(|m| m.contains(" to ") || m.contains("->") || m.contains('→'))
            {
                return Vec::new();
            }
            pairs.push((pair[0].clone(), pair[1].clone()));
        }
    }
    pairs
}

/// Whether `name` occurs in `content` as a whole identifier (not inside a longer one).
pub fn has_identifier(content: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    content.match_indices(name).any(|(i, _)| {
        let before = content[..i].chars().next_back();
        let after = content[i + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

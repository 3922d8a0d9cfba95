//! Whether an instruction concerns a file at all: the deterministic reasons a file is out of
//! scope. A file is out when it mentions none of the names the instruction looks for, is in
//! another language than the one the instruction names, is not the file the instruction places
//! the edit in, or is prose or data when the instruction is about code. What each rule may skip
//! is narrow on purpose: a skipped file that needed the edit is the costly mistake.

use super::facts::{clauses, FileFacts};
use super::words;

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
    let words = words::alphanumeric(&lower);
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
    "handler",
    "handlers",
    "service",
    "services",
    "codebase",
    "bindings",
    "components",
    "component",
    "library",
    "libraries",
    "comment",
    "comments",
    "getters",
    "setters",
    "interfaces",
    "enums",
    "records",
    "traits",
    "macros",
    "headers",
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
    "off-by-one",
    "refactor",
    "recursi",
    "memoiz",
    "quadratic",
    "o(n",
    "null check",
    "nil check",
    "edge case",
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
    "document",
    "guide",
    "manual",
    "translation",
    "config",
    "configuration",
    "settings",
    "json",
    "yaml",
    "toml",
    "every file",
    "all files",
    // Versions and dependencies live in manifests.
    "version",
    "dependency",
    "dependencies",
    "bump",
];

/// Extensions of prose and data files: no functions, classes or imports to edit.
const PROSE_EXTENSIONS: &[&str] = &[
    "md", "markdown", "txt", "rst", "adoc", "org", "json", "yaml", "yml", "toml", "csv", "tsv",
    "lock", "ini", "cfg", "svg",
];

/// The extensions the instruction restricts itself to, if it names a language scope: a
/// language word and a scope noun, next to each other ("the python files") or with one word
/// between when the language is capitalised as a name ("the Go HTTP handlers", "every Rust
/// unit test"), so that "go through the functions" restricts nothing.
fn language_scope(instruction: &str) -> Option<&'static [&'static str]> {
    let words: Vec<&str> = instruction
        .split(|c: char| !(c.is_alphanumeric() || c == '+'))
        .filter(|w| !w.is_empty())
        .collect();
    let lower: Vec<String> = words.iter().map(|w| w.to_lowercase()).collect();
    (0..words.len()).find_map(|i| {
        let (_, exts) = LANGUAGES.iter().find(|(name, _)| *name == lower[i])?;
        let named = words[i].starts_with(char::is_uppercase);
        let reach = if named { 2 } else { 1 };
        (1..=reach)
            .filter_map(|d| lower.get(i + d))
            .any(|w| SCOPE_NOUNS.contains(&w.as_str()))
            .then_some(*exts)
    })
}
/// Deterministic reasons a file is outside what the instruction concerns: it contains none of
/// the names or literals the instruction looks for; the instruction places the edit in other
/// files ("in `utils.py`", "the TypeScript config", "CI"); it is in another language than the
/// one the instruction names ("every Python function"); the instruction is about dependency
/// versions and the file is source code; or the instruction is about code constructs and the
/// file is prose or data that mentions none of its names.
pub fn skip_reason(instruction: &str, facts: &FileFacts) -> Option<String> {
    let looked_for: Vec<&(String, bool)> = facts.mentions.iter().chain(&facts.literals).collect();
    if !looked_for.is_empty() && looked_for.iter().all(|(_, found)| !found) {
        let names: Vec<String> = looked_for.iter().map(|(n, _)| format!("`{n}`")).collect();
        return Some(format!("does not mention {}", names.join(" or ")));
    }
    let lower = instruction.to_lowercase();
    if CI_PHRASES.iter().any(|p| lower.contains(p)) {
        return (!is_ci_file(&facts.path))
            .then(|| "the instruction is about CI configuration and this is not".to_owned());
    }
    let places = placed_in(instruction);
    if !places.is_empty() {
        return (!places.iter().any(|p| p.matches(&facts.path))).then(|| {
            let names: Vec<&str> = places.iter().map(|p| p.shown.as_str()).collect();
            format!("the instruction is about {}", names.join(" and "))
        });
    }
    // "the deploy script", "the utils folder": a file of none of them is out, unless it holds
    // a name the instruction looks for.
    let named_found = looked_for.iter().any(|(_, found)| *found);
    if !facts.parts.is_empty() && !named_found && facts.parts.iter().all(|(_, found)| !found) {
        let names: Vec<&str> = facts.parts.iter().map(|(p, _)| p.as_str()).collect();
        return Some(format!("the instruction is about {}", names.join(" and ")));
    }
    let kind = file_kind(facts);
    if let Some(exts) = language_scope(instruction).or_else(|| marked_language(instruction)) {
        // "the `log` crate", "bump serde in every crate": the language's manifest is in too.
        let manifest = manifest_of(&facts.path).is_some_and(|langs| langs == exts)
            && about_dependencies(&lower);
        if !exts.contains(&kind.as_str()) && !manifest {
            return Some(format!(
                "the instruction is limited to {} files",
                exts.join("/")
            ));
        }
    }
    if named_found {
        return None;
    }
    let kind = kind.as_str();
    let all_versions = clauses(&lower).iter().all(|c| about_dependency_versions(c));
    if all_versions && CODE_EXTENSIONS.contains(&kind) {
        return manifest_of(&facts.path).is_none().then(|| {
            "the instruction is about dependency versions and this is source code".to_owned()
        });
    }
    // Imports may need the dependency or the module system declared ("convert the require()
    // calls to ESM imports" sets `"type": "module"` in package.json).
    let manifest_kept = manifest_of(&facts.path).is_some() && about_imports(&lower);
    if PROSE_EXTENSIONS.contains(&kind) && about_code_only(instruction) && !manifest_kept {
        return Some(format!(
            "the instruction is about code and a .{kind} file has none"
        ));
    }
    if NO_COMMENT_EXTENSIONS.contains(&kind) && about_comments_only(&lower) {
        return Some(format!(
            "the instruction is about comments and a .{kind} file has none"
        ));
    }
    (DATA_EXTENSIONS.contains(&kind) && about_docs_only(&lower))
        .then(|| format!("the instruction is about documentation and a .{kind} file is data"))
}

/// What kind of file this is, as an extension: its own, else the one its `#!` interpreter or its
/// well-known name implies (`Dockerfile`, `LICENSE`), else empty.
fn file_kind(facts: &FileFacts) -> String {
    let name = facts.path.rsplit('/').next().unwrap_or(&facts.path);
    if let Some((_, ext)) = name.rsplit_once('.').filter(|(stem, _)| !stem.is_empty()) {
        return ext.to_lowercase();
    }
    if let Some(program) = &facts.interpreter {
        let program = program.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
        let kind = match program {
            "python" | "pypy" => "py",
            "bash" | "sh" | "zsh" | "dash" => "sh",
            "node" | "deno" | "bun" => "js",
            "ruby" => "rb",
            "perl" => "pl",
            _ => "",
        };
        return kind.to_owned();
    }
    let upper = name.to_uppercase();
    let prose = [
        "LICENSE",
        "LICENCE",
        "COPYING",
        "NOTICE",
        "AUTHORS",
        "CONTRIBUTORS",
        "README",
    ];
    if prose.iter().any(|p| upper == *p) {
        return "txt".to_owned();
    }
    String::new()
}

/// Extensions of source code in a programming language.
const CODE_EXTENSIONS: &[&str] = &[
    "py", "pyi", "rs", "js", "mjs", "cjs", "jsx", "ts", "tsx", "go", "java", "kt", "kts", "scala",
    "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "cs", "rb", "php", "swift", "m", "sh", "bash", "pl",
    "lua", "dart", "ex", "exs", "erl", "hs", "ml", "r", "jl", "zig", "vue", "svelte",
];

/// The language a dependency manifest belongs to (its files' extensions), if `path` is one:
/// `Cargo.toml` is Rust's, `package.json` JavaScript's and TypeScript's.
fn manifest_of(path: &str) -> Option<&'static [&'static str]> {
    let name = path.rsplit('/').next().unwrap_or(path).to_lowercase();
    let python: &'static [&'static str] = &["py", "pyi"];
    match name.as_str() {
        "cargo.toml" | "cargo.lock" => Some(&["rs"]),
        "package.json" | "package-lock.json" | "yarn.lock" | "pnpm-lock.yaml" => {
            Some(&["js", "mjs", "cjs", "jsx", "ts", "tsx"])
        }
        "go.mod" | "go.sum" => Some(&["go"]),
        "pom.xml" | "build.gradle" | "build.gradle.kts" => Some(&["java"]),
        "pyproject.toml" | "setup.py" | "setup.cfg" | "pipfile" | "pipfile.lock"
        | "poetry.lock" | "environment.yml" => Some(python),
        _ if name.starts_with("requirements")
            && (name.ends_with(".txt") || name.ends_with(".in")) =>
        {
            Some(python)
        }
        _ => None,
    }
}

/// Whether the instruction is about dependency versions (pinning, bumping, upgrading them),
/// which live in manifests, not in source code.
fn about_dependency_versions(lower: &str) -> bool {
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '.'))
        .filter(|w| !w.is_empty())
        .collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
    let dependencies = has(&["dependency", "dependencies", "deps", "requirements"]);
    let changes_version = has(&[
        "pin",
        "bump",
        "upgrade",
        "downgrade",
        "update",
        "version",
        "versions",
    ]);
    // "bump serde to 1.0.200": a version number with a patch part says the same without the word.
    let semver = words.iter().any(|w| {
        w.split('.').count() == 3
            && w.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
    });
    let code = CODE_WORDS.iter().any(|w| lower.contains(w));
    !code
        && (has(&["pin"]) && dependencies
            || changes_version && (dependencies || semver && has(&["bump"])))
}

/// Whether the instruction concerns a project's dependencies (which its manifest lists).
fn about_dependencies(lower: &str) -> bool {
    let words = words::alphanumeric(lower);
    let marks = [
        "dependency",
        "dependencies",
        "deps",
        "requirements",
        "crate",
        "crates",
        "version",
        "versions",
        "install",
        "library",
        "libraries",
        "pin",
        "bump",
        "upgrade",
    ];
    words.iter().any(|w| marks.contains(w))
}

/// A file the instruction places the edit in, by name or path.
#[derive(Debug)]
struct Place {
    /// As the instruction gives it.
    shown: String,
    /// Lower-case file names it stands for; a trailing `*` matches any rest.
    names: Vec<String>,
}

impl Place {
    fn matches(&self, path: &str) -> bool {
        let lower = path.to_lowercase();
        let name = lower.rsplit('/').next().unwrap_or(&lower);
        self.names.iter().any(|n| match n.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None if n.contains('/') => lower == *n || lower.ends_with(&format!("/{n}")),
            None => name == n || name.split('.').next() == Some(n.as_str()) && !n.contains('.'),
        })
    }
}

/// Tools whose configuration an instruction can name ("the TypeScript config"), with the file
/// names it lives in.
const TOOL_CONFIGS: &[(&str, &[&str])] = &[
    ("typescript", &["tsconfig*"]),
    ("tsconfig", &["tsconfig*"]),
    ("eslint", &[".eslintrc*", "eslint.config*"]),
    ("prettier", &[".prettierrc*", "prettier.config*"]),
    ("babel", &[".babelrc*", "babel.config*"]),
    ("jest", &["jest.config*"]),
    ("webpack", &["webpack.config*"]),
    ("vite", &["vite.config*"]),
    ("docker", &["dockerfile*", "docker-compose*", "compose.y*"]),
    (
        "pre-commit",
        &[".pre-commit-config.yaml", ".pre-commit-hooks.yaml"],
    ),
    ("editorconfig", &[".editorconfig"]),
];

/// File names well enough known to be named without an extension.
const WELL_KNOWN: &[&str] = &[
    "dockerfile",
    "containerfile",
    "makefile",
    "justfile",
    "jenkinsfile",
    "gemfile",
    "procfile",
    "vagrantfile",
    ".gitignore",
    ".dockerignore",
    ".editorconfig",
    ".gitattributes",
    ".npmrc",
    ".env",
];

/// Prose files named the way they are written, in capitals ("the README", "the CHANGELOG"):
/// in lower case they are common nouns ("add a license header to every file").
const CAPITAL_NAMES: &[&str] = &["readme", "changelog", "license", "contributing", "authors"];

/// The files an instruction places its edit in: files it names after "in", "inside" or
/// "within" ("add docstrings in utils.py"), configuration it names after "to" ("add `serde` to
/// Cargo.toml"), a well-known file it names ("update the Dockerfile"), or a tool's
/// configuration ("the TypeScript config"). All of them together, or none. Nothing is placed
/// where a named file may be what the edit draws on rather than where it goes: a code file
/// named after other words ("move `parse` from cli.py to utils.py": its callers may need the
/// edit too) or in an instruction that uses something from it ("use the constants in
/// config.py"), and a file the code reads or writes ("write the results to out.json").
fn placed_in(instruction: &str) -> Vec<Place> {
    let mut places = Vec::new();
    for clause in clauses(instruction) {
        let placed = clause_placed_in(&clause);
        if placed.is_empty() {
            return Vec::new();
        }
        places.extend(placed);
    }
    places
}

/// The files one clause places its edit in (see [`placed_in`]).
fn clause_placed_in(instruction: &str) -> Vec<Place> {
    let lower = instruction.to_lowercase();
    let words = words::as_written(&lower);
    let capitals: Vec<&str> = instruction
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 1 && w.chars().all(|c| c.is_ascii_uppercase()))
        .collect();
    let has = |list: &[&str]| words.iter().any(|w| list.contains(w));
    // The file may be a source the edit draws on, not where it goes.
    let refers_elsewhere = has(&[
        "defined",
        "declared",
        "imported",
        "exported",
        "everywhere",
        "across",
        "callers",
        "caller",
        "usages",
    ]);
    // Code that reads or writes a file is edited, not the file ("write the results to out.json").
    let moves_data = has(&[
        "read",
        "reads",
        "load",
        "loads",
        "parse",
        "parses",
        "write",
        "writes",
        "save",
        "saves",
        "dump",
        "export",
        "generate",
        "generates",
        "emit",
        "emits",
        "output",
    ]);
    let mut places: Vec<Place> = Vec::new();
    let mut placing = false;
    for (i, word) in words.iter().enumerate() {
        let file = file_name(word);
        let well_known = WELL_KNOWN.contains(word)
            || CAPITAL_NAMES.contains(word)
                && capitals.iter().any(|c| c.eq_ignore_ascii_case(word));
        if file.is_none() && !well_known {
            continue;
        }
        let before = words[..i].iter().rev().find(|w| {
            !matches!(
                **w,
                "the" | "a" | "an" | "our" | "its" | "this" | "root" | "top-level"
            )
        });
        let code = file.is_some_and(|ext| CODE_EXTENSIONS.contains(&ext));
        // "use the constants in config.py": what is used may live there, the edit elsewhere.
        let used_from = words[i.saturating_sub(4)..i]
            .iter()
            .any(|w| matches!(*w, "use" | "using" | "reuse" | "call" | "calls" | "import"));
        placing |= match before.copied() {
            Some("in" | "inside" | "within") => {
                !(code && (refers_elsewhere || used_from)) && !moves_data
            }
            Some("to") => !code && !moves_data,
            Some("from" | "into" | "by" | "than") => false,
            _ => well_known && !moves_data,
        };
        places.push(Place {
            shown: (*word).to_owned(),
            names: vec![(*word).to_owned()],
        });
    }
    for pair in words.windows(2) {
        let Some((_, names)) = TOOL_CONFIGS.iter().find(|(tool, _)| *tool == pair[0]) else {
            continue;
        };
        if matches!(pair[1], "config" | "configuration" | "settings" | "compose")
            || pair[0] == "tsconfig"
        {
            placing = true;
            places.push(Place {
                shown: format!("the {} {}", pair[0], pair[1]),
                names: names.iter().map(|n| (*n).to_owned()).collect(),
            });
        }
    }
    if placing {
        places
    } else {
        Vec::new()
    }
}

/// Projects spelled like JavaScript files.
const JS_FRAMEWORKS: &[&str] = &[
    "node",
    "vue",
    "next",
    "nuxt",
    "express",
    "react",
    "three",
    "d3",
    "chart",
    "ember",
    "backbone",
    "angular",
    "nest",
    "socket.io",
    "moment",
    "p5",
    "anime",
    "alpine",
    "solid",
    "svelte",
];

/// The extension of a word that names a file (`utils.py`, `src/app.ts`, `Cargo.toml`), if it
/// names one: a known extension after a non-empty name.
pub(super) fn file_name(word: &str) -> Option<&str> {
    let (stem, ext) = word.rsplit_once('.')?;
    let known = CODE_EXTENSIONS.contains(&ext)
        || PROSE_EXTENSIONS.contains(&ext)
        || matches!(
            ext,
            "xml" | "lock" | "mod" | "sum" | "gradle" | "cmake" | "env"
        );
    let stem_ok = !stem.is_empty()
        && stem
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '.'));
    // Frameworks named like files ("Node.js") are not files.
    let framework = ext == "js" && JS_FRAMEWORKS.contains(&stem);
    (known && stem_ok && !framework).then_some(ext)
}

/// Whether the instruction's subject is comments, and nothing prose or data files hold.
fn about_comments_only(lower: &str) -> bool {
    let prose = [
        "readme",
        "docs",
        "documentation",
        "markdown",
        "text",
        "every file",
        "all files",
    ];
    lower.contains("comment") && !contains_any(lower, &prose)
}

/// Whether the instruction's subject is documentation ("the docs", "the README"), and nothing
/// that data or configuration files hold.
fn about_docs_only(lower: &str) -> bool {
    let words = words::alphanumeric(lower);
    let data = [
        "config",
        "json",
        "yaml",
        "toml",
        "every file",
        "all files",
        "package",
        "version",
    ];
    ["docs", "documentation", "readme"]
        .iter()
        .any(|w| words.contains(w))
        && !contains_any(lower, &data)
}

/// Whether the instruction is about imports or the module system.
fn about_imports(lower: &str) -> bool {
    contains_any(
        lower,
        &[
            "import",
            "require",
            "esm",
            "commonjs",
            "es module",
            "module system",
        ],
    )
}

/// Whether `lower` contains any of `phrases` (as text, not only as whole words).
fn contains_any(lower: &str, phrases: &[&str]) -> bool {
    phrases.iter().any(|p| lower.contains(p))
}

/// Whether the instruction names code constructs and nothing that prose or data files hold.
fn about_code_only(instruction: &str) -> bool {
    let lower = instruction.to_lowercase();
    contains_any(&lower, CODE_WORDS) && !names_any(&lower, PROSE_WORDS)
}

/// Whether `lower` names any of `terms`: a phrase as text, a word as a whole word or its plural
/// (so "docs" is not read in "docstrings", nor "text" in "context").
fn names_any(lower: &str, terms: &[&str]) -> bool {
    let words = words::alphanumeric(lower);
    terms.iter().any(|t| {
        if t.contains(' ') {
            lower.contains(t)
        } else {
            words
                .iter()
                .any(|w| w == t || w.strip_suffix('s') == Some(t))
        }
    })
}

//! Whether an instruction asks for anything in a file any more (issue 9), decided before any
//! editor runs from exact facts: a rename whose old names are gone, a replacement or removal
//! whose old code is gone, doc comments asked for definitions that all have one, Python type
//! hints asked for functions that are all annotated. So a rule re-run on its own output finds
//! nothing due.
//!
//! Owns the reading of those four kinds of clause, each in a narrow grammar: every clause of
//! the instruction must be one of them and be done, and a word outside the grammar ("explaining",
//! "in", "except") leaves the clause due. Skipping a file that needed the edit is the costly
//! mistake, so whatever is uncertain goes to the editor. The facts about code come from
//! `syntax`; the scope of an instruction is `facts`'.

use super::facts::{backticked, clauses, contains_literal, has_identifier, literals, renames};
use super::pins;
use super::scope::file_name;
use crate::syntax::{self, Definition, Kind, Language};

/// Why an instruction asks for nothing in this file any more, decided from exact facts; None:
/// a change may be due. Every clause must be done: a rename or replacement whose old names no
/// longer occur, or doc comments or Python type hints asked for definitions that all have them.
pub fn already_done(instruction: &str, path: &str, content: &str) -> Option<String> {
    // "rename `a` to `b` and `c` to `d`" pairs names across what reads as one clause.
    if let Some(reason) = renamed(instruction, content) {
        return Some(format!("nothing due: {reason}"));
    }
    let all = clauses(instruction);
    if all.is_empty() {
        return None;
    }
    let language = Language::of(path);
    // Parsed once, and only when a clause asks about definitions.
    let mut definitions: Option<Option<Vec<Definition>>> = None;
    let mut reasons: Vec<String> = Vec::new();
    for clause in &all {
        let tokens = tokens(clause)?;
        let reason = if let Some(reason) = renamed(clause, content) {
            reason
        } else if let Some(wanted) = replacement(&tokens) {
            replaced(&wanted, language, content)?
        } else if fstring_request(&tokens) {
            fstrings_done(language, content)?
        } else if pin_request(&tokens) {
            pins::all_pinned(path, content)?
                .then(|| "every dependency is pinned to an exact version".to_owned())?
        } else if let Some(reason) = literal_changed(clause, content) {
            reason
        } else if let Some(request) = doc_request(&tokens).or_else(|| hint_request(&tokens)) {
            let language = language?;
            if request.hints && language != Language::Python {
                return None;
            }
            let defs = definitions
                .get_or_insert_with(|| syntax::definitions(language, content))
                .as_deref()?;
            request.done(language, defs)?
        } else {
            return None;
        };
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    Some(format!("nothing due: {}", reasons.join("; ")))
}

/// Whether the instruction asks for doc comments and nothing else, every clause of it ("add
/// Go doc comments to the exported functions", "add a docstring to `area`"): an edit for it
/// may change comments only, never code.
pub fn asks_only_for_comments(instruction: &str) -> bool {
    let all = clauses(instruction);
    !all.is_empty()
        && all
            .iter()
            .all(|c| tokens(c).is_some_and(|t| doc_request(&t).is_some()))
}

/// A rename whose old names no longer occur.
fn renamed(instruction: &str, content: &str) -> Option<String> {
    let pairs = renames(instruction);
    if pairs.is_empty() || pairs.iter().any(|(old, _)| has_identifier(content, old)) {
        return None;
    }
    let olds: Vec<String> = pairs.iter().map(|(old, _)| format!("`{old}`")).collect();
    Some(format!(
        "{} no longer occurs (already renamed)",
        olds.join(", ")
    ))
}

/// A change of literal text ("rename the project from Quill to Inkwell", "change the port from
/// 8080 to 9000", "replace \"Copyright 2023\" with …") none of whose literals occurs any more.
fn literal_changed(clause: &str, content: &str) -> Option<String> {
    let lower = clause.to_lowercase();
    let changes = ["rename", "replace", "change", " from "]
        .iter()
        .any(|w| lower.contains(w));
    let olds = literals(clause);
    if !changes || olds.is_empty() || olds.iter().any(|l| contains_literal(content, l)) {
        return None;
    }
    let olds: Vec<String> = olds.iter().map(|o| format!("\"{o}\"")).collect();
    Some(format!(
        "{} no longer occurs (already changed)",
        olds.join(", ")
    ))
}

/// Words a request to pin dependencies may use besides "pin" ("pin every dependency in
/// requirements.txt to an exact version").
const PIN_WORDS: &[&str] = &[
    "pin",
    "every",
    "all",
    "each",
    "the",
    "our",
    "dependency",
    "dependencies",
    "deps",
    "requirement",
    "requirements",
    "package",
    "packages",
    "to",
    "an",
    "a",
    "exact",
    "exactly",
    "version",
    "versions",
    "their",
    "its",
    "current",
    "in",
    "python",
    "npm",
    "js",
    "node",
];

/// A clause asking for every dependency to be pinned, and nothing else.
fn pin_request(tokens: &[Token]) -> bool {
    tokens.first().is_some_and(|t| t.is(&["pin"])) && tokens.iter().all(|t| t.is(PIN_WORDS))
}

/// Words a request for f-strings may use besides "f-strings" ("convert the string formatting to
/// f-strings", "use f-strings instead of `.format()`").
const FSTRING_WORDS: &[&str] = &[
    "use",
    "convert",
    "switch",
    "migrate",
    "prefer",
    "rewrite",
    "change",
    "turn",
    "move",
    "the",
    "all",
    "every",
    "any",
    "remaining",
    "old",
    "style",
    "string",
    "strings",
    "formatting",
    "format",
    "formats",
    "formatted",
    "to",
    "into",
    "f",
    "instead",
    "of",
    "over",
    "percent",
    "str",
    "call",
    "calls",
    "interpolation",
    "everywhere",
    "python",
    "code",
    "from",
    "and",
    "in",
    "this",
    "file",
    "module",
];

/// A clause asking for Python's f-strings in place of older string formatting.
fn fstring_request(tokens: &[Token]) -> bool {
    let words: Vec<&str> = tokens.iter().filter_map(Token::word).collect();
    let fstrings = words
        .windows(2)
        .any(|w| w[0] == "f" && w[1].starts_with("string"));
    let code_ok = tokens.iter().all(|t| match t {
        Token::Code(c) => matches!(
            c.as_str(),
            "%" | ".format()" | "str.format" | "format" | ".format"
        ),
        Token::Word(w) => FSTRING_WORDS.contains(&w.as_str()),
    });
    fstrings && code_ok
}

/// Why a request for f-strings is done: a Python file with neither `%` formatting nor
/// `"…".format(…)` calls left.
fn fstrings_done(language: Option<Language>, content: &str) -> Option<String> {
    if language != Some(Language::Python) {
        return None;
    }
    let left = syntax::python_percent_formats(content)? + syntax::python_format_calls(content)?;
    (left == 0).then(|| "no `%` formatting or `.format()` call is left".to_owned())
}

/// A word of a clause (lowercase, split at anything not alphanumeric), or code in backticks.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Code(String),
}

impl Token {
    fn word(&self) -> Option<&str> {
        match self {
            Token::Word(w) => Some(w),
            Token::Code(_) => None,
        }
    }
    fn is(&self, words: &[&str]) -> bool {
        self.word().is_some_and(|w| words.contains(&w))
    }
}

/// The clause as words and code; None when its backticks do not pair up.
fn tokens(clause: &str) -> Option<Vec<Token>> {
    let parts: Vec<&str> = clause.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return None;
    }
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        if i % 2 == 1 {
            out.push(Token::Code(part.trim().to_owned()));
            continue;
        }
        for word in part.split_whitespace() {
            let bare = word.trim_end_matches([',', '.', ';', ':', ')']);
            // A file named after "in" is where, which the scope check has read; its parts are
            // no words ("in time.js").
            if file_name(&bare.to_lowercase()).is_some() {
                continue;
            }
            // `os.path`, `max_len`, `getUser` without backticks are code all the same.
            if is_bare_code(bare) {
                out.push(Token::Code(bare.to_owned()));
                continue;
            }
            out.extend(
                word.to_lowercase()
                    .split(|c: char| !c.is_alphanumeric())
                    .filter(|w| !w.is_empty())
                    .map(|w| Token::Word(w.to_owned())),
            );
        }
    }
    // Politeness and sequence words change nothing.
    while out
        .first()
        .is_some_and(|t| t.is(&["please", "also", "then", "now"]))
    {
        out.remove(0);
    }
    Some(out)
}

/// Whether an unquoted word is plainly code: a dotted name (`os.path`, `System.out.println`), a
/// snake_case name (`max_len`) or a camelCase one (`getUser`). Not "e.g.", a version ("v1.2")
/// or a capitalised word.
fn is_bare_code(word: &str) -> bool {
    let segments: Vec<&str> = word.split('.').collect();
    let names = segments.iter().all(|s| {
        s.starts_with(|c: char| c.is_alphabetic() || c == '_')
            && s.chars().all(|c| c.is_alphanumeric() || c == '_')
    });
    let dotted = segments.len() >= 2 && segments.iter().any(|s| s.chars().count() >= 2);
    let snake = word.trim_matches('_').contains('_');
    let camel = word.starts_with(char::is_lowercase) && word.chars().any(char::is_uppercase);
    names && (dotted || snake || camel)
}

/// Words that may stand around the old code of a replacement: they say what kind of thing it
/// is ("all `print` calls", "`%` formatting"), never where or when ("in", "except", "only").
const FILLERS: &[&str] = &[
    "the",
    "all",
    "every",
    "each",
    "any",
    "remaining",
    "existing",
    "old",
    "deprecated",
    "legacy",
    "of",
    "use",
    "uses",
    "usage",
    "usages",
    "occurrence",
    "occurrences",
    "instance",
    "instances",
    "call",
    "calls",
    "calling",
    "using",
    "importing",
    "reference",
    "references",
    "import",
    "imports",
    "statement",
    "statements",
    "bare",
    "raw",
    "direct",
    "plain",
    "function",
    "functions",
    "method",
    "methods",
    "macro",
    "macros",
    "keyword",
    "keywords",
    "operator",
    "operators",
    "module",
    "modules",
    "package",
    "packages",
    "library",
    "libraries",
    "crate",
    "crates",
    "class",
    "classes",
    "type",
    "types",
    "constant",
    "constants",
    "variable",
    "variables",
    "declaration",
    "declarations",
    "expression",
    "expressions",
    "formatting",
    "format",
    "style",
    "syntax",
    "loop",
    "loops",
    "string",
    "strings",
    "literal",
    "literals",
    "comparison",
    "comparisons",
    "check",
    "checks",
    "assertion",
    "assertions",
    "decorator",
    "decorators",
    "annotation",
    "annotations",
    "dependency",
    "dependencies",
    "api",
    "apis",
    "helper",
    "helpers",
    "client",
];

/// Words that say which of the old code a removal means ("the debugging `console.log`
/// calls", "the unused `import os`"): the kind of leftover, never where it is.
const REMOVED_KINDS: &[&str] = &[
    "debug",
    "debugging",
    "stray",
    "leftover",
    "unused",
    "redundant",
    "unnecessary",
    "commented",
    "out",
    "temporary",
    "lines",
    "line",
];

/// The old code a clause replaces or removes, when the clause is nothing but a replacement or
/// removal of backticked code: "replace `A` with …", "use … instead of `A`", "prefer … over
/// `A`", "migrate/switch from `A` to …", "switch `A` to `B`", "remove the debugging `A`
/// calls". With the new code it brings in, which may contain the old (`==` to `===`).
fn replacement(tokens: &[Token]) -> Option<Replacement> {
    let first = tokens.first()?.word()?;
    let words: Vec<Option<&str>> = tokens.iter().map(Token::word).collect();
    let at = |i: usize, w: &str| words.get(i).copied().flatten() == Some(w);
    let count = |w: &str| words.iter().filter(|x| **x == Some(w)).count();
    match first {
        "remove" | "delete" | "drop" | "strip" => {
            // remove (FILL|KIND)* OLD (, OLD)* (FILL|KIND)*, nothing else ("from `x`" is not)
            let skip = |t: &Token| t.is(FILLERS) || t.is(REMOVED_KINDS);
            let start = 1 + tokens[1..].iter().take_while(|t| skip(t)).count();
            let (olds, next) = olds_at(tokens, start)?;
            tokens[next..]
                .iter()
                .all(skip)
                .then(|| Replacement::new(olds, &[]))
        }
        "replace" => {
            // replace FILL* OLD (, OLD)* FILL* with|by REST
            let (olds, next) = olds_at(tokens, 1)?;
            let sep = tokens.get(next)?;
            let rest = &tokens[next + 1..];
            let again = rest.iter().any(|t| t.is(&["with", "by", "replace"]));
            (sep.is(&["with", "by"]) && !again).then(|| Replacement::new(olds, rest))
        }
        "use" | "prefer" | "switch" | "convert" | "migrate" | "call" | "import" | "write" => {
            let markers: Vec<(usize, usize)> = (0..tokens.len())
                .filter_map(|i| {
                    if at(i, "instead") && at(i + 1, "of") || at(i, "rather") && at(i + 1, "than") {
                        Some((i, i + 2))
                    } else if at(i, "in") && at(i + 1, "place") && at(i + 2, "of") {
                        Some((i, i + 3))
                    } else if first == "prefer" && at(i, "over") {
                        Some((i, i + 1))
                    } else {
                        None
                    }
                })
                .collect();
            if let [(start, after)] = markers[..] {
                let (olds, _) = olds_at(tokens, after)?;
                return Some(Replacement::new(olds, &tokens[..start]));
            }
            if !markers.is_empty() || !matches!(first, "switch" | "migrate") {
                return None;
            }
            if count("from") == 1 {
                // migrate|switch … from OLD (, OLD)* FILL* to REST
                let from = words.iter().position(|w| *w == Some("from"))?;
                let (olds, next) = olds_at(tokens, from + 1)?;
                return at(next, "to").then(|| Replacement::new(olds, &tokens[next + 1..]));
            }
            // switch FILL* OLD FILL* to `NEW`: the new one must be code, not a value the old
            // one is a setting of ("switch `strict` to `true`" may mean adding it).
            if first != "switch" || count("from") > 0 {
                return None;
            }
            let (olds, next) = olds_at(tokens, 1)?;
            let new = match tokens.get(next + 1) {
                Some(Token::Code(code)) if at(next, "to") && !is_literal(code) => code,
                _ => return None,
            };
            (olds.len() == 1).then(|| Replacement::new(olds, &[Token::Code(new.clone())]))
        }
        _ => None,
    }
}

/// Old code a clause replaces and the new code it names.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Replacement {
    olds: Vec<String>,
    news: Vec<String>,
}

impl Replacement {
    fn new(olds: Vec<String>, rest: &[Token]) -> Self {
        let news = rest
            .iter()
            .filter_map(|t| match t {
                Token::Code(c) => Some(c.clone()),
                Token::Word(_) => None,
            })
            .collect();
        Replacement { olds, news }
    }
}

/// Output calls and keywords instructions name without backticks ("use logging instead of
/// print", "use const/let instead of var"): so plainly code that the bare word means it.
const BARE_CALLS: &[&str] = &[
    "print", "println", "printf", "eprintln", "puts", "dbg", "var",
];

/// From `start`: fillers, then code (or a bare output call), then more code after "and"/"or"/fillers, then fillers.
/// The code found and the index of the first token after them; None without code.
fn olds_at(tokens: &[Token], start: usize) -> Option<(Vec<String>, usize)> {
    let mut olds = Vec::new();
    let mut i = start;
    while let Some(token) = tokens.get(i) {
        match token {
            Token::Code(code) if !code.is_empty() => olds.push(code.clone()),
            Token::Word(w) if BARE_CALLS.contains(&w.as_str()) => olds.push(w.clone()),
            Token::Word(w) if FILLERS.contains(&w.as_str()) || w == "and" || w == "or" => {}
            _ => break,
        }
        i += 1;
    }
    (!olds.is_empty()).then_some((olds, i))
}

/// A value rather than a name: a number, a boolean, a quoted string, nothing.
fn is_literal(code: &str) -> bool {
    let lower = code.to_lowercase();
    matches!(
        lower.as_str(),
        "true" | "false" | "on" | "off" | "yes" | "no" | "null" | "none" | "nil" | ""
    ) || code.parse::<f64>().is_ok()
        || code.starts_with(['"', '\''])
}

/// Why a replacement is done here: none of its old code occurs (outside the new code, where
/// the new contains the old). None when some does.
fn replaced(
    replacement: &Replacement,
    language: Option<Language>,
    content: &str,
) -> Option<String> {
    let still = |old: &String| match (old.as_str(), language) {
        // "`%` formatting" in Python is `"…" % x`, not a percent sign in an f-string or a modulo.
        ("%", Some(Language::Python)) => syntax::python_percent_formats(content) != Some(0),
        _ => occurs(content, old, &replacement.news),
    };
    if replacement.olds.iter().any(still) {
        return None;
    }
    let olds: Vec<String> = replacement.olds.iter().map(|o| format!("`{o}`")).collect();
    Some(format!(
        "{} no longer occurs (already replaced)",
        olds.join(", ")
    ))
}

/// Whether `old` occurs in `content`, case and runs of whitespace aside: as a whole identifier
/// where it is one (a call `name()` or `name(…)` as its name), as text otherwise. Where some
/// new code contains the old (`===` for `==`), the new code's occurrences do not count.
fn occurs(content: &str, old: &str, news: &[String]) -> bool {
    let squeeze = |s: &str| {
        s.split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase()
    };
    let old = squeeze(old);
    let mut text = squeeze(content);
    for new in news.iter().map(|n| squeeze(n)) {
        if new != old && new.contains(&old) {
            text = text.replace(&new, " ");
        }
    }
    let name = match old.split_once('(') {
        Some((name, _)) if old.ends_with(')') && !name.is_empty() => name,
        _ => old.as_str(),
    };
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '$' | '.' | ':'))
        && !name.ends_with(['.', ':']);
    if identifier {
        has_identifier(&text, name)
    } else {
        text.contains(&old)
    }
}

/// Which definitions an instruction concerns, and what it asks of them.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Request {
    /// Type hints (Python) rather than doc comments.
    hints: bool,
    functions: bool,
    types: bool,
    /// Other items too (fields, constants…): "every public item", or no kind named.
    others: bool,
    public: bool,
    /// The code the clause names; those the file defines narrow it to them and what they hold.
    names: Vec<String>,
}

impl Request {
    fn concerns(&self, d: &Definition) -> bool {
        let names: Vec<&str> = self
            .names
            .iter()
            .map(|n| n.rsplit(['.', ':']).next().unwrap_or(n))
            .collect();
        let defined = |d: &Definition| {
            std::iter::once(&d.name)
                .chain(&d.within)
                .any(|n| names.contains(&n.as_str()))
        };
        let kind = match d.kind {
            Kind::Function => self.functions,
            Kind::Type => self.types,
            Kind::Other => self.others,
        };
        kind && (!self.public || d.public) && (!self.narrowed() || defined(d))
    }

    fn narrowed(&self) -> bool {
        !self.names.is_empty()
    }

    /// Why nothing is due in these definitions; None when some it concerns lacks what it asks.
    fn done(&self, language: Language, defs: &[Definition]) -> Option<String> {
        let mut request = self.clone();
        // Only names the file defines narrow the check (`units.py` in "every function in
        // `units.py`" names no definition).
        request.names.retain(|n| {
            let n = n.rsplit(['.', ':']).next().unwrap_or(n);
            defs.iter().any(|d| d.name == n)
        });
        let concerned: Vec<&Definition> = defs.iter().filter(|d| request.concerns(d)).collect();
        let lacking = concerned.iter().any(|d| {
            if self.hints {
                d.kind != Kind::Function || !d.annotated
            } else {
                !d.documented
            }
        });
        // With nothing it concerns, the request may mean something else here (a module
        // docstring); the editor decides.
        if lacking || concerned.is_empty() {
            return None;
        }
        Some(if self.hints {
            "every function it concerns has type hints".to_owned()
        } else if language == Language::Python {
            "every definition it concerns has a docstring".to_owned()
        } else {
            "every definition it concerns has a doc comment".to_owned()
        })
    }
}

const FUNCTION_WORDS: &[&str] = &[
    "function",
    "functions",
    "method",
    "methods",
    "fn",
    "fns",
    "func",
    "funcs",
    "def",
    "defs",
    "constructor",
    "constructors",
];
const TYPE_WORDS: &[&str] = &[
    "class",
    "classes",
    "struct",
    "structs",
    "enum",
    "enums",
    "trait",
    "traits",
    "interface",
    "interfaces",
    "type",
    "types",
    "record",
    "records",
    "union",
    "unions",
    "typedef",
    "typedefs",
];
/// Words for definitions of any kind: they put fields, constants and the like in scope.
const ITEM_WORDS: &[&str] = &[
    "item",
    "items",
    "definition",
    "definitions",
    "declaration",
    "declarations",
    "symbol",
    "symbols",
    "member",
    "members",
    "field",
    "fields",
    "constant",
    "constants",
    "api",
    "export",
    "exports",
    "identifier",
    "identifiers",
];
/// Words of a request's frame: verbs that add, determiners, prepositions, languages, and the
/// words of "that lack one" / "without one".
const FRAME_WORDS: &[&str] = &[
    "add",
    "write",
    "put",
    "give",
    "include",
    "ensure",
    "make",
    "sure",
    "provide",
    "a",
    "an",
    "the",
    "every",
    "each",
    "all",
    "any",
    "its",
    "their",
    "to",
    "for",
    "on",
    "of",
    "above",
    "and",
    "or",
    "this",
    "these",
    "those",
    "without",
    "missing",
    "lacking",
    "undocumented",
    "one",
    "ones",
    "them",
    "it",
    "none",
    "no",
    "not",
    "yet",
    "lack",
    "lacks",
    "don",
    "do",
    "does",
    "doesn",
    "t",
    "have",
    "has",
    "is",
    "are",
    "line",
    "short",
    "brief",
    "concise",
    "public",
    "exported",
    "top",
    "level",
    "python",
    "rust",
    "go",
    "golang",
    "javascript",
    "js",
    "typescript",
    "ts",
    "java",
    "c",
    "cpp",
];
/// Where, given after "in" / "across" / "throughout": "every function in this module".
const PLACE_WORDS: &[&str] = &[
    "in",
    "across",
    "throughout",
    "file",
    "files",
    "module",
    "modules",
    "package",
    "packages",
    "crate",
    "codebase",
    "project",
    "repo",
    "repository",
    "code",
    "source",
    "sources",
    "directory",
    "folder",
    "src",
];
/// Doc nouns, and what they may lead to ("doc comment", "JSDoc block").
const DOC_NOUNS: &[&str] = &[
    "docstring",
    "docstrings",
    "doc",
    "docs",
    "documentation",
    "jsdoc",
    "javadoc",
    "rustdoc",
    "godoc",
    "doxygen",
    "docblock",
    "docblocks",
    "document",
];
const DOC_TAILS: &[&str] = &[
    "comment", "comments", "string", "strings", "block", "blocks",
];
const HINT_WORDS: &[&str] = &[
    "type",
    "types",
    "typing",
    "hint",
    "hints",
    "typehint",
    "typehints",
    "annotation",
    "annotations",
    "annotate",
    "annotated",
    "full",
    "fully",
    "complete",
    "return",
    "returns",
    "parameter",
    "parameters",
    "param",
    "params",
    "argument",
    "arguments",
    "arg",
    "args",
    "signature",
    "signatures",
    "value",
    "values",
];

/// The markers of doc comments on definitions. Tags inside them (`@param`) ask for more than a
/// comment and are not among them.
const DOC_MARKERS: &[&str] = &["///", "/**", "/** */", "\"\"\"", "##"];

/// The frame both requests share: every word known, "that" only as "that lack one", place
/// words only after "in", and code only as names. The words, or None.
fn framed<'a>(tokens: &'a [Token], own: &[&str]) -> Option<Vec<&'a str>> {
    let mut words = Vec::new();
    let mut placed = false;
    for (i, token) in tokens.iter().enumerate() {
        let word = match token {
            // A doc comment's own markers say which comment is meant ("add `///` comments").
            Token::Code(code) if DOC_MARKERS.contains(&code.as_str()) => continue,
            Token::Code(code) => {
                if backticked(&format!("`{code}`")).is_empty() {
                    return None;
                }
                continue;
            }
            Token::Word(w) => w.as_str(),
        };
        let next = tokens.get(i + 1).and_then(Token::word);
        let known = own.contains(&word)
            || FRAME_WORDS.contains(&word)
            || FUNCTION_WORDS.contains(&word)
            || TYPE_WORDS.contains(&word)
            || ITEM_WORDS.contains(&word)
            || (word == "that"
                && next.is_some_and(|n| {
                    [
                        "lack", "lacks", "don", "do", "does", "doesn", "have", "has", "are", "is",
                    ]
                    .contains(&n)
                }));
        let place = PLACE_WORDS.contains(&word);
        placed |= matches!(word, "in" | "across" | "throughout");
        if !(known || place && placed) {
            return None;
        }
        words.push(word);
    }
    Some(words)
}

/// The kinds a request concerns, from its words; each of them when it names none or names
/// items of any kind.
fn kinds(words: &[&str], request: &mut Request) {
    let any = |list: &[&str]| words.iter().any(|w| list.contains(w));
    request.functions = any(FUNCTION_WORDS);
    request.types = any(TYPE_WORDS);
    if any(ITEM_WORDS) || !request.functions && !request.types {
        (request.functions, request.types, request.others) = (true, true, true);
    }
    request.public = words.iter().any(|w| matches!(*w, "public" | "exported"));
}

fn names(tokens: &[Token]) -> Vec<String> {
    tokens
        .iter()
        .filter_map(|t| match t {
            Token::Code(c) => Some(c.clone()),
            Token::Word(_) => None,
        })
        .collect()
}

/// A clause asking for doc comments to be added to definitions ("add a docstring to `f`", "add
/// JSDoc comments to the exported functions", "document every public function"), not for
/// existing ones to change ("add a `Returns:` section to every docstring").
fn doc_request(tokens: &[Token]) -> Option<Request> {
    let words = framed(tokens, &[DOC_NOUNS, DOC_TAILS].concat())?;
    // A doc tail only right after a doc noun: "a comment" alone is not a doc comment.
    let tails_ok = words
        .iter()
        .enumerate()
        .all(|(i, w)| !DOC_TAILS.contains(w) || i > 0 && DOC_NOUNS.contains(&words[i - 1]));
    let noun = words.iter().position(|w| DOC_NOUNS.contains(w))?;
    let verb = words[..noun]
        .iter()
        .any(|w| matches!(*w, "add" | "write" | "put" | "give" | "include" | "provide"))
        || words[noun] == "document" && noun == 0;
    // "every docstring", "the docstrings": the docstrings are the object, not what is asked.
    let changes_existing = noun > 0
        && matches!(
            words[noun - 1],
            "every" | "each" | "all" | "the" | "its" | "their" | "those" | "these"
        );
    // "add docs" alone is vague: documentation in general needs a definition to attach to.
    let vague = matches!(words[noun], "docs" | "documentation" | "document")
        && !words.iter().any(|w| {
            FUNCTION_WORDS.contains(w) || TYPE_WORDS.contains(w) || ITEM_WORDS.contains(w)
        })
        && names(tokens).is_empty();
    let hints = words.contains(&"type") && words.contains(&"hints");
    if !tails_ok || !verb || changes_existing || vague || hints {
        return None;
    }
    let mut request = Request {
        hints: false,
        functions: false,
        types: false,
        others: false,
        public: false,
        names: names(tokens),
    };
    kinds(&words, &mut request);
    Some(request)
}

/// A clause asking for Python type hints on functions ("add type hints to every function",
/// "annotate `f` with types"), not for existing ones to change or for variables.
fn hint_request(tokens: &[Token]) -> Option<Request> {
    let mut own = HINT_WORDS.to_vec();
    let annotate = tokens.first().is_some_and(|t| t.is(&["annotate"]));
    if annotate {
        own.push("with");
    }
    let words = framed(tokens, &own)?;
    let typed = |w: &&str| matches!(*w, "type" | "types" | "typing" | "typehint" | "typehints");
    let noun = words.iter().position(typed)?;
    let verb = annotate
        || words[..noun]
            .iter()
            .any(|w| matches!(*w, "add" | "write" | "put" | "give" | "include" | "provide"));
    let changes_existing = noun > 0
        && matches!(
            words[noun - 1],
            "every" | "each" | "all" | "the" | "its" | "their" | "those" | "these"
        );
    let hinted = annotate
        || words.iter().any(|w| matches!(*w, "typehint" | "typehints"))
        || words.windows(2).any(|p| {
            typed(&p[0]) && matches!(p[1], "hint" | "hints" | "annotation" | "annotations")
        });
    // Classes, fields and the like hold annotated variables, which this does not read.
    let others = words
        .iter()
        .any(|w| ITEM_WORDS.contains(w) || TYPE_WORDS.contains(w) && !typed(w));
    if !verb || changes_existing || !hinted || others {
        return None;
    }
    Some(Request {
        hints: true,
        functions: true,
        types: false,
        others: false,
        public: words.iter().any(|w| matches!(*w, "public" | "exported")),
        names: names(tokens),
    })
}

#[cfg(test)]
mod tests;

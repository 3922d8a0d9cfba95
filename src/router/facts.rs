//! Cheap facts about an instruction and a file: the identifiers the instruction names in
//! backticks, the literal text it changes, its clauses, the part of it that concerns a file, the
//! names a file defines (a line scan, no parser), the interpreter its `#!` line names, and the
//! renames it asks for.
//!
//! Owns no model and no decision: whether a file is in scope is `scope`'s, whether anything is
//! due is `due`'s; the router combines these facts.

use serde::{Deserialize, Serialize};

use super::parts;

/// Cheap facts about one file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FileFacts {
    pub path: String,
    /// Names the file defines (functions, types), in order, at most [`MAX_SYMBOLS`].
    pub symbols: Vec<String>,
    /// For each backticked identifier of the instruction, whether the file contains it.
    pub mentions: Vec<(String, bool)>,
    /// For each literal the instruction changes (see [`literals`]), whether the file contains it,
    /// case aside. Kept apart from `mentions`, which the router model is shown.
    #[serde(default)]
    pub literals: Vec<(String, bool)>,
    /// The program the file's `#!` line runs (`python3`, `bash`, `node`), if it has one.
    #[serde(default)]
    pub interpreter: Option<String>,
    /// For each part of the repository the instruction names ("the deploy script", "the utils
    /// folder", see [`parts::named`]), whether the file belongs to it.
    #[serde(default)]
    pub parts: Vec<(String, bool)>,
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
            literals: literals(instruction)
                .into_iter()
                .map(|lit| {
                    let found = contains_literal(content, &lit);
                    (lit, found)
                })
                .collect(),
            interpreter: interpreter(content),
            parts: parts::named(&clauses(instruction))
                .into_iter()
                .map(|part| {
                    let found = part.holds(path, content);
                    (part.shown, found)
                })
                .collect(),
        }
    }
}

/// The program a `#!` line runs: `#!/usr/bin/env python3` and `#!/usr/bin/python3` both give
/// `python3`.
fn interpreter(content: &str) -> Option<String> {
    let line = content.lines().next()?.strip_prefix("#!")?;
    let mut words = line.split_whitespace();
    let program = words.next()?.rsplit('/').next()?;
    let program = if program == "env" {
        words.find(|w| !w.starts_with('-'))?
    } else {
        program
    };
    Some(program.to_owned())
}

/// Quotation marks an instruction may put literal text in: straight, curly and single quotes.
const QUOTES: &[(char, char)] = &[('"', '"'), ('\u{201c}', '\u{201d}'), ('\'', '\'')];

/// Literal text the instruction changes, which a file must contain to need the change: quoted
/// text ("replace \"Copyright 2023\" with …"), the number a value changes from ("change the
/// port from 8080 to 9000"), and an unquoted identifier or name a rename starts from ("rename
/// getUser to fetchUser", "change the project name from Stellar to Nova"). Text the edit brings
/// in ("… with \"x\"", "… to 9000") is not looked for. Plain words are never taken: "from
/// tabs to spaces" or "from callbacks to promises" change what no file spells out.
pub fn literals(instruction: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for clause in clauses(instruction) {
        let mut push = |lit: &str| {
            let lit = lit.trim();
            if !lit.is_empty() && lit.chars().count() <= 80 && !out.iter().any(|o| o == lit) {
                out.push(lit.to_owned());
            }
        };
        for (text, before) in quoted(&clause) {
            if !brings_in(&clause, &before) {
                push(&text);
            }
        }
        let lower = clause.to_lowercase();
        let words: Vec<&str> = clause.split_whitespace().collect();
        let renaming = lower.contains("rename") || lower.contains("name from");
        for pair in words.windows(3) {
            let (from, old, to) = (pair[0].to_lowercase(), pair[1], pair[2].to_lowercase());
            let old = old.trim_matches(|c: char| matches!(c, ',' | ';' | ':'));
            if to != "to" || old.contains(['`', '"', '\'', '\u{201c}']) {
                continue;
            }
            let number = old.starts_with(|c: char| c.is_ascii_digit())
                && old.chars().all(|c| c.is_ascii_digit() || c == '.');
            if (from == "from" && number) || (renaming && names_something(old)) {
                push(old);
            }
        }
    }
    out
}

/// Whether an unquoted word reads as a name rather than an English word: an identifier with
/// `_`, `.` or an inner capital (`getUser`, `max_len`, `os.path`), or a capitalised proper noun.
fn names_something(word: &str) -> bool {
    let ident = word
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'));
    let inner_capital = word.chars().skip(1).any(char::is_uppercase);
    let proper =
        word.starts_with(char::is_uppercase) && word.chars().skip(1).all(char::is_lowercase);
    ident && word.chars().count() > 1 && (word.contains(['_', '.']) || inner_capital || proper)
}

/// Quoted spans of a clause, each with the text before it. A quote mark counts only at a word's
/// edge, so apostrophes ("don't", "user's") never open one.
fn quoted(clause: &str) -> Vec<(String, String)> {
    let chars: Vec<(usize, char)> = clause.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let (start, c) = chars[i];
        let opens = QUOTES
            .iter()
            .find(|(open, _)| *open == c)
            .map(|(_, close)| *close);
        let at_edge = i == 0 || !chars[i - 1].1.is_alphanumeric();
        let (Some(close), true) = (opens, at_edge) else {
            i += 1;
            continue;
        };
        let end = (i + 1..chars.len()).find(|&j| {
            chars[j].1 == close && chars.get(j + 1).is_none_or(|(_, n)| !n.is_alphanumeric())
        });
        match end {
            Some(j) => {
                let text = &clause[start + c.len_utf8()..chars[j].0];
                out.push((text.to_owned(), clause[..start].to_owned()));
                i = j + 1;
            }
            None => i += 1,
        }
    }
    out
}

/// Whether the words before a literal make it what the edit brings in ("with", "to" after a
/// change verb) rather than what it looks for.
fn brings_in(clause: &str, before: &str) -> bool {
    let lower = clause.to_lowercase();
    let changes = CHANGE_VERBS.iter().any(|v| lower.contains(v));
    let words: Vec<String> = before
        .to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !matches!(*w, "the" | "a" | "an" | "new"))
        .map(str::to_owned)
        .collect();
    words.last().is_some_and(|last| {
        NEW_MARKERS.contains(&last.as_str()) || (changes && matches!(last.as_str(), "to" | "into"))
    })
}

/// Whether `content` holds a literal, case aside ("Stellar" is in `STELLAR_HOME`).
pub fn contains_literal(content: &str, literal: &str) -> bool {
    content.to_lowercase().contains(&literal.to_lowercase())
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
            // "… to `A` and each of its methods" goes on naming what the verb applies to.
            let after_lower = after.trim_start().to_lowercase();
            // "… in types.ts and users.ts": a word with a dot inside names a file, never a verb.
            let first_word = after_lower.split_whitespace().next().unwrap_or("");
            let names_file = first_word
                .trim_end_matches(['.', ',', ';', ':'])
                .split_once('.')
                .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty());
            let continues_list = names_file
                || after.trim_start().starts_with('`')
                || [
                    "and ",
                    "each of ",
                    "its ",
                    "their ",
                    "all of ",
                    "every one of ",
                ]
                .iter()
                .any(|p| after_lower.starts_with(p));
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

//! Syntax: whether a file's text parses, where it does not, and a few exact facts about code
//! that only a parser can give (the definitions of a file with their doc comments, visibility
//! and Python annotations, in `definitions`; which function bodies an edit only deleted
//! statements from; where an edit changed code rather than comments; Python's `%` and
//! `.format()` string formattings).
//!
//! Owns the language of a path (by extension), parsing with the tree-sitter grammars for
//! source code and with each data format's own parser (JSON, TOML, YAML), and the syntax gate:
//! an edit that adds parse errors to a file is not accepted. Files in a language it does not
//! know pass the gate untouched. It never edits anything.

use tree_sitter::{Node, Parser};

mod definitions;

pub use definitions::{definitions, Definition, Kind};

/// A language the gate can parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    Python,
    Rust,
    JavaScript,
    TypeScript,
    Tsx,
    Go,
    C,
    Cpp,
    Java,
    Json,
    Toml,
    Yaml,
}

impl Language {
    /// The language of a repository path, from its extension.
    pub fn of(path: &str) -> Option<Language> {
        let ext = path.rsplit_once('.')?.1.to_ascii_lowercase();
        Some(match ext.as_str() {
            "py" | "pyi" => Language::Python,
            "rs" => Language::Rust,
            "js" | "mjs" | "cjs" | "jsx" => Language::JavaScript,
            "ts" | "mts" | "cts" => Language::TypeScript,
            "tsx" => Language::Tsx,
            "go" => Language::Go,
            "c" | "h" => Language::C,
            "cc" | "cpp" | "cxx" | "hpp" | "hh" | "hxx" => Language::Cpp,
            "java" => Language::Java,
            "json" => Language::Json,
            "toml" => Language::Toml,
            "yaml" | "yml" => Language::Yaml,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "Python",
            Language::Rust => "Rust",
            Language::JavaScript => "JavaScript",
            Language::TypeScript => "TypeScript",
            Language::Tsx => "TSX",
            Language::Go => "Go",
            Language::C => "C",
            Language::Cpp => "C++",
            Language::Java => "Java",
            Language::Json => "JSON",
            Language::Toml => "TOML",
            Language::Yaml => "YAML",
        }
    }

    fn grammar(self) -> Option<tree_sitter::Language> {
        Some(match self {
            Language::Python => tree_sitter_python::LANGUAGE.into(),
            Language::Rust => tree_sitter_rust::LANGUAGE.into(),
            Language::JavaScript => tree_sitter_javascript::LANGUAGE.into(),
            Language::TypeScript => tree_sitter_typescript::LANGUAGE_TYPESCRIPT.into(),
            Language::Tsx => tree_sitter_typescript::LANGUAGE_TSX.into(),
            Language::Go => tree_sitter_go::LANGUAGE.into(),
            Language::C => tree_sitter_c::LANGUAGE.into(),
            Language::Cpp => tree_sitter_cpp::LANGUAGE.into(),
            Language::Java => tree_sitter_java::LANGUAGE.into(),
            Language::Json | Language::Toml | Language::Yaml => return None,
        })
    }
}

/// One place where a text does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// 1-based line.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}", self.line, self.message)
    }
}

/// Where `text` does not parse as `language`: tree-sitter's error and missing nodes (the
/// outermost of each), or the data format parser's first error.
pub fn errors(language: Language, text: &str) -> Vec<SyntaxError> {
    match language {
        Language::Json => serde_json::from_str::<serde_json::Value>(text)
            .err()
            .map(|e| SyntaxError {
                line: e.line().max(1),
                message: e.to_string(),
            })
            .into_iter()
            .collect(),
        Language::Toml => toml::from_str::<toml::Table>(text)
            .err()
            .map(|e| SyntaxError {
                line: e.span().map_or(1, |s| line_of(text, s.start)),
                message: e.message().to_owned(),
            })
            .into_iter()
            .collect(),
        Language::Yaml => yaml_rust2::YamlLoader::load_from_str(text)
            .err()
            .map(|e| SyntaxError {
                line: e.marker().line().max(1),
                message: e.info().to_owned(),
            })
            .into_iter()
            .collect(),
        _ => tree_errors(language, text),
    }
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].matches('\n').count() + 1
}

fn parse(language: Language, text: &str) -> Option<tree_sitter::Tree> {
    let grammar = language.grammar()?;
    let mut parser = Parser::new();
    parser.set_language(&grammar).ok()?;
    parser.parse(text, None)
}

/// The tree of a text that parses without an error; None otherwise. The exact facts about code
/// are read only from such trees: a broken file's tree says too little for certain.
fn parse_clean(language: Language, text: &str) -> Option<tree_sitter::Tree> {
    parse(language, text).filter(|tree| !tree.root_node().has_error())
}

fn tree_errors(language: Language, text: &str) -> Vec<SyntaxError> {
    let Some(tree) = parse(language, text) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    collect_errors(tree.root_node(), text, &mut found);
    found
}

/// The outermost error and missing nodes under `node`.
fn collect_errors(node: Node<'_>, text: &str, found: &mut Vec<SyntaxError>) {
    if node.is_error() || node.is_missing() {
        let line = node.start_position().row + 1;
        let message = if node.is_missing() {
            format!("missing `{}`", node.kind())
        } else {
            let snippet: String = text[node.byte_range()]
                .lines()
                .next()
                .unwrap_or_default()
                .trim()
                .chars()
                .take(40)
                .collect();
            format!("syntax error at `{snippet}`")
        };
        found.push(SyntaxError { line, message });
        return;
    }
    if !node.has_error() {
        return;
    }
    let mut cursor = node.walk();
    for child in node.children(&mut cursor) {
        collect_errors(child, text, found);
    }
}

/// How many `%` string formattings (`"%s" % x`) a Python text holds: `%` operators whose left
/// side is a string. A `%` inside a string or a modulo of numbers is not one. None when the
/// text does not parse.
pub fn python_percent_formats(text: &str) -> Option<usize> {
    count_python_nodes(text, |node| {
        node.kind() == "binary_operator"
            && node
                .child_by_field_name("operator")
                .is_some_and(|op| op.kind() == "%")
            && node
                .child_by_field_name("left")
                .is_some_and(|left| is_python_string(&left))
    })
}

/// How many `"…".format(…)` calls a Python text has (a string literal's `format` method), or
/// None when it does not parse.
pub fn python_format_calls(text: &str) -> Option<usize> {
    count_python_nodes(text, |node| {
        node.kind() == "call"
            && node
                .child_by_field_name("function")
                .filter(|f| f.kind() == "attribute")
                .is_some_and(|f| {
                    let method = f.child_by_field_name("attribute");
                    let object = f.child_by_field_name("object");
                    method.is_some_and(|m| &text[m.byte_range()] == "format")
                        && object.is_some_and(|o| is_python_string(&o))
                })
    })
}

/// Whether a Python node is a string literal (or adjacent ones).
fn is_python_string(node: &Node) -> bool {
    matches!(node.kind(), "string" | "concatenated_string")
}

/// How many nodes of a Python text's tree `wanted` picks, or None when the text does not parse.
fn count_python_nodes(text: &str, wanted: impl Fn(&Node) -> bool) -> Option<usize> {
    let tree = parse_clean(Language::Python, text)?;
    let mut count = 0;
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        count += usize::from(wanted(&node));
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
    }
    Some(count)
}

/// The syntax gate: the first parse error that `after` has and `before` had not, when `after`
/// has more errors than `before`. Files in a language the gate does not know always pass, and
/// so does a file that was already broken in the same places.
pub fn new_error(path: &str, before: &str, after: &str) -> Option<(Language, SyntaxError)> {
    let language = Language::of(path)?;
    let old = errors(language, before);
    let new = errors(language, after);
    if new.len() <= old.len() {
        return None;
    }
    let old_lines: Vec<&str> = old
        .iter()
        .filter_map(|e| before.lines().nth(e.line - 1))
        .collect();
    let first = new
        .iter()
        .find(|e| {
            after
                .lines()
                .nth(e.line - 1)
                .is_none_or(|l| !old_lines.contains(&l))
        })
        .or(new.first())?;
    Some((language, first.clone()))
}

/// The lines around `line` (1-based) with that line marked `>>`, for error feedback.
pub fn excerpt(text: &str, line: usize) -> String {
    let from = line.saturating_sub(3).max(1);
    text.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(n, _)| *n >= from && *n <= line + 2)
        .map(|(n, l)| {
            let mark = if n == line { ">>" } else { "  " };
            format!("{mark} {n:>4} | {l}\n")
        })
        .collect()
}

/// Statements a function's body lost, with nothing added or changed in their place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The function's name.
    pub function: String,
    /// The statements it lost, whitespace collapsed, in file order.
    pub statements: Vec<String>,
}

/// The functions whose body in `after` is the body in `before` with some statements deleted
/// and none added or changed (issue 10: a whole-file answer asked for a docstring dropped
/// `return width * height`). Each body is read as its list of top-level statements, whitespace
/// collapsed, leaving out comments and Python's string statements (docstrings), so that
/// adding those is no change; a statement that changed inside (a nested block losing a line)
/// counts as changed, not dropped. Functions are paired by name and, among those of one name
/// (methods of different classes), by order; a name whose count differs is left to the
/// definition check. Empty when the language has no grammar here or either text does not
/// parse.
pub fn dropped_statements(path: &str, before: &str, after: &str) -> Vec<Dropped> {
    let Some(language) = Language::of(path) else {
        return Vec::new();
    };
    let (Some(old), Some(new)) = (functions(language, before), functions(language, after)) else {
        return Vec::new();
    };
    let mut dropped = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in &old {
        if seen.contains(&name.as_str()) {
            continue;
        }
        seen.push(name);
        let bodies = |all: &[(String, Vec<String>)]| -> Vec<Vec<String>> {
            all.iter()
                .filter(|(n, _)| n == name)
                .map(|(_, b)| b.clone())
                .collect()
        };
        let (olds, news) = (bodies(&old), bodies(&new));
        if olds.len() != news.len() {
            continue;
        }
        for (o, n) in olds.iter().zip(&news) {
            if let Some(lost) = deleted_only(o, n) {
                dropped.push(Dropped {
                    function: name.clone(),
                    statements: lost,
                });
            }
        }
    }
    dropped
}

/// The statements of `old` missing from `new` when `new` is `old` with some deleted (a proper
/// subsequence); None when `new` adds or changes anything, or is the same.
fn deleted_only(old: &[String], new: &[String]) -> Option<Vec<String>> {
    if new.len() >= old.len() {
        return None;
    }
    // Compared without whitespace: a statement reflowed across lines is the same statement.
    let squeezed = |s: &str| -> String { s.chars().filter(|c| !c.is_whitespace()).collect() };
    let mut lost = Vec::new();
    let mut next = new.iter().map(|s| squeezed(s)).peekable();
    for statement in old {
        if next.peek() == Some(&squeezed(statement)) {
            next.next();
        } else {
            lost.push(statement.clone());
        }
    }
    next.peek().is_none().then_some(lost)
}

/// Every named function of `text` (functions, methods, constructors, and function expressions
/// bound to a name) with its body's top-level statements, in file order. None when the
/// language has no grammar here or the text does not parse cleanly.
fn functions(language: Language, text: &str) -> Option<Vec<(String, Vec<String>)>> {
    let tree = parse_clean(language, text)?;
    let mut found = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
        if !FUNCTION_KINDS.contains(&node.kind()) {
            continue;
        }
        let (Some(name), Some(body)) =
            (function_name(node, text), node.child_by_field_name("body"))
        else {
            continue;
        };
        // An arrow function's expression body is one expression, not a list of statements.
        if !BODY_KINDS.contains(&body.kind()) {
            continue;
        }
        let mut statements = Vec::new();
        body_statements(body, text, language, &mut statements);
        found.push((node.start_byte(), (name, statements)));
    }
    found.sort_by_key(|(at, _)| *at);
    Some(found.into_iter().map(|(_, f)| f).collect())
}

/// The node kinds of function-like definitions across the grammars here.
const FUNCTION_KINDS: &[&str] = &[
    "function_definition",            // Python, C, C++
    "function_item",                  // Rust
    "function_declaration",           // JavaScript, TypeScript, Go
    "generator_function_declaration", // JavaScript, TypeScript
    "method_definition",              // JavaScript, TypeScript
    "method_declaration",             // Go, Java
    "constructor_declaration",        // Java
    "arrow_function",                 // JavaScript, TypeScript (when bound to a name)
    "function_expression",            // JavaScript, TypeScript (when bound to a name)
];

/// The node kinds of a function body that is a list of statements.
const BODY_KINDS: &[&str] = &[
    "block",              // Python, Rust, Go, Java
    "statement_block",    // JavaScript, TypeScript
    "compound_statement", // C, C++
    "constructor_body",   // Java
];

/// A function's name: its `name` field, the innermost of a C declarator, or the variable or
/// key an anonymous function is bound to.
fn function_name(node: Node<'_>, text: &str) -> Option<String> {
    if let Some(name) = node.child_by_field_name("name") {
        return Some(text[name.byte_range()].to_owned());
    }
    if let Some(mut declarator) = node.child_by_field_name("declarator") {
        while let Some(inner) = declarator.child_by_field_name("declarator") {
            declarator = inner;
        }
        return Some(text[declarator.byte_range()].to_owned());
    }
    let parent = node.parent()?;
    let bound = match parent.kind() {
        "variable_declarator" => parent.child_by_field_name("name"),
        "pair" => parent.child_by_field_name("key"),
        "assignment_expression" => parent.child_by_field_name("left"),
        _ => None,
    }?;
    Some(text[bound.byte_range()].to_owned())
}

/// The top-level statements of a body, whitespace collapsed, without comments and Python's
/// string statements; Go's `statement_list` is looked into.
fn body_statements(body: Node<'_>, text: &str, language: Language, out: &mut Vec<String>) {
    let mut cursor = body.walk();
    for statement in body.named_children(&mut cursor) {
        let kind = statement.kind();
        if kind == "statement_list" {
            body_statements(statement, text, language, out);
        } else if kind.contains("comment") || is_python_string_statement(language, statement) {
            continue;
        } else {
            out.push(
                text[statement.byte_range()]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            );
        }
    }
}

/// Where an edit changes code rather than comments: the line of `after` holding the first
/// token of code (anything but comments and Python docstrings) that differs from `before`'s.
/// None when only comments changed, or when either text does not parse or is in a language the
/// gate does not know.
pub fn code_change(path: &str, before: &str, after: &str) -> Option<usize> {
    let language = Language::of(path)?;
    let old = code_tokens(language, before)?;
    let new = code_tokens(language, after)?;
    if old.iter().map(|t| t.0).eq(new.iter().map(|t| t.0)) {
        return None;
    }
    let first = old.iter().zip(&new).position(|(a, b)| a.0 != b.0);
    let byte = match first {
        Some(i) => new[i].1,
        // One is the other with tokens added or taken away at the end.
        None => new.get(old.len()).map_or(after.len(), |t| t.1),
    };
    Some(line_of(after, byte))
}

/// The code tokens of a text with where each starts: the leaves of its tree outside comments
/// and Python docstrings. None when it does not parse cleanly.
fn code_tokens(language: Language, text: &str) -> Option<Vec<(&str, usize)>> {
    let tree = parse_clean(language, text)?;
    let mut tokens = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind().contains("comment") || is_python_string_statement(language, node) {
            continue;
        }
        if node.child_count() == 0 {
            tokens.push((&text[node.byte_range()], node.start_byte()));
            continue;
        }
        let mut cursor = node.walk();
        let children: Vec<Node> = node.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    Some(tokens)
}

fn is_python_string_statement(language: Language, statement: Node<'_>) -> bool {
    language == Language::Python
        && statement.kind() == "expression_statement"
        && statement.named_child_count() == 1
        && statement
            .named_child(0)
            .is_some_and(|e| matches!(e.kind(), "string" | "concatenated_string"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_of_code_is_a_code_change() {
        let go = "package t\n\nfunc Reverse(s string) string {\n\treturn s\n}\n";
        let documented = "package t\n\n// Reverse returns s reversed.\nfunc Reverse(s string) string {\n\treturn s\n}\n";
        assert_eq!(code_change("t.go", go, documented), None);
        let tidied = "package t\n\n// Reverse returns s.\nfunc Reverse(s string) string {\n\treturn s + \"\"\n}\n";
        assert_eq!(code_change("t.go", go, tidied), Some(5));
        let py = "def area(w, h):\n    return w * h\n";
        let docstring = "def area(w, h):\n    \"\"\"The area.\"\"\"\n    return w * h\n";
        assert_eq!(code_change("a.py", py, docstring), None);
        assert_eq!(
            code_change("a.py", py, "def area(w, h):\n    return h * w\n"),
            Some(2)
        );
        let rs = "pub fn a() {}\n";
        assert_eq!(code_change("a.rs", rs, "/// A.\npub fn a() {}\n"), None);
        assert_eq!(
            code_change("a.rs", rs, "/// A.\npub fn a() {}\nfn b() {}\n"),
            Some(3)
        );
        // Unknown languages and text that does not parse are not judged.
        assert_eq!(code_change("a.txt", "a", "b"), None);
        assert_eq!(code_change("a.py", py, "def area(:\n"), None);
    }

    #[test]
    fn sound_code_parses_in_every_language() {
        for (path, text) in [
            ("a.py", "def f(x):\n    return x + 1\n"),
            ("a.rs", "fn f(x: u32) -> u32 { x + 1 }\n"),
            ("a.js", "function f(x) { return x + 1; }\n"),
            ("a.ts", "function f(x: number): number { return x + 1; }\n"),
            ("a.tsx", "const A = () => <div>{1}</div>;\n"),
            ("a.go", "package a\n\nfunc F(x int) int { return x + 1 }\n"),
            ("a.c", "int f(int x) { return x + 1; }\n"),
            ("a.cpp", "template <class T> T f(T x) { return x + 1; }\n"),
            ("A.java", "class A { int f(int x) { return x + 1; } }\n"),
            ("a.json", "{\"a\": [1, 2]}\n"),
            ("a.toml", "[a]\nb = 1\n"),
            ("a.yaml", "a:\n  - 1\n  - 2\n"),
        ] {
            let language = Language::of(path).unwrap();
            assert_eq!(errors(language, text), Vec::new(), "{path}");
        }
    }

    #[test]
    fn broken_code_is_found_with_its_line() {
        for (path, text, line) in [
            ("a.py", "def f(x):\n    return (x + 1\n\ny = 2\n", 2),
            ("a.rs", "fn f() {\n    let x = ;\n}\n", 2),
            ("a.js", "function f( {\n}\n", 1),
            ("a.go", "package a\nfunc F( {\n", 2),
            ("a.json", "{\"a\": [1, 2}\n", 1),
            ("a.toml", "a = 1\nb = \n", 2),
            ("a.yaml", "a: [1, 2\nb: 3\n", 2),
        ] {
            let found = errors(Language::of(path).unwrap(), text);
            assert!(!found.is_empty(), "{path}");
            assert!(found[0].line <= line + 1, "{path}: {found:?}");
        }
    }

    #[test]
    fn the_gate_rejects_only_new_errors() {
        let good = "def f(x):\n    return x\n";
        let broken = "def f(x):\n    return x +\n";
        let (_, e) = new_error("m.py", good, broken).unwrap();
        assert_eq!(e.line, 2, "{e}");
        assert_eq!(
            new_error("m.py", good, "def f(x):\n    return 2 * x\n"),
            None
        );
        // Already broken the same way: the edit did not make it worse.
        let edited = "def g():\n    pass\n\n\ndef f(x):\n    return x +\n";
        assert_eq!(new_error("m.py", broken, edited), None);
        // Unknown languages pass.
        assert_eq!(new_error("notes.txt", "a", "(("), None);
    }

    #[test]
    fn excerpt_marks_the_line() {
        let text = "a\nb\nc\nd\ne\nf\n";
        let ex = excerpt(text, 3);
        assert!(ex.contains(">>    3 | c"), "{ex}");
        assert!(ex.contains("     1 | a") && ex.contains("     5 | e") && !ex.contains("| f"));
    }

    /// `(path, before, after)` for one language: a docstring or doc comment added while a
    /// statement was silently dropped.
    const DROPS: &[(&str, &str, &str, &str)] = &[
        (
            "a.py",
            "def area(width, height):\n    check(width)\n    return width * height\n",
            "def area(width, height):\n    \"\"\"The area.\"\"\"\n    check(width)\n",
            "return width * height",
        ),
        (
            "a.rs",
            "fn area(w: u32, h: u32) -> u32 {\n    check(w);\n    w * h\n}\n",
            "/// The area.\nfn area(w: u32, h: u32) -> u32 {\n    check(w);\n}\n",
            "w * h",
        ),
        (
            "a.js",
            "function area(w, h) {\n  check(w);\n  return w * h;\n}\n",
            "/** The area. */\nfunction area(w, h) {\n  // the area\n  check(w);\n}\n",
            "return w * h;",
        ),
        (
            "a.go",
            "package a\n\nfunc Area(w, h int) int {\n\tcheck(w)\n\treturn w * h\n}\n",
            "package a\n\n// Area is the area.\nfunc Area(w, h int) int {\n\tcheck(w)\n}\n",
            "return w * h",
        ),
        (
            "A.java",
            "class A {\n  int area(int w, int h) {\n    check(w);\n    return w * h;\n  }\n}\n",
            "class A {\n  /** The area. */\n  int area(int w, int h) {\n    check(w);\n  }\n}\n",
            "return w * h;",
        ),
        (
            "a.c",
            "int area(int w, int h) {\n  check(w);\n  return w * h;\n}\n",
            "/* The area. */\nint area(int w, int h) {\n  check(w);\n}\n",
            "return w * h;",
        ),
    ];

    #[test]
    fn statements_dropped_from_a_body_are_found_in_every_language() {
        for (path, before, after, lost) in DROPS {
            let function = if path.ends_with(".go") {
                "Area"
            } else {
                "area"
            };
            assert_eq!(
                dropped_statements(path, before, after),
                vec![Dropped {
                    function: function.to_owned(),
                    statements: vec![(*lost).to_owned()],
                }],
                "{path}"
            );
        }
        // Methods of a class, and a function bound to a name.
        let before = "class A:\n    def f(self):\n        a()\n        b()\n\n\nclass B:\n    def f(self):\n        c()\n";
        let after = before.replace("        b()\n", "");
        let found = dropped_statements("m.py", before, &after);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].statements, vec!["b()"]);
        let before = "const f = (x) => {\n  a(x);\n  return x;\n};\n";
        let after = before.replace("  return x;\n", "");
        assert_eq!(dropped_statements("m.ts", before, &after)[0].function, "f");
    }

    #[test]
    fn edits_that_add_or_change_statements_are_not_drops() {
        for (path, before, _, _) in DROPS {
            assert_eq!(dropped_statements(path, before, before), vec![], "{path}");
        }
        let before = "def area(width, height):\n    check(width)\n    return width * height\n";
        for after in [
            // A docstring added.
            "def area(width, height):\n    \"\"\"The area.\"\"\"\n    check(width)\n    return width * height\n",
            // The algorithm changed: one statement replaces two.
            "def area(width, height):\n    return abs(width * height)\n",
            // A rename: the old function is gone (the definition check's business).
            "def surface(width, height):\n    check(width)\n    return width * height\n",
            // A comment added at the end.
            "def area(width, height):\n    check(width)\n    return width * height\n    # done\n",
        ] {
            assert_eq!(dropped_statements("a.py", before, after), vec![], "{after}");
        }
        // A statement reflowed across lines is the same statement: the drop beside it is seen.
        let reflowed = "def area(width, height):\n    check(\n        width\n    )\n";
        assert_eq!(
            dropped_statements("a.py", before, reflowed)[0].statements,
            vec!["return width * height"]
        );
        // A nested block losing a line is a changed statement, not a dropped one.
        let nested = "def f(x):\n    if x:\n        a()\n        b()\n    return x\n";
        let after = nested.replace("        b()\n", "");
        assert_eq!(dropped_statements("a.py", nested, &after), vec![]);
        let before = "fn area(w: u32, h: u32) -> u32 {\n    check(w);\n    w * h\n}\n";
        let documented = format!(
            "/// The area.\n{}",
            before.replace("{\n", "{\n    // w first\n")
        );
        assert_eq!(dropped_statements("a.rs", before, &documented), vec![]);
        let rewritten = "fn area(w: u32, h: u32) -> u32 {\n    w.saturating_mul(h)\n}\n";
        assert_eq!(dropped_statements("a.rs", before, rewritten), vec![]);
        let before = "function area(w, h) {\n  check(w);\n  return w * h;\n}\n";
        let documented = format!("/** The area. */\n{before}");
        assert_eq!(dropped_statements("a.js", before, &documented), vec![]);
        let renamed = before.replace("area", "surface");
        assert_eq!(dropped_statements("a.js", before, &renamed), vec![]);
        let faster = "function area(w, h) {\n  return Math.imul(w, h);\n}\n";
        assert_eq!(dropped_statements("a.js", before, faster), vec![]);
        // Unknown languages and broken text say nothing.
        assert_eq!(dropped_statements("a.txt", before, ""), vec![]);
        assert_eq!(
            dropped_statements("a.js", before, "function area( {\n"),
            vec![]
        );
    }
}

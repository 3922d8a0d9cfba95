//! Definitions: the functions, types and other items a source file defines, read from the
//! tree-sitter tree, with the exact facts the due check needs about each (issue 9): whether it
//! has a doc comment directly above it (in Python, a docstring), whether it is public, and for
//! Python functions whether every parameter and the return are annotated.
//!
//! Owns what counts as a definition, as its doc comment and as public in each language with a
//! grammar here. When unsure it errs towards more definitions, fewer doc comments and more
//! public ones: each of those can only make an instruction due. It does not read instructions
//! (`router`).

use tree_sitter::Node;

use super::{parse_clean, Language};

/// What a definition is, as an instruction names it ("every function", "every class").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Functions, methods, constructors, and functions bound to a name.
    Function,
    /// Classes, structs, enums, traits, interfaces, type aliases.
    Type,
    /// Fields, variants, constants, statics, modules, macros, top-level variables.
    Other,
}

/// One definition of a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Definition {
    pub name: String,
    pub kind: Kind,
    /// The names of the definitions it is nested in, outermost first (a method's class).
    pub within: Vec<String>,
    /// Part of the file's public API: `pub` (Rust), exported (Go capitals, JavaScript
    /// `export`), not `private` or package-private (Java), no leading `_` (Python). True where
    /// the language leaves it open.
    pub public: bool,
    /// A doc comment directly above it (Rust `///`, JSDoc and Javadoc `/** */`, Go `// Name …`,
    /// any comment in C and C++), or a docstring (Python).
    pub documented: bool,
    /// Python functions: every parameter annotated (a method's `self` or `cls` aside, `*args`
    /// and `**kwargs` included) and the return too. False in other languages.
    pub annotated: bool,
}

/// The definitions of `text`, in file order. None when the language has no grammar here or the
/// text does not parse cleanly.
pub fn definitions(language: Language, text: &str) -> Option<Vec<Definition>> {
    let tree = parse_clean(language, text)?;
    let root = tree.root_node();
    let reader = Reader {
        language,
        text,
        exported: exported_names(language, root, text),
        commonjs: text.contains("module.exports") || text.contains("exports."),
    };
    let mut found = Vec::new();
    let mut stack = vec![root];
    while let Some(node) = stack.pop() {
        let mut cursor = node.walk();
        stack.extend(node.children(&mut cursor));
        if let Some((kind, name)) = reader.definition(node) {
            found.push((node.start_byte(), reader.describe(node, kind, name)));
        }
    }
    found.sort_by_key(|(at, _)| *at);
    Some(found.into_iter().map(|(_, d)| d).collect())
}

struct Reader<'t> {
    language: Language,
    text: &'t str,
    /// JavaScript/TypeScript: names an `export { … }` or `export default …` statement lists.
    exported: Vec<String>,
    /// JavaScript: the file exports through `module.exports` / `exports.x`, which a name-level
    /// reading cannot follow; every top-level definition counts as exported.
    commonjs: bool,
}

impl<'t> Reader<'t> {
    fn text_of(&self, node: Node<'_>) -> String {
        self.text[node.byte_range()].to_owned()
    }

    fn field_text(&self, node: Node<'_>, field: &str) -> Option<String> {
        node.child_by_field_name(field).map(|n| self.text_of(n))
    }

    /// Whether `node` is a definition, with its kind and name.
    fn definition(&self, node: Node<'_>) -> Option<(Kind, String)> {
        let kind = node.kind();
        let named = |k: Kind| self.field_text(node, "name").map(|n| (k, n));
        match self.language {
            Language::Python => match kind {
                "function_definition" => named(Kind::Function),
                "class_definition" => named(Kind::Type),
                _ => None,
            },
            Language::Rust => match kind {
                "function_item" | "function_signature_item" => named(Kind::Function),
                "struct_item" | "enum_item" | "union_item" | "trait_item" | "type_item" => {
                    named(Kind::Type)
                }
                "const_item" | "static_item" | "mod_item" | "macro_definition" | "enum_variant"
                | "associated_type" => named(Kind::Other),
                "field_declaration" => named(Kind::Other),
                _ => None,
            },
            Language::Go => match kind {
                "function_declaration" | "method_declaration" | "method_elem" => {
                    named(Kind::Function)
                }
                "type_spec" | "type_alias" => named(Kind::Type),
                // Package-level constants and variables only, not locals.
                "const_spec" | "var_spec" => {
                    let top = std::iter::successors(node.parent(), |n| n.parent())
                        .find(|d| matches!(d.kind(), "const_declaration" | "var_declaration"))
                        .and_then(|d| d.parent())
                        .is_some_and(|p| p.kind() == "source_file");
                    // `var Handle = func(…) {…}` is a function.
                    let function = node.child_by_field_name("value").is_some_and(|v| {
                        v.named_children(&mut v.walk())
                            .any(|e| e.kind() == "func_literal")
                    });
                    let kind = if function {
                        Kind::Function
                    } else {
                        Kind::Other
                    };
                    top.then(|| named(kind)).flatten()
                }
                "field_declaration" => named(Kind::Other).or_else(|| {
                    // An embedded field is named by its type.
                    self.field_text(node, "type").map(|t| {
                        let t = t.trim_start_matches('*');
                        (Kind::Other, t.rsplit('.').next().unwrap_or(t).to_owned())
                    })
                }),
                _ => None,
            },
            Language::JavaScript | Language::TypeScript | Language::Tsx => self.js_definition(node),
            Language::Java => match kind {
                "method_declaration"
                | "constructor_declaration"
                | "compact_constructor_declaration"
                | "annotation_type_element_declaration" => named(Kind::Function),
                "class_declaration"
                | "interface_declaration"
                | "enum_declaration"
                | "record_declaration"
                | "annotation_type_declaration" => named(Kind::Type),
                "enum_constant" => named(Kind::Other),
                "field_declaration" | "constant_declaration" => {
                    let declarator = node.child_by_field_name("declarator")?;
                    self.field_text(declarator, "name")
                        .map(|n| (Kind::Other, n))
                }
                _ => None,
            },
            Language::C | Language::Cpp => self.c_definition(node),
            Language::Json | Language::Toml | Language::Yaml => None,
        }
    }

    fn js_definition(&self, node: Node<'_>) -> Option<(Kind, String)> {
        let is_function = |n: Node<'_>| {
            matches!(
                n.kind(),
                "arrow_function" | "function_expression" | "function" | "generator_function"
            )
        };
        let named = |k: Kind, field: &str| self.field_text(node, field).map(|n| (k, n));
        // A function a call wraps (`const A = memo(() => …)`) is still one.
        let wraps_function = |v: Node<'_>| {
            v.kind() == "call_expression"
                && v.child_by_field_name("arguments")
                    .is_some_and(|a| a.named_children(&mut a.walk()).any(is_function))
        };
        let default_export = node
            .parent()
            .is_some_and(|p| p.kind() == "export_statement");
        match node.kind() {
            // `export default function () {}`, `export default class {}`.
            "arrow_function" | "function_expression" | "function" | "generator_function"
                if default_export =>
            {
                Some((Kind::Function, "default".to_owned()))
            }
            "class" if default_export => Some((Kind::Type, "default".to_owned())),
            "function_declaration"
            | "generator_function_declaration"
            | "function_signature"
            | "method_definition"
            | "method_signature"
            | "abstract_method_signature" => named(Kind::Function, "name"),
            "class_declaration"
            | "abstract_class_declaration"
            | "interface_declaration"
            | "type_alias_declaration"
            | "enum_declaration" => named(Kind::Type, "name"),
            "property_signature" => named(Kind::Other, "name"),
            "field_definition" | "public_field_definition" => {
                let field = if node.kind() == "field_definition" {
                    "property"
                } else {
                    "name"
                };
                let function = node.child_by_field_name("value").is_some_and(is_function);
                named(
                    if function {
                        Kind::Function
                    } else {
                        Kind::Other
                    },
                    field,
                )
            }
            "variable_declarator" => {
                let value = node.child_by_field_name("value");
                if value.is_some_and(|v| is_function(v) || wraps_function(v)) {
                    return named(Kind::Function, "name");
                }
                if value.is_some_and(|v| v.kind() == "class") {
                    return named(Kind::Type, "name");
                }
                // Other values are definitions at the top level only, not locals.
                let declaration = node.parent()?;
                let top = declaration.parent().is_some_and(|p| {
                    p.kind() == "program"
                        || p.kind() == "export_statement"
                            && p.parent().is_some_and(|q| q.kind() == "program")
                });
                top.then(|| named(Kind::Other, "name")).flatten()
            }
            "pair" => {
                let function = node.child_by_field_name("value").is_some_and(is_function);
                function.then(|| named(Kind::Function, "key")).flatten()
            }
            "assignment_expression" => {
                let function = node.child_by_field_name("right").is_some_and(is_function);
                let statement = node
                    .parent()
                    .is_some_and(|p| p.kind() == "expression_statement");
                (function && statement)
                    .then(|| named(Kind::Function, "left"))
                    .flatten()
            }
            _ => None,
        }
    }

    fn c_definition(&self, node: Node<'_>) -> Option<(Kind, String)> {
        // Declarations inside a function body are locals, not definitions.
        let local = node
            .parent()
            .is_some_and(|p| p.kind() == "compound_statement");
        match node.kind() {
            "function_definition" => Some((Kind::Function, self.declarator_name(node)?)),
            "declaration" | "field_declaration" if !local => {
                let declarator = node.child_by_field_name("declarator")?;
                let kind = if innermost_is_function(declarator) {
                    Kind::Function
                } else {
                    Kind::Other
                };
                // Only members and file-level globals count as Other.
                if kind == Kind::Other && node.kind() == "declaration" && !file_level(node) {
                    return None;
                }
                Some((kind, self.declarator_name(node)?))
            }
            "struct_specifier" | "union_specifier" | "enum_specifier" | "class_specifier" => {
                node.child_by_field_name("body")?;
                let name = self.field_text(node, "name").or_else(|| {
                    let parent = node.parent()?;
                    (parent.kind() == "type_definition")
                        .then(|| self.declarator_name(parent))
                        .flatten()
                })?;
                Some((Kind::Type, name))
            }
            "type_definition" => {
                // A typedef of a struct body is that struct's definition, found above.
                let bodied = node
                    .child_by_field_name("type")
                    .is_some_and(|t| t.child_by_field_name("body").is_some());
                (!bodied)
                    .then(|| self.declarator_name(node).map(|n| (Kind::Type, n)))
                    .flatten()
            }
            "alias_declaration" => self.field_text(node, "name").map(|n| (Kind::Type, n)),
            "enumerator" | "preproc_def" | "preproc_function_def" => {
                self.field_text(node, "name").map(|n| (Kind::Other, n))
            }
            _ => None,
        }
    }

    /// The type a Rust `impl` block is for, without its path or generics (`RingBuffer` for
    /// `impl<T> crate::RingBuffer<T>`): its methods belong to that type.
    fn impl_owner(&self, node: Node<'_>) -> Option<String> {
        if self.language != Language::Rust || node.kind() != "impl_item" {
            return None;
        }
        let text = self.text_of(node.child_by_field_name("type")?);
        let base = text.split('<').next()?.rsplit("::").next()?.trim();
        (!base.is_empty()).then(|| base.to_owned())
    }

    /// The name a C declarator chain ends in.
    fn declarator_name(&self, node: Node<'_>) -> Option<String> {
        let mut declarator = node.child_by_field_name("declarator")?;
        while let Some(inner) = declarator.child_by_field_name("declarator") {
            declarator = inner;
        }
        Some(self.text_of(declarator))
    }

    fn describe(&self, node: Node<'_>, kind: Kind, name: String) -> Definition {
        let mut within = Vec::new();
        let mut up = node.parent();
        while let Some(parent) = up {
            if let Some((_, outer)) = self.definition(parent) {
                within.push(outer);
            } else if let Some(owner) = self.impl_owner(parent) {
                within.push(owner);
            }
            up = parent.parent();
        }
        within.reverse();
        let public = self.is_public(node, &name, &within);
        let (documented, annotated) = if self.language == Language::Python {
            (
                has_docstring(node),
                kind == Kind::Function && annotated(node, self.text),
            )
        } else {
            (self.has_doc_comment(node, &name), false)
        };
        Definition {
            name,
            kind,
            within,
            public,
            documented,
            annotated,
        }
    }

    fn is_public(&self, node: Node<'_>, name: &str, within: &[String]) -> bool {
        let ancestors = || std::iter::successors(node.parent(), |n| n.parent());
        match self.language {
            Language::Python => {
                !name.starts_with('_') || name.starts_with("__") && name.ends_with("__")
            }
            Language::Rust => {
                has_child(node, "visibility_modifier")
                    || matches!(node.kind(), "enum_variant" | "macro_definition")
                    || ancestors().any(|a| {
                        a.kind() == "trait_item"
                            || a.kind() == "impl_item" && a.child_by_field_name("trait").is_some()
                    })
            }
            Language::Go => name
                .chars()
                .find(|c| c.is_alphabetic())
                .is_some_and(char::is_uppercase),
            Language::JavaScript | Language::TypeScript | Language::Tsx => {
                self.js_public(node, name, within)
            }
            Language::Java => {
                let modifiers = node
                    .children(&mut node.walk())
                    .find(|c| c.kind() == "modifiers")
                    .map(|m| self.text_of(m))
                    .unwrap_or_default();
                let words: Vec<&str> = modifiers.split_whitespace().collect();
                if words.contains(&"private") {
                    return false;
                }
                words.contains(&"public")
                    || words.contains(&"protected")
                    || node.kind() == "enum_constant"
                    || node.parent().is_some_and(|p| {
                        matches!(p.kind(), "interface_body" | "annotation_type_body")
                    })
            }
            Language::C | Language::Cpp => self.c_public(node),
            Language::Json | Language::Toml | Language::Yaml => true,
        }
    }

    /// Private when nested in a function, marked `private` or `#name`, or in a top-level
    /// declaration that nothing exports.
    fn js_public(&self, node: Node<'_>, name: &str, within: &[String]) -> bool {
        const FUNCTIONS: &[&str] = &[
            "function_declaration",
            "generator_function_declaration",
            "function_expression",
            "function",
            "generator_function",
            "arrow_function",
            "method_definition",
        ];
        let ancestors = || std::iter::successors(node.parent(), |n| n.parent());
        if ancestors().any(|a| FUNCTIONS.contains(&a.kind())) {
            return false;
        }
        let private_member = name.starts_with('#')
            || node
                .children(&mut node.walk())
                .any(|c| c.kind() == "accessibility_modifier" && self.text_of(c) == "private");
        if private_member {
            return false;
        }
        let Some(top) = std::iter::successors(Some(node), |n| n.parent())
            .find(|n| n.parent().is_some_and(|p| p.kind() == "program"))
        else {
            return true;
        };
        const DECLARATIONS: &[&str] = &[
            "function_declaration",
            "generator_function_declaration",
            "function_signature",
            "class_declaration",
            "abstract_class_declaration",
            "interface_declaration",
            "type_alias_declaration",
            "enum_declaration",
            "lexical_declaration",
            "variable_declaration",
        ];
        let outermost = within.first().map_or(name, String::as_str);
        !DECLARATIONS.contains(&top.kind())
            || self.commonjs
            || self.exported.iter().any(|n| n == outermost)
    }

    /// Private: a C `static` at file level, or a C++ member under `private:` (or a class's
    /// default).
    fn c_public(&self, node: Node<'_>) -> bool {
        let anchor = self.anchor(node);
        let is_static = anchor
            .children(&mut anchor.walk())
            .any(|c| c.kind() == "storage_class_specifier" && self.text_of(c) == "static");
        let Some(list) = anchor
            .parent()
            .filter(|p| p.kind() == "field_declaration_list")
        else {
            return !is_static;
        };
        let mut access = None;
        let mut prev = anchor.prev_sibling();
        while let Some(p) = prev {
            if p.kind() == "access_specifier" {
                access = Some(self.text_of(p));
                break;
            }
            prev = p.prev_sibling();
        }
        let default_private = list.parent().is_some_and(|c| c.kind() == "class_specifier");
        match access.as_deref() {
            Some(a) => !a.trim().starts_with("private"),
            None => !default_private,
        }
    }

    /// The node a doc comment sits above: the whole statement a definition is part of
    /// (`export function f`, `const f = () => …`, `typedef struct {…} T;`, a one-spec Go
    /// `type` declaration).
    fn anchor<'a>(&self, node: Node<'a>) -> Node<'a> {
        const WRAPPERS: &[&str] = &[
            // JavaScript, TypeScript
            "export_statement",
            "lexical_declaration",
            "variable_declaration",
            "expression_statement",
            "ambient_declaration",
            // C, C++
            "declaration",
            "type_definition",
            "template_declaration",
            "field_declaration",
        ];
        let mut anchor = node;
        match self.language {
            Language::Go => {
                if let Some(parent) = node.parent().filter(|p| {
                    matches!(
                        p.kind(),
                        "type_declaration" | "const_declaration" | "var_declaration"
                    )
                }) {
                    let grouped = parent.children(&mut parent.walk()).any(|c| c.kind() == "(");
                    if !grouped {
                        anchor = parent;
                    }
                }
            }
            Language::JavaScript
            | Language::TypeScript
            | Language::Tsx
            | Language::C
            | Language::Cpp => {
                while let Some(parent) = anchor.parent().filter(|p| WRAPPERS.contains(&p.kind())) {
                    anchor = parent;
                }
            }
            _ => {}
        }
        anchor
    }

    fn has_doc_comment(&self, node: Node<'_>, name: &str) -> bool {
        let anchor = self.anchor(node);
        // Attributes and decorators may stand between the doc comment and the definition.
        let mut top_row = anchor.start_position().row;
        let mut prev = anchor.prev_named_sibling();
        while let Some(p) = prev.filter(|p| matches!(p.kind(), "attribute_item" | "decorator")) {
            if self.text[p.byte_range()].starts_with("#[doc") {
                return true;
            }
            top_row = p.start_position().row;
            prev = p.prev_named_sibling();
        }
        let Some(comment) = prev.filter(|p| p.kind().contains("comment")) else {
            return false;
        };
        let text = self.text_of(comment);
        // Rust attaches `///` to the next item across blank lines; elsewhere the comment must
        // end on the line above (or the same line) and start its own line.
        if self.language == Language::Rust {
            return text.starts_with("///") && !text.starts_with("////")
                || text.starts_with("/**") && !text.starts_with("/***") && text != "/**/";
        }
        if !self.directly_above(comment, top_row) {
            return false;
        }
        match self.language {
            Language::JavaScript | Language::TypeScript | Language::Tsx | Language::Java => {
                text.starts_with("/**") && text != "/**/"
            }
            Language::Go => {
                // The block of line comments ends here; its first line starts with the name.
                let mut first = comment;
                while let Some(p) = first.prev_named_sibling().filter(|p| {
                    p.kind() == "comment" && self.directly_above(*p, first.start_position().row)
                }) {
                    first = p;
                }
                go_doc_names(&self.text_of(first), name)
            }
            _ => true,
        }
    }

    /// Whether `comment` ends on the line above `row` (or on it) and nothing precedes it on its
    /// own first line (a trailing comment belongs to the line it ends).
    fn directly_above(&self, comment: Node<'_>, row: usize) -> bool {
        let end = comment.end_position();
        // A line comment may include its newline.
        let end_row = if end.column == 0 && end.row > comment.start_position().row {
            end.row - 1
        } else {
            end.row
        };
        let line_start = self.text[..comment.start_byte()]
            .rfind('\n')
            .map_or(0, |i| i + 1);
        end_row + 1 >= row
            && self.text[line_start..comment.start_byte()]
                .trim()
                .is_empty()
    }
}

/// Whether a Go comment starts with the name it documents ("// Parse reads …", or after an
/// article: "// A Reader …").
fn go_doc_names(comment: &str, name: &str) -> bool {
    let body = comment.trim_start_matches("//").trim_start_matches("/*");
    let words: Vec<&str> = body
        .split(|c: char| !(c.is_alphanumeric() || c == '_'))
        .filter(|w| !w.is_empty())
        .take(2)
        .collect();
    match words.as_slice() {
        [first, ..] if *first == name => true,
        [article, second] => matches!(*article, "A" | "An" | "The") && *second == name,
        _ => false,
    }
}

fn has_child(node: Node<'_>, kind: &str) -> bool {
    node.children(&mut node.walk()).any(|c| c.kind() == kind)
}

/// Whether a C declarator chain ends in a function's parameter list.
fn innermost_is_function(mut declarator: Node<'_>) -> bool {
    loop {
        if declarator.kind() == "function_declarator" {
            return true;
        }
        match declarator.child_by_field_name("declarator") {
            Some(inner) => declarator = inner,
            None => return false,
        }
    }
}

/// Whether a C declaration is at file level (or in a namespace, `extern "C"`, or a header's
/// `#ifndef` guard).
fn file_level(node: Node<'_>) -> bool {
    node.parent().is_some_and(|p| {
        matches!(
            p.kind(),
            "translation_unit"
                | "declaration_list"
                | "linkage_specification"
                | "preproc_if"
                | "preproc_ifdef"
                | "preproc_else"
                | "preproc_elif"
        )
    })
}

/// JavaScript/TypeScript: the names listed by `export { … }` and `export default …`.
fn exported_names(language: Language, root: Node<'_>, text: &str) -> Vec<String> {
    if !matches!(
        language,
        Language::JavaScript | Language::TypeScript | Language::Tsx
    ) {
        return Vec::new();
    }
    root.children(&mut root.walk())
        .filter(|s| {
            s.kind() == "export_statement" && s.child_by_field_name("declaration").is_none()
        })
        .flat_map(|s| {
            text[s.byte_range()]
                .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
                .filter(|w| !w.is_empty())
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether a Python definition's body starts with a string statement.
fn has_docstring(definition: Node<'_>) -> bool {
    let Some(body) = definition.child_by_field_name("body") else {
        return false;
    };
    let mut cursor = body.walk();
    let first = body.named_children(&mut cursor).next();
    first.is_some_and(|statement| {
        statement.kind() == "expression_statement"
            && statement
                .named_child(0)
                .is_some_and(|e| matches!(e.kind(), "string" | "concatenated_string"))
    })
}

/// Whether a Python function annotates its return and every parameter but a method's first
/// `self` or `cls`.
fn annotated(function: Node<'_>, text: &str) -> bool {
    if function.child_by_field_name("return_type").is_none() {
        return false;
    }
    let Some(parameters) = function.child_by_field_name("parameters") else {
        return false;
    };
    // A method sits in its class's body, itself or as a decorated definition.
    let mut holder = function.parent();
    if let Some(decorated) = holder.filter(|p| p.kind() == "decorated_definition") {
        holder = decorated.parent();
    }
    let method = holder
        .and_then(|body| body.parent())
        .is_some_and(|c| c.kind() == "class_definition");
    let mut cursor = parameters.walk();
    let all = parameters
        .named_children(&mut cursor)
        .filter(|p| p.kind() != "comment")
        .enumerate()
        .all(|(i, p)| match p.kind() {
            "typed_parameter" | "typed_default_parameter" => true,
            "keyword_separator" | "positional_separator" => true,
            "identifier" => i == 0 && method && matches!(&text[p.byte_range()], "self" | "cls"),
            _ => false,
        });
    all
}

#[cfg(test)]
mod tests;

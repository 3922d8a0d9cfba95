use super::*;

/// `(name, kind, public, documented)` of each definition of `text` as `path`'s language.
fn read(path: &str, text: &str) -> Vec<(String, Kind, bool, bool)> {
    definitions(Language::of(path).unwrap(), text)
        .unwrap_or_else(|| panic!("{path} does not parse"))
        .into_iter()
        .map(|d| (d.name, d.kind, d.public, d.documented))
        .collect()
}

fn row(name: &str, kind: Kind, public: bool, documented: bool) -> (String, Kind, bool, bool) {
    (name.to_owned(), kind, public, documented)
}

#[test]
fn python_docstrings_and_visibility() {
    let text = "def a():\n    \"\"\"A.\"\"\"\n\n\ndef b():\n    return 1\n\n\ndef _c():\n    pass\n\n\nclass D:\n    'D.'\n\n    def __init__(self):\n        pass\n";
    assert_eq!(
        read("m.py", text),
        vec![
            row("a", Kind::Function, true, true),
            row("b", Kind::Function, true, false),
            row("_c", Kind::Function, false, false),
            row("D", Kind::Type, true, true),
            row("__init__", Kind::Function, true, false),
        ]
    );
    let defs = definitions(Language::Python, text).unwrap();
    assert_eq!(defs[4].within, vec!["D"]);
    assert_eq!(definitions(Language::Python, "def (:\n"), None);
}

#[test]
fn rust_doc_comments_are_outer_docs_above_the_item() {
    let text = "//! The crate.\n\n/// Documented.\n#[derive(Debug)]\npub struct A {\n    /// The x.\n    pub x: u32,\n    y: u32,\n}\n\n// Only a comment.\npub fn b() {}\n\n#[doc = \"Docs.\"]\nfn c() {}\n\nimpl A {\n    /** Block doc. */\n    pub fn d(&self) {}\n}\n\npub trait T {\n    fn e(&self);\n}\n";
    assert_eq!(
        read("a.rs", text),
        vec![
            row("A", Kind::Type, true, true),
            row("x", Kind::Other, true, true),
            row("y", Kind::Other, false, false),
            row("b", Kind::Function, true, false),
            row("c", Kind::Function, false, true),
            row("d", Kind::Function, true, true),
            row("T", Kind::Type, true, false),
            row("e", Kind::Function, true, false),
        ]
    );
}

#[test]
fn go_doc_comments_start_with_the_name() {
    let text = "package a\n\n// Parse reads a config.\nfunc Parse() {}\n\n// reads things\nfunc Read() {}\n\nfunc helper() {}\n\n// A Reader reads.\ntype Reader struct {\n\tName string\n}\n\n// Close closes.\n\nfunc (r *Reader) Close() {}\n\nvar Handle = func() {}\n";
    assert_eq!(
        read("a.go", text),
        vec![
            row("Parse", Kind::Function, true, true),
            row("Read", Kind::Function, true, false),
            row("helper", Kind::Function, false, false),
            row("Reader", Kind::Type, true, true),
            row("Name", Kind::Other, true, false),
            // A blank line parts the comment from the method.
            row("Close", Kind::Function, true, false),
            row("Handle", Kind::Function, true, false),
        ]
    );
}

#[test]
fn javascript_jsdoc_sits_above_the_statement_and_export_decides_public() {
    let text = "/** Adds. */\nexport function add(a, b) {\n  const inner = () => 1;\n  return a + b + inner();\n}\n\n// Subtracts.\nexport const sub = (a, b) => a - b;\n\nfunction helper() {}\n\n/** Shown. */\nfunction shown() {}\n\nexport { shown };\n\nexport class Cart {\n  /** Totals. */\n  total() {}\n\n  #secret() {}\n}\n\nexport default function () {}\n";
    assert_eq!(
        read("a.js", text),
        vec![
            row("add", Kind::Function, true, true),
            row("inner", Kind::Function, false, false),
            row("sub", Kind::Function, true, false),
            row("helper", Kind::Function, false, false),
            row("shown", Kind::Function, true, true),
            row("Cart", Kind::Type, true, false),
            row("total", Kind::Function, true, true),
            row("#secret", Kind::Function, false, false),
            row("default", Kind::Function, true, false),
        ]
    );
    // CommonJS exports cannot be followed by name: everything top-level counts as public.
    let cjs = "function f() {}\nmodule.exports = { f };\n";
    assert_eq!(
        read("a.js", cjs),
        vec![row("f", Kind::Function, true, false)]
    );
    let ts = "export interface Shape {\n  /** The area. */\n  area(): number;\n}\n\nclass Box {\n  /** Sized. */\n  @memo\n  size(): number { return 1; }\n  private hidden(): void {}\n}\n";
    assert_eq!(
        read("a.ts", ts),
        vec![
            row("Shape", Kind::Type, true, false),
            row("area", Kind::Function, true, true),
            row("Box", Kind::Type, false, false),
            row("size", Kind::Function, false, true),
            row("hidden", Kind::Function, false, false),
        ]
    );
}

#[test]
fn java_javadoc_and_access() {
    let text = "/** A shop. */\npublic class Shop {\n  /** Totals. */\n  @Override\n  public int total() { return 0; }\n\n  // not javadoc\n  public void pay() {}\n\n  void internal() {}\n\n  private int count;\n}\n";
    assert_eq!(
        read("Shop.java", text),
        vec![
            row("Shop", Kind::Type, true, true),
            row("total", Kind::Function, true, true),
            row("pay", Kind::Function, true, false),
            row("internal", Kind::Function, false, false),
            row("count", Kind::Other, false, false),
        ]
    );
}

#[test]
fn c_and_cpp_take_any_comment_on_its_own_line_above() {
    let text = "#ifndef A_H\n#define A_H\n\n/* Adds. */\nint add(int a, int b);\n\nint sub(int a, int b); // trailing\nint mul(int a, int b);\n\n// A point.\ntypedef struct {\n  int x;\n} Point;\n\nstatic int helper(void) { return 0; }\n\n#endif\n";
    let read_c = read("a.h", text);
    let find = |name: &str| read_c.iter().find(|d| d.0 == name).cloned();
    assert_eq!(find("add"), Some(row("add", Kind::Function, true, true)));
    assert_eq!(find("sub"), Some(row("sub", Kind::Function, true, false)));
    // The comment trailing `sub` belongs to `sub`'s line, not to `mul`.
    assert_eq!(find("mul"), Some(row("mul", Kind::Function, true, false)));
    assert_eq!(find("Point"), Some(row("Point", Kind::Type, true, true)));
    assert_eq!(
        find("helper"),
        Some(row("helper", Kind::Function, false, false))
    );
    let cpp = "class Shape {\n  int secret();\npublic:\n  // The area.\n  double area() const;\n  template <class T> T as() { return T(); }\n};\n";
    assert_eq!(
        read("a.cpp", cpp)
            .into_iter()
            .filter(|d| d.1 == Kind::Function)
            .collect::<Vec<_>>(),
        vec![
            row("secret", Kind::Function, false, false),
            row("area", Kind::Function, true, true),
            row("as", Kind::Function, true, false),
        ]
    );
}

#[test]
fn python_annotations_are_complete_or_not() {
    let text = "def a(x: int, *args: str, **kw: int) -> int:\n    return x\n\n\ndef b(x: int):\n    return x\n\n\ndef c(x, y: int = 1) -> int:\n    return y\n\n\ndef d(*args) -> None:\n    pass\n\n\nclass K:\n    def m(self, x: int) -> int:\n        return x\n\n    @classmethod\n    def n(cls) -> 'K':\n        return cls()\n\n\ndef e(self) -> None:\n    pass\n\n\ndef f(p: int, /, *, k: int) -> None:\n    pass\n";
    let annotated: Vec<(String, bool)> = definitions(Language::Python, text)
        .unwrap()
        .into_iter()
        .filter(|d| d.kind == Kind::Function)
        .map(|d| (d.name, d.annotated))
        .collect();
    let want = [
        ("a", true),
        ("b", false),
        ("c", false),
        ("d", false),
        ("m", true),
        ("n", true),
        // `self` is excused in methods only.
        ("e", false),
        ("f", true),
    ];
    assert_eq!(
        annotated,
        want.iter()
            .map(|(n, a)| ((*n).to_owned(), *a))
            .collect::<Vec<_>>()
    );
}

use super::*;

fn due(instruction: &str, path: &str, content: &str) -> bool {
    already_done(instruction, path, content).is_none()
}

#[test]
fn doc_comments_are_read_in_every_language() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "a.rs",
            "/// Adds.\npub fn add(a: u32) -> u32 {\n    a\n}\n",
            "pub fn add(a: u32) -> u32 {\n    a\n}\n",
        ),
        (
            "a.js",
            "/** Adds. */\nexport function add(a) {\n  return a;\n}\n",
            "// Adds.\nexport function add(a) {\n  return a;\n}\n",
        ),
        (
            "a.ts",
            "/** Adds. */\nexport const add = (a: number) => a;\n",
            "export const add = (a: number) => a;\n",
        ),
        (
            "a.go",
            "package a\n\n// Add adds.\nfunc Add(a int) int { return a }\n",
            "package a\n\n// adds\nfunc Add(a int) int { return a }\n",
        ),
        (
            "A.java",
            "class A {\n  /** Adds. */\n  int add(int a) { return a; }\n}\n",
            "class A {\n  // Adds.\n  int add(int a) { return a; }\n}\n",
        ),
        (
            "a.c",
            "// Adds.\nint add(int a) { return a; }\n",
            "int add(int a) { return a; }\n",
        ),
        (
            "a.cpp",
            "/// Adds.\nint add(int a) { return a; }\n",
            "int x; // note\nint add(int a) { return a; }\n",
        ),
    ];
    for (path, documented, bare) in cases {
        for i in [
            "add a doc comment to every function",
            "Add JSDoc comments to the functions",
            "add a docstring to `add`",
            "document every function",
        ] {
            let reason = already_done(i, path, documented);
            assert!(
                reason
                    .as_deref()
                    .is_some_and(|r| r.starts_with("nothing due: ")),
                "{path}: {i}"
            );
            assert!(due(i, path, bare), "{path}: {i}");
        }
    }
}

#[test]
fn a_named_definition_narrows_the_doc_check_to_it_and_what_it_holds() {
    let text = "def a():\n    \"\"\"A.\"\"\"\n\n\ndef b():\n    pass\n\n\nclass C:\n    \"\"\"C.\"\"\"\n\n    def m(self):\n        pass\n";
    assert!(!due("add a docstring to `a`", "m.py", text));
    // `b` lacks one while others have one: due.
    assert!(due("add a docstring to `b`", "m.py", text));
    assert!(due("add a docstring to `a` and `b`", "m.py", text));
    // A class named: its methods are concerned, unless only classes are asked for.
    assert!(due("add docstrings to `C`", "m.py", text));
    assert!(due("add docstrings to every method of `C`", "m.py", text));
    assert!(!due("add a docstring to the `C` class", "m.py", text));
    assert!(due("add a docstring to every function", "m.py", text));
    assert!(!due("add a docstring to every class", "m.py", text));
}

#[test]
fn public_narrows_the_doc_check_per_language() {
    let rust = "/// Public.\npub fn a() {}\n\nfn helper() {}\n";
    assert!(!due(
        "add doc comments to every public function",
        "a.rs",
        rust
    ));
    assert!(due("add doc comments to every function", "a.rs", rust));
    let go = "package a\n\n// A does.\nfunc A() {}\n\nfunc b() {}\n";
    assert!(!due(
        "add a doc comment to every exported function",
        "a.go",
        go
    ));
    assert!(due("add a doc comment to every function", "a.go", go));
    let js = "/** A. */\nexport function a() {}\n\nfunction b() {}\n";
    assert!(!due(
        "Add JSDoc comments to the exported functions",
        "a.js",
        js
    ));
    assert!(due("Add JSDoc comments to every function", "a.js", js));
    let java =
        "public class A {\n  /** Runs. */\n  public void run() {}\n  private void step() {}\n}\n";
    assert!(!due("add Javadoc to every public method", "A.java", java));
    assert!(due("add Javadoc to every method", "A.java", java));
    // "public item" puts fields in scope too.
    let fields = "/// A.\npub struct A {\n    pub x: u32,\n}\n";
    assert!(!due(
        "add doc comments to every public struct",
        "a.rs",
        fields
    ));
    assert!(due("add doc comments to every public item", "a.rs", fields));
}

#[test]
fn doc_clauses_outside_the_grammar_stay_due() {
    let text = "def a():\n    \"\"\"A.\"\"\"\n";
    for i in [
        // The docstrings are the object, or must say something particular.
        "add a `Returns:` section to every docstring",
        "add docstrings explaining the retry logic to every function",
        "add Google-style docstrings to every function",
        "add a docstring to every function except `main`",
        "add a module docstring",
        "add a comment to every function",
        // Another clause beside it.
        "add a docstring to `a` and make it faster",
    ] {
        assert!(due(i, "m.py", text), "{i}");
    }
    assert!(!due(
        "add a docstring to every function in this module",
        "m.py",
        text
    ));
    assert!(!due(
        "add docstrings to the functions that lack one",
        "m.py",
        text
    ));
    // Unknown languages and text that does not parse are due.
    assert!(due(
        "add a doc comment to every function",
        "a.sh",
        "f() { :; }\n"
    ));
    assert!(due("add a docstring to every function", "m.py", "def (:\n"));
}

#[test]
fn python_type_hints_are_complete_or_due() {
    let typed = "def net(gross: float, *rates: float, **kw: int) -> float:\n    return gross\n\n\nclass K:\n    def m(self, x: int) -> int:\n        return x\n";
    for i in [
        "add type hints to every function",
        "Add type annotations to all public functions",
        "annotate every function with type hints",
        "add type hints to `net`",
    ] {
        let reason = already_done(i, "m.py", typed).unwrap_or_default();
        assert_eq!(
            reason, "nothing due: every function it concerns has type hints",
            "{i}"
        );
    }
    let partly = "def a(x: int) -> int:\n    return x\n\n\ndef b(x: int, y) -> int:\n    return x\n\n\ndef c(x: int):\n    return x\n\n\ndef d(*args) -> None:\n    pass\n";
    assert!(due("add type hints to every function", "m.py", partly));
    // `f` lacking them while others have them is due; a named `a` that has them is not.
    assert!(!due("add type hints to `a`", "m.py", partly));
    for f in ["b", "c", "d"] {
        assert!(
            due(&format!("add type hints to `{f}`"), "m.py", partly),
            "{f}"
        );
    }
    // Private functions are out of "public"; variables and other languages are not read.
    let private = "def a(x: int) -> int:\n    return x\n\n\ndef _h(x):\n    return x\n";
    assert!(!due(
        "add type hints to the public functions",
        "m.py",
        private
    ));
    assert!(due("add type hints to every function", "m.py", private));
    assert!(due("add type hints to the class attributes", "m.py", typed));
    assert!(due(
        "add type hints to every function",
        "m.ts",
        "function f(x: number): number { return x; }\n"
    ));
    assert!(due("add `Optional` to every type hint", "m.py", typed));
}

#[test]
fn a_replacement_whose_old_code_is_gone_is_not_due() {
    let cases: &[(&str, &str, bool)] = &[
        (
            "Replace `ioutil.ReadFile` with `os.ReadFile`",
            "return os.ReadFile(p)\n",
            false,
        ),
        (
            "Replace `ioutil.ReadFile` with `os.ReadFile`",
            "b, err := ioutil.ReadFile(p)\n",
            true,
        ),
        // An identifier inside a longer one is not it; a call is its name.
        (
            "Replace `var` with `let` or `const`",
            "const cssVariables = [];\n",
            false,
        ),
        (
            "Replace `var` with `let` or `const`",
            "for (var i = 0;;) {}\n",
            true,
        ),
        (
            "Replace `unwrap()` with `expect()`",
            "x.unwrap_or_default()\n",
            false,
        ),
        (
            "Replace `unwrap()` with `expect()`",
            "raw.parse().unwrap()\n",
            true,
        ),
        (
            "Replace `print()` calls with `log.info()`",
            "print(\"hi\")\n",
            true,
        ),
        (
            "use `pathlib` instead of `os.path`",
            "from pathlib import Path\n",
            false,
        ),
        (
            "use `pathlib` instead of `os.path`",
            "import os.path\n",
            true,
        ),
        (
            "Use f-strings instead of `%` formatting",
            "f\"{x}\"\n",
            false,
        ),
        (
            "Use f-strings instead of `%` formatting",
            "\"%s\" % x\n",
            true,
        ),
        ("Use `===` instead of `==`", "a === b\n", false),
        ("Use `===` instead of `==`", "a === b && c == d\n", true),
        (
            "Migrate from `unittest` to `pytest`",
            "import pytest\n",
            false,
        ),
        (
            "migrate the tests from `unittest` to `pytest`",
            "import unittest\n",
            true,
        ),
        (
            "Switch the HTTP client from `requests` to `httpx`",
            "import httpx\n",
            false,
        ),
        ("switch `requests` to `httpx`", "import httpx\n", false),
        ("prefer `Path` over `os.path`", "p = Path(x)\n", false),
        // Case and whitespace aside.
        (
            "replace `import  os` with `import sys`",
            "IMPORT OS\n",
            true,
        ),
    ];
    for (i, content, want_due) in cases {
        assert_eq!(due(i, "a.txt", content), *want_due, "{i} on {content:?}");
    }
    let reason = already_done(
        "Replace `ioutil.ReadFile` with `os.ReadFile`",
        "a.go",
        "x\n",
    );
    assert_eq!(
        reason.as_deref(),
        Some("nothing due: `ioutil.ReadFile` no longer occurs (already replaced)")
    );
}

#[test]
fn a_bare_output_call_is_code() {
    let i = "Use the `logging` module instead of print in backup.py (warnings for skipped files)";
    let done = "import logging\n\nlog = logging.getLogger(__name__)\n\ndef run():\n    log.info(\"done\")\n";
    assert!(!due(i, "backup.py", done));
    assert!(due(i, "backup.py", "def run():\n    print(\"done\")\n"));
    assert!(due("Use logging instead of print", "a.py", "print('x')\n"));
}

#[test]
fn python_percent_formatting_is_read_from_the_tree() {
    let i = "Use f-strings instead of `%` formatting";
    let done = "def pct(ok, total):\n    return f\"{100 * ok / total:.1f}%\"\n\n\ndef odd(n):\n    return n % 2\n";
    assert!(!due(i, "cli/report.py", done));
    let left = "def banner(v):\n    return \"tool v%s\" % v\n";
    assert!(due(i, "cli/status.py", left));
    // Elsewhere `%` is still any percent sign, and a file that does not parse stays due.
    assert!(due(i, "cli/report.js", "const p = `${x}%`;\n"));
    assert!(due(i, "cli/broken.py", "def f(:\n"));
}

#[test]
fn a_removal_whose_code_is_gone_is_not_due() {
    let js = "export function upload(f) {\n  return send(f);\n}\n";
    assert!(!due(
        "Remove the debugging `console.log` calls",
        "src/upload.js",
        js
    ));
    let logged = "function upload(f) {\n  console.log(f);\n}\n";
    assert!(due(
        "Remove the debugging `console.log` calls",
        "src/upload.js",
        logged
    ));
    assert!(!due(
        "delete the unused `import os`",
        "a.py",
        "import sys\n"
    ));
    assert!(due("delete the unused `import os`", "a.py", "import os\n"));
    // Where, or anything besides the removal, leaves it to the editor.
    for i in [
        "Remove `debug` from `config.py`",
        "Remove `f` and add a test",
        "Remove the `retry` flag from the CLI docs",
    ] {
        assert!(due(i, "a.py", "nothing here\n"), "{i}");
    }
}

#[test]
fn replacements_outside_the_grammar_stay_due() {
    let content = "nothing relevant here\n";
    for i in [
        // Not code, or not only a replacement.
        "Use dicts instead of lists",
        "Replace `a` with `b` and make it faster",
        "Replace `a` in `x.py` with `b`",
        "Replace `a` with `b`, and `c` with `d`",
        // A setting switched to a value may need adding.
        "switch `strict` to `true`",
        "Change `a` to `b`",
        "Move `f` from `a.py` to `b.py`",
        "Make `f` return `None` instead of raising",
    ] {
        assert!(due(i, "a.py", content), "{i}");
    }
}

#[test]
fn every_clause_must_be_done() {
    let text = "def a(x: int) -> int:\n    \"\"\"A.\"\"\"\n    return x\n";
    let both = "add a docstring to every function; add type hints to every function";
    let reason = already_done(both, "m.py", text).unwrap();
    assert!(
        reason.contains("docstring") && reason.contains("type hints"),
        "{reason}"
    );
    let bare = "def a(x: int) -> int:\n    return x\n";
    assert!(due(both, "m.py", bare));
    assert!(!due(
        "replace `print` with `log`; add type hints to every function",
        "m.py",
        text
    ));
    assert!(due(
        "replace `return` with `yield`; add type hints to every function",
        "m.py",
        text
    ));
}

#[test]
fn a_request_that_concerns_no_definition_is_left_to_the_editor() {
    assert!(due("add docs", "a.py", "x = 1\n"));
    assert!(due("add a docstring to every function", "a.py", "X = 1\n"));
    assert!(due("add type hints to every function", "a.py", "X = 1\n"));
    assert!(due(
        "document the module",
        "a.py",
        "def f():\n    \"\"\"F.\"\"\"\n"
    ));
}

#[test]
fn doc_markers_and_the_file_named_keep_a_doc_request_readable() {
    let py = "def area(w, h):\n    \"\"\"Area.\"\"\"\n    return w * h\n";
    assert!(!due(
        "Add `\"\"\"` docstrings to every function",
        "geo.py",
        py
    ));
    let js = "/**\n * Parse.\n */\nexport function parse(s) {\n  return 1;\n}\n";
    assert!(!due(
        "Add JSDoc comments to the functions in time.js",
        "time.js",
        js
    ));
    let bare = "export function parse(s) {\n  return 1;\n}\n";
    assert!(due(
        "Add JSDoc comments to the functions in time.js",
        "time.js",
        bare
    ));
    // A Rust type's methods are in its impl blocks, generic or not.
    let ring = "/// A ring.\npub struct RingBuffer<T> {\n    items: Vec<T>,\n}\n\nimpl<T> RingBuffer<T> {\n    /// New.\n    pub fn with_capacity(c: usize) -> Self {\n        Self { items: Vec::new() }\n    }\n}\n";
    let i = "Add `///` doc comments to `RingBuffer` and each of its public methods";
    assert!(!due(i, "src/lib.rs", ring));
    assert!(due(i, "src/lib.rs", &ring.replace("    /// New.\n", "")));
    // Tags ask for more than a comment: left to the editor.
    let tags = "Add JSDoc comments (with `@param` and `@returns`) to the functions in time.js";
    assert!(due(tags, "time.js", js));
}

#[test]
fn a_request_for_fstrings_is_done_when_no_older_formatting_is_left() {
    let i = "convert the string formatting in report.py to f-strings";
    let done = "def row(n, c):\n    return f\"{n:<20}{c:>8}\"\n\n\ndef pct(a):\n    return a % 7\n";
    assert!(!due(i, "tools/report.py", done));
    let percent = "def row(n, c):\n    return \"%-20s%8d\" % (n, c)\n";
    assert!(due(i, "tools/report.py", percent));
    let format = "def row(n, c):\n    return \"{}: {}\".format(n, c)\n";
    assert!(due(i, "tools/report.py", format));
    // Another language, or more asked than f-strings, is the editor's.
    assert!(due(i, "tools/report.rb", done));
    assert!(due("use f-strings and add logging", "a.py", done));
}

#[test]
fn a_change_of_literal_text_that_no_longer_occurs_is_not_due() {
    let i = "rename the project from Quill to Inkwell in the README";
    assert!(!due(i, "README.md", "# Inkwell\n\nInkwell writes notes.\n"));
    assert!(due(i, "README.md", "# Quill\n"));
    let port = "change the default port from 8080 to 9000";
    assert!(!due(port, "app.py", "PORT = 9000\n") && due(port, "app.py", "PORT = 8080\n"));
    // A literal the edit looks for without changing it stays due.
    assert!(due(
        "log a warning when the user types \"quit\"",
        "a.py",
        "x = 1\n"
    ));
}

#[test]
fn unquoted_code_names_are_code() {
    let i = "replace os.path with pathlib";
    assert!(!due(
        i,
        "a.py",
        "from pathlib import Path\n\np = Path('x')\n"
    ));
    assert!(due(i, "a.py", "import os\n\np = os.path.join('a', 'b')\n"));
    let js = "use const/let instead of var";
    assert!(!due(js, "a.js", "const a = 1;\nlet b = 2;\n"));
    assert!(due(js, "a.js", "var a = 1;\n"));
    // Not "e.g." or a version.
    assert!(due(
        "replace e.g. the loops with v1.2 calls",
        "a.py",
        "x = 1\n"
    ));
}

#[test]
fn a_rename_in_a_list_of_files_is_one_clause() {
    let i = "Rename the `Usr` interface to `User` and `UsrPatch` to `UserPatch` in types.ts and users.ts";
    assert!(!due(
        i,
        "src/types.ts",
        "export interface User {}\nexport interface UserPatch {}\n"
    ));
    assert!(due(i, "src/users.ts", "import { Usr } from './types';\n"));
}

#[test]
fn doc_requests_ask_only_for_comments() {
    use super::asks_only_for_comments as only;
    assert!(only(
        "Add Go doc comments to the exported functions `Reverse`, `IsPalindrome` and `Truncate`"
    ));
    assert!(only("add a docstring to `area`"));
    assert!(!only("add a docstring to `area` and make it faster"));
    assert!(!only("add type hints to every function"));
    assert!(!only("rename `a` to `b`"));
    assert!(!only(""));
}

#[test]
fn a_pin_request_is_done_when_every_dependency_is_pinned() {
    let i = "pin every dependency in requirements.txt to an exact version";
    assert!(!due(
        i,
        "requirements.txt",
        "flask==3.0.2\nrequests==2.31.0\n"
    ));
    assert!(due(i, "requirements.txt", "flask==3.0.2\nrequests>=2\n"));
    let npm = "Pin all npm dependencies";
    assert!(!due(
        npm,
        "package.json",
        r#"{"dependencies": {"react": "18.2.0"}}"#
    ));
    assert!(due(
        npm,
        "package.json",
        r#"{"dependencies": {"react": "^18.2.0"}}"#
    ));
    // A manifest it does not read, or more asked than pinning, is the editor's.
    assert!(due(
        i,
        "Cargo.toml",
        "[dependencies]\nserde = \"=1.0.200\"\n"
    ));
    assert!(due(
        "pin every dependency and drop unused ones",
        "requirements.txt",
        "a==1\n"
    ));
}

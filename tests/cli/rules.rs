//! Standing instructions in `.codey.json`, on scripted models: `codey edit --rule`,
//! `codey check`, and a rules file that tries to choose models or commands.

use crate::common::{answers, blocks, renamed, small, TestRepo};

const RULES: &str = r#"{
  "rules": [
    {"name": "rename", "instruction": "rename the function `old_name` to `new_name`", "paths": ["src/*.py"], "role": "coder"},
    {"name": "constant", "instruction": "rename the constant `LIMIT` to `MAX_ITEMS`", "paths": ["lib/**"], "role": "coder"}
  ]
}"#;

const LIMITS: &str = "LIMIT = 10\n\n\ndef over(n):\n    return n > LIMIT\n";

/// The answers for both rules: the rename in any file defining `old_name`, the constant's
/// rename in any file defining `LIMIT`.
fn rules_script() -> serde_json::Value {
    answers(&[
        (
            "def old_name():",
            &blocks(&[
                ("def old_name():\n", "def new_name():\n"),
                ("print(old_name())\n", "print(new_name())\n"),
            ]),
        ),
        (
            "LIMIT = 10",
            &blocks(&[
                ("LIMIT = 10\n", "MAX_ITEMS = 10\n"),
                ("    return n > LIMIT\n", "    return n > MAX_ITEMS\n"),
            ]),
        ),
    ])
}

fn rules_repo() -> TestRepo {
    let (_, a) = small("a");
    let repo = TestRepo::with_files(&[
        ("src/a.py", &a),
        ("other/b.py", &a),
        ("lib/limits.py", LIMITS),
        (".codey.json", RULES),
    ]);
    repo.script(&rules_script());
    repo
}

/// The patch both rules give on the rules repository.
const BOTH_RULES: &str = r#"diff --git a/lib/limits.py b/lib/limits.py
--- a/lib/limits.py
+++ b/lib/limits.py
@@ -1,5 +1,5 @@
-LIMIT = 10
+MAX_ITEMS = 10
 
 
 def over(n):
-    return n > LIMIT
+    return n > MAX_ITEMS
diff --git a/src/a.py b/src/a.py
--- a/src/a.py
+++ b/src/a.py
@@ -1,5 +1,5 @@
-def old_name():
+def new_name():
     return "a"
 
 
-print(old_name())
+print(new_name())
"#;

#[test]
fn check_runs_every_rule_on_its_own_paths_and_exits_1() {
    let repo = rules_repo();
    let run = repo.codey(&["check", "--format", "json"]).expect(1);
    let json = run.json();
    assert_eq!(json["schema_version"], 2);
    assert_eq!(json["exit_status"], "edits-due");
    assert_eq!(json["written"], serde_json::Value::Null);
    let reports = json["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["rule"], "rename");
    assert_eq!(
        reports[0]["instruction"],
        "rename the function `old_name` to `new_name`"
    );
    assert_eq!(reports[1]["rule"], "constant");
    let paths = |r: &serde_json::Value| -> Vec<String> {
        r["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["path"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(paths(&reports[0]), vec!["src/a.py"]);
    assert_eq!(paths(&reports[1]), vec!["lib/limits.py"]);
    for (report, answer) in reports
        .iter()
        .zip(rules_script()["answers"].as_array().unwrap())
    {
        let file = &report["files"][0];
        assert_eq!(file["outcome"], "changed", "{file}");
        assert_eq!(file["role"], "coder");
        assert_eq!(file["route"], "override");
        assert_eq!(
            (file["added"].as_u64(), file["removed"].as_u64()),
            (Some(2), Some(2))
        );
        // The scripted model generates one token per character of its answer.
        let answer = answer["answer"].as_str().unwrap();
        assert_eq!(
            file["generated_tokens"].as_u64().unwrap(),
            answer.chars().count() as u64
        );
    }
    let patch = json["patch"].as_str().unwrap();
    assert_eq!(patch, BOTH_RULES);
    repo.apply(patch);
    assert_eq!(
        repo.read("lib/limits.py"),
        LIMITS.replace("LIMIT", "MAX_ITEMS")
    );
    assert_eq!(repo.read("src/a.py"), renamed(&small("a").1));
    assert_eq!(repo.read("other/b.py"), small("a").1, "outside every rule");
}

#[test]
fn check_write_writes_every_rule_and_still_exits_1() {
    let repo = rules_repo();
    let run = repo.codey(&["check", "--write"]).expect(1);
    let err = run.stderr();
    assert!(
        err.contains("rule rename: ") && err.contains("rule constant: "),
        "{err}"
    );
    assert!(err.contains("wrote 2 file(s)"), "{err}");
    assert!(
        err.contains("2 changed, 0 unchanged, 0 skipped, 0 failed"),
        "{err}"
    );
    assert_eq!(repo.status(), " M lib/limits.py\n M src/a.py\n");
    assert_eq!(
        repo.read("lib/limits.py"),
        LIMITS.replace("LIMIT", "MAX_ITEMS")
    );
    assert_eq!(repo.read("src/a.py"), renamed(&small("a").1));
}

#[test]
fn edit_rule_runs_one_rule_and_paths_narrow_it() {
    let repo = rules_repo();
    let run = repo
        .codey(&["edit", "--rule", "rename", "--check"])
        .expect(1);
    let rename_only = &BOTH_RULES[BOTH_RULES.find("diff --git a/src").unwrap()..];
    assert_eq!(run.stdout(), rename_only, "{}", run.stderr());
    // A path outside the rule's globs leaves nothing to do.
    let run = repo
        .codey(&["edit", "--rule", "rename", "other/b.py", "--check"])
        .expect(0);
    assert_eq!(run.stdout(), "");
    let run = repo.codey(&["edit", "--rule", "nope"]).expect(2);
    assert!(
        run.stderr().contains("rename, constant"),
        "{}",
        run.stderr()
    );
    // Without a rules file, --rule and check say what is missing.
    let bare = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    bare.script(&rules_script());
    let run = bare.codey(&["check"]).expect(2);
    assert!(run.stderr().contains("no .codey.json"), "{}", run.stderr());
}

#[test]
fn a_rules_file_cannot_choose_models_or_commands() {
    let repo = TestRepo::with_files(&[
        ("a.py", "def old_name():\n    pass\n"),
        (
            ".codey.json",
            r#"{"rules": [{"name": "x", "instruction": "y", "model": "/tmp/evil.gguf"}]}"#,
        ),
    ]);
    repo.script(&rules_script());
    let run = repo.codey(&["check"]).expect(2);
    let err = run.stderr();
    assert!(
        err.contains("`rules[0].model`") && err.contains(".codey.json"),
        "{err}"
    );
    assert!(!err.contains("load"), "nothing may be loaded: {err}");
    repo.write(
        ".codey.json",
        r#"{"rules": [], "models": {"coder": {"path": "/bin/sh"}}}"#,
    );
    let run = repo.codey(&["edit", "--rule", "x"]).expect(2);
    assert!(run.stderr().contains("`models`"), "{}", run.stderr());
    assert_eq!(repo.read("a.py"), "def old_name():\n    pass\n");
}

//! Standing instructions in `.codey.json`: `codey edit --rule`, `codey check`, and a rules
//! file that tries to choose models or commands.

use crate::common::TestRepo;
use crate::git::small;

const RULES: &str = r#"{
  "rules": [
    {"name": "rename", "instruction": "rename the function `old_name` to `new_name`", "paths": ["src/*.py"], "role": "coder"},
    {"name": "constant", "instruction": "rename the constant `LIMIT` to `MAX_ITEMS`", "paths": ["lib/**"], "role": "coder"}
  ]
}"#;

fn rules_repo() -> TestRepo {
    let (_, a) = small("a");
    TestRepo::with_files(&[
        ("src/a.py", &a),
        ("other/b.py", &a),
        (
            "lib/limits.py",
            "LIMIT = 10\n\n\ndef over(n):\n    return n > LIMIT\n",
        ),
        (".codey.json", RULES),
    ])
}

#[test]
fn check_runs_every_rule_on_its_own_paths_and_exits_1() {
    let repo = rules_repo();
    let run = repo.codey(&["check", "--format", "json"]).expect(1);
    let json = run.json();
    let reports = json["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0]["rule"], "rename");
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
    let file = &reports[0]["files"][0];
    assert_eq!(file["outcome"], "changed");
    assert_eq!(file["role"], "coder");
    assert!(file["generated_tokens"].as_u64().unwrap() > 0);
    assert!(file["seconds"].as_f64().unwrap() > 0.0);
    let patch = json["patch"].as_str().unwrap();
    assert!(patch.contains("+def new_name():"), "{patch}");
    assert!(patch.contains("+MAX_ITEMS = 10"), "{patch}");
    assert!(!patch.contains("other/b.py"), "{patch}");
    repo.apply(patch);
}

#[test]
fn edit_rule_runs_one_rule_and_paths_narrow_it() {
    let repo = rules_repo();
    let run = repo
        .codey(&["edit", "--rule", "rename", "--check"])
        .expect(1);
    assert!(run.stdout().contains("b/src/a.py"), "{}", run.stderr());
    assert!(!run.stdout().contains("limits.py"));
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
}

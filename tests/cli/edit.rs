//! `codey edit` end to end on scripted models: output modes (patch, `--check`, `--patch` with
//! the JSON report, `--write`, `--commit`), routing, per-file failures, and the errors that
//! come before any model runs (missing, corrupt or misconfigured models, config files).

use crate::common::{
    answers, blocks, config_json, file_prompt, file_report, gguf_cut_off_in_weights, gguf_header,
    TestRepo,
};

/// The README's demo instruction; the demo repo is fixtures/demo.
pub const DEMO: &str =
    "Make `find_duplicates` run in linear time with a set of seen names; add a docstring to `print_report`";

/// A coder-only instruction over the demo repo.
pub const DOC: &str = "add a docstring to `print_report`";

/// The docstring the scripted coder adds to `print_report`.
const DOCSTRING: &str = "    \"\"\"Print how many items there are and their total value.\"\"\"\n";

/// src/report.py after the docstring.
const REPORT_NEW: &str = "from inventory import total_value


def print_report(items):
    \"\"\"Print how many items there are and their total value.\"\"\"
    print(\"Items:\", len(items))
    print(\"Total value:\", total_value(items))
";

/// The patch of the docstring edit.
const DOC_PATCH: &str = "diff --git a/src/report.py b/src/report.py
--- a/src/report.py
+++ b/src/report.py
@@ -2,5 +2,6 @@
 
 
 def print_report(items):
+    \"\"\"Print how many items there are and their total value.\"\"\"
     print(\"Items:\", len(items))
     print(\"Total value:\", total_value(items))
";

/// src/inventory.py after the scripted algorithm editor's whole-file answer.
const INVENTORY_NEW: &str = "def total_value(items):
    total = 0
    for item in items:
        total += item[\"price\"] * item[\"quantity\"]
    return total


def find_duplicates(names):
    seen = set()
    reported = set()
    duplicates = []
    for name in names:
        if name in seen and name not in reported:
            duplicates.append(name)
            reported.add(name)
        seen.add(name)
    return duplicates
";

/// The patch of the whole-file answer for src/inventory.py.
const INVENTORY_PATCH: &str = "diff --git a/src/inventory.py b/src/inventory.py
--- a/src/inventory.py
+++ b/src/inventory.py
@@ -6,9 +6,12 @@
 
 
 def find_duplicates(names):
+    seen = set()
+    reported = set()
     duplicates = []
-    for i in range(len(names)):
-        for j in range(i + 1, len(names)):
-            if names[i] == names[j] and names[i] not in duplicates:
-                duplicates.append(names[i])
+    for name in names:
+        if name in seen and name not in reported:
+            duplicates.append(name)
+            reported.add(name)
+        seen.add(name)
     return duplicates
";

/// The docstring answer for report.py (blocks) and the whole-file answer for inventory.py.
fn demo_script() -> serde_json::Value {
    answers(&[
        (
            &file_prompt("src/report.py"),
            &blocks(&[(
                "def print_report(items):\n",
                &format!("def print_report(items):\n{DOCSTRING}"),
            )]),
        ),
        (
            &file_prompt("src/inventory.py"),
            &format!("Here is the whole file:\n```python\n{INVENTORY_NEW}```\n"),
        ),
    ])
}

/// The demo repository, scripted.
fn demo() -> TestRepo {
    let repo = TestRepo::from_fixture("demo");
    repo.script(&demo_script());
    repo
}

#[test]
fn patch_mode_prints_only_the_patch_and_write_gives_the_same_files() {
    let repo = demo();
    // The demo's sources and README (its tests/ are for --verify).
    let run = repo.codey(&["edit", DEMO, "-g", "!tests/**"]).expect(0);
    let patch = run.stdout();
    assert_eq!(patch, format!("{INVENTORY_PATCH}{DOC_PATCH}"));
    // stdout carries only the patch; the summary is on stderr.
    let err = run.stderr();
    assert!(
        err.contains("2 changed, 0 unchanged, 1 skipped, 0 failed"),
        "{err}"
    );
    assert_eq!(repo.status(), "", "patch mode writes nothing");
    repo.apply(&patch);
    assert_eq!(repo.read("src/inventory.py"), INVENTORY_NEW);
    assert_eq!(repo.read("src/report.py"), REPORT_NEW);

    repo.git(&["checkout", "--", "."]);
    let run = repo
        .codey(&["edit", DEMO, "-g", "!tests/**", "--write"])
        .expect(0);
    assert_eq!(run.stdout(), "", "--write prints no patch");
    assert!(run.stderr().contains("wrote 2 file(s)"), "{}", run.stderr());
    assert_eq!(repo.read("src/inventory.py"), INVENTORY_NEW);
    assert_eq!(repo.read("src/report.py"), REPORT_NEW);
    assert_eq!(repo.status(), " M src/inventory.py\n M src/report.py\n");
}

#[test]
fn commit_mode_commits_the_instruction_and_leaves_status_clean() {
    let repo = demo();
    let before = repo.git(&["rev-parse", "HEAD"]);
    let run = repo.codey(&["edit", DOC, "--commit"]).expect(0);
    assert_eq!(run.stdout(), "", "commit mode prints no patch");
    let head = repo.git(&["rev-parse", "HEAD"]);
    assert!(
        run.stderr().contains(&format!(
            "committed {} (1 file(s): src/report.py)",
            head.trim()
        )),
        "{}",
        run.stderr()
    );
    assert_eq!(
        repo.git(&["log", "-1", "--format=%B"]).trim_end(),
        format!("codey: {DOC}\n\nInstruction: {DOC}")
    );
    assert_eq!(
        repo.git(&["show", "--format=", "--name-only", "HEAD"]),
        "src/report.py\n"
    );
    assert_eq!(repo.git(&["show", "HEAD:src/report.py"]), REPORT_NEW);
    assert_eq!(repo.read("src/report.py"), REPORT_NEW);
    assert_eq!(repo.git(&["rev-parse", "HEAD~1"]), before);
    assert_eq!(repo.status(), "");
    repo.git(&["fsck", "--strict"]);
}

#[test]
fn check_mode_exits_1_when_edits_are_due_and_0_when_not() {
    let repo = demo();
    let run = repo.codey(&["edit", DOC, "--check"]).expect(1);
    assert_eq!(run.stdout(), DOC_PATCH);
    let json = repo
        .codey(&["edit", DOC, "--check", "--format", "json"])
        .expect(1)
        .json();
    assert_eq!(json["exit_status"], "edits-due");
    assert_eq!(json["patch"], DOC_PATCH);
    assert_eq!(repo.status(), "", "--check writes nothing");
    // The instruction is limited to Python files and only Markdown is selected: nothing is due.
    let run = repo
        .codey(&[
            "edit",
            "add type hints to the Python files",
            "--glob",
            "*.md",
            "--check",
            "--format",
            "json",
        ])
        .expect(0);
    assert!(
        run.stderr().contains("limited to py/pyi files"),
        "{}",
        run.stderr()
    );
    let json = run.json();
    assert_eq!(json["exit_status"], "clean");
    assert_eq!(json["patch"], "");
    let readme = file_report(&json, "README.md");
    assert_eq!(readme["outcome"], "skipped");
    assert_eq!(readme["kind"], "out-of-scope");
    assert_eq!(readme["route"], "scope");
    // A file named on the command line is never out of scope; the model leaves it alone, and
    // nothing is due.
    let run = repo
        .codey(&["edit", DOC, "README.md", "--check", "--format", "json"])
        .expect(0);
    let file = file_report(&run.json(), "README.md");
    assert_eq!(file["outcome"], "unchanged", "{file}");
}

#[test]
fn patch_file_and_json_report() {
    let repo = demo();
    let out = repo.home.join("edits.patch");
    let run = repo
        .codey(&[
            "edit",
            DEMO,
            "-g",
            "!tests/**",
            "--format",
            "json",
            "--patch",
            out.to_str().unwrap(),
        ])
        .expect(0);
    let json = run.json();
    let patch = std::fs::read_to_string(&out).unwrap();
    assert_eq!(patch, format!("{INVENTORY_PATCH}{DOC_PATCH}"));
    assert_eq!(json["patch"].as_str().unwrap(), patch);
    assert_eq!(json["schema_version"], 2);
    assert_eq!(json["exit_status"], "clean");
    assert_eq!(json["written"], serde_json::Value::Null);
    assert!(json.get("report").is_none(), "schema 2 has only `reports`");
    let reports = json["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["instruction"], DEMO);
    assert!(reports[0].get("rule").is_none());
    let paths: Vec<&str> = reports[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["README.md", "src/inventory.py", "src/report.py"]);

    let inventory = file_report(&json, "src/inventory.py");
    assert_eq!(inventory["role"], "algorithm");
    // The scripted router is never sure, so the keyword table decides.
    assert_eq!(inventory["route"], "keywords");
    assert_eq!(
        inventory["focus"],
        "Make `find_duplicates` run in linear time with a set of seen names"
    );
    assert_eq!(inventory["outcome"], "changed");
    assert_eq!(inventory["added"], 7);
    assert_eq!(inventory["removed"], 4);
    let answer = demo_script()["answers"][1]["answer"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        inventory["generated_tokens"].as_u64().unwrap(),
        answer.chars().count() as u64
    );

    let report = file_report(&json, "src/report.py");
    assert_eq!(report["role"], "coder");
    assert_eq!(report["route"], "keywords");
    assert_eq!(report["focus"], "add a docstring to `print_report`");
    assert_eq!(report["outcome"], "changed");
    assert_eq!(
        (report["added"].as_u64(), report["removed"].as_u64()),
        (Some(1), Some(0))
    );
    assert!(report.get("flags").is_none(), "{report}");

    let readme = file_report(&json, "README.md");
    assert_eq!(readme["outcome"], "skipped");
    assert_eq!(readme["kind"], "out-of-scope");
    assert_eq!(readme["route"], "scope");
    assert_eq!(readme["role"], serde_json::Value::Null);

    let models = &reports[0]["models"];
    for role in ["router", "coder", "algorithm"] {
        assert_eq!(models["roles"][role]["loads"], 1, "{role}: {models:#}");
    }
    repo.apply(&patch);
    assert_eq!(repo.read("src/inventory.py"), INVENTORY_NEW);
}

#[test]
fn a_confident_router_model_decides_the_role() {
    let repo = demo();
    // The router model is sure report.py's task is about algorithms: the margin (4.9 over
    // the calibration's even scores) is above the default 3.0, so the keyword table is not
    // asked.
    let mut script = demo_script();
    script["labels"] = serde_json::json!([
        {"when": "File: src/report.py\n", "label": "algorithm", "score": -0.1}
    ]);
    repo.script(&script);
    let json = repo
        .codey(&["edit", DOC, "src/report.py", "--format", "json"])
        .expect(0)
        .json();
    let report = file_report(&json, "src/report.py");
    assert_eq!(report["route"], "model", "{report}");
    assert_eq!(report["role"], "algorithm", "{report}");
    assert!(
        report["route_reason"]
            .as_str()
            .unwrap()
            .contains("router model (margin 4.90)"),
        "{report}"
    );
    assert_eq!(json["patch"], DOC_PATCH);
    // With a margin above the model's, the keyword table decides again.
    let json = repo
        .codey(&[
            "edit",
            DOC,
            "src/report.py",
            "--format",
            "json",
            "--router-margin",
            "5",
        ])
        .expect(0)
        .json();
    let report = file_report(&json, "src/report.py");
    assert_eq!(report["route"], "keywords", "{report}");
    assert_eq!(report["role"], "coder", "{report}");
    // --role overrides both.
    let json = repo
        .codey(&[
            "edit",
            DOC,
            "src/report.py",
            "--format",
            "json",
            "--role",
            "algorithm",
        ])
        .expect(0)
        .json();
    let report = file_report(&json, "src/report.py");
    assert_eq!(report["route"], "override", "{report}");
    assert_eq!(report["role"], "algorithm", "{report}");
}

#[test]
fn a_file_that_cannot_be_edited_fails_alone() {
    // long.py does not fit the context; bad.py's answer searches for a line it does not have,
    // in every round; short.py is still edited.
    let repo = TestRepo::with_files(&[
        (
            "long.py",
            &format!("def old_name():\n{}", "    value = 1\n".repeat(400)),
        ),
        ("bad.py", "def old_name():\n    return 2\n"),
        ("short.py", "def old_name():\n    return 1\n"),
    ]);
    repo.script(&answers(&[
        (
            &file_prompt("bad.py"),
            &blocks(&[("def old_name(unused):\n", "def new_name(unused):\n")]),
        ),
        (
            "def old_name():",
            &blocks(&[("def old_name():\n", "def new_name():\n")]),
        ),
    ]));
    let mut config = config_json(4000, &repo.model_dir());
    config["models"]["coder"]["context_size"] = 4096.into();
    let config = repo.config(&config);
    let run = repo
        .edit_with_config(
            "rename the function `old_name` to `new_name`",
            &config,
            &["--role", "coder", "--format", "json"],
        )
        .expect(2);
    let err = run.stderr();
    assert!(err.contains("does not fit the 4096-token context"), "{err}");
    assert!(
        err.contains("\"def old_name(unused):\" does not match any lines of the file"),
        "{err}"
    );
    assert!(
        err.contains("1 changed, 0 unchanged, 0 skipped, 2 failed"),
        "{err}"
    );
    let json = run.json();
    assert_eq!(json["exit_status"], "failed");
    let long = file_report(&json, "long.py");
    assert_eq!(long["outcome"], "failed");
    assert_eq!(long["kind"], "prompt-too-long");
    let bad = file_report(&json, "bad.py");
    assert_eq!(bad["outcome"], "failed");
    assert_eq!(bad["kind"], "search-not-found");
    // The model was told what went wrong and answered again, the same way each time.
    let rounds = bad["rounds"].as_array().unwrap();
    assert!(rounds.len() > 1, "{bad}");
    assert!(
        rounds.iter().all(|r| r["result"] == "search-not-found"),
        "{bad}"
    );
    assert_eq!(file_report(&json, "short.py")["outcome"], "changed");
    let patch = json["patch"].as_str().unwrap();
    assert_eq!(
        patch,
        "diff --git a/short.py b/short.py\n--- a/short.py\n+++ b/short.py\n@@ -1,2 +1,2 @@\n-def old_name():\n+def new_name():\n     return 1\n"
    );
    repo.apply(patch);
    assert_eq!(repo.status(), " M short.py\n");
}

#[test]
fn malformed_answers_fail_with_their_kind() {
    let repo = TestRepo::with_files(&[
        ("empty.py", "def a():\n    pass\n"),
        ("fence.py", "def b():\n    pass\n"),
        ("broken.py", "def c():\n    pass\n"),
        ("twice.py", "x = 1\nx = 1\n"),
        ("fine.py", "def d():\n    pass\n"),
    ]);
    repo.script(&answers(&[
        (&file_prompt("empty.py"), "I would rather not.\n"),
        (
            &file_prompt("fence.py"),
            "```python\ndef b():\n    return 1\n",
        ),
        (
            &file_prompt("broken.py"),
            "<<<<<<< SEARCH\ndef c():\n>>>>>>> REPLACE\n",
        ),
        (&file_prompt("twice.py"), &blocks(&[("x = 1\n", "x = 2\n")])),
        (&file_prompt("fine.py"), "NO_CHANGE\n"),
    ]));
    let json = repo
        .codey(&[
            "edit",
            "make it better",
            "--role",
            "coder",
            "--format",
            "json",
        ])
        .expect(2)
        .json();
    for (path, kind) in [
        ("empty.py", "empty-answer"),
        ("fence.py", "malformed-answer"),
        ("broken.py", "malformed-answer"),
        ("twice.py", "search-ambiguous"),
    ] {
        let file = file_report(&json, path);
        assert_eq!(file["outcome"], "failed", "{file}");
        assert_eq!(file["kind"], kind, "{file}");
        assert!(!file["reason"].as_str().unwrap().is_empty(), "{file}");
    }
    let fine = file_report(&json, "fine.py");
    assert_eq!(fine["outcome"], "unchanged", "{fine}");
    assert!(fine["reason"].is_string(), "{fine}");
    assert_eq!(json["patch"], "");
    assert_eq!(repo.status(), "");
}

#[test]
fn missing_model_names_the_path_and_the_fetch_command() {
    // The real backend: the files are looked for before anything loads.
    let repo = TestRepo::with_files(&[("a.py", "def f():\n    pass\n")]);
    let empty = repo.home.join("no-models");
    std::fs::create_dir_all(&empty).unwrap();
    let run = repo
        .codey(&[
            "edit",
            "add a docstring",
            "--model-dir",
            empty.to_str().unwrap(),
            "--format",
            "json",
        ])
        .expect(2);
    let err = run.stderr();
    for file in [
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    ] {
        assert!(
            err.contains(&empty.join(file).display().to_string()),
            "{file}: {err}"
        );
    }
    // What a `cargo install` user can run: no path into the source tree.
    let fetch = format!(
        "`codey models fetch router --model-dir {}`",
        empty.display()
    );
    assert!(err.contains(&fetch), "{err}");
    let json = run.json();
    // Without the router the keyword table routes; without the editor the file fails.
    let warnings = json["reports"][0]["warnings"].as_array().unwrap();
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().unwrap().contains("router model unavailable")),
        "{json:#}"
    );
    let file = file_report(&json, "a.py");
    assert_eq!(file["outcome"], "failed");
    assert_eq!(file["kind"], "model-unavailable");
    assert_eq!(file["route"], "keywords");
}

#[test]
fn malformed_config_names_the_key_and_file() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    repo.script(&answers(&[]));
    let mut config = config_json(4000, &repo.model_dir());
    config["models"]["coder"]["always_resdent"] = true.into();
    let path = repo.config(&config);
    let run = repo.edit_with_config("x", &path, &[]).expect(2);
    let err = run.stderr();
    assert!(err.contains("models.coder.always_resdent"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn the_configured_escalation_order_is_honoured_and_checked() {
    let repo =
        TestRepo::with_files(&[("inventory.py", "def count(items):\n    return len(items)\n")]);
    let docstring = "    \"\"\"Return how many items there are.\"\"\"\n";
    let mut script = answers(&[
        // The algorithm model fails; the coder's answer applies.
        (
            "You are an expert in algorithms and performance.",
            "I added the docstring.",
        ),
        (
            &file_prompt("inventory.py"),
            &blocks(&[(
                "def count(items):\n",
                &format!("def count(items):\n{docstring}"),
            )]),
        ),
    ]);
    script["labels"] = serde_json::json!([
        {"when": "File: inventory.py", "label": "algorithm", "score": -0.1}
    ]);
    repo.script(&script);
    let mut config = config_json(4000, &repo.model_dir());
    config["escalation"] = serde_json::json!(["algorithm", "coder"]);
    let path = repo.config(&config);
    let instruction = "add a docstring to `count`";
    let run = repo
        .edit_with_config(instruction, &path, &["--rounds", "0", "--format", "json"])
        .expect(0);
    let file = file_report(&run.json(), "inventory.py");
    assert_eq!(file["outcome"], "changed", "{file}");
    assert_eq!(file["role"], "coder", "{file}");
    let rounds: Vec<(&str, &str)> = file["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["role"].as_str().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert_eq!(rounds, vec![("algorithm", "empty-answer"), ("coder", "ok")]);
    // The summary names the model that made the emitted edit.
    let err = run.stderr();
    assert!(
        err.contains("changed   coder     inventory.py: +1 -0"),
        "{err}"
    );
    // The default order never sends an algorithm file to the coder.
    config.as_object_mut().unwrap().remove("escalation");
    let path = repo.config(&config);
    let run = repo
        .edit_with_config(instruction, &path, &["--rounds", "0", "--format", "json"])
        .expect(2);
    let file = file_report(&run.json(), "inventory.py");
    assert_eq!(file["role"], "algorithm", "{file}");
    assert_eq!(file["rounds"].as_array().unwrap().len(), 1, "{file}");
    // A role that does not exist is a config error naming the key, before any model runs.
    config["escalation"] = serde_json::json!(["coder", "fast"]);
    let path = repo.config(&config);
    let err = repo
        .edit_with_config(instruction, &path, &[])
        .expect(2)
        .stderr();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains("key `escalation`: unknown role `fast`: the escalation order names `coder` and `algorithm`"),
        "{err}"
    );
    // So is one on the command line.
    let err = repo
        .edit_with_config(instruction, &path, &["--escalation", "coder,coder"])
        .expect(2)
        .stderr();
    assert!(err.contains("`coder` is named twice"), "{err}");
}

#[test]
fn edit_help_documents_every_flag() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let help = repo.codey_plain(&["edit", "--help"]).expect(0).stdout();
    for flag in [
        "--config",
        "--model-dir",
        "--memory-budget-mb",
        "--rule",
        "--role",
        "--glob",
        "--hidden",
        "--max-file-bytes",
        "--staged",
        "--patch",
        "--write",
        "--allow-dirty",
        "--commit",
        "--branch",
        "--check",
        "--format",
        "--threads",
        "--router-margin",
        "--no-progress",
        "--speculate",
        "--no-kv-cache",
        "--no-escalate",
        "--escalation",
    ] {
        assert!(help.contains(flag), "{flag} missing from help:\n{help}");
    }
}

#[test]
fn commit_mode_refuses_a_file_with_uncommitted_work_and_keeps_it() {
    let repo = demo();
    let before = repo.git(&["rev-parse", "HEAD"]);
    let dirty = format!(
        "{}# the user's unsaved thought\n",
        repo.read("src/report.py")
    );
    repo.write("src/report.py", &dirty);
    let run = repo
        .codey(&["edit", DOC, "--commit", "--format", "json"])
        .expect(2);
    assert!(
        run.stderr()
            .contains("not written: src/report.py: has uncommitted changes"),
        "{}",
        run.stderr()
    );
    let json = run.json();
    let refused = json["written"]["refused"].as_array().unwrap();
    assert_eq!(refused.len(), 1, "{json:#}");
    assert_eq!(refused[0]["path"], "src/report.py");
    assert_eq!(refused[0]["kind"], "dirty");
    assert_eq!(json["written"]["commit"], serde_json::Value::Null);
    assert_eq!(
        repo.git(&["rev-parse", "HEAD"]),
        before,
        "nothing may be committed"
    );
    assert_eq!(
        repo.read("src/report.py"),
        dirty,
        "the user's work must survive"
    );
    assert_eq!(repo.status(), " M src/report.py\n");
}

#[test]
fn corrupt_model_files_give_a_clear_error() {
    // The real backend's checks, before llama.cpp is handed the file: no weights needed.
    let repo = TestRepo::with_files(&[("a.py", "def f():\n    pass\n")]);
    let models = repo.home.join("bad-models");
    std::fs::create_dir_all(&models).unwrap();
    // Wrong magic, and a header cut off inside its first fields.
    std::fs::write(models.join("junk.gguf"), b"not a model at all").unwrap();
    std::fs::write(models.join("cut.gguf"), &gguf_cut_off_in_weights()[..20]).unwrap();
    // A header that parses but announces no tensors at all.
    std::fs::write(models.join("empty.gguf"), gguf_header(0)).unwrap();
    for (file, expected) in [
        ("junk.gguf", "missing GGUF magic"),
        ("cut.gguf", "not a readable GGUF model file"),
        ("empty.gguf", "holds no tensors"),
    ] {
        let mut config = config_json(4000, &models);
        config["models"]["coder"]["path"] = file.into();
        let config = repo.config(&config);
        let run = repo
            .edit_with_config(
                "add a docstring",
                &config,
                &["--role", "coder", "--format", "json"],
            )
            .expect(2);
        let err = run.stderr();
        assert!(
            err.contains(expected) && err.contains(file),
            "{file}: {err}"
        );
        let report = file_report(&run.json(), "a.py");
        assert_eq!(report["kind"], "model-unavailable", "{file}: {report}");
    }
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    use std::process::{Command, Stdio};
    let repo = demo();
    // `codey edit … | true`: the reader is gone before anything is written. The exit code still
    // says whether edits are due.
    for (args, code) in [(&["edit", DOC][..], 0), (&["edit", DOC, "--check"], 1)] {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_codey"));
        repo.env(&mut cmd);
        let out = cmd
            .args(args)
            .arg("--no-progress")
            .stdout(Stdio::from(writer))
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(!err.contains("error"), "{args:?}: {err}");
    }
}

#[test]
fn user_config_file_is_found_and_its_errors_name_it() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let dir = repo.home.join(".config/codey");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("config.json"),
        r#"{"models": {}, "memory_budget_mb": 1}"#,
    )
    .unwrap();
    let run = repo.codey(&["edit", "x"]).expect(2);
    let err = run.stderr();
    assert!(
        err.contains(&dir.join("config.json").display().to_string()),
        "{err}"
    );
    assert!(err.contains("key `models.router`"), "{err}");
}

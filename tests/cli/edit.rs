//! `codey edit` end to end on the real default models.

use crate::common::{config_json, model_dir, Run, TestRepo};

/// The README's demo instruction; the demo repo is fixtures/demo.
pub const DEMO: &str =
    "Make `find_duplicates` run in linear time with a set of seen names; add a docstring to `print_report`";

/// A coder-only instruction over the demo repo: the quicker model, for tests about output modes.
pub const DOC: &str = "add a docstring to `print_report`";

fn doc_patch(repo: &TestRepo) -> Run {
    repo.codey(&["edit", DOC]).expect(0)
}

#[test]
fn demo_patch_applies_with_git_apply() {
    let repo = TestRepo::from_fixture("demo");
    let run = repo.codey(&["edit", DEMO]).expect(0);
    let patch = run.stdout();
    assert!(
        patch.contains("b/src/inventory.py") && patch.contains("b/src/report.py"),
        "{patch}"
    );
    assert!(
        patch.starts_with("diff --git a/"),
        "stdout is not a patch:\n{patch}"
    );
    // stdout carries only the patch; the summary is on stderr.
    assert!(!patch.contains("changed,"), "summary leaked to stdout");
    assert!(run.stderr().contains("changed,"), "{}", run.stderr());
    repo.apply(&patch);
    assert_ne!(repo.git(&["status", "--porcelain"]), "");
}

#[test]
fn same_input_gives_the_same_patch_and_write_matches_it() {
    let repo = TestRepo::from_fixture("demo");
    let first = doc_patch(&repo).stdout();
    let second = doc_patch(&repo).stdout();
    assert_eq!(first, second, "greedy decoding must be deterministic");
    assert!(first.contains("b/src/report.py"), "{first}");
    repo.codey(&["edit", DOC, "--write"]).expect(0);
    let written = repo.read("src/report.py");
    repo.git(&["checkout", "--", "."]);
    repo.apply(&first);
    assert_eq!(repo.read("src/report.py"), written);
}

#[test]
fn commit_mode_commits_the_instruction_and_leaves_status_clean() {
    let repo = TestRepo::from_fixture("demo");
    let before = repo.git(&["rev-parse", "HEAD"]);
    let run = repo.codey(&["edit", DOC, "--commit"]).expect(0);
    assert_eq!(run.stdout(), "", "commit mode prints no patch");
    let message = repo.git(&["log", "-1", "--format=%B"]);
    assert!(message.contains(DOC), "{message}");
    assert_eq!(
        repo.git(&["show", "--format=", "--name-only", "HEAD"]),
        "src/report.py\n"
    );
    assert_eq!(repo.git(&["rev-parse", "HEAD~1"]), before);
    assert_eq!(repo.git(&["status", "--porcelain"]), "");
    repo.git(&["fsck", "--strict"]);
}

#[test]
fn check_mode_exits_1_when_edits_are_due_and_0_when_not() {
    let repo = TestRepo::from_fixture("demo");
    let run = repo.codey(&["edit", DOC, "--check"]).expect(1);
    assert!(run.stdout().starts_with("diff --git"));
    // The instruction is limited to Python files and only Markdown is selected: nothing is due.
    let run = repo
        .codey(&[
            "edit",
            "add type hints to the Python files",
            "--glob",
            "*.md",
            "--check",
        ])
        .expect(0);
    assert_eq!(run.stdout(), "");
    assert!(
        run.stderr().contains("limited to py/pyi files"),
        "{}",
        run.stderr()
    );
}

#[test]
fn patch_file_and_json_report() {
    let repo = TestRepo::from_fixture("demo");
    let out = repo.home.join("edits.patch");
    let run = repo
        .codey(&[
            "edit",
            DEMO,
            "--format",
            "json",
            "--patch",
            out.to_str().unwrap(),
        ])
        .expect(0);
    let json = run.json();
    let patch = std::fs::read_to_string(&out).unwrap();
    assert_eq!(json["patch"].as_str().unwrap(), patch);
    let files = json["report"]["files"].as_array().unwrap();
    let inventory = files
        .iter()
        .find(|f| f["path"] == "src/inventory.py")
        .unwrap();
    assert_eq!(inventory["role"], "algorithm");
    assert_eq!(inventory["outcome"], "changed");
    assert!(inventory["generated_tokens"].as_u64().unwrap() > 0);
    let readme = files.iter().find(|f| f["path"] == "README.md").unwrap();
    assert_eq!(readme["outcome"], "skipped");
    repo.apply(&patch);
}

#[test]
fn a_file_that_cannot_be_edited_fails_alone() {
    // A context too small for the long file: it is refused, the short one is still edited.
    let repo = TestRepo::with_files(&[
        (
            "long.py",
            &format!("def old_name():\n{}", "    value = 1\n".repeat(120)),
        ),
        ("short.py", "def old_name():\n    return 1\n"),
    ]);
    let mut config = config_json(4000, &model_dir());
    config["models"]["coder"]["context_size"] = 768.into();
    let config = repo.config(&config);
    let run = repo
        .edit_with_config(
            "rename the function `old_name` to `new_name`",
            &config,
            &["--role", "coder"],
        )
        .expect(2);
    assert!(
        run.stderr().contains("does not fit the 768-token context"),
        "{}",
        run.stderr()
    );
    let patch = run.stdout();
    assert!(
        patch.contains("b/short.py") && !patch.contains("long.py"),
        "{patch}"
    );
    assert!(patch.contains("+def new_name():"), "{patch}");
    repo.apply(&patch);
}

#[test]
fn missing_model_names_the_path_and_the_fetch_command() {
    let repo = TestRepo::with_files(&[("a.py", "def f():\n    pass\n")]);
    let empty = repo.home.join("no-models");
    std::fs::create_dir_all(&empty).unwrap();
    let run = repo
        .codey(&[
            "edit",
            "add a docstring",
            "--model-dir",
            empty.to_str().unwrap(),
        ])
        .expect(2);
    let err = run.stderr();
    assert!(
        err.contains(
            &empty
                .join("SmolLM2-135M-Instruct.Q4_1.gguf")
                .display()
                .to_string()
        ),
        "{err}"
    );
    assert!(err.contains("scripts/fetch-models.sh router"), "{err}");
}

#[test]
fn malformed_config_names_the_key_and_file() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let mut config = config_json(4000, &model_dir());
    config["models"]["coder"]["always_resdent"] = true.into();
    let path = repo.config(&config);
    let run = repo.edit_with_config("x", &path, &[]).expect(2);
    let err = run.stderr();
    assert!(err.contains("models.coder.always_resdent"), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
}

#[test]
fn edit_help_documents_every_flag() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let help = repo.codey_plain(&["edit", "--help"]).expect(0).stdout();
    for flag in [
        "--config",
        "--model-dir",
        "--memory-budget-mb",
        "--role",
        "--glob",
        "--hidden",
        "--max-file-bytes",
        "--patch",
        "--write",
        "--commit",
        "--check",
        "--format",
        "--threads",
        "--router-margin",
        "--no-progress",
    ] {
        assert!(help.contains(flag), "{flag} missing from help:\n{help}");
    }
}

#[test]
fn commit_mode_refuses_a_file_with_uncommitted_work_and_keeps_it() {
    let repo = TestRepo::from_fixture("demo");
    let before = repo.git(&["rev-parse", "HEAD"]);
    let dirty = format!(
        "{}# the user's unsaved thought\n",
        repo.read("src/report.py")
    );
    repo.write("src/report.py", &dirty);
    let run = repo.codey(&["edit", DOC, "--commit"]).expect(2);
    assert!(
        run.stderr().contains("has uncommitted changes"),
        "{}",
        run.stderr()
    );
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
}

#[test]
fn corrupt_model_files_give_a_clear_error() {
    let repo = TestRepo::with_files(&[("a.py", "def f():\n    pass\n")]);
    let models = repo.home.join("bad-models");
    std::fs::create_dir_all(&models).unwrap();
    // Wrong magic, and a real header cut off after 1 KiB.
    std::fs::write(models.join("junk.gguf"), b"not a model at all").unwrap();
    let real = std::fs::read(model_dir().join("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")).unwrap();
    std::fs::write(models.join("cut.gguf"), &real[..1024]).unwrap();
    for (file, expected) in [
        ("junk.gguf", "missing GGUF magic"),
        ("cut.gguf", "not a readable GGUF model file"),
    ] {
        let mut config = config_json(4000, &models);
        config["models"]["coder"]["path"] = file.into();
        let config = repo.config(&config);
        let run = repo
            .edit_with_config("add a docstring", &config, &["--role", "coder"])
            .expect(2);
        let err = run.stderr();
        assert!(
            err.contains(expected) && err.contains(file),
            "{file}: {err}"
        );
    }
}

#[test]
fn a_closed_stdout_is_not_an_error() {
    use std::process::{Command, Stdio};
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    // `codey edit … | true`: the reader is gone before anything is written.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_codey"));
    repo.env(&mut cmd);
    let mut child = cmd
        .args(["models"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
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

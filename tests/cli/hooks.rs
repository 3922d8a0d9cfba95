//! codey as a pre-commit hook: a plain git hook (`codey hook install`) under `git commit`,
//! `git commit -a`, `git commit <path>` and a partly staged file, and the shipped
//! `.pre-commit-hooks.yaml` under the real pre-commit framework. In every case the user's
//! unstaged work survives.

use std::path::Path;

use crate::common::TestRepo;
use crate::git::small;

const RULES: &str = r#"{"rules": [{"name": "rename", "instruction": "rename the function `old_name` to `new_name`", "paths": ["*.py"], "role": "coder"}]}"#;

/// A repository with `.codey.json`, a.py using `old_name`, and notes.txt.
fn hooked_repo() -> TestRepo {
    let (_, a) = small("a");
    TestRepo::with_files(&[
        ("a.py", &a),
        ("notes.txt", "notes\n"),
        (".codey.json", RULES),
    ])
}

fn install_plain_hook(repo: &TestRepo) {
    let run = repo.codey_plain(&["hook", "install"]).expect(0);
    assert!(run.stderr().contains("pre-commit"), "{}", run.stderr());
    let hook = repo.root.join(".git/hooks/pre-commit");
    let script = std::fs::read_to_string(hook).unwrap();
    assert!(script.contains("check --staged --write"), "{script}");
    // Installing again is fine; a foreign hook is kept unless --force.
    repo.codey_plain(&["hook", "install"]).expect(0);
}

/// A hooked repository with the plain hook installed, and its HEAD.
fn plain_hooked_repo() -> (TestRepo, String) {
    let repo = hooked_repo();
    install_plain_hook(&repo);
    let head = repo.git(&["rev-parse", "HEAD"]);
    (repo, head)
}

/// Stages a.py with a line added at the top; returns the staged content.
fn stage_import(repo: &TestRepo) -> String {
    let staged = format!("import os\n{}", repo.read("a.py"));
    repo.write("a.py", &staged);
    repo.git(&["add", "a.py"]);
    staged
}

/// Asserts a commit attempt was stopped by the hook, HEAD did not move, and the worktree's
/// a.py holds codey's edit.
fn assert_stopped_with_edit(repo: &TestRepo, head: &str, out: &crate::common::Run) {
    assert_ne!(out.code(), 0, "the commit must stop: {}", out.stderr());
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head, "{}", out.stderr());
    let a = repo.read("a.py");
    assert!(a.contains("def new_name"), "{a}\n{}", out.stderr());
    repo.git(&["fsck", "--strict"]);
}

#[test]
fn plain_hook_git_commit_edits_the_staged_file_and_stops_the_commit() {
    let (repo, head) = plain_hooked_repo();
    let staged = stage_import(&repo);
    let out = repo.git_run(&["commit", "-m", "user commit"]);
    assert_stopped_with_edit(&repo, &head, &out);
    assert!(repo.read("a.py").starts_with("import os\n"));
    // The index still holds exactly what the user staged; the edit waits for review.
    assert_eq!(repo.git(&["show", ":a.py"]), staged);
    assert!(out.stderr().contains("git diff"), "{}", out.stderr());
}

#[test]
fn plain_hook_honours_the_temporary_index_of_commit_all_and_commit_paths() {
    for args in [
        &["commit", "-a", "-m", "all"][..],
        &["commit", "-m", "path", "a.py"],
    ] {
        let (repo, head) = plain_hooked_repo();
        // Unstaged only: the real index has nothing staged, so only a hook that reads git's
        // temporary index (GIT_INDEX_FILE) sees the file as part of the commit.
        let edited = format!("{}# more\n", repo.read("a.py"));
        repo.write("a.py", &edited);
        let out = repo.git_run(args);
        assert_stopped_with_edit(&repo, &head, &out);
        assert!(repo.read("a.py").contains("# more"), "{args:?}");
    }
}

#[test]
fn plain_hook_keeps_the_unstaged_part_of_a_partly_staged_file() {
    let (repo, head) = plain_hooked_repo();
    let staged = stage_import(&repo);
    let worktree = format!("{staged}\n# unstaged thought\n");
    repo.write("a.py", &worktree);
    let out = repo.git_run(&["commit", "-m", "partial"]);
    assert_stopped_with_edit(&repo, &head, &out);
    let a = repo.read("a.py");
    assert!(
        a.starts_with("import os\n") && a.ends_with("# unstaged thought\n"),
        "unstaged work lost:\n{a}"
    );
    assert_eq!(repo.git(&["show", ":a.py"]), staged);
}

#[test]
fn plain_hook_lets_a_commit_with_nothing_due_through() {
    let repo = hooked_repo();
    install_plain_hook(&repo);
    repo.write("notes.txt", "more notes\n");
    repo.git(&["add", "notes.txt"]);
    let out = repo.git_run(&["commit", "-q", "-m", "notes"]).expect(0);
    assert_eq!(repo.git(&["log", "-1", "--format=%s"]), "notes\n");
    assert_eq!(repo.status(), "", "{}", out.stderr());
    // A foreign hook is not replaced without --force.
    std::fs::write(
        repo.root.join(".git/hooks/pre-commit"),
        "#!/bin/sh\nexit 0\n",
    )
    .unwrap();
    let run = repo.codey_plain(&["hook", "install"]).expect(2);
    assert!(run.stderr().contains("--force"), "{}", run.stderr());
    repo.codey_plain(&["hook", "install", "--force"]).expect(0);
}

/// A repository holding the project's `.pre-commit-hooks.yaml`, as pre-commit clones it.
fn hooks_source(dir: &Path) -> String {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(".pre-commit-hooks.yaml");
    let source = TestRepo::with_files(&[(
        ".pre-commit-hooks.yaml",
        &std::fs::read_to_string(shipped).unwrap(),
    )]);
    let target = dir.join("codey-hooks");
    let _ = std::fs::remove_dir_all(&target);
    source.git(&[
        "clone",
        "-q",
        source.root.to_str().unwrap(),
        target.to_str().unwrap(),
    ]);
    source.git(&["-C", target.to_str().unwrap(), "rev-parse", "HEAD"])
}

fn pre_commit_repo() -> TestRepo {
    let repo = hooked_repo();
    let rev = hooks_source(&repo.home);
    let config = format!(
        "repos:\n- repo: {}\n  rev: {}\n  hooks:\n  - id: codey\n",
        repo.home.join("codey-hooks").display(),
        rev.trim()
    );
    repo.write(".pre-commit-config.yaml", &config);
    repo.commit_all("pre-commit config");
    let mut cmd = std::process::Command::new("python3");
    repo.env(&mut cmd);
    let out = cmd.args(["-m", "pre_commit", "install"]).output().unwrap();
    assert!(
        out.status.success(),
        "pre-commit install (is pre-commit installed? scripts/setup.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    repo
}

#[test]
fn pre_commit_framework_runs_the_shipped_hook() {
    let repo = pre_commit_repo();
    let head = repo.git(&["rev-parse", "HEAD"]);
    stage_import(&repo);
    let out = repo.git_run(&["commit", "-m", "via pre-commit"]);
    let log = format!("{}{}", out.stdout(), out.stderr());
    assert!(log.contains("codey"), "{log}");
    assert!(log.contains("Failed"), "{log}");
    assert_stopped_with_edit(&repo, &head, &out);
    assert!(repo.read("a.py").starts_with("import os\n"));
}

#[test]
fn pre_commit_framework_keeps_the_unstaged_part_of_a_partly_staged_file() {
    let repo = pre_commit_repo();
    let head = repo.git(&["rev-parse", "HEAD"]);
    let staged = stage_import(&repo);
    let worktree = format!("{staged}# unstaged thought\n");
    repo.write("a.py", &worktree);
    let out = repo.git_run(&["commit", "-m", "partial via pre-commit"]);
    assert_ne!(out.code(), 0, "{}", out.stdout());
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
    let a = repo.read("a.py");
    // pre-commit stashes the unstaged part, runs the hook, then restores it; where the hook's
    // edit and the unstaged part touch, pre-commit rolls the edit back. Either way the user's
    // work is all there.
    assert!(
        a.starts_with("import os\n") && a.ends_with("# unstaged thought\n"),
        "unstaged work lost:\n{a}\n{}",
        out.stdout()
    );
    assert_eq!(repo.git(&["show", ":a.py"]), staged);
    repo.git(&["fsck", "--strict"]);
}

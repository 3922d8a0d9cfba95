//! Repositories hooked up to codey: the rules file, the shipped `.pre-commit-hooks.yaml` under
//! the real pre-commit framework, and what a stopped commit must look like.

use std::path::Path;

use super::{small, Run, TestRepo};

/// The rules file of a hooked repository: the rename, on every Python file.
pub const RULES: &str = r#"{"rules": [{"name": "rename", "instruction": "rename the function `old_name` to `new_name`", "paths": ["*.py"], "role": "coder"}]}"#;

/// a.py of a hooked repository: a small file using `old_name`, with a trailer, so lines added at
/// its end are apart from the lines the rename changes.
pub fn hooked_a() -> String {
    format!("{}\n\n# end of a.py\n", small("a").1)
}

/// A repository with `.codey.json`, a.py using `old_name`, and notes.txt.
pub fn hooked_repo() -> TestRepo {
    TestRepo::with_files(&[
        ("a.py", &hooked_a()),
        ("notes.txt", "notes\n"),
        (".codey.json", RULES),
    ])
}

/// Stages a.py with a line added at the top; returns the staged content.
pub fn stage_import(repo: &TestRepo) -> String {
    let staged = format!("import os\n{}", repo.read("a.py"));
    repo.write("a.py", &staged);
    repo.git(&["add", "a.py"]);
    staged
}

/// Asserts a commit attempt was stopped by the hook, HEAD did not move, and the repository is
/// sound.
pub fn assert_stopped(repo: &TestRepo, head: &str, out: &Run) {
    assert_ne!(out.code(), 0, "the commit must stop: {}", out.stderr());
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head, "{}", out.stderr());
    repo.git(&["fsck", "--strict"]);
}

/// Asserts a commit attempt was stopped by the hook, HEAD did not move, and the worktree's
/// a.py holds codey's edit (the scripted rename: real models may write anything).
pub fn assert_stopped_with_edit(repo: &TestRepo, head: &str, out: &Run) {
    assert_stopped(repo, head, out);
    let a = repo.read("a.py");
    assert!(
        a.contains("def new_name"),
        "{a}\n{}{}",
        out.stdout(),
        out.stderr()
    );
}

/// A repository holding the project's `.pre-commit-hooks.yaml`, as pre-commit clones it, in
/// `dir/codey-hooks`; returns its commit.
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

/// Runs the real pre-commit framework (`python3 -m pre_commit ARGS`) in the repository.
pub fn pre_commit(repo: &TestRepo, args: &[&str]) -> Run {
    let mut cmd = std::process::Command::new("python3");
    repo.env(&mut cmd);
    cmd.args(["-m", "pre_commit"]).args(args);
    repo.run(cmd)
}

/// A hooked repository whose `.pre-commit-config.yaml` uses the shipped hook, installed with
/// the real pre-commit framework.
pub fn pre_commit_repo() -> TestRepo {
    let repo = hooked_repo();
    let rev = hooks_source(&repo.home);
    let config = format!(
        "repos:\n- repo: {}\n  rev: {}\n  hooks:\n  - id: codey\n",
        repo.home.join("codey-hooks").display(),
        rev.trim()
    );
    repo.write(".pre-commit-config.yaml", &config);
    repo.commit_all("pre-commit config");
    let out = pre_commit(&repo, &["install"]);
    assert_eq!(
        out.code(),
        0,
        "pre-commit install (is pre-commit installed? scripts/setup.sh installs it): {}",
        out.stderr()
    );
    repo
}

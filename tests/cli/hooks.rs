//! codey as a pre-commit hook, on scripted models: a plain git hook (`codey hook install`)
//! under `git commit`, `git commit -a`, `git commit <path>` and a partly staged file, and the
//! shipped `.pre-commit-hooks.yaml` under the real pre-commit framework on a partly staged
//! file, with `--all-files` and with `--files`. In every case the user's unstaged work
//! survives, the index keeps what the user staged, and the worktree holds exactly the scripted
//! edit. Also: installing and uninstalling the plain hook, and the record of staged files
//! already checked clean. (One run of the framework on the real models is in the `models`
//! target.)

use crate::common::hooks::{
    assert_stopped_with_edit, hooked_a, hooked_repo, pre_commit, pre_commit_repo, stage_import,
};
use crate::common::{answers, rename_script, renamed, TestRepo};

fn install_plain_hook(repo: &TestRepo) {
    let run = repo.codey_plain(&["hook", "install"]).expect(0);
    assert!(run.stderr().contains("pre-commit"), "{}", run.stderr());
    let hook = repo.root.join(".git/hooks/pre-commit");
    let script = std::fs::read_to_string(hook).unwrap();
    // codey as found on PATH when the hook runs, not the binary that installed it.
    assert!(
        script.contains("\nexec codey check --staged --write --no-progress\n"),
        "{script}"
    );
    assert!(!script.contains(env!("CARGO_BIN_EXE_codey")), "{script}");
    // Installing again is fine; a foreign hook is kept unless --force.
    repo.codey_plain(&["hook", "install"]).expect(0);
}

/// A scripted hooked repository with the plain hook installed, and its HEAD.
fn plain_hooked_repo() -> (TestRepo, String) {
    let repo = hooked_repo();
    repo.script(&rename_script());
    install_plain_hook(&repo);
    let head = repo.git(&["rev-parse", "HEAD"]);
    (repo, head)
}

#[test]
fn plain_hook_git_commit_edits_the_staged_file_and_stops_the_commit() {
    let (repo, head) = plain_hooked_repo();
    let staged = stage_import(&repo);
    let out = repo.git_run(&["commit", "-m", "user commit"]);
    assert_stopped_with_edit(&repo, &head, &out);
    assert_eq!(repo.read("a.py"), renamed(&staged));
    // The index still holds exactly what the user staged; the edit waits for review.
    assert_eq!(repo.git(&["show", ":a.py"]), staged);
    assert_eq!(repo.status(), "MM a.py\n");
    let err = out.stderr();
    assert!(err.contains("git diff"), "{err}");
    assert!(err.contains("wrote 1 file(s)"), "{err}");
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
        assert_eq!(repo.read("a.py"), renamed(&edited), "{args:?}");
        // The failed commit's temporary index is gone; the user's index is as it was.
        assert_eq!(repo.git(&["show", ":a.py"]), hooked_a(), "{args:?}");
        assert_eq!(repo.status(), " M a.py\n", "{args:?}");
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
    // The edit of the staged content, merged with the unstaged lines.
    assert_eq!(repo.read("a.py"), renamed(&worktree), "{}", out.stderr());
    assert_eq!(repo.git(&["show", ":a.py"]), staged);
}

#[test]
fn plain_hook_refuses_an_edit_that_overlaps_unstaged_work() {
    let (repo, head) = plain_hooked_repo();
    let staged = stage_import(&repo);
    // The unstaged change touches the line the rename changes.
    let worktree = staged.replace("print(old_name())", "print(old_name(), 'unstaged')");
    repo.write("a.py", &worktree);
    let out = repo.git_run(&["commit", "-m", "overlap"]);
    assert_ne!(out.code(), 0, "{}", out.stderr());
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(repo.read("a.py"), worktree, "unstaged work overwritten");
    assert_eq!(repo.git(&["show", ":a.py"]), staged);
    assert!(
        out.stderr().contains("not written: a.py: unstaged changes"),
        "{}",
        out.stderr()
    );
}

#[test]
fn plain_hook_lets_a_commit_with_nothing_due_through() {
    let repo = hooked_repo();
    repo.script(&rename_script());
    install_plain_hook(&repo);
    repo.write("notes.txt", "more notes\n");
    repo.git(&["add", "notes.txt"]);
    let out = repo.git_run(&["commit", "-q", "-m", "notes"]).expect(0);
    assert_eq!(repo.git(&["log", "-1", "--format=%s"]), "notes\n");
    assert_eq!(repo.status(), "", "{}", out.stderr());
    assert_eq!(
        repo.read("a.py"),
        hooked_a(),
        "a.py was not being committed"
    );
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

#[test]
fn pre_commit_framework_keeps_the_unstaged_part_of_a_partly_staged_file() {
    let repo = pre_commit_repo();
    repo.script(&rename_script());
    let head = repo.git(&["rev-parse", "HEAD"]);
    let staged = stage_import(&repo);
    let worktree = format!("{staged}# unstaged thought\n");
    repo.write("a.py", &worktree);
    let out = repo.git_run(&["commit", "-m", "partial via pre-commit"]);
    let log = format!("{}{}", out.stdout(), out.stderr());
    assert!(log.contains("codey") && log.contains("Failed"), "{log}");
    assert_stopped_with_edit(&repo, &head, &out);
    // pre-commit stashes the unstaged part, runs the hook on the staged content, then puts the
    // unstaged part back; it lies apart from the edit, so both are there.
    assert_eq!(repo.read("a.py"), renamed(&worktree), "{log}");
    assert_eq!(repo.git(&["show", ":a.py"]), staged);
}

#[test]
fn a_rename_rule_run_again_by_the_hook_is_a_no_op_and_the_second_commit_goes_through() {
    let (repo, head) = plain_hooked_repo();
    // A model shown the renamed file would "improve" it again: the due check must keep it from
    // ever being asked.
    let mut script = rename_script();
    script["answers"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({
            "when": "def new_name():",
            "answer": "<<<<<<< SEARCH\ndef new_name():\n=======\ndef new_name(): pass\n>>>>>>> REPLACE\n"
        }));
    repo.script(&script);
    let staged = stage_import(&repo);
    let out = repo.git_run(&["commit", "-m", "user commit"]);
    assert_stopped_with_edit(&repo, &head, &out);
    // The user reviews the edit, stages it and commits again: nothing is due any more.
    repo.git(&["add", "a.py"]);
    let out = repo.git_run(&["commit", "-q", "-m", "user commit"]);
    assert_eq!(out.code(), 0, "{}", out.stderr());
    assert_ne!(repo.git(&["rev-parse", "HEAD"]), head);
    assert_eq!(repo.git(&["show", "HEAD:a.py"]), renamed(&staged));
    assert_eq!(repo.status(), "");
    assert!(
        out.stderr().contains("no longer occurs"),
        "{}",
        out.stderr()
    );
}

#[test]
fn under_staged_a_file_codey_cannot_edit_warns_and_blocks_only_with_strict() {
    let repo = hooked_repo();
    // Every answer searches for text the file does not have.
    repo.script(&crate::common::answers(&[(
        "def old_name():",
        "<<<<<<< SEARCH\ndef nowhere():\n=======\ndef new_name():\n>>>>>>> REPLACE\n",
    )]));
    stage_import(&repo);
    let run = repo
        .codey(&["check", "--staged", "--format", "json"])
        .expect(0);
    assert!(
        run.stderr().contains("--strict blocks it"),
        "{}",
        run.stderr()
    );
    let json = run.json();
    assert_eq!(json["reports"][0]["files"][0]["kind"], "search-not-found");
    assert_eq!(json["exit_status"], "clean");
    let run = repo.codey(&["check", "--staged", "--strict"]).expect(2);
    assert!(run.stderr().contains("1 failed"), "{}", run.stderr());
}

#[test]
fn the_plain_hook_stops_the_commit_with_a_message_when_codey_is_not_on_path() {
    let (repo, head) = plain_hooked_repo();
    stage_import(&repo);
    let mut commit = std::process::Command::new("git");
    repo.env(&mut commit);
    // git and sh are in /usr/bin and /bin; codey is not.
    commit
        .env("PATH", "/usr/bin:/bin")
        .args(["commit", "-m", "no codey"]);
    let out = repo.run(commit);
    assert_eq!(out.code(), 1, "{}", out.stderr());
    assert!(
        out.stderr().contains("codey is not on PATH"),
        "{}",
        out.stderr()
    );
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head);
}

#[test]
fn hook_install_needs_the_rules_file_unless_forced() {
    let repo = TestRepo::with_files(&[("a.py", "x = 1\n")]);
    let err = repo.codey_plain(&["hook", "install"]).expect(2).stderr();
    assert!(
        err.contains("no .codey.json") && err.contains("--force"),
        "{err}"
    );
    assert!(!repo.root.join(".git/hooks/pre-commit").exists());
    repo.codey_plain(&["hook", "install", "--force"]).expect(0);
    assert!(repo.root.join(".git/hooks/pre-commit").exists());
}

#[test]
fn hook_uninstall_removes_only_the_hook_codey_wrote() {
    let repo = hooked_repo();
    let hook = repo.root.join(".git/hooks/pre-commit");
    let run = repo.codey_plain(&["hook", "uninstall"]).expect(0);
    assert!(
        run.stderr().contains("nothing to remove"),
        "{}",
        run.stderr()
    );
    repo.codey_plain(&["hook", "install"]).expect(0);
    let run = repo.codey_plain(&["hook", "uninstall"]).expect(0);
    assert!(run.stderr().contains("removed"), "{}", run.stderr());
    assert!(!hook.exists());
    // Someone else's hook, and codey's hook with a line of the user's, stay.
    for foreign in [
        "#!/bin/sh\nexec lint-staged\n".to_owned(),
        format!("{}echo mine\n", codey::hook::script()),
    ] {
        std::fs::write(&hook, &foreign).unwrap();
        let err = repo.codey_plain(&["hook", "uninstall"]).expect(2).stderr();
        assert!(err.contains("not removed"), "{err}");
        assert_eq!(std::fs::read_to_string(&hook).unwrap(), foreign);
    }
}

#[test]
fn pre_commit_run_all_files_edits_what_is_due_and_passes_the_second_time() {
    let repo = pre_commit_repo();
    repo.script(&rename_script());
    let out = pre_commit(&repo, &["run", "--all-files"]);
    let log = format!("{}{}", out.stdout(), out.stderr());
    assert_eq!(out.code(), 1, "{log}");
    assert!(
        log.contains("Failed") && log.contains("files were modified"),
        "{log}"
    );
    assert_eq!(repo.read("a.py"), renamed(&hooked_a()), "{log}");
    assert_eq!(repo.read("notes.txt"), "notes\n");
    // Nothing is due any more: the same run passes and changes nothing.
    let out = pre_commit(&repo, &["run", "--all-files"]);
    let log = format!("{}{}", out.stdout(), out.stderr());
    assert_eq!(out.code(), 0, "{log}");
    assert!(log.contains("Passed"), "{log}");
    assert_eq!(repo.read("a.py"), renamed(&hooked_a()));
}

#[test]
fn pre_commit_run_files_checks_the_named_file() {
    let repo = pre_commit_repo();
    repo.script(&rename_script());
    // notes.txt alone: nothing the rules select, so nothing to do.
    let out = pre_commit(&repo, &["run", "--files", "notes.txt"]);
    assert_eq!(out.code(), 0, "{}{}", out.stdout(), out.stderr());
    assert_eq!(repo.read("a.py"), hooked_a());
    let out = pre_commit(&repo, &["run", "--files", "a.py"]);
    let log = format!("{}{}", out.stdout(), out.stderr());
    assert_eq!(out.code(), 1, "{log}");
    assert_eq!(repo.read("a.py"), renamed(&hooked_a()), "{log}");
}

#[test]
fn a_staged_file_checked_clean_is_not_checked_again() {
    let repo = hooked_repo();
    // The model finds nothing to do in a.py.
    repo.script(&answers(&[("def old_name():", "NO_CHANGE")]));
    stage_import(&repo);
    let run = repo.codey(&["check", "--staged", "--write"]).expect(0);
    assert!(run.stderr().contains("1 unchanged"), "{}", run.stderr());
    // Same staged blob, same rules and models: the model is not asked again, so an answer
    // that would now edit the file is never given.
    repo.rescript(&rename_script());
    let run = repo.codey(&["check", "--staged", "--write"]).expect(0);
    let err = run.stderr();
    assert!(
        err.contains("1 staged file(s) already checked clean"),
        "{err}"
    );
    assert!(err.contains("0 changed"), "{err}");
    assert_eq!(repo.git(&["diff", "--cached", "--name-only"]), "a.py\n");
    // Without the caches, or with other staged content, it is asked.
    let run = repo
        .codey(&["check", "--staged", "--no-kv-cache"])
        .expect(1);
    assert!(run.stderr().contains("1 changed"), "{}", run.stderr());
    let staged = format!("# touched\n{}", repo.read("a.py"));
    repo.write("a.py", &staged);
    repo.git(&["add", "a.py"]);
    let run = repo.codey(&["check", "--staged"]).expect(1);
    assert!(
        !run.stderr().contains("already checked clean"),
        "{}",
        run.stderr()
    );
}

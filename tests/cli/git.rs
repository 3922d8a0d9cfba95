//! Writing into the worktree and committing, on scripted models and real repositories: the
//! user's uncommitted work is never overwritten, `git status` reads as before, `git fsck` is
//! clean, and every file ends exactly as the scripted answer says.

use crate::common::{rename_script, renamed, small, small_files, TestRepo, RENAME};

/// A repository of `small` files, scripted with the rename.
fn repo_with(names: &[&str]) -> TestRepo {
    let repo = small_files(names);
    repo.script(&rename_script());
    repo
}

#[test]
fn write_refuses_dirty_and_untracked_files_unless_allowed() {
    let repo = repo_with(&["clean.py", "dirty.py"]);
    let clean = repo.read("clean.py");
    let dirty = format!("{}# the user's unsaved thought\n", repo.read("dirty.py"));
    repo.write("dirty.py", &dirty);
    let (_, untracked) = small("new.py");
    repo.write("new.py", &untracked);

    let run = repo
        .codey(&[
            "edit", RENAME, "--role", "coder", "--write", "--format", "json",
        ])
        .expect(2);
    let err = run.stderr();
    assert_eq!(repo.read("clean.py"), renamed(&clean), "{err}");
    assert_eq!(repo.read("dirty.py"), dirty, "uncommitted work overwritten");
    assert_eq!(repo.read("new.py"), untracked, "untracked file overwritten");
    assert!(
        err.contains("not written: dirty.py: has uncommitted changes")
            && err.contains("not written: new.py")
            && err.contains("--allow-dirty")
            && err.contains("wrote 1 file(s)"),
        "{err}"
    );
    let json = run.json();
    assert_eq!(json["schema_version"], 2);
    assert_eq!(json["exit_status"], "failed");
    let written = &json["written"];
    assert_eq!(
        written["files"],
        serde_json::json!(["clean.py"]),
        "{json:#}"
    );
    let refused: Vec<(&str, &str)> = written["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(refused, [("dirty.py", "dirty"), ("new.py", "dirty")]);
    assert_eq!(written["commit"], serde_json::Value::Null);
    // Every file was edited: the refusals are about writing, not about the edits.
    for path in ["clean.py", "dirty.py", "new.py"] {
        let file = crate::common::file_report(&json, path);
        assert_eq!(file["outcome"], "changed", "{file}");
        assert_eq!(
            (file["added"].as_u64(), file["removed"].as_u64()),
            (Some(2), Some(2))
        );
    }

    repo.codey(&[
        "edit",
        RENAME,
        "dirty.py",
        "--role",
        "coder",
        "--write",
        "--allow-dirty",
    ])
    .expect(0);
    assert_eq!(repo.read("dirty.py"), renamed(&dirty));
    assert_eq!(
        repo.status(),
        " M clean.py\n M dirty.py\n?? new.py\n",
        "nothing else touched"
    );
}

#[test]
fn write_never_follows_symlinks_or_enters_submodules() {
    let repo = repo_with(&["a.py"]);
    // A submodule whose file would otherwise be edited.
    let (name, content) = small("inner.py");
    let sub = TestRepo::with_files(&[(name.as_str(), content.as_str())]);
    repo.git(&[
        "-c",
        "protocol.file.allow=always",
        "submodule",
        "add",
        "-q",
        sub.root.to_str().unwrap(),
        "sub",
    ]);
    repo.git(&["commit", "-q", "-m", "add submodule"]);
    #[cfg(unix)]
    std::os::unix::fs::symlink("a.py", repo.root.join("link.py")).unwrap();
    repo.git(&["add", "link.py"]);
    repo.git(&["commit", "-q", "-m", "link"]);
    let a_before = repo.read("a.py");
    let inner_before = repo.read("sub/inner.py");

    let run = repo
        .codey(&[
            "edit", RENAME, "--role", "coder", "--write", "--format", "json",
        ])
        .expect(0);
    let json = run.json();
    let files: Vec<&str> = json["reports"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, vec!["a.py"], "{}", run.stderr());
    assert_eq!(json["written"]["files"], serde_json::json!(["a.py"]));
    assert_eq!(repo.read("a.py"), renamed(&a_before));
    assert_eq!(repo.read("sub/inner.py"), inner_before);
    assert!(std::fs::symlink_metadata(repo.root.join("link.py"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(repo.status(), " M a.py\n");
    repo.git(&["fsck", "--strict"]);
}

#[test]
fn commit_leaves_git_status_as_it_was_and_fsck_clean() {
    let repo = repo_with(&["edit_me.py", "staged.py", "unstaged.py"]);
    let edit_me = repo.read("edit_me.py");
    repo.write("staged.py", "x = 'staged work'\n");
    repo.git(&["add", "staged.py"]);
    repo.write("unstaged.py", "x = 'unstaged work'\n");
    repo.write("scratch.txt", "untracked notes\n");
    let status = repo.status();
    let head = repo.git(&["rev-parse", "HEAD"]);

    let run = repo
        .codey(&["edit", RENAME, "edit_me.py", "--role", "coder", "--commit"])
        .expect(0);
    assert_eq!(run.stdout(), "", "commit mode prints no patch");
    assert_eq!(repo.status(), status, "{}", run.stderr());
    assert_eq!(repo.git(&["rev-parse", "HEAD~1"]), head);
    let commit = repo.git(&["rev-parse", "HEAD"]);
    assert!(
        run.stderr().contains(&format!(
            "committed {} (1 file(s): edit_me.py)",
            commit.trim()
        )),
        "{}",
        run.stderr()
    );
    assert_eq!(
        repo.git(&["show", "--format=", "--name-only", "HEAD"]),
        "edit_me.py\n"
    );
    assert_eq!(repo.read("edit_me.py"), renamed(&edit_me));
    assert_eq!(repo.git(&["show", "HEAD:edit_me.py"]), renamed(&edit_me));
    assert_eq!(repo.read("unstaged.py"), "x = 'unstaged work'\n");
    assert_eq!(
        repo.git(&["show", ":staged.py"]),
        "x = 'staged work'\n",
        "the user's staged work must stay staged"
    );
    repo.git(&["fsck", "--strict"]);
}

/// Renames in a.py and commits onto the new branch codey/rename.
const BRANCH_COMMIT: [&str; 10] = [
    "edit",
    RENAME,
    "a.py",
    "--role",
    "coder",
    "--commit",
    "--branch",
    "codey/rename",
    "--format",
    "json",
];

#[test]
fn commit_on_a_new_branch_touches_nothing_else() {
    let repo = repo_with(&["a.py", "b.py"]);
    let a = repo.read("a.py");
    repo.write("b.py", "x = 'unstaged work'\n");
    let status = repo.status();
    let head = repo.git(&["rev-parse", "HEAD"]);
    let run = repo.codey(&BRANCH_COMMIT).expect(0);
    assert!(
        run.stderr().contains("on new branch codey/rename"),
        "{}",
        run.stderr()
    );
    let json = run.json();
    let written = &json["written"];
    assert_eq!(written["branch"], "codey/rename", "{json:#}");
    assert_eq!(written["committed"], serde_json::json!(["a.py"]));
    assert_eq!(
        written["files"],
        serde_json::json!([]),
        "worktree untouched"
    );
    assert_eq!(
        written["commit"].as_str().unwrap(),
        repo.git(&["rev-parse", "codey/rename"]).trim()
    );
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head, "HEAD must not move");
    assert_eq!(repo.git(&["symbolic-ref", "HEAD"]), "refs/heads/main\n");
    assert_eq!(repo.status(), status);
    assert_eq!(repo.read("a.py"), a, "worktree untouched");
    assert_eq!(repo.git(&["rev-parse", "codey/rename~1"]), head);
    assert_eq!(repo.git(&["show", "codey/rename:a.py"]), renamed(&a));
    assert_eq!(
        repo.git(&["diff", "--name-only", "main", "codey/rename"]),
        "a.py\n"
    );
    repo.git(&["fsck", "--strict"]);

    // An existing branch is never moved.
    let run = repo.codey(&BRANCH_COMMIT).expect(2);
    assert!(run.stderr().contains("already exists"), "{}", run.stderr());
    assert_eq!(repo.git(&["rev-parse", "codey/rename~1"]), head);
}

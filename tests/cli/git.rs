//! Writing into the worktree and committing, on real models and real repositories: the user's
//! uncommitted work is never overwritten, `git status` reads as before, `git fsck` is clean.

use crate::common::TestRepo;

/// A rename the coder model does reliably, on files small enough to be quick.
pub const RENAME: &str = "rename the function `old_name` to `new_name`";

pub fn small(name: &str) -> (String, String) {
    (
        name.to_owned(),
        format!(
            "def old_name():\n    return {:?}\n\n\nprint(old_name())\n",
            name
        ),
    )
}

fn repo_with(names: &[&str]) -> TestRepo {
    let files: Vec<(String, String)> = names.iter().map(|n| small(n)).collect();
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    TestRepo::with_files(&refs)
}

#[test]
fn write_refuses_dirty_and_untracked_files_unless_allowed() {
    let repo = repo_with(&["clean.py", "dirty.py"]);
    let dirty = format!("{}# the user's unsaved thought\n", repo.read("dirty.py"));
    repo.write("dirty.py", &dirty);
    let (_, untracked) = small("new.py");
    repo.write("new.py", &untracked);

    let run = repo
        .codey(&["edit", RENAME, "--role", "coder", "--write"])
        .expect(2);
    let err = run.stderr();
    assert!(repo.read("clean.py").contains("def new_name"), "{err}");
    assert_eq!(repo.read("dirty.py"), dirty, "uncommitted work overwritten");
    assert_eq!(repo.read("new.py"), untracked, "untracked file overwritten");
    assert!(
        err.contains("not written: dirty.py: has uncommitted changes")
            && err.contains("not written: new.py")
            && err.contains("--allow-dirty"),
        "{err}"
    );

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
    let written = repo.read("dirty.py");
    assert!(
        written.contains("def new_name") && written.contains("# the user's unsaved thought"),
        "{written}"
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
    let inner_before = repo.read("sub/inner.py");

    let run = repo
        .codey(&[
            "edit", RENAME, "--role", "coder", "--write", "--format", "json",
        ])
        .expect(0);
    let json = run.json();
    let files: Vec<&str> = json["report"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(files, vec!["a.py"], "{}", run.stderr());
    assert!(repo.read("a.py").contains("def new_name"));
    assert_eq!(repo.read("sub/inner.py"), inner_before);
    assert!(std::fs::symlink_metadata(repo.root.join("link.py"))
        .unwrap()
        .file_type()
        .is_symlink());
    repo.git(&["fsck", "--strict"]);
}

#[test]
fn commit_leaves_git_status_as_it_was_and_fsck_clean() {
    let repo = repo_with(&["edit_me.py", "staged.py", "unstaged.py"]);
    repo.write("staged.py", "x = 'staged work'\n");
    repo.git(&["add", "staged.py"]);
    repo.write("unstaged.py", "x = 'unstaged work'\n");
    repo.write("scratch.txt", "untracked notes\n");
    let status = repo.status();
    let head = repo.git(&["rev-parse", "HEAD"]);

    let run = repo
        .codey(&["edit", RENAME, "edit_me.py", "--role", "coder", "--commit"])
        .expect(0);
    assert_eq!(repo.status(), status, "{}", run.stderr());
    assert_eq!(repo.git(&["rev-parse", "HEAD~1"]), head);
    assert_eq!(
        repo.git(&["show", "--format=", "--name-only", "HEAD"]),
        "edit_me.py\n"
    );
    assert!(repo.read("edit_me.py").contains("def new_name"));
    assert_eq!(repo.read("unstaged.py"), "x = 'unstaged work'\n");
    assert_eq!(
        repo.git(&["show", ":staged.py"]),
        "x = 'staged work'\n",
        "the user's staged work must stay staged"
    );
    repo.git(&["fsck", "--strict"]);
}

/// Renames in a.py and commits onto the new branch codey/rename.
const BRANCH_COMMIT: [&str; 8] = [
    "edit",
    RENAME,
    "a.py",
    "--role",
    "coder",
    "--commit",
    "--branch",
    "codey/rename",
];

#[test]
fn commit_on_a_new_branch_touches_nothing_else() {
    let repo = repo_with(&["a.py", "b.py"]);
    repo.write("b.py", "x = 'unstaged work'\n");
    let status = repo.status();
    let head = repo.git(&["rev-parse", "HEAD"]);
    let run = repo.codey(&BRANCH_COMMIT).expect(0);
    assert!(
        run.stderr().contains("on new branch codey/rename"),
        "{}",
        run.stderr()
    );
    assert_eq!(repo.git(&["rev-parse", "HEAD"]), head, "HEAD must not move");
    assert_eq!(repo.git(&["symbolic-ref", "HEAD"]), "refs/heads/main\n");
    assert_eq!(repo.status(), status);
    assert!(
        repo.read("a.py").contains("def old_name"),
        "worktree untouched"
    );
    assert_eq!(repo.git(&["rev-parse", "codey/rename~1"]), head);
    let shown = repo.git(&["show", "codey/rename:a.py"]);
    assert!(shown.contains("def new_name"), "{shown}");
    repo.git(&["fsck", "--strict"]);

    // An existing branch is never moved.
    let run = repo.codey(&BRANCH_COMMIT).expect(2);
    assert!(run.stderr().contains("already exists"), "{}", run.stderr());
    assert_eq!(repo.git(&["rev-parse", "codey/rename~1"]), head);
}

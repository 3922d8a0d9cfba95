//! The user's repository as git sees it, in the cases where codey's first view of it goes
//! stale or differs from git's: a commit or an edit made while codey generates, a mode change
//! nobody staged, and `core.autocrlf`, where the worktree and the blobs differ by design. After
//! each run, `HEAD`, the index and the worktree hold the user's work plus exactly codey's edit.

use crate::common::{blocks, file_prompt, renamed, small, small_files, TestRepo, RENAME};

/// The rename of `small` files, with `before` run just before the answer for `first`.
fn rename_script_with(first: &str, before: &str) -> serde_json::Value {
    let rename = blocks(&[
        ("def old_name():\n", "def new_name():\n"),
        ("print(old_name())\n", "print(new_name())\n"),
    ]);
    serde_json::json!({"answers": [
        {"when": file_prompt(first), "answer": rename, "before": before},
        {"when": "def old_name():", "answer": rename},
    ]})
}

#[test]
fn a_commit_and_an_edit_made_while_codey_runs_are_kept_and_reported() {
    let repo = small_files(&["a.py", "b.py", "c.py"]);
    // While codey generates: the user commits a change to a.py and edits b.py, uncommitted.
    repo.script(&rename_script_with(
        "a.py",
        "printf '# user\\n' >> a.py && git commit -qam user && printf '# wip\\n' >> b.py",
    ));
    let (a, b, c) = (repo.read("a.py"), repo.read("b.py"), repo.read("c.py"));
    let run = repo
        .codey(&[
            "edit", RENAME, "--role", "coder", "--commit", "--format", "json",
        ])
        .expect(2);
    let err = run.stderr();
    let json = run.json();
    let written = &json["written"];
    assert_eq!(written["committed"], serde_json::json!(["c.py"]), "{err}");
    assert_eq!(written["files"], serde_json::json!(["c.py"]), "{err}");
    let refused: Vec<(&str, &str)> = written["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["path"].as_str().unwrap(), r["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(refused, [("a.py", "dirty"), ("b.py", "dirty")], "{err}");
    // codey's commit sits on the user's; it holds only c.py.
    assert_eq!(
        repo.git(&["log", "--format=%s", "-3"]).lines().nth(1),
        Some("user")
    );
    let changed = repo.git(&["show", "--name-only", "--format=", "HEAD"]);
    assert_eq!(changed, "c.py\n");
    // The user's work is intact, nothing is staged, and the only change left is b.py's.
    assert_eq!(repo.read("a.py"), format!("{a}# user\n"));
    assert_eq!(repo.read("b.py"), format!("{b}# wip\n"));
    assert_eq!(repo.read("c.py"), renamed(&c));
    assert_eq!(repo.status(), " M b.py\n", "{err}");
    repo.git(&["fsck", "--no-progress"]);
}

#[cfg(unix)]
#[test]
fn an_unstaged_mode_change_stays_unstaged_after_a_commit() {
    use std::os::unix::fs::PermissionsExt;
    let repo = small_files(&["run.py"]);
    repo.script(&rename_script_with("run.py", "true"));
    let path = repo.root.join("run.py");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert_eq!(repo.status(), " M run.py\n");
    repo.codey(&["edit", RENAME, "--role", "coder", "--commit"])
        .expect(0);
    // The commit holds the content edit with HEAD's mode; the chmod is still the user's,
    // unstaged.
    let tree = repo.git(&["ls-tree", "HEAD", "run.py"]);
    assert!(tree.starts_with("100644 "), "{tree}");
    assert_eq!(repo.status(), " M run.py\n");
    assert_eq!(repo.git(&["diff", "--cached", "--name-only"]), "");
    let diff = repo.git(&["diff"]);
    assert!(diff.contains("old mode 100644\nnew mode 100755"), "{diff}");
    assert!(!diff.contains("@@"), "only the mode differs: {diff}");
}

/// A repository whose worktree holds CRLF files that git stores with LF (`core.autocrlf`).
fn autocrlf_repo(names: &[&str]) -> TestRepo {
    let repo = small_files(names);
    repo.git(&["config", "core.autocrlf", "true"]);
    for name in names {
        std::fs::remove_file(repo.root.join(name)).unwrap();
    }
    repo.git(&["checkout", "--", "."]);
    assert!(
        repo.read(names[0]).contains("\r\n"),
        "checked out with CRLF"
    );
    assert_eq!(repo.status(), "", "git sees no change");
    repo
}

#[test]
fn autocrlf_files_are_clean_for_write_and_commit() {
    let repo = autocrlf_repo(&["a.py", "b.py"]);
    repo.script(&rename_script_with("a.py", "true"));
    let (a, b) = (repo.read("a.py"), repo.read("b.py"));
    let run = repo.codey(&["edit", RENAME, "a.py", "--role", "coder", "--write"]);
    let run = run.expect(0);
    assert_eq!(repo.read("a.py"), renamed(&a), "{}", run.stderr());
    repo.git(&["checkout", "--", "a.py"]);

    let run = repo
        .codey(&["edit", RENAME, "--role", "coder", "--commit"])
        .expect(0);
    assert_eq!(repo.read("b.py"), renamed(&b), "{}", run.stderr());
    // Stored with LF as git would store it, CRLF in the worktree, and nothing left to commit.
    let stored = repo.git(&["show", "HEAD:b.py"]);
    assert_eq!(stored, renamed(&b).replace("\r\n", "\n"));
    assert_eq!(repo.status(), "", "{}", run.stderr());
}

#[test]
fn autocrlf_staged_edits_merge_into_the_worktree_without_overlap() {
    let repo = autocrlf_repo(&["a.py"]);
    repo.script(&rename_script_with("a.py", "true"));
    let a = repo.read("a.py");
    let edited = a.replace("return", "return  ");
    repo.write("a.py", &edited);
    repo.git(&["add", "a.py"]);
    let run = repo
        .codey(&["edit", RENAME, "--staged", "--write"])
        .expect(0);
    assert_eq!(repo.read("a.py"), renamed(&edited), "{}", run.stderr());
}

#[cfg(unix)]
#[test]
fn a_file_name_that_is_not_utf8_is_skipped_by_name_and_the_rest_applies() {
    use std::os::unix::ffi::OsStrExt;
    let repo = small_files(&["a.py"]);
    let odd = repo.root.join(std::ffi::OsStr::from_bytes(b"caf\xe9.py"));
    std::fs::write(&odd, small("x").1).unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "odd name"]);
    repo.script(&rename_script_with("a.py", "true"));
    let run = repo
        .codey(&["edit", RENAME, "--role", "coder", "--format", "json"])
        .expect(0);
    let json = run.json();
    let skipped: Vec<&serde_json::Value> = json["reports"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "name-not-utf8")
        .collect();
    assert_eq!(skipped.len(), 1, "{json:#}");
    assert!(
        skipped[0]["reason"].as_str().unwrap().contains("rename it"),
        "{json:#}"
    );
    // The patch holds a.py only, and applies.
    let patch = json["patch"].as_str().unwrap();
    assert!(patch.starts_with("diff --git a/a.py b/a.py"), "{patch}");
    assert!(!patch.contains('\u{fffd}'), "{patch}");
    repo.apply(patch);
    assert_eq!(std::fs::read(&odd).unwrap(), small("x").1.as_bytes());
}

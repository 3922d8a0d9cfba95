//! `codey edit` end to end on the real default models: the demo's patch applies with
//! `git apply` and passes the demo's tests (`--verify`), greedy decoding gives the same patch
//! twice and `--write` writes what the patch says, and `--check` exits 1 when edits are due and
//! 0 when none are.

use crate::common::{real_models, Run, TestRepo};

/// The README's demo instruction; the demo repo is fixtures/demo.
pub const DEMO: &str =
    "Make `find_duplicates` run in linear time with a set of seen names; add a docstring to `print_report`";

/// A coder-only instruction over the demo repo: the quicker model.
pub const DOC: &str = "add a docstring to `print_report`";

fn doc_patch(repo: &TestRepo) -> Run {
    repo.codey(&["edit", DOC]).expect(0)
}

/// The demo's own tests, as `scripts/demo.sh` passes them to `--verify`.
const DEMO_TESTS: &str = "python3 -m unittest discover -s tests -q";

#[test]
fn demo_patch_applies_with_git_apply_and_passes_the_demos_tests() {
    real_models();
    let repo = TestRepo::from_fixture("demo");
    let run = repo.codey(&["edit", DEMO, "src", "--verify", DEMO_TESTS]);
    let patch = run.stdout();
    assert!(
        patch.contains("b/src/report.py"),
        "{patch}\n{}",
        run.stderr()
    );
    assert!(
        patch.starts_with("diff --git a/"),
        "stdout is not a patch:\n{patch}"
    );
    // stdout carries only the patch; the summary is on stderr.
    assert!(!patch.contains("changed,"), "summary leaked to stdout");
    let err = run.stderr();
    assert!(err.contains("changed,"), "{err}");
    // inventory.py is in the patch only if its edit passed the tests; else it was left out
    // with the reason, and the run says a file failed.
    match run.code() {
        0 => assert!(patch.contains("b/src/inventory.py"), "{patch}"),
        2 => assert!(
            err.contains("src/inventory.py") && err.contains("verify command failed"),
            "{err}"
        ),
        other => panic!("exit {other}: {err}"),
    }
    repo.apply(&patch);
    assert_ne!(repo.git(&["status", "--porcelain"]), "");
    // No emitted edit fails the verify command.
    let tests = std::process::Command::new("sh")
        .args(["-c", DEMO_TESTS])
        .current_dir(&repo.root)
        .output()
        .unwrap();
    assert!(
        tests.status.success(),
        "{}",
        String::from_utf8_lossy(&tests.stderr)
    );
}

#[test]
fn same_input_gives_the_same_patch_and_write_matches_it() {
    real_models();
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
fn check_mode_exits_1_when_edits_are_due_and_0_when_not() {
    real_models();
    let repo = TestRepo::from_fixture("demo");
    let run = repo.codey(&["edit", DOC, "--check"]).expect(1);
    assert!(run.stdout().starts_with("diff --git"));
    let json = repo
        .codey(&["edit", DOC, "--check", "--format", "json"])
        .expect(1)
        .json();
    assert_eq!(json["exit_status"], "edits-due");
    let report = json["reports"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "src/report.py")
        .unwrap()
        .clone();
    assert_eq!(report["outcome"], "changed", "{report}");
    assert!(report["generated_tokens"].as_u64().unwrap() > 0);
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

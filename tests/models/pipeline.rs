//! `codey edit` end to end on the real default models: the demo's patch applies with
//! `git apply` and passes the demo's tests (`--verify`), greedy decoding gives the same patch
//! twice and `--write` writes what the patch says (a doc request's changing comments only), and
//! `--check` exits 1 when edits are due and 0 when none are.
//!
//! What the models write is their own: greedy output differs across CPUs and thread counts, so
//! an edit may not apply, or the model may see nothing to change. So the verdicts of a run are
//! checked against each other and against its patch (`assert_outcomes_agree`), whatever the
//! answers were, and only runs on the same machine are compared.

use crate::common::{
    assert_answer_outcome, assert_outcomes_agree, file_report, real_models, Run, TestRepo,
};

/// The README's demo instruction; the demo repo is fixtures/demo.
pub const DEMO: &str =
    "Make `find_duplicates` run in linear time with a set of seen names; add a docstring to `print_report`";

/// A coder-only instruction over the demo repo: the quicker model.
pub const DOC: &str = "add a docstring to `print_report`";

/// The demo's own tests, as `scripts/demo.sh` passes them to `--verify`.
const DEMO_TESTS: &str = "python3 -m unittest discover -s tests -q";

fn doc_run(repo: &TestRepo) -> Run {
    repo.codey(&["edit", DOC, "--format", "json"])
}

#[test]
fn demo_patch_applies_with_git_apply_and_passes_the_demos_tests() {
    real_models();
    let repo = TestRepo::from_fixture("demo");
    let run = repo.codey(&[
        "edit", DEMO, "src", "--verify", DEMO_TESTS, "--format", "json",
    ]);
    // stdout carries only the product (it parses as JSON); the summary is on stderr.
    let json = run.json();
    let err = run.stderr();
    assert!(err.contains("changed,"), "{err}");
    // Both files hold a name the instruction gives, so both get answers. A file is in the
    // patch only if its edit passed the tests; else it was left out with the reason (the
    // verify command's, or the answer's), and the run says a file failed.
    let outcomes = assert_outcomes_agree(&run, &json, false, &["verify-failed"]);
    let paths: Vec<&str> = outcomes.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(paths, ["src/inventory.py", "src/report.py"], "{json:#}");
    for (path, outcome) in &outcomes {
        assert_ne!(outcome, "skipped", "{path}: {json:#}");
    }
    let patch = json["patch"].as_str().unwrap();
    if !patch.is_empty() {
        repo.apply(patch);
        assert_ne!(repo.git(&["status", "--porcelain"]), "");
    }
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
    let first = doc_run(&repo);
    let json = first.json();
    let outcomes = assert_outcomes_agree(&first, &json, false, &[]);
    // report.py defines `print_report`: it gets an answer, whatever the answer is.
    assert_answer_outcome(&file_report(&json, "src/report.py"));
    // Greedy decoding is deterministic on one machine: the same patch, the same verdicts.
    let second = doc_run(&repo).expect(first.code());
    let again = second.json();
    assert_eq!(again["patch"], json["patch"]);
    let verdicts = assert_outcomes_agree(&second, &again, false, &[]);
    assert_eq!(verdicts, outcomes);
    // --write writes what the patch says, and ends as the patch run did.
    repo.codey(&["edit", DOC, "--write"]).expect(first.code());
    let written = repo.git(&["diff"]);
    repo.git(&["checkout", "--", "."]);
    let patch = json["patch"].as_str().unwrap();
    let before = repo.read("src/report.py");
    if !patch.is_empty() {
        repo.apply(patch);
    }
    assert_eq!(repo.git(&["diff"]), written);
    // A doc request's emitted edit changes comments and docstrings only, whatever the model
    // wrote: the comments-only gate refuses the rest.
    let after = repo.read("src/report.py");
    assert_eq!(
        codey::syntax::code_change("src/report.py", &before, &after),
        None,
        "{patch}"
    );
}

#[test]
fn check_mode_exits_1_when_edits_are_due_and_0_when_not() {
    real_models();
    let repo = TestRepo::from_fixture("demo");
    // Exit 1 and exit_status edits-due when a file changed, 0 and clean when none did, 2 and
    // failed when an answer could not be used.
    let run = repo.codey(&["edit", DOC, "--check", "--format", "json"]);
    let json = run.json();
    let outcomes = assert_outcomes_agree(&run, &json, true, &[]);
    let report = file_report(&json, "src/report.py");
    assert_answer_outcome(&report);
    let generated = report["generated_tokens"].as_u64().unwrap();
    assert!(generated > 0, "{report}");
    // The patch format ends the same way and prints the diff of the changed files on stdout,
    // nothing when none changed.
    let plain = repo.codey(&["edit", DOC, "--check"]).expect(run.code());
    let changed = outcomes.iter().any(|(_, o)| o == "changed");
    assert_eq!(plain.stdout(), json["patch"].as_str().unwrap());
    assert_eq!(plain.stdout().starts_with("diff --git a/"), changed);
    assert_eq!(plain.stdout().is_empty(), !changed);
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

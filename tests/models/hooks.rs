//! The shipped `.pre-commit-hooks.yaml` under the real pre-commit framework, on the real
//! models: one commit, stopped by codey's edit of the staged file, or by a file codey could not
//! edit, or let through when the model saw nothing to change. (The plain git hook and the
//! framework on a partly staged file run scripted in the `cli` target.)

use crate::common::hooks::{assert_stopped, pre_commit_repo, stage_import};
use crate::common::real_models;

#[test]
fn pre_commit_framework_runs_the_shipped_hook() {
    real_models();
    let repo = pre_commit_repo();
    let head = repo.git(&["rev-parse", "HEAD"]);
    let staged = stage_import(&repo);
    let out = repo.git_run(&["commit", "-m", "via pre-commit"]);
    let log = format!("{}{}", out.stdout(), out.stderr());
    assert!(log.contains("codey"), "{log}");
    // What the 0.5B model answers is its own (greedy output differs across CPUs), so the
    // verdict is checked against what happened to the file, for each way the hook can end.
    if repo.read("a.py") != staged {
        // codey wrote its edit: the hook fails so that the edit is reviewed before a commit.
        assert!(log.contains("Failed"), "{log}");
        assert_stopped(&repo, &head, &out);
    } else if out.code() != 0 {
        // The answer could not be used: nothing was written, the hook names the file and why.
        let named = log
            .lines()
            .filter(|l| l.starts_with("failed"))
            .filter_map(|l| l.split_once("a.py: "))
            .any(|(_, reason)| !reason.trim().is_empty());
        assert!(named, "{log}");
        assert_stopped(&repo, &head, &out);
    } else {
        // The model saw nothing to change: the hook passes and the commit holds what was staged.
        assert!(log.contains("Passed"), "{log}");
        assert_ne!(repo.git(&["rev-parse", "HEAD"]), head, "{log}");
        assert_eq!(repo.git(&["show", "HEAD:a.py"]), staged);
    }
    // The index still holds exactly what the user staged; an edit waits for review.
    assert_eq!(repo.git(&["show", ":a.py"]), staged);
}

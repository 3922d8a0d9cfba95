//! The shipped `.pre-commit-hooks.yaml` under the real pre-commit framework, on the real
//! models: one commit, stopped by codey's edit of the staged file. (The plain git hook and the
//! framework on a partly staged file run scripted in the `cli` target.)

use crate::common::hooks::{assert_stopped_with_edit, pre_commit_repo, stage_import};
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
    assert!(log.contains("Failed"), "{log}");
    assert_stopped_with_edit(&repo, &head, &out);
    assert!(repo.read("a.py").starts_with("import os\n"));
    // The index still holds exactly what the user staged; the edit waits for review.
    assert_eq!(repo.git(&["show", ":a.py"]), staged);
}

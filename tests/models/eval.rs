//! `codey eval` on the real default models, on two tasks of the suite (the whole suite is a
//! benchmark, run by hand; its figures are in the README): one whose right answer is no change
//! (settled before any editor by the due check) and one docstring task judged by its tests and
//! the syntax gate after feedback rounds. The verdicts are the models'; the test checks that the
//! suite runs and reports both figures for both tasks.

use crate::common::{fixtures, real_models, TestRepo};

#[test]
fn eval_runs_two_tasks_and_reports_pass_at_1_and_after_retries() {
    real_models();
    let repo = TestRepo::with_files(&[("unused.txt", "x\n")]);
    let suite = fixtures().join("eval");
    let run = repo
        .codey_plain(&[
            "eval",
            "--fixture",
            suite.to_str().unwrap(),
            "--task",
            "016-py-nochange-docstrings",
            "--task",
            "009-py-docstrings",
            "--json",
        ])
        .expect(0);
    let json = run.json();
    let tasks = json["tasks"].as_array().unwrap();
    let names: Vec<&str> = tasks.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        vec!["009-py-docstrings", "016-py-nochange-docstrings"]
    );
    for t in tasks {
        assert!(
            t["pass_at_1"].is_boolean() && t["pass_final"].is_boolean(),
            "{t}"
        );
    }
    // Nothing is due in the no-change task: no editor answers, and it passes both ways.
    let nochange = &tasks[1];
    assert_eq!(nochange["answers"], 0, "{nochange}");
    assert_eq!(
        (&nochange["pass_at_1"], &nochange["pass_final"]),
        (&serde_json::json!(true), &serde_json::json!(true))
    );
    assert_eq!(json["totals"]["tasks"], 2);
    assert!(
        run.stderr().contains("eval: 009-py-docstrings"),
        "{}",
        run.stderr()
    );
}

//! The evaluation suite: how often codey's edits are right, measured on tasks with known
//! answers (`fixtures/eval/`).
//!
//! Owns reading a task (a small repository, an instruction, a check command and assertions),
//! running codey on a scratch git copy of it in process, and judging two results: the files as
//! every first answer left them (pass@1: no feedback, no escalation) and the edits codey emits
//! after its rounds, escalation and the task's check as `--verify`. It measures and returns
//! figures; the binary prints them. It asserts nothing itself: it is a benchmark.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::event::Progress;
use crate::lifecycle::Lifecycle;
use crate::model::Backend;
use crate::scan::ScanOptions;
use crate::session::{self, Job, Mode, Plan, RunResult};
use crate::syntax;
use crate::verify::{Check, Scratch};

/// One task's definition (`task.json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskFile {
    pub instruction: String,
    pub kind: String,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub check: Option<String>,
    #[serde(default)]
    pub expect: Expect,
}

/// What must hold after the edit.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    #[serde(default)]
    pub changed: Vec<String>,
    #[serde(default)]
    pub unchanged: Vec<String>,
    #[serde(default)]
    pub contains: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub absent: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub parses: bool,
}

/// A task with its name (the folder) and where its repository is.
#[derive(Debug, Clone)]
pub struct EvalTask {
    pub name: String,
    pub repo: PathBuf,
    pub file: TaskFile,
}

/// Why the suite could not run. Retrying does not help until the fixture or machine is fixed.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("cannot read the eval task {path}: {reason}")]
    Task { path: PathBuf, reason: String },
    #[error("cannot prepare a scratch repository: {0}")]
    Io(#[from] std::io::Error),
    #[error("git: {0}")]
    Git(String),
    #[error(transparent)]
    Session(#[from] session::SessionError),
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
}

/// Reads every task folder under `dir` (sorted), or only those named in `only`.
pub fn load_tasks(dir: &Path, only: &[String]) -> Result<Vec<EvalTask>, EvalError> {
    let err = |path: &Path, reason: String| EvalError::Task {
        path: path.to_owned(),
        reason,
    };
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map_err(|e| err(dir, e.to_string()))?
        .flatten()
        .filter(|e| e.path().join("task.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| only.is_empty() || only.iter().any(|o| n == o || n.starts_with(o.as_str())))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let path = dir.join(&name).join("task.json");
            let text = std::fs::read_to_string(&path).map_err(|e| err(&path, e.to_string()))?;
            let file: TaskFile =
                serde_json::from_str(&text).map_err(|e| err(&path, e.to_string()))?;
            Ok(EvalTask {
                repo: dir.join(&name).join("repo"),
                name,
                file,
            })
        })
        .collect()
}

/// How one task went.
#[derive(Debug, Clone, Serialize)]
pub struct TaskResult {
    pub name: String,
    pub kind: String,
    /// The first answers, as they were: no feedback, no escalation, no verify.
    pub pass_at_1: bool,
    /// What codey emits after rounds, escalation and the task's check as `--verify`.
    pub pass_final: bool,
    /// Files sent to an editor, and those whose answers never applied in any round.
    pub files: usize,
    pub never_applied: usize,
    /// Answers the syntax gate refused.
    pub syntax_rejections: usize,
    /// Answers to a doc request that the comments-only gate refused (they changed code).
    pub code_rejections: usize,
    /// Answers in all (first answers, feedback rounds, escalation).
    pub answers: usize,
    pub seconds: f64,
    /// Why the final result failed, when it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// With `fixpoint`: the instruction run again on its own output.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixpoint: Option<Fixpoint>,
}

/// The instruction run a second time on the files its first run edited: a rule the hook runs
/// again on its own output must find nothing due (issue 9).
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Fixpoint {
    /// Files the first run changed.
    pub edited: usize,
    /// Of those, files the second run changed again.
    pub due_again: usize,
    /// Files the second run sent to an editor (the rest its exact checks settled).
    pub answered: usize,
    pub seconds: f64,
}

/// Totals over the suite.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Totals {
    pub tasks: usize,
    pub pass_at_1: usize,
    pub pass_final: usize,
    pub files: usize,
    pub never_applied: usize,
    pub syntax_rejections: usize,
    pub code_rejections: usize,
    pub seconds: f64,
    /// Summed over the tasks run again on their own output (`--fixpoint`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixpoint: Option<Fixpoint>,
}

impl Totals {
    pub fn of(results: &[TaskResult]) -> Totals {
        let mut t = Totals::default();
        for r in results {
            t.tasks += 1;
            t.pass_at_1 += usize::from(r.pass_at_1);
            t.pass_final += usize::from(r.pass_final);
            t.files += r.files;
            t.never_applied += r.never_applied;
            t.syntax_rejections += r.syntax_rejections;
            t.code_rejections += r.code_rejections;
            t.seconds += r.seconds;
            if let Some(f) = r.fixpoint {
                let sum = t.fixpoint.get_or_insert_with(Fixpoint::default);
                sum.edited += f.edited;
                sum.due_again += f.due_again;
                sum.answered += f.answered;
                sum.seconds += f.seconds;
            }
        }
        t
    }
}

/// Options of a suite run.
#[derive(Debug, Clone)]
pub struct Options {
    pub rounds: usize,
    pub escalate: bool,
    pub check_timeout: Duration,
    /// Run each task's instruction again on the files it edited, and count what is due again.
    pub fixpoint: bool,
}

/// Runs one task on a scratch git copy of its repository.
pub fn run_task<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    task: &EvalTask,
    options: &Options,
    progress: &dyn Progress,
) -> Result<TaskResult, EvalError> {
    let started = Instant::now();
    let work = tempfile::Builder::new().prefix("codey-eval-").tempdir()?;
    let root = work.path().join("repo");
    copy_tree(&task.repo, &root)?;
    git_init(&root)?;
    let check = task.file.check.as_ref().map(|command| Check {
        command: command.clone(),
        timeout: options.check_timeout,
    });
    let plan = Plan {
        jobs: vec![Job::instruction(task.file.instruction.clone())],
        scan: ScanOptions {
            paths: task.file.paths.iter().map(PathBuf::from).collect(),
            ..ScanOptions::default()
        },
        staged: false,
        mode: Mode::Patch,
        check: false,
        role: None,
        router_judge: crate::router::DEFAULT_JUDGE,
        router_margin: crate::router::DEFAULT_MARGIN,
        speculate: false,
        kv_cache: false,
        rounds: options.rounds,
        escalate: options.escalate,
        verify: check.clone(),
        strict: true,
        changed_since: None,
        shard: None,
        jobs_in_flight: 1,
    };
    let result = session::run(lifecycle, &plan, &root, &root, progress)?;
    let mut scratch = Scratch::new(&root, false)?;
    let first = first_answers(&result);
    let final_edits: Vec<(String, String)> = result
        .changes
        .iter()
        .map(|c| (c.path.clone(), c.new_content.clone()))
        .collect();
    let pass_at_1 = judge(task, &root, &mut scratch, check.as_ref(), &first)?;
    let pass_final = judge(task, &root, &mut scratch, check.as_ref(), &final_edits)?;
    let files = result.reports[0]
        .files
        .iter()
        .filter(|f| !f.rounds.is_empty())
        .collect::<Vec<_>>();
    let fixpoint = if options.fixpoint {
        Some(run_again(lifecycle, &plan, &root, &final_edits, progress)?)
    } else {
        None
    };
    Ok(TaskResult {
        name: task.name.clone(),
        kind: task.file.kind.clone(),
        pass_at_1: pass_at_1.is_none(),
        pass_final: pass_final.is_none(),
        files: files.len(),
        never_applied: files
            .iter()
            .filter(|f| f.rounds.iter().all(|r| is_answer_failure(r.result)))
            .count(),
        syntax_rejections: rounds_ending(&files, "syntax-error"),
        code_rejections: rounds_ending(&files, "code-changed"),
        answers: files.iter().map(|f| f.rounds.len()).sum(),
        seconds: started.elapsed().as_secs_f64() - fixpoint.map_or(0.0, |f| f.seconds),
        failure: pass_final,
        fixpoint,
    })
}

/// How many rounds of `files` ended with `result`.
fn rounds_ending(files: &[&crate::engine::FileReport], result: &str) -> usize {
    files
        .iter()
        .flat_map(|f| &f.rounds)
        .filter(|r| r.result == result)
        .count()
}

/// Writes the first run's edits into the scratch copy and runs the same plan on them: what a
/// hook does when the rule runs again after `git add`.
fn run_again<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    plan: &Plan,
    root: &Path,
    edits: &[(String, String)],
    progress: &dyn Progress,
) -> Result<Fixpoint, EvalError> {
    let started = Instant::now();
    if edits.is_empty() {
        return Ok(Fixpoint::default());
    }
    for (path, content) in edits {
        std::fs::write(root.join(path), content)?;
    }
    let again = session::run(lifecycle, plan, root, root, progress)?;
    let due_again = again
        .changes
        .iter()
        .filter(|c| edits.iter().any(|(p, _)| *p == c.path))
        .count();
    let answered = again
        .reports
        .iter()
        .flat_map(|r| &r.files)
        .filter(|f| !f.rounds.is_empty())
        .count();
    Ok(Fixpoint {
        edited: edits.len(),
        due_again,
        answered,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Kinds of an answer that did not turn into an edit at all.
fn is_answer_failure(result: &str) -> bool {
    matches!(
        result,
        "search-not-found"
            | "search-ambiguous"
            | "malformed-answer"
            | "empty-answer"
            | "whole-file-not-allowed"
            | "looping-answer"
            | "cut-off"
            | "partial-answer"
    )
}

/// Every file as its first answer left it (files whose first answer failed stay as they were).
fn first_answers(result: &RunResult) -> Vec<(String, String)> {
    result
        .reports
        .iter()
        .flat_map(|r| &r.files)
        .filter_map(|f| Some((f.path.clone(), f.first_answer.clone()?)))
        .collect()
}

/// Whether the task holds with `edits` laid over its repository: None when it passes, else
/// the first thing that failed.
fn judge(
    task: &EvalTask,
    root: &Path,
    scratch: &mut Scratch,
    check: Option<&Check>,
    edits: &[(String, String)],
) -> Result<Option<String>, EvalError> {
    let original = |path: &str| std::fs::read_to_string(root.join(path)).unwrap_or_default();
    let after = |path: &str| {
        edits
            .iter()
            .find(|(p, _)| p == path)
            .map_or_else(|| original(path), |(_, c)| c.clone())
    };
    let expect = &task.file.expect;
    for path in &expect.changed {
        if after(path) == original(path) {
            return Ok(Some(format!("{path} did not change")));
        }
    }
    for path in &expect.unchanged {
        if after(path) != original(path) {
            return Ok(Some(format!("{path} changed")));
        }
    }
    for (path, needles) in &expect.contains {
        if let Some(n) = needles.iter().find(|n| !after(path).contains(n.as_str())) {
            return Ok(Some(format!("{path} lacks {n:?}")));
        }
    }
    for (path, needles) in &expect.absent {
        if let Some(n) = needles.iter().find(|n| after(path).contains(n.as_str())) {
            return Ok(Some(format!("{path} still has {n:?}")));
        }
    }
    if expect.parses {
        for (path, content) in edits {
            if let Some((_, e)) = syntax::new_error(path, &original(path), content) {
                return Ok(Some(format!("{path} does not parse: {e}")));
            }
        }
    }
    if let Some(check) = check {
        let overlays: Vec<(&str, &str)> = edits
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        let verdict = scratch.run(check, &overlays, None)?;
        if !verdict.passed {
            let last = verdict.tail.lines().rev().find(|l| !l.trim().is_empty());
            return Ok(Some(format!(
                "check failed: {}",
                last.unwrap_or("(no output)")
            )));
        }
    }
    Ok(None)
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A repository with one commit holding everything, by the project's own identity.
fn git_init(root: &Path) -> Result<(), EvalError> {
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=codey eval",
            "-c",
            "user.email=eval@localhost",
            "commit",
            "-q",
            "-m",
            "task",
        ],
    ] {
        let out = Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .map_err(|e| EvalError::Git(e.to_string()))?;
        if !out.status.success() {
            return Err(EvalError::Git(
                String::from_utf8_lossy(&out.stderr).into_owned(),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_fixture_task_reads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/eval");
        let tasks = load_tasks(&dir, &[]).unwrap();
        assert!(tasks.len() >= 40, "{}", tasks.len());
        for task in &tasks {
            assert!(task.repo.is_dir(), "{}", task.name);
            assert!(!task.file.instruction.trim().is_empty(), "{}", task.name);
        }
        let only = load_tasks(&dir, &["001".to_owned()]).unwrap();
        assert_eq!(only.len(), 1);
    }

    #[test]
    fn a_scripted_run_is_judged_first_answer_and_final() {
        let (_models, mut lc, backend, _) = crate::scripted::lifecycle([50, 400, 400], 5000);
        let dir = tempfile::tempdir().unwrap();
        let repo = dir.path().join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        std::fs::write(repo.join("a.py"), "def f():\n    return 1\n").unwrap();
        // Run again on its own output (the file shows `return 2`), the model finds nothing to do.
        backend.answer("    return 2\n```", "NO_CHANGE\n");
        // The first answer misses; its retry applies.
        backend.answer(
            "could not be used",
            "<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n",
        );
        backend.answer(
            "return 1",
            "<<<<<<< SEARCH\n    return one\n=======\n    return 2\n>>>>>>> REPLACE\n",
        );
        let task = EvalTask {
            name: "t".to_owned(),
            repo,
            file: TaskFile {
                instruction: "make `f` return 2".to_owned(),
                kind: "bugfix".to_owned(),
                paths: Vec::new(),
                check: Some("grep -q 'return 2' a.py".to_owned()),
                expect: Expect {
                    changed: vec!["a.py".to_owned()],
                    parses: true,
                    ..Expect::default()
                },
            },
        };
        let options = Options {
            rounds: 2,
            escalate: false,
            check_timeout: Duration::from_secs(30),
            fixpoint: true,
        };
        let r = run_task(&mut lc, &task, &options, &crate::event::Silent).unwrap();
        assert!(!r.pass_at_1 && r.pass_final, "{r:?}");
        assert_eq!((r.files, r.never_applied, r.answers), (1, 0, 2));
        let again = r.fixpoint.unwrap();
        assert_eq!((again.edited, again.due_again, again.answered), (1, 0, 1));
    }
}

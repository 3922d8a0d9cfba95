//! Crash safety: codey, on scripted models, is killed with SIGKILL at every crash point of a
//! `--write` and a `--commit` run (`CODEY_CRASH_AT=N` makes it kill itself at the N-th point, exactly as an
//! outside `kill -9` would). After each kill every file is wholly old or wholly new, no
//! temporary file is left (but at the one point where it has its final name, an instant before
//! the rename, when it is whole and the next run removes it), the index reads and
//! `git fsck --strict` is clean.

use std::path::Path;

use crate::common::{rename_script, renamed, small_files, Run, TestRepo, RENAME};

const FILES: [&str; 2] = ["one.py", "two.py"];

fn repo() -> TestRepo {
    let repo = small_files(&FILES);
    repo.script(&rename_script());
    repo
}

fn run_killed_at(repo: &TestRepo, mode: &str, point: usize) -> Run {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_codey"));
    repo.env(&mut cmd);
    cmd.args(["edit", RENAME, "--role", "coder", mode, "--no-progress"])
        .env("CODEY_CRASH_AT", point.to_string())
        .env("RUST_LOG", "codey=debug");
    repo.run(cmd)
}

/// The crash point named in a killed run's log.
fn point_name(run: &Run) -> String {
    let err = run.stderr();
    err.lines()
        .find(|l| l.contains("crash point"))
        .and_then(|l| l.split("point=").nth(1))
        .map(|rest| {
            rest.split(" n=")
                .next()
                .unwrap_or(rest)
                .trim_matches('"')
                .to_owned()
        })
        .unwrap_or_else(|| panic!("no crash point in the log:\n{err}"))
}

fn temp_files(root: &Path) -> Vec<String> {
    std::fs::read_dir(root)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".codey-"))
        .collect()
}

/// Kills a run at point 1, 2, … until one completes; returns how many points were tried.
fn kill_everywhere(mode: &str, check: impl Fn(&TestRepo, &[(String, String)], &str)) -> usize {
    // What a finished run writes, for "wholly new".
    let finished = repo();
    let old: Vec<String> = FILES.iter().map(|f| finished.read(f)).collect();
    finished
        .codey(&["edit", RENAME, "--role", "coder", mode])
        .expect(0);
    let new: Vec<String> = FILES.iter().map(|f| finished.read(f)).collect();
    let expected: Vec<String> = old.iter().map(|o| renamed(o)).collect();
    assert_eq!(
        new, expected,
        "the finished run must do the scripted rename"
    );
    let states: Vec<(String, String)> = old.into_iter().zip(new).collect();

    for point in 1.. {
        let repo = repo();
        let run = run_killed_at(&repo, mode, point);
        if run.code() == 0 {
            assert!(point > 1, "no crash point was reached");
            return point - 1;
        }
        assert_eq!(
            run.0.status.code(),
            None,
            "point {point}: expected SIGKILL, got {}: {}",
            run.code(),
            run.stderr()
        );
        let name = point_name(&run);
        for (file, (old, new)) in FILES.iter().zip(&states) {
            let now = repo.read(file);
            assert!(
                now == *old || now == *new,
                "{mode} killed at {name}: {file} is neither old nor new:\n{now}"
            );
        }
        let temps = temp_files(&repo.root);
        if name == "temp file linked" {
            // The complete new content under its temporary name, an instant before the rename.
            assert_eq!(temps.len(), 1, "{temps:?}");
            let temp = std::fs::read_to_string(repo.root.join(&temps[0])).unwrap();
            assert!(states.iter().any(|(_, new)| *new == temp));
        } else {
            assert!(temps.is_empty(), "{mode} killed at {name}: left {temps:?}");
        }
        repo.git(&["status", "--porcelain"]);
        repo.git(&["fsck", "--strict"]);
        check(&repo, &states, &name);
    }
    unreachable!()
}

#[test]
fn write_killed_at_every_point_leaves_each_file_old_or_new() {
    let points = kill_everywhere("--write", |_, _, _| {});
    // Per file: created, written, synced, linked, renamed.
    assert!(points >= 2 * 4, "only {points} crash points reached");
    eprintln!("--write: {points} kill points tried");
}

#[test]
fn commit_killed_at_every_point_keeps_history_and_files_consistent() {
    let points = kill_everywhere("--commit", |repo, states, name| {
        let log = repo.git(&["log", "--format=%s"]);
        let committed = log.lines().count() == 2;
        assert!(log.lines().count() <= 2, "{log}");
        if !committed {
            // Before the branch moved, nothing of the worktree may have changed.
            for (file, (old, _)) in FILES.iter().zip(states) {
                assert_eq!(repo.read(file), *old, "killed at {name}");
            }
        }
        // A later run (or `git status`) sees a consistent repository: HEAD's files are either
        // in the worktree already or show as plain modifications.
        for (file, (_, new)) in FILES.iter().zip(states) {
            if committed {
                assert_eq!(repo.git(&["show", &format!("HEAD:{file}")]), *new);
            }
        }
    });
    // Commit object, branch moved, per file five write points, index written.
    assert!(points > 2 + 2 * 4, "only {points} crash points reached");
    eprintln!("--commit: {points} kill points tried");
}

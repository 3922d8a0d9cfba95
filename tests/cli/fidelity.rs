//! Patch fidelity, as a property: for generated (before, after) pairs across line endings
//! (LF, CRLF, mixed, a lone `\r` inside a line), missing final newlines, empty files, names
//! with spaces, quotes and non-ASCII, and executable files, codey's diff applied by the real
//! `git apply` reproduces `after` byte for byte and keeps the file's mode.

use std::path::Path;
use std::process::Command;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// Files per generated case: one `git apply` checks them all, so thousands of pairs cost
/// a few hundred processes.
const FILES_PER_CASE: usize = 24;
/// Generated cases; pairs checked = CASES × FILES_PER_CASE.
const CASES: u32 = 420;

/// A line's text: ASCII, spaces and tabs, non-ASCII, a lone `\r`, patch-like prefixes.
fn line_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => "[a-z]{1,6}",
            1 => Just(" ".to_owned()),
            1 => Just("\t".to_owned()),
            1 => Just("\r".to_owned()),
            1 => Just("é✓".to_owned()),
            1 => Just("+".to_owned()),
            1 => Just("-".to_owned()),
            1 => Just("\\ No newline".to_owned()),
            1 => Just("@@ -1 +1 @@".to_owned()),
        ],
        0..5,
    )
    .prop_map(|parts| parts.concat())
}

fn ending() -> impl Strategy<Value = &'static str> {
    prop_oneof![6 => Just("\n"), 3 => Just("\r\n"), 1 => Just("\r\r\n")]
}

/// A file as lines with their endings; the last may have none.
fn file() -> impl Strategy<Value = Vec<String>> {
    (
        prop::collection::vec((line_text(), ending()), 0..14),
        any::<bool>(),
    )
        .prop_map(|(lines, final_newline)| {
            let count = lines.len();
            lines
                .into_iter()
                .enumerate()
                .map(|(i, (text, end))| {
                    if i + 1 == count && !final_newline {
                        text
                    } else {
                        text + end
                    }
                })
                .collect()
        })
}

/// One edit of a line list.
#[derive(Debug, Clone)]
enum Op {
    Insert(usize, String),
    Delete(usize),
    Replace(usize, String),
    ToggleFinalNewline,
    ToCrlf(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<usize>(), line_text()).prop_map(|(i, t)| Op::Insert(i, t + "\n")),
        any::<usize>().prop_map(Op::Delete),
        (any::<usize>(), line_text()).prop_map(|(i, t)| Op::Replace(i, t + "\n")),
        Just(Op::ToggleFinalNewline),
        any::<usize>().prop_map(Op::ToCrlf),
    ]
}

fn apply_op(lines: &mut Vec<String>, op: &Op) {
    let at = |i: usize, len: usize| if len == 0 { 0 } else { i % len };
    match op {
        Op::Insert(i, t) => {
            let i = if lines.is_empty() {
                0
            } else {
                i % (lines.len() + 1)
            };
            // A line inserted after a last line without `\n` needs the `\n` the old one lacked.
            if i == lines.len() {
                if let Some(last) = lines.last_mut() {
                    if !last.ends_with('\n') {
                        last.push('\n');
                    }
                }
            }
            lines.insert(i, t.clone());
        }
        Op::Delete(i) if !lines.is_empty() => {
            let i = at(*i, lines.len());
            lines.remove(i);
        }
        Op::Replace(i, t) if !lines.is_empty() => {
            let i = at(*i, lines.len());
            let keep_end = !lines[i].ends_with('\n');
            lines[i] = if keep_end {
                t.trim_end_matches('\n').to_owned()
            } else {
                t.clone()
            };
        }
        Op::ToggleFinalNewline => match lines.last_mut() {
            Some(last) if last.ends_with('\n') => {
                last.pop();
            }
            Some(last) => last.push('\n'),
            None => {}
        },
        Op::ToCrlf(i) if !lines.is_empty() => {
            let i = at(*i, lines.len());
            if lines[i].ends_with('\n') && !lines[i].ends_with("\r\n") {
                let at = lines[i].len() - 1;
                lines[i].insert(at, '\r');
            }
        }
        _ => {}
    }
}

/// File names git must quote (or not): spaces, quotes, backslashes, non-ASCII, nesting.
const NAMES: &[&str] = &[
    "plain.txt",
    "with space.txt",
    "naïve café.py",
    "quote\"d.txt",
    "back\\slash.txt",
    "tab\there.txt",
    "dir/sub dir/ünï.rs",
    "日本語.md",
    "-leading-dash.txt",
    "a/b/c/deep.txt",
];

#[derive(Debug, Clone)]
struct Pair {
    before: String,
    after: String,
    executable: bool,
}

fn pair() -> impl Strategy<Value = Pair> {
    (file(), prop::collection::vec(op(), 1..6), any::<bool>()).prop_map(
        |(lines, ops, executable)| {
            let before = lines.concat();
            let mut edited = lines;
            for op in &ops {
                apply_op(&mut edited, op);
            }
            Pair {
                before,
                after: edited.concat(),
                executable,
            }
        },
    )
}

fn git(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new("git")
        .args(["-c", "core.autocrlf=false", "-c", "core.safecrlf=false"])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", dir.join(".no-global-config"))
        .env("HOME", dir)
        .output()
        .unwrap()
}

#[cfg(unix)]
fn set_executable(path: &Path, executable: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if executable { 0o755 } else { 0o644 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0
}

/// Writes every `before`, applies codey's patch with `git apply`, compares every `after`.
fn check_case(pairs: &[Pair]) -> Result<(), TestCaseError> {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    let mut diffs = Vec::new();
    let mut expected = Vec::new();
    for (i, p) in pairs.iter().enumerate() {
        let name = format!("{i:02}-{}", NAMES[i % NAMES.len()]);
        let path = repo.join(&name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &p.before).unwrap();
        set_executable(&path, p.executable);
        let mode = if p.executable { 0o100755 } else { 0o100644 };
        if let Some(d) = codey::diff::unified_diff(&name, &p.before, &p.after, mode) {
            diffs.push(d);
        }
        expected.push((path, p));
    }
    let patch = codey::diff::join_patch(&diffs);
    if !patch.is_empty() {
        let file = tmp.path().join("codey.patch");
        std::fs::write(&file, &patch).unwrap();
        let out = git(
            &repo,
            &["apply", "--whitespace=nowarn", file.to_str().unwrap()],
        );
        if !out.status.success() {
            // Kept for a look at the exact bytes.
            let _ = std::fs::write(std::env::temp_dir().join("codey-fidelity.patch"), &patch);
            let _ = std::fs::write(
                std::env::temp_dir().join("codey-fidelity.pairs"),
                format!("{pairs:#?}"),
            );
        }
        prop_assert!(
            out.status.success(),
            "git apply refused the patch: {}\n{patch}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    for (path, p) in expected {
        let got = std::fs::read(&path).unwrap();
        prop_assert_eq!(
            got,
            p.after.as_bytes().to_vec(),
            "{} differs after git apply; patch:\n{}",
            path.display(),
            patch
        );
        prop_assert_eq!(is_executable(&path), p.executable, "mode changed");
    }
    Ok(())
}

#[test]
fn every_generated_patch_applies_with_git_and_reproduces_the_bytes() {
    let mut runner = TestRunner::new(Config {
        cases: CASES,
        failure_persistence: None,
        ..Config::default()
    });
    let strategy = prop::collection::vec(pair(), FILES_PER_CASE);
    let checked = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&strategy, |pairs| {
        checked.fetch_add(pairs.len(), std::sync::atomic::Ordering::Relaxed);
        check_case(&pairs)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let checked = checked.into_inner();
    eprintln!("patch fidelity: {checked} generated (before, after) pairs applied with git apply");
    assert!(checked >= (CASES as usize) * FILES_PER_CASE);
}

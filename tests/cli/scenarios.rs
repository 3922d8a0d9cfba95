//! Scenario tests: one folder per case under `tests/scenarios/`, run against the real binary
//! with the scripted models (`--features scripted`), in the style of codex's apply-patch
//! fixtures.
//!
//! Each case holds `before/` (the repository's first commit), `script.json` (the models'
//! answers, read by the binary through `CODEY_SCRIPT`), `case.json` (arguments, set-up commands,
//! exit code and the checks on stderr and the JSON report) and the expected results compared
//! exactly: `expected.patch` (stdout), `after/` (the worktree without `.git`), `status` (`git
//! status --porcelain --untracked-files=all`) and `post.out` (the output of the case's `post`
//! commands). `tests/scenarios/README.md` documents the format.
//!
//! One test runs every case and reports every failing one at the end. `CODEY_BLESS=1` writes
//! the expected results from the actual run instead of comparing them (only the ones a case
//! already has, or all of them with `"bless_all": true`); blessed files must then be read and
//! confirmed by a person. `CODEY_SCENARIO=TEXT` runs only the cases whose folder name contains
//! TEXT.

// Symlinks in the trees compared, and `sh` for the set-up commands.
#![cfg(unix)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Instant;

use serde::Deserialize;
use serde_json::Value;

/// The default models' file names: the dummy model directory holds one file of each.
const MODEL_FILES: [&str; 3] = [
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
];

/// A case's `case.json`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    /// What the case checks, for people.
    #[serde(default)]
    about: String,
    /// codey's arguments (`--no-progress` is added to `edit` and `check`).
    args: Vec<String>,
    /// The expected exit code.
    exit: i32,
    /// Shell commands run in the repository after the base commit, before codey.
    #[serde(default)]
    setup: Vec<String>,
    /// Shell commands run in the repository after codey; their output is compared with
    /// `post.out`.
    #[serde(default)]
    post: Vec<String>,
    /// Texts stderr must contain.
    #[serde(default)]
    stderr_contains: Vec<String>,
    /// Texts stderr must not contain.
    #[serde(default)]
    stderr_lacks: Vec<String>,
    /// JSON pointer into stdout (which must be JSON) → the value expected there.
    #[serde(default)]
    stdout_json: BTreeMap<String, Value>,
    /// With `CODEY_BLESS=1`, write every expected result, not only those the case has.
    #[serde(default)]
    bless_all: bool,
}

/// The temporary world of one case: HOME, the repository and the dummy model directory.
struct World {
    _tmp: tempfile::TempDir,
    home: PathBuf,
    repo: PathBuf,
    models: PathBuf,
}

impl World {
    fn new() -> World {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let repo = tmp.path().join("repo");
        let models = tmp.path().join("models");
        for dir in [&home, &repo, &models] {
            std::fs::create_dir_all(dir).unwrap();
        }
        for file in MODEL_FILES {
            std::fs::write(models.join(file), b"GGUF").unwrap();
        }
        World {
            _tmp: tmp,
            home,
            repo,
            models,
        }
    }

    /// A command in the repository with the case's HOME, git identity and clock.
    fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.repo)
            .stdin(Stdio::null())
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env("CODEY_MODEL_DIR", &self.models)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env_remove("CODEY_SCRIPT")
            .env_remove("GIT_DIR")
            .env_remove("GIT_INDEX_FILE")
            .env_remove("GIT_WORK_TREE")
            .env_remove("RUST_LOG");
        cmd
    }

    fn sh(&self, script: &str) -> Output {
        self.command("sh").arg("-c").arg(script).output().unwrap()
    }

    fn git(&self, args: &[&str]) -> Result<String, String> {
        let out = self.command("git").args(args).output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "git {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

/// Copies a directory tree; symlinks are copied as symlinks.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            copy_tree(&entry.path(), &target);
        } else if kind.is_symlink() {
            let link = std::fs::read_link(entry.path()).unwrap();
            std::os::unix::fs::symlink(link, target).unwrap();
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// A file of a tree: its bytes, or the target of a symlink.
#[derive(Debug, PartialEq, Eq)]
enum Entry {
    File(Vec<u8>),
    Link(PathBuf),
}

/// Every file under `root` by its `/`-separated relative path, `.git` at the top left out.
fn read_tree(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let rel = path.strip_prefix(root).unwrap();
            if rel == Path::new(".git") {
                continue;
            }
            let rel_name = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                walk(root, &path, out);
            } else if kind.is_symlink() {
                out.insert(rel_name, Entry::Link(std::fs::read_link(&path).unwrap()));
            } else {
                out.insert(rel_name, Entry::File(std::fs::read(&path).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    if root.is_dir() {
        walk(root, root, &mut out);
    }
    out
}

/// A unified diff of two texts, labelled, for failure messages.
fn text_diff(expected: &str, actual: &str) -> String {
    similar::TextDiff::from_lines(expected, actual)
        .unified_diff()
        .context_radius(3)
        .header("expected", "actual")
        .to_string()
}

/// Shows the carriage returns and tabs that a plain diff hides.
fn visible(text: &str) -> String {
    text.replace('\r', "\\r").replace('\t', "\\t")
}

fn compare_text(what: &str, expected: &str, actual: &str, problems: &mut Vec<String>) {
    if expected != actual {
        problems.push(format!(
            "{what} differs (carriage returns shown as \\r, tabs as \\t):\n{}",
            text_diff(&visible(expected), &visible(actual))
        ));
    }
}

fn compare_trees(expected: &Path, actual: &Path, problems: &mut Vec<String>) {
    let want = read_tree(expected);
    let got = read_tree(actual);
    for (path, entry) in &want {
        match got.get(path) {
            None => problems.push(format!("after/: {path} is missing from the worktree")),
            Some(found) if found == entry => {}
            Some(Entry::File(got_bytes)) => match entry {
                Entry::File(want_bytes) => compare_text(
                    &format!("after/{path}"),
                    &String::from_utf8_lossy(want_bytes),
                    &String::from_utf8_lossy(got_bytes),
                    problems,
                ),
                Entry::Link(target) => problems.push(format!(
                    "after/{path}: expected a symlink to {}, found a file",
                    target.display()
                )),
            },
            Some(Entry::Link(target)) => problems.push(format!(
                "after/{path}: found a symlink to {}, expected {entry:?}",
                target.display()
            )),
        }
    }
    for path in got.keys().filter(|p| !want.contains_key(*p)) {
        problems.push(format!("after/: the worktree has an unexpected {path}"));
    }
}

/// Replaces `dir` with a copy of the worktree.
fn bless_tree(dir: &Path, worktree: &Path) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    for (path, entry) in read_tree(worktree) {
        let target = dir.join(&path);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        match entry {
            Entry::File(bytes) => std::fs::write(target, bytes).unwrap(),
            Entry::Link(link) => std::os::unix::fs::symlink(link, target).unwrap(),
        }
    }
}

/// Compares `actual` with the expected file `name` of the case, or writes it when blessing.
fn check_file(
    dir: &Path,
    name: &str,
    actual: &str,
    bless: bool,
    bless_all: bool,
    problems: &mut Vec<String>,
) {
    let path = dir.join(name);
    if bless && (path.exists() || bless_all) {
        std::fs::write(&path, actual).unwrap();
    } else if path.exists() {
        let expected = std::fs::read_to_string(&path).unwrap();
        compare_text(name, &expected, actual, problems);
    }
}

/// Runs one case; returns what went wrong (nothing when it passed).
fn run_case(dir: &Path, bless: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let case: Case = match std::fs::read_to_string(dir.join("case.json"))
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(case) => case,
        Err(e) => return vec![format!("case.json: {e}")],
    };
    let script = dir.join("script.json");
    if !script.is_file() {
        return vec!["script.json is missing".to_owned()];
    }
    if !dir.join("before").is_dir() {
        return vec!["before/ is missing".to_owned()];
    }
    let world = World::new();
    copy_tree(&dir.join("before"), &world.repo);
    let base = world
        .git(&["init", "-q", "-b", "main"])
        .and_then(|_| world.git(&["add", "-A"]))
        .and_then(|_| world.git(&["commit", "-q", "-m", "base"]));
    if let Err(e) = base {
        return vec![e];
    }
    for command in &case.setup {
        let out = world.sh(command);
        if !out.status.success() {
            return vec![format!(
                "setup `{command}` failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )];
        }
    }

    let mut codey = world.command(env!("CARGO_BIN_EXE_codey"));
    codey.args(&case.args).env("CODEY_SCRIPT", &script);
    if matches!(
        case.args.first().map(String::as_str),
        Some("edit" | "check")
    ) {
        codey.arg("--no-progress");
    }
    let out = codey.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();

    let code = out.status.code().unwrap_or(-1);
    if code != case.exit {
        problems.push(format!("exit code {code}, expected {}", case.exit));
    }
    for text in &case.stderr_contains {
        if !stderr.contains(text.as_str()) {
            problems.push(format!("stderr lacks {text:?}"));
        }
    }
    for text in &case.stderr_lacks {
        if stderr.contains(text.as_str()) {
            problems.push(format!("stderr contains {text:?}"));
        }
    }
    if !case.stdout_json.is_empty() {
        match serde_json::from_str::<Value>(&stdout) {
            Ok(json) => {
                for (pointer, want) in &case.stdout_json {
                    match json.pointer(pointer) {
                        Some(got) if got == want => {}
                        Some(got) => problems
                            .push(format!("stdout JSON {pointer} is {got}, expected {want}")),
                        None => problems.push(format!("stdout JSON has no {pointer}")),
                    }
                }
            }
            Err(e) => problems.push(format!("stdout is not JSON ({e})")),
        }
    }

    check_file(
        dir,
        "expected.patch",
        &stdout,
        bless,
        case.bless_all,
        &mut problems,
    );
    match world.git(&["status", "--porcelain", "--untracked-files=all"]) {
        Ok(status) => check_file(dir, "status", &status, bless, case.bless_all, &mut problems),
        Err(e) => problems.push(e),
    }
    let after = dir.join("after");
    if bless && (after.exists() || case.bless_all) {
        bless_tree(&after, &world.repo);
    } else if after.exists() {
        compare_trees(&after, &world.repo, &mut problems);
    }
    if !case.post.is_empty() {
        let mut post = String::new();
        for command in &case.post {
            let out = world.sh(command);
            let _ = writeln!(post, "$ {command}");
            post.push_str(&String::from_utf8_lossy(&out.stdout));
            if !out.status.success() {
                let _ = writeln!(
                    post,
                    "[exit {}] {}",
                    out.status.code().unwrap_or(-1),
                    String::from_utf8_lossy(&out.stderr).trim_end()
                );
            }
        }
        check_file(dir, "post.out", &post, bless, case.bless_all, &mut problems);
    } else if dir.join("post.out").exists() {
        problems.push("post.out exists but case.json has no post commands".to_owned());
    }

    if !problems.is_empty() {
        let about = if case.about.is_empty() {
            String::new()
        } else {
            format!("({})\n", case.about)
        };
        problems.insert(
            0,
            format!(
                "{about}args: {:?}\n--- stderr ---\n{}--- stdout ---\n{}--------------",
                case.args,
                stderr,
                if stdout.chars().count() > 4000 {
                    format!("{}…\n", stdout.chars().take(4000).collect::<String>())
                } else {
                    stdout.clone()
                }
            ),
        );
    }
    problems
}

#[test]
fn scenarios() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let bless = std::env::var_os("CODEY_BLESS").is_some_and(|v| v == "1");
    let only = std::env::var("CODEY_SCENARIO").ok();
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .filter(|p| {
            only.as_deref().is_none_or(|only| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().contains(only))
            })
        })
        .collect();
    cases.sort();
    assert!(!cases.is_empty(), "no scenarios under {}", root.display());

    let started = Instant::now();
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        let problems = run_case(dir, bless);
        if !problems.is_empty() {
            failures.push(format!("=== {name}\n{}", problems.join("\n")));
        }
    }
    eprintln!(
        "scenarios: {} run, {} failed, {:.1}s{}",
        cases.len(),
        failures.len(),
        started.elapsed().as_secs_f64(),
        if bless { " (blessed)" } else { "" }
    );
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}

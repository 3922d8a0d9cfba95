//! The test environment shared by both integration targets: a temporary HOME and repository, a
//! fixed git identity and clock, helpers to run `codey` and `git` in it, and the scripted model
//! backend's set-up.
//!
//! A repository runs the real default models unless [`TestRepo::script`] gave it a script:
//! then every later `codey` (and every `git` that may run codey as a hook) gets `CODEY_SCRIPT`
//! and a model directory of dummy files, so a binary built with `--features scripted` answers
//! from the script and no weights are needed.

// Each target uses its own part of these helpers.
#![allow(dead_code)]

pub mod hooks;

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use tempfile::TempDir;

/// The files of the default config's models.
pub const MODEL_FILES: [&str; 3] = [
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
    "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
];

/// The coder model's file.
pub const CODER: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

/// Where the real default models are: $CODEY_MODEL_DIR, else the fetch script's default.
/// Nothing is checked: see [`real_models`].
pub fn real_model_dir() -> PathBuf {
    std::env::var_os("CODEY_MODEL_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let data = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share")
                });
            data.join("codey/models")
        })
}

/// The real default models' directory, asserting that every model is there: a test on real
/// models fails with the fetch instruction rather than skipping.
pub fn real_models() -> PathBuf {
    let dir = real_model_dir();
    for file in MODEL_FILES {
        assert!(
            dir.join(file).is_file(),
            "model {file} missing in {}: run scripts/fetch-models.sh",
            dir.display()
        );
    }
    dir
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// A temporary repository with its own HOME.
pub struct TestRepo {
    _tmp: TempDir,
    pub home: PathBuf,
    pub root: PathBuf,
    /// Whether [`TestRepo::script`] was called: codey then runs scripted models.
    scripted: Cell<bool>,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

impl TestRepo {
    /// An empty repository with one commit holding `files`.
    pub fn with_files(files: &[(&str, &str)]) -> Self {
        let repo = Self::empty();
        for (name, content) in files {
            repo.write(name, content);
        }
        repo.commit_all("base");
        repo
    }

    /// [`TestRepo::with_files`] for files built at run time.
    pub fn with_owned_files(files: &[(String, String)]) -> Self {
        let refs: Vec<(&str, &str)> = files
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        Self::with_files(&refs)
    }

    /// A repository holding a copy of `fixtures/<name>`, committed.
    pub fn from_fixture(name: &str) -> Self {
        let repo = Self::empty();
        copy_tree(&fixtures().join(name), &repo.root);
        repo.commit_all("base");
        repo
    }

    fn empty() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let home = tmp.path().join("home");
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&root).unwrap();
        let repo = TestRepo {
            _tmp: tmp,
            home,
            root,
            scripted: Cell::new(false),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
    }

    /// From now on codey runs scripted models answering from `script` (see `codey::scripted`:
    /// `{"answers": [{"when", "answer"}], "labels": [{"when", "label", "score"}]}`), with a
    /// model directory of dummy files. Calling it again replaces the script.
    pub fn script(&self, script: &serde_json::Value) {
        let models = self.scripted_model_dir();
        std::fs::create_dir_all(&models).unwrap();
        for file in MODEL_FILES {
            std::fs::write(models.join(file), b"GGUF").unwrap();
        }
        std::fs::write(
            self.script_path(),
            serde_json::to_string_pretty(script).unwrap(),
        )
        .unwrap();
        self.scripted.set(true);
    }

    /// Replaces the script of a scripted repository without touching its model files, so
    /// the models keep their identity (size and modification time) for codey's caches.
    pub fn rescript(&self, script: &serde_json::Value) {
        assert!(self.scripted.get(), "rescript needs script first");
        std::fs::write(
            self.script_path(),
            serde_json::to_string_pretty(script).unwrap(),
        )
        .unwrap();
    }

    fn script_path(&self) -> PathBuf {
        self.home.join("script.json")
    }

    fn scripted_model_dir(&self) -> PathBuf {
        self.home.join("scripted-models")
    }

    /// The model directory codey is given: the dummy one when scripted, else the real one.
    pub fn model_dir(&self) -> PathBuf {
        if self.scripted.get() {
            self.scripted_model_dir()
        } else {
            real_model_dir()
        }
    }

    pub fn write(&self, name: &str, content: &str) {
        let path = self.root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.root.join(name)).unwrap()
    }

    pub fn commit_all(&self, message: &str) {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", message]);
    }

    /// Points `cmd` at this repository with the test's HOME, models (or script) and git
    /// identity.
    pub fn env(&self, cmd: &mut Command) {
        // The directory of the codey under test comes first on PATH, for hooks that call it.
        let bin = Path::new(env!("CARGO_BIN_EXE_codey")).parent().unwrap();
        let path = std::env::join_paths(std::iter::once(bin.to_owned()).chain(
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()),
        ))
        .unwrap();
        cmd.current_dir(&self.root)
            .env("PATH", path)
            .env("PRE_COMMIT_HOME", self.home.join(".cache/pre-commit"))
            .env("HOME", &self.home)
            .env("XDG_CONFIG_HOME", self.home.join(".config"))
            .env("XDG_DATA_HOME", self.home.join(".local/share"))
            .env("XDG_CACHE_HOME", self.home.join(".cache"))
            .env("CODEY_MODEL_DIR", self.model_dir())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env_remove("CODEY_CRASH_AT")
            .env_remove("RUST_LOG");
        if self.scripted.get() {
            cmd.env("CODEY_SCRIPT", self.script_path());
        } else {
            cmd.env_remove("CODEY_SCRIPT");
        }
    }

    /// Runs `cmd`: real models one process at a time, scripted ones in parallel.
    pub fn run(&self, cmd: Command) -> Run {
        if self.scripted.get() {
            run_parallel(cmd)
        } else {
            run_exclusive(cmd)
        }
    }

    /// Runs git, asserting success; returns stdout.
    pub fn git(&self, args: &[&str]) -> String {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        let out = cmd.args(args).output().unwrap();
        assert!(
            out.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs git, returning the whole output whatever the exit status; on real models it holds
    /// the model lock, since git may run codey as a hook.
    pub fn git_run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        cmd.args(args);
        self.run(cmd)
    }

    /// `git status --porcelain` including untracked files.
    pub fn status(&self) -> String {
        self.git(&["status", "--porcelain", "--untracked-files=all"])
    }

    /// Runs codey with `args`.
    pub fn codey(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_codey"));
        self.env(&mut cmd);
        cmd.args(args).arg("--no-progress");
        self.run(cmd)
    }

    /// Runs `codey edit INSTRUCTION --config CONFIG` followed by `args`.
    pub fn edit_with_config(&self, instruction: &str, config: &Path, args: &[&str]) -> Run {
        let mut all = vec!["edit", instruction, "--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        self.codey(&all)
    }

    /// Runs codey without the `--no-progress` flag (for commands that do not take it).
    pub fn codey_plain(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_codey"));
        self.env(&mut cmd);
        cmd.args(args);
        self.run(cmd)
    }

    /// Writes a config file in the repo's HOME and returns its path.
    pub fn config(&self, json: &serde_json::Value) -> PathBuf {
        let path = self.home.join("codey.json");
        std::fs::write(&path, serde_json::to_string_pretty(json).unwrap()).unwrap();
        path
    }

    /// Checks `patch` with the real `git apply --check`, then applies it.
    pub fn apply(&self, patch: &str) {
        let file = self.home.join("out.patch");
        std::fs::write(&file, patch).unwrap();
        self.git(&["apply", "--check", file.to_str().unwrap()]);
        self.git(&["apply", file.to_str().unwrap()]);
    }
}

/// One codey process at a time: each already uses every core, and llama.cpp's spinning OpenMP
/// threads slow down many times over when two processes share the cores.
pub fn run_exclusive(cmd: Command) -> Run {
    static MODELS: Mutex<()> = Mutex::new(());
    let _guard = MODELS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    run_parallel(cmd)
}

/// Runs `cmd` without the model lock (scripted models, git alone).
pub fn run_parallel(mut cmd: Command) -> Run {
    Run(cmd.output().unwrap())
}

/// A finished codey run.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.0.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout(),
                self.stderr()
            )
        })
    }
    /// Asserts the exit code, showing stdout and stderr when it differs.
    pub fn expect(self, code: i32) -> Self {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// The JSON report of file `path` in the first report of a `--format json` run.
pub fn file_report(json: &serde_json::Value, path: &str) -> serde_json::Value {
    json["reports"][0]["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no reports[0].files in {json:#}"))
        .iter()
        .find(|f| f["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {json:#}"))
        .clone()
}

/// The kinds of failure that come from what a model wrote: its answer did not parse, apply, pass
/// the syntax gate, or was cut off. On real models any file an editor answered may end in one
/// of these (greedy output differs across CPUs, thread counts and batching); none of them is
/// the machinery failing, unlike `generation-error`, `model-unavailable` or `internal`.
pub const ANSWER_KINDS: [&str; 9] = [
    "search-not-found",
    "search-ambiguous",
    "malformed-answer",
    "empty-answer",
    "whole-file-not-allowed",
    "looping-answer",
    "cut-off",
    "partial-answer",
    "syntax-error",
];

/// Asserts that `file` (one entry of a JSON report's `files`) went to an editor and ended as
/// any answer of a real model may leave it: changed, unchanged, or failed with a kind of
/// [`ANSWER_KINDS`] and a reason. Returns the outcome.
pub fn assert_answer_outcome(file: &serde_json::Value) -> String {
    assert_answer_outcome_with(file, &[])
}

/// [`assert_answer_outcome`], also accepting the failure kinds `extra` (`verify-failed` under
/// `--verify`, where the verdict on an edit is a command's).
pub fn assert_answer_outcome_with(file: &serde_json::Value, extra: &[&str]) -> String {
    let outcome = file["outcome"]
        .as_str()
        .unwrap_or_else(|| panic!("no outcome in {file:#}"));
    match outcome {
        "changed" | "unchanged" => {}
        "failed" => {
            let kind = file["kind"].as_str().unwrap_or_default();
            assert!(
                ANSWER_KINDS.contains(&kind) || extra.contains(&kind),
                "failed for another reason than the answer: {file:#}"
            );
            let reason = file["reason"].as_str().unwrap_or_default();
            assert!(!reason.trim().is_empty(), "no reason given: {file:#}");
        }
        other => panic!("{other}: the file never got an answer: {file:#}"),
    }
    outcome.to_owned()
}

/// The files a patch changes, in its order (the `b/` side of each `diff --git` line; the paths
/// of these tests need no quoting).
pub fn patch_paths(patch: &str) -> Vec<String> {
    patch
        .lines()
        .filter_map(|l| l.strip_prefix("diff --git a/"))
        .filter_map(|rest| rest.rsplit_once(" b/"))
        .map(|(_, b)| b.to_owned())
        .collect()
}

/// Asserts that the verdicts of a `--format json` run of one instruction agree with each other,
/// whatever the models wrote: every file was skipped (by the scope and due checks, which do not
/// depend on a model) or ended as [`assert_answer_outcome_with`] allows; the patch holds
/// exactly the changed files, in path order; and the exit code and `exit_status` follow from
/// the outcomes: 2 when a file failed, was refused or its edit flagged, else 1 in check mode
/// with a non-empty patch, else 0. Returns each file's path and outcome.
pub fn assert_outcomes_agree(
    run: &Run,
    json: &serde_json::Value,
    check: bool,
    extra: &[&str],
) -> Vec<(String, String)> {
    let reports = json["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1, "one instruction: {json:#}");
    let files = reports[0]["files"].as_array().unwrap();
    let patch = json["patch"].as_str().unwrap();
    let in_patch = patch_paths(patch);
    // Files in path order, whatever finished first (files in flight side by side on a server).
    assert!(in_patch.is_sorted(), "not in path order:\n{patch}");
    let mut outcomes = Vec::new();
    let mut failed = false;
    for file in files {
        let path = file["path"].as_str().unwrap().to_owned();
        let outcome = if file["outcome"] == "skipped" {
            "skipped".to_owned()
        } else {
            assert_answer_outcome_with(file, extra)
        };
        assert_eq!(
            outcome == "changed",
            in_patch.contains(&path),
            "{path} is in the patch exactly when it changed: {file:#}\n{patch}"
        );
        let flagged = file["flags"].as_array().is_some_and(|f| !f.is_empty());
        failed |= outcome == "failed" || flagged;
        outcomes.push((path, outcome));
    }
    for path in &in_patch {
        assert!(
            outcomes.iter().any(|(p, _)| p == path),
            "{path} is in the patch but not in the report: {json:#}"
        );
    }
    failed |= json["written"]["refused"]
        .as_array()
        .is_some_and(|r| !r.is_empty());
    let (code, status) = if failed {
        (2, "failed")
    } else if check && !patch.is_empty() {
        (1, "edits-due")
    } else {
        (0, "clean")
    };
    assert_eq!(run.code(), code, "{json:#}\nstderr:\n{}", run.stderr());
    assert_eq!(json["exit_status"], status, "{json:#}");
    outcomes
}

/// The default config with a different budget and per-role changes, as JSON.
pub fn config_json(budget_mb: u64, models: &Path) -> serde_json::Value {
    serde_json::json!({
        "models": {
            "router": {"path": "SmolLM2-135M-Instruct.Q4_1.gguf", "context_size": 2048, "always_resident": true},
            "coder": {"path": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "context_size": 2048},
            "algorithm": {"path": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "context_size": 2048}
        },
        "memory_budget_mb": budget_mb,
        "model_dir": models,
    })
}

/// A script answering each `(when, answer)` pair: the first whose `when` occurs in a file's
/// prompt gives the answer; any other file gets `NO_CHANGE`.
pub fn answers(pairs: &[(&str, &str)]) -> serde_json::Value {
    let answers: Vec<serde_json::Value> = pairs
        .iter()
        .map(|(when, answer)| serde_json::json!({"when": when, "answer": answer}))
        .collect();
    serde_json::json!({ "answers": answers })
}

/// The needle that picks out the prompt of the file at `path`.
pub fn file_prompt(path: &str) -> String {
    format!("File: {path}\n")
}

/// An answer of SEARCH/REPLACE blocks; each text is whole lines ending in `\n`.
pub fn blocks(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(search, replace)| {
            format!("<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n")
        })
        .collect()
}

/// A rename the coder model does reliably, on files small enough to be quick.
pub const RENAME: &str = "rename the function `old_name` to `new_name`";

/// A small file defining and calling `old_name`.
pub fn small(name: &str) -> (String, String) {
    (
        name.to_owned(),
        format!(
            "def old_name():\n    return {:?}\n\n\nprint(old_name())\n",
            name
        ),
    )
}

/// A repository of [`small`] files named `names`, committed.
pub fn small_files(names: &[&str]) -> TestRepo {
    let files: Vec<(String, String)> = names.iter().map(|n| small(n)).collect();
    TestRepo::with_owned_files(&files)
}

/// `text` with the rename done, as [`rename_script`] does it.
pub fn renamed(text: &str) -> String {
    text.replace("def old_name():", "def new_name():")
        .replace("print(old_name())", "print(new_name())")
}

/// The scripted rename: in any file that defines `old_name`, two blocks rename its definition
/// and its call; every other file gets `NO_CHANGE`.
pub fn rename_script() -> serde_json::Value {
    answers(&[(
        "def old_name():",
        &blocks(&[
            ("def old_name():\n", "def new_name():\n"),
            ("print(old_name())\n", "print(new_name())\n"),
        ]),
    )])
}

/// The header of a GGUF file for a tiny llama architecture that announces `tensors` tensors,
/// without their descriptions.
pub fn gguf_header(tensors: u64) -> Vec<u8> {
    const TYPE_UINT32: u32 = 4;
    const TYPE_STRING: u32 = 8;
    let mut out = b"GGUF".to_vec();
    out.extend_from_slice(&3u32.to_le_bytes()); // version
    out.extend_from_slice(&tensors.to_le_bytes());
    out.extend_from_slice(&4u64.to_le_bytes()); // key-value pairs
    gguf_string(&mut out, "general.architecture");
    out.extend_from_slice(&TYPE_STRING.to_le_bytes());
    gguf_string(&mut out, "llama");
    for (key, value) in [
        ("llama.embedding_length", 64u32),
        ("llama.attention.head_count", 4),
        ("llama.block_count", 1),
    ] {
        gguf_string(&mut out, key);
        out.extend_from_slice(&TYPE_UINT32.to_le_bytes());
        out.extend_from_slice(&value.to_le_bytes());
    }
    out
}

fn gguf_string(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// A GGUF file whose header parses (a llama architecture and one 4 MiB F32 tensor) but that
/// holds only the first KiB of the tensor data: what a download cut off inside the weights
/// looks like.
pub fn gguf_cut_off_in_weights() -> Vec<u8> {
    let mut out = gguf_header(1);
    gguf_string(&mut out, "weights");
    out.extend_from_slice(&2u32.to_le_bytes()); // dimensions
    out.extend_from_slice(&1024u64.to_le_bytes());
    out.extend_from_slice(&1024u64.to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes()); // F32
    out.extend_from_slice(&0u64.to_le_bytes()); // offset in the data section
                                                // The data section starts at the next multiple of the default alignment (32); the file
                                                // ends 1 KiB into the tensor's 4 MiB.
    out.resize(out.len().next_multiple_of(32) + 1024, 0);
    out
}

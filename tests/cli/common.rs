//! The test environment: a temporary HOME and repository, a fixed git identity and clock, and
//! helpers to run `codey` and `git` in it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Mutex;

use tempfile::TempDir;

/// Where the real default models are: $CODEY_MODEL_DIR, else the fetch script's default.
pub fn model_dir() -> PathBuf {
    let dir = std::env::var_os("CODEY_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            let data = std::env::var_os("XDG_DATA_HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".local/share")
                });
            data.join("codey/models")
        });
    for file in [
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    ] {
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
    models: PathBuf,
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
            models: model_dir(),
        };
        repo.git(&["init", "-q", "-b", "main"]);
        repo
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

    /// Points `cmd` at this repository with the test's HOME, models and git identity.
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
            .env("CODEY_MODEL_DIR", &self.models)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .env_remove("RUST_LOG");
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

    /// Runs git, returning the whole output whatever the exit status; holds the model lock,
    /// since git may run codey as a hook.
    pub fn git_run(&self, args: &[&str]) -> Run {
        let mut cmd = Command::new("git");
        self.env(&mut cmd);
        cmd.args(args);
        run_exclusive(cmd)
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
        run_exclusive(cmd)
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
        run_exclusive(cmd)
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
pub fn run_exclusive(mut cmd: Command) -> Run {
    static MODELS: Mutex<()> = Mutex::new(());
    let _guard = MODELS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
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
    /// Asserts the exit code, showing stderr when it differs.
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

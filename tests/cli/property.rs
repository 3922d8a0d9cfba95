//! A model-based property test of the git side. Random sequences of what a user does (edit a
//! file, stage all or part of it, `chmod +x`, commit through codey's pre-commit hook,
//! `commit -a`, start a branch) are interleaved with codey runs in every output mode (patch,
//! `--write`, `--write --allow-dirty`, `--commit`, `--commit --branch`, the hook's
//! `check --staged --write`), with scripted answers. A small model says what HEAD, the index
//! and the worktree must hold after each step; after every step the real repository must match
//! it byte for byte and mode for mode, HEAD must hold exactly the commits made, codey's exit
//! code must be the one the model predicts, and `git fsck` must be clean.
//!
//! Each file's content is described by a few numbers (see [`Text`]): the user edits its first
//! or last line, codey renames a function in its middle, so a three-way merge of the two never
//! overlaps and the model can say exactly what every merge gives.

use std::path::Path;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::common::{rename_script, TestRepo, RENAME};

const FILES: [&str; 3] = ["a.py", "b.py", "sub/c.py"];

/// A file's content: the user's header and footer versions, and whether `old_name` was renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Text {
    header: u32,
    footer: u32,
    renamed: bool,
}

impl Text {
    fn render(self, path: &str) -> String {
        let name = if self.renamed { "new_name" } else { "old_name" };
        format!(
            "# {path} v{}\n\n\ndef {name}():\n    return 1\n\n\nprint({name}())\n\n\n# end {}\n",
            self.header, self.footer
        )
    }
}

/// One file as HEAD, the index or the worktree holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    text: Text,
    exec: bool,
}

impl Entry {
    fn mode(self) -> u32 {
        if self.exec {
            0o100755
        } else {
            0o100644
        }
    }
}

/// What the repository must hold.
#[derive(Debug, Clone)]
struct Model {
    head: [Entry; 3],
    index: [Entry; 3],
    work: [Entry; 3],
    commits: usize,
    branches: usize,
    edits: u32,
}

#[derive(Debug, Clone, Copy)]
enum Codey {
    Patch,
    Write,
    WriteDirty,
    Commit,
    CommitBranch,
    Hook,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    EditHeader(usize),
    EditFooter(usize),
    /// The user does the rename themselves.
    Rename(usize),
    Chmod(usize),
    Stage(usize),
    /// Stages the header change only (`git add -p` picking one hunk).
    StageHeader(usize),
    /// `git commit` through codey's pre-commit hook.
    Commit,
    /// `git commit -a` through the hook.
    CommitAll,
    NewBranch,
    Run(Codey),
}

fn action() -> impl Strategy<Value = Action> {
    let file = 0..FILES.len();
    let codey = prop_oneof![
        Just(Codey::Patch),
        Just(Codey::Write),
        Just(Codey::WriteDirty),
        Just(Codey::Commit),
        Just(Codey::CommitBranch),
        Just(Codey::Hook),
    ];
    prop_oneof![
        3 => file.clone().prop_map(Action::EditHeader),
        3 => file.clone().prop_map(Action::EditFooter),
        1 => file.clone().prop_map(Action::Rename),
        1 => file.clone().prop_map(Action::Chmod),
        2 => file.clone().prop_map(Action::Stage),
        1 => file.prop_map(Action::StageHeader),
        2 => Just(Action::Commit),
        2 => Just(Action::CommitAll),
        1 => Just(Action::NewBranch),
        6 => codey.prop_map(Action::Run),
    ]
}

impl Model {
    fn new() -> Self {
        let entry = Entry {
            text: Text {
                header: 0,
                footer: 0,
                renamed: false,
            },
            exec: false,
        };
        Model {
            head: [entry; 3],
            index: [entry; 3],
            work: [entry; 3],
            commits: 1,
            branches: 0,
            edits: 0,
        }
    }

    /// No uncommitted content, and no staged mode change: what `--write` and `--commit` take.
    fn clean(&self, i: usize) -> bool {
        self.work[i].text == self.index[i].text && self.index[i] == self.head[i]
    }

    fn due(&self, i: usize) -> bool {
        !self.work[i].text.renamed
    }

    fn staged(&self) -> Vec<usize> {
        (0..FILES.len())
            .filter(|&i| self.index[i] != self.head[i])
            .collect()
    }
}

fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    let exec = std::fs::metadata(path).unwrap().permissions().mode() & 0o111 != 0;
    if exec {
        0o100755
    } else {
        0o100644
    }
}

/// A failed check of the repository against the model.
fn fail(step: usize, what: String) -> TestCaseError {
    TestCaseError::fail(format!("step {step}: {what}"))
}

/// The repository under test, and the model of what it must hold.
struct World {
    repo: TestRepo,
    model: Model,
}

impl World {
    fn new() -> Self {
        let model = Model::new();
        let mut files: Vec<(String, String)> = FILES
            .iter()
            .enumerate()
            .map(|(i, p)| (p.to_string(), model.work[i].text.render(p)))
            .collect();
        let rules = serde_json::json!({"rules": [
            {"name": "rename", "instruction": RENAME, "paths": ["*.py"]}
        ]});
        files.push((".codey.json".into(), rules.to_string()));
        let repo = TestRepo::with_owned_files(&files);
        repo.script(&rename_script());
        repo.codey_plain(&["hook", "install"]).expect(0);
        World { repo, model }
    }

    fn write_work(&self, i: usize) {
        let path = self.repo.root.join(FILES[i]);
        std::fs::write(&path, self.model.work[i].text.render(FILES[i])).unwrap();
    }

    /// Carries out `action` on the repository and the model; returns codey's or git's exit
    /// code and the one the model expects.
    fn step(&mut self, action: Action) -> Option<(i32, i32)> {
        let m = &mut self.model;
        match action {
            Action::EditHeader(i) | Action::EditFooter(i) | Action::Rename(i) => {
                m.edits += 1;
                let text = &mut m.work[i].text;
                match action {
                    Action::EditHeader(_) => text.header = m.edits,
                    Action::EditFooter(_) => text.footer = m.edits,
                    _ => text.renamed = true,
                }
                self.write_work(i);
                None
            }
            Action::Chmod(i) => {
                use std::os::unix::fs::PermissionsExt;
                m.work[i].exec = !m.work[i].exec;
                let mode = if m.work[i].exec { 0o755 } else { 0o644 };
                let path = self.repo.root.join(FILES[i]);
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
                None
            }
            Action::Stage(i) => {
                m.index[i] = m.work[i];
                self.repo.git(&["add", "--", FILES[i]]);
                None
            }
            Action::StageHeader(i) => {
                m.index[i].text.header = m.work[i].text.header;
                let entry = m.index[i];
                self.stage_blob(i, entry);
                None
            }
            Action::Commit => self.commit(false),
            Action::CommitAll => self.commit(true),
            Action::NewBranch => {
                m.branches += 1;
                let name = format!("user-{}", m.branches);
                self.repo.git(&["switch", "-q", "-c", &name]);
                None
            }
            Action::Run(codey) => Some(self.run(codey)),
        }
    }

    /// Puts `entry`'s content into the index for file `i`, as a partial `git add` would.
    fn stage_blob(&self, i: usize, entry: Entry) {
        let repo = git2::Repository::open(&self.repo.root).unwrap();
        let blob = repo.blob(entry.text.render(FILES[i]).as_bytes()).unwrap();
        let info = format!("{:o},{blob},{}", entry.mode(), FILES[i]);
        self.repo.git(&["update-index", "--cacheinfo", &info]);
    }

    /// `git commit` (or `commit -a`) through the hook: the hook edits the staged files that
    /// still need the rename, writes the edits into the worktree and stops the commit.
    fn commit(&mut self, all: bool) -> Option<(i32, i32)> {
        let m = &mut self.model;
        let proposed = if all { m.work } else { m.index };
        let staged: Vec<usize> = (0..FILES.len())
            .filter(|&i| proposed[i] != m.head[i])
            .collect();
        if staged.is_empty() {
            return None;
        }
        let args: &[&str] = if all {
            &["commit", "-q", "-a", "-m", "user"]
        } else {
            &["commit", "-q", "-m", "user"]
        };
        let code = self.repo.git_run(args).code();
        let due: Vec<usize> = staged
            .into_iter()
            .filter(|&i| !proposed[i].text.renamed)
            .collect();
        if due.is_empty() {
            m.head = proposed;
            m.index = proposed;
            m.commits += 1;
            return Some((code, 0));
        }
        for i in due {
            m.work[i].text.renamed = true;
        }
        Some((code, 1))
    }

    fn run(&mut self, codey: Codey) -> (i32, i32) {
        let m = &mut self.model;
        let base = ["edit", RENAME, "--role", "coder"];
        let (extra, expected): (&[&str], i32) = match codey {
            Codey::Patch => (&[], 0),
            Codey::Write | Codey::Commit => {
                let refused = (0..FILES.len()).any(|i| m.due(i) && !m.clean(i));
                let taken: Vec<usize> = (0..FILES.len())
                    .filter(|&i| m.due(i) && m.clean(i))
                    .collect();
                for &i in &taken {
                    m.work[i].text.renamed = true;
                    if matches!(codey, Codey::Commit) {
                        m.index[i].text.renamed = true;
                        m.head[i].text.renamed = true;
                    }
                }
                if matches!(codey, Codey::Commit) && !taken.is_empty() {
                    m.commits += 1;
                }
                let flag: &[&str] = if matches!(codey, Codey::Write) {
                    &["--write"]
                } else {
                    &["--commit"]
                };
                (flag, if refused { 2 } else { 0 })
            }
            Codey::WriteDirty => {
                for i in 0..FILES.len() {
                    m.work[i].text.renamed = true;
                }
                (&["--write", "--allow-dirty"], 0)
            }
            Codey::CommitBranch => (&[], 0),
            Codey::Hook => {
                let due: Vec<usize> = m
                    .staged()
                    .into_iter()
                    .filter(|&i| !m.index[i].text.renamed)
                    .collect();
                for &i in &due {
                    m.work[i].text.renamed = true;
                }
                let code = self.repo.codey(&["check", "--staged", "--write"]).code();
                return (code, i32::from(!due.is_empty()));
            }
        };
        if matches!(codey, Codey::CommitBranch) {
            return self.commit_branch();
        }
        let run = self.repo.codey(&[&base[..], extra].concat());
        if matches!(codey, Codey::Patch) && !run.stdout().is_empty() {
            let check = std::process::Command::new("git")
                .args(["apply", "--check", "-"])
                .current_dir(&self.repo.root)
                .stdin(std::process::Stdio::piped())
                .spawn()
                .and_then(|mut child| {
                    use std::io::Write;
                    child
                        .stdin
                        .take()
                        .unwrap()
                        .write_all(run.stdout().as_bytes())?;
                    child.wait()
                })
                .unwrap();
            assert!(
                check.success(),
                "the patch does not apply:\n{}",
                run.stdout()
            );
        }
        (run.code(), expected)
    }

    /// `--commit --branch`: the new branch holds HEAD plus the rename of the clean files that
    /// need it; HEAD, the index and the worktree do not move.
    fn commit_branch(&mut self) -> (i32, i32) {
        let m = &mut self.model;
        m.branches += 1;
        let name = format!("codey-{}", m.branches);
        let mut expected = m.head;
        let mut refused = false;
        for (i, entry) in expected.iter_mut().enumerate() {
            if m.due(i) && m.clean(i) {
                entry.text.renamed = true;
            } else if m.due(i) {
                refused = true;
            }
        }
        let run = self.repo.codey(&[
            "edit", RENAME, "--role", "coder", "--commit", "--branch", &name,
        ]);
        let repo = git2::Repository::open(&self.repo.root).unwrap();
        let committed = expected != m.head;
        match repo.revparse_single(&name) {
            Ok(obj) => {
                let tree = obj.peel_to_tree().unwrap();
                for (i, path) in FILES.iter().enumerate() {
                    let entry = tree.get_path(Path::new(path)).unwrap();
                    let blob = repo.find_blob(entry.id()).unwrap();
                    assert_eq!(
                        blob.content(),
                        expected[i].text.render(path).as_bytes(),
                        "{name}:{path}"
                    );
                }
                assert!(committed, "{name} created with nothing to commit");
            }
            Err(_) => assert!(!committed, "{name} not created: {}", run.stderr()),
        }
        (run.code(), if refused { 2 } else { 0 })
    }

    /// Compares the repository with the model.
    fn check(&self, step: usize) -> Result<(), TestCaseError> {
        let m = &self.model;
        let repo = git2::Repository::open(&self.repo.root).unwrap();
        let head = repo.head().unwrap().peel_to_commit().unwrap();
        let tree = head.tree().unwrap();
        let index = repo.index().unwrap();
        for (i, path) in FILES.iter().enumerate() {
            let entry = tree.get_path(Path::new(path)).unwrap();
            let blob = repo.find_blob(entry.id()).unwrap();
            let want = (m.head[i].text.render(path), m.head[i].mode());
            let got = (
                String::from_utf8_lossy(blob.content()).into_owned(),
                entry.filemode() as u32,
            );
            if got != want {
                return Err(fail(step, format!("HEAD:{path} is {got:?}, want {want:?}")));
            }
            let staged = index.get_path(Path::new(path), 0).unwrap();
            let blob = repo.find_blob(staged.id).unwrap();
            let want = (m.index[i].text.render(path), m.index[i].mode());
            let got = (
                String::from_utf8_lossy(blob.content()).into_owned(),
                staged.mode,
            );
            if got != want {
                return Err(fail(
                    step,
                    format!("index:{path} is {got:?}, want {want:?}"),
                ));
            }
            let file = self.repo.root.join(path);
            let want = (m.work[i].text.render(path), m.work[i].mode());
            let got = (std::fs::read_to_string(&file).unwrap(), mode_of(&file));
            if got != want {
                return Err(fail(
                    step,
                    format!("worktree {path} is {got:?}, want {want:?}"),
                ));
            }
        }
        let mut walk = repo.revwalk().unwrap();
        walk.push(head.id()).unwrap();
        if walk.count() != m.commits {
            return Err(fail(
                step,
                format!("HEAD does not hold {} commits", m.commits),
            ));
        }
        let leftovers: Vec<String> = self
            .repo
            .status()
            .lines()
            .filter(|l| l.starts_with("??"))
            .map(str::to_owned)
            .collect();
        if !leftovers.is_empty() {
            return Err(fail(step, format!("files left behind: {leftovers:?}")));
        }
        let fsck = self
            .repo
            .git_run(&["fsck", "--no-progress", "--no-dangling"]);
        if fsck.code() != 0 {
            return Err(fail(step, format!("git fsck: {}", fsck.stderr())));
        }
        Ok(())
    }
}

/// Cases to run: `CODEY_GIT_PROPERTY_CASES`, else 300 (about 2,700 steps, 2-3 minutes).
fn cases() -> u32 {
    std::env::var("CODEY_GIT_PROPERTY_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

#[test]
fn no_sequence_of_user_actions_and_codey_runs_loses_work_or_bends_git() {
    let mut runner = TestRunner::new(Config {
        cases: cases(),
        failure_persistence: None,
        ..Config::default()
    });
    let steps = std::sync::atomic::AtomicUsize::new(0);
    let result = runner.run(&prop::collection::vec(action(), 1..20), |actions| {
        let mut world = World::new();
        world.check(0)?;
        for (n, action) in actions.iter().enumerate() {
            steps.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Some((code, expected)) = world.step(*action) {
                if code != expected {
                    return Err(fail(
                        n + 1,
                        format!("{action:?} exited {code}, want {expected}"),
                    ));
                }
            }
            world.check(n + 1)?;
        }
        Ok(())
    });
    eprintln!(
        "git property test: {} cases, {} steps explored",
        cases(),
        steps.into_inner()
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}

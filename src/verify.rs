//! Verification: running the user's check command (`--verify CMD`) on edits before they are
//! emitted, in a scratch tree outside the worktree.
//!
//! Owns materialising the base tree (HEAD's tree, or the index with `--staged`, or the
//! directory's files outside git) into a temporary directory, overlaying edited files on it,
//! and running the command there with a timeout, killing its whole process group when time is
//! up. The user's worktree is never touched. The command comes from the command line or the
//! user's own config, never from the repository (a fork's pull request must not choose what
//! CI runs). Deciding what to do about a failure is the session's job.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::git;

/// How much of the command's output is kept: the end, where test runners put the verdict.
const TAIL_BYTES: usize = 3000;

/// The check to run, and for how long at most.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// A shell command; `{file}` is replaced by the edited file's path (then it runs per file).
    pub command: String,
    pub timeout: Duration,
}

impl Check {
    /// Whether the command runs once per edited file.
    pub fn per_file(&self) -> bool {
        self.command.contains("{file}")
    }
}

/// Why verification could not run at all. Retrying does not help until the cause is fixed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("cannot build the scratch tree for --verify in {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read the base tree for --verify: {0}")]
    Git(#[from] git::GitError),
    #[error("cannot start the verify command `{command}`: {source}")]
    Spawn {
        command: String,
        source: std::io::Error,
    },
}

/// What one run of the command said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub passed: bool,
    /// The end of its output (stdout and stderr together), or why it was stopped.
    pub tail: String,
}

/// A scratch copy of the base tree; edits are laid over it for one run and taken back after.
pub struct Scratch {
    dir: tempfile::TempDir,
    /// Base content of every path an overlay replaced, to restore (None: it did not exist).
    base: Vec<(PathBuf, Option<Vec<u8>>)>,
}

impl Scratch {
    /// The base tree of `root`: HEAD's tree, the index when `staged`, or the files under
    /// `root` (as the scan lists them) outside git.
    pub fn new(root: &Path, staged: bool) -> Result<Scratch, VerifyError> {
        let dir = tempfile::Builder::new()
            .prefix("codey-verify-")
            .tempdir()
            .map_err(|source| VerifyError::Io {
                path: std::env::temp_dir(),
                source,
            })?;
        let scratch = Scratch {
            dir,
            base: Vec::new(),
        };
        match git::discover(root) {
            Some(repo) => {
                for (path, bytes, mode) in git::tree_files(&repo, staged)? {
                    scratch.put(&path, &bytes, mode)?;
                }
            }
            None => {
                let options = crate::scan::ScanOptions::default();
                let files = crate::scan::list(root, &options).unwrap_or_default();
                for file in files {
                    let rel = file.strip_prefix(root).unwrap_or(&file);
                    let bytes = std::fs::read(&file).map_err(|source| VerifyError::Io {
                        path: file.clone(),
                        source,
                    })?;
                    scratch.put(&rel.to_string_lossy(), &bytes, 0o100644)?;
                }
            }
        }
        Ok(scratch)
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn put(&self, rel: &str, bytes: &[u8], mode: u32) -> Result<(), VerifyError> {
        let path = self.dir.path().join(rel);
        let io = |source| VerifyError::Io {
            path: path.clone(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::write(&path, bytes).map_err(io)?;
        #[cfg(unix)]
        if mode == 0o100755 {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
        }
        Ok(())
    }

    /// Runs `check` with `overlays` (path, content) laid over the base, then restores the base.
    /// `file` replaces `{file}` in the command.
    pub fn run(
        &mut self,
        check: &Check,
        overlays: &[(&str, &str)],
        file: Option<&str>,
    ) -> Result<Verdict, VerifyError> {
        for (rel, content) in overlays {
            let path = self.dir.path().join(rel);
            self.base.push((path.clone(), std::fs::read(&path).ok()));
            self.put(rel, content.as_bytes(), 0o100644)?;
        }
        let command = match file {
            Some(f) => check.command.replace("{file}", &shell_quote(f)),
            None => check.command.clone(),
        };
        let verdict = run_command(&command, self.dir.path(), check.timeout);
        for (path, bytes) in std::mem::take(&mut self.base).into_iter().rev() {
            let _ = match bytes {
                Some(b) => std::fs::write(&path, b),
                None => std::fs::remove_file(&path),
            };
        }
        verdict
    }
}

/// A path as one shell word.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Runs `command` with `sh -c` in `dir`, output to a file (a pipe could fill and stall it),
/// killed with its process group at `timeout`.
fn run_command(command: &str, dir: &Path, timeout: Duration) -> Result<Verdict, VerifyError> {
    let log_path = dir.with_extension("log");
    let io = |source| VerifyError::Io {
        path: log_path.clone(),
        source,
    };
    let log = std::fs::File::create(&log_path).map_err(io)?;
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(io)?)
        .stderr(log);
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd.spawn().map_err(|source| VerifyError::Spawn {
        command: command.to_owned(),
        source,
    })?;
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().map_err(io)? {
            break Some(status);
        }
        if started.elapsed() >= timeout {
            kill_group(&mut child);
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut output = Vec::new();
    if let Ok(mut f) = std::fs::File::open(&log_path) {
        let _ = f.read_to_end(&mut output);
    }
    let _ = std::fs::remove_file(&log_path);
    let mut tail = tail_of(&output);
    if status.is_none() {
        tail.push_str(&format!(
            "\n(stopped after {} s, the verify timeout)",
            timeout.as_secs()
        ));
    }
    Ok(Verdict {
        passed: status.is_some_and(|s| s.success()),
        tail,
    })
}

#[cfg(unix)]
fn kill_group(child: &mut std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        // SAFETY: kill(2) on a process group we started has no memory-safety preconditions.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
    let _ = child.wait();
}

#[cfg(not(unix))]
fn kill_group(child: &mut std::process::Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The last `TAIL_BYTES` of the output, from a line start.
fn tail_of(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    if text.len() <= TAIL_BYTES {
        return text.into_owned();
    }
    let mut start = text.len() - TAIL_BYTES;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    let cut = &text[start..];
    let from_line = cut.find('\n').map_or(cut, |i| &cut[i + 1..]);
    format!("…\n{from_line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(command: &str) -> Check {
        Check {
            command: command.to_owned(),
            timeout: Duration::from_secs(20),
        }
    }

    #[test]
    fn overlays_are_checked_in_the_scratch_tree_and_taken_back() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.txt"), "old\n").unwrap();
        let mut scratch = Scratch::new(root.path(), false).unwrap();
        let test = check("grep -q new a.txt");
        assert!(!scratch.run(&test, &[], None).unwrap().passed);
        assert!(
            scratch
                .run(&test, &[("a.txt", "new\n")], None)
                .unwrap()
                .passed
        );
        // Taken back after the run, and the real file never touched.
        assert!(!scratch.run(&test, &[], None).unwrap().passed);
        let per_file = check("cat {file}");
        let v = scratch.run(&per_file, &[], Some("a.txt")).unwrap();
        assert_eq!((v.passed, v.tail.as_str()), (true, "old\n"));
        assert_eq!(
            std::fs::read_to_string(root.path().join("a.txt")).unwrap(),
            "old\n"
        );
    }

    #[test]
    fn a_command_past_its_timeout_is_killed_and_fails() {
        let root = tempfile::tempdir().unwrap();
        let mut scratch = Scratch::new(root.path(), false).unwrap();
        let slow = Check {
            command: "echo started; sleep 30".to_owned(),
            timeout: Duration::from_millis(300),
        };
        let started = Instant::now();
        let v = scratch.run(&slow, &[], None).unwrap();
        assert!(!v.passed);
        assert!(
            v.tail.contains("started") && v.tail.contains("verify timeout"),
            "{}",
            v.tail
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn the_tail_keeps_the_end_of_long_output() {
        let long: String = (0..2000).map(|i| format!("line {i}\n")).collect();
        let tail = tail_of(long.as_bytes());
        assert!(tail.len() <= TAIL_BYTES + 4);
        assert!(tail.ends_with("line 1999\n") && tail.starts_with("…\nline "));
    }
}

//! Output: what happens to a finished report — a patch, files in the worktree, or a commit —
//! and the human summary.
//!
//! Owns atomic file replacement (temp file in the same directory, permissions kept, fsync,
//! rename, and never over a file that changed since it was read), the commit flow on top of
//! `git`, and rendering the per-file summary as text. It returns strings and results; the binary
//! decides where they are printed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::engine::{Outcome, Report};
use crate::git;

/// Where the result goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Print the patch (the default).
    Patch,
    /// Apply the edits to the files.
    Write,
    /// Commit the edits (on the current branch, or a new one).
    Commit,
}

/// What the edited content was read from, which decides what "uncommitted work" means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    /// The files in the worktree.
    Worktree,
    /// The staged content in the index (`--staged`); the worktree may hold more, unstaged.
    Index,
}

/// How `--write` treats files with uncommitted changes.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions {
    pub base: Base,
    /// Write files that differ from HEAD or the index too (`--allow-dirty`).
    pub allow_dirty: bool,
}

/// Where `--commit` puts the commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// On the current branch; the edited files are then updated in the worktree and index.
    CurrentBranch,
    /// On a new branch from HEAD; the worktree, index and current branch stay as they are.
    NewBranch(String),
}

/// One file's final edit, after every rule of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    /// What codey read: the worktree file, or the staged blob under `--staged`.
    pub original: String,
    pub new_content: String,
    pub mode: u32,
    /// Added lines with invisible or bidirectional control characters; such a change is
    /// never written or committed.
    pub flags: Vec<String>,
}

/// What writing did, per file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Written {
    pub files: Vec<String>,
    /// Files that were not written, with the reason.
    pub refused: Vec<(String, String)>,
    pub commit: Option<String>,
    /// The branch the commit went to, when it is not the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

/// Output failures that stop the run. Retrying does not help unless the repository changes.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    #[error(transparent)]
    Git(#[from] git::GitError),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The final change of every edited file over `reports`, which ran in order, each on the
/// previous one's output: a file's original is what the first report read, its new content
/// what the last report that changed it made. Sorted by path.
pub fn changes(reports: &[Report]) -> Vec<Change> {
    let mut by_path: BTreeMap<&str, Change> = BTreeMap::new();
    for report in reports {
        for f in &report.files {
            let Outcome::Changed {
                new_content, flags, ..
            } = &f.outcome
            else {
                continue;
            };
            let change = by_path.entry(&f.path).or_insert_with(|| Change {
                path: f.path.clone(),
                original: f.original.clone(),
                new_content: String::new(),
                mode: f.mode,
                flags: Vec::new(),
            });
            change.new_content.clone_from(new_content);
            change.flags.extend(flags.iter().cloned());
        }
    }
    // Two rules may cancel out; what is left unchanged is no change.
    by_path
        .into_values()
        .filter(|c| c.new_content != c.original)
        .collect()
}

/// The whole patch of a set of changes, files in path order.
pub fn patch(changes: &[Change]) -> String {
    let diffs: Vec<_> = changes
        .iter()
        .filter_map(|c| crate::diff::unified_diff(&c.path, &c.original, &c.new_content, c.mode))
        .collect();
    crate::diff::join_patch(&diffs)
}

/// Replaces `path` with `content` atomically, unless it no longer holds `expected`.
///
/// The new content is written and synced in a file of its own beside the target (same
/// filesystem, so the rename is atomic) with the target's permissions, then renamed over it: a
/// crash at any point leaves either the old file or the new one. On Linux that file is
/// anonymous (`O_TMPFILE`) until it is complete, so a crash leaves no trace of it; it gets a
/// name only for the instant between `linkat` and `rename`, and a run that finds such a
/// leftover removes it.
pub fn replace_file(path: &Path, expected: &str, content: &str) -> Result<(), String> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("cannot re-read: {e}"))?;
    if !meta.file_type().is_file() {
        return Err("is no longer a regular file; not overwritten".to_owned());
    }
    let current = std::fs::read(path).map_err(|e| format!("cannot re-read: {e}"))?;
    if current != expected.as_bytes() {
        return Err("changed on disk since codey read it; not overwritten".to_owned());
    }
    let tmp = temp_path(path);
    let result = write_then_rename(path, &tmp, content, meta.permissions());
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("write failed: {e}"))
}

/// The name the new content has just before it is renamed over the target: hidden, beside
/// it, marked so that a leftover from a killed run is recognisable.
fn temp_path(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    dir.join(format!(".{name}{TEMP_MARK}{}.tmp", std::process::id()))
}

/// Part of every temporary file's name.
const TEMP_MARK: &str = ".codey-";

/// Removes temporary files that a killed run left beside `path`. Only files whose name has
/// codey's mark, for this very target, and whose process is gone are removed.
pub fn clean_stale_temp(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return;
    };
    let prefix = format!(".{}{TEMP_MARK}", name.to_string_lossy());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(pid) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|rest| rest.strip_suffix(".tmp"))
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if !process_alive(pid) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(target_os = "linux")]
fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
fn process_alive(pid: u32) -> bool {
    // Without /proc, only other processes' files are taken as stale.
    pid == std::process::id()
}

fn write_then_rename(
    path: &Path,
    tmp: &Path,
    content: &str,
    permissions: std::fs::Permissions,
) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let anonymous = open_anonymous(dir);
    let mut file = match &anonymous {
        Ok(file) => file.try_clone()?,
        // Filesystems without O_TMPFILE get a named file from the start.
        Err(_) => std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(tmp)?,
    };
    crash_point("temp file created");
    file.write_all(content.as_bytes())?;
    crash_point("temp file written");
    file.set_permissions(permissions)?;
    file.sync_all()?;
    crash_point("temp file synced");
    if let Ok(anonymous) = &anonymous {
        link_anonymous(anonymous, tmp)?;
        crash_point("temp file linked");
    }
    drop(file);
    std::fs::rename(tmp, path)?;
    crash_point("renamed");
    // The rename is durable only once the directory entry is on disk.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// An unnamed file in `dir` (Linux `O_TMPFILE`): it disappears with the process unless linked.
#[cfg(target_os = "linux")]
fn open_anonymous(dir: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_TMPFILE)
        .mode(0o600)
        .open(dir)
}

#[cfg(not(target_os = "linux"))]
fn open_anonymous(_dir: &Path) -> std::io::Result<std::fs::File> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Gives an `O_TMPFILE` file the name `at`, through its /proc/self/fd link (which, unlike
/// `AT_EMPTY_PATH`, needs no privilege).
#[cfg(target_os = "linux")]
fn link_anonymous(file: &std::fs::File, at: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::AsRawFd;
    let from = CString::new(format!("/proc/self/fd/{}", file.as_raw_fd()))?;
    let to = CString::new(at.as_os_str().as_bytes())?;
    // SAFETY: both paths are NUL-terminated C strings that outlive the call.
    let rc = unsafe {
        libc::linkat(
            libc::AT_FDCWD,
            from.as_ptr(),
            libc::AT_FDCWD,
            to.as_ptr(),
            libc::AT_SYMLINK_FOLLOW,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn link_anonymous(_file: &std::fs::File, _at: &Path) -> std::io::Result<()> {
    Err(std::io::ErrorKind::Unsupported.into())
}

/// Why a path may not be written, whatever its content: inside `.git`, through a symlink, or
/// inside a submodule or nested repository (whose files belong to another repository).
fn unsafe_path(root: &Path, rel: &str) -> Option<String> {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts
        .iter()
        .any(|p| *p == ".git" || *p == ".." || p.is_empty())
    {
        return Some("is inside .git or not a plain repository path; never written".to_owned());
    }
    let mut at = root.to_owned();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let meta = match std::fs::symlink_metadata(&at) {
            Ok(meta) => meta,
            Err(e) => return Some(format!("cannot inspect {}: {e}", at.display())),
        };
        if meta.file_type().is_symlink() {
            return Some("is or lies under a symbolic link; never written".to_owned());
        }
        let is_dir_below_root = i + 1 < parts.len();
        if is_dir_below_root && at.join(".git").exists() {
            return Some(format!(
                "lies inside a submodule or nested repository ({}); never written",
                parts[..=i].join("/")
            ));
        }
    }
    None
}

/// Why a change may not be written or committed at all, if it may not.
fn refusal(root: &Path, change: &Change) -> Option<String> {
    if !change.flags.is_empty() {
        return Some(format!(
            "added lines hold invisible or bidirectional control characters ({}); review the \
             patch, nothing written",
            change.flags.join("; ")
        ));
    }
    unsafe_path(root, &change.path)
}

/// Writes every change into the worktree; a file that cannot be written is refused and the
/// rest go on. Files with uncommitted changes are refused unless `allow_dirty`: codey's edit
/// would be tangled with work that git cannot give back. Under `--staged` the staged content
/// is what was edited, and unstaged work in the file is kept by a three-way merge.
pub fn write_worktree(root: &Path, changes: &[Change], options: WriteOptions) -> Written {
    let repo = git::discover(root);
    let mut written = Written::default();
    for change in changes {
        let path = root.join(&change.path);
        clean_stale_temp(&path);
        let result = match refusal(root, change) {
            Some(reason) => Err(reason),
            None => match (options.base, &repo) {
                (Base::Index, Some(repo)) => write_staged(repo, &path, change),
                (Base::Index, None) => Err("--staged needs a git repository".to_owned()),
                (Base::Worktree, Some(repo)) if !options.allow_dirty => {
                    match git::is_clean(repo, &change.path, &change.original) {
                        Ok(true) => replace_file(&path, &change.original, &change.new_content),
                        Ok(false) => Err("has uncommitted changes (or is untracked); commit or \
                                          stash them first, or pass --allow-dirty"
                            .to_owned()),
                        Err(e) => Err(e.to_string()),
                    }
                }
                (Base::Worktree, _) => replace_file(&path, &change.original, &change.new_content),
            },
        };
        match result {
            Ok(()) => written.files.push(change.path.clone()),
            Err(reason) => written.refused.push((change.path.clone(), reason)),
        }
    }
    written
}

/// Writes an edit of the staged content into the worktree. When the worktree file holds more
/// than the index (a partly staged file), the edit is merged into it three ways, so the
/// unstaged part survives; where the two overlap nothing is written.
fn write_staged(repo: &git2::Repository, path: &Path, change: &Change) -> Result<(), String> {
    let worktree = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    if worktree == change.original.as_bytes() {
        return replace_file(path, &change.original, &change.new_content);
    }
    let worktree = String::from_utf8(worktree)
        .map_err(|_| "the worktree file is not UTF-8; nothing written".to_owned())?;
    let merged = git::merge3(repo, &change.original, &worktree, &change.new_content)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| {
            "unstaged changes in the worktree overlap the edit; nothing written (the patch \
             shows the edit of the staged content)"
                .to_owned()
        })?;
    replace_file(path, &worktree, &merged)
}

/// Commits the changes, on the current branch or a new one. Files with uncommitted changes
/// are refused (their edit would mix in the user's work). On the current branch the committed
/// files are then updated in the worktree and index, so `git status` shows what it showed
/// before; on a new branch nothing of the worktree, index or current branch changes.
pub fn commit(
    root: &Path,
    changes: &[Change],
    message: &str,
    target: &Target,
) -> Result<Written, OutputError> {
    let repo = git::discover(root).ok_or_else(|| git::GitError::NotARepo(root.to_owned()))?;
    let mut written = Written::default();
    let mut accepted = Vec::new();
    for change in changes {
        if let Some(reason) = refusal(root, change) {
            written.refused.push((change.path.clone(), reason));
        } else if git::is_clean(&repo, &change.path, &change.original)? {
            accepted.push(git::Change {
                path: &change.path,
                original: &change.original,
                new_content: &change.new_content,
            });
        } else {
            written.refused.push((
                change.path.clone(),
                "has uncommitted changes (or is untracked); commit or stash them first".to_owned(),
            ));
        }
    }
    if accepted.is_empty() {
        return Ok(written);
    }
    let branch = match target {
        Target::CurrentBranch => None,
        Target::NewBranch(name) => Some(name.as_str()),
    };
    let oid = git::commit(&repo, &accepted, message, branch)?;
    written.commit = Some(oid.to_string());
    if let Some(name) = branch {
        written.branch = Some(name.to_owned());
        written.files = accepted.iter().map(|c| c.path.to_owned()).collect();
        return Ok(written);
    }
    sync_worktree(&repo, root, &accepted, &mut written);
    Ok(written)
}

/// After a commit on the current branch: brings the committed files up to date in the
/// worktree, then in the user's index.
fn sync_worktree(
    repo: &git2::Repository,
    root: &Path,
    accepted: &[git::Change<'_>],
    written: &mut Written,
) {
    let mut staged = Vec::new();
    for change in accepted {
        // The commit is safe already; a worktree file that cannot be updated only leaves it
        // showing as modified against the new HEAD.
        let path = root.join(change.path);
        clean_stale_temp(&path);
        match replace_file(&path, change.original, change.new_content) {
            Ok(()) => {
                written.files.push(change.path.to_owned());
                staged.push(change.path);
            }
            Err(reason) => written.refused.push((
                change.path.to_owned(),
                format!("committed, but worktree not updated: {reason}"),
            )),
        }
    }
    if let Err(e) = git::stage(repo, &staged) {
        // The commit and the files are in place; only the index lags behind.
        written.refused.push((
            staged.join(", "),
            format!(
                "committed, but the index was not updated ({e}): run `git reset -q` to refresh it"
            ),
        ));
    }
}

/// Test hook for crash-safety tests: with `CODEY_CRASH_AT=N` in the environment, the process
/// kills itself with SIGKILL at the N-th crash point it reaches, exactly as an outside `kill -9`
/// would at that moment. Unset (always, outside those tests) it costs one relaxed atomic add.
pub fn crash_point(name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::OnceLock;
    static TARGET: OnceLock<Option<usize>> = OnceLock::new();
    static REACHED: AtomicUsize = AtomicUsize::new(0);
    let Some(target) = *TARGET.get_or_init(|| {
        std::env::var("CODEY_CRASH_AT")
            .ok()
            .and_then(|v| v.parse().ok())
    }) else {
        return;
    };
    let n = REACHED.fetch_add(1, Ordering::Relaxed) + 1;
    if n == target {
        tracing::debug!(point = name, n, "crash point: killing the process");
        kill_self();
    }
}

#[cfg(unix)]
fn kill_self() {
    // SAFETY: kill(2) on our own pid has no memory-safety preconditions.
    unsafe {
        libc::kill(libc::getpid(), libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill_self() {
    std::process::abort();
}

/// The commit message for the instructions carried out (each with its rule's name, if any):
/// a short subject and every instruction in full.
pub fn commit_message(instructions: &[(Option<&str>, &str)]) -> String {
    let subject = match instructions {
        [(_, instruction)] => {
            let first = instruction.lines().next().unwrap_or_default();
            let short: String = first.chars().take(60).collect();
            let ellipsis = if short.len() < first.len() { "…" } else { "" };
            format!("{short}{ellipsis}")
        }
        many => {
            let names: Vec<&str> = many.iter().filter_map(|(name, _)| *name).collect();
            format!("apply rules {}", names.join(", "))
        }
    };
    let mut message = format!("codey: {subject}\n\n");
    for (name, instruction) in instructions {
        match name {
            Some(name) => message.push_str(&format!("Rule {name}: {instruction}\n")),
            None => message.push_str(&format!("Instruction: {instruction}\n")),
        }
    }
    message
}

/// The human summary: one line per file (per rule when there are several), the counts, then
/// the models' story.
pub fn summary(reports: &[Report]) -> String {
    let mut out = String::new();
    for report in reports {
        if let Some(rule) = &report.rule {
            out.push_str(&format!("rule {rule}: {}\n", report.instruction));
        }
        file_lines(&mut out, report);
    }
    let count = |label: &str| reports.iter().map(|r| r.count(label)).sum::<usize>();
    out.push_str(&format!(
        "{} changed, {} unchanged, {} skipped, {} failed\n",
        count("changed"),
        count("unchanged"),
        count("skipped"),
        count("failed")
    ));
    // Stats are cumulative over the run: the last report holds them all.
    if let Some(last) = reports.last() {
        model_lines(&mut out, last);
    }
    for warning in reports.iter().flat_map(|r| &r.warnings) {
        out.push_str(&format!("warning: {warning}\n"));
    }
    if let Some(peak) = reports.last().and_then(|r| r.models.peak_rss_mb) {
        out.push_str(&format!("peak RSS {peak} MB\n"));
    }
    out
}

fn file_lines(out: &mut String, report: &Report) {
    for f in &report.files {
        let role = f.role.map_or("-", |r| r.name());
        let detail = match &f.outcome {
            Outcome::Changed { added, removed, .. } if f.repeated_blocks > 0 => format!(
                "+{added} -{removed} (the model looped: {} repeated block(s) dropped)",
                f.repeated_blocks
            ),
            Outcome::Changed { added, removed, .. } => format!("+{added} -{removed}"),
            Outcome::Unchanged { reason }
            | Outcome::Skipped { reason }
            | Outcome::Failed { reason } => reason.clone(),
        };
        let tokens = if f.generated_tokens > 0 {
            let rate = |tokens: usize, secs: f64| tokens as f64 / secs.max(1e-9);
            format!(
                " [{} prompt tokens at {:.0}/s, {} generated at {:.1}/s, {:.1}s]",
                f.prompt_tokens,
                rate(f.prompt_tokens, f.prompt_seconds),
                f.generated_tokens,
                rate(f.generated_tokens, f.generate_seconds),
                f.seconds
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{:<9} {:<9} {}: {detail}{tokens}\n",
            f.outcome.label(),
            role,
            f.path
        ));
    }
}

fn model_lines(out: &mut String, report: &Report) {
    for (role, s) in &report.models.roles {
        let measured = s.measured_mb.map_or("?".to_owned(), |m| m.to_string());
        out.push_str(&format!(
            "model {role}: {} load(s), {} unload(s) ({} evicted, {} idle), {} request(s), estimated {} MB, measured {measured} MB, load {:.2}s\n",
            s.loads, s.unloads, s.evictions, s.idle_unloads, s.requests, s.estimated_mb, s.load_seconds
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_file_refuses_a_file_changed_since_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "user edit\n").unwrap();
        let err = replace_file(&path, "original\n", "codey\n").unwrap_err();
        assert!(err.contains("changed on disk"), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "user edit\n");
    }

    #[cfg(unix)]
    #[test]
    fn replace_file_keeps_mode_and_leaves_no_temp_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.sh");
        std::fs::write(&path, "echo a\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        replace_file(&path, "echo a\n", "echo b\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "echo b\n");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o755
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    fn change(path: &str, original: &str, new: &str) -> Change {
        Change {
            path: path.to_owned(),
            original: original.to_owned(),
            new_content: new.to_owned(),
            mode: 0o100644,
            flags: Vec::new(),
        }
    }

    #[cfg(unix)]
    #[test]
    fn unsafe_paths_are_refused_whatever_their_content() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::write(root.join("real/a.py"), "x\n").unwrap();
        std::os::unix::fs::symlink("real", root.join("linked")).unwrap();
        std::os::unix::fs::symlink("real/a.py", root.join("file_link.py")).unwrap();
        std::fs::create_dir_all(root.join("sub/.git")).unwrap();
        std::fs::write(root.join("sub/b.py"), "y\n").unwrap();
        assert_eq!(unsafe_path(root, "real/a.py"), None);
        for (path, why) in [
            ("linked/a.py", "symbolic link"),
            ("file_link.py", "symbolic link"),
            ("sub/b.py", "submodule"),
            (".git/config", ".git"),
            ("real/../real/a.py", ".git or not a plain"),
        ] {
            let reason = unsafe_path(root, path).unwrap_or_default();
            assert!(reason.contains(why), "{path}: {reason:?}");
        }
        // Outside git, --write still refuses them and writes the rest.
        let written = write_worktree(
            root,
            &[
                change("linked/a.py", "x\n", "z\n"),
                change("real/a.py", "x\n", "new\n"),
            ],
            WriteOptions {
                base: Base::Worktree,
                allow_dirty: false,
            },
        );
        assert_eq!(written.files, vec!["real/a.py"]);
        assert_eq!(written.refused.len(), 1);
        assert_eq!(
            std::fs::read_to_string(root.join("real/a.py")).unwrap(),
            "new\n"
        );
    }

    #[test]
    fn flagged_changes_are_never_written() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.py"), "x\n").unwrap();
        let mut c = change("a.py", "x\n", "x\u{202E}\n");
        c.flags = vec!["line 1: U+202E RIGHT-TO-LEFT OVERRIDE".into()];
        let written = write_worktree(
            dir.path(),
            &[c],
            WriteOptions {
                base: Base::Worktree,
                allow_dirty: true,
            },
        );
        assert!(written.files.is_empty());
        assert!(written.refused[0].1.contains("invisible"), "{written:?}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.py")).unwrap(),
            "x\n"
        );
    }

    #[test]
    fn stale_temp_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.py");
        std::fs::write(&target, "x\n").unwrap();
        // pid 0 never names a live user process; our own pid is alive.
        let stale = dir.path().join(".a.py.codey-0.tmp");
        let live = dir
            .path()
            .join(format!(".a.py.codey-{}.tmp", std::process::id()));
        let other = dir.path().join(".b.py.codey-0.tmp");
        for f in [&stale, &live, &other] {
            std::fs::write(f, "partial").unwrap();
        }
        clean_stale_temp(&target);
        assert!(!stale.exists());
        assert!(live.exists() && other.exists());
    }

    #[test]
    fn changes_chain_rules_and_drop_edits_that_cancel_out() {
        use crate::engine::FileReport;
        let report = |rule: &str, path: &str, original: &str, new: &str| {
            let diff = crate::diff::unified_diff(path, original, new, 0o100644).unwrap();
            let mut f = FileReport::new_for_tests(
                path,
                Outcome::Changed {
                    new_content: new.to_owned(),
                    diff,
                    added: 1,
                    removed: 1,
                    flags: Vec::new(),
                },
            );
            f.original = original.to_owned();
            Report {
                rule: Some(rule.to_owned()),
                instruction: String::new(),
                files: vec![f],
                warnings: Vec::new(),
                models: Default::default(),
            }
        };
        let reports = [
            report("one", "a.py", "a\n", "b\n"),
            report("two", "a.py", "b\n", "c\n"),
            report("one", "z.py", "1\n", "2\n"),
            report("two", "z.py", "2\n", "1\n"),
        ];
        let changes = changes(&reports);
        assert_eq!(changes, vec![change("a.py", "a\n", "c\n")]);
        assert_eq!(
            patch(&changes),
            "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-a\n+c\n"
        );
    }

    #[test]
    fn commit_message_records_the_instruction() {
        let m = commit_message(&[(
            None,
            "add docstrings to every function in the package, please",
        )]);
        assert!(m.starts_with("codey: add docstrings"));
        assert!(m.contains("Instruction: add docstrings to every function in the package, please"));
        let m = commit_message(&[(Some("docs"), "add docstrings"), (Some("perf"), "be fast")]);
        assert!(m.starts_with("codey: apply rules docs, perf\n"), "{m}");
        assert!(m.contains("Rule perf: be fast\n"), "{m}");
    }
}

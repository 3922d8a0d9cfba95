//! Output: what happens to a finished report — a patch, files in the worktree, or a commit —
//! and the human summary.
//!
//! Owns atomic file replacement (temp file in the same directory, permissions kept, fsync,
//! rename, and never over a file that changed since it was read), the commit flow on top of
//! `git`, and rendering the per-file summary as text. It returns strings and results; the binary
//! decides where they are printed.

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
    /// Commit the edits on the current branch.
    Commit,
}

/// What writing did, per file.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Written {
    pub files: Vec<String>,
    /// Files that were not written, with the reason.
    pub refused: Vec<(String, String)>,
    pub commit: Option<String>,
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

/// The whole patch of a report, files in path order.
pub fn patch(report: &Report) -> String {
    crate::diff::join_patch(&report.diffs())
}

/// The changed files of a report: (path, original, new content).
fn changes(report: &Report) -> impl Iterator<Item = (&str, &str, &str)> {
    report.files.iter().filter_map(|f| match &f.outcome {
        Outcome::Changed { new_content, .. } => {
            Some((f.path.as_str(), f.original.as_str(), new_content.as_str()))
        }
        _ => None,
    })
}

/// Replaces `path` with `content` atomically, unless it no longer holds `expected`.
pub fn replace_file(path: &Path, expected: &str, content: &str) -> Result<(), String> {
    let current = std::fs::read(path).map_err(|e| format!("cannot re-read: {e}"))?;
    if current != expected.as_bytes() {
        return Err("changed on disk since codey read it; not overwritten".to_owned());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.codey-{}.tmp", std::process::id()));
    let result = write_then_rename(path, &tmp, content);
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| format!("write failed: {e}"))
}

fn write_then_rename(path: &Path, tmp: &Path, content: &str) -> std::io::Result<()> {
    let permissions = std::fs::metadata(path)?.permissions();
    let mut file = std::fs::File::create(tmp)?;
    file.write_all(content.as_bytes())?;
    file.set_permissions(permissions)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(tmp, path)?;
    // The rename is durable only once the directory entry is on disk.
    if let Some(dir) = path.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Writes every changed file into the worktree; a file that cannot be written is refused and
/// the rest go on.
pub fn write_worktree(root: &Path, report: &Report) -> Written {
    let mut written = Written::default();
    for (path, original, new) in changes(report) {
        match replace_file(&root.join(path), original, new) {
            Ok(()) => written.files.push(path.to_owned()),
            Err(reason) => written.refused.push((path.to_owned(), reason)),
        }
    }
    written
}

/// Commits the changed files on the current branch, then updates them in the worktree and
/// index. Files with uncommitted changes are refused (their edit would mix in the user's work).
pub fn commit(root: &Path, report: &Report, message: &str) -> Result<Written, OutputError> {
    let repo = git::discover(root).ok_or_else(|| git::GitError::NotARepo(root.to_owned()))?;
    let mut written = Written::default();
    let mut accepted = Vec::new();
    for (path, original, new) in changes(report) {
        if git::is_clean(&repo, path, original)? {
            accepted.push(git::Change {
                path,
                original,
                new_content: new,
            });
        } else {
            written.refused.push((
                path.to_owned(),
                "has uncommitted changes; commit or stash them first".to_owned(),
            ));
        }
    }
    if accepted.is_empty() {
        return Ok(written);
    }
    let oid = git::commit(&repo, &accepted, message)?;
    written.commit = Some(oid.to_string());
    let mut staged = Vec::new();
    for change in &accepted {
        // The commit is safe already; a worktree file that cannot be updated only leaves it
        // showing as modified against the new HEAD.
        match replace_file(&root.join(change.path), change.original, change.new_content) {
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
    if let Err(e) = git::stage(&repo, &staged) {
        // The commit and the files are in place; only the index lags behind.
        written.refused.push((
            staged.join(", "),
            format!(
                "committed, but the index was not updated ({e}): run `git reset -q` to refresh it"
            ),
        ));
    }
    Ok(written)
}

/// The commit message for an instruction: a short subject and the full instruction.
pub fn commit_message(instruction: &str) -> String {
    let first = instruction.lines().next().unwrap_or_default();
    let subject: String = first.chars().take(60).collect();
    let ellipsis = if subject.len() < first.len() {
        "…"
    } else {
        ""
    };
    format!("codey: {subject}{ellipsis}\n\nInstruction: {instruction}\n")
}

/// The human summary: one line per file, then the models' story.
pub fn summary(report: &Report) -> String {
    let mut out = String::new();
    for f in &report.files {
        let role = f.role.map_or("-", |r| r.name());
        let detail = match &f.outcome {
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
    out.push_str(&format!(
        "{} changed, {} unchanged, {} skipped, {} failed\n",
        report.count("changed"),
        report.count("unchanged"),
        report.count("skipped"),
        report.count("failed")
    ));
    for (role, s) in &report.models.roles {
        let measured = s.measured_mb.map_or("?".to_owned(), |m| m.to_string());
        out.push_str(&format!(
            "model {role}: {} load(s), {} unload(s) ({} evicted, {} idle), {} request(s), estimated {} MB, measured {measured} MB, load {:.2}s\n",
            s.loads, s.unloads, s.evictions, s.idle_unloads, s.requests, s.estimated_mb, s.load_seconds
        ));
    }
    for warning in &report.warnings {
        out.push_str(&format!("warning: {warning}\n"));
    }
    if let Some(peak) = report.models.peak_rss_mb {
        out.push_str(&format!("peak RSS {peak} MB\n"));
    }
    out
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

    #[test]
    fn commit_message_records_the_instruction() {
        let m = commit_message("add docstrings to every function in the package, please");
        assert!(m.starts_with("codey: add docstrings"));
        assert!(m.contains("Instruction: add docstrings to every function in the package, please"));
    }
}

//! Output: what happens to the run's changes — a patch, files in the worktree, or a commit.
//!
//! Owns the patch of a set of changes, the rules for which files may be written at all (never
//! through a symlink, into `.git`, into a submodule, or with hidden characters added), writing
//! into the worktree (atomically, through `atomic`, and three-way merged with unstaged work under
//! `--staged`) and the commit flow on top of `git`. Every file that is not written gets a typed
//! [`Refusal`]; the rest go on. It never prints: the binary renders what it returns.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::atomic::{clean_stale_temp, replace_file, ReplaceError};
use crate::git;

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

/// Why one file was not written or committed. The rest of the batch goes on; each of these
/// makes the run exit 2. `kind` in the JSON report is the variant's kebab-case name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The edit adds invisible or bidirectional control characters (Trojan Source).
    #[error(
        "added lines hold invisible or bidirectional control characters ({}); review the patch, \
         nothing written",
        .0.join("; ")
    )]
    Flagged(Vec<String>),
    /// Inside `.git`, through a symlink, or inside a submodule or nested repository.
    #[error("{0}; never written")]
    UnsafePath(String),
    /// The file has uncommitted changes or is untracked; retry after committing or stashing.
    #[error("has uncommitted changes (or is untracked); commit or stash them first{0}")]
    Dirty(&'static str),
    /// The file changed on disk while codey worked; run codey again.
    #[error("changed on disk since codey read it; not overwritten")]
    ChangedOnDisk,
    /// Unstaged work in the file overlaps the edit of its staged content (`--staged --write`).
    #[error(
        "unstaged changes in the worktree overlap the edit; nothing written (the patch shows the \
         edit of the staged content)"
    )]
    Overlap,
    /// The worktree file is not UTF-8, so the edit of its staged content cannot be merged in.
    #[error("the worktree file is not UTF-8; nothing written")]
    NotUtf8,
    /// `--staged` outside a git repository.
    #[error("--staged needs a git repository")]
    NoRepository,
    /// Reading or writing the file failed.
    #[error("{0}")]
    Io(String),
    /// Git could not tell whether the file is clean, or merge it.
    #[error("{0}")]
    Git(String),
    /// The commit holds the edit, but the worktree file could not be brought up to date.
    #[error(
        "committed, but the worktree file was not updated ({0}); `git diff` shows what it holds \
         against the commit"
    )]
    WorktreeNotUpdated(Box<Refusal>),
    /// The commit and the files are in place, but the user's index lags behind.
    #[error("committed, but the index was not updated ({0}): run `git reset -q` to refresh it")]
    IndexNotUpdated(String),
}

impl Refusal {
    /// The stable name of the variant in the JSON report.
    pub fn kind(&self) -> &'static str {
        match self {
            Refusal::Flagged(_) => "flagged-characters",
            Refusal::UnsafePath(_) => "unsafe-path",
            Refusal::Dirty(_) => "dirty",
            Refusal::ChangedOnDisk => "changed-on-disk",
            Refusal::Overlap => "overlap",
            Refusal::NotUtf8 => "not-utf8",
            Refusal::NoRepository => "no-repository",
            Refusal::Io(_) => "io",
            Refusal::Git(_) => "git",
            Refusal::WorktreeNotUpdated(_) => "worktree-not-updated",
            Refusal::IndexNotUpdated(_) => "index-not-updated",
        }
    }
}

impl From<ReplaceError> for Refusal {
    fn from(e: ReplaceError) -> Self {
        match e {
            ReplaceError::ChangedOnDisk => Refusal::ChangedOnDisk,
            other => Refusal::Io(other.to_string()),
        }
    }
}

/// A file that was not written, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub path: String,
    pub refusal: Refusal,
}

impl Serialize for Refused {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("Refused", 3)?;
        st.serialize_field("path", &self.path)?;
        st.serialize_field("kind", self.refusal.kind())?;
        st.serialize_field("message", &self.refusal.to_string())?;
        st.end()
    }
}

/// What writing did, per file.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Written {
    /// Files written into the worktree.
    pub files: Vec<String>,
    /// Files the commit holds (with `--commit`), whether or not the worktree caught up.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub committed: Vec<String>,
    /// Files that were not written, with the reason.
    pub refused: Vec<Refused>,
    pub commit: Option<String>,
    /// The branch the commit went to, when it is not the current one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
}

impl Written {
    fn refuse(&mut self, path: &str, refusal: Refusal) {
        self.refused.push(Refused {
            path: path.to_owned(),
            refusal,
        });
    }
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

/// The whole patch of a set of changes, files in path order.
pub fn patch(changes: &[Change]) -> String {
    let diffs: Vec<_> = changes
        .iter()
        .filter_map(|c| crate::diff::unified_diff(&c.path, &c.original, &c.new_content, c.mode))
        .collect();
    crate::diff::join_patch(&diffs)
}

/// Why a path may not be written, whatever its content: inside `.git`, through a symlink, or
/// inside a submodule or nested repository (whose files belong to another repository).
fn unsafe_path(root: &Path, rel: &str) -> Option<Refusal> {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts
        .iter()
        .any(|p| *p == ".git" || *p == ".." || p.is_empty())
    {
        return Some(Refusal::UnsafePath(
            "is inside .git or not a plain repository path".to_owned(),
        ));
    }
    let mut at = root.to_owned();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        let meta = match std::fs::symlink_metadata(&at) {
            Ok(meta) => meta,
            Err(e) => return Some(Refusal::Io(format!("cannot inspect {}: {e}", at.display()))),
        };
        if meta.file_type().is_symlink() {
            return Some(Refusal::UnsafePath(
                "is or lies under a symbolic link".to_owned(),
            ));
        }
        let is_dir_below_root = i + 1 < parts.len();
        if is_dir_below_root && at.join(".git").exists() {
            return Some(Refusal::UnsafePath(format!(
                "lies inside a submodule or nested repository ({})",
                parts[..=i].join("/")
            )));
        }
    }
    None
}

/// Why a change may not be written or committed at all, if it may not.
fn refusal(root: &Path, change: &Change) -> Option<Refusal> {
    if !change.flags.is_empty() {
        return Some(Refusal::Flagged(change.flags.clone()));
    }
    unsafe_path(root, &change.path)
}

/// Whether the file is clean against HEAD and the index, as a refusal when it is not.
fn require_clean(
    repo: &git2::Repository,
    change: &Change,
    hint: &'static str,
) -> Result<(), Refusal> {
    match git::is_clean(repo, &change.path, &change.original) {
        Ok(true) => Ok(()),
        Ok(false) => Err(Refusal::Dirty(hint)),
        Err(e) => Err(Refusal::Git(e.to_string())),
    }
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
            None => write_one(repo.as_ref(), &path, change, options),
        };
        match result {
            Ok(()) => written.files.push(change.path.clone()),
            Err(reason) => written.refuse(&change.path, reason),
        }
    }
    written
}

fn write_one(
    repo: Option<&git2::Repository>,
    path: &Path,
    change: &Change,
    options: WriteOptions,
) -> Result<(), Refusal> {
    match (options.base, repo) {
        (Base::Index, Some(repo)) => write_staged(repo, path, change),
        (Base::Index, None) => Err(Refusal::NoRepository),
        (Base::Worktree, Some(repo)) if !options.allow_dirty => {
            require_clean(repo, change, ", or pass --allow-dirty")?;
            Ok(replace_file(path, &change.original, &change.new_content)?)
        }
        (Base::Worktree, _) => Ok(replace_file(path, &change.original, &change.new_content)?),
    }
}

/// Writes an edit of the staged content into the worktree. Staged content is what git stores;
/// the worktree holds it through git's filters (CRLF under `core.autocrlf`), so both sides are
/// compared and written in their worktree form. When the worktree file holds more than the
/// index (a partly staged file), the edit is merged into it three ways, so the unstaged part
/// survives; where the two overlap nothing is written.
fn write_staged(repo: &git2::Repository, path: &Path, change: &Change) -> Result<(), Refusal> {
    let worktree = std::fs::read(path).map_err(|e| Refusal::Io(format!("cannot read: {e}")))?;
    if worktree == change.original.as_bytes() {
        return Ok(replace_file(path, &change.original, &change.new_content)?);
    }
    let form = |text: &str| -> Result<String, Refusal> {
        let bytes = git::worktree_form(repo, &change.path, text.as_bytes())
            .map_err(|e| Refusal::Git(e.to_string()))?;
        String::from_utf8(bytes).map_err(|_| Refusal::NotUtf8)
    };
    let worktree = String::from_utf8(worktree).map_err(|_| Refusal::NotUtf8)?;
    let (base, edited) = (form(&change.original)?, form(&change.new_content)?);
    if worktree == base {
        return Ok(replace_file(path, &worktree, &edited)?);
    }
    let merged = git::merge3(repo, &base, &worktree, &edited)
        .map_err(|e| Refusal::Git(e.to_string()))?
        .ok_or(Refusal::Overlap)?;
    Ok(replace_file(path, &worktree, &merged)?)
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
        let checked = match refusal(root, change) {
            Some(reason) => Err(reason),
            None => require_clean(&repo, change, ""),
        };
        match checked {
            Ok(()) => accepted.push(git::BlobEdit {
                path: &change.path,
                original: &change.original,
                new_content: &change.new_content,
            }),
            Err(reason) => written.refuse(&change.path, reason),
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
    written.committed = accepted.iter().map(|c| c.path.to_owned()).collect();
    if let Some(name) = branch {
        written.branch = Some(name.to_owned());
        return Ok(written);
    }
    sync_worktree(&repo, root, oid, &accepted, &mut written);
    Ok(written)
}

/// After a commit on the current branch: brings the committed files up to date in the
/// worktree, then points the user's index at the committed blobs, so `git status` shows what
/// it showed before. A file the user changed in the instant since the clean check gets codey's
/// edit merged into their change; where the two overlap their change stays, unstaged against
/// the commit, and is reported.
fn sync_worktree(
    repo: &git2::Repository,
    root: &Path,
    commit: git2::Oid,
    accepted: &[git::BlobEdit<'_>],
    written: &mut Written,
) {
    for change in accepted {
        let path = root.join(change.path);
        clean_stale_temp(&path);
        match catch_up(repo, &path, change) {
            Ok(()) => written.files.push(change.path.to_owned()),
            Err(e) => written.refuse(change.path, Refusal::WorktreeNotUpdated(Box::new(e))),
        }
    }
    // The index follows the commit whatever the worktree did: an index left at the old blob
    // would stage the reverse of codey's edit for the user's next commit.
    let paths: Vec<&str> = accepted.iter().map(|c| c.path).collect();
    if let Err(e) = git::stage(repo, commit, &paths) {
        written.refuse(&paths.join(", "), Refusal::IndexNotUpdated(e.to_string()));
    }
}

/// Writes one committed edit into the worktree file, merged with a change made meanwhile.
fn catch_up(
    repo: &git2::Repository,
    path: &Path,
    change: &git::BlobEdit<'_>,
) -> Result<(), Refusal> {
    match replace_file(path, change.original, change.new_content) {
        Err(ReplaceError::ChangedOnDisk) => {}
        other => return Ok(other?),
    }
    let now = std::fs::read(path).map_err(|e| Refusal::Io(format!("cannot read: {e}")))?;
    let now = String::from_utf8(now).map_err(|_| Refusal::NotUtf8)?;
    let merged = git::merge3(repo, change.original, &now, change.new_content)
        .map_err(|e| Refusal::Git(e.to_string()))?
        .ok_or(Refusal::Overlap)?;
    Ok(replace_file(path, &now, &merged)?)
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

#[cfg(test)]
mod tests {
    use super::*;

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
            let reason = unsafe_path(root, path).map(|r| r.to_string());
            assert!(
                reason.as_deref().unwrap_or_default().contains(why),
                "{path}: {reason:?}"
            );
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
        assert_eq!(written.refused[0].refusal.kind(), "flagged-characters");
        assert!(
            written.refused[0].refusal.to_string().contains("invisible"),
            "{written:?}"
        );
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.py")).unwrap(),
            "x\n"
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

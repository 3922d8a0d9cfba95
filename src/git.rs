//! Git: finding the repository, and committing edits without touching the user's other work.
//!
//! A commit is built in memory: a fresh index read from HEAD's tree, the edited files added as
//! new blobs with the modes HEAD had, a tree and a commit written from that, and the branch moved
//! only if it still points where it did (compare-and-swap). Only then are the edited files
//! brought up to date in the worktree and the user's index. Files with uncommitted changes are
//! refused before any of this, so the commit holds codey's edit and nothing of the user's.

use std::path::{Path, PathBuf};

use git2::{Index, IndexEntry, IndexTime, Oid, Repository, Signature};

/// Git failures. Retrying helps only for `HeadMoved` (run codey again on the new HEAD).
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    #[error("{0} is not inside a git repository (--commit needs one)")]
    NotARepo(PathBuf),
    #[error("the repository has no commits yet; --commit needs a parent commit")]
    NoHead,
    #[error("HEAD moved while codey ran ({expected} → {found}); nothing was committed")]
    HeadMoved { expected: String, found: String },
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// The repository containing `dir`, if any.
pub fn discover(dir: &Path) -> Option<Repository> {
    Repository::discover(dir).ok()
}

/// The directory patches are relative to: the repository's worktree, else `dir`.
pub fn root(dir: &Path) -> PathBuf {
    discover(dir)
        .and_then(|r| r.workdir().map(Path::to_owned))
        .unwrap_or_else(|| dir.to_owned())
}

/// One edited file to commit.
#[derive(Debug, Clone)]
pub struct Change<'a> {
    pub path: &'a str,
    pub original: &'a str,
    pub new_content: &'a str,
}

/// Whether `path` has no uncommitted work: the worktree content read by codey and the staged
/// version both equal HEAD's. Only then may a commit of codey's edit stand for the file.
pub fn is_clean(repo: &Repository, path: &str, original: &str) -> Result<bool, GitError> {
    let tree = repo
        .head()
        .and_then(|h| h.peel_to_tree())
        .map_err(|_| GitError::NoHead)?;
    let Ok(entry) = tree.get_path(Path::new(path)) else {
        return Ok(false);
    };
    let blob = repo.find_blob(entry.id())?;
    let staged = repo.index()?.get_path(Path::new(path), 0).map(|e| e.id);
    Ok(blob.content() == original.as_bytes() && staged == Some(entry.id()))
}

fn signature(repo: &Repository) -> Result<Signature<'static>, GitError> {
    match repo.signature() {
        Ok(sig) => Ok(sig.to_owned()),
        Err(_) => Ok(Signature::now("codey", "codey@localhost")?),
    }
}

/// Commits `changes` on top of HEAD, moving the current branch (or detached HEAD) only if it
/// did not move meanwhile. Returns the new commit id.
pub fn commit(repo: &Repository, changes: &[Change<'_>], message: &str) -> Result<Oid, GitError> {
    let head = repo.head().map_err(|_| GitError::NoHead)?;
    let ref_name = head.name().unwrap_or("HEAD").to_owned();
    let parent = head.peel_to_commit().map_err(|_| GitError::NoHead)?;
    let parent_tree = parent.tree()?;
    let mut index = Index::new()?;
    index.read_tree(&parent_tree)?;
    for change in changes {
        let blob = repo.blob(change.new_content.as_bytes())?;
        let mode = parent_tree
            .get_path(Path::new(change.path))
            .map(|e| e.filemode() as u32)
            .unwrap_or(0o100644);
        index.add(&entry(change.path, blob, mode, change.new_content.len()))?;
    }
    let tree = repo.find_tree(index.write_tree_to(repo)?)?;
    let sig = signature(repo)?;
    let oid = repo.commit(None, &sig, &sig, message, &tree, &[&parent])?;
    let current = repo.refname_to_id(&ref_name)?;
    if current != parent.id() {
        return Err(GitError::HeadMoved {
            expected: parent.id().to_string(),
            found: current.to_string(),
        });
    }
    // Compare-and-swap: fails if the ref moved between the check above and this update.
    let log = format!("codey: {}", message.lines().next().unwrap_or_default());
    repo.reference_matching(&ref_name, oid, true, parent.id(), &log)
        .map_err(|_| GitError::HeadMoved {
            expected: parent.id().to_string(),
            found: repo
                .refname_to_id(&ref_name)
                .map(|o| o.to_string())
                .unwrap_or_default(),
        })?;
    Ok(oid)
}

fn entry(path: &str, id: Oid, mode: u32, size: usize) -> IndexEntry {
    IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode,
        uid: 0,
        gid: 0,
        file_size: u32::try_from(size).unwrap_or(u32::MAX),
        id,
        flags: 0,
        flags_extended: 0,
        path: path.as_bytes().to_vec(),
    }
}

/// After a commit: stages the committed files in the user's index so `git status` shows them
/// as unchanged. Their worktree content must already be written.
pub fn stage(repo: &Repository, paths: &[&str]) -> Result<(), GitError> {
    let mut index = repo.index()?;
    for path in paths {
        index.add_path(Path::new(path))?;
    }
    index.write()?;
    Ok(())
}

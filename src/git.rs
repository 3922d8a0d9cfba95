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
    #[error("{0} is not inside a git repository")]
    NotARepo(PathBuf),
    #[error("the repository has no commits yet; --commit needs a parent commit")]
    NoHead,
    #[error("HEAD moved while codey ran ({expected} → {found}); nothing was committed")]
    HeadMoved { expected: String, found: String },
    #[error("branch {0:?} already exists; choose another name for --branch")]
    BranchExists(String),
    #[error("{0:?} is not a valid branch name")]
    BadBranchName(String),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "--changed-since {rev:?}: {reason} (in CI the base must be fetched: actions/checkout \
         with fetch-depth: 0)"
    )]
    UnknownRevision { rev: String, reason: String },
    #[error(
        "--changed-since {rev:?}: it shares no history with HEAD (a shallow clone? fetch with \
         fetch-depth: 0)"
    )]
    NoMergeBase { rev: String },
    #[error("git: {0}")]
    Git(#[from] git2::Error),
}

/// The repository containing `dir`, if any.
///
/// Under a git hook, git says which repository and index to use through the environment
/// (`GIT_DIR`, and `GIT_INDEX_FILE`, a temporary index for `git commit -a` and
/// `git commit <paths>`): the staged view is only right when those are honoured, as
/// `open_from_env` does.
pub fn discover(dir: &Path) -> Option<Repository> {
    let from_env = ["GIT_DIR", "GIT_INDEX_FILE"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    if from_env {
        if let Ok(repo) = Repository::open_from_env() {
            return Some(repo);
        }
    }
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
pub struct BlobEdit<'a> {
    pub path: &'a str,
    pub original: &'a str,
    pub new_content: &'a str,
}

/// Whether `path` has no uncommitted work *now*: the index holds HEAD's blob and mode, the
/// worktree file still holds what codey read (`original`), and that content is what the index
/// holds as git sees it, through its filters (`core.autocrlf`, `.gitattributes`). Only then may
/// a commit of codey's edit stand for the file. Checked at write or commit time, not when the
/// run started: the user may have committed or edited meanwhile. A mode change alone
/// (`chmod +x`, unstaged) is not content and stays the user's, unstaged.
pub fn is_clean(repo: &Repository, path: &str, original: &str) -> Result<bool, GitError> {
    let tree = repo
        .head()
        .and_then(|h| h.peel_to_tree())
        .map_err(|_| GitError::NoHead)?;
    let Ok(head) = tree.get_path(Path::new(path)) else {
        return Ok(false);
    };
    let index = repo.index()?;
    let staged_as_head = index
        .get_path(Path::new(path), 0)
        .is_some_and(|e| e.id == head.id() && e.mode == head.filemode() as u32);
    if !staged_as_head {
        return Ok(false);
    }
    let Some(workdir) = repo.workdir() else {
        return Ok(false);
    };
    match std::fs::read(workdir.join(path)) {
        Ok(now) if now == original.as_bytes() => {}
        _ => return Ok(false),
    }
    worktree_matches_index(repo, &index, path)
}

/// Whether the worktree file's content, filtered as git filters it, is the index's blob.
fn worktree_matches_index(repo: &Repository, index: &Index, path: &str) -> Result<bool, GitError> {
    let mut options = git2::DiffOptions::new();
    options
        .pathspec(path)
        .disable_pathspec_match(true)
        .ignore_filemode(true)
        .include_untracked(false);
    let diff = repo.diff_index_to_workdir(Some(index), Some(&mut options))?;
    Ok(diff.deltas().len() == 0)
}

/// What git would write into the worktree for `content` stored at `path`: the blob content
/// through the filters its attributes select (`core.autocrlf`, `eol`), found by letting git
/// check the one file out into a scratch directory. Without filters it is `content` itself.
pub fn worktree_form(repo: &Repository, path: &str, content: &[u8]) -> Result<Vec<u8>, GitError> {
    let scratch = tempfile::tempdir().map_err(|source| GitError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let mut index = Index::new()?;
    index.add(&entry(path, repo.blob(content)?, 0o100644, content.len()))?;
    let mut checkout = git2::build::CheckoutBuilder::new();
    checkout
        .target_dir(scratch.path())
        .force()
        .update_index(false)
        .path(path);
    repo.checkout_index(Some(&mut index), Some(&mut checkout))?;
    let out = scratch.path().join(path);
    std::fs::read(&out).map_err(|source| GitError::Io { path: out, source })
}

/// Writes `content` as the blob git would store for the worktree file `path`: through the
/// filters its attributes select (`core.autocrlf`, `eol`, `text`), as `git add` would.
fn blob_for(repo: &Repository, path: &str, content: &[u8]) -> Result<Oid, GitError> {
    use std::io::Write;
    let mut writer = repo.blob_writer(Some(Path::new(path)))?;
    writer.write_all(content).map_err(|source| GitError::Io {
        path: PathBuf::from(path),
        source,
    })?;
    Ok(writer.commit()?)
}

fn signature(repo: &Repository) -> Result<Signature<'static>, GitError> {
    match repo.signature() {
        Ok(sig) => Ok(sig.to_owned()),
        Err(_) => Ok(Signature::now("codey", "codey@localhost")?),
    }
}

/// Commits `changes` on top of HEAD. With `branch`, the commit goes onto that new branch and
/// nothing else moves; without, the current branch (or detached HEAD) moves only if it did not
/// move meanwhile. Returns the new commit id.
pub fn commit(
    repo: &Repository,
    changes: &[BlobEdit<'_>],
    message: &str,
    branch: Option<&str>,
) -> Result<Oid, GitError> {
    if let Some(name) = branch {
        if !git2::Branch::name_is_valid(name)? {
            return Err(GitError::BadBranchName(name.to_owned()));
        }
        if repo.find_branch(name, git2::BranchType::Local).is_ok() {
            return Err(GitError::BranchExists(name.to_owned()));
        }
    }
    let head = repo.head().map_err(|_| GitError::NoHead)?;
    let ref_name = head.name().unwrap_or("HEAD").to_owned();
    let parent = head.peel_to_commit().map_err(|_| GitError::NoHead)?;
    let parent_tree = parent.tree()?;
    let mut index = Index::new()?;
    index.read_tree(&parent_tree)?;
    for change in changes {
        let blob = blob_for(repo, change.path, change.new_content.as_bytes())?;
        let mode = parent_tree
            .get_path(Path::new(change.path))
            .map(|e| e.filemode() as u32)
            .unwrap_or(0o100644);
        index.add(&entry(change.path, blob, mode, change.new_content.len()))?;
    }
    let tree = repo.find_tree(index.write_tree_to(repo)?)?;
    let sig = signature(repo)?;
    let oid = repo.commit(None, &sig, &sig, message, &tree, &[&parent])?;
    crate::atomic::crash_point("commit object written");
    let log = format!("codey: {}", message.lines().next().unwrap_or_default());
    if let Some(name) = branch {
        // force = false: fails rather than move a branch created meanwhile.
        repo.reference(&format!("refs/heads/{name}"), oid, false, &log)
            .map_err(|_| GitError::BranchExists(name.to_owned()))?;
        crate::atomic::crash_point("branch created");
        return Ok(oid);
    }
    advance(repo, &ref_name, parent.id(), oid, &log)?;
    crate::atomic::crash_point("branch moved");
    Ok(oid)
}

/// Moves `ref_name` from `expected` to `new`, only if it still points at `expected`: a user
/// who committed while codey worked keeps their commit, and codey's fails clearly.
fn advance(
    repo: &Repository,
    ref_name: &str,
    expected: Oid,
    new: Oid,
    log: &str,
) -> Result<(), GitError> {
    let moved = |found: Result<Oid, git2::Error>| GitError::HeadMoved {
        expected: expected.to_string(),
        found: found.map(|o| o.to_string()).unwrap_or_default(),
    };
    let current = repo.refname_to_id(ref_name)?;
    if current != expected {
        return Err(moved(Ok(current)));
    }
    // Compare-and-swap: fails if the ref moved between the check above and this update.
    repo.reference_matching(ref_name, new, true, expected, log)
        .map_err(|_| moved(repo.refname_to_id(ref_name)))?;
    Ok(())
}

/// Three-way merge of one file's text: `theirs` (codey's edit of `base`) into `ours` (the
/// worktree, `base` plus the user's unstaged work). `None` when the two overlap.
pub fn merge3(
    repo: &Repository,
    base: &str,
    ours: &str,
    theirs: &str,
) -> Result<Option<String>, GitError> {
    let side = |text: &str| -> Result<IndexEntry, GitError> {
        Ok(entry(
            "file",
            repo.blob(text.as_bytes())?,
            0o100644,
            text.len(),
        ))
    };
    let result = repo.merge_file_from_index(&side(base)?, &side(ours)?, &side(theirs)?, None)?;
    if !result.is_automergeable() {
        return Ok(None);
    }
    Ok(String::from_utf8(result.content().to_vec()).ok())
}

/// Every regular file of HEAD's tree (or of the index, when `staged`): path, bytes, git mode.
/// An unborn branch has an empty tree.
pub fn tree_files(
    repo: &Repository,
    staged: bool,
) -> Result<Vec<(String, Vec<u8>, u32)>, GitError> {
    let mut files = Vec::new();
    if staged {
        for entry in repo.index()?.iter() {
            if entry.mode != 0o100644 && entry.mode != 0o100755 {
                continue;
            }
            let path = String::from_utf8_lossy(&entry.path).into_owned();
            let blob = repo.find_blob(entry.id)?;
            files.push((path, blob.content().to_vec(), entry.mode));
        }
        return Ok(files);
    }
    let Ok(tree) = repo.head().and_then(|h| h.peel_to_tree()) else {
        return Ok(files);
    };
    let mut failed = None;
    tree.walk(git2::TreeWalkMode::PreOrder, |dir, entry| {
        let mode = entry.filemode() as u32;
        if mode != 0o100644 && mode != 0o100755 {
            return git2::TreeWalkResult::Ok;
        }
        let path = format!("{dir}{}", entry.name().unwrap_or_default());
        match repo.find_blob(entry.id()) {
            Ok(blob) => files.push((path, blob.content().to_vec(), mode)),
            Err(e) => {
                failed = Some(e);
                return git2::TreeWalkResult::Abort;
            }
        }
        git2::TreeWalkResult::Ok
    })?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(files),
    }
}

/// The regular files a branch changed: those added, modified, renamed, copied or retyped
/// between the merge base of `base` and HEAD, and HEAD (`git diff --name-only base...HEAD`),
/// sorted. Deleted files have nothing left to edit. Only commits count: in CI the worktree is
/// HEAD, and a local run gives the same files as CI would.
pub fn changed_since(repo: &Repository, base: &str) -> Result<Vec<String>, GitError> {
    let unknown = |rev: &str, e: git2::Error| GitError::UnknownRevision {
        rev: rev.to_owned(),
        reason: e.message().to_owned(),
    };
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| unknown("HEAD", e))?;
    let base_commit = repo
        .revparse_single(base)
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| unknown(base, e))?;
    let merge_base =
        repo.merge_base(base_commit.id(), head.id())
            .map_err(|_| GitError::NoMergeBase {
                rev: base.to_owned(),
            })?;
    let old = repo.find_commit(merge_base)?.tree()?;
    let diff = repo.diff_tree_to_tree(Some(&old), Some(&head.tree()?), None)?;
    let mut paths: Vec<String> = diff
        .deltas()
        .filter(|d| {
            use git2::Delta;
            matches!(
                d.status(),
                Delta::Added | Delta::Modified | Delta::Renamed | Delta::Copied | Delta::Typechange
            ) && matches!(u32::from(d.new_file().mode()), 0o100644 | 0o100755)
        })
        .filter_map(|d| {
            d.new_file()
                .path()
                .and_then(Path::to_str)
                .map(str::to_owned)
        })
        .collect();
    paths.sort();
    Ok(paths)
}

/// A staged file: its path, the staged bytes and the git mode.
#[derive(Debug, Clone)]
pub struct Staged {
    pub path: String,
    pub content: Vec<u8>,
    pub mode: u32,
}

/// The files whose staged content differs from HEAD (added, modified, renamed or copied;
/// regular files only), read from the index git chose (`GIT_INDEX_FILE` under a hook).
pub fn staged(repo: &Repository) -> Result<Vec<Staged>, GitError> {
    let head_tree = repo.head().ok().and_then(|h| h.peel_to_tree().ok());
    let index = repo.index()?;
    let diff = repo.diff_tree_to_index(head_tree.as_ref(), Some(&index), None)?;
    let mut files = Vec::new();
    for delta in diff.deltas() {
        use git2::Delta;
        if !matches!(
            delta.status(),
            Delta::Added | Delta::Modified | Delta::Renamed | Delta::Copied | Delta::Typechange
        ) {
            continue;
        }
        let new = delta.new_file();
        let mode = u32::from(new.mode());
        if mode != 0o100644 && mode != 0o100755 {
            continue;
        }
        let Some(path) = new.path().and_then(Path::to_str) else {
            continue;
        };
        let blob = repo.find_blob(new.id())?;
        files.push(Staged {
            path: path.to_owned(),
            content: blob.content().to_vec(),
            mode,
        });
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
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

/// After a commit: points the user's index entries of the committed files at the committed
/// blobs, keeping each entry's mode and flags. Not `git add`: that would also stage what the
/// worktree holds beyond codey's edit (a `chmod +x`, or a change made after the commit). The
/// stat data is cleared so git compares the worktree content the next time it looks.
pub fn stage(repo: &Repository, commit: Oid, paths: &[&str]) -> Result<(), GitError> {
    let tree = repo.find_commit(commit)?.tree()?;
    let mut index = repo.index()?;
    for path in paths {
        let committed = tree.get_path(Path::new(path))?;
        let mut e = match index.get_path(Path::new(path), 0) {
            Some(e) => e,
            None => entry(path, committed.id(), committed.filemode() as u32, 0),
        };
        e.id = committed.id();
        (e.ctime, e.mtime) = (IndexTime::new(0, 0), IndexTime::new(0, 0));
        (e.dev, e.ino, e.uid, e.gid, e.file_size) = (0, 0, 0, 0, 0);
        index.add(&e)?;
    }
    index.write()?;
    crate::atomic::crash_point("index written");
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Runs git in `dir` with a fixed identity, asserting success (shared by the unit tests of
    /// the modules that drive git).
    pub(crate) fn git(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@t")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@t")
            .output()
            .unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
    }

    #[test]
    fn changed_since_lists_what_the_branch_changed_since_the_merge_base() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let write = |name: &str, text: &str| std::fs::write(d.join(name), text).unwrap();
        git(d, &["init", "-q", "-b", "main"]);
        for name in ["a.py", "b.py", "c.py", "run.sh"] {
            write(name, "x\n");
        }
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "base"]);
        git(d, &["checkout", "-q", "-b", "topic"]);
        write("a.py", "changed\n");
        write("new.py", "added\n");
        std::fs::remove_file(d.join("b.py")).unwrap();
        git(d, &["mv", "c.py", "moved.py"]);
        git(d, &["add", "-A"]);
        git(d, &["commit", "-q", "-m", "topic"]);
        // main moves on after the branch: its own changes are not the branch's.
        git(d, &["checkout", "-q", "main"]);
        write("run.sh", "main moved\n");
        git(d, &["commit", "-q", "-am", "main"]);
        git(d, &["checkout", "-q", "topic"]);
        // Uncommitted work does not count.
        write("c2.py", "untracked\n");
        let repo = Repository::open(d).unwrap();
        assert_eq!(
            changed_since(&repo, "main").unwrap(),
            vec!["a.py", "moved.py", "new.py"]
        );
        assert!(changed_since(&repo, "topic").unwrap().is_empty());
        let err = changed_since(&repo, "origin/nope").unwrap_err().to_string();
        assert!(err.contains("fetch-depth: 0"), "{err}");
    }

    /// A commit of the empty tree with `parents`, not on any branch.
    fn commit_on(repo: &Repository, message: &str, parents: &[&git2::Commit]) -> Oid {
        let tree = repo
            .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
            .unwrap();
        let sig = Signature::now("t", "t@t").unwrap();
        repo.commit(None, &sig, &sig, message, &tree, parents)
            .unwrap()
    }

    #[test]
    fn a_branch_that_moved_meanwhile_is_not_moved_again() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let a = commit_on(&repo, "a", &[]);
        let a_commit = repo.find_commit(a).unwrap();
        repo.reference("refs/heads/main", a, true, "start").unwrap();
        // codey built `ours` on `a`; meanwhile the user committed `theirs` on `a`.
        let ours = commit_on(&repo, "codey", &[&a_commit]);
        let theirs = commit_on(&repo, "user", &[&a_commit]);
        advance(&repo, "refs/heads/main", a, theirs, "user").unwrap();
        let err = advance(&repo, "refs/heads/main", a, ours, "codey").unwrap_err();
        assert!(
            matches!(&err, GitError::HeadMoved { found, .. } if *found == theirs.to_string()),
            "{err}"
        );
        assert_eq!(repo.refname_to_id("refs/heads/main").unwrap(), theirs);
    }
}

//! The plain git pre-commit hook: `codey hook install` writes it, `codey hook uninstall`
//! removes it.
//!
//! Owns the hook script and telling codey's hook from anyone else's. The script runs `codey`
//! as found on PATH when the hook runs, not the absolute path of the binary that installed it:
//! that path moves with every upgrade and differs between clones and machines. When codey is
//! not on PATH (a GUI git client often has a shorter PATH than the shell), the hook says so and
//! stops the commit rather than letting the rules be skipped unnoticed. A hook is codey's when
//! its bytes are a script some version of codey wrote; only then is it replaced or removed
//! without `--force`, and `uninstall` never removes anyone else's. The pre-commit framework's
//! hook (`.pre-commit-hooks.yaml`) is not this module's business.

use std::path::{Path, PathBuf};

use crate::rules;

/// Why the hook was not installed or removed. Retrying does not help until the cause is gone.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    #[error("{0} is not inside a git repository: the hook belongs to one (run this in a clone)")]
    NotARepo(PathBuf),
    #[error(
        "no {file} in {root}: the hook would check nothing; write the rules first (see \
         `codey check --help`), or pass --force to install it anyway"
    )]
    NoRules { root: PathBuf, file: &'static str },
    #[error("{0} exists and was not written by codey; pass --force to replace it")]
    Foreign(PathBuf),
    #[error(
        "{0} was not written by codey, or was changed since; not removed (delete it yourself if \
         nothing in it is needed)"
    )]
    NotOurs(PathBuf),
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The second line of every hook codey writes.
const MARK: &str = "# codey pre-commit hook (written by `codey hook install`";

/// The lines after the marker that the hooks of earlier versions had, before their `exec` of
/// an absolute path.
const LEGACY_BODY: &str = "#!/bin/sh\n# codey pre-commit hook (written by `codey hook install`).\n\
# Runs the rules of .codey.json on the staged content. Edits go into the worktree,\n\
# merged with any unstaged work, and stop the commit: review them, stage, commit again.\n";

/// The hook script this version writes.
pub fn script() -> String {
    format!(
        "#!/bin/sh\n{MARK}; `codey hook uninstall` removes it).\n\
         # Runs the rules of .codey.json on the staged content. Edits go into the worktree,\n\
         # merged with any unstaged work, and stop the commit: review them, stage, commit again.\n\
         # codey is looked up on PATH each time, so upgrading it needs no new hook.\n\
         if ! command -v codey >/dev/null 2>&1; then\n\
         \x20   echo \"codey pre-commit hook: codey is not on PATH, so the rules of .codey.json cannot run.\" >&2\n\
         \x20   echo \"Put codey on PATH (cargo install puts it in ~/.cargo/bin), commit with --no-verify to skip\" >&2\n\
         \x20   echo \"the hook once, or delete $0 to remove it.\" >&2\n\
         \x20   exit 1\n\
         fi\n\
         exec codey check --staged --write --no-progress\n"
    )
}

/// Whether `bytes` are a hook some version of codey wrote, unchanged. Compared as bytes: a
/// binary hook, or a script that is not UTF-8, is someone else's.
fn written_by_codey(bytes: &[u8]) -> bool {
    if bytes == script().as_bytes() {
        return true;
    }
    // Earlier versions: the same lines, then `exec '<absolute path>' check …`.
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|text| text.strip_prefix(LEGACY_BODY))
        .and_then(|rest| rest.strip_prefix("exec '"))
        .and_then(|rest| rest.strip_suffix("' check --staged --write --no-progress\n"))
        .is_some_and(|exe| !exe.contains('\n'))
}

/// The repository's worktree (None when bare) and the pre-commit hook git runs for it: in
/// `core.hooksPath` when set, else in the common git dir (a linked worktree's own git dir has
/// no hooks git runs).
fn locate(dir: &Path) -> Result<(Option<PathBuf>, PathBuf), HookError> {
    let repo = crate::git::discover(dir).ok_or_else(|| HookError::NotARepo(dir.to_owned()))?;
    let workdir = repo.workdir().map(Path::to_owned);
    let hooks = repo
        .config()
        .ok()
        .and_then(|c| c.get_path("core.hooksPath").ok())
        .map(|p| match &workdir {
            Some(w) if p.is_relative() => w.join(p),
            _ => p,
        })
        .unwrap_or_else(|| repo.commondir().join("hooks"));
    Ok((workdir, hooks.join("pre-commit")))
}

/// Writes the pre-commit hook of the repository containing `dir`. Without `force` it needs the
/// rules file, and replaces an existing hook only if codey wrote it.
pub fn install(dir: &Path, force: bool) -> Result<PathBuf, HookError> {
    let (workdir, path) = locate(dir)?;
    let root = workdir.unwrap_or_else(|| dir.to_owned());
    if !force && !root.join(rules::FILE_NAME).is_file() {
        return Err(HookError::NoRules {
            root,
            file: rules::FILE_NAME,
        });
    }
    let io = |source| HookError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read(&path) {
        Ok(existing) if !force && !written_by_codey(&existing) => {
            return Err(HookError::Foreign(path))
        }
        Err(e) if e.kind() != std::io::ErrorKind::NotFound && !force => return Err(io(e)),
        _ => {}
    }
    if let Some(hooks) = path.parent() {
        std::fs::create_dir_all(hooks).map_err(io)?;
    }
    std::fs::write(&path, script()).map_err(io)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    }
    Ok(path)
}

/// What `uninstall` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uninstalled {
    /// codey's hook was there and is gone.
    Removed(PathBuf),
    /// There was no pre-commit hook.
    Absent(PathBuf),
}

/// Removes the pre-commit hook of the repository containing `dir` if codey wrote it; any other
/// hook is left alone and reported.
pub fn uninstall(dir: &Path) -> Result<Uninstalled, HookError> {
    let (_, path) = locate(dir)?;
    let io = |source| HookError::Io {
        path: path.clone(),
        source,
    };
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Uninstalled::Absent(path)),
        Err(e) => Err(io(e)),
        Ok(bytes) if written_by_codey(&bytes) => {
            std::fs::remove_file(&path).map_err(io)?;
            Ok(Uninstalled::Removed(path))
        }
        Ok(_) => Err(HookError::NotOurs(path)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::git::tests::git;

    /// A repository with a rules file.
    fn repo() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        std::fs::write(dir.path().join(rules::FILE_NAME), r#"{"rules": []}"#).unwrap();
        dir
    }

    #[test]
    fn the_hook_of_a_linked_worktree_goes_where_git_runs_it() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main");
        std::fs::create_dir_all(&main).unwrap();
        git(&main, &["init", "-q", "-b", "main"]);
        std::fs::write(main.join(rules::FILE_NAME), r#"{"rules": []}"#).unwrap();
        git(&main, &["add", "."]);
        git(&main, &["commit", "-q", "-m", "base"]);
        git(&main, &["worktree", "add", "-q", "../linked"]);
        let path = install(&dir.path().join("linked"), false).unwrap();
        assert_eq!(
            path.canonicalize().unwrap(),
            main.join(".git/hooks/pre-commit").canonicalize().unwrap()
        );
    }

    #[test]
    fn a_foreign_hook_is_kept_even_when_it_is_not_text() {
        let dir = repo();
        let hook = dir.path().join(".git/hooks/pre-commit");
        std::fs::create_dir_all(hook.parent().unwrap()).unwrap();
        for foreign in [
            &b"\x7fELF\x02\x01\x00binary"[..],
            b"#!/bin/sh\n# caf\xe9\nexit 0\n",
            // codey's marker, but a line of the user's own added.
            format!("{}echo mine\n", script()).as_bytes(),
        ] {
            std::fs::write(&hook, foreign).unwrap();
            let err = install(dir.path(), false).unwrap_err();
            assert!(matches!(err, HookError::Foreign(_)), "{err}");
            let err = uninstall(dir.path()).unwrap_err();
            assert!(matches!(err, HookError::NotOurs(_)), "{err}");
            assert_eq!(std::fs::read(&hook).unwrap(), foreign);
        }
        // codey's own hook is replaced without --force, and removed.
        std::fs::remove_file(&hook).unwrap();
        install(dir.path(), false).unwrap();
        install(dir.path(), false).unwrap();
        assert_eq!(
            uninstall(dir.path()).unwrap(),
            Uninstalled::Removed(hook.clone())
        );
        assert_eq!(uninstall(dir.path()).unwrap(), Uninstalled::Absent(hook));
    }

    #[test]
    fn the_hooks_of_earlier_versions_are_codeys_too() {
        let legacy = format!(
            "{LEGACY_BODY}exec '/home/u/.cargo/bin/codey' check --staged --write --no-progress\n"
        );
        assert!(written_by_codey(legacy.as_bytes()));
        assert!(written_by_codey(script().as_bytes()));
        assert!(!written_by_codey(format!("{legacy}rm -rf ~\n").as_bytes()));
    }

    #[test]
    fn the_hook_needs_the_rules_file_unless_forced() {
        let dir = tempfile::tempdir().unwrap();
        git(dir.path(), &["init", "-q", "-b", "main"]);
        let err = install(dir.path(), false).unwrap_err();
        assert!(matches!(err, HookError::NoRules { .. }), "{err}");
        assert!(!dir.path().join(".git/hooks/pre-commit").exists());
        install(dir.path(), true).unwrap();
    }

    #[test]
    fn the_script_calls_codey_on_path_and_says_when_it_is_missing() {
        let script = script();
        assert!(script.contains("\nexec codey check --staged --write --no-progress\n"));
        assert!(script.contains("not on PATH"));
        assert!(script.lines().nth(1).unwrap().starts_with(MARK));
    }
}

//! Atomic file replacement and the crash points that test it.
//!
//! Owns writing a file so that a crash at any instant leaves either the old content or the new
//! (anonymous `O_TMPFILE` on Linux, fsync, rename, directory sync), the clean-up of temporary
//! files that a killed run left behind, and `CODEY_CRASH_AT`, which kills the process at a
//! numbered point for the crash tests. It sits below `git` and `output`, which both use it; it
//! knows nothing of repositories or edits.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why a file was not replaced. Retrying helps only after the cause is gone (the file was
/// changed meanwhile: run codey again on the new content).
#[derive(Debug, thiserror::Error)]
pub enum ReplaceError {
    #[error("is no longer a regular file; not overwritten")]
    NotARegularFile,
    #[error("changed on disk since codey read it; not overwritten")]
    ChangedOnDisk,
    #[error("cannot re-read: {0}")]
    Read(#[source] std::io::Error),
    #[error("write failed: {0}")]
    Write(#[source] std::io::Error),
}

/// Replaces `path` with `content` atomically, unless it no longer holds `expected`.
///
/// The new content is written and synced in a file of its own beside the target (same
/// filesystem, so the rename is atomic) with the target's permissions, then renamed over it: a
/// crash at any point leaves either the old file or the new one. On Linux that file is
/// anonymous (`O_TMPFILE`) until it is complete, so a crash leaves no trace of it; it gets a
/// name only for the instant between `linkat` and `rename`, and a run that finds such a
/// leftover removes it.
pub fn replace_file(path: &Path, expected: &str, content: &str) -> Result<(), ReplaceError> {
    let meta = std::fs::symlink_metadata(path).map_err(ReplaceError::Read)?;
    if !meta.file_type().is_file() {
        return Err(ReplaceError::NotARegularFile);
    }
    let current = std::fs::read(path).map_err(ReplaceError::Read)?;
    if current != expected.as_bytes() {
        return Err(ReplaceError::ChangedOnDisk);
    }
    let tmp = temp_path(path);
    let result = write_then_rename(path, &tmp, content, meta.permissions());
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(ReplaceError::Write)
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

/// Moves the complete file `from` to `to` on the same filesystem so that `to` is either absent
/// (or its old self) or the whole new file, whenever a crash comes: synced, renamed, and the
/// directory entry synced. For large files written elsewhere (a fetched model); text edits use
/// [`replace_file`].
pub fn persist(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::File::open(from)?.sync_all()?;
    std::fs::rename(from, to)?;
    if let Some(dir) = to.parent() {
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

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
pub(crate) fn process_alive(pid: u32) -> bool {
    pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn process_alive(pid: u32) -> bool {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_file_refuses_a_file_changed_since_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        std::fs::write(&path, "user edit\n").unwrap();
        let err = replace_file(&path, "original\n", "codey\n").unwrap_err();
        assert!(matches!(err, ReplaceError::ChangedOnDisk), "{err}");
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
}

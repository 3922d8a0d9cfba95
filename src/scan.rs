//! Scanning: which files of the repository an edit considers.
//!
//! Owns walking the path arguments with the `ignore` crate (so .gitignore, .ignore and git's
//! excludes are respected, hidden files skipped unless asked for), `--glob` include/exclude
//! patterns, and reading each file once, skipping with a reason the ones codey must not edit:
//! binary, too large, not UTF-8, unreadable. It does not decide what to do with a file.

use std::path::{Path, PathBuf};

use ignore::overrides::OverrideBuilder;
use ignore::WalkBuilder;
use serde::Serialize;

/// Files larger than this are skipped unless `--max-file-bytes` says otherwise.
pub const DEFAULT_MAX_BYTES: u64 = 256 * 1024;

/// What to scan.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// Files or directories; empty means the whole root.
    pub paths: Vec<PathBuf>,
    /// Glob patterns; a leading `!` excludes.
    pub globs: Vec<String>,
    pub max_bytes: u64,
    pub hidden: bool,
    /// Files named in `paths` are always in the instruction's scope (`codey edit FILE`: the
    /// user chose them). False when a tool names the files (`codey check` under the
    /// pre-commit framework): the scope check then decides for them as for any other.
    pub named_in_scope: bool,
    /// Files left out, as paths relative to the root: those already checked clean.
    pub exclude: Vec<String>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            paths: Vec::new(),
            globs: Vec::new(),
            max_bytes: DEFAULT_MAX_BYTES,
            hidden: false,
            named_in_scope: true,
            exclude: Vec::new(),
        }
    }
}

/// A file that may be edited, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub path: PathBuf,
    /// Relative to the root, `/`-separated: the name in patches and summaries.
    pub rel: String,
    pub content: String,
    /// Git file mode: 0o100755 when executable, else 0o100644.
    pub mode: u32,
    /// Named on the command line itself (not found by walking a directory).
    pub explicit: bool,
}

/// Why a file was not considered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SkipReason {
    Binary,
    TooLarge {
        bytes: u64,
        limit: u64,
    },
    NotUtf8,
    /// The file's name is not UTF-8: patches, reports and rules carry paths as UTF-8 text, and a
    /// lossy name would make a patch `git apply` cannot place.
    NameNotUtf8,
    Unreadable {
        error: String,
    },
}

impl std::fmt::Display for SkipReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SkipReason::Binary => f.write_str("binary file"),
            SkipReason::TooLarge { bytes, limit } => {
                write!(
                    f,
                    "{bytes} bytes is over the {limit}-byte limit (--max-file-bytes)"
                )
            }
            SkipReason::NotUtf8 => f.write_str("not valid UTF-8"),
            SkipReason::NameNotUtf8 => f.write_str(
                "its name is not valid UTF-8, which codey's patches cannot carry yet; rename it \
                 to edit it",
            ),
            SkipReason::Unreadable { error } => write!(f, "unreadable: {error}"),
        }
    }
}

/// The result of a scan, both lists sorted by path.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub files: Vec<Candidate>,
    pub skipped: Vec<(String, SkipReason)>,
}

/// Problems with the scan's arguments. Retrying does not help; the arguments must change.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("path {0} does not exist")]
    NoSuchPath(PathBuf),
    #[error("path {path} is outside the repository at {root}")]
    OutsideRoot { path: PathBuf, root: PathBuf },
    #[error("invalid --glob {glob:?}: {reason}")]
    Glob { glob: String, reason: String },
    #[error("walking {path}: {reason}")]
    Walk { path: PathBuf, reason: String },
}

/// Makes `path` absolute (relative to `cwd`) and checks it lies under `root`.
fn resolve(root: &Path, cwd: &Path, path: &Path) -> Result<PathBuf, ScanError> {
    let joined = cwd.join(path);
    let abs = joined
        .canonicalize()
        .map_err(|_| ScanError::NoSuchPath(path.to_owned()))?;
    if abs.starts_with(root) {
        Ok(abs)
    } else {
        Err(ScanError::OutsideRoot {
            path: path.to_owned(),
            root: root.to_owned(),
        })
    }
}

fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(unix)]
fn git_mode(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o111 != 0 {
        0o100755
    } else {
        0o100644
    }
}

#[cfg(not(unix))]
fn git_mode(_meta: &std::fs::Metadata) -> u32 {
    0o100644
}

/// The bytes as editable text, or why they are not.
fn text(bytes: Vec<u8>, max_bytes: u64) -> Result<String, SkipReason> {
    let len = bytes.len() as u64;
    if len > max_bytes {
        return Err(SkipReason::TooLarge {
            bytes: len,
            limit: max_bytes,
        });
    }
    // git's heuristic: a NUL byte in the first 8000 bytes means binary.
    if bytes.iter().take(8000).any(|&b| b == 0) {
        return Err(SkipReason::Binary);
    }
    String::from_utf8(bytes).map_err(|_| SkipReason::NotUtf8)
}

/// Selects from staged files (`--staged`) as `scan` selects from the worktree: under the
/// given paths, through the globs, hidden files only when asked for or named. The content is
/// the staged blob, not the worktree file. Ignore files do not apply: staged files are tracked.
pub fn from_index(
    root: &Path,
    cwd: &Path,
    options: &ScanOptions,
    staged: Vec<crate::git::Staged>,
) -> Result<Scan, ScanError> {
    let root = root
        .canonicalize()
        .map_err(|_| ScanError::NoSuchPath(root.to_owned()))?;
    let cwd = cwd.canonicalize().unwrap_or_else(|_| cwd.to_owned());
    // A staged file may be gone from the worktree, so the paths are compared lexically.
    let starts: Vec<String> = options
        .paths
        .iter()
        .map(|p| lexical_relative(&root, &cwd.join(p)))
        .collect::<Result<_, _>>()?;
    let overrides = build_overrides(&root, &options.globs)?;
    let mut result = Scan::default();
    for file in staged {
        let explicit = starts.contains(&file.path);
        let under = starts.is_empty()
            || explicit
            || starts
                .iter()
                .any(|s| s.is_empty() || file.path.starts_with(&format!("{s}/")));
        let hidden = file.path.split('/').any(|p| p.starts_with('.'));
        if !under
            || (hidden && !options.hidden && !explicit)
            || overrides.matched(&file.path, false).is_ignore()
            || options.exclude.contains(&file.path)
        {
            continue;
        }
        match text(file.content, options.max_bytes) {
            Ok(content) => result.files.push(Candidate {
                path: root.join(&file.path),
                rel: file.path,
                content,
                mode: file.mode,
                explicit: explicit && options.named_in_scope,
            }),
            Err(reason) => result.skipped.push((file.path, reason)),
        }
    }
    Ok(result)
}

/// `path` relative to `root` with `.` and `..` resolved by name, `/`-separated.
fn lexical_relative(root: &Path, path: &Path) -> Result<String, ScanError> {
    let mut parts: Vec<String> = Vec::new();
    for c in path.components() {
        match c {
            std::path::Component::ParentDir => {
                parts.pop();
            }
            std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            _ => {}
        }
    }
    let root_parts: Vec<String> = root
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    if !parts.starts_with(&root_parts) {
        return Err(ScanError::OutsideRoot {
            path: path.to_owned(),
            root: root.to_owned(),
        });
    }
    Ok(parts[root_parts.len()..].join("/"))
}

fn build_overrides(
    root: &Path,
    globs: &[String],
) -> Result<ignore::overrides::Override, ScanError> {
    let mut overrides = OverrideBuilder::new(root);
    for glob in globs {
        overrides.add(glob).map_err(|e| ScanError::Glob {
            glob: glob.clone(),
            reason: e.to_string(),
        })?;
    }
    overrides.build().map_err(|e| ScanError::Glob {
        glob: globs.join(" "),
        reason: e.to_string(),
    })
}

/// Reads one file, or says why it is skipped.
pub fn read_candidate(root: &Path, path: &Path, max_bytes: u64) -> Result<Candidate, SkipReason> {
    let unreadable = |e: std::io::Error| SkipReason::Unreadable {
        error: e.to_string(),
    };
    if path.strip_prefix(root).unwrap_or(path).to_str().is_none() {
        return Err(SkipReason::NameNotUtf8);
    }
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if meta.len() > max_bytes {
        return Err(SkipReason::TooLarge {
            bytes: meta.len(),
            limit: max_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(unreadable)?;
    let content = text(bytes, max_bytes)?;
    Ok(Candidate {
        path: path.to_owned(),
        rel: relative(root, path),
        content,
        mode: git_mode(&meta),
        explicit: false,
    })
}

/// Walks `options.paths` (or the whole root) and reads every file that passes the filters.
pub fn scan(root: &Path, cwd: &Path, options: &ScanOptions) -> Result<Scan, ScanError> {
    let root = root
        .canonicalize()
        .map_err(|_| ScanError::NoSuchPath(root.to_owned()))?;
    let starts = if options.paths.is_empty() {
        vec![root.clone()]
    } else {
        options
            .paths
            .iter()
            .map(|p| resolve(&root, cwd, p))
            .collect::<Result<Vec<_>, _>>()?
    };
    let listed = walk_files(&root, &starts, options)?;
    let mut result = Scan::default();
    for path in listed {
        if options.exclude.contains(&relative(&root, &path)) {
            continue;
        }
        match read_candidate(&root, &path, options.max_bytes) {
            Ok(mut c) => {
                c.explicit = options.named_in_scope && starts.contains(&path);
                result.files.push(c);
            }
            Err(reason) => result.skipped.push((relative(&root, &path), reason)),
        }
    }
    result.files.sort_by(|a, b| a.rel.cmp(&b.rel));
    result.skipped.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(result)
}

/// Lists the files `scan` would consider, without reading them: the `ignore` crate's parallel
/// walker (one thread per core, as ripgrep's `--files`), sorted. Public for the benchmark.
pub fn list(root: &Path, options: &ScanOptions) -> Result<Vec<PathBuf>, ScanError> {
    let root = root
        .canonicalize()
        .map_err(|_| ScanError::NoSuchPath(root.to_owned()))?;
    let starts = vec![root.clone()];
    walk_files(&root, &starts, options)
}

fn walk_files(
    root: &Path,
    starts: &[PathBuf],
    options: &ScanOptions,
) -> Result<Vec<PathBuf>, ScanError> {
    use ignore::WalkState;
    use std::sync::Mutex;
    let overrides = build_overrides(root, &options.globs)?;
    let mut walk = WalkBuilder::new(&starts[0]);
    for start in &starts[1..] {
        walk.add(start);
    }
    walk.hidden(!options.hidden)
        .overrides(overrides)
        // Respect .gitignore even when the root is not (yet) a git repository.
        .require_git(false)
        .threads(std::thread::available_parallelism().map_or(1, |n| n.get()))
        // Submodules and nested repositories hold another repository's files: not entered,
        // as git does not (and writes refuse them too).
        .filter_entry(|e| {
            e.file_name() != ".git"
                && !(e.depth() > 0
                    && e.file_type().is_some_and(|t| t.is_dir())
                    && e.path().join(".git").exists())
        });
    let found: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let failure: Mutex<Option<String>> = Mutex::new(None);
    walk.build_parallel().run(|| {
        // Each thread collects locally and hands its list over once, at the end.
        let mut local = Collector {
            files: Vec::new(),
            sink: &found,
        };
        let failure = &failure;
        Box::new(move |entry| match entry {
            // Symlinks are never followed or edited: the link target may be outside the repo.
            Ok(e) if e.file_type().is_some_and(|t| t.is_file()) => {
                local.files.push(e.into_path());
                WalkState::Continue
            }
            Ok(_) => WalkState::Continue,
            Err(e) => {
                if let Ok(mut f) = failure.lock() {
                    f.get_or_insert_with(|| e.to_string());
                }
                WalkState::Quit
            }
        })
    });
    if let Some(reason) = failure.into_inner().ok().flatten() {
        return Err(ScanError::Walk {
            path: root.to_owned(),
            reason,
        });
    }
    let mut files = found.into_inner().unwrap_or_default();
    files.sort();
    // Overlapping path arguments name some files twice.
    files.dedup();
    Ok(files)
}

/// A walker thread's files, handed to the shared list when the thread is done.
struct Collector<'a> {
    files: Vec<PathBuf>,
    sink: &'a std::sync::Mutex<Vec<PathBuf>>,
}

impl Drop for Collector<'_> {
    fn drop(&mut self) {
        if let Ok(mut all) = self.sink.lock() {
            all.append(&mut self.files);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(files: &[(&str, &[u8])]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, content) in files {
            let path = dir.path().join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, content).unwrap();
        }
        dir
    }

    fn rels(scan: &Scan) -> Vec<&str> {
        scan.files.iter().map(|c| c.rel.as_str()).collect()
    }

    #[test]
    fn respects_gitignore_and_skips_hidden_and_git() {
        let dir = tree(&[
            (".gitignore", b"build/\n*.log\n"),
            ("src/a.py", b"x = 1\n"),
            ("build/out.py", b"y\n"),
            ("run.log", b"z\n"),
            (".hidden/b.py", b"h\n"),
            (".git/config", b"c\n"),
        ]);
        let s = scan(dir.path(), dir.path(), &ScanOptions::default()).unwrap();
        assert_eq!(rels(&s), vec!["src/a.py"]);
        let hidden = ScanOptions {
            hidden: true,
            ..ScanOptions::default()
        };
        let s = scan(dir.path(), dir.path(), &hidden).unwrap();
        assert_eq!(rels(&s), vec![".gitignore", ".hidden/b.py", "src/a.py"]);
    }

    #[test]
    fn skips_binary_large_and_non_utf8_with_reasons() {
        let big = vec![b'a'; 100];
        let dir = tree(&[
            ("bin.dat", b"ab\0cd"),
            ("big.txt", &big),
            ("latin.txt", b"caf\xe9\n"),
            ("ok.txt", b"ok\n"),
        ]);
        let options = ScanOptions {
            max_bytes: 50,
            ..ScanOptions::default()
        };
        let s = scan(dir.path(), dir.path(), &options).unwrap();
        assert_eq!(rels(&s), vec!["ok.txt"]);
        let reasons: Vec<(&str, &SkipReason)> =
            s.skipped.iter().map(|(p, r)| (p.as_str(), r)).collect();
        assert_eq!(
            reasons,
            vec![
                (
                    "big.txt",
                    &SkipReason::TooLarge {
                        bytes: 100,
                        limit: 50
                    }
                ),
                ("bin.dat", &SkipReason::Binary),
                ("latin.txt", &SkipReason::NotUtf8),
            ]
        );
    }

    #[test]
    fn paths_and_globs_narrow_the_scan() {
        let dir = tree(&[("a/x.py", b"1\n"), ("a/y.rs", b"2\n"), ("b/z.py", b"3\n")]);
        let options = ScanOptions {
            paths: vec!["a".into()],
            ..ScanOptions::default()
        };
        let s = scan(dir.path(), dir.path(), &options).unwrap();
        assert_eq!(rels(&s), vec!["a/x.py", "a/y.rs"]);
        let options = ScanOptions {
            globs: vec!["*.py".into(), "!b/**".into()],
            ..ScanOptions::default()
        };
        let s = scan(dir.path(), dir.path(), &options).unwrap();
        assert_eq!(rels(&s), vec!["a/x.py"]);
    }

    #[test]
    fn path_outside_root_or_missing_is_an_error() {
        let dir = tree(&[("a.txt", b"1\n")]);
        let other = tempfile::tempdir().unwrap();
        let options = ScanOptions {
            paths: vec![other.path().to_owned()],
            ..ScanOptions::default()
        };
        assert!(matches!(
            scan(dir.path(), dir.path(), &options),
            Err(ScanError::OutsideRoot { .. })
        ));
        let options = ScanOptions {
            paths: vec!["nope".into()],
            ..ScanOptions::default()
        };
        assert!(matches!(
            scan(dir.path(), dir.path(), &options),
            Err(ScanError::NoSuchPath(_))
        ));
    }
}

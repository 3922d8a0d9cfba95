//! Staged files already checked clean: a hook run (`codey check --staged`) skips a file whose
//! staged content it has already found nothing to do in, under the same rules and models.
//!
//! Owns the cache directory (`~/.cache/codey/checked`, beside the KV cache) and its keys: a
//! file's entry is keyed by its path, its content (the staged blob), and a fingerprint of
//! everything else that decides the outcome: codey's version, the jobs (rules and
//! instructions), the options that change answers, and each model's configuration and file
//! identity (path, size, modification time). Only files every job left unchanged or skipped are
//! recorded; a changed or failed file is always looked at again. Entries are empty files
//! named by their key; the oldest go when there are more than [`MAX_ENTRIES`]. It wraps
//! [`session::run`] and changes nothing else of a run; with `--no-kv-cache` it is not used.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::config::{Config, Role};
use crate::engine::Outcome;
use crate::event::Progress;
use crate::git;
use crate::hash::hex;
use crate::lifecycle::Lifecycle;
use crate::model::Backend;
use crate::session::{self, Plan, RunResult, SessionError};

/// Entries kept; each is an empty file, so this bounds inodes rather than bytes.
pub const MAX_ENTRIES: usize = 10_000;

/// The default directory: `$XDG_CACHE_HOME/codey/checked` (or the platform's cache directory).
pub fn default_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("codey").join("checked"))
}

/// A run, and how many staged files it did not look at because they were known clean.
#[derive(Debug)]
pub struct Checked {
    pub result: RunResult,
    pub known_clean: Vec<String>,
}

/// The directory of entries.
#[derive(Debug, Clone)]
pub struct CleanCache {
    dir: PathBuf,
}

impl CleanCache {
    pub fn new(dir: PathBuf) -> Self {
        CleanCache { dir }
    }

    /// Everything besides the file that decides what a run finds in it.
    pub fn fingerprint(plan: &Plan, config: &Config) -> String {
        let mut h = Sha256::new();
        h.update(env!("CARGO_PKG_VERSION").as_bytes());
        // Debug output is stable within one build, and the version is part of the key.
        h.update(format!("{:?}", plan.jobs).as_bytes());
        h.update(
            format!(
                "{:?} {:?} {} {} {} {:?} {} {:?} {} {}",
                plan.role,
                plan.router_judge,
                plan.router_margin,
                plan.rounds,
                plan.escalate,
                config.escalation,
                plan.speculate,
                plan.verify.as_ref().map(|v| &v.command),
                plan.strict,
                plan.scan.max_bytes,
            )
            .as_bytes(),
        );
        h.update(
            serde_json::to_string(&config.models)
                .unwrap_or_default()
                .as_bytes(),
        );
        for role in Role::ALL {
            let path = config.model_path(role);
            h.update(path.to_string_lossy().as_bytes());
            if let Ok(meta) = std::fs::metadata(&path) {
                h.update(meta.len().to_le_bytes());
                if let Ok(since) = meta
                    .modified()
                    .map(|m| m.duration_since(std::time::UNIX_EPOCH))
                {
                    h.update(since.unwrap_or_default().as_nanos().to_le_bytes());
                }
            }
        }
        hex(&h.finalize())
    }

    /// The key of `path` with `content` under `fingerprint`.
    pub fn key(fingerprint: &str, path: &str, content: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(fingerprint.as_bytes());
        h.update((path.len() as u64).to_le_bytes());
        h.update(path.as_bytes());
        h.update(content);
        hex(&h.finalize())
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.dir.join(key)
    }

    pub fn is_clean(&self, key: &str) -> bool {
        self.entry(key).is_file()
    }

    /// Records `key` as clean. Failures only cost the next run a look at the file.
    pub fn mark_clean(&self, key: &str) {
        if std::fs::create_dir_all(&self.dir).is_ok()
            && std::fs::write(self.entry(key), b"").is_ok()
        {
            self.trim();
        }
    }

    /// Removes the oldest entries beyond [`MAX_ENTRIES`].
    fn trim(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
            .flatten()
            .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
            .collect();
        if files.len() <= MAX_ENTRIES {
            return;
        }
        files.sort();
        let excess = files.len() - MAX_ENTRIES;
        for (_, path) in files.into_iter().take(excess) {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Whether every job left `path` alone: unchanged, out of scope, not due, or skipped by the
/// scan. A file no job selected is not recorded: it cost nothing.
fn clean(result: &RunResult, path: &str) -> bool {
    let mut seen = false;
    for report in &result.reports {
        for f in report.files.iter().filter(|f| f.path == path) {
            seen = true;
            if matches!(f.outcome, Outcome::Changed { .. } | Outcome::Failed(_)) {
                return false;
            }
        }
    }
    seen
}

/// Runs `plan` as [`session::run`] does; under `--staged` with the cache on, staged files
/// known clean are left out of the run and files found clean are recorded.
pub fn run<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    plan: &Plan,
    cwd: &Path,
    root: &Path,
    progress: &dyn Progress,
) -> Result<Checked, SessionError> {
    let cache = default_dir().filter(|_| plan.staged && plan.kv_cache);
    let (Some(dir), Some(repo)) = (cache, git::discover(cwd)) else {
        return Ok(Checked {
            result: session::run(lifecycle, plan, cwd, root, progress)?,
            known_clean: Vec::new(),
        });
    };
    run_cached(
        lifecycle,
        plan,
        cwd,
        root,
        progress,
        &CleanCache::new(dir),
        &repo,
    )
}

fn run_cached<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    plan: &Plan,
    cwd: &Path,
    root: &Path,
    progress: &dyn Progress,
    cache: &CleanCache,
    repo: &git2::Repository,
) -> Result<Checked, SessionError> {
    let fingerprint = CleanCache::fingerprint(plan, lifecycle.config());
    let keyed: Vec<(String, String)> = git::staged(repo)?
        .into_iter()
        .map(|f| {
            let key = CleanCache::key(&fingerprint, &f.path, &f.content);
            (f.path, key)
        })
        .collect();
    let (known, unknown): (Vec<_>, Vec<_>) =
        keyed.into_iter().partition(|(_, k)| cache.is_clean(k));
    let mut narrowed = plan.clone();
    narrowed
        .scan
        .exclude
        .extend(known.iter().map(|(p, _)| p.clone()));
    let result = session::run(lifecycle, &narrowed, cwd, root, progress)?;
    for (path, key) in &unknown {
        if clean(&result, path) {
            cache.mark_clean(key);
        }
    }
    Ok(Checked {
        result,
        known_clean: known.into_iter().map(|(p, _)| p).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_the_path_the_content_and_the_fingerprint() {
        let k = CleanCache::key("fp", "a.py", b"x = 1\n");
        assert_eq!(k, CleanCache::key("fp", "a.py", b"x = 1\n"));
        assert_ne!(k, CleanCache::key("fp", "b.py", b"x = 1\n"));
        assert_ne!(k, CleanCache::key("fp", "a.py", b"x = 2\n"));
        assert_ne!(k, CleanCache::key("other", "a.py", b"x = 1\n"));
    }

    #[test]
    fn marked_keys_are_clean_and_others_are_not() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CleanCache::new(dir.path().to_owned());
        cache.mark_clean("k");
        assert!(cache.is_clean("k"));
        assert!(!cache.is_clean("other"));
    }
}

//! The on-disk KV cache: prompt states kept across runs, so a second run over unchanged files
//! (the pre-commit and CI case) skips their prompt processing.
//!
//! Owns the cache directory: entries keyed by a hash of the model's identity and the exact
//! prompt tokens (system prompt, instruction and the file's blob all go into the prompt), a
//! size bound enforced by evicting the least recently used entries, and writing entries
//! atomically with a seal (length and SHA-256). An entry that does not match its seal, or that
//! llama.cpp refuses, is removed; the prompt is then processed as if there were no cache.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::hash::{hex, sha256_file};
use crate::model::{LanguageModel, Token};

/// A cache directory with a size bound.
#[derive(Debug, Clone)]
pub struct KvCache {
    dir: PathBuf,
    max_bytes: u64,
}

/// The default directory: `$XDG_CACHE_HOME/codey/kv` (or the platform's cache directory).
pub fn default_dir() -> Option<PathBuf> {
    dirs::cache_dir().map(|d| d.join("codey").join("kv"))
}

impl KvCache {
    pub fn new(dir: PathBuf, max_mb: u64) -> Self {
        KvCache {
            dir,
            max_bytes: max_mb.saturating_mul(1024 * 1024),
        }
    }

    /// The key of a prompt for a model: the model file's identity (path, size, modification
    /// time — a replaced file is a different model) and every prompt token.
    pub fn key(model_path: &Path, prompt: &[Token]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(model_path.to_string_lossy().as_bytes());
        if let Ok(meta) = std::fs::metadata(model_path) {
            hasher.update(meta.len().to_le_bytes());
            if let Ok(modified) = meta.modified() {
                if let Ok(since) = modified.duration_since(std::time::UNIX_EPOCH) {
                    hasher.update(since.as_nanos().to_le_bytes());
                }
            }
        }
        for t in prompt {
            hasher.update(t.to_le_bytes());
        }
        hex(&hasher.finalize())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.kv"))
    }

    /// The entry's seal: its length and SHA-256, written once the entry is complete.
    /// llama.cpp aborts the process on a truncated state file instead of failing, so an entry
    /// is handed to it only when its bytes match their seal.
    fn seal_path(&self, key: &str) -> PathBuf {
        self.dir.join(format!("{key}.sum"))
    }

    fn seal_of(path: &Path) -> Option<String> {
        let len = std::fs::metadata(path).ok()?.len();
        let digest = sha256_file(path).ok()?;
        Some(format!("{len} {digest}\n"))
    }

    fn sealed(&self, key: &str) -> bool {
        match (
            std::fs::read_to_string(self.seal_path(key)),
            Self::seal_of(&self.path(key)),
        ) {
            (Ok(seal), Some(actual)) => seal == actual,
            _ => false,
        }
    }

    fn remove(&self, key: &str) {
        let _ = std::fs::remove_file(self.path(key));
        let _ = std::fs::remove_file(self.seal_path(key));
    }

    /// Loads the entry for `key` into `model` when it starts with `prompt` (an entry is saved
    /// after its answer, which is cut off again here). Returns whether it did; a bad entry is
    /// removed.
    pub fn restore<M: LanguageModel + ?Sized>(
        &self,
        model: &mut M,
        key: &str,
        prompt: &[Token],
    ) -> bool {
        let path = self.path(key);
        if !path.is_file() {
            return false;
        }
        if !self.sealed(key) {
            tracing::debug!(path = %path.display(), "KV cache entry does not match its seal; removed");
            self.remove(key);
            return false;
        }
        match model.load_state(&path) {
            Ok(tokens) if tokens.len() >= prompt.len() && tokens[..prompt.len()] == *prompt => {
                model.truncate(prompt.len());
                // Mark it recently used for the LRU bound.
                if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
                true
            }
            Ok(_) | Err(_) => {
                tracing::debug!(path = %path.display(), "unusable KV cache entry removed");
                model.truncate(0);
                self.remove(key);
                false
            }
        }
    }

    /// Saves `model`'s KV cache (the prompt, and the answer after it) under `key`, atomically,
    /// then trims the directory to its size bound. Failures only cost the next run its head
    /// start.
    pub fn store<M: LanguageModel + ?Sized>(&self, model: &M, key: &str) {
        if self.max_bytes == 0 || std::fs::create_dir_all(&self.dir).is_err() {
            return;
        }
        let path = self.path(key);
        let tmp = self.dir.join(format!(".{key}.{}.tmp", std::process::id()));
        match model.save_state(&tmp) {
            Ok(_) => {
                let seal = Self::seal_of(&tmp);
                let seal_tmp = self
                    .dir
                    .join(format!(".{key}.{}.sum.tmp", std::process::id()));
                let sealed = seal.is_some_and(|seal| std::fs::write(&seal_tmp, seal).is_ok())
                    && std::fs::rename(&tmp, &path).is_ok()
                    && std::fs::rename(&seal_tmp, self.seal_path(key)).is_ok();
                if !sealed {
                    let _ = std::fs::remove_file(&tmp);
                    let _ = std::fs::remove_file(&seal_tmp);
                    self.remove(key);
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "KV cache entry not saved");
                let _ = std::fs::remove_file(&tmp);
            }
        }
        self.trim();
    }

    /// Removes the least recently used entries until the directory fits its bound.
    fn trim(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "kv"))
            .filter_map(|e| {
                let meta = e.metadata().ok()?;
                Some((meta.modified().ok()?, meta.len(), e.path()))
            })
            .collect();
        let mut total: u64 = files.iter().map(|f| f.1).sum();
        files.sort();
        for (_, len, path) in files {
            if total <= self.max_bytes {
                break;
            }
            if std::fs::remove_file(&path).is_ok() {
                let _ = std::fs::remove_file(path.with_extension("sum"));
                total -= len;
            }
        }
    }
}

/// The first bytes of an entry: codey's format, version 1.
const ENTRY_MAGIC: &[u8; 8] = b"codeykv1";

/// An entry's bytes: the magic, the token count (u32, little-endian), the tokens (i32 each)
/// and the model's opaque state. Written and read by codey itself, so that llama.cpp only
/// ever sees the state as a bounded buffer.
pub fn encode_entry(tokens: &[Token], state: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(12 + tokens.len() * 4 + state.len());
    out.extend_from_slice(ENTRY_MAGIC);
    out.extend_from_slice(
        &u32::try_from(tokens.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for t in tokens {
        out.extend_from_slice(&t.to_le_bytes());
    }
    out.extend_from_slice(state);
    out
}

/// The tokens and state of an entry, checked against what the model can hold: at least one
/// token, no more than `context_size`, and a state after them.
pub fn decode_entry(bytes: &[u8], context_size: usize) -> Result<(Vec<Token>, &[u8]), String> {
    let rest = bytes
        .strip_prefix(ENTRY_MAGIC)
        .ok_or("not a codey KV cache entry")?;
    let (count, rest) = rest.split_first_chunk::<4>().ok_or("cut off")?;
    let count = u32::from_le_bytes(*count) as usize;
    if count == 0 || count > context_size {
        return Err(format!(
            "holds {count} tokens; the context holds 1 to {context_size}"
        ));
    }
    let (tokens, state) = rest
        .split_at_checked(count * 4)
        .ok_or("cut off in its tokens")?;
    if state.is_empty() {
        return Err("holds no state".into());
    }
    let tokens = tokens
        .chunks_exact(4)
        .map(|c| Token::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    Ok((tokens, state))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_bad_ones_are_refused_before_any_model_sees_them() {
        let bytes = encode_entry(&[1, -2, 70000], b"state");
        let (tokens, state) = decode_entry(&bytes, 8).unwrap();
        assert_eq!((tokens, state), (vec![1, -2, 70000], &b"state"[..]));
        assert!(decode_entry(&bytes, 2).unwrap_err().contains("1 to 2"));
        assert!(decode_entry(&bytes[..10], 8).is_err());
        assert!(decode_entry(&bytes[..20], 8).is_err(), "no state");
        assert!(decode_entry(&encode_entry(&[], b"s"), 8).is_err());
        assert!(decode_entry(b"ggsq\x01\0\0\0rest", 8).is_err());
        let mut huge = bytes.clone();
        huge[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(decode_entry(&huge, 8).is_err());
    }

    #[test]
    fn keys_depend_on_model_and_every_token() {
        let dir = tempfile::tempdir().unwrap();
        let model = dir.path().join("m.gguf");
        std::fs::write(&model, b"GGUF").unwrap();
        let a = KvCache::key(&model, &[1, 2, 3]);
        assert_eq!(a, KvCache::key(&model, &[1, 2, 3]));
        assert_ne!(a, KvCache::key(&model, &[1, 2, 4]));
        std::fs::write(&model, b"GGUF and more").unwrap();
        assert_ne!(a, KvCache::key(&model, &[1, 2, 3]), "a replaced model");
    }

    #[test]
    fn only_entries_matching_their_seal_are_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let cache = KvCache::new(dir.path().to_owned(), 16);
        std::fs::write(cache.path("k"), b"state bytes").unwrap();
        assert!(!cache.sealed("k"), "no seal yet");
        let seal = KvCache::seal_of(&cache.path("k")).unwrap();
        std::fs::write(cache.seal_path("k"), &seal).unwrap();
        assert!(cache.sealed("k"));
        std::fs::write(cache.path("k"), b"state by").unwrap();
        assert!(!cache.sealed("k"), "truncated");
        std::fs::write(cache.path("k"), b"state bytez").unwrap();
        assert!(!cache.sealed("k"), "same length, other bytes");
    }

    #[test]
    fn trim_keeps_the_most_recently_used_entries_within_the_bound() {
        let dir = tempfile::tempdir().unwrap();
        let cache = KvCache::new(dir.path().to_owned(), 1);
        let now = std::time::SystemTime::now();
        for (i, name) in ["old", "mid", "new"].iter().enumerate() {
            let path = dir.path().join(format!("{name}.kv"));
            std::fs::write(&path, vec![0u8; 400 * 1024]).unwrap();
            let f = std::fs::File::options().append(true).open(&path).unwrap();
            f.set_modified(now - std::time::Duration::from_secs(100 - i as u64 * 10))
                .unwrap();
        }
        cache.trim();
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, vec!["mid.kv", "new.kv"]);
    }
}

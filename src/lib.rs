//! codey: edit whole repositories with local language models and hand the result back as a
//! patch, worktree edits or a commit.
//!
//! The library owns every step and never prints; `session` owns a run (`scan` → `router` →
//! `lifecycle`/`engine` → `edit` → `diff` → `output`/`git`, with `atomic` below both) and
//! reports progress through `event`. The `codey` binary wires command-line arguments to it and
//! maps its results to exit codes.

pub mod atomic;
pub mod bench;
pub mod checked;
pub mod config;
pub mod diff;
pub mod edit;
pub mod engine;
pub mod eval;
pub mod event;
pub mod fetch;
pub mod generate;
pub mod git;
pub mod hash;
pub mod hook;
pub mod kvcache;
pub mod lifecycle;
pub mod llama;
pub mod loaded;
pub mod model;
pub mod output;
pub mod prompt;
pub mod remote;
pub mod router;
pub mod rules;
pub mod scan;
#[cfg(any(test, feature = "scripted"))]
pub mod scripted;
pub mod session;
pub mod shard;
pub mod syntax;
pub mod verify;

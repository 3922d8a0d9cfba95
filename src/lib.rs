//! codey: edit whole repositories with local language models and hand the result back as a
//! patch, worktree edits or a commit.
//!
//! The library owns every step (`scan` → `router` → `lifecycle`/`engine` → `edit` → `diff` →
//! `output`/`git`) and never prints; the `codey` binary wires command-line arguments to it and
//! maps its errors to exit codes.

pub mod bench;
pub mod config;
pub mod diff;
pub mod edit;
pub mod engine;
pub mod generate;
pub mod git;
pub mod kvcache;
pub mod lifecycle;
pub mod llama;
pub mod model;
pub mod output;
pub mod prompt;
pub mod router;
pub mod rules;
pub mod scan;
pub mod scripted;

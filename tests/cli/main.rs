//! Model-free integration tests: the real `codey` binary, built with the `scripted` feature,
//! on real temporary git repositories, with scripted models answering from the JSON script
//! named by `CODEY_SCRIPT` (`TestRepo::script`). Deterministic and quick: every answer is
//! known, so patches, files and git state are checked exactly. Tests that exercise the real
//! backend's checks of model files (missing, corrupt, truncated) use no script and no weights.
//!
//! The tests on the real default models are the `models` target.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod ci;
#[path = "../common/mod.rs"]
mod common;
mod crash;
mod edit;
mod fidelity;
mod git;
mod git_state;
mod hooks;
mod hostile;
mod property;
mod remote;
mod rules;
mod scenarios;
mod terminal;

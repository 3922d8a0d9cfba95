//! Integration tests on the real default models: the real `codey` binary, llama.cpp, real
//! temporary git repositories. Fewer and slower than the `cli` target's scripted ones; they
//! check what only real models can: the pipeline end to end, the router's accuracy, the
//! lifecycle manager's figures, the speed features, and one real pre-commit framework run.
//!
//! One test binary for all of them keeps link time low (llama.cpp makes each binary large).
//! The models must be present (`scripts/fetch-models.sh`, which the test script runs): a test
//! that needs one fails with that instruction rather than skipping (`common::real_models`).

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../common/mod.rs"]
mod common;
mod eval;
mod hooks;
mod lifecycle;
mod pipeline;
mod router;
mod server;
mod speed;

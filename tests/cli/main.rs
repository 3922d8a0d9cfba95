//! Integration tests: the real `codey` binary, real default models, real temporary git repos.
//!
//! One test binary for all of them keeps link time low (llama.cpp makes each binary large).
//! The models must be present (`scripts/fetch-models.sh`, which the test script runs): a test
//! that needs one fails with that instruction rather than skipping.

// Test helpers panic on failure by design.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod crash;
mod edit;
mod fidelity;
mod git;
mod hooks;
mod hostile;
mod lifecycle;
mod router;
mod rules;
mod speed;

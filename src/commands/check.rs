//! `codey check`: every rule of the repository's `.codey.json`, in order, each on the previous
//! rule's output; exit 1 when edits are due (CI, hooks).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use codey::session::Job;

use crate::cli::{RunArgs, EXIT_CODES};
use crate::commands::edit::{execute, locate};

#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct CheckArgs {
    /// Files or directories to check (default: the whole repository).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs `codey check`.
pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let (cwd, root) = locate()?;
    let jobs = Job::all_rules(&root)?;
    execute(jobs, args.paths, &args.run, true, &cwd, &root)
}

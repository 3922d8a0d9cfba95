//! `codey check`: every rule of the repository's `.codey.json`, in order, each on the previous
//! rule's output; exit 1 when edits are due (CI, hooks).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use codey::session::Job;

use crate::cli::{examples_and_exit_codes, RunArgs, Ui};
use crate::commands::edit::{execute, locate, Request};

const EXAMPLES: &str = "\
Examples:
  codey check                                  # CI: exit 1 when the rules want edits
  codey check --patch codey.patch src/         # keep the patch as an artifact
  codey check --staged --write                 # what `codey hook install` runs
  codey check --write a.py b.py                # these worktree files (the pre-commit hook)";

#[derive(Debug, Args)]
#[command(after_help = examples_and_exit_codes(EXAMPLES))]
pub struct CheckArgs {
    /// Files or directories to check, as they are in the worktree (default: the whole
    /// repository). The rules' paths still select among them, and so does each rule's scope
    /// check: the pre-commit framework names every file it passes.
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Runs `codey check`.
pub fn run(args: CheckArgs, ui: Ui) -> Result<ExitCode> {
    let (cwd, root) = locate()?;
    let request = Request {
        jobs: Job::all_rules(&root)?,
        paths: args.paths,
        check: true,
        named_in_scope: false,
    };
    execute(request, &args.run, &cwd, &root, ui)
}

//! `codey hook install`: the plain git pre-commit hook that runs `codey check --staged --write`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use codey::rules;

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write .git/hooks/pre-commit so every `git commit` runs `codey check --staged --write`.
    Install {
        /// Replace an existing pre-commit hook that codey did not write.
        #[arg(long)]
        force: bool,
    },
}

/// Runs `codey hook …`.
pub fn run(command: HookCommand) -> Result<ExitCode> {
    match command {
        HookCommand::Install { force } => install(force),
    }
}

fn install(force: bool) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let exe = std::env::current_exe().context("cannot find codey's own executable")?;
    let path = codey::git::install_hook(&cwd, &exe, force)?;
    eprintln!(
        "installed {}: every `git commit` now runs the rules of {} on the staged files",
        path.display(),
        rules::FILE_NAME
    );
    Ok(ExitCode::SUCCESS)
}

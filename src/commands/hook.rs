//! `codey hook install|uninstall`: the plain git pre-commit hook that runs
//! `codey check --staged --write`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Subcommand;

use codey::hook::{self, Uninstalled};
use codey::rules;

use crate::cli::Ui;

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write .git/hooks/pre-commit so every `git commit` runs `codey check --staged --write`
    /// (codey is looked up on PATH when the hook runs). Needs a .codey.json.
    #[command(after_help = "Examples:
  codey hook install            # in a repository with a .codey.json
  codey hook install --force    # replace another pre-commit hook, or install before the rules")]
    Install {
        /// Replace an existing pre-commit hook that codey did not write, and install even
        /// when the repository has no .codey.json yet.
        #[arg(long)]
        force: bool,
    },
    /// Remove the pre-commit hook if codey wrote it; anyone else's hook is left alone.
    Uninstall,
}

/// Runs `codey hook …`.
pub fn run(command: HookCommand, ui: Ui) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let said = match command {
        HookCommand::Install { force } => {
            let path = hook::install(&cwd, force)?;
            format!(
                "installed {}: every `git commit` now runs the rules of {} on the staged files",
                path.display(),
                rules::FILE_NAME
            )
        }
        HookCommand::Uninstall => match hook::uninstall(&cwd)? {
            Uninstalled::Removed(path) => format!("removed {}", path.display()),
            Uninstalled::Absent(path) => {
                format!("no hook at {}: nothing to remove", path.display())
            }
        },
    };
    if !ui.quiet {
        eprintln!("{said}");
    }
    Ok(ExitCode::SUCCESS)
}

//! `codey completions SHELL`: the shell completion script, generated from the parser itself
//! so it never falls behind the flags.

use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::Cli;

/// Runs `codey completions`.
pub fn run(shell: clap_complete::Shell) -> Result<ExitCode> {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "codey", &mut std::io::stdout().lock());
    Ok(ExitCode::SUCCESS)
}

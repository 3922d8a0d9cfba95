//! `codey man [SUBCOMMAND]`: the manual page, generated from the parser (clap_mangen), as roff
//! on stdout: `codey man | man -l -` reads it, `codey man > codey.1` installs it.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, CommandFactory};

use crate::cli::Cli;

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  codey man | man -l -                     # read it now
  codey man > ~/.local/share/man/man1/codey.1
  codey man edit > ~/.local/share/man/man1/codey-edit.1")]
pub struct ManArgs {
    /// The subcommand whose page to print (default: codey's own page).
    pub subcommand: Option<String>,
}

/// Runs `codey man`.
pub fn run(args: &ManArgs) -> Result<ExitCode> {
    let mut codey = Cli::command();
    // Building propagates the global flags and `codey <name>` usage lines to subcommands.
    codey.build();
    let man = match &args.subcommand {
        None => clap_mangen::Man::new(codey),
        Some(name) => match codey.find_subcommand(name) {
            Some(sub) => clap_mangen::Man::new(sub.clone()).title(format!("codey-{name}")),
            None => {
                let known: Vec<&str> = codey.get_subcommands().map(|c| c.get_name()).collect();
                bail!("no subcommand {name:?} (known: {})", known.join(", "))
            }
        },
    };
    man.render(&mut std::io::stdout().lock())?;
    Ok(ExitCode::SUCCESS)
}

//! One file per subcommand: each parses its own arguments into a library call and renders
//! what comes back. Nothing here decides what a run does; `codey::session` does.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Cli, Command};

pub mod bench;
pub mod check;
pub mod edit;
pub mod eval;
pub mod eval_router;
pub mod hook;
pub mod models;

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Edit(args) => edit::run(*args),
        Command::Check(args) => check::run(*args),
        Command::Bench(args) => bench::run(&args),
        Command::Hook(command) => hook::run(command),
        Command::Models(args) => models::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::EvalRouter(args) => eval_router::run(&args),
    }
}

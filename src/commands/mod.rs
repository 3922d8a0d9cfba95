//! One file per subcommand: each parses its own arguments into a library call and renders
//! what comes back. Nothing here decides what a run does; `codey::session` does.

use std::process::ExitCode;

use anyhow::Result;

use crate::cli::{Command, Ui};

pub mod bench;
pub mod check;
pub mod completions;
pub mod edit;
pub mod eval;
pub mod eval_router;
pub mod hook;
pub mod man;
pub mod models;

/// Runs the parsed command.
pub fn run(command: Command, ui: Ui) -> Result<ExitCode> {
    match command {
        Command::Edit(args) => edit::run(*args, ui),
        Command::Check(args) => check::run(*args, ui),
        Command::Bench(args) => bench::run(&args, ui),
        Command::Hook(command) => hook::run(command, ui),
        Command::Models(args) => models::run(&args, ui),
        Command::Eval(args) => eval::run(&args, ui),
        Command::EvalRouter(args) => eval_router::run(&args),
        Command::Completions { shell } => completions::run(shell),
        Command::Man(args) => man::run(&args),
    }
}

//! The `codey` binary: parses arguments, runs the command, maps the outcome to an exit code.
//!
//! Exit codes: 0 nothing to change (or changes printed/applied), 1 changes found with `--check`,
//! 2 error (including any file that failed). A closed stdout (`codey edit … | head`) exits 0.

mod cli;
mod commands;
mod progress;
mod render;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = cli::parse();
    let ui = cli::Ui {
        quiet: args.quiet,
        color: args.color.enabled(),
    };
    cli::init_tracing(args.verbose, ui.color);
    match commands::run(args.command, ui) {
        Ok(code) => code,
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("{}", render::error(&err, ui.color));
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

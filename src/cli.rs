//! Command-line arguments and the commands that wire them to the library.
//!
//! Everything printed happens here or in `progress`: the product (patch, JSON, tables) on
//! stdout, progress and summaries on stderr.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use codey::config::{self, Role};
use codey::engine::{self, EditRequest};
use codey::lifecycle::{mb, Lifecycle};
use codey::llama::Llama;
use codey::output::{self, Mode};
use codey::router;
use codey::scan::{self, ScanOptions};

use crate::progress::Bar;

/// Edit whole repositories with local language models; get a patch or a commit back.
#[derive(Debug, Parser)]
#[command(name = "codey", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More logging on stderr (-v: codey, -vv: llama.cpp too). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Edit files by an instruction and print (or write, or commit) the result.
    Edit(Box<EditArgs>),
    /// Show the configured models: where they are, whether they exist, their memory estimates.
    Models(ModelArgs),
    /// Measure the router's accuracy on a labelled case set (JSON on stdout).
    EvalRouter(EvalArgs),
}

/// Which editor model `--role` forces.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Coder,
    Algorithm,
}

impl From<RoleArg> for Role {
    fn from(r: RoleArg) -> Role {
        match r {
            RoleArg::Coder => Role::Coder,
            RoleArg::Algorithm => Role::Algorithm,
        }
    }
}

/// What goes to stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The unified diff (git apply accepts it).
    Patch,
    /// A machine-readable report: per file outcome, role, reason, tokens, time; models; patch.
    Json,
}

/// Options shared by every command that reads the configuration.
#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Configuration file (default: <config dir>/codey/config.json, else built-in defaults).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory that relative model paths resolve against (overrides model_dir).
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    /// Memory budget for all loaded models together, in MB (overrides memory_budget_mb).
    #[arg(long, value_name = "MB")]
    pub memory_budget_mb: Option<u64>,
}

impl ConfigArgs {
    fn load(&self) -> Result<config::Loaded> {
        let mut loaded = config::load(self.config.as_deref())?;
        if let Some(dir) = &self.model_dir {
            loaded.config.model_dir = dir.clone();
        }
        if let Some(budget) = self.memory_budget_mb {
            loaded.config.memory_budget_mb = budget;
        }
        let origin = loaded
            .source
            .clone()
            .unwrap_or_else(|| "(defaults and flags)".into());
        loaded.config.validate(&origin)?;
        if let Some(backup) = &loaded.migrated_backup {
            eprintln!(
                "codey: migrated the single-model config to the multi-model shape; old file kept at {}",
                backup.display()
            );
        }
        Ok(loaded)
    }
}

#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes: 0 nothing to change (or edits printed, written or committed), \
1 edits are due (--check), 2 error: a bad argument, config or model, or any file that failed.\n\
stdout carries only the patch (or the JSON report); progress and the summary go to stderr."
)]
pub struct EditArgs {
    /// What to change, in plain words.
    pub instruction: String,
    /// Files or directories to edit (default: the whole repository or current directory).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Use this editor for every file instead of asking the router model.
    #[arg(long, value_enum)]
    pub role: Option<RoleArg>,
    /// Include files matching GLOB; `!GLOB` excludes. Repeatable.
    #[arg(short, long = "glob", value_name = "GLOB")]
    pub globs: Vec<String>,
    /// Also edit hidden files and directories.
    #[arg(long)]
    pub hidden: bool,
    /// Skip files larger than this many bytes.
    #[arg(long, value_name = "BYTES", default_value_t = scan::DEFAULT_MAX_BYTES)]
    pub max_file_bytes: u64,
    /// Write the patch to FILE instead of stdout (written even when empty).
    #[arg(long, value_name = "FILE")]
    pub patch: Option<PathBuf>,
    /// Apply the edits to the files in the worktree.
    #[arg(long, conflicts_with = "commit")]
    pub write: bool,
    /// Commit the edits on the current branch; the message records the instruction.
    #[arg(long)]
    pub commit: bool,
    /// Exit with 1 when edits are due (CI); the patch is still printed.
    #[arg(long)]
    pub check: bool,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "patch")]
    pub format: Format,
    /// Threads for llama.cpp (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Router confidence (log-probability margin) below which the keyword rule decides.
    #[arg(long, value_name = "LOGPROB", default_value_t = router::DEFAULT_MARGIN)]
    pub router_margin: f32,
    /// No progress bar on stderr.
    #[arg(long)]
    pub no_progress: bool,
}

#[derive(Debug, Args)]
pub struct ModelArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
}

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

/// Sends llama.cpp's and codey's logs to stderr at the chosen verbosity.
pub fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn,llama-cpp-2=off,llama_cpp_2=off",
        1 => "codey=debug,llama-cpp-2=warn,llama_cpp_2=warn",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Edit(args) => edit(*args),
        Command::Models(args) => models(&args),
        Command::EvalRouter(args) => eval_router(&args),
    }
}

fn edit(args: EditArgs) -> Result<ExitCode> {
    let loaded = args.config.load()?;
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = codey::git::root(&cwd);
    let scan_options = ScanOptions {
        paths: args.paths.clone(),
        globs: args.globs.clone(),
        max_bytes: args.max_file_bytes,
        hidden: args.hidden,
    };
    let scanned = scan::scan(&root, &cwd, &scan_options)?;
    let mut lifecycle = Lifecycle::new(Llama, loaded.config, loaded.source);
    if let Some(threads) = args.threads {
        lifecycle = lifecycle.with_threads(threads);
    }
    let mut bar = Bar::new(!args.no_progress);
    let events = bar.clone();
    lifecycle.on_event(move |e| events.lifecycle(e));
    let request = EditRequest {
        instruction: args.instruction.clone(),
        role: args.role.map(Role::from),
        router_margin: args.router_margin,
    };
    let report = engine::run(
        &mut lifecycle,
        &request,
        scanned.files,
        &scanned.skipped,
        &mut bar,
    );
    bar.finish();

    let mode = match (args.write, args.commit) {
        (true, _) => Mode::Write,
        (_, true) => Mode::Commit,
        _ => Mode::Patch,
    };
    let patch = output::patch(&report);
    if let Some(file) = &args.patch {
        std::fs::write(file, &patch).with_context(|| format!("cannot write {}", file.display()))?;
    }
    let written = match mode {
        Mode::Patch => None,
        Mode::Write => Some(output::write_worktree(&root, &report)),
        Mode::Commit => Some(output::commit(
            &root,
            &report,
            &output::commit_message(&args.instruction),
        )?),
    };

    // A reader that went away (`codey edit … | head`) is not an error, but the exit code must
    // still say whether edits are due or files failed.
    print_product(&report, &patch, written.as_ref(), &args, mode).or_else(ignore_broken_pipe)?;

    eprint!("{}", output::summary(&report));
    let mut refused = 0;
    if let Some(w) = &written {
        for (path, reason) in &w.refused {
            eprintln!("not written: {path}: {reason}");
        }
        refused = w.refused.len();
        if let Some(commit) = &w.commit {
            eprintln!("committed {commit} ({} file(s))", w.files.len());
        } else if mode == Mode::Write {
            eprintln!("wrote {} file(s)", w.files.len());
        }
    }
    Ok(exit_code(
        report.count("failed") + refused,
        report.count("changed"),
        args.check,
    ))
}

/// Writes the product of an edit (patch or JSON) to stdout.
fn print_product(
    report: &engine::Report,
    patch: &str,
    written: Option<&output::Written>,
    args: &EditArgs,
    mode: Mode,
) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            let json = serde_json::json!({ "report": report, "patch": patch, "written": written });
            serde_json::to_writer_pretty(&mut stdout, &json)?;
            writeln!(stdout)?;
        }
        Format::Patch if args.patch.is_none() && (mode == Mode::Patch || args.check) => {
            stdout.write_all(patch.as_bytes())?;
        }
        Format::Patch => {}
    }
    stdout.flush()
}

fn ignore_broken_pipe(e: std::io::Error) -> std::io::Result<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(e)
    }
}

/// 2 when anything failed, 1 when `--check` found edits, else 0.
fn exit_code(failed: usize, changed: usize, check: bool) -> ExitCode {
    if failed > 0 {
        ExitCode::from(2)
    } else if check && changed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn models(args: &ModelArgs) -> Result<ExitCode> {
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

fn eval_router(args: &EvalArgs) -> Result<ExitCode> {
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

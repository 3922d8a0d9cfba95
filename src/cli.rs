//! The command line: the top-level parser, the options several commands share, how output
//! looks (`--quiet`, `--color`), and logging.
//!
//! Each subcommand's own arguments live with it in `commands/`; this file only parses.

use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use codey::config::{self, Role};
use codey::remote::Endpoint;
use codey::scan;
use codey::shard::Shard;

use crate::commands::{bench, check, edit, eval, eval_router, hook, man, models};

pub const EXIT_CODES: &str =
    "Exit codes: 0 nothing to change (or edits printed, written or committed), \
1 edits are due (--check, codey check), 2 error: a bad argument, config or model, any file that \
failed or was refused, or an edit that adds invisible or bidirectional control characters.\n\
stdout carries only the patch (or the JSON report); progress and the summary go to stderr.";

/// A command's examples followed by the exit codes, for its `--help`.
pub fn examples_and_exit_codes(examples: &str) -> String {
    format!("{examples}\n\n{EXIT_CODES}")
}

const EXAMPLES: &str = "\
Examples:
  codey edit 'add type hints to the public functions' src/    # the patch on stdout
  codey edit 'rename `cfg` to `config`' --write              # edit the files in place
  codey check                                                # the rules of .codey.json (CI)
  codey hook install                                         # run them on every git commit
  codey models fetch                                         # download the default models
  codey completions bash > ~/.local/share/bash-completion/completions/codey";

/// Edit whole repositories with local language models; get a patch or a commit back.
#[derive(Debug, Parser)]
#[command(name = "codey", version, propagate_version = true, after_help = EXAMPLES)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// More logging on stderr (-v: codey, -vv: llama.cpp too). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Print only the product (the patch, JSON or tables on stdout), warnings and errors: no
    /// progress, no summary.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to colour stderr: auto (a terminal, unless NO_COLOR is set), always, never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Edit files by an instruction and print (or write, or commit) the result.
    Edit(Box<edit::EditArgs>),
    /// Run every rule of the repository's .codey.json and exit 1 when edits are due (CI, hooks).
    Check(Box<check::CheckArgs>),
    /// Measure where the time goes: codey against raw llama.cpp, speculation, prefix reuse, scan.
    Bench(bench::BenchArgs),
    /// Install or remove codey as the repository's git pre-commit hook.
    #[command(subcommand)]
    Hook(hook::HookCommand),
    /// Show the configured models (where they are, whether they exist, their memory
    /// estimates), or fetch the default ones.
    Models(models::ModelArgs),
    /// Measure how often edits are right on tasks with known answers (pass@1, after retries).
    Eval(eval::EvalArgs),
    /// Measure the router's accuracy on a labelled case set (JSON on stdout).
    EvalRouter(eval_router::EvalArgs),
    /// Print a shell completion script to stdout.
    #[command(after_help = "Examples:
  source <(codey completions bash)                      # this bash session
  codey completions bash > ~/.local/share/bash-completion/completions/codey
  codey completions zsh > ~/.zfunc/_codey               # with fpath+=(~/.zfunc) in .zshrc
  codey completions fish > ~/.config/fish/completions/codey.fish")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) of codey or of one subcommand to stdout.
    Man(man::ManArgs),
}

/// When stderr gets colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour: `auto` colours a terminal unless NO_COLOR is set to anything
    /// non-empty (https://no-color.org).
    pub fn enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        }
    }
}

/// How the binary talks to people, decided once from the global flags.
#[derive(Debug, Clone, Copy)]
pub struct Ui {
    pub quiet: bool,
    pub color: bool,
}

/// Parses the command line. `--color` is looked for first so that clap's own help and errors
/// follow it too.
pub fn parse() -> Cli {
    let args: Vec<OsString> = std::env::args_os().collect();
    let clap_color = match color_flag(&args) {
        Some(ColorChoice::Always) => clap::ColorChoice::Always,
        Some(ColorChoice::Never) => clap::ColorChoice::Never,
        // clap's own `auto` already honours NO_COLOR.
        Some(ColorChoice::Auto) | None => clap::ColorChoice::Auto,
    };
    let matches = Cli::command().color(clap_color).get_matches_from(args);
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

/// The value of the last `--color WHEN` or `--color=WHEN` before a `--`, if any.
fn color_flag(args: &[OsString]) -> Option<ColorChoice> {
    let mut found = None;
    let mut args = args.iter().filter_map(|a| a.to_str());
    while let Some(arg) = args.next() {
        let value = match arg {
            "--" => break,
            "--color" => args.next(),
            _ => arg.strip_prefix("--color="),
        };
        if let Some(choice) = value.and_then(|v| ColorChoice::from_str(v, false).ok()) {
            found = Some(choice);
        }
    }
    found
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

/// An escalation order from `--escalation` (a newtype: clap would read a `Vec` as a list of
/// occurrences).
#[derive(Debug, Clone)]
pub struct Escalation(pub Vec<Role>);

fn parse_escalation(value: &str) -> Result<Escalation, String> {
    let names: Vec<&str> = value.split(',').filter(|n| !n.trim().is_empty()).collect();
    config::parse_escalation(&names).map(Escalation)
}

/// Which model judges a file's role (`--router-judge`).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum JudgeArg {
    /// The router model, zero-shot on the task and the file's facts, calibrated.
    Router,
    /// The coder model, few-shot on the task (it is loaded to edit most files anyway).
    Coder,
    /// The algorithm model, few-shot on the task.
    Algorithm,
}

impl From<JudgeArg> for Role {
    fn from(j: JudgeArg) -> Role {
        match j {
            JudgeArg::Router => Role::Router,
            JudgeArg::Coder => Role::Coder,
            JudgeArg::Algorithm => Role::Algorithm,
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
    /// GitHub Actions workflow commands: a ::warning on each hunk of the edits due, an ::error
    /// for each file that failed (the patch goes to --patch FILE).
    Github,
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
    /// Run a model on llama.cpp's llama-server at URL instead of in this process: ROLE's
    /// (router, coder, algorithm), or without `ROLE=` both editors'. Repeatable; overrides the
    /// config's `endpoint`. Never read from .codey.json.
    #[arg(long, value_name = "[ROLE=]URL")]
    pub endpoint: Vec<EndpointArg>,
}

/// `--endpoint [ROLE=]URL`.
#[derive(Debug, Clone)]
pub struct EndpointArg {
    /// None: the coder and the algorithm model.
    pub role: Option<Role>,
    pub url: String,
}

impl std::str::FromStr for EndpointArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (role, url) = match text.split_once('=') {
            Some((role, url)) if !role.contains(':') => {
                let role = Role::ALL
                    .into_iter()
                    .find(|r| r.name() == role)
                    .ok_or_else(|| format!("`{role}` is not a role (router, coder, algorithm)"))?;
                (Some(role), url)
            }
            _ => (None, text),
        };
        let endpoint = Endpoint::new(url);
        match endpoint.problem() {
            Some(problem) => Err(problem),
            None => Ok(EndpointArg {
                role,
                url: url.to_owned(),
            }),
        }
    }
}

impl ConfigArgs {
    pub fn load(&self) -> Result<config::Loaded> {
        let mut loaded = config::load(self.config.as_deref())?;
        if let Some(dir) = &self.model_dir {
            loaded.config.model_dir = dir.clone();
        }
        if let Some(budget) = self.memory_budget_mb {
            loaded.config.memory_budget_mb = budget;
        }
        for arg in &self.endpoint {
            let roles = match arg.role {
                Some(role) => vec![role],
                None => vec![Role::Coder, Role::Algorithm],
            };
            for role in roles {
                let model = loaded.config.models.get_mut(role);
                // The config's own settings for this server (key, timeout) are kept.
                let mut endpoint = model.endpoint.clone().unwrap_or_else(|| Endpoint::new(""));
                endpoint.url.clone_from(&arg.url);
                model.endpoint = Some(endpoint);
            }
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

/// Options of every command that edits: what to read, how to route, where results go.
#[derive(Debug, Args)]
pub struct RunArgs {
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
    /// Edit the staged content of staged files (pre-commit hooks); the patch is against it.
    #[arg(long, conflicts_with = "commit")]
    pub staged: bool,
    /// Write the patch to FILE instead of stdout (written even when empty).
    #[arg(long, value_name = "FILE")]
    pub patch: Option<PathBuf>,
    /// Apply the edits to the files in the worktree.
    #[arg(long, conflicts_with = "commit")]
    pub write: bool,
    /// With --write: also write files that have uncommitted changes.
    #[arg(long, requires = "write")]
    pub allow_dirty: bool,
    /// Commit the edits (on the current branch unless --branch).
    #[arg(long)]
    pub commit: bool,
    /// With --commit: commit onto this new branch instead; worktree and index stay untouched.
    #[arg(long, value_name = "NAME", requires = "commit")]
    pub branch: Option<String>,
    /// What to print on stdout.
    #[arg(long, value_enum, default_value = "patch")]
    pub format: Format,
    /// Threads for llama.cpp (default: the number of cores).
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// The model that judges each file's role when it is confident, else the keyword table.
    #[arg(long, value_enum, value_name = "MODEL", default_value = "router")]
    pub router_judge: JudgeArg,
    /// The judge's confidence (log-probability margin) below which the keyword table decides
    /// [default: 3.0 for the router model, 1.5 for an editor].
    #[arg(long, value_name = "LOGPROB")]
    pub router_margin: Option<f32>,
    /// No progress on stderr (a bar on a terminal, else one line per model load and file).
    #[arg(long)]
    pub no_progress: bool,
    /// Prompt-lookup speculative decoding: drafts copied from the file, verified in batches.
    /// The logic is exact, but llama.cpp computes a batch with other kernels than a single
    /// token, so the answer can differ from plain greedy decoding at near ties.
    #[arg(long)]
    pub speculate: bool,
    /// Neither use nor fill the on-disk caches: the KV cache of prompt states, and (with
    /// --staged) the record of staged files already checked clean.
    #[arg(long)]
    pub no_kv_cache: bool,
    /// Files in flight side by side on a model served by llama-server (--endpoint or the
    /// config's `endpoint`), up to its slots; the output is the same whatever finishes first.
    /// In-process models edit one file at a time.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
    /// Answers after the first that a file may take when its answer does not parse, apply,
    /// or pass the syntax gate: each is told what went wrong.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub rounds: usize,
    /// Do not send a file an editor gives up on to the next editor of the escalation order
    /// (never done when --role or the rule chooses the editor).
    #[arg(long)]
    pub no_escalate: bool,
    /// The editors a file goes through while it still fails, in order, comma-separated
    /// (overrides the config's `escalation`; default coder,algorithm).
    #[arg(long, value_name = "ROLES", value_parser = parse_escalation, conflicts_with = "no_escalate")]
    pub escalation: Option<Escalation>,
    /// Run CMD (through `sh -c`) on the edits in a scratch copy of HEAD's tree (the index with
    /// --staged) and emit only edits it passes; failing files get the output as feedback for
    /// --rounds more answers, then are left unchanged. With `{file}` in CMD it runs once per
    /// edited file, `{file}` replaced by its path. Never read from .codey.json.
    #[arg(long, value_name = "CMD")]
    pub verify: Option<String>,
    /// With --staged: a file codey fails to edit blocks the commit (exit 2); without, it is
    /// left as it is with a warning.
    #[arg(long, requires = "staged")]
    pub strict: bool,
    /// Seconds a verify run may take before it is killed and counts as failed.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub verify_timeout: u64,
    /// Only files the branch changed since it left REV: those differing between the merge base
    /// of REV and HEAD, and HEAD (`git diff --name-only REV...HEAD`). For pull requests in CI.
    #[arg(long, value_name = "REV", conflicts_with = "staged")]
    pub changed_since: Option<String>,
    /// Only the I-th of N parts of the files: contiguous in path order and balanced by size,
    /// so the patches of shards 1..N concatenated in order are the whole run's patch.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,
}

/// Sends llama.cpp's and codey's logs to stderr at the chosen verbosity.
pub fn init_tracing(verbose: u8, color: bool) {
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
        .with_ansi(color)
        .try_init();
}

/// Fails with what to pass when a command's input (by default a path into codey's source tree,
/// which `cargo install` does not ship) does not exist.
pub fn require_input(path: &std::path::Path, flag: &str, what: &str) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    anyhow::bail!(
        "{} not found: pass {flag} with {what} (the default is a path in codey's source tree: \
         run from a checkout of the repository to use it)",
        path.display()
    )
}

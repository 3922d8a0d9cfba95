//! Command-line arguments and the commands that wire them to the library.
//!
//! Everything printed happens here or in `progress`: the product (patch, JSON, tables) on
//! stdout, progress and summaries on stderr.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};

use codey::config::{self, Role};
use codey::engine::{self, EditRequest, Outcome};
use codey::kvcache::KvCache;
use codey::lifecycle::{mb, Lifecycle};
use codey::llama::Llama;
use codey::output::{self, Base, Mode, Target, WriteOptions};
use codey::router;
use codey::rules::{self, PathFilter};
use codey::scan::{self, Candidate, ScanOptions};

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
    /// Run every rule of the repository's .codey.json and exit 1 when edits are due (CI, hooks).
    Check(Box<CheckArgs>),
    /// Measure where the time goes: codey against raw llama.cpp, speculation, prefix reuse, scan.
    Bench(BenchArgs),
    /// Install codey as the repository's git pre-commit hook.
    #[command(subcommand)]
    Hook(HookCommand),
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

const EXIT_CODES: &str =
    "Exit codes: 0 nothing to change (or edits printed, written or committed), \
1 edits are due (--check, codey check), 2 error: a bad argument, config or model, any file that \
failed or was refused, or an edit that adds invisible or bidirectional control characters.\n\
stdout carries only the patch (or the JSON report); progress and the summary go to stderr.";

#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct EditArgs {
    /// What to change, in plain words (omit it with --rule).
    #[arg(required_unless_present = "rule")]
    pub instruction: Option<String>,
    /// Files or directories to edit (default: the whole repository or current directory).
    pub paths: Vec<PathBuf>,
    /// Run the rule NAME of the repository's .codey.json instead of an instruction.
    #[arg(long, value_name = "NAME")]
    pub rule: Option<String>,
    /// Exit with 1 when edits are due (CI); the patch is still printed.
    #[arg(long)]
    pub check: bool,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
#[command(after_help = EXIT_CODES)]
pub struct CheckArgs {
    /// Files or directories to check (default: the whole repository).
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub run: RunArgs,
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
    /// Router confidence (log-probability margin) below which the keyword rule decides.
    #[arg(long, value_name = "LOGPROB", default_value_t = router::DEFAULT_MARGIN)]
    pub router_margin: f32,
    /// No progress bar on stderr.
    #[arg(long)]
    pub no_progress: bool,
    /// Prompt-lookup speculative decoding: drafts copied from the file, verified in batches.
    /// The logic is exact, but llama.cpp computes a batch with other kernels than a single
    /// token, so the answer can differ from plain greedy decoding at near ties.
    #[arg(long)]
    pub speculate: bool,
    /// Neither use nor fill the on-disk KV cache of prompt states.
    #[arg(long)]
    pub no_kv_cache: bool,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// The benchmark repository (its TASKS.json lists the tasks).
    #[arg(long, value_name = "DIR", default_value = "fixtures/bench")]
    pub fixture: PathBuf,
    /// Run only the tasks with these names (repeatable).
    #[arg(long, value_name = "NAME")]
    pub task: Vec<String>,
    /// Files in the generated tree for the scan benchmark (0: no scan benchmark).
    #[arg(long, value_name = "N", default_value_t = 100_000)]
    pub scan_files: usize,
    /// Also time the raw loop decoding this many answers side by side, one batch per step
    /// (comma-separated counts; 0: skip).
    #[arg(
        long,
        value_name = "N,...",
        value_delimiter = ',',
        default_value = "2,4"
    )]
    pub parallel: Vec<usize>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the figures as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum HookCommand {
    /// Write .git/hooks/pre-commit so every `git commit` runs `codey check --staged --write`.
    Install {
        /// Replace an existing pre-commit hook that codey did not write.
        #[arg(long)]
        force: bool,
    },
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
        // Colour codes only for a person at a terminal, never into files and pipes.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

pub fn load_config(args: &ConfigArgs) -> Result<config::Loaded> {
    args.load()
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Edit(args) => edit(*args),
        Command::Check(args) => check(*args),
        Command::Bench(args) => crate::benchmark::bench(&args),
        Command::Hook(HookCommand::Install { force }) => hook_install(force),
        Command::Models(args) => models(&args),
        Command::EvalRouter(args) => eval_router(&args),
    }
}

/// One instruction to carry out: the command line's, or a rule's.
struct Job {
    rule: Option<String>,
    instruction: String,
    role: Option<Role>,
    filter: Option<PathFilter>,
}

impl Job {
    fn from_rule(rule: &rules::Rule) -> Result<Job> {
        Ok(Job {
            rule: Some(rule.name.clone()),
            instruction: rule.instruction.clone(),
            role: rule.role.map(Role::from),
            // Validated when the file was loaded.
            filter: Some(PathFilter::new(&rule.paths).map_err(anyhow::Error::msg)?),
        })
    }
}

/// Where the run is: the directory codey was started in and the repository root.
fn locate() -> Result<(PathBuf, PathBuf)> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = codey::git::root(&cwd);
    Ok((cwd, root))
}

fn edit(args: EditArgs) -> Result<ExitCode> {
    let (cwd, root) = locate()?;
    let mut paths = args.paths;
    let job = match &args.rule {
        Some(name) => {
            // With --rule every positional argument is a path.
            if let Some(first) = args.instruction {
                paths.insert(0, first.into());
            }
            let file = rules::load(&root)?;
            Job::from_rule(file.get(name, &root.join(rules::FILE_NAME))?)?
        }
        None => Job {
            rule: None,
            instruction: args.instruction.unwrap_or_default(),
            role: None,
            filter: None,
        },
    };
    run_jobs(vec![job], paths, &args.run, args.check, &cwd, &root)
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let (cwd, root) = locate()?;
    let file = rules::load(&root)?;
    let jobs = file
        .rules
        .iter()
        .map(Job::from_rule)
        .collect::<Result<Vec<_>>>()?;
    run_jobs(jobs, args.paths, &args.run, true, &cwd, &root)
}

/// Scans once, then carries out the jobs in order, each on the previous one's output, and
/// hands the combined edit to the chosen output.
fn run_jobs(
    jobs: Vec<Job>,
    paths: Vec<PathBuf>,
    run: &RunArgs,
    check: bool,
    cwd: &Path,
    root: &Path,
) -> Result<ExitCode> {
    let loaded = run.config.load()?;
    let scan_options = ScanOptions {
        paths,
        globs: run.globs.clone(),
        max_bytes: run.max_file_bytes,
        hidden: run.hidden,
    };
    let scanned = if run.staged {
        let repo = codey::git::discover(cwd)
            .ok_or_else(|| anyhow::anyhow!("--staged needs a git repository"))?;
        scan::from_index(root, cwd, &scan_options, codey::git::staged(&repo)?)?
    } else {
        scan::scan(root, cwd, &scan_options)?
    };
    let kv_mb = loaded.config.kv_cache_mb;
    let mut lifecycle = Lifecycle::new(Llama, loaded.config, loaded.source);
    if let Some(threads) = run.threads {
        lifecycle = lifecycle.with_threads(threads);
    }
    let mut bar = Bar::new(!run.no_progress);
    let events = bar.clone();
    lifecycle.on_event(move |e| events.lifecycle(e));

    let kv_cache = (!run.no_kv_cache && kv_mb > 0)
        .then(codey::kvcache::default_dir)
        .flatten()
        .map(|dir| KvCache::new(dir, kv_mb));
    let mut current: HashMap<String, String> = HashMap::new();
    let mut reports = Vec::new();
    for job in &jobs {
        let selected = |path: &str| job.filter.as_ref().is_none_or(|f| f.matches(path));
        let files: Vec<Candidate> = scanned
            .files
            .iter()
            .filter(|c| selected(&c.rel))
            .map(|c| {
                let mut c = c.clone();
                // Each job edits what the jobs before it left.
                if let Some(text) = current.get(&c.rel) {
                    c.content.clone_from(text);
                }
                c
            })
            .collect();
        let skipped: Vec<_> = scanned
            .skipped
            .iter()
            .filter(|(path, _)| selected(path))
            .cloned()
            .collect();
        let request = EditRequest {
            instruction: job.instruction.clone(),
            role: run.role.map(Role::from).or(job.role),
            router_margin: run.router_margin,
            speculate: run.speculate,
            kv_cache: kv_cache.clone(),
        };
        let mut report = engine::run(&mut lifecycle, &request, files, &skipped, &mut bar);
        report.rule.clone_from(&job.rule);
        for f in &report.files {
            if let Outcome::Changed { new_content, .. } = &f.outcome {
                current.insert(f.path.clone(), new_content.clone());
            }
        }
        reports.push(report);
    }
    bar.finish();
    finish(&jobs, &reports, run, check, root)
}

/// Writes the combined edit where it was asked to go, prints the product and the summary,
/// and computes the exit code.
fn finish(
    jobs: &[Job],
    reports: &[engine::Report],
    run: &RunArgs,
    check: bool,
    root: &Path,
) -> Result<ExitCode> {
    let mode = match (run.write, run.commit) {
        (true, _) => Mode::Write,
        (_, true) => Mode::Commit,
        _ => Mode::Patch,
    };
    let changes = output::changes(reports);
    let patch = output::patch(&changes);
    if let Some(file) = &run.patch {
        std::fs::write(file, &patch).with_context(|| format!("cannot write {}", file.display()))?;
    }
    let written = match mode {
        Mode::Patch => None,
        Mode::Write => Some(output::write_worktree(
            root,
            &changes,
            WriteOptions {
                base: if run.staged {
                    Base::Index
                } else {
                    Base::Worktree
                },
                allow_dirty: run.allow_dirty,
            },
        )),
        Mode::Commit => {
            let target = run
                .branch
                .clone()
                .map_or(Target::CurrentBranch, Target::NewBranch);
            let instructions: Vec<(Option<&str>, &str)> = jobs
                .iter()
                .map(|j| (j.rule.as_deref(), j.instruction.as_str()))
                .collect();
            let message = output::commit_message(&instructions);
            Some(output::commit(root, &changes, &message, &target)?)
        }
    };

    // A reader that went away (`codey edit … | head`) is not an error, but the exit code must
    // still say whether edits are due or files failed.
    let product = Product {
        reports,
        patch: &patch,
        written: written.as_ref(),
    };
    print_product(&product, run, mode, check).or_else(ignore_broken_pipe)?;

    eprint!("{}", output::summary(reports));
    let mut failed: usize = reports.iter().map(|r| r.count("failed")).sum();
    for change in changes.iter().filter(|c| !c.flags.is_empty()) {
        eprintln!(
            "suspicious: {}: the edit adds invisible or bidirectional control characters: {}",
            change.path,
            change.flags.join("; ")
        );
        failed += 1;
    }
    if let Some(w) = &written {
        for (path, reason) in &w.refused {
            eprintln!("not written: {path}: {reason}");
        }
        // A flagged change is counted once, though output refuses it too.
        failed += w
            .refused
            .iter()
            .filter(|(path, _)| {
                !changes
                    .iter()
                    .any(|c| c.path == *path && !c.flags.is_empty())
            })
            .count();
        match (&w.commit, &w.branch) {
            (Some(commit), Some(branch)) => eprintln!(
                "committed {commit} on new branch {branch} ({} file(s)); worktree untouched",
                w.files.len()
            ),
            (Some(commit), None) => eprintln!("committed {commit} ({} file(s))", w.files.len()),
            _ if mode == Mode::Write => eprintln!("wrote {} file(s)", w.files.len()),
            _ => {}
        }
        if check && mode == Mode::Write && !w.files.is_empty() {
            eprintln!("review the edits with `git diff`, stage them and commit again");
        }
    }
    Ok(exit_code(failed, changes.len(), check))
}

/// What an edit run hands to stdout.
struct Product<'a> {
    reports: &'a [engine::Report],
    patch: &'a str,
    written: Option<&'a output::Written>,
}

/// Writes the product of an edit (patch or JSON) to stdout.
fn print_product(
    product: &Product<'_>,
    run: &RunArgs,
    mode: Mode,
    check: bool,
) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match run.format {
        Format::Json => {
            // One instruction gives `report`; rules give `reports`, each naming its rule.
            let json = match product.reports {
                [single] if single.rule.is_none() => serde_json::json!({
                    "report": single, "patch": product.patch, "written": product.written
                }),
                many => serde_json::json!({
                    "reports": many, "patch": product.patch, "written": product.written
                }),
            };
            serde_json::to_writer_pretty(&mut stdout, &json)?;
            writeln!(stdout)?;
        }
        Format::Patch if run.patch.is_none() && (mode == Mode::Patch || check) => {
            stdout.write_all(product.patch.as_bytes())?;
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

fn hook_install(force: bool) -> Result<ExitCode> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let exe = std::env::current_exe().context("cannot find codey's own executable")?;
    let path = codey::git::install_hook(&cwd, &exe, force)?;
    eprintln!(
        "installed {}: every `git commit` now runs the rules of {} on the staged files",
        path.display(),
        rules::FILE_NAME
    );
    Ok(ExitCode::SUCCESS)
}

//! `codey edit`: one instruction (or one rule) over the files, and the shared runner that
//! `codey check` uses too: build the plan, run the session, apply, render.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;

use anyhow::{Context, Result};
use clap::Args;

use codey::checked::{self, Checked};
use codey::config::Role;
use codey::event::Progress;
use codey::lifecycle::Lifecycle;
use codey::llama::Llama;
use codey::output::Target;
use codey::scan::ScanOptions;
use codey::session::{Job, Mode, Plan, RunResult};
use codey::verify::Check;

use crate::cli::{examples_and_exit_codes, Format, RunArgs, Ui};
use crate::progress::{Bar, Show};
use crate::render::{self, Style};

const EXAMPLES: &str = "\
Examples:
  codey edit 'add type hints to the public functions' src/
  codey edit 'rename `cfg` to `config`' --write
  codey edit 'fix the typos in comments' -g '*.md' --commit
  codey edit 'use logging instead of print' --check --patch out.patch
  codey edit 'make the parser faster' --verify 'python3 -m unittest -q'
  codey edit --rule docstrings src/ --format json";

#[derive(Debug, Args)]
#[command(after_help = examples_and_exit_codes(EXAMPLES))]
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

/// Runs `codey edit`.
pub fn run(args: EditArgs, ui: Ui) -> Result<ExitCode> {
    let (cwd, root) = locate()?;
    let mut paths = args.paths;
    let job = match &args.rule {
        Some(name) => {
            // With --rule every positional argument is a path.
            if let Some(first) = args.instruction {
                paths.insert(0, first.into());
            }
            Job::rule(&root, name)?
        }
        None => Job::instruction(args.instruction.unwrap_or_default()),
    };
    let request = Request {
        jobs: vec![job],
        paths,
        check: args.check,
        named_in_scope: true,
    };
    execute(request, &args.run, &cwd, &root, ui)
}

/// What a command asks of a run besides the shared options.
pub struct Request {
    pub jobs: Vec<Job>,
    pub paths: Vec<PathBuf>,
    /// Edits due are a finding (exit 1).
    pub check: bool,
    /// Whether the named paths are always in scope: a person chose them (`codey edit`), not a
    /// tool handing over every file (`codey check` under the pre-commit framework).
    pub named_in_scope: bool,
}

/// Where the run is: the directory codey was started in and the repository root.
pub fn locate() -> Result<(PathBuf, PathBuf)> {
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = codey::git::root(&cwd);
    Ok((cwd, root))
}

/// The plan the command line asks for.
fn plan(request: Request, run: &RunArgs) -> Plan {
    let mode = match (run.write, run.commit) {
        (true, _) => Mode::Write {
            allow_dirty: run.allow_dirty,
        },
        (_, true) => Mode::Commit(
            run.branch
                .clone()
                .map_or(Target::CurrentBranch, Target::NewBranch),
        ),
        _ => Mode::Patch,
    };
    Plan {
        jobs: request.jobs,
        scan: ScanOptions {
            paths: request.paths,
            globs: run.globs.clone(),
            max_bytes: run.max_file_bytes,
            hidden: run.hidden,
            named_in_scope: request.named_in_scope,
            exclude: Vec::new(),
        },
        staged: run.staged,
        mode,
        check: request.check,
        role: run.role.map(Role::from),
        router_judge: Role::from(run.router_judge),
        router_margin: run
            .router_margin
            .unwrap_or_else(|| codey::router::default_margin(Role::from(run.router_judge))),
        speculate: run.speculate,
        kv_cache: !run.no_kv_cache,
        rounds: run.rounds,
        escalate: !run.no_escalate,
        verify: run.verify.clone().map(|command| Check {
            command,
            timeout: std::time::Duration::from_secs(run.verify_timeout),
        }),
        strict: run.strict,
        changed_since: run.changed_since.clone(),
        shard: run.shard,
        jobs_in_flight: usize::from(run.jobs),
    }
}

/// Runs the jobs, applies the result, prints the product and the summary, and says how the
/// run ends.
pub fn execute(
    request: Request,
    run: &RunArgs,
    cwd: &Path,
    root: &Path,
    ui: Ui,
) -> Result<ExitCode> {
    let mut loaded = run.config.load()?;
    if let Some(order) = &run.escalation {
        loaded.config.escalation.clone_from(&order.0);
    }
    let check = request.check;
    let plan = plan(request, run);
    let bar = Rc::new(Bar::new(Show::choose(!run.no_progress && !ui.quiet)));
    let Checked {
        mut result,
        known_clean,
    } = run_session(loaded, run.threads, bar.clone(), &plan, cwd, root)?;
    bar.finish();
    if let Some(file) = &run.patch {
        std::fs::write(file, &result.patch)
            .with_context(|| format!("cannot write {}", file.display()))?;
    }
    result.apply()?;
    // A reader that went away (`codey edit … | head`) is not an error, but the exit code must
    // still say whether edits are due or files failed.
    print_product(&result, run, check).or_else(ignore_broken_pipe)?;
    let style = Style {
        color: ui.color,
        quiet: ui.quiet,
    };
    eprint!("{}", render::summary(&result, style));
    if !known_clean.is_empty() && !ui.quiet {
        eprintln!(
            "{} staged file(s) already checked clean with this content, rules and models: not \
             checked again",
            known_clean.len()
        );
    }
    // As ruff does ("No Python files found"): worth a warning, not a failure. Under --staged
    // a commit with nothing the rules select is the everyday case, not a mistake.
    if !plan.staged && result.reports.iter().all(|r| r.files.is_empty()) {
        // Every file was left out by the paths, the globs or the rules' paths.
        eprint!(
            "{}",
            render::warning(
                "no file matched the paths, globs and rule paths given; nothing was edited",
                ui.color
            )
        );
    }
    Ok(ExitCode::from(result.exit_status().code()))
}

/// Runs the session (through the cache of files checked clean) on the real models, or on
/// scripted ones when a test build is given a script (`CODEY_SCRIPT`).
fn run_session(
    loaded: codey::config::Loaded,
    threads: Option<usize>,
    progress: Rc<Bar>,
    plan: &Plan,
    cwd: &Path,
    root: &Path,
) -> Result<Checked> {
    let sink: Rc<dyn Progress> = progress.clone();
    #[cfg(feature = "scripted")]
    if let Some(script) = std::env::var_os("CODEY_SCRIPT") {
        let backend = codey::scripted::Scripted::from_file(Path::new(&script))?;
        let mut lifecycle =
            Lifecycle::new(backend, loaded.config, loaded.source).with_progress(sink);
        return Ok(checked::run(&mut lifecycle, plan, cwd, root, &*progress)?);
    }
    let mut lifecycle = Lifecycle::new(Llama, loaded.config, loaded.source).with_progress(sink);
    if let Some(threads) = threads {
        lifecycle = lifecycle.with_threads(threads);
    }
    Ok(checked::run(&mut lifecycle, plan, cwd, root, &*progress)?)
}

/// Writes the product of a run (patch or JSON) to stdout.
fn print_product(result: &RunResult, run: &RunArgs, check: bool) -> std::io::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match run.format {
        Format::Json => {
            let json = serde_json::json!({
                "schema_version": result.schema_version,
                "exit_status": result.exit_status(),
                "reports": result.reports,
                "patch": result.patch,
                "written": result.written,
            });
            serde_json::to_writer_pretty(&mut stdout, &json)?;
            writeln!(stdout)?;
        }
        Format::Github => stdout.write_all(crate::render::github(result).as_bytes())?,
        Format::Patch if run.patch.is_none() && (*result.mode() == Mode::Patch || check) => {
            stdout.write_all(result.patch.as_bytes())?;
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

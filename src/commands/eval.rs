//! `codey eval`: the evaluation suite on the configured models, as a Markdown table (or JSON)
//! on stdout with a line per task on stderr.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use codey::eval::{self, Options, TaskResult, Totals};
use codey::event::Silent;
use codey::lifecycle::Lifecycle;
use codey::llama::Llama;

use crate::cli::{require_input, ConfigArgs, Ui};

/// Measure how often edits are right: pass@1 and pass after feedback rounds, escalation and
/// the task's own check, on tasks with known answers.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  codey eval                                       # from a checkout of codey: fixtures/eval
  codey eval --task 001 --task 002-py-extract-helper
  codey eval --fixture ~/src/codey/fixtures/eval --json > eval.json")]
pub struct EvalArgs {
    /// The suite: a folder of task folders (each `task.json` and `repo/`).
    #[arg(long, value_name = "DIR", default_value = "fixtures/eval")]
    pub fixture: PathBuf,
    /// Run only the tasks whose folder name is or starts with NAME (repeatable).
    #[arg(long, value_name = "NAME")]
    pub task: Vec<String>,
    /// Feedback rounds after a first answer that fails.
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub rounds: usize,
    /// Seconds a task's check may take.
    #[arg(long, value_name = "SECONDS", default_value_t = 300)]
    pub check_timeout: u64,
    /// Also run each task's instruction again on the files it edited, as a hook does after
    /// `git add`, and count the files due again (nothing should be).
    #[arg(long)]
    pub fixpoint: bool,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the figures as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Runs `codey eval`.
pub fn run(args: &EvalArgs, ui: Ui) -> Result<ExitCode> {
    require_input(
        &args.fixture,
        "--fixture DIR",
        "a folder of eval task folders (codey's fixtures/eval)",
    )?;
    let loaded = args.config.load()?;
    let tasks = eval::load_tasks(&args.fixture, &args.task)?;
    anyhow::ensure!(
        !tasks.is_empty(),
        "no eval task in {} matches (pass --fixture DIR with task folders)",
        args.fixture.display()
    );
    let mut lifecycle =
        Lifecycle::new(Llama, loaded.config, loaded.source).with_progress(Rc::new(Silent));
    let options = Options {
        rounds: args.rounds,
        escalate: true,
        check_timeout: Duration::from_secs(args.check_timeout),
        fixpoint: args.fixpoint,
    };
    let mut results = Vec::with_capacity(tasks.len());
    for task in &tasks {
        let r = eval::run_task(&mut lifecycle, task, &options, &Silent)?;
        if ui.quiet {
            results.push(r);
            continue;
        }
        eprintln!(
            "eval: {} pass@1 {} final {} ({} answer(s), {:.0}s){}",
            r.name,
            yes(r.pass_at_1),
            yes(r.pass_final),
            r.answers,
            r.seconds,
            r.failure
                .as_ref()
                .map(|f| format!(": {f}"))
                .unwrap_or_default()
        );
        if let Some(f) = r.fixpoint {
            eprintln!(
                "eval: {} run again on its output: {} of {} edited file(s) due again ({:.0}s)",
                r.name, f.due_again, f.edited, f.seconds
            );
        }
        results.push(r);
    }
    let totals = Totals::of(&results);
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"tasks": results, "totals": totals}),
        )?;
        writeln!(out)?;
    } else {
        out.write_all(render(&results, &totals).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn yes(b: bool) -> &'static str {
    if b {
        "pass"
    } else {
        "fail"
    }
}

fn percent(n: usize, of: usize) -> f64 {
    100.0 * n as f64 / of.max(1) as f64
}

fn render(results: &[TaskResult], t: &Totals) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| task | kind | pass@1 | after retries | answers | seconds |"
    );
    let _ = writeln!(s, "| --- | --- | :---: | :---: | ---: | ---: |");
    for r in results {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.0} |",
            r.name,
            r.kind,
            yes(r.pass_at_1),
            yes(r.pass_final),
            r.answers,
            r.seconds
        );
    }
    let _ = writeln!(
        s,
        "\n| tasks | pass@1 | after retries and escalation | answers never applied | syntax-gate rejections | comments-only-gate rejections | seconds |"
    );
    let _ = writeln!(s, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    let _ = writeln!(
        s,
        "| {} | {} ({:.0} %) | {} ({:.0} %) | {} of {} files ({:.1} %) | {} | {} | {:.0} |",
        t.tasks,
        t.pass_at_1,
        percent(t.pass_at_1, t.tasks),
        t.pass_final,
        percent(t.pass_final, t.tasks),
        t.never_applied,
        t.files,
        percent(t.never_applied, t.files),
        t.syntax_rejections,
        t.code_rejections,
        t.seconds
    );
    if let Some(f) = t.fixpoint {
        let _ = writeln!(
            s,
            "\nRun again on their own output: {} of {} edited files due again ({:.0} % at a \
             fixpoint; {} went to an editor, the rest the exact checks settled), {:.0} seconds.",
            f.due_again,
            f.edited,
            100.0 - percent(f.due_again, f.edited),
            f.answered,
            f.seconds
        );
    }
    s
}

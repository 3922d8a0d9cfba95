//! `codey bench`: runs the library's benchmarks and prints their figures as Markdown tables
//! (stdout) with progress on stderr.

use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Result;
use codey::bench::{self, Figures, RetryKind, ScanFigures, Totals};
use codey::lifecycle::Lifecycle;
use codey::llama::Llama;

use std::path::PathBuf;

use clap::Args;
use codey::event::{Event, Progress};

use crate::cli::{require_input, ConfigArgs, Ui};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  codey bench                                      # from a checkout of codey: fixtures/bench
  codey bench --task py-dedupe-linear --scan-files 0
  codey bench --fixture ~/src/codey/fixtures/bench --json > bench.json")]
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
    /// Instead of the other benchmarks: the coder over every file of the fixture in-process,
    /// then on each llama-server given here (comma-separated URLs, each serving the coder
    /// model), with as many files in flight as the server has slots; files per minute and
    /// their ratio, and how evenly --shard splits the files. scripts/bench-remote.sh starts
    /// servers with 1, 2 and 4 slots and runs this.
    #[arg(long, value_name = "URL,...", value_delimiter = ',')]
    pub remote: Vec<String>,
    /// The instruction of the remote benchmark.
    #[arg(
        long,
        value_name = "TEXT",
        default_value = "Add a one-line comment above every function saying what it does"
    )]
    pub remote_instruction: String,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Print the figures as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Bench progress: one line per step on stderr (none with --quiet).
struct Lines {
    quiet: bool,
}

impl Progress for Lines {
    fn event(&self, event: &Event) {
        if let (Event::Bench { step }, false) = (event, self.quiet) {
            eprintln!("bench: {step}");
        }
    }
}

/// Runs `codey bench`.
pub fn run(args: &BenchArgs, ui: Ui) -> Result<ExitCode> {
    require_input(
        &args.fixture,
        "--fixture DIR",
        "a benchmark folder holding TASKS.json (codey's fixtures/bench)",
    )?;
    let loaded = args.config.load()?;
    if !args.remote.is_empty() {
        return run_remote(args, &loaded.config, ui);
    }
    let mut tasks = bench::load_tasks(&args.fixture.join("TASKS.json"))?;
    if !args.task.is_empty() {
        tasks.retain(|t| args.task.contains(&t.name));
    }
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut lifecycle = Lifecycle::new(Llama, loaded.config, loaded.source);
    let kv_dir = scratch_dir("kv")?;
    let figures = bench::run(
        &mut lifecycle,
        &args.fixture,
        &tasks,
        &kv_dir,
        &args.parallel,
        &Lines { quiet: ui.quiet },
    );
    let _ = std::fs::remove_dir_all(&kv_dir);
    let figures = figures?;
    let scan = if args.scan_files > 0 {
        if !ui.quiet {
            eprintln!("bench: scan of {} generated files", args.scan_files);
        }
        let dir = scratch_dir("scan")?;
        let result = bench::scan_tree(&dir, args.scan_files, 3);
        let _ = std::fs::remove_dir_all(&dir);
        Some(result?)
    } else {
        None
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(
            &mut out,
            &serde_json::json!({"figures": figures, "scan": scan, "threads": threads}),
        )?;
        writeln!(out)?;
    } else {
        out.write_all(render(&figures, scan.as_ref(), threads).as_bytes())?;
    }
    Ok(if figures.cache_differs.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// `codey bench --remote URL,...`.
fn run_remote(args: &BenchArgs, config: &codey::config::Config, ui: Ui) -> Result<ExitCode> {
    let figures = bench::remote_run(
        config,
        &args.fixture,
        &args.remote_instruction,
        &args.remote,
        &Lines { quiet: ui.quiet },
    )?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &figures)?;
        writeln!(out)?;
    } else {
        out.write_all(render_remote(&figures).as_bytes())?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render_remote(f: &bench::RemoteFigures) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### The coder over every file: in-process against llama-server\n\n\"{}\"\n",
        f.instruction
    );
    let _ = writeln!(
        s,
        "| where | slots | files | changed | failed | seconds | files/min | × in-process | prompt tok/s | gen tok/s | server time / client time |"
    );
    let _ = writeln!(
        s,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in &f.rows {
        let share = r.server_share.map_or("–".to_owned(), |x| format!("{x:.2}"));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {:.1} | {:.1} | {:.2} | {:.0} | {:.1} | {share} |",
            r.label,
            r.slots,
            r.files,
            r.changed,
            r.failed,
            r.seconds,
            r.files_per_minute,
            r.speedup,
            r.prompt_tokens_per_second,
            r.generate_tokens_per_second,
        );
    }
    let _ = writeln!(s, "\n### --shard balance over the same files (bytes)\n");
    let _ = writeln!(s, "| shards | largest | mean | largest / mean |");
    let _ = writeln!(s, "| ---: | ---: | ---: | ---: |");
    for b in &f.shards {
        let _ = writeln!(
            s,
            "| {} | {} | {:.0} | {:.2} |",
            b.shards, b.largest_bytes, b.mean_bytes, b.imbalance
        );
    }
    s
}

fn scratch_dir(what: &str) -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("codey-bench-{what}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn render(f: &Figures, scan: Option<&ScanFigures>, threads: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "### codey against an independent llama.cpp loop (llama.cpp's default batch sizes, whole prompt in one decode; same model, {threads} threads, plain greedy)\n"
    );
    let _ = writeln!(
        s,
        "| model | phase | codey tok/s | reference tok/s | codey/reference |"
    );
    let _ = writeln!(s, "| --- | --- | ---: | ---: | ---: |");
    for r in &f.roles {
        let raw = &r.reference;
        // Prompt rates are in the hundreds, generation rates near ten: one decimal for the latter.
        for (phase, digits, codey, raw, ratio) in [
            (
                "prompt",
                0,
                r.codey.counts.prompt_rate(),
                bench::rate(raw.prompt_tokens, raw.prompt_seconds),
                r.prompt_ratio,
            ),
            (
                "generation",
                1,
                r.codey.counts.generate_rate(),
                bench::rate(raw.generated_tokens, raw.generate_seconds),
                r.generate_ratio,
            ),
        ] {
            let _ = writeln!(
                s,
                "| {} | {phase} | {codey:.digits$} | {raw:.digits$} | {ratio:.2} |",
                r.role
            );
        }
    }
    let plain = Figures::totals(&f.plain);
    let spec = Figures::totals(&f.speculative);
    let first = Figures::totals(&f.first_run);
    let second = Figures::totals(&f.second_run);
    let _ = writeln!(s, "\n### Speculation (prompt lookup) and prefix reuse\n");
    let _ = writeln!(
        s,
        "| pass | files | prompt tokens | reused | prompt s | generated | gen s | gen tok/s | drafted | accepted |"
    );
    let _ = writeln!(
        s,
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, t) in [
        ("plain greedy", &plain),
        ("speculative", &spec),
        ("disk KV cache, first run", &first),
        ("disk KV cache, second run", &second),
    ] {
        row(&mut s, name, t);
    }
    let restored = f.second_run.iter().filter(|r| r.restored).count();
    let _ = writeln!(
        s,
        "
prompt phase, first/second run: {:.1}s / {:.1}s = {:.1}x faster ({restored} of {} prompts restored from disk)",
        first.counts.prompt_seconds,
        second.counts.prompt_seconds,
        first.counts.prompt_seconds / second.counts.prompt_seconds.max(1e-9),
        f.second_run
            .iter()
            .filter(|r| r.counts.generated_tokens > 0)
            .count()
    );
    let same = |differs: &[String]| {
        if differs.is_empty() {
            format!("yes ({} files)", f.plain.len())
        } else {
            format!("no: {}", differs.join(", "))
        }
    };
    let _ = writeln!(
        s,
        "\ngeneration speed-up, speculative/plain: {:.2}x; same answers as plain greedy: {}",
        spec.counts.generate_rate() / plain.counts.generate_rate().max(1e-9),
        same(&f.speculation_differs)
    );
    let _ = writeln!(
        s,
        "second run with the disk KV cache gives the same answers: {}",
        same(&f.cache_differs)
    );
    let _ = writeln!(s, "\n| task | file | role | outcome | plain tok/s | speculative tok/s | speed-up | accepted/drafted |");
    let _ = writeln!(s, "| --- | --- | --- | --- | ---: | ---: | ---: | ---: |");
    for (p, q) in f.plain.iter().zip(&f.speculative) {
        if p.counts.generated_tokens == 0 {
            continue;
        }
        let (pr, qr) = (p.counts.generate_rate(), q.counts.generate_rate());
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {pr:.1} | {qr:.1} | {:.2}x | {}/{} |",
            p.task,
            p.path,
            p.role.map_or("-", |r| r.name()),
            p.outcome,
            qr / pr.max(1e-9),
            q.counts.accepted_tokens,
            q.counts.drafted_tokens
        );
    }
    parallel_table(&mut s, f);
    retry_table(&mut s, f);
    checks_table(&mut s, f);
    let loads: Vec<String> = f
        .roles
        .iter()
        .map(|r| format!("{} {}", r.role, r.loads))
        .collect();
    let _ = writeln!(
        s,
        "\nmodel loads over both passes: {}; peak RSS {} MB",
        loads.join(", "),
        f.peak_rss_mb.map_or("?".into(), |m| m.to_string())
    );
    if let Some(scan) = scan {
        let _ = writeln!(s, "\n### Scan of {} generated files\n", scan.files);
        let _ = writeln!(s, "| walker | seconds | files |");
        let _ = writeln!(s, "| --- | ---: | ---: |");
        let _ = writeln!(
            s,
            "| codey list (parallel walker) | {:.3} | {} |",
            scan.codey_list_seconds, scan.listed
        );
        let _ = writeln!(
            s,
            "| codey scan (list and read) | {:.3} | {} |",
            scan.codey_scan_seconds, scan.listed
        );
        match (scan.rg_seconds, scan.rg_listed, scan.ratio) {
            (Some(secs), Some(n), Some(ratio)) => {
                let _ = writeln!(s, "| rg --files --no-require-git | {secs:.3} | {n} |");
                let _ = writeln!(s, "\ncodey list / rg --files: {ratio:.2}");
            }
            _ => {
                let _ = writeln!(s, "\nrg not found: install ripgrep for the comparison");
            }
        }
    }
    s
}

/// Several answers decoded side by side in one batch per step, against one after another.
fn parallel_table(s: &mut String, f: &Figures) {
    if f.roles.iter().all(|r| r.parallel.is_empty()) {
        return;
    }
    let _ = writeln!(
        s,
        "\n### Parallel sequences (raw loop, one batch per step)\n"
    );
    let _ = writeln!(
        s,
        "| model | sequences | tokens each | one after another tok/s | side by side tok/s | parallel/sequential | same tokens |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: | --- |");
    for r in &f.roles {
        for p in &r.parallel {
            let tokens = p.sequences * p.generated_tokens;
            let sequential = bench::rate(tokens, p.sequential_seconds);
            let parallel = bench::rate(tokens, p.parallel_seconds);
            let same = p.first_divergence.iter().filter(|d| d.is_none()).count();
            let _ = writeln!(
                s,
                "| {} | {} | {} | {sequential:.1} | {parallel:.1} | {:.2} | {same} of {} |",
                r.role,
                p.sequences,
                p.generated_tokens,
                parallel / sequential.max(1e-9),
                p.sequences
            );
        }
    }
}

/// Each file's retry round against its first answer, and the two summed.
fn retry_table(s: &mut String, f: &Figures) {
    if f.retry.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n### Retry rounds (the conversation so far reused from the model's cache)\n"
    );
    let _ = writeln!(
        s,
        "| task | file | role | retry asks for | first s | retry s | retry/first | retry prompt tokens | reused | first generated | retry generated |"
    );
    let _ = writeln!(
        s,
        "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for r in &f.retry {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {:.1} | {:.1} | {:.0} % | {} | {} | {} | {} |",
            r.task,
            r.path,
            r.role,
            r.kind.label(),
            r.first.seconds,
            r.retry.seconds,
            100.0 * r.retry.seconds / r.first.seconds.max(1e-9),
            r.retry.prompt_tokens,
            r.retry.reused_tokens,
            r.first.generated_tokens,
            r.retry.generated_tokens
        );
    }
    for kind in [RetryKind::OneBlock, RetryKind::WholeAnswer] {
        let runs = f.retry.iter().filter(|r| r.kind == kind);
        let (count, first, retry) = runs.fold((0, 0.0, 0.0), |(n, a, b), r| {
            (n + 1, a + r.first.seconds, b + r.retry.seconds)
        });
        if count == 0 {
            continue;
        }
        let _ = writeln!(
            s,
            "\nretry rounds asking for {} / first answers ({count} files): {retry:.1}s / \
             {first:.1}s = {:.0} % (target: at most 40 %)",
            kind.label(),
            100.0 * retry / first.max(1e-9)
        );
    }
}

/// What the scope and due checks cost per task, over every file of the repository.
fn checks_table(s: &mut String, f: &Figures) {
    if f.checks.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "\n### Scope and due checks (exact facts, every file of the repository, before any editor)\n"
    );
    let _ = writeln!(
        s,
        "| task | files checked | skipped | checks ms | editing s | checks / run |"
    );
    let _ = writeln!(s, "| --- | ---: | ---: | ---: | ---: | ---: |");
    for c in &f.checks {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.2} | {:.1} | {:.2} % |",
            c.task,
            c.files,
            c.skipped,
            1000.0 * c.seconds,
            c.edit_seconds,
            100.0 * c.share()
        );
    }
    let checks: f64 = f.checks.iter().map(|c| c.seconds).sum();
    let editing: f64 = f.checks.iter().map(|c| c.edit_seconds).sum();
    let _ = writeln!(
        s,
        "\nchecks / whole runs ({} tasks): {:.1} ms / {:.1} s = {:.2} % (target: under 10 %)",
        f.checks.len(),
        1000.0 * checks,
        checks + editing,
        100.0 * checks / (checks + editing).max(1e-9)
    );
}

fn row(s: &mut String, name: &str, t: &Totals) {
    let c = &t.counts;
    let _ = writeln!(
        s,
        "| {name} | {} | {} | {} | {:.1} | {} | {:.1} | {:.1} | {} | {} |",
        t.files,
        c.prompt_tokens,
        c.reused_tokens,
        c.prompt_seconds,
        c.generated_tokens,
        c.generate_seconds,
        c.generate_rate(),
        c.drafted_tokens,
        c.accepted_tokens
    );
}

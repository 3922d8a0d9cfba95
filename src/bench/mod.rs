//! Benchmarks: where the time of an edit goes, as ratios measured in one run on one machine.
//!
//! Owns running a task list over a benchmark repository twice (plain greedy decoding, then
//! prompt-lookup speculation) and comparing the outputs, timing a retry round against the
//! first answer it follows, timing llama.cpp's raw decode loop
//! for the same model and threads, and timing the scan of a large generated tree against
//! `rg --files`. It measures and returns figures; it asserts nothing about speed — these
//! machines are shared and noisy, so targets are read off the ratios, never tested by timers.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::config::Role;
use crate::edit::{self, Answer, EditError};
use crate::engine::{self, EditRequest, FileError, FileReport, Kept, Outcome, Report, Retry};
use crate::event::{Event, Progress, Silent};
use crate::kvcache::KvCache;
use crate::lifecycle::{mb, Lifecycle};
use crate::llama::Llama;
use crate::router::Router;
use crate::scan::{self, Candidate, ScanOptions};

mod checks;
mod raw;
mod remote;

pub use checks::CheckCost;

pub use raw::{ParallelRates, RawRates};
pub use remote::{run as remote_run, RemoteFigures, RemoteRow, ShardBalance};

/// One benchmark task (fixtures/bench/TASKS.json).
#[derive(Debug, Clone, Deserialize)]
pub struct BenchTask {
    pub name: String,
    pub instruction: String,
    pub paths: Vec<String>,
    #[serde(default)]
    pub expect_role: Option<String>,
}

/// Benchmark failures. Retrying does not help; the fixture or the models must change.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("cannot read the task list {path}: {reason}")]
    Tasks { path: PathBuf, reason: String },
    #[error(transparent)]
    Scan(#[from] scan::ScanError),
    #[error(transparent)]
    Lifecycle(#[from] crate::lifecycle::LifecycleError),
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    #[error("cannot build the scan tree in {path}: {source}")]
    Tree {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Reads a task list.
pub fn load_tasks(path: &Path) -> Result<Vec<BenchTask>, BenchError> {
    let err = |reason: String| BenchError::Tasks {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| err(e.to_string()))
}

/// Token counts and times, of one file or summed over several.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Counts {
    pub prompt_tokens: usize,
    pub reused_tokens: usize,
    pub prompt_seconds: f64,
    pub generated_tokens: usize,
    pub generate_seconds: f64,
    pub drafted_tokens: usize,
    pub accepted_tokens: usize,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.prompt_tokens += other.prompt_tokens;
        self.reused_tokens += other.reused_tokens;
        self.prompt_seconds += other.prompt_seconds;
        self.generated_tokens += other.generated_tokens;
        self.generate_seconds += other.generate_seconds;
        self.drafted_tokens += other.drafted_tokens;
        self.accepted_tokens += other.accepted_tokens;
    }

    /// Prompt tokens decoded per second (reused tokens cost nothing and are not counted).
    pub fn prompt_rate(&self) -> f64 {
        rate(self.prompt_tokens - self.reused_tokens, self.prompt_seconds)
    }

    pub fn generate_rate(&self) -> f64 {
        rate(self.generated_tokens, self.generate_seconds)
    }
}

/// One file of one pass.
#[derive(Debug, Clone, Serialize)]
pub struct FileRun {
    pub task: String,
    pub path: String,
    pub role: Option<Role>,
    pub outcome: String,
    #[serde(flatten)]
    pub counts: Counts,
    pub restored: bool,
    #[serde(skip)]
    pub result: String,
    /// What codey was asked for this file (its part of the instruction) and the content it
    /// read: what the reference loop needs to rebuild the same prompt.
    #[serde(skip)]
    pub instruction: String,
    #[serde(skip)]
    pub original: String,
}

/// Sums over a set of file runs.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Totals {
    pub files: usize,
    #[serde(flatten)]
    pub counts: Counts,
}

impl Totals {
    fn of<'a>(runs: impl Iterator<Item = &'a FileRun>) -> Totals {
        let mut t = Totals::default();
        for r in runs {
            t.files += 1;
            t.counts.add(&r.counts);
        }
        t
    }
}

/// Tokens per second.
pub fn rate(tokens: usize, seconds: f64) -> f64 {
    tokens as f64 / seconds.max(1e-9)
}

/// codey against the independent reference loop, for one editor model.
#[derive(Debug, Clone, Serialize)]
pub struct RoleFigures {
    pub role: Role,
    /// The plain (non-speculative) pass, so both loops do the same work per token.
    pub codey: Totals,
    /// The independent reference loop (llama.cpp's default context parameters).
    pub reference: RawRates,
    /// codey's rate ÷ the reference's, for the prompt and for generation.
    pub prompt_ratio: f64,
    pub generate_ratio: f64,
    pub loads: u32,
    /// Several prompts' answers decoded side by side against one after another.
    pub parallel: Vec<ParallelRates>,
}

/// Everything one benchmark run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub plain: Vec<FileRun>,
    pub speculative: Vec<FileRun>,
    /// Two runs with the on-disk KV cache, each starting with no model loaded: the first
    /// fills the cache, the second finds it.
    pub first_run: Vec<FileRun>,
    pub second_run: Vec<FileRun>,
    /// Files whose speculative result differs from plain greedy's (batch kernels can break
    /// near ties differently).
    pub speculation_differs: Vec<String>,
    /// Files whose result with a restored KV state differs from plain greedy's (must be none).
    pub cache_differs: Vec<String>,
    pub roles: Vec<RoleFigures>,
    /// Each file's first answer against a retry round that follows it.
    pub retry: Vec<RetryRun>,
    /// The router's exact checks over every file, per task, against the task's editing.
    pub checks: Vec<CheckCost>,
    pub peak_rss_mb: Option<u64>,
}

/// What one round of one file cost.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct RoundCost {
    /// Prompt and generation, the model's load left out.
    pub seconds: f64,
    pub prompt_tokens: usize,
    /// Prompt tokens already in the model's cache.
    pub reused_tokens: usize,
    pub generated_tokens: usize,
}

/// A file's first answer and one retry round after it, with the same model (issue 10: a
/// retry round should cost at most 40 % of the first round, its prompt reused). The retry's
/// conversation starts with the first prompt and answer, which the model's cache still holds,
/// so only the feedback is new prompt; its answer is as long as the model makes it.
#[derive(Debug, Clone, Serialize)]
pub struct RetryRun {
    pub task: String,
    pub path: String,
    pub role: Role,
    pub kind: RetryKind,
    pub first: RoundCost,
    pub retry: RoundCost,
}

/// What a measured retry round asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RetryKind {
    /// The whole answer again, after a failed check (`--verify`).
    WholeAnswer,
    /// One failed block again, the others kept.
    OneBlock,
}

impl RetryKind {
    pub fn label(self) -> &'static str {
        match self {
            RetryKind::WholeAnswer => "whole answer",
            RetryKind::OneBlock => "one block",
        }
    }
}

impl Figures {
    /// Totals over the files a model answered, in one of the passes.
    pub fn totals(runs: &[FileRun]) -> Totals {
        Totals::of(runs.iter().filter(|r| r.counts.generated_tokens > 0))
    }
}

/// Tokens each sequence generates in the parallel-sequence comparison: enough for a rate,
/// few enough that the comparison stays a small part of the benchmark.
const PARALLEL_TOKENS: usize = 32;

/// Runs every task over the repository at `root` four times (plain greedy; speculative; twice
/// with a fresh disk KV cache, no model loaded at the start of either), then the reference loop for
/// each editor model used, and that loop with `parallel` prompts side by side (each count
/// given). `progress` hears a line per step.
pub fn run(
    lifecycle: &mut Lifecycle<Llama>,
    root: &Path,
    tasks: &[BenchTask],
    kv_dir: &Path,
    parallel: &[usize],
    progress: &dyn Progress,
) -> Result<Figures, BenchError> {
    let plain = pass(lifecycle, root, tasks, false, None, progress)?;
    step(progress, "scope and due checks over every file".to_owned());
    let checks = checks::costs(root, tasks, &plain)?;
    let retry = retry_rounds(lifecycle, root, tasks, progress)?;
    let speculative = pass(lifecycle, root, tasks, true, None, progress)?;
    let cache = KvCache::new(kv_dir.to_owned(), 4096);
    let mut runs = Vec::new();
    for _ in 0..2 {
        for role in [Role::Coder, Role::Algorithm] {
            lifecycle.unload(role);
        }
        runs.push(pass(lifecycle, root, tasks, false, Some(&cache), progress)?);
    }
    let second_run = runs.pop().unwrap_or_default();
    let first_run = runs.pop().unwrap_or_default();
    let differ = |other: &[FileRun]| -> Vec<String> {
        plain
            .iter()
            .zip(other)
            .filter(|(a, b)| a.result != b.result)
            .map(|(a, _)| format!("{}: {}", a.task, a.path))
            .collect()
    };
    let speculation_differs = differ(&speculative);
    let cache_differs = differ(&second_run);
    let mut roles = Vec::new();
    for role in [Role::Coder, Role::Algorithm] {
        let answered: Vec<&FileRun> = plain
            .iter()
            .filter(|r| r.role == Some(role) && r.counts.generated_tokens > 0)
            .collect();
        if answered.is_empty() {
            continue;
        }
        let codey = Totals::of(answered.iter().copied());
        // Counted before the prompts are rebuilt for the reference loop, which may load the model.
        let loads = lifecycle.stats().roles.get(&role).map_or(0, |s| s.loads);
        step(progress, format!("raw llama.cpp loop for the {role} model"));
        let prompts = answered
            .iter()
            .map(|r| prompt_for(lifecycle, r))
            .collect::<Result<Vec<_>, _>>()?;
        // The reference loops load their own copy: the lifecycle's goes, so both run on the same
        // memory.
        let spec = lifecycle.load_spec(role)?;
        lifecycle.unload(role);
        // The same prompts and answer lengths as codey's pass.
        let runs: Vec<_> = prompts
            .iter()
            .cloned()
            .zip(answered.iter().map(|r| r.counts.generated_tokens))
            .collect();
        let reference = raw::reference_rates(&spec, &runs)?;
        let mut side_by_side = Vec::new();
        for &n in parallel.iter().filter(|&&n| n > 1) {
            step(
                progress,
                format!("{n} parallel sequences on the {role} model"),
            );
            // Fewer answered files than sequences: prompts repeat, which costs the same.
            let chosen: Vec<Vec<_>> = prompts.iter().cycle().take(n).cloned().collect();
            side_by_side.push(raw::parallel_rates(&spec, &chosen, PARALLEL_TOKENS)?);
        }
        roles.push(RoleFigures {
            role,
            prompt_ratio: codey.counts.prompt_rate()
                / rate(reference.prompt_tokens, reference.prompt_seconds),
            generate_ratio: codey.counts.generate_rate()
                / rate(reference.generated_tokens, reference.generate_seconds),
            loads,
            codey,
            reference,
            parallel: side_by_side,
        });
    }
    Ok(Figures {
        speculation_differs,
        cache_differs,
        plain,
        speculative,
        first_run,
        second_run,
        roles,
        retry,
        checks,
        peak_rss_mb: crate::lifecycle::peak_rss().map(mb),
    })
}

/// Answers each task's files once (plain greedy, no feedback, no escalation), one file at a
/// time, and gives each answered file one retry round right after, as `--verify` feedback
/// does: the same model, the conversation so far, a failed check as the feedback.
fn retry_rounds(
    lifecycle: &mut Lifecycle<Llama>,
    root: &Path,
    tasks: &[BenchTask],
    progress: &dyn Progress,
) -> Result<Vec<RetryRun>, BenchError> {
    let feedback = FileError::Verify(
        "(codey bench) the check could not run; answer again with the same edit".to_owned(),
    );
    let mut runs = Vec::new();
    for task in tasks {
        step(
            progress,
            format!("{} (a first answer, then a retry round)", task.name),
        );
        let options = ScanOptions {
            paths: task.paths.iter().map(PathBuf::from).collect(),
            ..ScanOptions::default()
        };
        let scanned = scan::scan(root, root, &options)?;
        let request = EditRequest::first_answers(&task.instruction);
        for cand in scanned.files {
            // One file per run: the model's cache then holds this file's conversation.
            let report = engine::run(
                lifecycle,
                &mut Router::new(crate::router::DEFAULT_MARGIN),
                &request,
                vec![cand.clone()],
                &[],
                &Silent,
            );
            let Some(first) = report.files.into_iter().next() else {
                continue;
            };
            let (Some(role), Some(round)) = (first.role, first.rounds.first()) else {
                continue;
            };
            let first_cost = RoundCost {
                seconds: round.seconds,
                prompt_tokens: first.prompt_tokens,
                reused_tokens: first.reused_tokens,
                generated_tokens: first.generated_tokens,
            };
            let mut retries = vec![(RetryKind::WholeAnswer, Retry::Failed(&feedback))];
            if let Some(kept) = last_block_failed(&first) {
                retries.push((RetryKind::OneBlock, Retry::Resend(kept)));
            }
            for (kind, retry) in retries {
                let retried =
                    engine::revise(lifecycle, &request, &cand, first.clone(), retry, &Silent);
                let Some(again) = retried.rounds.get(first.rounds.len()) else {
                    continue;
                };
                runs.push(RetryRun {
                    task: task.name.clone(),
                    path: cand.rel.clone(),
                    role,
                    kind,
                    first: first_cost,
                    retry: RoundCost {
                        seconds: again.seconds,
                        prompt_tokens: retried.prompt_tokens - first.prompt_tokens,
                        reused_tokens: retried.reused_tokens - first.reused_tokens,
                        generated_tokens: retried.generated_tokens - first.generated_tokens,
                    },
                });
            }
        }
    }
    Ok(runs)
}

/// For a first answer of two or more blocks that applied: its last block marked as failed
/// and the others kept, as when one block of an answer matches nothing. The model is asked
/// for that block alone, the retry the engine makes most often.
fn last_block_failed(first: &FileReport) -> Option<Kept> {
    if !matches!(first.outcome, Outcome::Changed { .. }) {
        return None;
    }
    let answer = &first.conversation.last()?.content;
    let Ok(Answer::Blocks(mut blocks)) = edit::parse_answer(answer, true) else {
        return None;
    };
    if blocks.len() < 2 {
        return None;
    }
    let last = blocks.pop()?;
    let error = EditError::NoMatch {
        block: blocks.len() + 1,
        first_line: last.search.lines().next().unwrap_or_default().to_owned(),
        search: last.search.clone(),
    };
    Some(Kept::new(blocks, vec![(last, error)]))
}

fn pass(
    lifecycle: &mut Lifecycle<Llama>,
    root: &Path,
    tasks: &[BenchTask],
    speculate: bool,
    kv_cache: Option<&KvCache>,
    progress: &dyn Progress,
) -> Result<Vec<FileRun>, BenchError> {
    let mut runs = Vec::new();
    for task in tasks {
        let kind = match (speculate, kv_cache) {
            (_, Some(_)) => "with the disk KV cache",
            (false, None) => "plain",
            (true, None) => "speculative",
        };
        step(progress, format!("{} ({kind})", task.name));
        let options = ScanOptions {
            paths: task.paths.iter().map(PathBuf::from).collect(),
            ..ScanOptions::default()
        };
        let scanned = scan::scan(root, root, &options)?;
        // The bench times first answers: no feedback rounds, no escalation.
        let request = EditRequest {
            speculate,
            kv_cache: kv_cache.cloned(),
            ..EditRequest::first_answers(&task.instruction)
        };
        let files = scanned.files.clone();
        let report = engine::run(
            lifecycle,
            &mut Router::new(crate::router::DEFAULT_MARGIN),
            &request,
            scanned.files,
            &scanned.skipped,
            &Silent,
        );
        runs.extend(file_runs(&task.name, &report, &files));
    }
    Ok(runs)
}

fn file_runs(task: &str, report: &Report, files: &[Candidate]) -> Vec<FileRun> {
    report
        .files
        .iter()
        .map(|f| FileRun {
            task: task.to_owned(),
            path: f.path.clone(),
            role: f.role,
            outcome: f.outcome.label().to_owned(),
            counts: Counts {
                prompt_tokens: f.prompt_tokens,
                reused_tokens: f.reused_tokens,
                prompt_seconds: f.prompt_seconds,
                generated_tokens: f.generated_tokens,
                generate_seconds: f.generate_seconds,
                drafted_tokens: f.drafted_tokens,
                accepted_tokens: f.accepted_tokens,
            },
            restored: f.restored,
            result: match &f.outcome {
                Outcome::Changed { new_content, .. } => new_content.clone(),
                other => format!("{other:?}"),
            },
            instruction: f
                .focus
                .clone()
                .unwrap_or_else(|| report.instruction.clone()),
            original: files
                .iter()
                .find(|c| c.rel == f.path)
                .map(|c| c.content.clone())
                .unwrap_or_default(),
        })
        .collect()
}

/// The prompt codey built for one file of a pass, as tokens.
fn prompt_for(
    lifecycle: &mut Lifecycle<Llama>,
    run: &FileRun,
) -> Result<Vec<crate::model::Token>, BenchError> {
    let role = run.role.unwrap_or(Role::Coder);
    let (tokens, _) = lifecycle.with(role, |m| {
        engine::edit_prompt(m, role, &run.instruction, &run.path, &run.original)
    })??;
    Ok(tokens)
}

fn step(progress: &dyn Progress, step: String) {
    progress.event(&Event::Bench { step });
}

/// The scan of a large tree against `rg --files`.
#[derive(Debug, Clone, Serialize)]
pub struct ScanFigures {
    pub files: usize,
    pub listed: usize,
    /// Best of the runs, in seconds.
    pub codey_list_seconds: f64,
    pub codey_scan_seconds: f64,
    pub rg_seconds: Option<f64>,
    pub rg_listed: Option<usize>,
    pub ratio: Option<f64>,
}

/// Builds a tree of `files` small files under `dir` (a tenth of them ignored by .gitignore)
/// and times listing it, reading it, and `rg --files` on it; each the best of `runs`.
pub fn scan_tree(dir: &Path, files: usize, runs: usize) -> Result<ScanFigures, BenchError> {
    let io = |source| BenchError::Tree {
        path: dir.to_owned(),
        source,
    };
    std::fs::write(dir.join(".gitignore"), "*.log\nbuild/\n").map_err(io)?;
    for i in 0..files {
        let sub = dir.join(format!("d{:03}/e{:02}", i % 400, (i / 400) % 25));
        if i < 400 * 25 {
            std::fs::create_dir_all(&sub).map_err(io)?;
        }
        let name = if i % 10 == 9 {
            format!("f{i}.log")
        } else {
            format!("f{i}.py")
        };
        std::fs::write(sub.join(name), "x = 1\n").map_err(io)?;
    }
    let best =
        |f: &mut dyn FnMut() -> Result<usize, BenchError>| -> Result<(f64, usize), BenchError> {
            let mut best = f64::MAX;
            let mut count = 0;
            for _ in 0..runs.max(1) {
                let started = Instant::now();
                count = f()?;
                best = best.min(started.elapsed().as_secs_f64());
            }
            Ok((best, count))
        };
    let options = ScanOptions::default();
    let (list, listed) = best(&mut || Ok(scan::list(dir, &options)?.len()))?;
    let (read, _) = best(&mut || Ok(scan::scan(dir, dir, &options)?.files.len()))?;
    let rg = best(&mut || {
        // --no-require-git: .gitignore applies outside a git repository too, as in codey's scan.
        let out = std::process::Command::new("rg")
            .args(["--files", "--no-require-git"])
            .current_dir(dir)
            .output()
            .map_err(io)?;
        Ok(out.stdout.iter().filter(|&&b| b == b'\n').count())
    })
    .ok();
    Ok(ScanFigures {
        files,
        listed,
        codey_list_seconds: list,
        codey_scan_seconds: read,
        rg_seconds: rg.map(|r| r.0),
        rg_listed: rg.map(|r| r.1),
        ratio: rg.map(|r| list / r.0.max(1e-9)),
    })
}

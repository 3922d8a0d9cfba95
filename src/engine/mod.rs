//! The engine: one instruction over a batch of files, from scanned candidates to per-file
//! outcomes.
//!
//! Owns the order of work: every file is routed first (the router is small and resident), then
//! files are grouped by role so each editor model is loaded once per run even when the budget
//! holds only one of them, then each file is prompted, answered, parsed and applied. A file that
//! fails is recorded with a typed [`FileError`] and the batch goes on. The engine reports
//! progress through [`Progress`] and never prints; chaining instructions and writing results out
//! is `session`'s and `output`'s job.

use std::ops::ControlFlow;
use std::time::Instant;

use serde::{Serialize, Serializer};

use crate::config::Role;
use crate::edit::{self, EditError};
use crate::event::{Event, Progress};
use crate::generate;
use crate::kvcache::KvCache;
use crate::lifecycle::{Lifecycle, Stats};
use crate::model::{
    Backend, ChatMessage, GenerateOptions, Generation, LanguageModel, ModelError, StopReason, Token,
};
use crate::prompt;
use crate::router::{self, Decision, Router, Source};
use crate::scan::{Candidate, SkipReason};
use crate::syntax;

mod kept;
pub use kept::Kept;

/// Tokens always left for the answer; a prompt that leaves fewer is refused, not truncated.
pub const MIN_ANSWER_TOKENS: usize = 256;

/// What to do with one batch.
#[derive(Debug, Clone)]
pub struct EditRequest {
    pub instruction: String,
    /// `--role` or a rule's role: skip the router model and use this editor for every file.
    pub role: Option<Role>,
    /// Prompt-lookup speculative decoding (`--speculate`).
    pub speculate: bool,
    /// Prompt states kept on disk across runs.
    pub kv_cache: Option<KvCache>,
    /// Rounds of feedback after a first answer that does not parse, apply or pass the syntax
    /// gate (`--rounds`).
    pub rounds: usize,
    /// The editors a file goes through, in order, while it still fails after its rounds: one
    /// that fails with a role goes on to the role after it here (the config's `escalation`).
    /// Empty, one role, or a role not listed: no escalation.
    pub escalation: Vec<Role>,
    /// The instruction's names the whole run holds, when the batch is one shard of it
    /// (`--shard`); None: the batch is the run.
    pub known_names: Option<Vec<String>>,
    /// Files in flight side by side on a served model (`--jobs`); in-process models take one
    /// at a time.
    pub jobs: usize,
}

impl EditRequest {
    /// First answers only, one file at a time: no feedback rounds, no escalation, no
    /// speculation, no disk cache, the router choosing each file's editor. What the benchmarks
    /// time, changed field by field where a pass needs more.
    pub fn first_answers(instruction: &str) -> Self {
        EditRequest {
            instruction: instruction.to_owned(),
            role: None,
            speculate: false,
            kv_cache: None,
            rounds: 0,
            escalation: Vec::new(),
            known_names: None,
            jobs: 1,
        }
    }
}

/// Why one file failed. The rest of the batch goes on; the run exits 2. `kind` in the JSON
/// report is [`FileError::kind`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FileError {
    /// The prompt leaves fewer than [`MIN_ANSWER_TOKENS`] of the context. Retrying does not
    /// help; a larger `context_size` or a smaller file does.
    #[error(
        "prompt is {tokens} tokens; with {MIN_ANSWER_TOKENS} kept for the answer it does not fit \
         the {context}-token context of the {role} model (raise models.{role}.context_size or \
         edit a smaller file)"
    )]
    PromptTooLong {
        tokens: usize,
        context: usize,
        role: Role,
    },
    /// The editor model could not be loaded (missing, over budget, corrupt, checksum).
    #[error("{0}")]
    ModelUnavailable(String),
    /// llama.cpp failed while tokenizing or generating.
    #[error("{0}")]
    Generation(String),
    /// The answer could not be parsed or applied; `cut_off` says when it was also cut short.
    #[error("{error}{}", cut_off.as_ref().map(|c| format!(" ({c})")).unwrap_or_default())]
    Answer {
        error: EditError,
        cut_off: Option<String>,
    },
    /// A whole-file answer that loses most of the file, drops definitions, or only deletes
    /// statements from a function body, none of it asked for; not applied.
    #[error("{0}")]
    PartialAnswer(String),
    /// The edit adds a parse error to the file (the syntax gate); not applied.
    #[error("the edit does not parse as {language}: {error}")]
    Syntax {
        language: &'static str,
        error: String,
        /// The edited lines around the error, the broken one marked.
        excerpt: String,
    },
    /// The instruction asks only for comments and the edit changes code; not applied.
    #[error("the instruction asks only for comments, and the edit changes code at line {line}")]
    CodeChanged {
        line: usize,
        /// The edited lines around the change, its line marked.
        excerpt: String,
    },
    /// The verify command failed on the edit (`--verify`); not applied.
    #[error("the verify command failed: {0}")]
    Verify(String),
    /// A bug in codey: please report it.
    #[error("internal: {0}")]
    Internal(String),
}

impl FileError {
    /// Whether another round (the model told what went wrong) can help: answers that do not
    /// parse, apply, pass the gate or the verify command. Not a prompt over the context, a
    /// model that cannot load, or a bug.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            FileError::Answer { .. }
                | FileError::PartialAnswer(_)
                | FileError::Syntax { .. }
                | FileError::CodeChanged { .. }
                | FileError::Verify(_)
        )
    }

    /// The stable name of the error in the JSON report.
    pub fn kind(&self) -> &'static str {
        match self {
            FileError::PromptTooLong { .. } => "prompt-too-long",
            FileError::ModelUnavailable(_) => "model-unavailable",
            FileError::Generation(_) => "generation-error",
            FileError::Answer {
                cut_off: Some(_), ..
            } => "cut-off",
            FileError::Answer { error, .. } => error.kind(),
            FileError::PartialAnswer(_) => "partial-answer",
            FileError::Syntax { .. } => "syntax-error",
            FileError::CodeChanged { .. } => "code-changed",
            FileError::Verify(_) => "verify-failed",
            FileError::Internal(_) => "internal",
        }
    }
}

/// Why a file was not sent to an editor.
#[derive(Debug, Clone, PartialEq)]
pub enum Skip {
    /// The scan left it out (binary, too large, not UTF-8, unreadable).
    Scan(SkipReason),
    /// The router found it outside the instruction's scope.
    Scope(String),
    /// The file already satisfies the instruction: no change is due.
    NotDue(String),
}

impl Skip {
    pub fn kind(&self) -> &'static str {
        match self {
            Skip::Scan(SkipReason::Binary) => "binary",
            Skip::Scan(SkipReason::TooLarge { .. }) => "too-large",
            Skip::Scan(SkipReason::NotUtf8) => "not-utf8",
            Skip::Scan(SkipReason::NameNotUtf8) => "name-not-utf8",
            Skip::Scan(SkipReason::Unreadable { .. }) => "unreadable",
            Skip::Scope(_) => "out-of-scope",
            Skip::NotDue(_) => "not-due",
        }
    }
}

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Scan(reason) => reason.fmt(f),
            Skip::Scope(reason) | Skip::NotDue(reason) => f.write_str(reason),
        }
    }
}

/// How one file ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The model's edit applies and changes the file.
    Changed {
        new_content: String,
        added: usize,
        removed: usize,
        /// Added lines holding invisible or bidirectional control characters.
        flags: Vec<String>,
    },
    /// The model answered that no change is needed, or its edit changed nothing.
    Unchanged { reason: String },
    /// Not sent to an editor.
    Skipped(Skip),
    /// Something went wrong with this file only.
    Failed(FileError),
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Changed { .. } => "changed",
            Outcome::Unchanged { .. } => "unchanged",
            Outcome::Skipped(_) => "skipped",
            Outcome::Failed(_) => "failed",
        }
    }

    /// The human reason for anything but a change.
    pub fn reason(&self) -> Option<String> {
        match self {
            Outcome::Changed { .. } => None,
            Outcome::Unchanged { reason } => Some(reason.clone()),
            Outcome::Skipped(skip) => Some(skip.to_string()),
            Outcome::Failed(error) => Some(error.to_string()),
        }
    }
}

/// JSON: `outcome` (the label), and per outcome `added`/`removed`/`flags`, or `reason`, and
/// `kind` for skipped and failed files.
impl Serialize for Outcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("outcome", self.label())?;
        match self {
            Outcome::Changed {
                added,
                removed,
                flags,
                ..
            } => {
                map.serialize_entry("added", added)?;
                map.serialize_entry("removed", removed)?;
                if !flags.is_empty() {
                    map.serialize_entry("flags", flags)?;
                }
            }
            Outcome::Unchanged { reason } => map.serialize_entry("reason", reason)?,
            Outcome::Skipped(skip) => {
                map.serialize_entry("kind", skip.kind())?;
                map.serialize_entry("reason", &skip.to_string())?;
            }
            Outcome::Failed(error) => {
                map.serialize_entry("kind", error.kind())?;
                map.serialize_entry("reason", &error.to_string())?;
            }
        }
        map.end()
    }
}

/// Everything known about one file after the run.
#[derive(Debug, Clone, Serialize)]
pub struct FileReport {
    pub path: String,
    pub role: Option<Role>,
    pub route: Option<Source>,
    pub route_reason: Option<String>,
    /// The part of the instruction this file was given, when not the whole of it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub focus: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub prompt_tokens: usize,
    /// Prompt tokens already in the KV cache (the shared prefix), not decoded again.
    pub reused_tokens: usize,
    pub generated_tokens: usize,
    /// The prompt's state came from the on-disk KV cache.
    pub restored: bool,
    /// Speculative draft tokens proposed and confirmed.
    pub drafted_tokens: usize,
    pub accepted_tokens: usize,
    /// Blocks that searched for text an earlier block already searched for, dropped (the
    /// answer is stopped at the first: a model that does this is in a loop).
    pub repeated_blocks: usize,
    /// Prompt processing and generation time inside the model.
    pub prompt_seconds: f64,
    pub generate_seconds: f64,
    /// Wall time for the file, model load included when it happened here.
    pub seconds: f64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<String>,
    /// Every answer the file took, in order: the first, retries with feedback, escalation.
    pub rounds: Vec<Round>,
    /// The file as the first answer left it, when that answer applied (for pass@1 in `eval`).
    #[serde(skip)]
    pub first_answer: Option<String>,
    /// The conversation so far, for a later round (`--verify` feedback).
    #[serde(skip)]
    pub conversation: Vec<ChatMessage>,
}

/// One answer to one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Round {
    pub role: Role,
    /// `ok`, or the kind of the error the answer ran into.
    pub result: &'static str,
    pub generated_tokens: usize,
    pub seconds: f64,
}

impl FileReport {
    pub fn new(path: &str, outcome: Outcome) -> Self {
        FileReport {
            path: path.to_owned(),
            role: None,
            route: None,
            route_reason: None,
            focus: None,
            outcome,
            prompt_tokens: 0,
            reused_tokens: 0,
            restored: false,
            generated_tokens: 0,
            drafted_tokens: 0,
            accepted_tokens: 0,
            repeated_blocks: 0,
            prompt_seconds: 0.0,
            generate_seconds: 0.0,
            seconds: 0.0,
            matches: Vec::new(),
            rounds: Vec::new(),
            first_answer: None,
            conversation: Vec::new(),
        }
    }

    fn routed(mut self, decision: Decision) -> Self {
        self.role = self.role.or(decision.role);
        self.route = Some(decision.source);
        self.route_reason = Some(decision.reason);
        self
    }
}

/// The result of one instruction over a batch.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The rule of `.codey.json` this run carried out, if it was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub instruction: String,
    pub files: Vec<FileReport>,
    /// Things that did not fail a file but that the user should know.
    pub warnings: Vec<String>,
    pub models: Stats,
}

impl Report {
    /// How many files ended with the outcome `label`.
    pub fn count(&self, label: &str) -> usize {
        self.files
            .iter()
            .filter(|f| f.outcome.label() == label)
            .count()
    }
}

/// Runs the edit over `files`. `scan_skipped` are reported as skipped.
pub fn run<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    router: &mut Router,
    request: &EditRequest,
    files: Vec<Candidate>,
    scan_skipped: &[(String, SkipReason)],
    progress: &dyn Progress,
) -> Report {
    let mut reports: Vec<FileReport> = scan_skipped
        .iter()
        .map(|(path, reason)| FileReport::new(path, Outcome::Skipped(Skip::Scan(reason.clone()))))
        .collect();
    let routes = router.route_batch(
        lifecycle,
        &request.instruction,
        request.role,
        &files,
        request.known_names.as_deref(),
        progress,
    );
    let mut work: Vec<(Role, Candidate, router::Route)> = Vec::new();
    for (cand, route) in files.into_iter().zip(routes) {
        match route.decision.role {
            Some(role) => work.push((role, cand, route)),
            None => {
                let reason = route.decision.reason.clone();
                let skip = match route.decision.source {
                    Source::Due => Skip::NotDue(reason),
                    _ => Skip::Scope(reason),
                };
                let r = FileReport::new(&cand.rel, Outcome::Skipped(skip)).routed(route.decision);
                done(progress, &r);
                reports.push(r);
            }
        }
    }
    // Group by role (stable within a role), in escalation order, so each editor is loaded
    // once; files a model gives up on join the next role's group, still ahead of them, so
    // that model too still loads once.
    let rank = |role: Role| {
        let at = request.escalation.iter().position(|r| *r == role);
        (at.unwrap_or(request.escalation.len()), role)
    };
    work.sort_by_key(|(role, ..)| rank(*role));
    let total = work.len();
    let mut broken: Option<(Role, String)> = None;
    let mut queue: std::collections::VecDeque<Job> = work
        .into_iter()
        .map(|(role, cand, route)| Job {
            role,
            cand,
            route,
            earlier: None,
        })
        .collect();
    let mut index = 0;
    while let Some(first) = queue.pop_front() {
        // A served model takes every queued file of its role, `jobs` in flight at a time, each
        // slot taking the next file as soon as it is free (waiting for the slowest of each
        // group of `jobs` would leave slots idle); one in-process model takes one at a time.
        let role = first.role;
        let mut batch = vec![first];
        if lifecycle.is_remote(role) && request.jobs > 1 {
            while queue.front().is_some_and(|j| j.role == role) {
                batch.extend(queue.pop_front());
            }
        }
        let numbering = Numbering {
            first: index,
            total,
        };
        index += batch.len();
        let finished = if batch.len() == 1 {
            numbering.start(progress, &batch[0], 0);
            vec![edit_one(
                lifecycle,
                request,
                &batch[0],
                &mut broken,
                progress,
            )]
        } else {
            let workers = request.jobs.min(batch.len());
            let side_by_side = SideBySide {
                batch: &batch,
                workers,
                numbering,
            };
            edit_side_by_side(lifecycle, request, &side_by_side, &mut broken, progress)
        };
        for (job, report) in batch.into_iter().zip(finished) {
            match escalation(request, &job, &report) {
                Some(to) => {
                    let at = queue
                        .iter()
                        .position(|j| rank(j.role) > rank(to))
                        .unwrap_or(queue.len());
                    queue.insert(
                        at,
                        Job {
                            role: to,
                            earlier: Some(Box::new(report)),
                            ..job
                        },
                    );
                }
                None => {
                    let mut report = report.routed(job.route.decision);
                    if job.route.focus != request.instruction {
                        report.focus = Some(job.route.focus);
                    }
                    done(progress, &report);
                    reports.push(report);
                }
            }
        }
    }
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    Report {
        rule: None,
        instruction: request.instruction.clone(),
        files: reports,
        warnings: router.warning().into_iter().collect(),
        models: lifecycle.stats(),
    }
}

/// How the progress display numbers files: `[first + i + 1/total]`.
#[derive(Debug, Clone, Copy)]
struct Numbering {
    first: usize,
    total: usize,
}

impl Numbering {
    /// Tells `progress` that the `i`-th job of a batch is starting.
    fn start(self, progress: &dyn Progress, job: &Job, i: usize) {
        progress.event(&Event::FileStart {
            path: job.cand.rel.clone(),
            role: job.role,
            index: (self.first + i).min(self.total.saturating_sub(1)),
            total: self.total,
        });
    }
}

/// Files of one served role to edit with `workers` requests in flight.
struct SideBySide<'a> {
    batch: &'a [Job],
    workers: usize,
    numbering: Numbering,
}

/// One file waiting for an editor.
struct Job {
    role: Role,
    cand: Candidate,
    route: router::Route,
    /// The report of an earlier model that gave up on the file (escalation).
    earlier: Option<Box<FileReport>>,
}

/// Where a failed file goes next, if anywhere: the role after its own in the escalation
/// order, when another answer could help. A file sees each editor at most once, even if a
/// caller's order names one twice (the config's may not).
fn escalation(request: &EditRequest, job: &Job, report: &FileReport) -> Option<Role> {
    let Outcome::Failed(error) = &report.outcome else {
        return None;
    };
    let order = &request.escalation;
    let at = order.iter().position(|r| *r == job.role)?;
    let to = *order.get(at + 1)?;
    let seen = report.rounds.iter().any(|r| r.role == to);
    (error.retryable() && to != job.role && !seen).then_some(to)
}

/// Edits one file with its job's model; an earlier model's rounds come first in the report.
fn edit_one<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    request: &EditRequest,
    job: &Job,
    broken: &mut Option<(Role, String)>,
    progress: &dyn Progress,
) -> FileReport {
    let role = job.role;
    // Prompt states on disk are llama.cpp's; a served model keeps its own prompt cache.
    let kv = request
        .kv_cache
        .as_ref()
        .filter(|_| !lifecycle.is_remote(role))
        .map(|c| (c, lifecycle.config().model_path(role)));
    let task = FileTask::new(request, job, kv);
    let mut report = match broken {
        // A model that cannot load fails every file of its role without retrying the load.
        Some((r, reason)) if *r == role => FileReport::new(
            &job.cand.rel,
            Outcome::Failed(FileError::ModelUnavailable(reason.clone())),
        ),
        _ => {
            let started = Instant::now();
            match lifecycle.with(role, |model| edit_file(model, &task, progress)) {
                Ok(mut r) => {
                    r.seconds = started.elapsed().as_secs_f64();
                    r
                }
                Err(e) => {
                    let reason = e.to_string();
                    *broken = Some((role, reason.clone()));
                    FileReport::new(
                        &job.cand.rel,
                        Outcome::Failed(FileError::ModelUnavailable(reason)),
                    )
                }
            }
        }
    };
    report.role = Some(role);
    if let Some(earlier) = &job.earlier {
        report.absorb(earlier);
    }
    report
}

/// Edits the files of `work` (one role, served by a server) side by side: `work.workers` worker
/// threads (at most the server's slots), each taking the next file as soon as it is done with
/// one; events reach `progress` from this thread. The reports come back in the batch's order,
/// whatever finished first.
fn edit_side_by_side<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    request: &EditRequest,
    work: &SideBySide<'_>,
    broken: &mut Option<(Role, String)>,
    progress: &dyn Progress,
) -> Vec<FileReport> {
    let batch = work.batch;
    let role = batch[0].role;
    let unavailable = |reason: &str| -> Vec<FileReport> {
        batch
            .iter()
            .map(|job| {
                let mut r = FileReport::new(
                    &job.cand.rel,
                    Outcome::Failed(FileError::ModelUnavailable(reason.to_owned())),
                );
                r.role = Some(role);
                r
            })
            .collect()
    };
    if let Some((r, reason)) = broken {
        if *r == role {
            return unavailable(reason);
        }
    }
    let workers = match lifecycle.workers(role, work.workers) {
        Ok(workers) => workers,
        Err(e) => {
            let reason = e.to_string();
            *broken = Some((role, reason.clone()));
            return unavailable(&reason);
        }
    };
    // Largest files first: their answers tend to be the longest, and one long answer started
    // last would run alone while the other slots sit idle.
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(batch[i].cand.content.len()));
    let order = &order;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (events, heard) = std::sync::mpsc::channel::<Event>();
    let (results, collected) = std::sync::mpsc::channel::<(usize, FileReport)>();
    std::thread::scope(|scope| {
        for mut worker in workers {
            let (events, results, next) = (events.clone(), results.clone(), &next);
            scope.spawn(move || {
                let progress = crate::event::Forward(events);
                loop {
                    let n = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let Some(&i) = order.get(n) else { break };
                    let job = &batch[i];
                    work.numbering.start(&progress, job, n);
                    let started = Instant::now();
                    let mut report =
                        edit_file(&mut worker, &FileTask::new(request, job, None), &progress);
                    report.seconds = started.elapsed().as_secs_f64();
                    // The receiver outlives the scope: sending cannot fail.
                    let _ = results.send((i, report));
                }
            });
        }
        drop((events, results));
        for event in heard {
            progress.event(&event);
        }
    });
    lifecycle.count_requests(role, batch.len());
    let mut reports: Vec<Option<FileReport>> = batch.iter().map(|_| None).collect();
    for (i, report) in collected {
        reports[i] = Some(report);
    }
    batch
        .iter()
        .zip(reports)
        .map(|(job, report)| {
            let mut report = report.unwrap_or_else(|| {
                FileReport::new(
                    &job.cand.rel,
                    Outcome::Failed(FileError::Internal("a worker thread died".to_owned())),
                )
            });
            report.role = Some(role);
            if let Some(earlier) = &job.earlier {
                report.absorb(earlier);
            }
            report
        })
        .collect()
}

impl FileReport {
    /// Takes in an earlier model's work on the same file: its rounds come first, its tokens
    /// and time count, and its first answer stays the file's first answer.
    fn absorb(&mut self, earlier: &FileReport) {
        let mut rounds = earlier.rounds.clone();
        rounds.append(&mut self.rounds);
        self.rounds = rounds;
        self.prompt_tokens += earlier.prompt_tokens;
        self.reused_tokens += earlier.reused_tokens;
        self.generated_tokens += earlier.generated_tokens;
        self.drafted_tokens += earlier.drafted_tokens;
        self.accepted_tokens += earlier.accepted_tokens;
        self.repeated_blocks += earlier.repeated_blocks;
        self.prompt_seconds += earlier.prompt_seconds;
        self.generate_seconds += earlier.generate_seconds;
        self.seconds += earlier.seconds;
        self.first_answer.clone_from(&earlier.first_answer);
    }
}

fn done(progress: &dyn Progress, report: &FileReport) {
    progress.event(&Event::FileDone {
        path: report.path.clone(),
        outcome: report.outcome.label(),
    });
}

/// Prompts, generates, parses and applies one file, with up to `task.rounds` more answers
/// when the model is told what went wrong. Every failure is this file's alone.
fn edit_file<M: LanguageModel>(
    model: &mut M,
    task: &FileTask<'_>,
    progress: &dyn Progress,
) -> FileReport {
    let cand = task.cand;
    let report = FileReport::new(
        &cand.rel,
        Outcome::Unchanged {
            reason: String::new(),
        },
    );
    let conversation = prompt::edit_messages(task.role, task.instruction, &cand.rel, &cand.content);
    converse(model, task, conversation, report, Kept::default(), progress)
}

/// Asks for answers until one works or `task.rounds` more have failed, each failure told to
/// the model in the same conversation. The first answer of a file is its pass@1 answer.
/// `kept`: blocks of earlier answers that applied, to which the next answer's blocks join.
fn converse<M: LanguageModel>(
    model: &mut M,
    task: &FileTask<'_>,
    mut conversation: Vec<ChatMessage>,
    mut report: FileReport,
    mut kept: Kept,
    progress: &dyn Progress,
) -> FileReport {
    let cand = task.cand;
    let mut last: Option<FileError> = None;
    for round in 0..=task.rounds {
        let started = Instant::now();
        let generated_before = report.generated_tokens;
        let mut answer = String::new();
        let result = attempt(
            model,
            task,
            &conversation,
            progress,
            &mut report,
            (&mut answer, &mut kept),
        );
        report.rounds.push(Round {
            role: task.role,
            result: result.as_ref().map_or_else(FileError::kind, |_| "ok"),
            generated_tokens: report.generated_tokens - generated_before,
            seconds: started.elapsed().as_secs_f64(),
        });
        if report.rounds.len() == 1 {
            report.first_answer = match &result {
                Ok(Outcome::Changed { new_content, .. }) => Some(new_content.clone()),
                Ok(_) => Some(cand.content.clone()),
                Err(_) => None,
            };
        }
        conversation.push(ChatMessage::assistant(answer));
        match result {
            Ok(outcome) => {
                report.outcome = outcome;
                break;
            }
            Err(error) if error.retryable() && round < task.rounds => {
                let told = if kept.is_empty() {
                    feedback(&error, &cand.content)
                } else {
                    kept.feedback(&cand.content)
                };
                conversation.push(ChatMessage::user(told));
                last = Some(error);
            }
            Err(error) => {
                // A conversation that outgrew the context says nothing new: the file failed
                // with what its last answer ran into.
                let error = match (error, last.take()) {
                    (FileError::PromptTooLong { .. }, Some(last)) => last,
                    (error, _) => error,
                };
                report.outcome = Outcome::Failed(error);
                break;
            }
        }
    }
    report.conversation = conversation;
    report
}

/// Gives a file whose edit failed a check outside the engine (`--verify`) another round with
/// the same model: the conversation goes on with `retry` as feedback. The report carries on
/// (rounds, tokens); its outcome is the new answer's.
pub fn revise<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    request: &EditRequest,
    cand: &Candidate,
    previous: FileReport,
    retry: Retry<'_>,
    progress: &dyn Progress,
) -> FileReport {
    let role = previous.role.unwrap_or(Role::Coder);
    let instruction = previous
        .focus
        .clone()
        .unwrap_or_else(|| request.instruction.clone());
    let task = FileTask {
        role,
        instruction: &instruction,
        cand,
        speculate: request.speculate,
        // One answer for the check's feedback, and one more if that answer does not apply.
        rounds: request.rounds.min(1),
        kv: None,
    };
    let mut conversation = previous.conversation.clone();
    let (told, kept) = match retry {
        Retry::Failed(error) => (feedback(error, &cand.content), Kept::default()),
        Retry::Resend(kept) => (kept.feedback(&cand.content), kept),
    };
    conversation.push(ChatMessage::user(told));
    let started = Instant::now();
    let fallback = previous.clone();
    let result = lifecycle.with(role, |model| {
        converse(model, &task, conversation, previous, kept, progress)
    });
    let mut report = result.unwrap_or_else(|e| {
        let mut r = fallback;
        r.outcome = Outcome::Failed(FileError::ModelUnavailable(e.to_string()));
        r
    });
    report.seconds += started.elapsed().as_secs_f64();
    report
}

/// What a file's next round answers.
#[derive(Debug, Clone)]
pub enum Retry<'a> {
    /// The whole edit failed (a check outside the engine): a whole new answer.
    Failed(&'a FileError),
    /// Some blocks applied and are kept: the failed ones alone, sent again.
    Resend(Kept),
}

/// What the model is told after an answer that did not work: the error, and what it needs to
/// do better (the closest lines for a SEARCH that matched nothing, the broken line for a
/// parse error).
pub fn feedback(error: &FileError, content: &str) -> String {
    let detail = match error {
        FileError::Answer {
            error: EditError::NoMatch { search, .. },
            ..
        } => prompt::closest_lines_hint(content, search)
            .map(|hint| format!("\n{hint}\nCopy the SEARCH lines exactly from the file."))
            .unwrap_or_default(),
        FileError::Syntax { excerpt, .. } => format!("\nThe edited file there:\n```\n{excerpt}```"),
        FileError::CodeChanged { excerpt, .. } => format!(
            "\nThe edited file there:\n```\n{excerpt}```\nAdd or change comments only; keep \
             every line of code exactly as it was."
        ),
        FileError::Verify(_) => "\nChange the edit so that the command passes.".to_owned(),
        FileError::Answer {
            error: EditError::Looping { .. },
            ..
        } => "\nWrite each line once, and end the answer when the edit is complete.".to_owned(),
        _ => String::new(),
    };
    prompt::retry_message(&error.to_string(), &detail)
}

/// One file's edit request to an editor model.
struct FileTask<'a> {
    role: Role,
    instruction: &'a str,
    cand: &'a Candidate,
    speculate: bool,
    rounds: usize,
    /// The disk cache and the model file it keys entries by.
    kv: Option<(&'a KvCache, std::path::PathBuf)>,
}

impl<'a> FileTask<'a> {
    fn new(
        request: &EditRequest,
        job: &'a Job,
        kv: Option<(&'a KvCache, std::path::PathBuf)>,
    ) -> Self {
        FileTask {
            role: job.role,
            instruction: &job.route.focus,
            cand: &job.cand,
            speculate: request.speculate,
            rounds: request.rounds,
            kv,
        }
    }
}

fn generation_error(e: ModelError) -> FileError {
    FileError::Generation(e.to_string())
}

/// One answer: prompt (the conversation so far), generate, parse, apply, gate. `answer` gets
/// the model's text, for the next round's conversation.
fn attempt<M: LanguageModel>(
    model: &mut M,
    task: &FileTask<'_>,
    conversation: &[ChatMessage],
    progress: &dyn Progress,
    report: &mut FileReport,
    (answer_text, kept): (&mut String, &mut Kept),
) -> Result<Outcome, FileError> {
    let FileTask {
        role,
        instruction,
        cand,
        ..
    } = *task;
    // What earlier rounds kept joins this answer; kept again below only if this one also
    // applies in part.
    let earlier = std::mem::take(kept);
    // The rate counts from the first generated token: prompt processing is not generation.
    let mut first_token: Option<Instant> = None;
    let mut on_token = |generated: usize, answer: &[u8]| {
        let since = *first_token.get_or_insert_with(Instant::now);
        // Reporting every token would cost more than it tells; every 16th is plenty.
        if generated.is_multiple_of(16) {
            let secs = since.elapsed().as_secs_f64().max(1e-9);
            progress.event(&Event::Tokens {
                generated,
                tokens_per_second: (generated - 1) as f64 / secs,
            });
        }
        // A looping answer would otherwise run to the context limit and fail there.
        if edit::repeats_itself(answer) || edit::trailing_cycle(answer, &cand.content).is_some() {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    };
    let context = model.context_size();
    // A model behind a conversation-level API gets the messages; the server's context bounds
    // the answer and its usage counts the prompt.
    let chat = model
        .chat_api()
        .map(|chat| chat.chat(conversation, &mut on_token));
    let (generation, left) = match chat {
        Some(generation) => {
            let generation = generation.map_err(generation_error)?;
            report.prompt_tokens += generation.prompt_tokens;
            (generation, context)
        }
        None => local_generation(model, task, conversation, report, &mut on_token)?,
    };
    report.generated_tokens += generation.generated_tokens;
    report.reused_tokens += generation.reused_tokens;
    report.drafted_tokens += generation.drafted_tokens;
    report.accepted_tokens += generation.accepted_tokens;
    report.prompt_seconds += generation.prompt_seconds;
    report.generate_seconds += generation.generate_seconds;
    tracing::debug!(path = %cand.rel, answer = %generation.text, "model answer");
    answer_text.clone_from(&generation.text);
    if let Some(cycle) = edit::trailing_cycle(generation.text.as_bytes(), &cand.content) {
        // The next round's conversation needs where the loop began, not every turn of it.
        answer_text.truncate(cycle.first_turn(&generation.text).len());
        *kept = earlier;
        return Err(FileError::Answer {
            error: EditError::Looping {
                period: cycle.period,
                lines: cycle.lines,
            },
            cut_off: None,
        });
    }
    let cut_off = match generation.stop {
        StopReason::MaxTokens | StopReason::ContextFull => Some(format!(
            "the answer was cut off at the context limit: {left} tokens of the {context}-token \
             context of the {role} model were left for it"
        )),
        StopReason::EndOfGeneration | StopReason::Stopped => None,
    };
    let answer_error = |error: EditError| FileError::Answer {
        error,
        cut_off: cut_off.clone(),
    };
    let answer = edit::parse_answer(&generation.text, prompt::allows_whole_file(&cand.content))
        .map_err(answer_error)?;
    let mut answer = earlier.join(answer).map_err(answer_error)?;
    report.repeated_blocks += edit::drop_repeats(&mut answer);
    let applied = match edit::resolve(&cand.content, &answer) {
        Ok(applied) => applied,
        Err(error) => {
            *kept = Kept::after(&cand.content, &answer, &error);
            return Err(answer_error(error));
        }
    };
    if let edit::Answer::WholeFile(_) = answer {
        check_whole_file(instruction, &cand.rel, &cand.content, &applied.text)
            .map_err(FileError::PartialAnswer)?;
    }
    if let Some((language, error)) = syntax::new_error(&cand.rel, &cand.content, &applied.text) {
        return Err(FileError::Syntax {
            language: language.name(),
            excerpt: syntax::excerpt(&applied.text, error.line),
            error: error.to_string(),
        });
    }
    // A doc request's edit may touch comments only: a small model "tidies" the code it was
    // asked to document, and that change would ride along unreviewed.
    if router::asks_only_for_comments(instruction) {
        if let Some(line) = syntax::code_change(&cand.rel, &cand.content, &applied.text) {
            return Err(FileError::CodeChanged {
                line,
                excerpt: syntax::excerpt(&applied.text, line),
            });
        }
    }
    report.matches = applied
        .matches
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    if applied.text == cand.content {
        let reason = match answer {
            edit::Answer::NoChange => "model answered NO_CHANGE",
            _ => "the edit leaves the file as it was",
        };
        return Ok(Outcome::Unchanged {
            reason: reason.to_owned(),
        });
    }
    let diff = crate::diff::unified_diff(&cand.rel, &cand.content, &applied.text, cand.mode)
        .ok_or_else(|| FileError::Internal("changed text produced no diff".to_owned()))?;
    Ok(Outcome::Changed {
        added: diff.added,
        removed: diff.removed,
        flags: edit::hidden_characters(&cand.content, &applied.text),
        new_content: applied.text,
    })
}

/// Prompts a token-level model: renders and tokenizes the conversation, checks it leaves room
/// for an answer, restores or stores the prompt's state on disk, generates. Returns the
/// generation and the tokens that were left for the answer.
fn local_generation<M: LanguageModel>(
    model: &mut M,
    task: &FileTask<'_>,
    conversation: &[ChatMessage],
    report: &mut FileReport,
    on_token: &mut crate::model::OnToken<'_>,
) -> Result<(Generation, usize), FileError> {
    let FileTask {
        role,
        cand,
        speculate,
        ..
    } = *task;
    let text = model.chat_prompt(conversation).map_err(generation_error)?;
    let (tokens, _) =
        tokenize_prompt(model, &text, &cand.rel, &cand.content).map_err(generation_error)?;
    report.prompt_tokens += tokens.len();
    let context = model.context_size();
    if tokens.len() + MIN_ANSWER_TOKENS > context {
        return Err(FileError::PromptTooLong {
            tokens: tokens.len(),
            context,
            role,
        });
    }
    // No cap of its own on the answer: filling in a stub legitimately runs to many times the
    // file (issue 10 saw one cut off at four times the file and 1024 more). A looping answer
    // is stopped by the caller's guard (`on_token`), and anything else by the end of the
    // context.
    let options = GenerateOptions {
        max_tokens: context - tokens.len() - 1,
        speculate,
    };
    // A state saved by an earlier run replaces prompt processing, unless the cache in memory
    // already holds most of this prompt.
    let restoring = Instant::now();
    // The key hashes the model file's metadata and every prompt token: computed once, used to
    // restore and then to store.
    let kv = task
        .kv
        .as_ref()
        .map(|(cache, model_path)| (*cache, KvCache::key(model_path, &tokens)));
    let restored = kv.as_ref().is_some_and(|(cache, key)| {
        let shared = generate::shared_prefix(model.cached(), &tokens);
        shared * 2 < tokens.len() && cache.restore(model, key, &tokens)
    });
    let restore_seconds = restoring.elapsed().as_secs_f64();
    let generation = model
        .generate(&tokens, &options, on_token)
        .map_err(generation_error)?;
    if let Some((cache, key)) = &kv {
        if !restored {
            // Only the prompt's state is worth keeping: a restore cuts the answer off anyway.
            model.truncate(tokens.len());
            cache.store(model, key);
        }
    }
    report.prompt_seconds += restore_seconds;
    report.restored |= restored;
    Ok((generation, options.max_tokens))
}

/// The tokens of the edit prompt for one file, and how many of them are the file's.
pub fn edit_prompt<M: LanguageModel>(
    model: &M,
    role: Role,
    instruction: &str,
    rel: &str,
    content: &str,
) -> Result<(Vec<Token>, usize), ModelError> {
    let messages = prompt::edit_messages(role, instruction, rel, content);
    let text = model.chat_prompt(&messages)?;
    tokenize_prompt(model, &text, rel, content)
}

/// Tokenizes a rendered prompt, treating the file's own text as plain text: a file containing
/// `<|im_end|>` must not end the chat turn. Returns the tokens and how many are the file's.
fn tokenize_prompt<M: LanguageModel>(
    model: &M,
    text: &str,
    rel: &str,
    content: &str,
) -> Result<(Vec<Token>, usize), ModelError> {
    // The file follows its header in the first user message; later turns (answers, feedback)
    // come after it.
    let header = prompt::file_header(rel);
    let Some(at) = text
        .find(&header)
        .map(|h| h + header.len())
        .filter(|&at| !content.is_empty() && text[at..].starts_with(content))
    else {
        return Ok((model.tokenize(text, true)?, 0));
    };
    let mut tokens = model.tokenize(&text[..at], true)?;
    let file = model.tokenize(content, false)?;
    let file_tokens = file.len();
    tokens.extend(file);
    tokens.extend(model.tokenize(&text[at + content.len()..], true)?);
    Ok((tokens, file_tokens))
}

/// Small models asked for a whole file sometimes answer with only the part they changed, or
/// copy the file and lose a line on the way. Applying that would delete code nobody asked to
/// delete, so an answer that loses most of the file's lines, drops a definition the
/// instruction does not name, or only deletes statements from a function body (see
/// [`syntax::dropped_statements`]) when the instruction does not ask for code to go
/// ([`asks_to_remove`]) is refused.
fn check_whole_file(instruction: &str, path: &str, old: &str, new: &str) -> Result<(), String> {
    let (old_lines, new_lines) = (old.lines().count(), new.lines().count());
    if old_lines >= 6 && new_lines * 2 < old_lines {
        return Err(format!(
            "the model answered with {new_lines} of the file's {old_lines} lines; taken as a \
             partial answer and not applied"
        ));
    }
    let kept = router::symbols(new);
    let dropped: Vec<String> = router::symbols(old)
        .into_iter()
        .filter(|s| !kept.contains(s) && !instruction.contains(s.as_str()))
        .map(|s| format!("`{s}`"))
        .collect();
    if !dropped.is_empty() {
        return Err(format!(
            "the model's whole-file answer drops {} without being asked; not applied",
            dropped.join(", ")
        ));
    }
    if asks_to_remove(instruction) {
        return Ok(());
    }
    let lost: Vec<String> = syntax::dropped_statements(path, old, new)
        .into_iter()
        .map(|d| {
            let statements: Vec<String> = d
                .statements
                .iter()
                .map(|s| format!("`{}`", shorten(s, 60)))
                .collect();
            format!("{} from `{}`", statements.join(", "), d.function)
        })
        .collect();
    if lost.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the model's whole-file answer drops {} without being asked; not applied (copy \
             every line the instruction does not ask to change)",
            lost.join("; ")
        ))
    }
}

/// Whether an instruction may want statements gone: it asks to remove or restructure code, or
/// to fix or speed it up, where deleting a line can be the whole edit. The rule is about the
/// verb, not the names: an instruction to document, annotate, rename or add leaves every
/// statement where it was, so a body that only lost statements under it lost them by mistake.
/// Stems match the start of a word ("removes", "Simplify"); phrases anywhere.
fn asks_to_remove(instruction: &str) -> bool {
    const STEMS: &[&str] = &[
        "remov",
        "delet",
        "drop",
        "strip",
        "elimin",
        "prun",
        "trim",
        "unused",
        "dead",
        "redundan",
        "duplicat",
        "dedup",
        "simplif",
        "rewrit",
        "refactor",
        "restructur",
        "clean",
        "tidy",
        "shorten",
        "inline",
        "fix",
        "bug",
        "optimi",
        "faster",
        "speed",
        "disable",
    ];
    const PHRASES: &[&str] = &["comment out", "get rid", "take out", "no longer"];
    let lower = instruction.to_lowercase();
    PHRASES.iter().any(|p| lower.contains(p))
        || lower
            .split(|c: char| !c.is_alphanumeric())
            .any(|word| STEMS.iter().any(|stem| word.starts_with(stem)))
}

/// `text` cut to `max` characters, an ellipsis marking the cut.
fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests;

//! The engine: one edit over a batch of files, from scanned candidates to per-file outcomes.
//!
//! Owns the order of work: every file is routed first (the router is small and resident), then
//! files are grouped by role so each editor model is loaded once per run even when the budget
//! holds only one of them, then each file is prompted, answered, parsed and applied. A file that
//! fails is recorded with its reason and the batch goes on. The engine reports progress through
//! the [`Progress`] trait and never prints; writing results out is `output`'s job.

use std::ops::ControlFlow;
use std::time::Instant;

use serde::Serialize;

use crate::config::Role;
use crate::diff::{self, FileDiff};
use crate::edit::{self, MatchKind};
use crate::generate;
use crate::kvcache::KvCache;
use crate::lifecycle::{Lifecycle, Stats};
use crate::model::{Backend, GenerateOptions, LanguageModel, ModelError, StopReason, Token};
use crate::prompt;
use crate::router::{self, Decision, FileFacts, Source};
use crate::scan::{Candidate, SkipReason};

/// Tokens always left for the answer; a prompt that leaves fewer is refused, not truncated.
pub const MIN_ANSWER_TOKENS: usize = 256;

/// The longest answer a file of `file_tokens` tokens gets: four times the file and 1024 more.
/// Search/replace blocks quote the text they change and whole-file answers copy the file, so
/// a sound edit stays well inside this; an answer past it is a runaway that would otherwise
/// run on to the end of the context, minutes on a small CPU.
pub fn answer_budget(file_tokens: usize) -> usize {
    file_tokens.saturating_mul(4).saturating_add(1024)
}

/// What to do.
#[derive(Debug, Clone)]
pub struct EditRequest {
    pub instruction: String,
    /// `--role`: skip the router model and use this editor for every file.
    pub role: Option<Role>,
    /// Router confidence margin below which the keyword rule decides.
    pub router_margin: f32,
    /// Prompt-lookup speculative decoding (`--speculate`).
    pub speculate: bool,
    /// Prompt states kept on disk across runs.
    pub kv_cache: Option<KvCache>,
}

/// How one file ended.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The model's edit applies and changes the file.
    Changed {
        #[serde(skip)]
        new_content: String,
        #[serde(skip)]
        diff: FileDiff,
        added: usize,
        removed: usize,
        /// Added lines holding invisible or bidirectional control characters.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        flags: Vec<String>,
    },
    /// The model answered that no change is needed, or its edit changed nothing.
    Unchanged { reason: String },
    /// Not sent to an editor: the router or the scan said it needs no change.
    Skipped { reason: String },
    /// Something went wrong with this file only.
    Failed { reason: String },
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Changed { .. } => "changed",
            Outcome::Unchanged { .. } => "unchanged",
            Outcome::Skipped { .. } => "skipped",
            Outcome::Failed { .. } => "failed",
        }
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
    #[serde(skip)]
    pub mode: u32,
    #[serde(skip)]
    pub original: String,
}

impl FileReport {
    /// A report with only a path and an outcome, for other modules' tests.
    #[cfg(test)]
    pub(crate) fn new_for_tests(path: &str, outcome: Outcome) -> Self {
        Self::new(path, outcome)
    }

    fn new(path: &str, outcome: Outcome) -> Self {
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
            mode: 0o100644,
            original: String::new(),
        }
    }
}

/// The result of a run.
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
    pub fn diffs(&self) -> Vec<FileDiff> {
        self.files
            .iter()
            .filter_map(|f| match &f.outcome {
                Outcome::Changed { diff, .. } => Some(diff.clone()),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, label: &str) -> usize {
        self.files
            .iter()
            .filter(|f| f.outcome.label() == label)
            .count()
    }
}

/// What the engine tells the user interface as it goes.
#[derive(Debug, Clone)]
pub enum ProgressEvent<'a> {
    Routing {
        files: usize,
    },
    Routed {
        path: &'a str,
        decision: &'a Decision,
    },
    FileStart {
        path: &'a str,
        role: Role,
        index: usize,
        total: usize,
    },
    Tokens {
        generated: usize,
        tokens_per_second: f64,
    },
    FileDone {
        report: &'a FileReport,
    },
}

/// Receives progress; the CLI draws it, tests ignore it.
pub trait Progress {
    fn event(&mut self, event: ProgressEvent<'_>);
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {
    fn event(&mut self, _: ProgressEvent<'_>) {}
}

/// Runs the edit over `files`. `scan_skipped` are reported as skipped.
pub fn run<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    request: &EditRequest,
    files: Vec<Candidate>,
    scan_skipped: &[(String, SkipReason)],
    progress: &mut dyn Progress,
) -> Report {
    let mut reports: Vec<FileReport> = scan_skipped
        .iter()
        .map(|(path, reason)| {
            FileReport::new(
                path,
                Outcome::Skipped {
                    reason: reason.to_string(),
                },
            )
        })
        .collect();
    let mut warnings = Vec::new();
    let routed = route_all(lifecycle, request, &files, progress, &mut warnings);
    let mut work: Vec<(Role, Candidate, Decision, String)> = Vec::new();
    for (cand, (decision, focused)) in files.into_iter().zip(routed) {
        match decision.role {
            Some(role) => work.push((role, cand, decision, focused)),
            None => {
                let mut r = FileReport::new(
                    &cand.rel,
                    Outcome::Skipped {
                        reason: decision.reason.clone(),
                    },
                );
                r.route = Some(decision.source);
                r.route_reason = Some(decision.reason);
                progress.event(ProgressEvent::FileDone { report: &r });
                reports.push(r);
            }
        }
    }
    // Group by role (stable within a role) so each editor is loaded once.
    work.sort_by_key(|(role, ..)| *role);
    let total = work.len();
    let mut broken: Option<(Role, String)> = None;
    for (index, (role, cand, decision, focused)) in work.into_iter().enumerate() {
        progress.event(ProgressEvent::FileStart {
            path: &cand.rel,
            role,
            index,
            total,
        });
        let mut report = match &broken {
            // A model that cannot load fails every file of its role without retrying the load.
            Some((r, reason)) if *r == role => FileReport::new(
                &cand.rel,
                Outcome::Failed {
                    reason: reason.clone(),
                },
            ),
            _ => {
                let started = Instant::now();
                let task = Task {
                    role,
                    instruction: &focused,
                    cand: &cand,
                    speculate: request.speculate,
                    kv: request
                        .kv_cache
                        .as_ref()
                        .map(|c| (c, lifecycle.config().model_path(role))),
                };
                match lifecycle.with(role, |model| edit_file(model, &task, progress)) {
                    Ok(mut r) => {
                        r.seconds = started.elapsed().as_secs_f64();
                        r
                    }
                    Err(e) => {
                        let reason = e.to_string();
                        broken = Some((role, reason.clone()));
                        FileReport::new(&cand.rel, Outcome::Failed { reason })
                    }
                }
            }
        };
        report.role = Some(role);
        report.route = Some(decision.source);
        report.route_reason = Some(decision.reason);
        report.mode = cand.mode;
        if focused != request.instruction {
            report.focus = Some(focused);
        }
        report.original = cand.content;
        progress.event(ProgressEvent::FileDone { report: &report });
        reports.push(report);
    }
    reports.sort_by(|a, b| a.path.cmp(&b.path));
    Report {
        rule: None,
        instruction: request.instruction.clone(),
        files: reports,
        warnings,
        models: lifecycle.stats(),
    }
}

/// Routes every file before any editor is loaded. The router model failing (missing file, an
/// instruction over its context) never stops the batch: the keyword rule decides instead, and
/// the report carries a warning.
fn route_all<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    request: &EditRequest,
    files: &[Candidate],
    progress: &mut dyn Progress,
    warnings: &mut Vec<String>,
) -> Vec<(Decision, String)> {
    progress.event(ProgressEvent::Routing { files: files.len() });
    // Only names some file of the batch contains can make a file skippable: a name no file has
    // is one the edit is about to introduce.
    let known: Vec<String> = router::backticked(&request.instruction)
        .into_iter()
        .filter(|name| files.iter().any(|f| f.content.contains(name.as_str())))
        .collect();
    let mut state = RouterState::Untried;
    let mut decisions = Vec::with_capacity(files.len());
    for cand in files {
        let mut facts = FileFacts::gather(&request.instruction, &cand.rel, &cand.content);
        facts
            .mentions
            .retain(|(name, _)| known.contains(name) && !cand.explicit);
        // Route (and later edit) on the part of the task that concerns this file.
        let focused = router::focus(&request.instruction, &cand.content, &known);
        let decision = match (
            request.role,
            router::skip_reason(&request.instruction, &facts),
        ) {
            (_, Some(reason)) => Decision {
                role: None,
                source: Source::SkipRule,
                reason,
            },
            (Some(role), None) => Decision {
                role: Some(role),
                source: Source::Override,
                reason: "--role".to_owned(),
            },
            (None, None) => ask_router(lifecycle, &mut state, request, &focused, &facts),
        };
        progress.event(ProgressEvent::Routed {
            path: &cand.rel,
            decision: &decision,
        });
        decisions.push((decision, focused));
    }
    if let RouterState::Unavailable(reason) = state {
        warnings.push(format!(
            "router model unavailable, the keyword rule routed every file: {reason}"
        ));
    }
    decisions
}

/// Whether the router model has been calibrated, or could not be used.
enum RouterState {
    Untried,
    Ready([f32; 2]),
    Unavailable(String),
}

fn ask_router<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    state: &mut RouterState,
    request: &EditRequest,
    instruction: &str,
    facts: &FileFacts,
) -> Decision {
    if let RouterState::Untried = state {
        *state = match with_router(lifecycle, router::calibrate) {
            Ok(bias) => RouterState::Ready(bias),
            Err(reason) => RouterState::Unavailable(reason),
        };
    }
    let RouterState::Ready(bias) = *state else {
        return router::rule_decision(instruction, "router model unavailable");
    };
    let answer = with_router(lifecycle, |m| {
        router::decide(Some((m, bias)), instruction, facts, request.router_margin)
    });
    answer.unwrap_or_else(|e| {
        router::rule_decision(instruction, &format!("router model failed: {e}"))
    })
}

/// Runs `f` on the router model; a failure to load it and a failure inside it are alike to
/// the caller, which falls back to the keyword rule either way.
fn with_router<B: Backend, R>(
    lifecycle: &mut Lifecycle<B>,
    f: impl FnOnce(&mut B::Model) -> Result<R, ModelError>,
) -> Result<R, String> {
    match lifecycle.with(Role::Router, f) {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// Prompts, generates, parses and applies one file. Every failure is this file's alone.
fn edit_file<M: LanguageModel>(
    model: &mut M,
    task: &Task<'_>,
    progress: &mut dyn Progress,
) -> FileReport {
    let cand = task.cand;
    let mut report = FileReport::new(
        &cand.rel,
        Outcome::Unchanged {
            reason: String::new(),
        },
    );
    report.outcome = match try_edit(model, task, progress, &mut report) {
        Ok(outcome) => outcome,
        Err(reason) => Outcome::Failed { reason },
    };
    report
}

/// One file's edit request to an editor model.
struct Task<'a> {
    role: Role,
    instruction: &'a str,
    cand: &'a Candidate,
    speculate: bool,
    /// The disk cache and the model file it keys entries by.
    kv: Option<(&'a KvCache, std::path::PathBuf)>,
}

fn try_edit<M: LanguageModel>(
    model: &mut M,
    task: &Task<'_>,
    progress: &mut dyn Progress,
    report: &mut FileReport,
) -> Result<Outcome, String> {
    let Task {
        role,
        instruction,
        cand,
        speculate,
        ..
    } = *task;
    let (tokens, file_tokens) = edit_prompt(model, role, instruction, &cand.rel, &cand.content)
        .map_err(|e| e.to_string())?;
    report.prompt_tokens = tokens.len();
    let context = model.context_size();
    if tokens.len() + MIN_ANSWER_TOKENS > context {
        return Err(format!(
            "prompt is {} tokens; with {MIN_ANSWER_TOKENS} kept for the answer it does not fit the \
             {context}-token context of the {role} model (raise models.{role}.context_size or edit a \
             smaller file)",
            tokens.len()
        ));
    }
    let budget = answer_budget(file_tokens);
    let options = GenerateOptions {
        max_tokens: (context - tokens.len() - 1).min(budget),
        speculate,
    };
    // The rate counts from the first generated token: prompt processing is not generation.
    let mut first_token: Option<Instant> = None;
    let mut on_token = |generated: usize, answer: &[u8]| {
        let since = *first_token.get_or_insert_with(Instant::now);
        // Reporting every token would cost more than it tells; every 16th is plenty.
        if generated.is_multiple_of(16) {
            let secs = since.elapsed().as_secs_f64().max(1e-9);
            progress.event(ProgressEvent::Tokens {
                generated,
                tokens_per_second: (generated - 1) as f64 / secs,
            });
        }
        // A looping answer would otherwise run to the context limit and fail there.
        if edit::repeats_itself(answer) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
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
        .generate(&tokens, &options, &mut on_token)
        .map_err(|e| e.to_string())?;
    if let Some((cache, key)) = &kv {
        if !restored {
            // Only the prompt's state is worth keeping: a restore cuts the answer off anyway.
            model.truncate(tokens.len());
            cache.store(model, key);
        }
    }
    report.generated_tokens = generation.generated_tokens;
    report.reused_tokens = generation.reused_tokens;
    report.drafted_tokens = generation.drafted_tokens;
    report.accepted_tokens = generation.accepted_tokens;
    report.prompt_seconds = generation.prompt_seconds + restore_seconds;
    report.restored = restored;
    report.generate_seconds = generation.generate_seconds;
    tracing::debug!(path = %cand.rel, answer = %generation.text, "model answer");
    let cut_off = match generation.stop {
        StopReason::MaxTokens if options.max_tokens == budget => Some(format!(
            "the answer was cut off at its budget of {budget} tokens, four times the file and 1024 more"
        )),
        StopReason::MaxTokens | StopReason::ContextFull => {
            Some("the answer was cut off at the context limit".to_owned())
        }
        StopReason::EndOfGeneration | StopReason::Stopped => None,
    };
    let mut answer = edit::parse_answer(&generation.text, prompt::allows_whole_file(&cand.content))
        .map_err(|e| with_cut_off(e.to_string(), cut_off.as_deref()))?;
    report.repeated_blocks = edit::drop_repeats(&mut answer);
    let applied = edit::resolve(&cand.content, &answer)
        .map_err(|e| with_cut_off(e.to_string(), cut_off.as_deref()))?;
    if let edit::Answer::WholeFile(_) = answer {
        check_whole_file(instruction, &cand.content, &applied.text)?;
    }
    report.matches = applied
        .matches
        .iter()
        .map(|m| match_name(*m).to_owned())
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
    let diff = diff::unified_diff(&cand.rel, &cand.content, &applied.text, cand.mode)
        .ok_or_else(|| "internal: changed text produced no diff".to_owned())?;
    Ok(Outcome::Changed {
        added: diff.added,
        removed: diff.removed,
        flags: edit::hidden_characters(&cand.content, &applied.text),
        new_content: applied.text,
        diff,
    })
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
    tokenize_prompt(model, &text, content)
}

/// Tokenizes a rendered prompt, treating the file's own text as plain text: a file containing
/// `<|im_end|>` must not end the chat turn. Returns the tokens and how many are the file's.
fn tokenize_prompt<M: LanguageModel>(
    model: &M,
    text: &str,
    content: &str,
) -> Result<(Vec<Token>, usize), ModelError> {
    // The file comes last in the prompt, so its last occurrence is the file itself.
    let Some(at) = text.rfind(content).filter(|_| !content.is_empty()) else {
        return Ok((model.tokenize(text, true)?, 0));
    };
    let mut tokens = model.tokenize(&text[..at], true)?;
    let file = model.tokenize(content, false)?;
    let file_tokens = file.len();
    tokens.extend(file);
    tokens.extend(model.tokenize(&text[at + content.len()..], true)?);
    Ok((tokens, file_tokens))
}

/// Small models asked for a whole file sometimes answer with only the part they changed.
/// Applying that would delete the rest, so an answer that loses most of the file's lines, or
/// drops a definition the instruction does not name, is refused.
fn check_whole_file(instruction: &str, old: &str, new: &str) -> Result<(), String> {
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
    if dropped.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the model's whole-file answer drops {} without being asked; not applied",
            dropped.join(", ")
        ))
    }
}

fn with_cut_off(reason: String, cut_off: Option<&str>) -> String {
    match cut_off {
        Some(why) => format!("{reason} ({why})"),
        None => reason,
    }
}

fn match_name(m: MatchKind) -> &'static str {
    match m {
        MatchKind::Exact => "exact",
        MatchKind::TrailingWhitespace => "trailing-whitespace",
        MatchKind::Indentation => "indentation",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scripted::Scripted;

    fn lifecycle(
        sizes: [u64; 3],
        budget_mb: u64,
    ) -> (tempfile::TempDir, Lifecycle<Scripted>, Scripted) {
        let (dir, lc, backend, _) = crate::scripted::lifecycle(sizes, budget_mb);
        (dir, lc, backend)
    }

    fn cand(rel: &str, content: &str) -> Candidate {
        Candidate {
            path: rel.into(),
            rel: rel.to_owned(),
            content: content.to_owned(),
            mode: 0o100644,
            explicit: false,
        }
    }

    fn request(instruction: &str) -> EditRequest {
        EditRequest {
            instruction: instruction.to_owned(),
            role: None,
            router_margin: router::DEFAULT_MARGIN,
            speculate: true,
            kv_cache: None,
        }
    }

    const BLOCK: &str = "<<<<<<< SEARCH\ndef old():\n=======\ndef new():\n>>>>>>> REPLACE\n";

    #[test]
    fn batch_needing_both_editors_loads_each_once_within_a_tight_budget() {
        // Budget holds the router and one editor at a time.
        let (_d, mut lc, backend) = lifecycle([50, 400, 400], 900);
        // Interleave files so a naive loop would thrash between the editors.
        let files = vec![
            cand("a_fast.py", "def old():\n    pass\n"),
            cand("b_doc.py", "def old():\n    pass\n"),
            cand("c_fast.py", "def old():\n    pass\n"),
            cand("d_doc.py", "def old():\n    pass\n"),
        ];
        backend.label("_fast", "algorithm", -0.1);
        backend.label("_fast", "coder", -5.0);
        backend.label("_doc", "coder", -0.1);
        backend.label("_doc", "algorithm", -5.0);
        backend.answer("def old", BLOCK);
        let report = run(&mut lc, &request("tidy `old`"), files, &[], &mut NoProgress);
        assert_eq!(report.count("changed"), 4);
        let roles: Vec<Option<Role>> = report.files.iter().map(|f| f.role).collect();
        assert_eq!(
            roles,
            vec![
                Some(Role::Algorithm),
                Some(Role::Coder),
                Some(Role::Algorithm),
                Some(Role::Coder)
            ]
        );
        let stats = &report.models.roles;
        assert_eq!(
            (stats[&Role::Coder].loads, stats[&Role::Algorithm].loads),
            (1, 1)
        );
        assert_eq!(stats[&Role::Router].loads, 1);
        // Router, coder, then algorithm (evicting the coder): three loads in all.
        assert_eq!(backend.loads().len(), 3);
    }

    #[test]
    fn a_failing_file_does_not_stop_the_batch() {
        let (_d, mut lc, backend) = lifecycle([50, 400, 400], 5000);
        backend.answer(
            "bad.py",
            "<<<<<<< SEARCH\nnot in the file\n=======\nx\n>>>>>>> REPLACE\n",
        );
        backend.answer("good.py", BLOCK);
        let files = vec![
            cand("bad.py", "def old():\n"),
            cand("good.py", "def old():\n"),
        ];
        let mut req = request("tidy");
        req.role = Some(Role::Coder);
        let report = run(&mut lc, &req, files, &[], &mut NoProgress);
        let outcomes: Vec<&str> = report.files.iter().map(|f| f.outcome.label()).collect();
        assert_eq!(outcomes, vec!["failed", "changed"]);
        let Outcome::Failed { reason } = &report.files[0].outcome else {
            unreachable!()
        };
        assert!(reason.contains("block 1"), "{reason}");
        assert_eq!(report.files[0].route, Some(Source::Override));
        // With --role the router model is never loaded.
        assert!(!report.models.roles.contains_key(&Role::Router));
    }

    #[test]
    fn a_looping_answer_is_stopped_at_its_first_repeated_block() {
        let (_d, mut lc, backend) = lifecycle([50, 400, 400], 5000);
        let a =
            "<<<<<<< SEARCH\ndef a():\n=======\ndef a():\n    \"\"\"A.\"\"\"\n>>>>>>> REPLACE\n";
        let b =
            "<<<<<<< SEARCH\ndef b():\n=======\ndef b():\n    \"\"\"B.\"\"\"\n>>>>>>> REPLACE\n";
        // A model caught in a loop repeats its blocks until the context runs out.
        let looping = format!("{a}{b}").repeat(50);
        backend.answer("m.py", &looping);
        let mut req = request("document a and b");
        req.role = Some(Role::Coder);
        let old = "def a():\n    pass\ndef b():\n    pass\n";
        let report = run(&mut lc, &req, vec![cand("m.py", old)], &[], &mut NoProgress);
        let file = &report.files[0];
        let Outcome::Changed { new_content, .. } = &file.outcome else {
            panic!("{:?}", file.outcome)
        };
        assert_eq!(
            new_content,
            "def a():\n    \"\"\"A.\"\"\"\n    pass\ndef b():\n    \"\"\"B.\"\"\"\n    pass\n"
        );
        assert_eq!(file.repeated_blocks, 1);
        // Stopped right after the first repeat, not at the end of the loop.
        let once = a.chars().count() * 2 + b.chars().count();
        assert_eq!(file.generated_tokens, once);
    }

    #[test]
    fn a_runaway_answer_stops_at_its_budget() {
        let (_d, mut lc, backend) = lifecycle([50, 400, 400], 5000);
        // An answer that never closes its block and never ends.
        let endless = format!("<<<<<<< SEARCH\nx = 1\n=======\n{}", "y = 2\n".repeat(2000));
        backend.answer("m.py", &endless);
        let mut req = request("tidy");
        req.role = Some(Role::Coder);
        let report = run(
            &mut lc,
            &req,
            vec![cand("m.py", "x = 1\n")],
            &[],
            &mut NoProgress,
        );
        let file = &report.files[0];
        // The scripted model's tokens are characters: the file is 6 of them.
        assert_eq!(file.generated_tokens, answer_budget(6));
        let Outcome::Failed { reason } = &file.outcome else {
            panic!("{:?}", file.outcome)
        };
        assert!(reason.contains("budget of 1048 tokens"), "{reason}");
    }

    #[test]
    fn partial_whole_file_answers_are_refused() {
        let old = "def a():\n    pass\n\n\ndef b():\n    pass\n\n\ndef c():\n    pass\n";
        let err =
            check_whole_file("document a", old, "def a():\n    \"\"\"Doc.\"\"\"\n").unwrap_err();
        assert!(err.contains("partial answer"), "{err}");
        let err = check_whole_file("tidy", old, &old.replace("def c():\n    pass\n", "x = 1\n"))
            .unwrap_err();
        assert!(err.contains("`c`"), "{err}");
        // A definition the instruction names may go (a rename).
        assert!(check_whole_file("rename `c` to `d`", old, &old.replace("def c", "def d")).is_ok());
    }

    #[test]
    fn new_names_and_explicit_files_are_not_skipped_by_mentions() {
        let (_d, mut lc, backend, _) = crate::scripted::lifecycle([50, 400, 400], 5000);
        backend.answer(
            "a.py",
            "<<<<<<< SEARCH\nx = 1\n=======\nx = 1\ndef slugify(): pass\n>>>>>>> REPLACE\n",
        );
        let mut req = request("add a function `slugify`");
        req.role = Some(Role::Coder);
        // No file has `slugify`: it is a name the edit introduces, not a filter.
        let report = run(
            &mut lc,
            &req,
            vec![cand("a.py", "x = 1\n")],
            &[],
            &mut NoProgress,
        );
        assert_eq!(report.files[0].outcome.label(), "changed");
        // A file named on the command line is edited even when another file has the name.
        let mut named = cand("b.py", "y = 2\n");
        named.explicit = true;
        let files = vec![cand("a.py", "x = 1\n"), named, cand("c.py", "slugify()\n")];
        let report = run(&mut lc, &req, files, &[], &mut NoProgress);
        let outcomes: Vec<&str> = report.files.iter().map(|f| f.outcome.label()).collect();
        assert_eq!(outcomes, vec!["skipped", "unchanged", "unchanged"]);
    }

    #[test]
    fn a_missing_router_model_falls_back_to_the_rule_with_a_warning() {
        let (dir, mut lc, backend, _) = crate::scripted::lifecycle([50, 400, 400], 5000);
        std::fs::remove_file(dir.path().join("router.gguf")).unwrap();
        backend.answer("def old", BLOCK);
        let report = run(
            &mut lc,
            &request("make `old` faster"),
            vec![cand("a.py", "def old():\n")],
            &[],
            &mut NoProgress,
        );
        assert_eq!(report.files[0].role, Some(Role::Algorithm));
        assert_eq!(report.files[0].route, Some(Source::Rule));
        assert!(
            report.warnings[0].contains("router.gguf"),
            "{:?}",
            report.warnings
        );
    }

    #[test]
    fn skip_rule_spares_the_editors() {
        let (_d, mut lc, backend) = lifecycle([50, 400, 400], 5000);
        backend.answer("def old", BLOCK);
        let files = vec![cand("a.py", "def old():\n"), cand("b.py", "def other():\n")];
        let report = run(
            &mut lc,
            &request("rename `old`"),
            files,
            &[],
            &mut NoProgress,
        );
        assert_eq!(report.files[1].outcome.label(), "skipped");
        assert_eq!(report.files[1].route, Some(Source::SkipRule));
        assert_eq!(report.count("changed"), 1);
    }

    #[test]
    fn prompt_too_long_for_context_is_refused_not_truncated() {
        let (_d, lc, backend) = lifecycle([50, 400, 400], 5000);
        backend.answer("def old", BLOCK);
        let mut config = lc.config().clone();
        config.models.coder.context_size = 400;
        let mut lc = Lifecycle::new(backend, config, None);
        let long = format!("def old():\n{}", "    x = 1\n".repeat(30));
        let mut req = request("tidy");
        req.role = Some(Role::Coder);
        let report = run(
            &mut lc,
            &req,
            vec![cand("a.py", &long)],
            &[],
            &mut NoProgress,
        );
        let Outcome::Failed { reason } = &report.files[0].outcome else {
            panic!("{:?}", report.files[0].outcome)
        };
        assert!(
            reason.contains("does not fit the 400-token context"),
            "{reason}"
        );
        assert_eq!(report.files[0].generated_tokens, 0);
    }

    #[test]
    fn missing_editor_model_fails_its_files_once_and_others_go_on() {
        let (dir, mut lc, backend) = lifecycle([50, 400, 400], 5000);
        std::fs::remove_file(dir.path().join("algorithm.gguf")).unwrap();
        backend.label("fast", "algorithm", -0.1);
        backend.label("fast", "coder", -5.0);
        backend.label("doc", "coder", -0.1);
        backend.label("doc", "algorithm", -5.0);
        backend.answer("def old", BLOCK);
        let files = vec![
            cand("fast1.py", "def old():\n"),
            cand("fast2.py", "def old():\n"),
            cand("doc.py", "def old():\n"),
        ];
        let report = run(&mut lc, &request("tidy"), files, &[], &mut NoProgress);
        let outcomes: Vec<&str> = report.files.iter().map(|f| f.outcome.label()).collect();
        assert_eq!(outcomes, vec!["changed", "failed", "failed"]);
        let Outcome::Failed { reason } = &report.files[1].outcome else {
            unreachable!()
        };
        assert!(reason.contains("algorithm.gguf"), "{reason}");
    }
}

//! A session owns one run of codey: a [`Plan`] in, a [`RunResult`] out.
//!
//! It scans once (narrowed to what a branch changed with `--changed-since`, and to one part of
//! the files with `--shard`), carries out the plan's jobs in order (an instruction, or the rules
//! of `.codey.json`), each on the previous job's output, through the engine, and keeps every
//! file's state (`original`, `current`, mode) so that rule chaining is explicit. The result
//! offers the final changes, their patch, [`RunResult::apply`] for `--write`/`--commit`, and
//! the exit status computed from typed per-file outcomes. It never prints: the binary renders
//! the result.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::config::Role;
use crate::edit;
use crate::engine::{self, EditRequest, FileError, FileReport, Outcome, Report};
use crate::event::Progress;
use crate::git;
use crate::kvcache::{self, KvCache};
use crate::lifecycle::Lifecycle;
use crate::model::Backend;
use crate::output::{self, Base, Change, OutputError, Refusal, Target, WriteOptions, Written};
use crate::router::{self, Router};
use crate::rules::{self, PathFilter, RulesError};
use crate::scan::{self, Candidate, Scan, ScanError, ScanOptions};
use crate::shard::Shard;
use crate::verify::{Check, Scratch, Verdict, VerifyError};

/// The version of the JSON report's shape; raised when a field changes meaning or goes away.
pub const SCHEMA_VERSION: u32 = 2;

/// One instruction to carry out: the command line's, or a rule's.
#[derive(Debug, Clone)]
pub struct Job {
    /// The rule of `.codey.json` this job comes from.
    pub rule: Option<String>,
    pub instruction: String,
    /// The editor the rule asks for, if any.
    pub role: Option<Role>,
    /// The rule's paths; None selects every scanned file.
    pub filter: Option<PathFilter>,
}

impl Job {
    /// A job for an instruction given on the command line.
    pub fn instruction(text: impl Into<String>) -> Job {
        Job {
            rule: None,
            instruction: text.into(),
            role: None,
            filter: None,
        }
    }

    /// A job for a rule of `.codey.json` (its globs were validated when the file was loaded).
    pub fn from_rule(rule: &rules::Rule) -> Result<Job, SessionError> {
        Ok(Job {
            rule: Some(rule.name.clone()),
            instruction: rule.instruction.clone(),
            role: rule.role.map(Role::from),
            filter: Some(PathFilter::new(&rule.paths).map_err(SessionError::Filter)?),
        })
    }

    /// The jobs of every rule of the repository's `.codey.json`, in order.
    pub fn all_rules(root: &Path) -> Result<Vec<Job>, SessionError> {
        rules::load(root)?
            .rules
            .iter()
            .map(Job::from_rule)
            .collect()
    }

    /// The job of the rule called `name`.
    pub fn rule(root: &Path, name: &str) -> Result<Job, SessionError> {
        let file = rules::load(root)?;
        Job::from_rule(file.get(name, &root.join(rules::FILE_NAME))?)
    }

    fn selects(&self, path: &str) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(path))
    }
}

/// Where the run's changes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// Print the patch (the default).
    Patch,
    /// Write the edits into the worktree.
    Write { allow_dirty: bool },
    /// Commit the edits.
    Commit(Target),
}

/// Everything a run needs to know besides the models.
#[derive(Debug, Clone)]
pub struct Plan {
    pub jobs: Vec<Job>,
    pub scan: ScanOptions,
    /// Edit the staged content of staged files (`--staged`).
    pub staged: bool,
    pub mode: Mode,
    /// Edits due are a finding (exit 1): `--check` and `codey check`.
    pub check: bool,
    /// `--role`: this editor for every file of every job.
    pub role: Option<Role>,
    /// The model that judges each file's role, and the margin it is trusted from.
    pub router_judge: Role,
    pub router_margin: f32,
    pub speculate: bool,
    /// Use the on-disk KV cache (its size comes from the config's `kv_cache_mb`).
    pub kv_cache: bool,
    /// Rounds of feedback after an answer that does not parse, apply or pass the checks.
    pub rounds: usize,
    /// A file an editor gives up on goes on to the next in the config's `escalation` order
    /// (`--no-escalate`: never).
    pub escalate: bool,
    /// The user's check command (`--verify`): an edit is emitted only if it passes.
    pub verify: Option<Check>,
    /// With `--staged`, a file that fails blocks the commit (exit 2) only when strict; else it
    /// is left unchanged with a warning, and the rest of the edit decides the exit code.
    pub strict: bool,
    /// Only files the branch changed since its merge base with this revision
    /// (`--changed-since`).
    pub changed_since: Option<String>,
    /// Only this shard's part of the files (`--shard I/N`).
    pub shard: Option<Shard>,
    /// Files in flight side by side on a served model (`--jobs N`).
    pub jobs_in_flight: usize,
}

/// Why a run could not start or finish. None of these is about one file: per-file problems
/// are outcomes and refusals in the result. Retrying does not help until the cause is fixed.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Scan(#[from] ScanError),
    #[error(transparent)]
    Rules(#[from] RulesError),
    #[error("invalid rule paths: {0}")]
    Filter(String),
    #[error("{flag} needs a git repository; {dir} is not inside one")]
    NotARepo { flag: &'static str, dir: PathBuf },
    #[error(transparent)]
    Git(#[from] git::GitError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Model(#[from] crate::lifecycle::LifecycleError),
    #[error(
        "{0} is a bare git repository: it has no worktree to edit (run codey in a clone or a \
         worktree of it)"
    )]
    BareRepository(PathBuf),
    #[error("the instruction is empty: say what to change (or use --rule NAME)")]
    EmptyInstruction,
    #[error(
        "the instruction is {bytes} bytes, at least {tokens} tokens: with a file and \
         {answer} tokens for the answer it cannot fit the {context}-token context of the \
         {role} model (shorten it, or raise models.{role}.context_size)"
    )]
    InstructionTooLong {
        bytes: usize,
        tokens: usize,
        answer: usize,
        context: u32,
        role: Role,
    },
}

/// Rejects an instruction that cannot lead to a sound edit before any model loads: an empty
/// one, or one that leaves no room for a file and an answer in the smallest editor context.
/// A token holds at most about four bytes of text, so `bytes / 4` tokens is a floor.
fn validate(
    job: &Job,
    role: Option<Role>,
    config: &crate::config::Config,
) -> Result<(), SessionError> {
    if job.instruction.trim().is_empty() {
        return Err(SessionError::EmptyInstruction);
    }
    let roles: &[Role] = match role.or(job.role) {
        Some(role) => &[role],
        None => &[Role::Coder, Role::Algorithm],
    };
    let Some((role, context)) = roles
        .iter()
        .map(|r| (*r, config.models.get(*r).context_size))
        .min_by_key(|(_, c)| *c)
    else {
        return Ok(());
    };
    let bytes = job.instruction.len();
    let tokens = bytes / 4;
    if tokens + engine::MIN_ANSWER_TOKENS >= context as usize {
        return Err(SessionError::InstructionTooLong {
            bytes,
            tokens,
            answer: engine::MIN_ANSWER_TOKENS,
            context,
            role,
        });
    }
    Ok(())
}

/// How the run ends, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExitStatus {
    /// Nothing to change, or the changes were printed, written or committed (exit 0).
    Clean,
    /// Edits are due in check mode (exit 1).
    EditsDue,
    /// A file failed, was refused, or its edit was flagged (exit 2).
    Failed,
}

impl ExitStatus {
    pub fn code(self) -> u8 {
        match self {
            ExitStatus::Clean => 0,
            ExitStatus::EditsDue => 1,
            ExitStatus::Failed => 2,
        }
    }
}

/// One file's state across the jobs of a run.
#[derive(Debug, Clone)]
struct FileState {
    /// What codey read: the worktree file, or the staged blob under `--staged`.
    original: String,
    /// What the jobs so far made of it.
    current: String,
    mode: u32,
}

/// What a run produced.
#[derive(Debug, Clone, Serialize)]
pub struct RunResult {
    pub schema_version: u32,
    /// One report per job, in order.
    pub reports: Vec<Report>,
    /// The final change of every edited file, sorted by path (not in the JSON: the patch is).
    #[serde(skip)]
    pub changes: Vec<Change>,
    pub patch: String,
    /// What `apply` wrote or committed; None before it ran, and in patch mode.
    pub written: Option<Written>,
    #[serde(skip)]
    check: bool,
    #[serde(skip)]
    mode: Mode,
    #[serde(skip)]
    root: PathBuf,
    #[serde(skip)]
    base: Base,
    #[serde(skip)]
    message: String,
    /// Failed files do not fail the run (`--staged` without `--strict`).
    #[serde(skip)]
    failures_warn: bool,
}

/// Runs the plan's jobs over the files it selects, in `cwd`, inside the repository (or
/// directory) `root`. Nothing is written: see [`RunResult::apply`].
pub fn run<B: Backend>(
    lifecycle: &mut Lifecycle<B>,
    plan: &Plan,
    cwd: &Path,
    root: &Path,
    progress: &dyn Progress,
) -> Result<RunResult, SessionError> {
    for job in &plan.jobs {
        validate(job, plan.role, lifecycle.config())?;
    }
    // A bare repository's files are git's own (HEAD, config, hooks): never candidates.
    if git::discover(cwd).is_some_and(|r| r.is_bare()) {
        return Err(SessionError::BareRepository(cwd.to_owned()));
    }
    let repo = |flag| {
        git::discover(cwd).ok_or_else(|| SessionError::NotARepo {
            flag,
            dir: cwd.to_owned(),
        })
    };
    let mut scanned = if plan.staged {
        scan::from_index(root, cwd, &plan.scan, git::staged(&repo("--staged")?)?)?
    } else {
        scan::scan(root, cwd, &plan.scan)?
    };
    if let Some(base) = &plan.changed_since {
        let changed = git::changed_since(&repo("--changed-since")?, base)?;
        scanned = only(scanned, &changed);
    }
    // The other shards' files: their contents still say which names the repository holds.
    let (scanned, others) = match plan.shard {
        Some(shard) => shard.select(scanned),
        None => (scanned, Vec::new()),
    };
    // A served model is checked before the batch: a server that is down or serves another
    // model fails the run here, naming it, rather than every file one by one.
    if !scanned.files.is_empty() {
        lifecycle.connect_remotes()?;
    }
    let kv_mb = lifecycle.config().kv_cache_mb;
    let kv_cache = (plan.kv_cache && kv_mb > 0)
        .then(kvcache::default_dir)
        .flatten()
        .map(|dir| KvCache::new(dir, kv_mb));
    let mut router = Router::new(plan.router_margin).with_judge(plan.router_judge);
    let mut states: BTreeMap<String, FileState> = scanned
        .files
        .iter()
        .map(|c| {
            let state = FileState {
                original: c.content.clone(),
                current: c.content.clone(),
                mode: c.mode,
            };
            (c.rel.clone(), state)
        })
        .collect();
    let mut reports = Vec::with_capacity(plan.jobs.len());
    let mut scratch: Option<Scratch> = None;
    for job in &plan.jobs {
        let files = job_files(job, &scanned.files, &states);
        let skipped: Vec<_> = scanned
            .skipped
            .iter()
            .filter(|(path, _)| job.selects(path))
            .cloned()
            .collect();
        let request = EditRequest {
            instruction: job.instruction.clone(),
            role: plan.role.or(job.role),
            speculate: plan.speculate,
            kv_cache: kv_cache.clone(),
            rounds: plan.rounds,
            // A role the user or the rule chose is kept: no escalation past it.
            escalation: if plan.escalate && plan.role.or(job.role).is_none() {
                lifecycle.config().escalation.clone()
            } else {
                Vec::new()
            },
            known_names: (!others.is_empty()).then(|| {
                let theirs = others.iter().filter(|c| job.selects(&c.rel));
                router::known_names(&job.instruction, files.iter().chain(theirs))
            }),
            jobs: plan.jobs_in_flight,
        };
        // The verifier needs the job's candidates after the engine; copy them only then.
        let kept = plan.verify.is_some().then(|| files.clone());
        let mut report = engine::run(lifecycle, &mut router, &request, files, &skipped, progress);
        report.rule.clone_from(&job.rule);
        if let (Some(check), Some(files)) = (&plan.verify, kept) {
            if scratch.is_none() {
                scratch = Some(Scratch::new(root, plan.staged)?);
            }
            if let Some(scratch) = scratch.as_mut() {
                let mut verifier = Verifier {
                    check,
                    scratch,
                    earlier: earlier_edits(&states),
                };
                verifier.verify(lifecycle, &request, &files, &mut report, progress)?;
            }
        }
        for f in &report.files {
            if let (Outcome::Changed { new_content, .. }, Some(state)) =
                (&f.outcome, states.get_mut(&f.path))
            {
                state.current.clone_from(new_content);
            }
        }
        reports.push(report);
    }
    let changes = final_changes(states);
    Ok(RunResult {
        schema_version: SCHEMA_VERSION,
        patch: output::patch(&changes),
        reports,
        changes,
        written: None,
        check: plan.check,
        mode: plan.mode.clone(),
        root: root.to_owned(),
        base: if plan.staged {
            Base::Index
        } else {
            Base::Worktree
        },
        message: commit_message(&plan.jobs),
        failures_warn: plan.staged && !plan.strict,
    })
}

/// The part of a scan whose paths are in `paths` (sorted).
fn only(scan: Scan, paths: &[String]) -> Scan {
    let keep = |p: &str| paths.binary_search_by(|q| q.as_str().cmp(p)).is_ok();
    Scan {
        files: scan.files.into_iter().filter(|c| keep(&c.rel)).collect(),
        skipped: scan.skipped.into_iter().filter(|(p, _)| keep(p)).collect(),
    }
}

/// What the jobs before this one changed, as (path, content) overlays for the scratch tree.
fn earlier_edits(states: &BTreeMap<String, FileState>) -> Vec<(String, String)> {
    states
        .iter()
        .filter(|(_, s)| s.current != s.original)
        .map(|(path, s)| (path.clone(), s.current.clone()))
        .collect()
}

/// Runs the verify command on one job's edits and deals with what fails: the failing files
/// are found (one run per file when the batch fails), told the command's output for up to
/// `rounds` more answers, and abstain (left unchanged, `verify-failed`) if they still fail.
struct Verifier<'a> {
    check: &'a Check,
    scratch: &'a mut Scratch,
    /// Edits of earlier jobs, under every run.
    earlier: Vec<(String, String)>,
}

impl Verifier<'_> {
    fn verify<B: Backend>(
        &mut self,
        lifecycle: &mut Lifecycle<B>,
        request: &EditRequest,
        files: &[Candidate],
        report: &mut Report,
        progress: &dyn Progress,
    ) -> Result<(), SessionError> {
        let changed: Vec<usize> = (0..report.files.len())
            .filter(|&i| matches!(report.files[i].outcome, Outcome::Changed { .. }))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        let mut failing = Vec::new();
        if self.check.per_file() || changed.len() == 1 || !self.run_all(report, &changed)?.passed {
            for &i in &changed {
                let verdict = self.run_one(&report.files[i])?;
                if !verdict.passed {
                    failing.push((i, verdict.tail));
                }
            }
        }
        for (i, tail) in failing.iter().cloned() {
            let Some(cand) = files.iter().find(|c| c.rel == report.files[i].path) else {
                continue;
            };
            let mut tail = tail;
            for _ in 0..request.rounds.max(1) {
                let previous = report.files[i].clone();
                let error = FileError::Verify(tail.clone());
                let retry = engine::Retry::Failed(&error);
                report.files[i] =
                    engine::revise(lifecycle, request, cand, previous, retry, progress);
                if !matches!(report.files[i].outcome, Outcome::Changed { .. }) {
                    break;
                }
                let verdict = self.run_one(&report.files[i])?;
                if verdict.passed {
                    tail.clear();
                    break;
                }
                tail = verdict.tail;
            }
            if !tail.is_empty() || !matches!(report.files[i].outcome, Outcome::Changed { .. }) {
                abstain(&mut report.files[i], tail);
            }
        }
        // Edits that pass one by one can still fail together.
        let kept: Vec<usize> = changed
            .into_iter()
            .filter(|&i| matches!(report.files[i].outcome, Outcome::Changed { .. }))
            .collect();
        if !failing.is_empty() && !self.check.per_file() && kept.len() > 1 {
            let verdict = self.run_all(report, &kept)?;
            if !verdict.passed {
                for i in kept {
                    abstain(&mut report.files[i], verdict.tail.clone());
                }
            }
        }
        Ok(())
    }

    fn run_all(&mut self, report: &Report, changed: &[usize]) -> Result<Verdict, SessionError> {
        let mut overlays: Vec<(&str, &str)> = self
            .earlier
            .iter()
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        overlays.extend(
            changed
                .iter()
                .filter_map(|&i| new_content(&report.files[i])),
        );
        Ok(self.scratch.run(self.check, &overlays, None)?)
    }

    fn run_one(&mut self, file: &FileReport) -> Result<Verdict, SessionError> {
        let mut overlays: Vec<(&str, &str)> = self
            .earlier
            .iter()
            .filter(|(p, _)| *p != file.path)
            .map(|(p, c)| (p.as_str(), c.as_str()))
            .collect();
        overlays.extend(new_content(file));
        Ok(self.scratch.run(self.check, &overlays, Some(&file.path))?)
    }
}

fn new_content(file: &FileReport) -> Option<(&str, &str)> {
    match &file.outcome {
        Outcome::Changed { new_content, .. } => Some((file.path.as_str(), new_content.as_str())),
        _ => None,
    }
}

/// Leaves a file unchanged with the verify command's last word as its error.
fn abstain(file: &mut FileReport, tail: String) {
    if matches!(file.outcome, Outcome::Changed { .. }) || tail.is_empty() {
        let tail = if tail.is_empty() {
            "the command failed and no later answer passed it".to_owned()
        } else {
            tail
        };
        file.outcome = Outcome::Failed(FileError::Verify(tail));
    }
}

/// The candidates a job edits, each with what the jobs before it left.
fn job_files(
    job: &Job,
    scanned: &[Candidate],
    states: &BTreeMap<String, FileState>,
) -> Vec<Candidate> {
    scanned
        .iter()
        .filter(|c| job.selects(&c.rel))
        .map(|c| {
            let mut c = c.clone();
            if let Some(state) = states.get(&c.rel) {
                c.content.clone_from(&state.current);
            }
            c
        })
        .collect()
}

/// Every file whose content the jobs changed, with the hidden characters its whole edit adds.
/// Jobs that cancel each other out leave no change.
fn final_changes(states: BTreeMap<String, FileState>) -> Vec<Change> {
    states
        .into_iter()
        .filter(|(_, s)| s.current != s.original)
        .map(|(path, s)| Change {
            flags: edit::hidden_characters(&s.original, &s.current),
            path,
            original: s.original,
            new_content: s.current,
            mode: s.mode,
        })
        .collect()
}

/// The commit message for the jobs carried out: a short subject and every instruction in full.
fn commit_message(jobs: &[Job]) -> String {
    let instructions: Vec<(Option<&str>, &str)> = jobs
        .iter()
        .map(|j| (j.rule.as_deref(), j.instruction.as_str()))
        .collect();
    output::commit_message(&instructions)
}

impl RunResult {
    /// Writes or commits the changes as the plan's mode says (nothing in patch mode). Files
    /// that may not be written are refused one by one; an error here is about the repository
    /// as a whole (no HEAD, HEAD moved, an invalid branch).
    pub fn apply(&mut self) -> Result<(), SessionError> {
        self.written = match &self.mode {
            Mode::Patch => None,
            Mode::Write { allow_dirty } => Some(output::write_worktree(
                &self.root,
                &self.changes,
                WriteOptions {
                    base: self.base,
                    allow_dirty: *allow_dirty,
                },
            )),
            Mode::Commit(target) => Some(output::commit(
                &self.root,
                &self.changes,
                &self.message,
                target,
            )?),
        };
        Ok(())
    }

    pub fn mode(&self) -> &Mode {
        &self.mode
    }

    /// Files whose failure is only a warning: under `--staged` without `--strict`, a file
    /// codey could not edit is left as it is and does not block the commit.
    pub fn failures_warned(&self) -> usize {
        if self.failures_warn {
            self.reports.iter().map(|r| r.count("failed")).sum()
        } else {
            0
        }
    }

    /// Files that failed the run: failed outcomes (unless they only warn), flagged edits, and
    /// refused writes (a flagged edit that was also refused counts once).
    pub fn failures(&self) -> usize {
        let failed: usize = self
            .reports
            .iter()
            .map(|r| r.count("failed"))
            .sum::<usize>()
            - self.failures_warned();
        let flagged = self.flagged().count();
        let refused = self.written.as_ref().map_or(0, |w| {
            w.refused
                .iter()
                .filter(|r| !matches!(r.refusal, Refusal::Flagged(_)))
                .count()
        });
        failed + flagged + refused
    }

    /// Changes whose added lines hold invisible or bidirectional control characters.
    pub fn flagged(&self) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(|c| !c.flags.is_empty())
    }

    /// 2 when anything failed, 1 when the check found edits, else 0.
    pub fn exit_status(&self) -> ExitStatus {
        if self.failures() > 0 {
            ExitStatus::Failed
        } else if self.check && !self.changes.is_empty() {
            ExitStatus::EditsDue
        } else {
            ExitStatus::Clean
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_chain_and_edits_that_cancel_out_are_dropped() {
        let state = |original: &str, current: &str| FileState {
            original: original.to_owned(),
            current: current.to_owned(),
            mode: 0o100644,
        };
        let states = BTreeMap::from([
            ("a.py".to_owned(), state("a\n", "c\n")),
            ("z.py".to_owned(), state("1\n", "1\n")),
            ("h.py".to_owned(), state("x\n", "x\u{202E}\n")),
        ]);
        let changes = final_changes(states);
        let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, vec!["a.py", "h.py"]);
        assert!(changes[0].flags.is_empty());
        assert_eq!(
            changes[1].flags,
            vec!["line 1: U+202E RIGHT-TO-LEFT OVERRIDE"]
        );
        assert_eq!(
            output::patch(&changes[..1]),
            "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-a\n+c\n"
        );
    }

    #[test]
    fn empty_and_oversized_instructions_are_refused_before_any_model() {
        let config = crate::config::Config::default();
        let err = validate(&Job::instruction(" \n\t"), None, &config).unwrap_err();
        assert!(matches!(err, SessionError::EmptyInstruction), "{err}");
        let huge = Job::instruction("x".repeat(1 << 20));
        let err = validate(&huge, None, &config).unwrap_err().to_string();
        assert!(err.contains("1048576 bytes"), "{err}");
        // The message names the size, never the instruction itself.
        assert!(err.len() < 400, "{err}");
        assert!(validate(&Job::instruction("add docs"), None, &config).is_ok());
    }

    fn plan(instruction: &str, verify: &str) -> Plan {
        Plan {
            jobs: vec![Job::instruction(instruction)],
            scan: ScanOptions::default(),
            staged: false,
            mode: Mode::Patch,
            check: false,
            role: Some(Role::Coder),
            router_judge: crate::router::DEFAULT_JUDGE,
            router_margin: crate::router::DEFAULT_MARGIN,
            speculate: false,
            kv_cache: false,
            rounds: 2,
            escalate: false,
            verify: Some(Check {
                command: verify.to_owned(),
                timeout: std::time::Duration::from_secs(30),
            }),
            strict: false,
            changed_since: None,
            shard: None,
            jobs_in_flight: 1,
        }
    }

    const THREE: &str = "<<<<<<< SEARCH\n    return 1\n=======\n    return 3\n>>>>>>> REPLACE\n";
    const TWO: &str = "<<<<<<< SEARCH\n    return 1\n=======\n    return 2\n>>>>>>> REPLACE\n";

    #[test]
    fn an_edit_that_fails_the_verify_command_gets_its_output_and_another_answer() {
        let (_models, mut lc, backend, _) = crate::scripted::lifecycle([50, 400, 400], 5000);
        let repo = tempfile::tempdir().unwrap();
        std::fs::write(repo.path().join("a.py"), "def f():\n    return 1\n").unwrap();
        std::fs::write(repo.path().join("b.py"), "def g():\n    return 1\n").unwrap();
        // The verify command's output reaches the second answer's prompt.
        backend.answer("WANT-TWO", TWO);
        backend.answer("return 1", THREE);
        let check = "! grep -q 'return 3' a.py || { echo WANT-TWO; exit 1; }";
        let plan = plan("change the return value", check);
        let result = run(
            &mut lc,
            &plan,
            repo.path(),
            repo.path(),
            &crate::event::Silent,
        )
        .unwrap();
        let files = &result.reports[0].files;
        let a = files.iter().find(|f| f.path == "a.py").unwrap();
        let results: Vec<&str> = a.rounds.iter().map(|r| r.result).collect();
        assert_eq!(results, vec!["ok", "ok"]);
        assert_eq!(result.changes[0].new_content, "def f():\n    return 2\n");
        // b.py passes the command with either answer: its first edit stands.
        assert_eq!(result.changes[1].new_content, "def g():\n    return 3\n");
        assert_eq!(result.exit_status(), ExitStatus::Clean);
    }

    #[test]
    fn an_edit_that_never_passes_is_left_out_with_the_commands_output() {
        let (_models, mut lc, backend, _) = crate::scripted::lifecycle([50, 400, 400], 5000);
        let repo = tempfile::tempdir().unwrap();
        std::fs::write(repo.path().join("a.py"), "def f():\n    return 1\n").unwrap();
        backend.answer("return 1", THREE);
        let plan = plan("change the return value", "echo 'tests failed: 1'; exit 1");
        let result = run(
            &mut lc,
            &plan,
            repo.path(),
            repo.path(),
            &crate::event::Silent,
        )
        .unwrap();
        let file = &result.reports[0].files[0];
        let Outcome::Failed(error) = &file.outcome else {
            panic!("{:?}", file.outcome)
        };
        assert_eq!(error.kind(), "verify-failed");
        assert!(error.to_string().contains("tests failed: 1"), "{error}");
        assert!(result.changes.is_empty() && result.patch.is_empty());
        assert_eq!(result.exit_status(), ExitStatus::Failed);
        // The repository itself was never touched.
        assert_eq!(
            std::fs::read_to_string(repo.path().join("a.py")).unwrap(),
            "def f():\n    return 1\n"
        );
    }

    #[test]
    fn a_bare_repository_is_refused_and_its_files_never_scanned() {
        let (_models, mut lc, backend, _) = crate::scripted::lifecycle([50, 400, 400], 5000);
        backend.answer("", TWO);
        let dir = tempfile::tempdir().unwrap();
        git2::Repository::init_bare(dir.path()).unwrap();
        let mut p = plan("tidy", "true");
        p.verify = None;
        let err = run(&mut lc, &p, dir.path(), dir.path(), &crate::event::Silent).unwrap_err();
        assert!(matches!(err, SessionError::BareRepository(_)), "{err}");
        assert!(backend.loads().is_empty());
    }

    #[test]
    fn a_later_job_sees_what_an_earlier_one_left() {
        let scanned = vec![Candidate {
            path: "a.py".into(),
            rel: "a.py".to_owned(),
            content: "old\n".to_owned(),
            mode: 0o100644,
            explicit: false,
        }];
        let mut states = BTreeMap::new();
        states.insert(
            "a.py".to_owned(),
            FileState {
                original: "old\n".to_owned(),
                current: "new\n".to_owned(),
                mode: 0o100644,
            },
        );
        let mut job = Job::instruction("x");
        assert_eq!(job_files(&job, &scanned, &states)[0].content, "new\n");
        job.filter = Some(PathFilter::new(&["*.rs".to_owned()]).unwrap());
        assert!(job_files(&job, &scanned, &states).is_empty());
    }
}

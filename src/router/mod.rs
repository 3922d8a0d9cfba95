//! The router: for each file of a batch, which editor model it needs, or that it needs none.
//!
//! Reading whole files with even a tiny model is expensive, so the router decides from the
//! instruction and cheap facts about the file (`facts`): its path, the symbols it defines and
//! whether it mentions the identifiers the instruction names in backticks. A file that mentions
//! none of them, or is in a language the instruction excludes, is out of scope; one where exact
//! facts say the instruction is already satisfied (`due`) needs no editor either. Otherwise a
//! 135M model cannot be trusted with free text, so it only ever compares the log-probabilities
//! of the two labels; when the margin is small the keyword table (`keywords`) decides. [`Router`] owns
//! the calibration state of one run and routes whole batches, loading the router model through
//! the lifecycle manager; it never edits anything (`engine`).

use serde::{Deserialize, Serialize};

use crate::config::Role;
use crate::event::{Event, Progress};
use crate::lifecycle::Lifecycle;
use crate::loaded::Loaded;
use crate::model::{Backend, ChatMessage, LanguageModel, ModelError};
use crate::scan::Candidate;

mod due;
mod facts;
pub mod judge;
pub mod keywords;
pub mod knn;
mod parts;
mod pins;
mod scope;
mod words;

pub use due::{already_done, asks_only_for_comments};
pub use facts::{
    backticked, clauses, contains_literal, focus, has_identifier, introduced, literals, renames,
    symbols, FileFacts, MAX_SYMBOLS,
};
pub use scope::skip_reason;

/// Below this log-probability margin between the (calibrated) labels the router model is
/// "unsure". Chosen with `codey eval-router --judge router` on fixtures/router_cases.json: for
/// SmolLM2-135M, smaller margins let its many confident mistakes through (see the README's
/// router figures).
pub const DEFAULT_MARGIN: f32 = 3.0;

/// The model that judges a file's role unless the user says otherwise. Still the router model
/// (and so, at its margin, the keyword table): the coder model few-shot was measured and is no
/// better than the keyword table on the development cases (see the README's router figures).
pub const DEFAULT_JUDGE: Role = Role::Router;

/// Below this margin an editor judging few-shot (`judge`) is "unsure". Chosen with
/// `codey eval-router` on fixtures/router_cases.json; see the README's router figures.
pub const DEFAULT_EDITOR_MARGIN: f32 = 1.5;

/// The margin `judge` is trusted from unless the user says otherwise.
pub fn default_margin(judge: Role) -> f32 {
    match judge {
        Role::Router => DEFAULT_MARGIN,
        Role::Coder | Role::Algorithm => DEFAULT_EDITOR_MARGIN,
    }
}

/// Who made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `--role` on the command line, or a rule's `role`.
    Override,
    /// The scope check: the file is outside what the instruction concerns.
    Scope,
    /// The due check: the file already satisfies the instruction.
    Due,
    /// The router model, confidently.
    Model,
    /// The keyword table, because the model was unsure or unavailable.
    Keywords,
}

impl Source {
    /// The kebab-case name, as in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Source::Override => "override",
            Source::Scope => "scope",
            Source::Due => "due",
            Source::Model => "model",
            Source::Keywords => "keywords",
        }
    }
}

/// The router's answer for one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// None: the file needs no change.
    pub role: Option<Role>,
    pub source: Source,
    pub reason: String,
}

const SYSTEM: &str = "You sort code-editing tasks into two kinds. \
'algorithm': the task is about algorithms, speed, complexity, data structures, memory use or \
numeric correctness. 'coder': everything else, such as renaming, documentation, comments, \
tests, logging, error handling, types, formatting and configuration. Reply with one word.";

/// The router's prompt for one file.
pub fn prompt(instruction: &str, facts: &FileFacts) -> Vec<ChatMessage> {
    let symbols = if facts.symbols.is_empty() {
        "(none found)".to_owned()
    } else {
        facts.symbols.join(", ")
    };
    // Zero-shot: few-shot examples were measured and made SmolLM2-135M worse, not better.
    vec![
        ChatMessage::system(SYSTEM),
        ChatMessage::user(format!(
            "Task: {instruction}\nFile: {}\nDefines: {symbols}\nIs this task 'algorithm' or 'coder'?",
            facts.path
        )),
    ]
}

/// The label words the model's first token is compared on.
pub const LABELS: [&str; 2] = ["coder", "algorithm"];

/// Asks the model, constrained to the two labels; returns the label scores (log-probabilities).
fn label_scores<M: LanguageModel>(
    model: &mut M,
    instruction: &str,
    facts: &FileFacts,
) -> Result<[f32; 2], ModelError> {
    let messages = prompt(instruction, facts);
    if let Some(chat) = model.chat_api() {
        let scores = chat.chat_label_scores(&messages, &LABELS)?;
        return Ok([scores[0], scores[1]]);
    }
    let text = model.chat_prompt(&messages)?;
    let tokens = model.tokenize(&text, true)?;
    let scores = model.label_scores(&tokens, &LABELS)?;
    Ok([scores[0], scores[1]])
}

/// The label scores of `judge`'s model: the router model zero-shot on the task and the file's
/// facts, or an editor model few-shot on the task alone (`judge`).
pub fn judge_scores<M: LanguageModel>(
    model: &mut M,
    judge: Role,
    instruction: &str,
    facts: &FileFacts,
) -> Result<[f32; 2], ModelError> {
    match judge {
        Role::Router => label_scores(model, instruction, facts),
        Role::Coder | Role::Algorithm => judge::scores(model, instruction),
    }
}

/// The model's bias between the labels, measured on a content-free task. Tiny models prefer one
/// label whatever the question (SmolLM2-135M says "coder" to almost everything); subtracting
/// this bias ("contextual calibration") leaves what the task itself contributes.
pub fn calibrate<M: LanguageModel>(model: &mut M, judge: Role) -> Result<[f32; 2], ModelError> {
    let facts = FileFacts {
        path: "N/A".to_owned(),
        ..FileFacts::default()
    };
    judge_scores(model, judge, "N/A", &facts)
}

/// Asks `judge`'s model, constrained to the two labels, calibrated by `bias`. Returns the role
/// and the margin between the calibrated scores.
pub fn ask_model<M: LanguageModel>(
    model: &mut M,
    judge: Role,
    instruction: &str,
    facts: &FileFacts,
    bias: [f32; 2],
) -> Result<(Role, f32), ModelError> {
    Ok(decide(
        judge_scores(model, judge, instruction, facts)?,
        bias,
    ))
}

/// The role the calibrated scores favour, and by how much.
pub fn decide([coder, algorithm]: [f32; 2], bias: [f32; 2]) -> (Role, f32) {
    let (coder, algorithm) = (coder - bias[0], algorithm - bias[1]);
    let role = if algorithm > coder {
        Role::Algorithm
    } else {
        Role::Coder
    };
    (role, (algorithm - coder).abs())
}

/// The bias `judge`'s scores are corrected by: measured for the router model, none for the
/// few-shot editors, whose examples already balance the labels.
pub fn calibration<M: LanguageModel>(model: &mut M, judge: Role) -> Result<[f32; 2], ModelError> {
    match judge {
        Role::Router => calibrate(model, judge),
        Role::Coder | Role::Algorithm => Ok([0.0; 2]),
    }
}

/// The keyword table's decision, with a note on why the model was not asked.
pub fn keyword_decision(instruction: &str, note: &str) -> Decision {
    let (role, reason) = keywords::role(instruction);
    Decision {
        role: Some(role),
        source: Source::Keywords,
        reason: format!("{reason}; {note}"),
    }
}

/// The scope check's decision for a file the instruction does not concern.
fn out_of_scope(reason: String) -> Decision {
    Decision {
        role: None,
        source: Source::Scope,
        reason,
    }
}

/// `judge`'s answer when it is confident (its margin at least `margin`), else the keyword
/// table's; the reason names the model that judged and its margin either way.
pub fn combine(
    instruction: &str,
    judge: Role,
    model_answer: Option<(Role, f32)>,
    margin: f32,
) -> Decision {
    let (rule_role, rule_reason) = keywords::role(instruction);
    match model_answer {
        Some((role, confidence)) if confidence >= margin => Decision {
            role: Some(role),
            source: Source::Model,
            reason: format!("{judge} model (margin {confidence:.2})"),
        },
        Some((_, confidence)) => Decision {
            role: Some(rule_role),
            source: Source::Keywords,
            reason: format!("{rule_reason}; {judge} model unsure (margin {confidence:.2})"),
        },
        None => Decision {
            role: Some(rule_role),
            source: Source::Keywords,
            reason: rule_reason,
        },
    }
}

/// What the exact checks found for one file, before any model is asked.
#[derive(Debug, Clone)]
pub struct Checked {
    /// Why the file is skipped (out of scope, or nothing due), if it is.
    pub skip: Option<Decision>,
    /// The part of the instruction that concerns the file.
    pub focus: String,
    facts: FileFacts,
}

/// The scope and due checks for one file: exact facts only, no model. `known` are the
/// instruction's names some file of the run holds (see [`known_names`]).
pub fn check(instruction: &str, cand: &Candidate, known: &[String]) -> Checked {
    let mut facts = FileFacts::gather(instruction, &cand.rel, &cand.content);
    facts.mentions.retain(|(name, _)| known.contains(name));
    facts.literals.retain(|(lit, _)| known.contains(lit));
    facts.parts.retain(|(part, _)| known.contains(part));
    // Route (and later edit) on the part of the task that concerns this file.
    let focus = focus(instruction, &cand.content, known);
    // Files named on the command line are always in scope; whether anything is due there is
    // still checked.
    let scope = (!cand.explicit)
        .then(|| skip_reason(instruction, &facts))
        .flatten()
        .map(out_of_scope);
    let skip = scope.or_else(|| {
        already_done(&focus, &cand.rel, &cand.content).map(|reason| Decision {
            role: None,
            source: Source::Due,
            reason,
        })
    });
    Checked { skip, focus, facts }
}

/// One file's route: the decision, and the part of the instruction the file is given.
#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub decision: Decision,
    pub focus: String,
}

/// Whether the router model has been calibrated, or could not be used.
#[derive(Debug, Clone)]
enum State {
    Untried,
    Ready([f32; 2]),
    Unavailable(String),
}

/// Routes the files of one run. The router model is calibrated once, on first need; when it
/// cannot be loaded or fails, the keyword table decides for the rest of the run and
/// [`Router::warning`] says why. The batch never stops for the router.
#[derive(Debug, Clone)]
pub struct Router {
    margin: f32,
    judge: Role,
    state: State,
}

impl Router {
    /// A router that trusts the model when its calibrated margin is at least `margin`.
    pub fn new(margin: f32) -> Self {
        Router {
            margin,
            judge: Role::Router,
            state: State::Untried,
        }
    }

    /// The same router with `judge`'s model deciding: the router model, or an editor few-shot.
    pub fn with_judge(mut self, judge: Role) -> Self {
        self.judge = judge;
        self
    }

    /// Why the router model could not be used, once that happened.
    pub fn warning(&self) -> Option<String> {
        match &self.state {
            State::Unavailable(reason) => Some(format!(
                "{} model unavailable, the keyword table routed every file: {reason}",
                self.judge
            )),
            _ => None,
        }
    }

    /// Routes every file of a batch, before any editor is loaded. `role` (from `--role` or a
    /// rule) replaces the model's judgement but never the scope check. `known` are the
    /// instruction's names that the run's files hold (see [`known_names`]) when the batch is
    /// only part of the run (`--shard`); None computes them from the batch.
    pub fn route_batch<B: Backend>(
        &mut self,
        lifecycle: &mut Lifecycle<B>,
        instruction: &str,
        role: Option<Role>,
        files: &[Candidate],
        known: Option<&[String]>,
        progress: &dyn Progress,
    ) -> Vec<Route> {
        progress.event(&Event::Routing { files: files.len() });
        let known = match known {
            Some(names) => names.to_vec(),
            None => known_names(instruction, files),
        };
        files
            .iter()
            .map(|cand| {
                let route = self.route_file(lifecycle, instruction, role, cand, &known);
                progress.event(&Event::Routed {
                    path: cand.rel.clone(),
                    role: route.decision.role,
                    by: route.decision.source.name(),
                });
                route
            })
            .collect()
    }

    fn route_file<B: Backend>(
        &mut self,
        lifecycle: &mut Lifecycle<B>,
        instruction: &str,
        role: Option<Role>,
        cand: &Candidate,
        known: &[String],
    ) -> Route {
        let Checked { skip, focus, facts } = check(instruction, cand, known);
        let decision = match (role, skip) {
            (_, Some(skip)) => skip,
            (Some(role), None) => Decision {
                role: Some(role),
                source: Source::Override,
                reason: "role given".to_owned(),
            },
            (None, None) => self.ask(lifecycle, &focus, &facts),
        };
        Route { decision, focus }
    }

    /// The judge's decision when it is confident, else the keyword table's. A judge that
    /// cannot be loaded (checked once, on first need) is not asked again this run.
    fn ask<B: Backend>(
        &mut self,
        lifecycle: &mut Lifecycle<B>,
        instruction: &str,
        facts: &FileFacts,
    ) -> Decision {
        let judge = self.judge;
        if let State::Untried = self.state {
            self.state = match with_judge(lifecycle, judge, |m| calibration(m, judge)) {
                Ok(bias) => State::Ready(bias),
                Err(reason) => State::Unavailable(reason),
            };
        }
        let bias = match &self.state {
            State::Ready(bias) => *bias,
            State::Unavailable(reason) => {
                return keyword_decision(
                    instruction,
                    &format!("{judge} model unavailable: {reason}"),
                )
            }
            State::Untried => {
                return keyword_decision(instruction, &format!("{judge} model unavailable"))
            }
        };
        let answer = with_judge(lifecycle, judge, |m| {
            ask_model(m, judge, instruction, facts, bias)
        });
        match answer {
            Ok(answer) => combine(instruction, judge, Some(answer), self.margin),
            Err(e) => keyword_decision(instruction, &format!("{judge} model failed: {e}")),
        }
    }
}

/// Runs `f` on `judge`'s model; a failure to load it and a failure inside it are alike to the
/// caller, which falls back to the keyword table either way.
fn with_judge<B: Backend, R>(
    lifecycle: &mut Lifecycle<B>,
    judge: Role,
    f: impl FnOnce(&mut Loaded<B::Model>) -> Result<R, ModelError>,
) -> Result<R, String> {
    match lifecycle.with(judge, f) {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    }
}

/// One labelled scope or due case: an instruction, a file, and the expected verdict (`in` /
/// `out` for scope, `due` / `not-due` for due).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCase {
    pub instruction: String,
    pub path: String,
    pub content: String,
    pub expected: String,
    /// Free text about the case (where it comes from, why its label); the checks never read it.
    #[serde(default)]
    pub note: Option<String>,
}

/// How a deterministic check did on labelled cases. "Positive" is the check skipping the file
/// (`out`, `not-due`): a skipped file that needed the edit is the costly mistake, so precision
/// is the figure to hold high.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CheckFigures {
    pub cases: usize,
    /// Files the check skipped, and how many of those the labels skip too.
    pub skipped: usize,
    pub skipped_right: usize,
    /// Files the labels skip.
    pub should_skip: usize,
    pub precision: f64,
    pub recall: f64,
    /// Cases it got wrong: (instruction, path, expected).
    pub mistakes: Vec<(String, String, String)>,
}

fn check_figures(
    cases: &[FileCase],
    positive: &str,
    skips: impl Fn(&FileCase) -> bool,
) -> CheckFigures {
    let mut f = CheckFigures {
        cases: cases.len(),
        ..CheckFigures::default()
    };
    for case in cases {
        let skipped = skips(case);
        let should = case.expected == positive;
        f.skipped += usize::from(skipped);
        f.should_skip += usize::from(should);
        f.skipped_right += usize::from(skipped && should);
        if skipped != should {
            f.mistakes.push((
                case.instruction.clone(),
                case.path.clone(),
                case.expected.clone(),
            ));
        }
    }
    f.precision = f.skipped_right as f64 / f.skipped.max(1) as f64;
    f.recall = f.skipped_right as f64 / f.should_skip.max(1) as f64;
    f
}

/// The instruction's backticked names, literals (see [`literals`]) and named parts ("the
/// deploy script") that some of `files` contains. Only these can put a file out of scope: a
/// name no file has is one the edit is about to introduce. Computed over the whole run, so one
/// shard of it routes each file as the whole run would.
pub fn known_names<'a>(
    instruction: &str,
    files: impl IntoIterator<Item = &'a Candidate> + Clone,
) -> Vec<String> {
    let backticked = backticked(instruction).into_iter().filter(|name| {
        files
            .clone()
            .into_iter()
            .any(|f| f.content.contains(name.as_str()))
    });
    let literals = literals(instruction).into_iter().filter(|lit| {
        files
            .clone()
            .into_iter()
            .any(|f| contains_literal(&f.content, lit))
    });
    // A part no file belongs to ("the deploy script" in a repo without one) skips nothing.
    let parts = parts::named(&clauses(instruction))
        .into_iter()
        .filter(|part| {
            files
                .clone()
                .into_iter()
                .any(|f| part.holds(&f.rel, &f.content))
        })
        .map(|part| part.shown);
    backticked.chain(literals).chain(parts).collect()
}

/// The scope check on labelled cases. Each case is one file of a batch in which the names the
/// instruction gives in backticks exist somewhere (as in a real repository).
pub fn evaluate_scope(cases: &[FileCase]) -> CheckFigures {
    check_figures(cases, "out", |c| {
        let facts = FileFacts::gather(&c.instruction, &c.path, &c.content);
        skip_reason(&c.instruction, &facts).is_some()
    })
}

/// The due check on labelled cases (files in scope).
pub fn evaluate_due(cases: &[FileCase]) -> CheckFigures {
    check_figures(cases, "not-due", |c| {
        already_done(&c.instruction, &c.path, &c.content).is_some()
    })
}

/// One labelled case of `fixtures/router_cases.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub instruction: String,
    pub path: String,
    pub symbols: Vec<String>,
    pub mentions: serde_json::Map<String, serde_json::Value>,
    pub expected: String,
}

impl Case {
    pub fn facts(&self) -> FileFacts {
        FileFacts {
            path: self.path.clone(),
            symbols: self.symbols.clone(),
            mentions: self
                .mentions
                .iter()
                .map(|(k, v)| (k.clone(), v.as_bool().unwrap_or(false)))
                .collect(),
            ..FileFacts::default()
        }
    }
}

/// The label a decision corresponds to in the case set.
pub fn label(role: Option<Role>) -> &'static str {
    role.map_or("skip", Role::name)
}

/// One case as the evaluation saw it: what the keyword table and the judge said, before any
/// margin, so that other margins (and calibrations) can be tried on the figures alone.
#[derive(Debug, Clone, Serialize)]
pub struct CaseScore {
    pub expected: String,
    /// The scope check skipped it (the judge was asked anyway).
    pub skip: bool,
    pub keywords: &'static str,
    /// The judge's raw label scores (log-probabilities), before calibration.
    pub coder: f32,
    pub algorithm: f32,
}

/// The router's accuracy on a labelled case set, three ways.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub cases: usize,
    /// The model that judged: `router` (zero-shot, calibrated) or an editor (few-shot).
    pub judge: Role,
    /// The calibration subtracted from the judge's scores.
    pub bias: [f32; 2],
    /// The judge's scores on a content-free task (the bias contextual calibration would use).
    pub content_free: [f32; 2],
    /// Skip rule, then the model's label whatever its confidence.
    pub model_accuracy: f64,
    /// Skip rule, then the keyword rule alone.
    pub rule_accuracy: f64,
    /// What codey does: skip rule, the model when confident, else the keyword rule.
    pub combined_accuracy: f64,
    pub margin: f32,
    /// Cases the scope check left to the role decision, those the model was confident on, and
    /// how many of those it got right.
    pub role_cases: usize,
    pub model_confident: usize,
    pub model_confident_right: usize,
    /// Seconds the judge took per case (wall clock, calibration and first prompt included).
    pub seconds_per_case: f64,
    /// Combined accuracy if the margin were each of these values: (margin, accuracy).
    pub margin_sweep: Vec<(f32, f64)>,
    /// Cases the combined router got wrong: (instruction, path, expected, got, source).
    pub mistakes: Vec<(String, String, String, String, Source)>,
    /// Every case's scores, in order.
    pub scores: Vec<CaseScore>,
}

/// Margins the evaluation reports accuracy for.
const SWEEP: [f32; 9] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, f32::INFINITY];

/// Runs every case through `judge`'s model, the keyword table and the combination.
pub fn evaluate<M: LanguageModel>(
    model: &mut M,
    judge: Role,
    cases: &[Case],
    margin: f32,
) -> Result<Evaluation, ModelError> {
    let started = std::time::Instant::now();
    let content_free = calibrate(model, judge)?;
    let bias = calibration(model, judge)?;
    let (mut by_model, mut by_rule, mut combined, mut confident, mut confident_right) =
        (0, 0, 0, 0, 0);
    let mut role_cases = 0;
    let mut mistakes = Vec::new();
    let mut scores = Vec::with_capacity(cases.len());
    let mut sweep = vec![0usize; SWEEP.len()];
    for case in cases {
        let facts = case.facts();
        let skip = skip_reason(&case.instruction, &facts).is_some();
        let raw = judge_scores(model, judge, &case.instruction, &facts)?;
        let (model_role, confidence) = decide(raw, bias);
        let keyword_role = keywords::role(&case.instruction).0;
        scores.push(CaseScore {
            expected: case.expected.clone(),
            skip,
            keywords: keyword_role.name(),
            coder: raw[0],
            algorithm: raw[1],
        });
        for (right, m) in sweep.iter_mut().zip(SWEEP) {
            let d = combine(&case.instruction, judge, Some((model_role, confidence)), m);
            *right += usize::from((if skip { "skip" } else { label(d.role) }) == case.expected);
        }
        let model_label = if skip { "skip" } else { model_role.name() };
        let rule_label = if skip { "skip" } else { keyword_role.name() };
        let decision = if skip {
            out_of_scope(String::new())
        } else {
            combine(
                &case.instruction,
                judge,
                Some((model_role, confidence)),
                margin,
            )
        };
        by_model += usize::from(model_label == case.expected);
        by_rule += usize::from(rule_label == case.expected);
        role_cases += usize::from(!skip);
        if !skip && confidence >= margin {
            confident += 1;
            confident_right += usize::from(model_label == case.expected);
        }
        if label(decision.role) == case.expected {
            combined += 1;
        } else {
            mistakes.push((
                case.instruction.clone(),
                case.path.clone(),
                case.expected.clone(),
                label(decision.role).to_owned(),
                decision.source,
            ));
        }
    }
    let n = cases.len().max(1) as f64;
    Ok(Evaluation {
        cases: cases.len(),
        judge,
        bias,
        content_free,
        model_accuracy: by_model as f64 / n,
        rule_accuracy: by_rule as f64 / n,
        combined_accuracy: combined as f64 / n,
        margin,
        role_cases,
        model_confident: confident,
        model_confident_right: confident_right,
        seconds_per_case: started.elapsed().as_secs_f64() / n,
        margin_sweep: SWEEP
            .iter()
            .zip(sweep)
            .map(|(m, r)| (*m, r as f64 / n))
            .collect(),
        mistakes,
        scores,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clauses_split_requests_but_not_lists_of_names() {
        assert_eq!(
            clauses("make `a` faster and add a docstring to `b`; rename `c` and `d`."),
            vec![
                "make `a` faster",
                "add a docstring to `b`",
                "rename `c` and `d`"
            ]
        );
        assert_eq!(clauses("add tests"), vec!["add tests"]);
        assert_eq!(
            clauses("rename `A` to `B` in types.ts and users.ts"),
            vec!["rename `A` to `B` in types.ts and users.ts"]
        );
    }

    #[test]
    fn focus_keeps_the_clauses_a_file_concerns() {
        let i = "make `find_dupes` linear; add a docstring to `report`";
        let known = vec!["find_dupes".to_owned(), "report".to_owned()];
        assert_eq!(
            focus(i, "def report(): pass", &known),
            "add a docstring to `report`"
        );
        assert_eq!(
            focus(i, "def find_dupes(): pass", &known),
            "make `find_dupes` linear"
        );
        assert_eq!(focus(i, "report(find_dupes())", &known), i);
        assert_eq!(focus("add logging", "x", &known), "add logging");
        // `slugify` exists nowhere yet: its clause concerns every file.
        let j = "make `find_dupes` linear; add a `slugify` helper";
        assert_eq!(
            focus(j, "def other(): pass", &known[..1]),
            "add a `slugify` helper"
        );
    }

    #[test]
    fn backticked_names_are_found_once_each() {
        assert_eq!(
            backticked("rename `a` to `b_c`, keep `a`; not ``"),
            vec!["a".to_owned(), "b_c".to_owned()]
        );
        assert!(backticked("no names here").is_empty());
    }

    #[test]
    fn symbols_are_found_at_line_starts() {
        let src = "pub fn alpha() {}\nstruct Beta;\ndef gamma(x):\n    def inner(): pass\nx = fn_call()\nexport function delta() {}\n";
        assert_eq!(
            symbols(src),
            vec!["alpha", "Beta", "gamma", "inner", "delta"]
        );
    }

    #[test]
    fn file_without_named_identifiers_is_skipped() {
        let facts = FileFacts::gather("rename `foo` to `bar`", "a.py", "def baz(): pass\n");
        let reason = skip_reason("rename `foo` to `bar`", &facts).unwrap();
        assert!(reason.contains("`foo`"), "{reason}");
        let facts = FileFacts::gather("rename `foo` to `bar`", "a.py", "def foo(): pass\n");
        assert_eq!(skip_reason("rename `foo` to `bar`", &facts), None);
    }

    #[test]
    fn names_an_edit_brings_in_do_not_put_files_out_of_scope() {
        assert_eq!(
            introduced("use `logging` instead of `print`"),
            vec!["logging"]
        );
        assert_eq!(
            introduced("Wrap returned errors with `fmt.Errorf` in the Go files"),
            vec!["fmt.Errorf"]
        );
        assert_eq!(introduced("rename `a` to `b`"), vec!["b"]);
        assert!(introduced("add a docstring to `print_report`").is_empty());
        let i = "Replace the prints with the `log` crate macros";
        let facts = FileFacts::gather(i, "src/cli.rs", "fn main() { println!(\"hi\"); }\n");
        assert_eq!(skip_reason(i, &facts), None);
    }

    #[test]
    fn renames_are_read_from_every_clause_or_not_at_all() {
        assert_eq!(
            renames("rename the variable `x` to `count`"),
            vec![("x".to_owned(), "count".to_owned())]
        );
        assert_eq!(renames("rename `a` to `b` and `c` to `d`").len(), 2);
        // A clause that is not a rename makes the instruction more than a rename.
        assert!(renames("rename `a` to `b`; add a docstring to `b`").is_empty());
        assert!(renames("make `a` faster").is_empty());
    }

    #[test]
    fn a_rename_whose_old_name_is_gone_is_not_due() {
        let i = "rename the variable `x` to `count`";
        assert!(already_done(i, "a.py", "count = count + y\n").is_some());
        // `x` inside a longer identifier does not count; `x` on its own does.
        assert!(already_done(i, "a.py", "max_x = xs\n").is_some());
        assert_eq!(already_done(i, "a.py", "x = x + y\n"), None);
        assert_eq!(already_done("add docs", "a.py", "x = 1\n"), None);
    }

    #[test]
    fn a_docstring_instruction_on_documented_python_is_not_due() {
        let documented = "def a():\n    \"\"\"A.\"\"\"\n\n\nclass B:\n    pass\n";
        let i = "add a docstring to every function";
        assert!(already_done(i, "m.py", documented).is_some());
        // Classes were not asked for in `i`; they are in this one.
        assert_eq!(already_done("add docstrings", "m.py", documented), None);
        assert!(already_done("add a docstring to `a`", "m.py", documented).is_some());
        let bare = "def a():\n    pass\n";
        assert_eq!(already_done(i, "m.py", bare), None);
        // A backticked name that is no definition (the file's own name) narrows nothing.
        let j = "add a docstring to every function in `m.py`";
        assert_eq!(already_done(j, "m.py", bare), None);
        assert!(already_done(j, "m.py", documented).is_some());
        // A clause that changes existing docstrings is due whatever they hold.
        let returns = "add a `Returns:` section to every docstring";
        assert_eq!(already_done(returns, "m.py", documented), None);
        // Only Python is read this way; a docstring clause beside other work is due.
        assert_eq!(already_done(i, "m.rs", documented), None);
        assert_eq!(
            already_done(
                "add a docstring to `a` and make it faster",
                "m.py",
                documented
            ),
            None
        );
    }

    #[test]
    fn code_instructions_skip_prose_and_data_files() {
        let i = "Add a one-line docstring to every Python function";
        let txt = FileFacts::gather(i, "NOTES.txt", "remember the milk\n");
        assert!(skip_reason(i, &txt).is_some());
        let j = "add type hints to the public functions";
        assert!(skip_reason(j, &FileFacts::gather(j, "notes.md", "")).is_some());
        assert_eq!(skip_reason(j, &FileFacts::gather(j, "a.py", "")), None);
        // Prose is in scope when the instruction concerns it, or mentions what the file holds.
        let k = "fix the typos in the docs and the function names";
        assert_eq!(skip_reason(k, &FileFacts::gather(k, "notes.md", "")), None);
        let r = "rename the function `foo` to `bar`";
        let md = FileFacts::gather(r, "README.md", "call `foo()`\n");
        assert_eq!(skip_reason(r, &md), None);
    }

    #[test]
    fn language_scope_skips_other_languages() {
        let i = "add type hints to the Python files";
        let md = FileFacts::gather(i, "README.md", "");
        assert!(skip_reason(i, &md).is_some());
        let py = FileFacts::gather(i, "app/x.py", "");
        assert_eq!(skip_reason(i, &py), None);
        // A language word alone is not a restriction.
        let j = "explain the go statement";
        assert_eq!(skip_reason(j, &FileFacts::gather(j, "a.rs", "")), None);
    }

    #[test]
    fn data_formats_language_notation_ci_comments_and_docs_narrow_the_scope() {
        let skips = |i: &str, path: &str, content: &str| {
            skip_reason(i, &FileFacts::gather(i, path, content)).is_some()
        };
        let yaml = "Convert the tabs to spaces in the YAML files";
        assert!(skips(yaml, "Cargo.toml", "") && !skips(yaml, ".github/ci.yml", ""));
        // Rust notation and vocabulary without the word "Rust".
        let log = "Replace the `println!` calls with the `log` crate macros";
        assert!(skips(log, "src/handlers.py", "log = 1\n") && !skips(log, "src/main.rs", ""));
        let derive = "Add `#[derive(Debug)]` to every struct";
        assert!(skips(derive, "model/model.go", "") && !skips(derive, "src/lib.rs", ""));
        let ci = "Update the Node version to 20 in the CI config";
        assert!(skips(ci, "src/index.js", "") && !skips(ci, ".github/workflows/test.yml", ""));
        let comments = "Translate the comments to English";
        assert!(skips(comments, "data/fixtures.json", "[]") && skips(comments, "README.md", ""));
        assert!(!skips(comments, "src/app.py", "") && !skips(comments, "deploy.yaml", ""));
        let docs = "Fix the typos in the docs";
        assert!(skips(docs, "package.json", "{}") && !skips(docs, "docs/guide.md", ""));
        assert!(!skips(docs, "src/app.py", ""), "code holds docs too");
        // Markers of two languages decide nothing.
        let mixed = "Port the `log` crate calls to pytest fixtures";
        assert!(!skips(mixed, "a.py", "log\n") && !skips(mixed, "a.rs", "log\n"));
    }

    #[test]
    fn a_named_part_of_the_repository_scopes_unless_the_file_holds_a_looked_for_name() {
        let skips = |i: &str, path: &str, content: &str| {
            skip_reason(i, &FileFacts::gather(i, path, content)).is_some()
        };
        let helper = "fix the off-by-one in the pagination helper";
        assert!(skips(helper, "src/slugify.ts", "export const slug = 1;\n"));
        assert!(!skips(helper, "src/lib/paginate.ts", ""));
        assert!(!skips(
            helper,
            "src/list.ts",
            "import { paginate } from './lib';\n"
        ));
        let folder = "add JSDoc to the exported functions in the utils folder";
        assert!(skips(folder, "src/api/client.js", "import '../utils/x';\n"));
        assert!(!skips(folder, "src/utils/format.js", ""));
        // A name the instruction looks for beats the description.
        let named = "make `slugify` faster in the pagination helper";
        assert!(!skips(
            named,
            "src/slugify.ts",
            "export function slugify() {}\n"
        ));
    }

    #[test]
    fn documenting_code_words_in_a_guide_keeps_the_guide() {
        let i = "document the required environment variables in the setup guide";
        let facts = FileFacts::gather(i, "docs/setup.md", "");
        assert_eq!(skip_reason(i, &facts), None);
    }

    #[test]
    fn a_manifest_stays_in_scope_for_a_change_of_imports() {
        let esm = "convert the require() calls to ESM imports";
        let facts = FileFacts::gather(esm, "package.json", "{}\n");
        assert_eq!(skip_reason(esm, &facts), None);
        let facts = FileFacts::gather(esm, "data/users.json", "[]\n");
        assert!(skip_reason(esm, &facts).is_some());
    }

    #[test]
    fn files_the_instruction_places_the_edit_in_are_the_only_ones_in_scope() {
        let skips = |i: &str, path: &str| skip_reason(i, &FileFacts::gather(i, path, "")).is_some();
        let ts = "Turn on `strict` mode in the TypeScript config";
        assert!(skips(ts, "src/index.ts") && skips(ts, ".eslintrc.json"));
        assert!(!skips(ts, "tsconfig.json") && !skips(ts, "packages/web/tsconfig.build.json"));
        let docker = "update the Dockerfile to use python 3.12";
        assert!(skips(docker, "Makefile") && skips(docker, "app/main.py"));
        assert!(!skips(docker, "Dockerfile") && !skips(docker, "docker/Dockerfile.dev"));
        let named = "Add a docstring to every function in utils.py";
        assert!(skips(named, "app/cli.py") && !skips(named, "src/utils.py"));
        let manifest = "Add `serde` to Cargo.toml";
        assert!(skips(manifest, "src/lib.rs") && !skips(manifest, "Cargo.toml"));
        let readme = "Reword the installation section of the README to mention Windows";
        assert!(skips(readme, "src/main.go") && !skips(readme, "README.md"));
        // Code files named after other words place nothing: their callers may need the edit.
        let moved = "Move `parse` from cli.py to utils.py";
        let caller = FileFacts::gather(moved, "app/main.py", "parse(x)\n");
        assert_eq!(skip_reason(moved, &caller), None);
        // Frameworks spelled like files, and a file read from, place nothing either.
        assert!(!skips(
            "Port the server in Node.js to Deno",
            "server/index.ts"
        ));
        assert!(!skips(
            "Read the port from config.toml, not a constant",
            "src/server.py"
        ));
        // Every clause must place the edit: another clause may concern any file.
        let two = "Add `serde` to Cargo.toml and derive `Serialize` for `Config`";
        let config = FileFacts::gather(two, "src/config.rs", "pub struct Config;\n");
        assert_eq!(skip_reason(two, &config), None);
        assert!(skips(
            "Add `serde` to Cargo.toml; bump it in Cargo.lock",
            "src/lib.rs"
        ));
        let reads = "Change the default port in config.yaml and the code that reads it";
        assert!(!skips(reads, "src/server.py"));
        // Prose files count by name only in capitals: "license" is also a common noun.
        let header = "Add the MIT license header to the top of every source file";
        assert!(!skips(header, "src/lib.rs") && !skips("Update the LICENSE year", "LICENSE"));
        assert!(skips("Update the year in the LICENSE", "src/lib.rs"));
        let logging = "Use the `logging` module instead of print in backup.py";
        assert!(skips(logging, "app/cli.py") && !skips(logging, "tools/backup.py"));
        for i in [
            "Rename `calc` in pricing.py to `discounted_price` and update every caller",
            "Use the constants in config.py instead of magic numbers",
            "Write the results to results.json",
            "Load the defaults from the Makefile",
            "Make the build script generate the Dockerfile",
        ] {
            let caller = FileFacts::gather(i, "src/app.py", "total = calc(x)\n");
            assert_eq!(skip_reason(i, &caller), None, "{i}");
        }
    }

    #[test]
    fn literals_the_instruction_changes_must_be_in_the_file() {
        let i = "Change the project name from Stellar to Nova everywhere";
        assert_eq!(literals(i), vec!["Stellar"]);
        let in_scope = FileFacts::gather(i, "deploy/env.sh", "export STELLAR_HOME=/opt\n");
        assert_eq!(skip_reason(i, &in_scope), None, "case aside");
        assert!(skip_reason(i, &FileFacts::gather(i, "src/math.ts", "export {}\n")).is_some());
        assert_eq!(
            literals("Change the default port from 8080 to 9000"),
            vec!["8080"]
        );
        assert_eq!(literals("rename getUser to fetchUser"), vec!["getUser"]);
        assert_eq!(
            literals("Replace \"Copyright 2023\" with \"Copyright 2024\" in the headers"),
            vec!["Copyright 2023"]
        );
        // Plain words name what no file spells out; apostrophes open no quote.
        assert!(literals("Convert the indentation from tabs to spaces").is_empty());
        assert!(literals("Migrate from callbacks to promises").is_empty());
        assert!(literals("don't touch the user's 'settings' loader").len() == 1);
        assert!(literals("Upgrade from Python 2 to 3").is_empty());
    }

    #[test]
    fn dependency_versions_live_in_manifests_and_scripts_keep_their_language() {
        let skips = |i: &str, path: &str, content: &str| {
            skip_reason(i, &FileFacts::gather(i, path, content)).is_some()
        };
        let pin = "Pin every dependency to an exact version";
        assert!(skips(pin, "src/server.ts", "") && !skips(pin, "package.json", "{}"));
        assert!(!skips(pin, "requirements-dev.txt", "") && !skips(pin, "setup.py", ""));
        let bump = "bump serde to 1.0.200 in every crate";
        assert!(skips(
            bump,
            "crates/model/src/lib.rs",
            "use serde::Serialize;\n"
        ));
        assert!(!skips(bump, "crates/model/Cargo.toml", "") && !skips(bump, "Cargo.toml", ""));
        // Every clause must be about versions: another may concern the code.
        let both = "Update the dependencies and fix the deprecated calls";
        assert!(!skips(both, "src/app.py", ""));
        // A major upgrade may need code changes: no dependency word, no patch version.
        assert!(!skips("Upgrade React to 18", "src/App.jsx", ""));
        // An extensionless script is in the language its `#!` line runs.
        let py = "add type hints to the Python functions";
        assert!(!skips(
            py,
            "bin/tool",
            "#!/usr/bin/env python3\ndef f(x): pass\n"
        ));
        assert!(skips(py, "bin/deploy", "#!/bin/bash\necho hi\n"));
        // A capitalised language with one word between still restricts; a verb does not.
        let go = "Make the Go HTTP handlers return JSON errors";
        assert!(skips(go, "web/static/app.js", "") && !skips(go, "api/users.go", ""));
        assert!(!skips("go through the functions and fix typos", "a.py", ""));
    }

    #[test]
    fn rule_prefers_editing_phrases_over_algorithm_words() {
        assert_eq!(
            keywords::role("add a docstring to binary_search").0,
            Role::Coder
        );
        assert_eq!(
            keywords::role("replace the bubble sort with merge sort").0,
            Role::Algorithm
        );
        assert_eq!(keywords::role("change the default port").0, Role::Coder);
    }

    use crate::scripted::candidate as cand;

    #[test]
    fn confident_model_decides_and_unsure_model_defers_to_the_keywords() {
        let (_dir, mut lc, backend, _) = crate::scripted::lifecycle([50, 400, 400], 5000);
        backend.label("tidy", "algorithm", -0.1);
        backend.label("tidy", "coder", -4.0);
        backend.label("sort", "algorithm", -1.0);
        backend.label("sort", "coder", -1.2);
        let mut router = Router::new(DEFAULT_MARGIN);
        let files = [cand("a.py", "")];
        let silent = crate::event::Silent;
        let d = &router.route_batch(&mut lc, "tidy the module", None, &files, None, &silent)[0];
        assert_eq!(
            (d.decision.role, d.decision.source),
            (Some(Role::Algorithm), Source::Model)
        );
        let i = "make the sort stable, add a docstring";
        let d = &router.route_batch(&mut lc, i, None, &files, None, &silent)[0];
        assert_eq!(
            (d.decision.role, d.decision.source),
            (Some(Role::Coder), Source::Keywords)
        );
        // Calibrated once for the run, however many batches.
        assert_eq!(backend.loads().len(), 1);
        assert_eq!(router.warning(), None);
    }

    #[test]
    fn the_margin_decides_who_decides_and_the_reason_names_the_judge() {
        let i = "add a docstring to `f`";
        let sure = combine(i, Role::Coder, Some((Role::Algorithm, 2.5)), 1.5);
        assert_eq!(
            (sure.role, sure.source, sure.reason.as_str()),
            (
                Some(Role::Algorithm),
                Source::Model,
                "coder model (margin 2.50)"
            )
        );
        let unsure = combine(i, Role::Coder, Some((Role::Algorithm, 1.0)), 1.5);
        assert_eq!(
            (unsure.role, unsure.source),
            (Some(Role::Coder), Source::Keywords)
        );
        assert!(
            unsure
                .reason
                .ends_with("; coder model unsure (margin 1.00)"),
            "{}",
            unsure.reason
        );
        // Exactly at the margin the model decides.
        let edge = combine(i, Role::Router, Some((Role::Algorithm, 3.0)), 3.0);
        assert_eq!(edge.source, Source::Model);
        assert_eq!(
            decide([-0.5, -3.0], [0.0; 2]),
            (Role::Coder, 2.5),
            "uncalibrated"
        );
        assert_eq!(decide([-0.5, -3.0], [-0.5, -4.0]), (Role::Algorithm, 1.0));
        assert_eq!(default_margin(Role::Router), DEFAULT_MARGIN);
        assert_eq!(default_margin(Role::Coder), DEFAULT_EDITOR_MARGIN);
    }

    #[test]
    fn an_editor_judges_few_shot_without_loading_the_router_model() {
        let (_dir, mut lc, backend, _) = crate::scripted::lifecycle([50, 400, 400], 5000);
        backend.label("Task: tidy the module", "algorithm", -0.1);
        backend.label("Task: tidy the module", "coder", -4.0);
        let mut router = Router::new(DEFAULT_EDITOR_MARGIN).with_judge(Role::Coder);
        let files = [cand("a.py", ""), cand("b.py", "")];
        let silent = crate::event::Silent;
        let routes = router.route_batch(&mut lc, "tidy the module", None, &files, None, &silent);
        for r in &routes {
            assert_eq!(
                (r.decision.role, r.decision.source),
                (Some(Role::Algorithm), Source::Model)
            );
            assert_eq!(r.decision.reason, "coder model (margin 3.90)");
        }
        let d = &router.route_batch(&mut lc, "make it fast", None, &files, None, &silent)[0];
        assert_eq!(d.decision.source, Source::Keywords);
        assert!(d
            .decision
            .reason
            .contains("coder model unsure (margin 0.00)"));
        // Only the coder was loaded, once, for the whole run.
        assert_eq!(lc.loaded(), vec![Role::Coder]);
        assert_eq!(backend.loads().len(), 1);
    }

    fn file_cases(name: &str) -> Vec<FileCase> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures")
            .join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    /// A skipped file that needed the edit is the costly mistake: the scope and due checks
    /// skip only what the labels skip, on the development and the held-out sets.
    #[test]
    fn scope_and_due_checks_never_skip_a_file_that_needs_the_edit() {
        for name in [
            "scope_cases.json",
            "scope_holdout.json",
            "scope_holdout2.json",
            "scope_holdout3.json",
        ] {
            let f = evaluate_scope(&file_cases(name));
            assert!(f.cases >= 30 && f.skipped > 0, "{name}: {f:?}");
            assert!(f.precision >= 0.97, "{name}: {f:?}");
        }
        for name in [
            "due_cases.json",
            "due_holdout.json",
            "due_holdout2.json",
            "due_holdout3.json",
        ] {
            let f = evaluate_due(&file_cases(name));
            assert!(f.cases >= 30 && f.skipped > 0, "{name}: {f:?}");
            assert!(f.precision >= 0.97, "{name}: {f:?}");
        }
    }

    /// Over the whole repository of every eval task (not only the paths it names), the scope
    /// and due checks never skip a file the task's edit changes.
    #[test]
    fn the_checks_never_skip_a_file_an_eval_task_changes() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/eval");
        let mut tasks = 0;
        for entry in std::fs::read_dir(&root).unwrap() {
            let dir = entry.unwrap().path();
            let Ok(task) = std::fs::read_to_string(dir.join("task.json")) else {
                continue;
            };
            let task: serde_json::Value = serde_json::from_str(&task).unwrap();
            let instruction = task["instruction"].as_str().unwrap();
            let files: Vec<Candidate> = walk(&dir.join("repo"))
                .into_iter()
                .map(|(rel, content)| Candidate {
                    path: dir.join("repo").join(&rel),
                    rel,
                    content,
                    mode: 0o100644,
                    explicit: false,
                })
                .collect();
            let known = known_names(instruction, &files);
            for changed in task["expect"]["changed"].as_array().into_iter().flatten() {
                let changed = changed.as_str().unwrap();
                let cand = files.iter().find(|f| f.rel == changed).unwrap();
                let checked = check(instruction, cand, &known);
                assert!(
                    checked.skip.is_none(),
                    "{}: {changed} skipped: {:?}",
                    dir.display(),
                    checked.skip
                );
            }
            tasks += 1;
        }
        assert!(tasks >= 40, "{tasks} tasks");
    }

    /// Every file under `dir`, relative and `/`-separated, with its text.
    fn walk(dir: &std::path::Path) -> Vec<(String, String)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else if let Ok(text) = std::fs::read_to_string(&path) {
                    let rel = path
                        .strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .replace('\\', "/");
                    out.push((rel, text));
                }
            }
        }
        out
    }

    #[test]
    fn keywords_alone_score_well_on_the_labelled_cases() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/router_cases.json");
        let cases: Vec<Case> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(cases.len() >= 60);
        let right = cases
            .iter()
            .filter(|c| {
                let d = match skip_reason(&c.instruction, &c.facts()) {
                    Some(reason) => out_of_scope(reason),
                    None => combine(&c.instruction, Role::Router, None, 0.0),
                };
                label(d.role) == c.expected
            })
            .count();
        let accuracy = right as f64 / cases.len() as f64;
        assert!(accuracy >= 0.8, "keyword accuracy {accuracy:.2}");
    }
}

//! The router: for each file of a batch, which editor model it needs, or that it needs none.
//!
//! Reading whole files with even a tiny model is expensive, so the router decides from the
//! instruction and cheap facts about the file: its path, the symbols it defines (a line scan,
//! no parser) and whether it mentions the identifiers the instruction names in backticks. A
//! file that mentions none of them, or is in a language the instruction excludes, needs no
//! change. Otherwise a 135M model cannot be trusted with free text, so it only ever compares the
//! log-probabilities of the two labels; when the margin is small the deterministic keyword rule
//! decides. The router does not load models (`lifecycle`) or edit anything (`engine`).

use serde::{Deserialize, Serialize};

use crate::config::Role;
use crate::model::{ChatMessage, LanguageModel, ModelError};

/// Below this log-probability margin between the (calibrated) labels the model is "unsure".
/// Chosen with `codey eval-router` on fixtures/router_cases.json: for SmolLM2-135M, smaller
/// margins let its many confident mistakes through (see the README's router figures).
pub const DEFAULT_MARGIN: f32 = 3.0;

/// Cheap facts about one file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct FileFacts {
    pub path: String,
    /// Names the file defines (functions, types), in order, at most [`MAX_SYMBOLS`].
    pub symbols: Vec<String>,
    /// For each backticked identifier of the instruction, whether the file contains it.
    pub mentions: Vec<(String, bool)>,
}

/// At most this many symbols go into the router's prompt.
pub const MAX_SYMBOLS: usize = 12;

/// Who made a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Source {
    /// `--role` on the command line.
    Override,
    /// A deterministic skip rule.
    SkipRule,
    /// The router model, confidently.
    Model,
    /// The keyword rule, because the model was unsure or unavailable.
    Rule,
}

/// The router's answer for one file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// None: the file needs no change.
    pub role: Option<Role>,
    pub source: Source,
    pub reason: String,
}

/// Identifiers written in backticks in the instruction, in order, without duplicates.
pub fn backticked(instruction: &str) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (i, part) in instruction.split('`').enumerate() {
        let name = part.trim();
        let is_ident = !name.is_empty()
            && name.len() <= 80
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '_' | ':' | '.' | '-' | '$'));
        if i % 2 == 1 && is_ident && !names.iter().any(|n| n == name) {
            names.push(name.to_owned());
        }
    }
    names
}

/// Keywords that introduce a definition, across the languages codey meets most.
const DEFINERS: &[&str] = &[
    "def",
    "class",
    "fn",
    "struct",
    "enum",
    "trait",
    "impl",
    "func",
    "function",
    "interface",
    "type",
    "const",
    "let",
    "var",
    "static",
];

/// The names a file defines, found by scanning for definition keywords at the start of lines.
pub fn symbols(content: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in content.lines() {
        let words: Vec<&str> = line
            .split(|c: char| !(c.is_alphanumeric() || c == '_'))
            .filter(|w| !w.is_empty())
            .take(4)
            .collect();
        let Some(pos) = words.iter().position(|w| DEFINERS.contains(w)) else {
            continue;
        };
        // Only the first keywords of a line count (`pub fn x`, `export function x`).
        if pos > 2 || line.starts_with([' ', '\t']) && words[pos] != "def" && words[pos] != "fn" {
            continue;
        }
        if let Some(name) = words.get(pos + 1).filter(|w| !DEFINERS.contains(w)) {
            if !out.iter().any(|n| n == name) {
                out.push((*name).to_owned());
            }
        }
        if out.len() >= MAX_SYMBOLS {
            break;
        }
    }
    out
}

impl FileFacts {
    /// Gathers the facts for one file.
    pub fn gather(instruction: &str, path: &str, content: &str) -> Self {
        FileFacts {
            path: path.to_owned(),
            symbols: symbols(content),
            mentions: backticked(instruction)
                .into_iter()
                .map(|name| {
                    let found = content.contains(&name);
                    (name, found)
                })
                .collect(),
        }
    }
}

/// Languages an instruction can restrict itself to, with their file extensions.
const LANGUAGES: &[(&str, &[&str])] = &[
    ("python", &["py", "pyi"]),
    ("rust", &["rs"]),
    ("javascript", &["js", "mjs", "cjs", "jsx"]),
    ("typescript", &["ts", "tsx"]),
    ("go", &["go"]),
    ("golang", &["go"]),
    ("c", &["c", "h"]),
    ("c++", &["cc", "cpp", "cxx", "hpp", "hh", "h"]),
    ("java", &["java"]),
    ("shell", &["sh", "bash"]),
    ("bash", &["sh", "bash"]),
    ("markdown", &["md", "markdown"]),
];

/// Nouns that make a language word a restriction ("the Python files", "C sources").
const SCOPE_NOUNS: &[&str] = &[
    "files", "file", "sources", "source", "code", "scripts", "modules", "docs",
];

/// The extensions the instruction restricts itself to, if it names a language scope.
fn language_scope(instruction: &str) -> Option<&'static [&'static str]> {
    let lower = instruction.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !(c.is_alphanumeric() || c == '+'))
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).find_map(|pair| {
        let (_, exts) = LANGUAGES.iter().find(|(name, _)| *name == pair[0])?;
        SCOPE_NOUNS.contains(&pair[1]).then_some(*exts)
    })
}

/// Splits an instruction into clauses at `;`, and at ` and ` / `, ` when what follows starts a
/// new request rather than continuing a list of names ("rename `a` and `b`" stays whole).
pub fn clauses(instruction: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in instruction.split(';') {
        let mut current = String::new();
        let mut rest = part;
        while let Some((i, sep)) = [" and ", ", "]
            .iter()
            .filter_map(|sep| rest.find(sep).map(|i| (i, *sep)))
            .min_by_key(|(i, _)| *i)
        {
            let after = &rest[i + sep.len()..];
            current.push_str(&rest[..i]);
            let continues_list =
                after.trim_start().starts_with('`') || after.trim_start().starts_with("and ");
            if continues_list || current.trim().is_empty() {
                current.push_str(sep);
            } else {
                out.push(std::mem::take(&mut current));
            }
            rest = after;
        }
        current.push_str(rest);
        out.push(current);
    }
    out.into_iter()
        .map(|c| c.trim().trim_end_matches(['.', ',']).trim().to_owned())
        .filter(|c| !c.is_empty())
        .collect()
}

/// The part of the instruction that concerns a file: the clauses that name an identifier the
/// file contains, or name none of the `known` ones (identifiers some file of the batch has; a
/// name nobody has yet is one the edit introduces). The whole instruction when every clause is
/// kept or none is.
pub fn focus(instruction: &str, content: &str, known: &[String]) -> String {
    let all = clauses(instruction);
    let kept: Vec<&String> = all
        .iter()
        .filter(|c| {
            let names: Vec<String> = backticked(c)
                .into_iter()
                .filter(|n| known.contains(n))
                .collect();
            names.is_empty() || names.iter().any(|n| content.contains(n.as_str()))
        })
        .collect();
    if kept.is_empty() || kept.len() == all.len() {
        instruction.to_owned()
    } else {
        kept.iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Deterministic reasons a file needs no change.
pub fn skip_reason(instruction: &str, facts: &FileFacts) -> Option<String> {
    if !facts.mentions.is_empty() && facts.mentions.iter().all(|(_, found)| !found) {
        let names: Vec<String> = facts
            .mentions
            .iter()
            .map(|(n, _)| format!("`{n}`"))
            .collect();
        return Some(format!("does not mention {}", names.join(" or ")));
    }
    let ext = facts.path.rsplit_once('.').map(|(_, e)| e.to_lowercase())?;
    let exts = language_scope(instruction)?;
    (!exts.contains(&ext.as_str()))
        .then(|| format!("the instruction is limited to {} files", exts.join("/")))
}

/// Phrases that make a task documentation, testing or style work whatever it is about.
const CODER_FIRST: &[&str] = &[
    "rename",
    "docstring",
    "doc comment",
    "jsdoc",
    "doxygen",
    "comment",
    "document",
    "write unit tests",
    "add a test",
    "add tests",
    "unit test",
    "logging",
    "log message",
    "type hint",
    "typehint",
    "annotat",
    "reformat",
    "format",
    "lint",
    "translate",
    "error message",
    "deprecate",
    "changelog",
    "readme",
];

/// Words of algorithmic or performance work.
const ALGORITHM_WORDS: &[&str] = &[
    "faster",
    "speed up",
    "slow",
    "performance",
    "optimi",
    "complexity",
    "o(",
    "quadratic",
    "linear time",
    "log n",
    "algorithm",
    "sort",
    "search",
    "memoiz",
    "dynamic programming",
    "recursion",
    "graph",
    "shortest",
    "dijkstra",
    "bfs",
    "dfs",
    "a*",
    "heap",
    "trie",
    "union-find",
    "hash set",
    "hash map",
    "precision",
    "rounding",
    "floating point",
    "overflow",
    "off-by-one",
    "prime",
    "fibonacci",
    "vectoriz",
    "hot loop",
    "hot path",
    "efficient",
    "allocation",
    "cache the",
    "prefix sum",
    "cycle",
    "topological",
    "quickselect",
    "kahan",
    "welford",
    "modular",
    "inversion",
    "stable",
    "memory",
    "times out",
    "single pass",
    "binary search",
    "lookup",
    "o(1)",
    "lru",
];

/// The keyword rule: documentation/testing/style phrases mean the coder even when the task
/// names an algorithm; otherwise any algorithmic word means the algorithm model.
pub fn rule(instruction: &str) -> (Role, String) {
    let lower = instruction.to_lowercase();
    if let Some(w) = CODER_FIRST.iter().find(|w| lower.contains(*w)) {
        return (
            Role::Coder,
            format!("rule: \"{}\" is editing work", w.trim()),
        );
    }
    match ALGORITHM_WORDS.iter().find(|w| lower.contains(*w)) {
        Some(w) => (
            Role::Algorithm,
            format!("rule: \"{w}\" is algorithmic work"),
        ),
        None => (Role::Coder, "rule: no algorithmic keyword".to_owned()),
    }
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
    let text = model.chat_prompt(&prompt(instruction, facts))?;
    let tokens = model.tokenize(&text, true)?;
    let scores = model.label_scores(&tokens, &LABELS)?;
    Ok([scores[0], scores[1]])
}

/// The model's bias between the labels, measured on a content-free task. Tiny models prefer one
/// label whatever the question (SmolLM2-135M says "coder" to almost everything); subtracting
/// this bias ("contextual calibration") leaves what the task itself contributes.
pub fn calibrate<M: LanguageModel>(model: &mut M) -> Result<[f32; 2], ModelError> {
    let facts = FileFacts {
        path: "N/A".to_owned(),
        ..FileFacts::default()
    };
    label_scores(model, "N/A", &facts)
}

/// Asks the model, constrained to the two labels, calibrated by `bias`. Returns the role and
/// the margin between the calibrated scores.
pub fn ask_model<M: LanguageModel>(
    model: &mut M,
    instruction: &str,
    facts: &FileFacts,
    bias: [f32; 2],
) -> Result<(Role, f32), ModelError> {
    let [coder, algorithm] = label_scores(model, instruction, facts)?;
    let (coder, algorithm) = (coder - bias[0], algorithm - bias[1]);
    let role = if algorithm > coder {
        Role::Algorithm
    } else {
        Role::Coder
    };
    Ok((role, (algorithm - coder).abs()))
}

/// Decides one file. `model` is None when the router model is not used; otherwise it comes
/// with its calibration bias (see [`calibrate`]).
pub fn decide<M: LanguageModel>(
    model: Option<(&mut M, [f32; 2])>,
    instruction: &str,
    facts: &FileFacts,
    margin: f32,
) -> Result<Decision, ModelError> {
    if let Some(reason) = skip_reason(instruction, facts) {
        return Ok(Decision {
            role: None,
            source: Source::SkipRule,
            reason,
        });
    }
    let model_answer = match model {
        Some((model, bias)) => Some(ask_model(model, instruction, facts, bias)?),
        None => None,
    };
    Ok(combine(instruction, model_answer, margin))
}

/// The keyword rule's decision, with a note on why the model was not asked.
pub fn rule_decision(instruction: &str, note: &str) -> Decision {
    let (role, reason) = rule(instruction);
    Decision {
        role: Some(role),
        source: Source::Rule,
        reason: format!("{reason}; {note}"),
    }
}

/// The model's answer when it is confident, else the keyword rule.
fn combine(instruction: &str, model_answer: Option<(Role, f32)>, margin: f32) -> Decision {
    let (rule_role, rule_reason) = rule(instruction);
    match model_answer {
        Some((role, confidence)) if confidence >= margin => Decision {
            role: Some(role),
            source: Source::Model,
            reason: format!("router model (margin {confidence:.2})"),
        },
        Some((_, confidence)) => Decision {
            role: Some(rule_role),
            source: Source::Rule,
            reason: format!("{rule_reason}; router model unsure (margin {confidence:.2})"),
        },
        None => Decision {
            role: Some(rule_role),
            source: Source::Rule,
            reason: rule_reason,
        },
    }
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
        }
    }
}

/// The label a decision corresponds to in the case set.
pub fn label(role: Option<Role>) -> &'static str {
    role.map_or("skip", Role::name)
}

/// The router's accuracy on a labelled case set, three ways.
#[derive(Debug, Clone, Serialize)]
pub struct Evaluation {
    pub cases: usize,
    /// Skip rule, then the model's label whatever its confidence.
    pub model_accuracy: f64,
    /// Skip rule, then the keyword rule alone.
    pub rule_accuracy: f64,
    /// What codey does: skip rule, the model when confident, else the keyword rule.
    pub combined_accuracy: f64,
    pub margin: f32,
    /// Cases the model was confident on, and how many of those it got right.
    pub model_confident: usize,
    pub model_confident_right: usize,
    /// Combined accuracy if the margin were each of these values: (margin, accuracy).
    pub margin_sweep: Vec<(f32, f64)>,
    /// Cases the combined router got wrong: (instruction, path, expected, got, source).
    pub mistakes: Vec<(String, String, String, String, Source)>,
}

/// Margins the evaluation reports accuracy for.
const SWEEP: [f32; 9] = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0, f32::INFINITY];

/// Runs every case through the model, the rule and the combination.
pub fn evaluate<M: LanguageModel>(
    model: &mut M,
    cases: &[Case],
    margin: f32,
) -> Result<Evaluation, ModelError> {
    let bias = calibrate(model)?;
    let (mut by_model, mut by_rule, mut combined, mut confident, mut confident_right) =
        (0, 0, 0, 0, 0);
    let mut mistakes = Vec::new();
    let mut sweep = vec![0usize; SWEEP.len()];
    for case in cases {
        let facts = case.facts();
        let skip = skip_reason(&case.instruction, &facts).is_some();
        let (model_role, confidence) = ask_model(model, &case.instruction, &facts, bias)?;
        for (right, m) in sweep.iter_mut().zip(SWEEP) {
            let d = combine(&case.instruction, Some((model_role, confidence)), m);
            *right += usize::from((if skip { "skip" } else { label(d.role) }) == case.expected);
        }
        let model_label = if skip { "skip" } else { model_role.name() };
        let rule_label = if skip {
            "skip"
        } else {
            rule(&case.instruction).0.name()
        };
        let decision = if skip {
            Decision {
                role: None,
                source: Source::SkipRule,
                reason: String::new(),
            }
        } else {
            combine(&case.instruction, Some((model_role, confidence)), margin)
        };
        by_model += usize::from(model_label == case.expected);
        by_rule += usize::from(rule_label == case.expected);
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
        model_accuracy: by_model as f64 / n,
        rule_accuracy: by_rule as f64 / n,
        combined_accuracy: combined as f64 / n,
        margin,
        model_confident: confident,
        model_confident_right: confident_right,
        margin_sweep: SWEEP
            .iter()
            .zip(sweep)
            .map(|(m, r)| (*m, r as f64 / n))
            .collect(),
        mistakes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Backend;
    use crate::scripted::Scripted;

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
    fn rule_prefers_editing_phrases_over_algorithm_words() {
        assert_eq!(rule("add a docstring to binary_search").0, Role::Coder);
        assert_eq!(
            rule("replace the bubble sort with merge sort").0,
            Role::Algorithm
        );
        assert_eq!(rule("change the default port").0, Role::Coder);
    }

    #[test]
    fn confident_model_decides_and_unsure_model_defers_to_the_rule() {
        let backend = Scripted::default();
        let spec = crate::model::LoadSpec {
            path: "r".into(),
            context_size: 4096,
            n_gpu_layers: 0,
            threads: 1,
            batch_size: 512,
        };
        let mut model = backend.load(&spec).unwrap();
        backend.label("tidy", "algorithm", -0.1);
        backend.label("tidy", "coder", -4.0);
        backend.label("sort", "algorithm", -1.0);
        backend.label("sort", "coder", -1.2);
        let facts = FileFacts::gather("tidy the module", "a.py", "");
        let d = decide(
            Some((&mut model, [0.0, 0.0])),
            "tidy the module",
            &facts,
            DEFAULT_MARGIN,
        )
        .unwrap();
        assert_eq!((d.role, d.source), (Some(Role::Algorithm), Source::Model));
        let i = "make the sort stable, add a docstring";
        let d = decide(
            Some((&mut model, [0.0, 0.0])),
            i,
            &FileFacts::gather(i, "a.py", ""),
            DEFAULT_MARGIN,
        )
        .unwrap();
        assert_eq!((d.role, d.source), (Some(Role::Coder), Source::Rule));
    }

    #[test]
    fn rule_alone_scores_well_on_the_labelled_cases() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/router_cases.json");
        let cases: Vec<Case> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert!(cases.len() >= 60);
        let right = cases
            .iter()
            .filter(|c| {
                let d =
                    decide::<crate::scripted::ScriptedModel>(None, &c.instruction, &c.facts(), 0.0)
                        .unwrap();
                label(d.role) == c.expected
            })
            .count();
        let accuracy = right as f64 / cases.len() as f64;
        assert!(accuracy >= 0.8, "rule accuracy {accuracy:.2}");
    }
}

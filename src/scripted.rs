//! A scripted backend for fast, deterministic tests of everything around the models.
//!
//! Its "models" answer from a script (the first entry whose needle occurs in the prompt), report
//! whatever file size a test sets as their weights, and count one token per character. Unit
//! tests build scripts in code; the binary of a test build (`--features scripted`) reads one
//! from the JSON file named by `CODEY_SCRIPT`, so scenario tests run the real binary against
//! real repositories with the bad answers small models really give. It is never compiled into
//! a normal release build, and owns nothing that touches llama.cpp; every feature tested with
//! it also has a test on a real model.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use crate::model::{
    Backend, ChatMessage, GenerateOptions, Generation, LanguageModel, LoadSpec, Logits, ModelError,
    ModelFacts, OnToken, StopReason, Token,
};

#[derive(Debug, Default)]
struct Script {
    sizes: HashMap<PathBuf, u64>,
    answers: Vec<(String, String)>,
    /// Shell commands run once, just before the answer to a prompt holding the needle: the
    /// user's actions "while codey is generating", at an exact point.
    before: Vec<(String, String)>,
    labels: Vec<(String, String, f32)>,
    loads: Vec<PathBuf>,
}

/// The scripted backend. Clones share one script.
#[derive(Debug, Clone, Default)]
pub struct Scripted(Rc<RefCell<Script>>);

/// A script file: `{"answers": [{"when", "answer", "before"?}], "labels": [{"when", "label",
/// "score"}]}`. `before` is a shell command run (once) just before that answer is given.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptFile {
    #[serde(default)]
    answers: Vec<ScriptAnswer>,
    #[serde(default)]
    labels: Vec<ScriptLabel>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptAnswer {
    when: String,
    answer: String,
    #[serde(default)]
    before: Option<String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptLabel {
    when: String,
    label: String,
    score: f32,
}

/// A script file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("script {path}: {reason}")]
pub struct ScriptError {
    path: PathBuf,
    reason: String,
}

impl Scripted {
    /// A backend answering from the script file at `path`.
    pub fn from_file(path: &Path) -> Result<Self, ScriptError> {
        let err = |reason: String| ScriptError {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
        let file: ScriptFile = serde_json::from_str(&text).map_err(|e| err(e.to_string()))?;
        let backend = Scripted::default();
        for a in file.answers {
            backend.answer(&a.when, &a.answer);
            if let Some(command) = a.before {
                backend.0.borrow_mut().before.push((a.when, command));
            }
        }
        for l in file.labels {
            backend.label(&l.when, &l.label, l.score);
        }
        Ok(backend)
    }

    /// The size `inspect` reports for `path`, which becomes its whole memory estimate.
    pub fn set_size(&self, path: &Path, bytes: u64) {
        self.0.borrow_mut().sizes.insert(path.to_owned(), bytes);
    }

    /// When a prompt contains `needle`, generate `answer`.
    pub fn answer(&self, needle: &str, answer: &str) {
        self.0
            .borrow_mut()
            .answers
            .push((needle.to_owned(), answer.to_owned()));
    }

    /// When a prompt contains `needle`, give `label` the log-probability `score`.
    pub fn label(&self, needle: &str, label: &str, score: f32) {
        self.0
            .borrow_mut()
            .labels
            .push((needle.to_owned(), label.to_owned(), score));
    }

    /// Every path loaded so far, in order.
    pub fn loads(&self) -> Vec<PathBuf> {
        self.0.borrow().loads.clone()
    }
}

impl Backend for Scripted {
    type Model = ScriptedModel;

    fn inspect(&self, path: &Path) -> Result<ModelFacts, ModelError> {
        let size = self.0.borrow().sizes.get(path).copied().unwrap_or(1);
        Ok(ModelFacts {
            file_bytes: size,
            ..ModelFacts::default()
        })
    }

    fn load(&self, spec: &LoadSpec) -> Result<ScriptedModel, ModelError> {
        self.0.borrow_mut().loads.push(spec.path.clone());
        Ok(ScriptedModel {
            script: self.clone(),
            context_size: spec.context_size as usize,
            cache: Vec::new(),
        })
    }

    fn uses_process_memory(&self) -> bool {
        false
    }
}

/// One scripted "model".
#[derive(Debug)]
pub struct ScriptedModel {
    script: Scripted,
    context_size: usize,
    cache: Vec<Token>,
}

impl ScriptedModel {
    /// Runs (once each) the `before` commands whose needle the prompt holds.
    fn run_before(&self, prompt: &str) -> Result<(), ModelError> {
        let due: Vec<String> = {
            let mut script = self.script.0.borrow_mut();
            let (now, later) = std::mem::take(&mut script.before)
                .into_iter()
                .partition(|(needle, _)| prompt.contains(needle.as_str()));
            script.before = later;
            now.into_iter().map(|(_, command)| command).collect()
        };
        for command in due {
            let status = std::process::Command::new("sh")
                .args(["-c", &command])
                .status()
                .map_err(|e| ModelError::Decode(format!("script `before`: {e}")))?;
            if !status.success() {
                return Err(ModelError::Decode(format!(
                    "script `before` command failed ({status}): {command}"
                )));
            }
        }
        Ok(())
    }
}

fn detokenize(tokens: &[Token]) -> String {
    tokens
        .iter()
        .filter_map(|&t| char::from_u32(t as u32))
        .collect()
}

impl LanguageModel for ScriptedModel {
    fn context_size(&self) -> usize {
        self.context_size
    }

    fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, ModelError> {
        Ok(messages
            .iter()
            .map(|m| format!("<{}>\n{}\n", m.role, m.content))
            .collect())
    }

    fn tokenize(&self, text: &str, _special: bool) -> Result<Vec<Token>, ModelError> {
        Ok(text.chars().map(|c| c as Token).collect())
    }

    // The scripted model answers whole prompts (`generate`, `label_scores` below); its
    // token-level primitives only keep the cache's contents, which is all they can be asked for.
    fn decode(&mut self, tokens: &[Token], start: usize, _which: Logits) -> Result<(), ModelError> {
        self.cache.truncate(start);
        self.cache.extend_from_slice(tokens);
        Ok(())
    }

    fn logits(&self, _row: usize) -> &[f32] {
        &[]
    }

    fn truncate(&mut self, from: usize) {
        self.cache.truncate(from);
    }

    fn cached(&self) -> &[Token] {
        &self.cache
    }

    fn is_end(&self, _token: Token) -> bool {
        false
    }

    fn push_piece(&self, token: Token, out: &mut Vec<u8>) {
        let mut buf = [0u8; 4];
        if let Some(c) = char::from_u32(token as u32) {
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }

    fn generate(
        &mut self,
        prompt: &[Token],
        options: &GenerateOptions,
        on_token: &mut OnToken<'_>,
    ) -> Result<Generation, ModelError> {
        let text = detokenize(prompt);
        self.run_before(&text)?;
        let script = self.script.0.borrow();
        let answer = script
            .answers
            .iter()
            .find(|(needle, _)| text.contains(needle.as_str()))
            .map(|(_, a)| a.clone())
            .unwrap_or_else(|| "NO_CHANGE".to_owned());
        // Character by character, so the observer sees what a real model's would.
        let mut bytes = Vec::with_capacity(answer.len());
        let mut stop = StopReason::EndOfGeneration;
        let mut n = 0;
        for c in answer.chars() {
            if n == options.max_tokens {
                stop = StopReason::MaxTokens;
                break;
            }
            self.push_piece(c as Token, &mut bytes);
            n += 1;
            if on_token(n, &bytes).is_break() {
                stop = StopReason::Stopped;
                break;
            }
        }
        Ok(Generation {
            text: String::from_utf8_lossy(&bytes).into_owned(),
            prompt_tokens: prompt.len(),
            reused_tokens: 0,
            generated_tokens: n,
            drafted_tokens: 0,
            accepted_tokens: 0,
            prompt_seconds: 0.0,
            generate_seconds: 0.0,
            stop,
        })
    }

    fn label_scores(&mut self, prompt: &[Token], labels: &[&str]) -> Result<Vec<f32>, ModelError> {
        let text = detokenize(prompt);
        self.run_before(&text)?;
        let script = self.script.0.borrow();
        Ok(labels
            .iter()
            .map(|label| {
                script
                    .labels
                    .iter()
                    .find(|(needle, l, _)| l == label && text.contains(needle.as_str()))
                    .map_or(-5.0, |(_, _, s)| *s)
            })
            .collect())
    }
}

/// A candidate file for unit tests: a plain, non-executable file found by walking.
#[cfg(test)]
pub fn candidate(rel: &str, content: &str) -> crate::scan::Candidate {
    crate::scan::Candidate {
        path: rel.into(),
        rel: rel.to_owned(),
        content: content.to_owned(),
        mode: 0o100644,
        explicit: false,
    }
}

/// A lifecycle manager over scripted models whose weights are `sizes` MiB (router, coder,
/// algorithm), under `budget_mb`, on a manual clock. The directory holds the model files.
#[cfg(test)]
pub fn lifecycle(
    sizes: [u64; 3],
    budget_mb: u64,
) -> (
    tempfile::TempDir,
    crate::lifecycle::Lifecycle<Scripted>,
    Scripted,
    crate::lifecycle::ManualClock,
) {
    use crate::config::{Config, Role};
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        model_dir: dir.path().to_owned(),
        memory_budget_mb: budget_mb,
        ..Config::default()
    };
    let backend = Scripted::default();
    for (role, size) in Role::ALL.into_iter().zip(sizes) {
        let file = format!("{role}.gguf");
        std::fs::write(dir.path().join(&file), b"GGUF").unwrap();
        backend.set_size(&dir.path().join(&file), size * 1024 * 1024);
        match role {
            Role::Router => config.models.router.path = file.into(),
            Role::Coder => config.models.coder.path = file.into(),
            Role::Algorithm => config.models.algorithm.path = file.into(),
        }
    }
    let clock = crate::lifecycle::ManualClock::default();
    let lc =
        crate::lifecycle::Lifecycle::new(backend.clone(), config, None).with_clock(clock.clone());
    (dir, lc, backend, clock)
}

/// A token-level toy for the unit tests of the generation loops: the next token is a function
/// of the position and the token just decoded, with logit 1 against 0 for every other token.
/// Text is one byte per token, `'0' + token`.
#[cfg(test)]
pub struct Toy {
    next: Box<dyn Fn(usize, Token) -> Token>,
    vocab: usize,
    end: Token,
    context: usize,
    pub cache: Vec<Token>,
    rows: Vec<Vec<f32>>,
    /// Tokens decoded, and decode calls, so far.
    pub decoded: usize,
    pub decodes: usize,
}

#[cfg(test)]
impl Toy {
    pub fn new(
        vocab: usize,
        end: Token,
        context: usize,
        next: impl Fn(usize, Token) -> Token + 'static,
    ) -> Self {
        Toy {
            next: Box::new(next),
            vocab,
            end,
            context,
            cache: Vec::new(),
            rows: Vec::new(),
            decoded: 0,
            decodes: 0,
        }
    }

    fn row(&self, pos: usize) -> Vec<f32> {
        let next = (self.next)(pos, self.cache[pos]);
        (0..self.vocab)
            .map(|i| if i as Token == next { 1.0 } else { 0.0 })
            .collect()
    }
}

#[cfg(test)]
impl LanguageModel for Toy {
    fn context_size(&self) -> usize {
        self.context
    }
    fn chat_prompt(&self, _: &[ChatMessage]) -> Result<String, ModelError> {
        Ok(String::new())
    }
    fn tokenize(&self, text: &str, _: bool) -> Result<Vec<Token>, ModelError> {
        Ok(text.bytes().map(|b| Token::from(b - b'0')).collect())
    }
    fn decode(&mut self, tokens: &[Token], start: usize, which: Logits) -> Result<(), ModelError> {
        assert_eq!(start, self.cache.len(), "decode must continue the cache");
        self.decodes += 1;
        self.decoded += tokens.len();
        self.cache.extend_from_slice(tokens);
        let end = self.cache.len();
        self.rows = match which {
            Logits::Last => vec![self.row(end - 1)],
            Logits::All => (start..end).map(|p| self.row(p)).collect(),
        };
        Ok(())
    }
    fn logits(&self, row: usize) -> &[f32] {
        &self.rows[row]
    }
    fn truncate(&mut self, from: usize) {
        self.cache.truncate(from);
    }
    fn cached(&self) -> &[Token] {
        &self.cache
    }
    fn is_end(&self, token: Token) -> bool {
        token == self.end
    }
    fn push_piece(&self, token: Token, out: &mut Vec<u8>) {
        out.push(b'0' + token as u8);
    }
}

/// A model that only embeds, each text to the vector a function gives it: for the unit tests
/// of the nearest-neighbour judge.
#[cfg(test)]
pub struct Embedder(pub fn(&str) -> Vec<f32>);

#[cfg(test)]
impl LanguageModel for Embedder {
    fn context_size(&self) -> usize {
        0
    }
    fn chat_prompt(&self, _: &[ChatMessage]) -> Result<String, ModelError> {
        Ok(String::new())
    }
    fn tokenize(&self, _: &str, _: bool) -> Result<Vec<Token>, ModelError> {
        Ok(Vec::new())
    }
    fn decode(&mut self, _: &[Token], _: usize, _: Logits) -> Result<(), ModelError> {
        Err(ModelError::Decode("an embedder only embeds".into()))
    }
    fn logits(&self, _: usize) -> &[f32] {
        &[]
    }
    fn truncate(&mut self, _: usize) {}
    fn cached(&self) -> &[Token] {
        &[]
    }
    fn is_end(&self, _: Token) -> bool {
        true
    }
    fn push_piece(&self, _: Token, _: &mut Vec<u8>) {}
    fn label_scores(&mut self, _: &[Token], _: &[&str]) -> Result<Vec<f32>, ModelError> {
        Err(ModelError::Decode("an embedder only embeds".into()))
    }
    fn embed(&mut self, text: &str, _: crate::model::Pooling) -> Result<Vec<f32>, ModelError> {
        Ok((self.0)(text))
    }
}

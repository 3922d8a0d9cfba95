//! The model trait: what codey needs from a language model, at token level.
//!
//! [`Backend`] inspects and loads model files; [`LanguageModel`] is one loaded model with its
//! own context (KV cache). The llama.cpp implementation lives in `llama`; a scripted
//! implementation for fast tests lives in `scripted`. This module owns the vocabulary of the
//! trait (tokens, options, generations, facts about a file) and nothing that runs a model.

use std::path::{Path, PathBuf};

/// A token id in the model's vocabulary.
pub type Token = i32;

/// One message of a chat, rendered through the model's own chat template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: &'static str,
    pub content: String,
}

impl ChatMessage {
    pub fn system(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "system",
            content: content.into(),
        }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "assistant",
            content: content.into(),
        }
    }

    pub fn user(content: impl Into<String>) -> Self {
        ChatMessage {
            role: "user",
            content: content.into(),
        }
    }
}

/// How to run one generation. Decoding is greedy: the same prompt gives the same answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Stop after this many new tokens.
    pub max_tokens: usize,
}

/// Why a generation stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model produced an end-of-generation token.
    EndOfGeneration,
    /// `max_tokens` were produced.
    MaxTokens,
    /// The context window is full.
    ContextFull,
}

/// The result of one generation, with the figures the summary reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prompt_seconds: f64,
    pub generate_seconds: f64,
    pub stop: StopReason,
}

/// What the GGUF metadata says about a model, enough to estimate its memory before loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelFacts {
    /// Bytes of the file; the weights are mapped from it.
    pub file_bytes: u64,
    pub n_layer: u64,
    pub n_embd: u64,
    pub n_head: u64,
    pub n_head_kv: u64,
    /// Per-head key/value width; `n_embd / n_head` unless the file says otherwise.
    pub head_dim_k: u64,
    pub head_dim_v: u64,
    pub n_vocab: u64,
    pub n_ctx_train: u64,
}

/// How a model is loaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadSpec {
    pub path: PathBuf,
    pub context_size: u32,
    pub n_gpu_layers: u32,
    /// Threads for both prompt processing and generation.
    pub threads: usize,
    /// Tokens decoded per llama.cpp batch during prompt processing.
    pub batch_size: u32,
}

/// Failures of a model backend. Retrying does not help unless the file or the input changes,
/// except where a variant says otherwise.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{path} is not a readable GGUF model file: {reason}")]
    InvalidFile { path: PathBuf, reason: String },
    #[error("llama.cpp could not load {path}: {reason}")]
    Load { path: PathBuf, reason: String },
    #[error("could not create a {context_size}-token context for {path}: {reason}")]
    Context {
        path: PathBuf,
        context_size: u32,
        reason: String,
    },
    #[error("the model has no usable chat template: {0}")]
    Template(String),
    #[error("decoding failed: {0}")]
    Decode(String),
    #[error("prompt of {tokens} tokens does not fit the {context_size}-token context")]
    PromptTooLong { tokens: usize, context_size: usize },
}

impl ModelError {
    pub fn invalid_file(path: &Path, reason: impl Into<String>) -> Self {
        ModelError::InvalidFile {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// One loaded model with its own context.
pub trait LanguageModel {
    /// The context window in tokens.
    fn context_size(&self) -> usize;

    /// Renders messages through the model's chat template, ending with the assistant's turn.
    fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, ModelError>;

    /// Tokenizes text that may contain the chat template's special tokens.
    fn tokenize(&self, text: &str) -> Result<Vec<Token>, ModelError>;

    /// Greedy generation after `prompt`. `on_token` is called with the number of tokens
    /// generated so far, for progress.
    fn generate(
        &mut self,
        prompt: &[Token],
        options: &GenerateOptions,
        on_token: &mut dyn FnMut(usize),
    ) -> Result<Generation, ModelError>;

    /// For each label, the log-probability that the answer to `prompt` starts with it (scored on
    /// the label's first token). Used to constrain tiny models to a fixed set of answers.
    fn label_scores(&mut self, prompt: &[Token], labels: &[&str]) -> Result<Vec<f32>, ModelError>;
}

/// Inspects and loads model files.
pub trait Backend {
    type Model: LanguageModel;

    /// Reads the model's metadata without loading its weights.
    fn inspect(&self, path: &Path) -> Result<ModelFacts, ModelError>;

    /// Loads the weights and creates a context.
    fn load(&self, spec: &LoadSpec) -> Result<Self::Model, ModelError>;

    /// Whether loading really takes process memory, so that the growth of the resident set
    /// over a load is the model's footprint (false for test doubles).
    fn uses_process_memory(&self) -> bool {
        true
    }
}

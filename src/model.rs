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
    /// Draft tokens from the prompt and verify them in one batch (prompt-lookup speculative
    /// decoding). The algorithm keeps exactly the tokens greedy decoding picks from the logits
    /// it is given; see `generate` for why batch logits can differ on a CPU.
    pub speculate: bool,
}

impl GenerateOptions {
    /// Plain greedy generation of at most `max_tokens`.
    pub fn new(max_tokens: usize) -> Self {
        GenerateOptions {
            max_tokens,
            speculate: false,
        }
    }
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
    /// The caller's observer stopped it (codey stops an answer that has begun to repeat
    /// itself).
    Stopped,
}

/// The observer of a generation: called after each answer token with the number of tokens
/// so far and the answer's bytes so far (which may end inside a UTF-8 character), for
/// progress and to stop an answer early with `ControlFlow::Break`.
pub type OnToken<'a> = dyn FnMut(usize, &[u8]) -> std::ops::ControlFlow<()> + 'a;

/// The result of one generation, with the figures the summary reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Generation {
    pub text: String,
    pub prompt_tokens: usize,
    /// Prompt tokens whose KV entries were still in the cache from the previous request (the
    /// shared system prompt and instruction): not decoded again.
    pub reused_tokens: usize,
    pub generated_tokens: usize,
    /// Draft tokens proposed by prompt lookup, and how many of them the model confirmed.
    pub drafted_tokens: usize,
    pub accepted_tokens: usize,
    pub prompt_seconds: f64,
    pub generate_seconds: f64,
    pub stop: StopReason,
}

/// What the GGUF metadata says about a model, enough to estimate its memory before loading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ModelFacts {
    /// Bytes of the file; the weights are mapped from it.
    pub file_bytes: u64,
    /// Bytes of weights the CPU backend may also copy into a repacked buffer.
    pub repackable_bytes: u64,
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
    /// The model cannot embed text; another judge or model is needed.
    #[error("no embeddings: {0}")]
    Embedding(String),
}

impl ModelError {
    pub fn invalid_file(path: &Path, reason: impl Into<String>) -> Self {
        ModelError::InvalidFile {
            path: path.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Which rows of a decoded batch get logits. Asking only for the rows that are read keeps
/// prompt processing from computing (and copying) a vocabulary-sized row per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Logits {
    /// Only the last token's row (prompt processing, plain generation).
    Last,
    /// Every row (verifying a speculative draft).
    All,
}

/// A model that takes whole conversations (an OpenAI-compatible chat API): the chat template,
/// tokenizer and cache are the server's alone, so codey hands it messages, not tokens.
pub trait ChatApi {
    /// Greedy answer to `messages`; `on_token` sees the answer grow (one call per piece).
    fn chat(
        &mut self,
        messages: &[ChatMessage],
        on_token: &mut OnToken<'_>,
    ) -> Result<Generation, ModelError>;

    /// For each label, the log-probability that the answer to `messages` starts with it, from
    /// the server's top first tokens.
    fn chat_label_scores(
        &mut self,
        messages: &[ChatMessage],
        labels: &[&str],
    ) -> Result<Vec<f32>, ModelError>;
}

/// One loaded model with its own context (KV cache), at token level. Positions are explicit, so
/// a caller can keep a shared prefix in the cache and decode only what follows it.
pub trait LanguageModel {
    /// The context window in tokens.
    fn context_size(&self) -> usize;

    /// Renders messages through the model's chat template, ending with the assistant's turn.
    fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, ModelError>;

    /// Tokenizes text. With `special`, the chat template's special tokens are parsed and the
    /// model's start token is added; without, the text is plain (labels, drafts).
    fn tokenize(&self, text: &str, special: bool) -> Result<Vec<Token>, ModelError>;

    /// Appends `tokens` to the KV cache at positions `start..`, computing the logits `which`
    /// asks for; `start` is the number of cached tokens (cut the cache with `truncate` first).
    /// Long inputs are split into batches internally.
    fn decode(&mut self, tokens: &[Token], start: usize, which: Logits) -> Result<(), ModelError>;

    /// The logits of row `row` of the last batch decoded (with [`Logits::Last`], row 0 is the
    /// last token).
    fn logits(&self, row: usize) -> &[f32];

    /// Forgets the KV cache from position `from` on (`0` clears it). A backend that cannot cut
    /// its cache there clears all of it; [`LanguageModel::cached`] tells what is left.
    fn truncate(&mut self, from: usize);

    /// The tokens whose KV entries the cache holds, at positions `0..len`.
    fn cached(&self) -> &[Token];

    /// Writes the KV cache (with the tokens it holds) to `path`; returns the bytes written.
    fn save_state(&self, path: &Path) -> Result<usize, ModelError> {
        let _ = path;
        Err(ModelError::Decode(
            "this model cannot save its state".into(),
        ))
    }

    /// Replaces the KV cache with the one saved at `path`; returns the tokens it holds. On
    /// failure the cache is left empty.
    fn load_state(&mut self, path: &Path) -> Result<Vec<Token>, ModelError> {
        let _ = path;
        Err(ModelError::Decode("this model cannot load a state".into()))
    }

    /// The conversation-level API, for a model that has no token-level one here.
    fn chat_api(&mut self) -> Option<&mut dyn ChatApi> {
        None
    }

    /// Whether `token` ends a generation.
    fn is_end(&self, token: Token) -> bool;

    /// Appends the bytes of `token` to `out`.
    fn push_piece(&self, token: Token, out: &mut Vec<u8>);

    /// Greedy generation after `prompt`, reusing whatever prefix of it the cache holds.
    /// `on_token` sees each token's effect on the answer; see [`OnToken`]. Token-level models
    /// keep this default, `generate::run` over their decode loop; served models override it.
    fn generate(
        &mut self,
        prompt: &[Token],
        options: &GenerateOptions,
        on_token: &mut OnToken<'_>,
    ) -> Result<Generation, ModelError> {
        crate::generate::run(self, prompt, options, on_token)
    }

    /// For each label, the log-probability that the answer to `prompt` starts with it (scored on
    /// the label's first token). Used to constrain tiny models to a fixed set of answers.
    /// Token-level models keep this default, `generate::label_scores`.
    fn label_scores(&mut self, prompt: &[Token], labels: &[&str]) -> Result<Vec<f32>, ModelError> {
        crate::generate::label_scores(self, prompt, labels)
    }

    /// One vector for `text`: the model's last hidden states pooled as `pooling` says, from a
    /// context of its own (the generation context is built without embeddings and keeps its
    /// KV cache). Used by the router's nearest-neighbour judge (`router::knn`).
    fn embed(&mut self, text: &str, pooling: Pooling) -> Result<Vec<f32>, ModelError> {
        let _ = (text, pooling);
        Err(ModelError::Embedding(
            "this model gives no embeddings (only a local GGUF model does)".into(),
        ))
    }
}

/// How the hidden states of a text's tokens become one embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pooling {
    /// The mean over every token.
    #[default]
    Mean,
    /// The last token's state (which, in a causal model, has seen the whole text).
    Last,
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

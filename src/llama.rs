//! The llama.cpp backend: GGUF models run in-process through `llama-cpp-2`.
//!
//! Owns the process-wide llama.cpp backend, reading GGUF metadata for estimates, loading a model
//! with one long-lived context, and the decode loop (greedy, logits only where needed). It does
//! not decide what to load or when: that is `lifecycle`.

use std::num::NonZeroU32;
use std::path::Path;
use std::sync::OnceLock;

use llama_cpp_2::context::params::{LlamaContextParams, LlamaPoolingType};
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::gguf::GgufContext;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::{LlamaChatMessage, LlamaChatTemplate, LlamaModel};
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::LlamaStateSeqFlags;

use crate::model::{
    Backend, ChatMessage, LanguageModel, LoadSpec, Logits, ModelError, ModelFacts, Pooling, Token,
};

/// llama.cpp's backend may be initialised once per process.
static BACKEND: OnceLock<Result<LlamaBackend, String>> = OnceLock::new();

pub(crate) fn backend() -> Result<&'static LlamaBackend, ModelError> {
    BACKEND
        .get_or_init(|| {
            // llama.cpp logs every tensor at load; route it through tracing so that stderr stays
            // readable unless the user asks for it with RUST_LOG.
            llama_cpp_2::send_logs_to_tracing(llama_cpp_2::LogOptions::default());
            LlamaBackend::init().map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| ModelError::Load {
            path: "(backend)".into(),
            reason: e.clone(),
        })
}

/// The real backend.
#[derive(Debug, Default, Clone, Copy)]
pub struct Llama;

/// GGUF value types, from gguf.h.
const GGUF_TYPE_UINT32: u32 = 4;
const GGUF_TYPE_INT32: u32 = 5;
const GGUF_TYPE_UINT64: u32 = 10;
const GGUF_TYPE_STRING: u32 = 8;
const GGUF_TYPE_ARRAY: u32 = 9;

/// Reads an integer key of any of the widths GGUF writers use. The typed getters abort inside
/// llama.cpp on a type mismatch, so the type is checked first.
fn gguf_uint(gguf: &GgufContext, key: &str) -> Option<u64> {
    let idx = gguf.find_key(key);
    if idx < 0 {
        return None;
    }
    match gguf.kv_type(idx) {
        GGUF_TYPE_UINT32 => Some(u64::from(gguf.val_u32(idx))),
        GGUF_TYPE_INT32 => u64::try_from(gguf.val_i32(idx)).ok(),
        GGUF_TYPE_UINT64 => Some(gguf.val_u64(idx)),
        _ => None,
    }
}

fn gguf_str<'a>(gguf: &'a GgufContext, key: &str) -> Option<&'a str> {
    let idx = gguf.find_key(key);
    (idx >= 0 && gguf.kv_type(idx) == GGUF_TYPE_STRING)
        .then(|| gguf.val_str(idx))
        .flatten()
}

/// Checks the things llama.cpp would otherwise crash or hang on before handing it the file.
fn check_file(path: &Path) -> Result<u64, ModelError> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).map_err(|e| ModelError::invalid_file(path, e.to_string()))?;
    let len = file
        .metadata()
        .map_err(|e| ModelError::invalid_file(path, e.to_string()))?
        .len();
    let mut magic = [0u8; 4];
    file.read_exact(&mut magic)
        .map_err(|_| ModelError::invalid_file(path, format!("file is only {len} bytes")))?;
    if &magic != b"GGUF" {
        return Err(ModelError::invalid_file(path, "missing GGUF magic bytes"));
    }
    Ok(len)
}

/// What llama.cpp's own GGUF reader says of a file's layout.
struct Layout {
    /// Entries of the `tokenizer.ggml.tokens` array: the vocabulary size.
    n_vocab: Option<u64>,
    /// Bytes the file must have to hold every tensor: the data offset plus the furthest
    /// tensor end. A shorter file is truncated, and llama.cpp would read past its end.
    needed_bytes: u64,
    /// Bytes of the tensors llama.cpp's CPU backend may copy into a second, repacked buffer.
    repackable_bytes: u64,
    n_tensors: i64,
}

/// Whether llama.cpp's CPU backend may repack a tensor of this type into an interleaved copy
/// for faster matrix products (`ggml-cpu/repack.cpp`). The copy lives beside the mapped file,
/// so those bytes count twice. Q4_0, Q4_K, IQ4_NL and Q2_K are repacked on x86 (AVX2) and ARM;
/// Q8_0 only on ARM. Which ones are depends on the CPU's features too; counting every candidate
/// keeps the estimate from falling short on any. The token embedding is read row by row and
/// never repacked.
fn repackable(kind: llama_cpp_sys_2::ggml_type, name: &[u8]) -> bool {
    use llama_cpp_sys_2 as sys;
    let arm_only = cfg!(target_arch = "aarch64") && kind == sys::GGML_TYPE_Q8_0;
    name != b"token_embd.weight"
        && (arm_only
            || [
                sys::GGML_TYPE_Q4_0,
                sys::GGML_TYPE_Q4_K,
                sys::GGML_TYPE_IQ4_NL,
                sys::GGML_TYPE_Q2_K,
            ]
            .contains(&kind))
}

/// Reads the layout through the sys crate: llama-cpp-2's `GgufContext` reads scalar keys
/// only. The alternative for the vocabulary, a vocab-only model load, builds the whole
/// tokenizer (~0.4 s for a 151k vocabulary) only to count it.
fn gguf_layout(path: &Path) -> Option<Layout> {
    use llama_cpp_sys_2 as sys;
    use std::ffi::CString;
    let c_path = CString::new(path.to_str()?).ok()?;
    let c_key = CString::new("tokenizer.ggml.tokens").ok()?;
    let params = sys::gguf_init_params {
        no_alloc: true,
        ctx: std::ptr::null_mut(),
    };
    // SAFETY: both strings are NUL-terminated and outlive the calls; the context is checked for
    // null, only read while alive (tensor ids below gguf_get_n_tensors), and freed exactly once.
    unsafe {
        let ctx = sys::gguf_init_from_file(c_path.as_ptr(), params);
        if ctx.is_null() {
            return None;
        }
        let id = sys::gguf_find_key(ctx, c_key.as_ptr());
        let n_vocab = (id >= 0 && sys::gguf_get_kv_type(ctx, id) == GGUF_TYPE_ARRAY)
            .then(|| sys::gguf_get_arr_n(ctx, id) as u64);
        let data = sys::gguf_get_data_offset(ctx) as u64;
        let (mut end, mut repackable_bytes) = (0u64, 0u64);
        let n_tensors = sys::gguf_get_n_tensors(ctx);
        for t in 0..n_tensors {
            let size = sys::gguf_get_tensor_size(ctx, t) as u64;
            end = end.max((sys::gguf_get_tensor_offset(ctx, t) as u64).saturating_add(size));
            let name = std::ffi::CStr::from_ptr(sys::gguf_get_tensor_name(ctx, t)).to_bytes();
            if repackable(sys::gguf_get_tensor_type(ctx, t), name) {
                repackable_bytes = repackable_bytes.saturating_add(size);
            }
        }
        sys::gguf_free(ctx);
        Some(Layout {
            n_vocab,
            needed_bytes: data.saturating_add(end),
            repackable_bytes,
            n_tensors,
        })
    }
}

impl Backend for Llama {
    type Model = LlamaLoaded;

    fn inspect(&self, path: &Path) -> Result<ModelFacts, ModelError> {
        let file_bytes = check_file(path)?;
        let gguf = GgufContext::from_file(path)
            .ok_or_else(|| ModelError::invalid_file(path, "GGUF header could not be parsed"))?;
        let arch = gguf_str(&gguf, "general.architecture")
            .ok_or_else(|| ModelError::invalid_file(path, "no general.architecture key"))?
            .to_owned();
        let key = |name: &str| gguf_uint(&gguf, &format!("{arch}.{name}"));
        let need = |name: &str| {
            key(name).ok_or_else(|| ModelError::invalid_file(path, format!("no {arch}.{name} key")))
        };
        let n_embd = need("embedding_length")?;
        let n_head = need("attention.head_count")?.max(1);
        let head_dim = n_embd / n_head;
        let facts = ModelFacts {
            file_bytes,
            n_layer: need("block_count")?,
            n_embd,
            n_head,
            n_head_kv: key("attention.head_count_kv").unwrap_or(n_head),
            head_dim_k: key("attention.key_length").unwrap_or(head_dim),
            head_dim_v: key("attention.value_length").unwrap_or(head_dim),
            n_vocab: 0,
            repackable_bytes: 0,
            n_ctx_train: key("context_length").unwrap_or(0),
        };
        drop(gguf);
        let layout = gguf_layout(path)
            .ok_or_else(|| ModelError::invalid_file(path, "GGUF header could not be parsed"))?;
        if layout.n_tensors == 0 {
            return Err(ModelError::invalid_file(
                path,
                "holds no tensors (fetch it again)",
            ));
        }
        if layout.needed_bytes > file_bytes {
            return Err(ModelError::invalid_file(
                path,
                format!(
                    "truncated: its tensors need {} bytes but the file has {file_bytes} \
                     (fetch it again)",
                    layout.needed_bytes
                ),
            ));
        }
        let n_vocab = layout
            .n_vocab
            .ok_or_else(|| ModelError::invalid_file(path, "no tokenizer.ggml.tokens array"))?;
        Ok(ModelFacts {
            n_vocab,
            repackable_bytes: layout.repackable_bytes,
            ..facts
        })
    }

    fn load(&self, spec: &LoadSpec) -> Result<LlamaLoaded, ModelError> {
        check_file(&spec.path)?;
        let backend = backend()?;
        let model = Box::new(load_model(backend, spec)?);
        let ctx = new_context(backend, &model, spec)?;
        // SAFETY: the context borrows the model, which lives on the heap in a Box owned by the
        // same struct and is never moved out or replaced; `ctx` is declared before `model` in
        // `LlamaLoaded`, so it is dropped first and never outlives the model it points to.
        let ctx: LlamaContext<'static> = unsafe { std::mem::transmute(ctx) };
        let template = model.chat_template(None).ok().or_else(|| {
            let arch = model
                .meta_val_str("general.architecture")
                .unwrap_or_default();
            LlamaChatTemplate::new(builtin_template(&arch)).ok()
        });
        Ok(LlamaLoaded {
            embedder: None,
            threads: spec.threads,
            path: spec.path.clone(),
            ctx,
            batch: LlamaBatch::new(spec.batch_size as usize, 1),
            batch_size: spec.batch_size as usize,
            logit_rows: Vec::with_capacity(spec.batch_size as usize),
            cache: Vec::with_capacity(spec.context_size as usize),
            template,
            model,
        })
    }
}

/// The llama.cpp built-in template to use for a GGUF file that carries none (some quantised
/// re-uploads drop it), chosen by architecture.
fn builtin_template(arch: &str) -> &'static str {
    if arch.starts_with("gemma") {
        "gemma"
    } else if arch.starts_with("llama") {
        "llama3"
    } else if arch.starts_with("phi3") {
        "phi3"
    } else {
        "chatml"
    }
}

/// A loaded model and its context. Field order matters: see the SAFETY note in `load`.
pub struct LlamaLoaded {
    /// The embeddings context and its pooling, made on first `embed` (same SAFETY note).
    embedder: Option<(Pooling, LlamaContext<'static>)>,
    threads: usize,
    path: std::path::PathBuf,
    ctx: LlamaContext<'static>,
    batch: LlamaBatch<'static>,
    batch_size: usize,
    /// Batch indices of the rows the last decode computed logits for.
    logit_rows: Vec<i32>,
    /// The tokens whose KV entries the context holds, by position.
    cache: Vec<Token>,
    template: Option<LlamaChatTemplate>,
    model: Box<LlamaModel>,
}

pub(crate) fn decode_err(e: impl std::fmt::Display) -> ModelError {
    ModelError::Decode(e.to_string())
}

impl LanguageModel for LlamaLoaded {
    fn context_size(&self) -> usize {
        self.ctx.n_ctx() as usize
    }

    fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, ModelError> {
        let template = self
            .template
            .as_ref()
            .ok_or_else(|| ModelError::Template("the GGUF file carries no chat template".into()))?;
        let chat = messages
            .iter()
            .map(|m| LlamaChatMessage::new(m.role.to_owned(), m.content.clone()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| ModelError::Template(e.to_string()))?;
        self.model
            .apply_chat_template(template, &chat, true)
            .map_err(|e| ModelError::Template(e.to_string()))
    }

    fn tokenize(&self, text: &str, special: bool) -> Result<Vec<Token>, ModelError> {
        // Never add a start token: prompts come from the chat template, which writes its own
        // where the model wants one (a second one confuses Gemma).
        let tokens = self.model.vocab().tokenize(text.as_bytes(), false, special);
        Ok(tokens.into_iter().map(|t| t.0).collect())
    }

    fn decode(&mut self, tokens: &[Token], start: usize, which: Logits) -> Result<(), ModelError> {
        if tokens.is_empty() {
            return Err(ModelError::Decode("nothing to decode".into()));
        }
        if which == Logits::All && tokens.len() > self.batch_size {
            // Logits survive only for the last batch; a caller needing every row must batch.
            return Err(ModelError::Decode(format!(
                "logits for every row of {} tokens exceed one {}-token batch",
                tokens.len(),
                self.batch_size
            )));
        }
        // Callers cut the cache first (`truncate`), so a decode always continues it.
        if start != self.cache.len() {
            return Err(ModelError::Decode(format!(
                "decode at position {start} does not continue the {} cached tokens",
                self.cache.len()
            )));
        }
        let end = start + tokens.len();
        if end > self.context_size() {
            return Err(ModelError::PromptTooLong {
                tokens: end,
                context_size: self.context_size(),
            });
        }
        for (chunk_index, chunk) in tokens.chunks(self.batch_size).enumerate() {
            self.batch.clear();
            let chunk_start = start + chunk_index * self.batch_size;
            for (offset, &token) in chunk.iter().enumerate() {
                let pos = chunk_start + offset;
                let wanted = which == Logits::All || pos + 1 == end;
                self.batch
                    .add(LlamaToken(token), pos as i32, &[0], wanted)
                    .map_err(decode_err)?;
            }
            if let Err(e) = self.ctx.decode(&mut self.batch) {
                // What this chunk left in the cache is unknown: start clean next time.
                self.truncate(0);
                return Err(decode_err(e));
            }
            self.cache.extend_from_slice(chunk);
        }
        self.logit_rows.clear();
        match which {
            Logits::Last => self.logit_rows.push(self.batch.n_tokens() - 1),
            Logits::All => self.logit_rows.extend(0..self.batch.n_tokens()),
        }
        Ok(())
    }

    fn logits(&self, row: usize) -> &[f32] {
        match self.logit_rows.get(row) {
            Some(&i) => self.ctx.get_logits_ith(i),
            None => &[],
        }
    }

    fn truncate(&mut self, from: usize) {
        if from >= self.cache.len() {
            return;
        }
        let cut = from > 0
            && self
                .ctx
                .clear_kv_cache_seq(Some(0), u32::try_from(from).ok(), None)
                .unwrap_or(false);
        if cut {
            self.cache.truncate(from);
        } else {
            // A cache that cannot drop a suffix (sliding-window layers) is cleared whole.
            self.ctx.clear_kv_cache();
            self.cache.clear();
        }
    }

    fn cached(&self) -> &[Token] {
        &self.cache
    }

    fn save_state(&self, path: &Path) -> Result<usize, ModelError> {
        let flags = LlamaStateSeqFlags::empty();
        let mut state = vec![0u8; self.ctx.state_seq_get_size_ext(0, flags)];
        // SAFETY: the buffer has the size llama.cpp just reported for this sequence's state.
        let written = unsafe {
            self.ctx
                .state_seq_get_data_ext(state.as_mut_ptr(), 0, flags)
        };
        if written != state.len() {
            return Err(ModelError::Decode(format!(
                "the KV state took {written} bytes, not the {} reported",
                state.len()
            )));
        }
        let bytes = crate::kvcache::encode_entry(&self.cache, &state);
        std::fs::write(path, &bytes)
            .map_err(|e| ModelError::Decode(format!("cannot write {}: {e}", path.display())))?;
        Ok(bytes.len())
    }

    /// Reads the file itself and hands llama.cpp the state as a buffer: llama.cpp's file
    /// reader asserts (aborting the process) when a state claims more bytes than its file
    /// holds, while its buffer reader checks every read against the buffer's end and fails.
    fn load_state(&mut self, path: &Path) -> Result<Vec<Token>, ModelError> {
        self.truncate(0);
        let bytes = std::fs::read(path)
            .map_err(|e| ModelError::Decode(format!("cannot read {}: {e}", path.display())))?;
        let (tokens, state) =
            crate::kvcache::decode_entry(&bytes, self.context_size()).map_err(|reason| {
                ModelError::Decode(format!("KV state {}: {reason}", path.display()))
            })?;
        // SAFETY: llama.cpp reads the buffer through a reader bounded by its length and turns
        // any inconsistency (magic, shape, sizes) into a zero return; the flags are the ones
        // the state was saved with.
        let restored = unsafe {
            self.ctx
                .state_seq_set_data_ext(state, 0, LlamaStateSeqFlags::empty())
        };
        if !restored {
            // A partial load leaves unknown entries: start clean.
            self.ctx.clear_kv_cache();
            return Err(ModelError::Decode(format!(
                "llama.cpp refused the KV state in {}",
                path.display()
            )));
        }
        self.cache = tokens;
        Ok(self.cache.clone())
    }

    fn is_end(&self, token: Token) -> bool {
        self.model.vocab().is_eog(LlamaToken(token))
    }

    fn push_piece(&self, token: Token, out: &mut Vec<u8>) {
        self.model
            .vocab()
            .token_to_piece_into(LlamaToken(token), out, false, None);
    }

    fn embed(&mut self, text: &str, pooling: Pooling) -> Result<Vec<f32>, ModelError> {
        let tokens = self.model.vocab().tokenize(text.as_bytes(), false, false);
        if tokens.is_empty() || tokens.len() > EMBED_CONTEXT as usize {
            return Err(ModelError::Embedding(format!(
                "a text of {} tokens (1 to {EMBED_CONTEXT} can be embedded)",
                tokens.len()
            )));
        }
        let ctx = self.embedder(pooling)?;
        ctx.clear_kv_cache();
        let mut batch = LlamaBatch::new(tokens.len(), 1);
        for (pos, &token) in tokens.iter().enumerate() {
            batch
                .add(token, pos as i32, &[0], true)
                .map_err(decode_err)?;
        }
        ctx.decode(&mut batch).map_err(decode_err)?;
        let embedding = ctx
            .embeddings_seq_ith(0)
            .map_err(|e| ModelError::Embedding(e.to_string()))?
            .to_vec();
        ctx.clear_kv_cache();
        Ok(embedding)
    }
}

/// The embeddings context's window: the router embeds one short instruction at a time.
const EMBED_CONTEXT: u32 = 512;

impl LlamaLoaded {
    /// The embeddings context for `pooling`, made (or remade for another pooling) on first use.
    fn embedder(&mut self, pooling: Pooling) -> Result<&mut LlamaContext<'static>, ModelError> {
        if self.embedder.as_ref().map(|(p, _)| *p) != Some(pooling) {
            self.embedder = None;
            let threads = i32::try_from(self.threads.max(1)).unwrap_or(1);
            let params = LlamaContextParams::default()
                .with_n_ctx(NonZeroU32::new(EMBED_CONTEXT))
                .with_n_batch(EMBED_CONTEXT)
                .with_n_ubatch(EMBED_CONTEXT)
                .with_n_seq_max(1)
                .with_n_threads(threads)
                .with_n_threads_batch(threads)
                .with_embeddings(true)
                .with_pooling_type(match pooling {
                    Pooling::Mean => LlamaPoolingType::Mean,
                    Pooling::Last => LlamaPoolingType::Last,
                });
            let ctx =
                self.model
                    .new_context(backend()?, params)
                    .map_err(|e| ModelError::Context {
                        path: self.path.clone(),
                        context_size: EMBED_CONTEXT,
                        reason: e.to_string(),
                    })?;
            // SAFETY: as for `ctx` in `Backend::load`: the model is boxed, never moved or
            // replaced, and `embedder` is declared before `model`, so it is dropped first.
            let ctx: LlamaContext<'static> = unsafe { std::mem::transmute(ctx) };
            self.embedder = Some((pooling, ctx));
        }
        match &mut self.embedder {
            Some((_, ctx)) => Ok(ctx),
            None => Err(ModelError::Embedding("no embeddings context".into())),
        }
    }
}

/// Loads the weights as `spec` says (mmap on, llama.cpp's default).
pub(crate) fn load_model(
    backend: &LlamaBackend,
    spec: &LoadSpec,
) -> Result<LlamaModel, ModelError> {
    let params = LlamaModelParams::default().with_n_gpu_layers(spec.n_gpu_layers);
    LlamaModel::load_from_file(backend, &spec.path, &params).map_err(|e| ModelError::Load {
        path: spec.path.clone(),
        reason: e.to_string(),
    })
}

/// A context with the run's window, batch and threads (the same count for prompt processing
/// and generation).
pub(crate) fn new_context<'m>(
    backend: &LlamaBackend,
    model: &'m LlamaModel,
    spec: &LoadSpec,
) -> Result<LlamaContext<'m>, ModelError> {
    context_with(backend, model, spec, context_params(spec))
}

/// codey's context parameters: the configured context, one batch size for both llama.cpp
/// batch limits, and threads = cores for prompt processing and generation alike.
pub(crate) fn context_params(spec: &LoadSpec) -> LlamaContextParams {
    let threads = i32::try_from(spec.threads.max(1)).unwrap_or(1);
    LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(spec.context_size))
        .with_n_batch(spec.batch_size)
        .with_n_ubatch(spec.batch_size)
        .with_n_threads(threads)
        .with_n_threads_batch(threads)
}

pub(crate) fn context_with<'m>(
    backend: &LlamaBackend,
    model: &'m LlamaModel,
    spec: &LoadSpec,
    params: LlamaContextParams,
) -> Result<LlamaContext<'m>, ModelError> {
    model
        .new_context(backend, params)
        .map_err(|e| ModelError::Context {
            path: spec.path.clone(),
            context_size: spec.context_size,
            reason: e.to_string(),
        })
}

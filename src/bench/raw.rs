//! The bench's reference loops: llama.cpp called directly through llama-cpp-2, with nothing of
//! codey's in between, one answer at a time and several side by side.
//!
//! Only `codey bench` uses these. The one-at-a-time reference ([`reference_rates`]) shares
//! nothing of codey's set-up but the process's llama backend: it loads the model itself and
//! builds its context from llama.cpp's defaults (`llama_context_default_params`: n_batch 2048,
//! n_ubatch 512), with only the window and the thread counts set, and decodes the whole prompt
//! in one call. A cost in codey's context parameters or decode chunking therefore shows up in
//! the codey/reference ratio instead of being paid by both sides (issue 13, item 0). The
//! side-by-side loop ([`parallel_rates`]) does use codey's context parameters: it measures
//! batching, not set-up.

use std::num::NonZeroU32;

use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

use crate::llama::{backend, context_params, context_with, decode_err, load_model};
use crate::model::{LoadSpec, ModelError, Token};

/// What the reference loop measured.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct RawRates {
    pub prompt_tokens: usize,
    pub prompt_seconds: f64,
    pub generated_tokens: usize,
    pub generate_seconds: f64,
}

/// The independent reference codey's own loop is measured against: the model at `spec.path`
/// loaded with llama-cpp-2's default model parameters (mmap on), a context with llama.cpp's
/// default parameters but for the window (`spec.context_size`) and the threads
/// (`spec.threads`, for prompt and generation alike). For each `(prompt, generate)` the cache
/// is cleared, the whole prompt decoded in one call with the last row's logits only, then
/// `generate` tokens produced greedily, one decode each: the same prompts and answer lengths
/// as codey's pass, so the rates compare like with like.
pub fn reference_rates(
    spec: &LoadSpec,
    runs: &[(Vec<Token>, usize)],
) -> Result<RawRates, ModelError> {
    let backend = backend()?;
    let params = LlamaModelParams::default().with_n_gpu_layers(spec.n_gpu_layers);
    let model =
        LlamaModel::load_from_file(backend, &spec.path, &params).map_err(|e| ModelError::Load {
            path: spec.path.clone(),
            reason: e.to_string(),
        })?;
    let threads = i32::try_from(spec.threads.max(1)).unwrap_or(1);
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(spec.context_size))
        .with_n_threads(threads)
        .with_n_threads_batch(threads);
    let mut ctx = context_with(backend, &model, spec, params)?;
    let longest = runs.iter().map(|(p, _)| p.len()).max().unwrap_or(1);
    // llama.cpp's n_batch (2048) is the most one decode takes; a longer prompt is split there.
    let n_batch = ctx.n_batch() as usize;
    let mut batch = LlamaBatch::new(longest.min(n_batch).max(1), 1);
    let mut rates = RawRates {
        prompt_tokens: 0,
        prompt_seconds: 0.0,
        generated_tokens: 0,
        generate_seconds: 0.0,
    };
    for (prompt, generate) in runs {
        ctx.clear_kv_cache();
        let started = std::time::Instant::now();
        let first = decode_prompt(&mut ctx, &mut batch, prompt, 0, n_batch)?;
        rates.prompt_seconds += started.elapsed().as_secs_f64();
        let started = std::time::Instant::now();
        greedy_raw(&mut ctx, &mut batch, first, prompt.len(), *generate)?;
        rates.generate_seconds += started.elapsed().as_secs_f64();
        rates.prompt_tokens += prompt.len();
        rates.generated_tokens += generate;
    }
    Ok(rates)
}

/// What decoding several prompts' answers side by side measured against one after another.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ParallelRates {
    pub sequences: usize,
    /// Tokens generated per sequence, the same in both modes.
    pub generated_tokens: usize,
    /// Generation time of all sequences one after another, and side by side in one batch per
    /// step.
    pub sequential_seconds: f64,
    pub parallel_seconds: f64,
    /// Per sequence: the first answer token where the two modes disagree (`None`: they agree
    /// throughout). A batch of several rows runs other kernels than a one-row decode.
    pub first_divergence: Vec<Option<usize>>,
}

/// Generates `generate` greedy tokens after each of `prompts`, first one prompt at a time,
/// then all of them as parallel sequences sharing one batch per step (llama.cpp's unified
/// KV cache, one sequence id per prompt). Only the generation phases are timed; prompts are
/// decoded the same way in both modes.
pub fn parallel_rates(
    spec: &LoadSpec,
    prompts: &[Vec<Token>],
    generate: usize,
) -> Result<ParallelRates, ModelError> {
    let backend = backend()?;
    let model = load_model(backend, spec)?;
    let n = prompts.len().max(1);
    let total: usize = prompts.iter().map(|p| p.len() + generate + 1).sum();
    let n_ctx = u32::try_from(total.div_ceil(256) * 256).unwrap_or(u32::MAX);
    let params = context_params(spec)
        .with_n_ctx(NonZeroU32::new(n_ctx))
        .with_n_seq_max(u32::try_from(n).unwrap_or(1))
        .with_kv_unified(true);
    let mut ctx = context_with(backend, &model, spec, params)?;
    let mut batch = LlamaBatch::new((spec.batch_size as usize).max(n), 1);

    let mut sequential = Vec::with_capacity(n);
    let mut sequential_seconds = 0.0;
    for prompt in prompts {
        ctx.clear_kv_cache();
        let first = decode_prompt(&mut ctx, &mut batch, prompt, 0, spec.batch_size as usize)?;
        let started = std::time::Instant::now();
        sequential.push(greedy_raw(
            &mut ctx,
            &mut batch,
            first,
            prompt.len(),
            generate,
        )?);
        sequential_seconds += started.elapsed().as_secs_f64();
    }

    ctx.clear_kv_cache();
    let mut next = Vec::with_capacity(n);
    for (seq, prompt) in prompts.iter().enumerate() {
        next.push(decode_prompt(
            &mut ctx,
            &mut batch,
            prompt,
            seq as i32,
            spec.batch_size as usize,
        )?);
    }
    let started = std::time::Instant::now();
    let mut parallel = vec![Vec::with_capacity(generate); n];
    for step in 0..generate {
        batch.clear();
        for (seq, prompt) in prompts.iter().enumerate() {
            parallel[seq].push(next[seq]);
            let pos = (prompt.len() + step) as i32;
            batch
                .add(LlamaToken(next[seq]), pos, &[seq as i32], true)
                .map_err(decode_err)?;
        }
        ctx.decode(&mut batch).map_err(decode_err)?;
        for (seq, token) in next.iter_mut().enumerate() {
            *token = crate::generate::argmax(ctx.get_logits_ith(seq as i32));
        }
    }
    let parallel_seconds = started.elapsed().as_secs_f64();
    Ok(ParallelRates {
        sequences: prompts.len(),
        generated_tokens: generate,
        sequential_seconds,
        parallel_seconds,
        first_divergence: sequential
            .iter()
            .zip(&parallel)
            .map(|(a, b)| a.iter().zip(b).position(|(x, y)| x != y))
            .collect(),
    })
}

/// `generate` greedy tokens of sequence 0 from `first` at position `start`, one decode each.
fn greedy_raw(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch,
    first: Token,
    start: usize,
    generate: usize,
) -> Result<Vec<Token>, ModelError> {
    let mut answer = Vec::with_capacity(generate);
    let mut next = first;
    for pos in start..start + generate {
        answer.push(next);
        batch.clear();
        batch
            .add(LlamaToken(next), pos as i32, &[0], true)
            .map_err(decode_err)?;
        ctx.decode(batch).map_err(decode_err)?;
        next = crate::generate::argmax(ctx.get_logits_ith(0));
    }
    Ok(answer)
}

/// Decodes `prompt` into sequence `seq` from position 0; returns the greedy first answer token.
fn decode_prompt(
    ctx: &mut LlamaContext<'_>,
    batch: &mut LlamaBatch,
    prompt: &[Token],
    seq: i32,
    batch_size: usize,
) -> Result<Token, ModelError> {
    let size = batch_size.max(1);
    for (i, chunk) in prompt.chunks(size).enumerate() {
        batch.clear();
        for (j, &t) in chunk.iter().enumerate() {
            let pos = i * size + j;
            batch
                .add(LlamaToken(t), pos as i32, &[seq], pos + 1 == prompt.len())
                .map_err(decode_err)?;
        }
        ctx.decode(batch).map_err(decode_err)?;
    }
    Ok(crate::generate::argmax(
        ctx.get_logits_ith(batch.n_tokens() - 1),
    ))
}

//! An independent reference for codey's prompt and generation rates: a plain llama-cpp-2
//! loop that shares no code with codey (its own model load, its own context parameters), so
//! a cost in codey's set-up shows up against it (issue 13, item 0). `codey bench` has the same
//! reference built in; this program takes knobs, to find which parameter a difference comes
//! from.
//!
//! ```sh
//! cargo run --release --example reference_loop -- MODEL.gguf PROMPT.txt \
//!     [--tokens 890] [--generate 64] [--repeat 3] [--threads N] [--ctx 4096] \
//!     [--n-batch 2048] [--n-ubatch 512] [--chunk N] [--split-last] [--warmup]
//! ```
//!
//! Defaults are llama.cpp's (`llama_context_default_params`: n_batch 2048, n_ubatch 512) with
//! the whole prompt in one `decode` and logits for its last row only; then `--generate`
//! greedy tokens, one decode each. `--chunk N` decodes the prompt in N-token calls instead,
//! `--split-last` decodes its last token on its own (as codey's prefill does). Each repeat
//! clears the KV cache; the rates of every repeat and their medians are printed.

// A measuring tool: its figures are its output.
#![allow(clippy::print_stdout)]

use std::num::NonZeroU32;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use llama_cpp_2::context::params::LlamaContextParams;
use llama_cpp_2::llama_backend::LlamaBackend;
use llama_cpp_2::llama_batch::LlamaBatch;
use llama_cpp_2::model::params::LlamaModelParams;
use llama_cpp_2::model::LlamaModel;
use llama_cpp_2::token::LlamaToken;

struct Knobs {
    tokens: Option<usize>,
    generate: usize,
    repeat: usize,
    threads: i32,
    ctx: u32,
    n_batch: u32,
    n_ubatch: u32,
    chunk: Option<usize>,
    split_last: bool,
    warmup: bool,
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(model_path), Some(prompt_path)) = (args.next(), args.next()) else {
        bail!("usage: reference_loop MODEL.gguf PROMPT.txt [knobs: see the source's header]");
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut k = Knobs {
        tokens: None,
        generate: 64,
        repeat: 3,
        threads: i32::try_from(threads)?,
        ctx: 4096,
        n_batch: 2048,
        n_ubatch: 512,
        chunk: None,
        split_last: false,
        warmup: false,
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().with_context(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--tokens" => k.tokens = Some(value()?.parse()?),
            "--generate" => k.generate = value()?.parse()?,
            "--repeat" => k.repeat = value()?.parse()?,
            "--threads" => k.threads = value()?.parse()?,
            "--ctx" => k.ctx = value()?.parse()?,
            "--n-batch" => k.n_batch = value()?.parse()?,
            "--n-ubatch" => k.n_ubatch = value()?.parse()?,
            "--chunk" => k.chunk = Some(value()?.parse()?),
            "--split-last" => k.split_last = true,
            "--warmup" => k.warmup = true,
            other => bail!("unknown argument {other}"),
        }
    }

    let mut backend = LlamaBackend::init()?;
    backend.void_logs();
    let model = LlamaModel::load_from_file(&backend, &model_path, &LlamaModelParams::default())?;
    let text = std::fs::read_to_string(&prompt_path)?;
    let mut prompt = model.vocab().tokenize(text.as_bytes(), false, true);
    if let Some(n) = k.tokens {
        if prompt.len() < n {
            bail!(
                "{prompt_path} gives {} tokens, fewer than {n}",
                prompt.len()
            );
        }
        prompt.truncate(n);
    }
    let params = LlamaContextParams::default()
        .with_n_ctx(NonZeroU32::new(k.ctx))
        .with_n_batch(k.n_batch)
        .with_n_ubatch(k.n_ubatch)
        .with_n_threads(k.threads)
        .with_n_threads_batch(k.threads);
    let mut ctx = model.new_context(&backend, params)?;
    let mut batch = LlamaBatch::new(prompt.len().max(k.n_batch as usize), 1);
    println!(
        "{model_path}: {} prompt tokens, {} generated, threads {}, n_batch {}, n_ubatch {}, chunk {:?}, split_last {}, warmup {}",
        prompt.len(),
        k.generate,
        k.threads,
        k.n_batch,
        k.n_ubatch,
        k.chunk,
        k.split_last,
        k.warmup
    );
    if k.warmup {
        // One short decode touches every weight once (llama.cpp's own tools do this).
        ctx.clear_kv_cache();
        batch.clear();
        batch.add(prompt[0], 0, &[0], true)?;
        ctx.decode(&mut batch)?;
    }
    let (mut prompt_rates, mut gen_rates) = (Vec::new(), Vec::new());
    for _ in 0..k.repeat {
        ctx.clear_kv_cache();
        let started = Instant::now();
        let body = if k.split_last {
            &prompt[..prompt.len() - 1]
        } else {
            &prompt[..]
        };
        let size = k.chunk.unwrap_or(body.len()).max(1);
        for (i, chunk) in body.chunks(size).enumerate() {
            batch.clear();
            for (j, &t) in chunk.iter().enumerate() {
                let pos = i * size + j;
                batch.add(t, i32::try_from(pos)?, &[0], pos + 1 == body.len())?;
            }
            ctx.decode(&mut batch)?;
        }
        if k.split_last {
            batch.clear();
            let last = prompt.len() - 1;
            batch.add(prompt[last], i32::try_from(last)?, &[0], true)?;
            ctx.decode(&mut batch)?;
        }
        let mut next = argmax(ctx.get_logits_ith(batch.n_tokens() - 1));
        let prompt_seconds = started.elapsed().as_secs_f64();
        let started = Instant::now();
        for pos in prompt.len()..prompt.len() + k.generate {
            batch.clear();
            batch.add(next, i32::try_from(pos)?, &[0], true)?;
            ctx.decode(&mut batch)?;
            next = argmax(ctx.get_logits_ith(0));
        }
        let gen_seconds = started.elapsed().as_secs_f64();
        let p = prompt.len() as f64 / prompt_seconds;
        let g = k.generate as f64 / gen_seconds;
        println!("prompt {p:.1} tok/s, generation {g:.2} tok/s");
        prompt_rates.push(p);
        gen_rates.push(g);
    }
    println!(
        "median: prompt {:.1} tok/s, generation {:.2} tok/s",
        median(&mut prompt_rates),
        median(&mut gen_rates)
    );
    Ok(())
}

fn argmax(logits: &[f32]) -> LlamaToken {
    let mut best = 0;
    for (i, &l) in logits.iter().enumerate() {
        if l > logits[best] {
            best = i;
        }
    }
    LlamaToken(i32::try_from(best).unwrap_or(0))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

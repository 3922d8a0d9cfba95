//! Generation: turning a prompt into an answer as fast as the hardware allows, with exactly the
//! output of plain greedy decoding.
//!
//! Owns three things on top of the token-level [`LanguageModel`]:
//! - **prefix reuse**: the KV cache keeps the previous request's tokens, and a new prompt only
//!   decodes what follows the part it shares with them (the system prompt and instruction,
//!   which come first in every prompt);
//! - **the greedy loop**: one token per decode, logits for that token only, nothing allocated
//!   per token beyond the output buffer;
//! - **prompt-lookup speculative decoding** (opt-in): edits copy their input (whole-file answers, the
//!   search half of search/replace blocks), so the tokens after the latest occurrence of the
//!   last few generated tokens are a good guess of what comes next. The guess is verified in
//!   one batch; the longest prefix the model agrees with is kept, the rest is cut from the KV
//!   cache, and the draft length follows the acceptance rate.

use std::time::Instant;

use crate::model::{
    GenerateOptions, Generation, LanguageModel, Logits, ModelError, OnToken, StopReason, Token,
};

/// The longest draft verified in one batch.
const MAX_DRAFT: usize = 12;
/// Tokens of the history matched to find a draft: the longest that occurs earlier wins.
const MAX_NGRAM: usize = 4;
const MIN_NGRAM: usize = 2;

/// How far the best logit of a batch-verified row must lead the second for its token to be
/// taken from the batch. A batch of several tokens runs different kernels from a one-token
/// decode (llama.cpp's CPU backend repacks weights for matrix-matrix products), and its logits
/// differ from a one-token decode's by up to ~0.4 (measured on Qwen2.5-Coder-0.5B Q4_K_M);
/// a closer call is decided by a one-token decode, as plain greedy decoding would. The KV
/// entries of batch-verified tokens differ in the same way, so later near ties can still go
/// the other way: that is why speculation is opt-in (`--speculate`).
const SURE_MARGIN: f32 = 1.0;

/// The best token and how far its logit leads the second best.
fn top2(logits: &[f32]) -> (Token, f32) {
    let (mut best, mut first, mut second) = (0, f32::NEG_INFINITY, f32::NEG_INFINITY);
    for (i, &l) in logits.iter().enumerate() {
        if l > first {
            second = first;
            first = l;
            best = i;
        } else if l > second {
            second = l;
        }
    }
    (best as Token, first - second)
}

/// Index of the largest logit: greedy decoding without building a candidate array per token.
pub fn argmax(logits: &[f32]) -> Token {
    let mut best = 0;
    let mut best_logit = f32::NEG_INFINITY;
    for (i, &l) in logits.iter().enumerate() {
        if l > best_logit {
            best_logit = l;
            best = i;
        }
    }
    best as Token
}

fn check_fits(tokens: usize, context_size: usize) -> Result<(), ModelError> {
    if tokens == 0 || tokens >= context_size {
        return Err(ModelError::PromptTooLong {
            tokens,
            context_size,
        });
    }
    Ok(())
}

/// How many leading tokens `cached` and `prompt` share.
pub fn shared_prefix(cached: &[Token], prompt: &[Token]) -> usize {
    cached
        .iter()
        .zip(prompt)
        .take_while(|(a, b)| a == b)
        .count()
}

/// Brings the cache to hold `prompt` with the last token's logits ready, decoding only what
/// the cache does not already hold. Returns how many tokens were reused.
pub fn prefill<M: LanguageModel + ?Sized>(
    model: &mut M,
    prompt: &[Token],
) -> Result<usize, ModelError> {
    check_fits(prompt.len(), model.context_size())?;
    let shared = shared_prefix(model.cached(), prompt);
    // The last prompt token is always decoded again, and on its own: its logits start the
    // answer, and a one-token decode computes them the same way whether the rest of the
    // prompt was decoded now, kept from the last request or loaded from disk.
    let last = prompt.len() - 1;
    let keep = shared.min(last);
    model.truncate(keep);
    let reused = model.cached().len().min(keep);
    if reused < last {
        model.decode(&prompt[reused..last], reused, Logits::Last)?;
    }
    model.decode(&prompt[last..], last, Logits::Last)?;
    Ok(reused)
}

/// Greedy generation after `prompt`; see the module documentation.
pub fn run<M: LanguageModel + ?Sized>(
    model: &mut M,
    prompt: &[Token],
    options: &GenerateOptions,
    on_token: &mut OnToken<'_>,
) -> Result<Generation, ModelError> {
    let started = Instant::now();
    let reused = prefill(model, prompt)?;
    let prompt_seconds = started.elapsed().as_secs_f64();
    let generating = Instant::now();
    let mut state = State {
        history: Vec::with_capacity(prompt.len() + options.max_tokens.min(4096)),
        bytes: Vec::with_capacity(options.max_tokens.min(4096) * 4),
        generated: 0,
        drafted: 0,
        accepted: 0,
    };
    state.history.extend_from_slice(prompt);
    let stop = if options.speculate {
        speculative(model, options, &mut state, on_token)?
    } else {
        greedy(model, options, &mut state, on_token)?
    };
    Ok(Generation {
        text: String::from_utf8_lossy(&state.bytes).into_owned(),
        prompt_tokens: prompt.len(),
        reused_tokens: reused,
        generated_tokens: state.generated,
        drafted_tokens: state.drafted,
        accepted_tokens: state.accepted,
        prompt_seconds,
        generate_seconds: generating.elapsed().as_secs_f64(),
        stop,
    })
}

/// The running answer.
struct State {
    /// Prompt and generated tokens: where drafts are looked up.
    history: Vec<Token>,
    bytes: Vec<u8>,
    generated: usize,
    drafted: usize,
    accepted: usize,
}

impl State {
    /// Takes `token` as the next answer token; `Some` when the generation ends with it.
    fn accept<M: LanguageModel + ?Sized>(
        &mut self,
        model: &M,
        token: Token,
        options: &GenerateOptions,
        on_token: &mut OnToken<'_>,
    ) -> Option<StopReason> {
        if model.is_end(token) {
            return Some(StopReason::EndOfGeneration);
        }
        model.push_piece(token, &mut self.bytes);
        self.history.push(token);
        self.generated += 1;
        if on_token(self.generated, &self.bytes).is_break() {
            return Some(StopReason::Stopped);
        }
        if self.generated >= options.max_tokens {
            return Some(StopReason::MaxTokens);
        }
        // The token just taken is decoded next, at position len - 1, which must exist.
        if self.history.len() >= model.context_size() {
            return Some(StopReason::ContextFull);
        }
        None
    }
}

/// One token per decode.
fn greedy<M: LanguageModel + ?Sized>(
    model: &mut M,
    options: &GenerateOptions,
    state: &mut State,
    on_token: &mut OnToken<'_>,
) -> Result<StopReason, ModelError> {
    loop {
        let token = argmax(model.logits(0));
        if let Some(stop) = state.accept(model, token, options, on_token) {
            return Ok(stop);
        }
        model.decode(&[token], state.history.len() - 1, Logits::Last)?;
    }
}

/// Chooses draft lengths from what drafts have cost and earned so far in this generation.
///
/// A decode of k + 1 tokens costs more than one of 1 token, by a factor that depends on the
/// hardware (on a 2-core CPU it grows almost linearly past 4 tokens; on a GPU it is nearly
/// flat), and a draft token is worth something only if every token before it was accepted.
/// So the policy measures the cost of each batch size as it goes, estimates the per-token
/// acceptance rate, and drafts the length with the most expected tokens per second.
struct DraftPolicy {
    /// Seconds per decode of k + 1 tokens, when measured (exponential moving average).
    cost: [Option<f64>; MAX_DRAFT + 1],
    /// Draft tokens accepted and tried, decayed so the estimate follows the answer.
    accepted: f64,
    tried: f64,
}

impl DraftPolicy {
    fn new() -> Self {
        DraftPolicy {
            cost: [None; MAX_DRAFT + 1],
            // A prior of 4 accepted in 5: copying is the common case for edits.
            accepted: 4.0,
            tried: 5.0,
        }
    }

    fn record_cost(&mut self, k: usize, seconds: f64) {
        let slot = &mut self.cost[k.min(MAX_DRAFT)];
        *slot = Some(slot.map_or(seconds, |old| 0.7 * old + 0.3 * seconds));
    }

    fn record_draft(&mut self, proposed: usize, agreed: usize) {
        let rejected = usize::from(agreed < proposed);
        self.accepted = 0.9 * self.accepted + agreed as f64;
        self.tried = 0.9 * self.tried + (agreed + rejected) as f64;
    }

    /// The cost of k draft tokens: measured, or the single-token cost scaled by a guess that
    /// is pessimistic for CPUs, so unmeasured lengths are tried only when they look good.
    fn cost_of(&self, k: usize) -> f64 {
        self.cost[k].unwrap_or_else(|| self.cost[0].unwrap_or(1.0) * (1.0 + 0.5 * k as f64))
    }

    /// The draft length (0: none) with the most expected tokens per second.
    fn length(&self, available: usize) -> usize {
        let p = (self.accepted / self.tried.max(1e-9)).clamp(0.0, 0.99);
        let mut best = (0, 1.0 / self.cost_of(0));
        let mut expected = 1.0;
        let mut p_all = 1.0;
        for k in 1..=available.min(MAX_DRAFT) {
            p_all *= p;
            expected += p_all;
            let value = expected / self.cost_of(k);
            if value > best.1 {
                best = (k, value);
            }
        }
        best.0
    }
}

/// Prompt-lookup speculative decoding; the same tokens as [`greedy`], in fewer decodes.
fn speculative<M: LanguageModel + ?Sized>(
    model: &mut M,
    options: &GenerateOptions,
    state: &mut State,
    on_token: &mut OnToken<'_>,
) -> Result<StopReason, ModelError> {
    let mut policy = DraftPolicy::new();
    let mut draft = Vec::with_capacity(MAX_DRAFT + 1);
    // The model's next token, from the logits of the last decode.
    let mut next = argmax(model.logits(0));
    loop {
        if let Some(stop) = state.accept(model, next, options, on_token) {
            return Ok(stop);
        }
        let pos = state.history.len() - 1;
        // Never draft past the answer's token budget or the context.
        let room = (options.max_tokens - state.generated)
            .min(model.context_size().saturating_sub(pos + 2))
            .min(MAX_DRAFT);
        draft.clear();
        draft.push(next);
        lookup(&state.history, room, &mut draft);
        let k = policy.length(draft.len() - 1);
        draft.truncate(k + 1);
        let started = Instant::now();
        if k == 0 {
            model.decode(&draft, pos, Logits::Last)?;
            policy.record_cost(0, started.elapsed().as_secs_f64());
            next = argmax(model.logits(0));
            continue;
        }
        // Row i holds the model's prediction after draft[..=i].
        model.decode(&draft, pos, Logits::All)?;
        policy.record_cost(k, started.elapsed().as_secs_f64());
        state.drafted += k;
        let mut agreed = 0;
        let (mut predicted, mut margin) = top2(model.logits(0));
        while agreed < k && margin >= SURE_MARGIN && predicted == draft[agreed + 1] {
            agreed += 1;
            state.accepted += 1;
            if let Some(stop) = state.accept(model, predicted, options, on_token) {
                return Ok(stop);
            }
            (predicted, margin) = top2(model.logits(agreed));
        }
        policy.record_draft(k, agreed);
        next = if margin >= SURE_MARGIN {
            // Forget the KV entries of the draft tokens the model did not confirm.
            if agreed < k {
                model.truncate(pos + 1 + agreed);
            }
            predicted
        } else {
            // A near tie: decide it as plain greedy decoding does, with a one-token decode of
            // the last confirmed token (its batch KV entry goes with the unconfirmed ones).
            let last = pos + agreed;
            model.truncate(last);
            model.decode(&draft[agreed..=agreed], last, Logits::Last)?;
            argmax(model.logits(0))
        };
    }
}

/// Appends to `draft` up to `room` tokens that followed the latest earlier occurrence of the
/// history's last n-gram (longest n first), looking in the prompt and the answer so far.
fn lookup(history: &[Token], room: usize, draft: &mut Vec<Token>) {
    let len = history.len();
    for n in (MIN_NGRAM..=MAX_NGRAM).rev() {
        if len <= n {
            continue;
        }
        let tail = &history[len - n..];
        // Latest match first: the answer copies the file in order, so the nearest earlier
        // copy of these tokens is the best guess; the prompt's file is searched as well.
        let found = (0..len - n).rev().find(|&i| &history[i..i + n] == tail);
        if let Some(i) = found {
            let from = i + n;
            let take = room.min(len - from);
            draft.extend_from_slice(&history[from..from + take]);
            return;
        }
    }
}

/// For each label, the log-probability that the answer to `prompt` starts with it, scored on
/// the label's first token: the logits after the prompt, as log-softmax.
pub fn label_scores<M: LanguageModel + ?Sized>(
    model: &mut M,
    prompt: &[Token],
    labels: &[&str],
) -> Result<Vec<f32>, ModelError> {
    prefill(model, prompt)?;
    let mut firsts = Vec::with_capacity(labels.len());
    for label in labels {
        let first = model.tokenize(label, false)?.first().copied();
        firsts.push(
            first.ok_or_else(|| ModelError::Decode(format!("label {label:?} has no tokens")))?,
        );
    }
    let logits = model.logits(0);
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let log_sum = logits.iter().map(|l| (l - max).exp()).sum::<f32>().ln() + max;
    firsts
        .into_iter()
        .map(|t| {
            let logit = usize::try_from(t).ok().and_then(|i| logits.get(i)).copied();
            logit
                .map(|l| l - log_sum)
                .ok_or_else(|| ModelError::Decode(format!("label token {t} out of range")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::GenerateOptions;
    use crate::scripted::Toy;
    use std::ops::ControlFlow;

    const END: Token = 63;

    /// A model that continues a fixed text: after position p it predicts `text[p + 1]`, a
    /// stand-in for a model copying its input with a few changes.
    fn copier(text: Vec<Token>) -> Toy {
        Toy::new(64, END, 4096, move |pos, _| {
            text.get(pos + 1).copied().unwrap_or(END)
        })
    }

    /// A prompt holding a "file", then an answer that copies it with a few changes.
    fn case(seed: u64) -> (Vec<Token>, Vec<Token>) {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut rand = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % m) as Token
        };
        let file: Vec<Token> = (0..200).map(|_| rand(40)).collect();
        let mut answer = Vec::new();
        for (i, &t) in file.iter().enumerate() {
            // Now and then the answer inserts or changes a token.
            match rand(25) {
                0 => answer.push(40 + rand(20)),
                1 => {}
                _ => answer.push(t),
            }
            if i % 50 == 49 {
                answer.push(62);
            }
        }
        let mut prompt = vec![61, 61];
        prompt.extend(&file);
        prompt.push(60);
        (prompt, answer)
    }

    fn generate(
        prompt: &[Token],
        answer: &[Token],
        speculate: bool,
        max: usize,
    ) -> (Generation, usize) {
        let mut text = prompt.to_vec();
        text.extend(answer);
        let mut m = copier(text);
        let options = GenerateOptions {
            max_tokens: max,
            speculate,
        };
        let g = run(&mut m, prompt, &options, &mut |_, _| {
            ControlFlow::Continue(())
        })
        .unwrap();
        // The cache holds exactly prompt + answer but the last token: nothing rejected stays.
        let mut expect = prompt.to_vec();
        expect.extend(&answer[..g.generated_tokens.saturating_sub(1).min(answer.len())]);
        assert_eq!(&m.cache[..expect.len()], &expect[..]);
        (g, m.decodes)
    }

    #[test]
    fn speculation_gives_exactly_the_greedy_output_in_fewer_decodes() {
        for seed in 0..50 {
            let (prompt, answer) = case(seed);
            for max in [usize::MAX, 7, answer.len()] {
                let (plain, plain_decodes) = generate(&prompt, &answer, false, max);
                let (fast, fast_decodes) = generate(&prompt, &answer, true, max);
                assert_eq!(plain.text, fast.text, "seed {seed}, max {max}");
                assert_eq!(plain.stop, fast.stop, "seed {seed}, max {max}");
                assert_eq!(plain.generated_tokens, fast.generated_tokens);
                if max == usize::MAX {
                    let expected: Vec<u8> = answer.iter().map(|&t| b'0' + t as u8).collect();
                    assert_eq!(plain.text.as_bytes(), &expected[..]);
                    // How many decodes speculation saves depends on the timings the policy
                    // measures (noise, for this toy); it never costs extra decodes.
                    assert!(
                        fast_decodes <= plain_decodes,
                        "seed {seed}: {fast_decodes} vs {plain_decodes} decodes"
                    );
                }
            }
        }
    }

    #[test]
    fn the_observer_stops_both_loops_at_the_token_it_saw() {
        let (prompt, answer) = case(7);
        for speculate in [false, true] {
            let mut text = prompt.clone();
            text.extend(&answer);
            let mut m = copier(text);
            let options = GenerateOptions {
                max_tokens: usize::MAX,
                speculate,
            };
            let mut seen = Vec::new();
            let g = run(&mut m, &prompt, &options, &mut |n, bytes| {
                seen = bytes.to_vec();
                if n == 37 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })
            .unwrap();
            assert_eq!(g.stop, StopReason::Stopped);
            assert_eq!(g.generated_tokens, 37, "speculate {speculate}");
            let expected: Vec<u8> = answer[..37].iter().map(|&t| b'0' + t as u8).collect();
            assert_eq!(g.text.as_bytes(), &expected[..]);
            assert_eq!(seen, expected, "the observer saw the answer so far");
        }
    }

    #[test]
    fn the_policy_drafts_what_pays_for_its_cost() {
        let mut policy = DraftPolicy::new();
        // A CPU: k + 1 tokens cost almost k + 1 times one token.
        for k in 0..=MAX_DRAFT {
            policy.record_cost(k, 0.08 * (1.0 + 0.6 * k as f64));
        }
        // Nearly everything accepted (a copy): long drafts pay.
        policy.accepted = 99.0;
        policy.tried = 100.0;
        assert!(policy.length(MAX_DRAFT) >= 8);
        // Four in five: only short drafts pay for themselves.
        policy.accepted = 8.0;
        policy.tried = 10.0;
        let k = policy.length(MAX_DRAFT);
        assert!((1..=3).contains(&k), "{k}");
        // Drafts that keep failing are not worth their cost.
        policy.accepted = 1.0;
        policy.tried = 10.0;
        assert_eq!(policy.length(MAX_DRAFT), 0);
        // A GPU: a batch costs what one token costs, so draft all that is there.
        let mut policy = DraftPolicy::new();
        for k in 0..=MAX_DRAFT {
            policy.record_cost(k, 0.01);
        }
        policy.accepted = 8.0;
        policy.tried = 10.0;
        assert_eq!(policy.length(MAX_DRAFT), MAX_DRAFT);
    }

    #[test]
    fn lookup_prefers_the_latest_longest_match() {
        let history = [1, 2, 3, 9, 1, 2, 3, 7, 8, 5, 1, 2, 3];
        let mut draft = vec![];
        lookup(&history, 3, &mut draft);
        assert_eq!(draft, vec![7, 8, 5]);
        let mut draft = vec![];
        lookup(&[4, 5, 6], 3, &mut draft);
        assert!(draft.is_empty());
    }

    /// A model over digits: after token t it predicts t + 1; token 9 ends the generation.
    fn counter(context: usize) -> Toy {
        Toy::new(10, 9, context, |_, t| (t + 1) % 10)
    }

    fn answer_of(model: &mut Toy, prompt: &str, max_tokens: usize) -> Generation {
        let tokens = model.tokenize(prompt, true).unwrap();
        let mut seen = 0;
        let g = model
            .generate(&tokens, &GenerateOptions::new(max_tokens), &mut |n, _| {
                seen = n;
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(seen, g.generated_tokens);
        g
    }

    #[test]
    fn greedy_follows_the_largest_logit_until_the_end_token() {
        let mut m = counter(64);
        let g = answer_of(&mut m, "12", 100);
        assert_eq!(
            (g.text.as_str(), g.stop, g.prompt_tokens),
            ("345678", StopReason::EndOfGeneration, 2)
        );
        // A second generation keeps what it shares with the cache and decodes the rest.
        let g = answer_of(&mut m, "5", 100);
        assert_eq!(g.text, "678");
        assert_eq!(m.cache.len(), 4);
        let before = m.decoded;
        let g = answer_of(&mut m, "56", 100);
        assert_eq!((g.text.as_str(), g.reused_tokens), ("78", 1));
        assert_eq!(
            m.decoded - before,
            3,
            "one prompt token and the two generated"
        );
    }

    #[test]
    fn greedy_stops_at_max_tokens_and_at_the_context_end() {
        let mut m = counter(64);
        assert_eq!(answer_of(&mut m, "0", 3).stop, StopReason::MaxTokens);
        let mut m = counter(4);
        let g = answer_of(&mut m, "0", 100);
        assert_eq!((g.text.as_str(), g.stop), ("123", StopReason::ContextFull));
    }

    #[test]
    fn prompt_that_fills_the_context_is_refused() {
        let mut m = counter(3);
        let tokens = m.tokenize("123", true).unwrap();
        let err = m.generate(&tokens, &GenerateOptions::new(1), &mut |_, _| {
            ControlFlow::Continue(())
        });
        assert!(matches!(
            err,
            Err(ModelError::PromptTooLong {
                tokens: 3,
                context_size: 3
            })
        ));
    }

    #[test]
    fn label_scores_are_log_probabilities_of_first_tokens() {
        let mut m = counter(64);
        let prompt = m.tokenize("4", true).unwrap();
        let scores = m.label_scores(&prompt, &["5", "7"]).unwrap();
        assert!(scores[0] > scores[1]);
        // Probabilities: e / (e + 9) and 1 / (e + 9).
        let e = 1.0f32.exp();
        assert!(
            (scores[0] - (e / (e + 9.0)).ln()).abs() < 1e-5,
            "{scores:?}"
        );
        assert!(
            (scores[1] - (1.0 / (e + 9.0)).ln()).abs() < 1e-5,
            "{scores:?}"
        );
    }
}

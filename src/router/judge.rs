//! The few-shot judge: an editor model, which most runs load anyway, decides a file's role by
//! comparing the log-probabilities of the two labels after a fixed prompt of labelled examples.
//!
//! Owns the examples, the prompt built from them and the scores. It does not decide when the
//! judge is trusted (that is the margin in `router`), nor load the model (`lifecycle`). The
//! system prompt and the examples come first and never change, so the KV cache keeps them from
//! one file to the next (`generate::prefill` reuses the shared prefix): each file decodes only
//! its own task's tokens.

use crate::config::Role;
use crate::model::{ChatMessage, LanguageModel, ModelError};

use super::LABELS;

const SYSTEM: &str = "You sort code-editing tasks into two kinds. \
'algorithm': the task changes how the code computes: speed, complexity, memory use, data \
structures, a different algorithm, or the numeric or logical correctness of a computation. \
'coder': everything else, such as renaming, documentation, comments, tests, logging, error \
handling, validation, types, refactoring for readability, formatting and configuration, even \
when the code it touches is an algorithm. Reply with one word: coder or algorithm.";

/// The labelled examples, from the development cases (`fixtures/router_cases.json`), alternating
/// so that neither label is always the last one seen. Chosen to show the confusable kinds: work
/// on an algorithm's documentation, tests or errors is `coder`; a correctness fix inside a
/// computation is `algorithm`. When the task being judged is one of them, that example is left
/// out, so the development figures never score a case the prompt shows its answer to.
pub const EXAMPLES: &[(&str, Role)] = &[
    (
        "add a docstring to `lru_get` that explains its time complexity",
        Role::Coder,
    ),
    ("make `parse_config` faster", Role::Algorithm),
    (
        "write unit tests for `quicksort` covering empty and already-sorted input",
        Role::Coder,
    ),
    (
        "fix the off-by-one in `binary_search` that misses the last element",
        Role::Algorithm,
    ),
    (
        "add logging around the retry loop in `SendWithRetry`",
        Role::Coder,
    ),
    (
        "use Kahan summation in `total` to reduce floating point error",
        Role::Algorithm,
    ),
    (
        "make `levenshtein` return a Result instead of panicking on empty input",
        Role::Coder,
    ),
    (
        "make LRU eviction O(1) instead of scanning for the oldest entry",
        Role::Algorithm,
    ),
    (
        "split `handle_request` into smaller helper functions for readability",
        Role::Coder,
    ),
    (
        "the LCS function uses too much memory; reduce it to O(min(n, m)) space",
        Role::Algorithm,
    ),
];

fn task(instruction: &str) -> String {
    format!("Task: {instruction}")
}

/// The judge's prompt for one task: the fixed system prompt and examples (less any example
/// whose task is this one), then the task.
pub fn prompt(instruction: &str) -> Vec<ChatMessage> {
    let mut messages = vec![ChatMessage::system(SYSTEM)];
    for (example, role) in EXAMPLES {
        if example.trim() == instruction.trim() {
            continue;
        }
        messages.push(ChatMessage::user(task(example)));
        messages.push(ChatMessage::assistant(role.name()));
    }
    messages.push(ChatMessage::user(task(instruction)));
    messages
}

/// The log-probabilities of `coder` and `algorithm` as the answer to `instruction`.
pub fn scores<M: LanguageModel + ?Sized>(
    model: &mut M,
    instruction: &str,
) -> Result<[f32; 2], ModelError> {
    let text = model.chat_prompt(&prompt(instruction))?;
    let tokens = model.tokenize(&text, true)?;
    let scores = model.label_scores(&tokens, &LABELS)?;
    Ok([scores[0], scores[1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_examples_are_balanced_and_alternate() {
        let coder = EXAMPLES.iter().filter(|(_, r)| *r == Role::Coder).count();
        assert_eq!(coder * 2, EXAMPLES.len());
        assert!(EXAMPLES.windows(2).all(|w| w[0].1 != w[1].1));
    }

    #[test]
    fn the_prompt_shares_its_prefix_and_leaves_out_the_task_being_judged() {
        let a = prompt("make `x` faster");
        let b = prompt("add a docstring to `y`");
        // System, every example as a user/assistant pair, then the task.
        assert_eq!(a.len(), 2 + 2 * EXAMPLES.len());
        assert_eq!(a[..a.len() - 1], b[..b.len() - 1]);
        assert_eq!(a.last().unwrap().content, "Task: make `x` faster");
        assert_eq!(a[2].content, "coder");
        // An example's own task is judged without its answer in the prompt.
        let (own, _) = EXAMPLES[1];
        let c = prompt(own);
        assert_eq!(c.len(), a.len() - 2);
        assert_eq!(c.iter().filter(|m| m.content == task(own)).count(), 1);
    }
}

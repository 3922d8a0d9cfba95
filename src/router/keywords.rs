//! The keyword table: the router's deterministic fallback, and the decider whenever the router
//! model is unsure or unavailable.
//!
//! Owns the two word lists and the verdict they give. Measured on the labelled cases (see the
//! README), it beats the tiny router models; it does not look at files, only at the words.

use crate::config::Role;

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
    "error handling",
    "wrap the error",
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
    "recursi",
    "iterativ",
    "blow the stack",
    "edge case",
    "corner case",
    "line by line",
    "streaming",
    "into memory",
    "cache friendly",
    "cache-friendly",
    "thrash",
    "loop order",
    "caching",
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
    "cache ",
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

/// The keyword table's verdict: documentation/testing/style phrases mean the coder even when
/// the task names an algorithm; otherwise any algorithmic word means the algorithm model.
pub fn role(instruction: &str) -> (Role, String) {
    let lower = instruction.to_lowercase();
    if let Some(w) = CODER_FIRST.iter().find(|w| lower.contains(*w)) {
        return (
            Role::Coder,
            format!("keywords: \"{}\" is editing work", w.trim()),
        );
    }
    match ALGORITHM_WORDS.iter().find(|w| lower.contains(*w)) {
        Some(w) => (
            Role::Algorithm,
            format!("keywords: \"{w}\" is algorithmic work"),
        ),
        None => (Role::Coder, "keywords: no algorithmic keyword".to_owned()),
    }
}

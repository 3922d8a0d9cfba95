//! How the router reads an instruction's text as words: the runs of letters and digits, or the
//! words of a clause as written (file names, paths and flags whole). A leaf: it knows no rule.

/// The words of a (lower-cased) text: its runs of letters and digits.
pub fn alphanumeric(lower: &str) -> Vec<&str> {
    lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// The words of a (lower-cased) clause as written, split at spaces, quotes, commas and
/// brackets, with trailing sentence punctuation trimmed: `utils.py`, `src/api/` and `--dry-run`
/// stay whole.
pub fn as_written(lower: &str) -> Vec<&str> {
    lower
        .split(|c: char| c.is_whitespace() || matches!(c, '`' | '"' | ',' | ';' | '(' | ')'))
        .map(|w| w.trim_end_matches(['.', ':', '!', '?']))
        .filter(|w| !w.is_empty())
        .collect()
}

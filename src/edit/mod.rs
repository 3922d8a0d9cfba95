//! Turning a language model's answer into the new content of one file.
//!
//! This module owns two steps: parsing the model's answer (search/replace
//! blocks, a whole file inside a code fence, or an explicit `NO_CHANGE`) and
//! applying search/replace blocks to the file's original text, trying an
//! exact match first and then more lenient ones that forgive the whitespace
//! slips small models make. It does not build prompts, call models, read or
//! write files, or print anything: callers decide what to do with an
//! [`EditError`], and each variant's documentation says whether asking the
//! model again can help.

use std::ops::Range;

/// One search/replace edit. `search` must occur in the file and is replaced
/// by `replace`; both are whole lines ending in `'\n'`, or empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    pub search: String,
    pub replace: String,
}

/// What a model's answer asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Search/replace blocks, applied in order.
    Blocks(Vec<Block>),
    /// The complete new content of the file.
    WholeFile(String),
    /// The model says the file needs no change.
    NoChange,
}

/// How a block's search text was found in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// Found verbatim.
    Exact,
    /// Found once trailing whitespace was ignored on every line.
    TrailingWhitespace,
    /// Found once leading and trailing whitespace was ignored; the
    /// replacement was re-indented to fit the file.
    Indentation,
}

/// The new file content, and how each block matched, in block order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub text: String,
    pub matches: Vec<MatchKind>,
}

/// Why an answer could not be turned into new file content.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum EditError {
    /// A block's search text matches no lines of the file, even leniently.
    /// Retrying can help: the model can copy the lines from the file exactly.
    #[error(
        "block {block}: the search text starting with \"{first_line}\" does not match any lines of the file"
    )]
    NoMatch { block: usize, first_line: String },

    /// A block's search text matches several places in the file. Retrying can
    /// help: the model can include more surrounding lines to pick one place.
    #[error(
        "block {block}: the search text starting with \"{first_line}\" matches {count} places in the file, so it is unclear which one to change"
    )]
    Ambiguous {
        block: usize,
        first_line: String,
        count: usize,
    },

    /// The answer's edit blocks are broken (a missing `=======` or REPLACE
    /// marker, an empty SEARCH on a non-empty file, a cut-off code fence).
    /// Retrying can help: the model can resend well-formed blocks.
    #[error("the answer is malformed: {reason}")]
    Malformed { reason: String },

    /// The answer has no edit blocks, no code fence and no `NO_CHANGE` line.
    /// Retrying can help if the model is reminded of the answer format.
    #[error("the answer contains no edit blocks, no code block and no NO_CHANGE line")]
    Empty,

    /// The answer gave a whole file where only edit blocks are accepted.
    /// Retrying can help if the model is told to answer with SEARCH/REPLACE
    /// blocks instead.
    #[error(
        "the answer gives a whole file in a code block, but only SEARCH/REPLACE blocks are accepted here"
    )]
    WholeFileNotAllowed,
}

impl EditError {
    /// The stable name of the variant in the JSON report.
    pub fn kind(&self) -> &'static str {
        match self {
            EditError::NoMatch { .. } => "search-not-found",
            EditError::Ambiguous { .. } => "search-ambiguous",
            EditError::Malformed { .. } => "malformed-answer",
            EditError::Empty => "empty-answer",
            EditError::WholeFileNotAllowed => "whole-file-not-allowed",
        }
    }
}

/// Shortest and longest run of `<`, `=` or `>` accepted as a block marker;
/// small models miscount the canonical seven.
const MARKER_RUN: std::ops::RangeInclusive<usize> = 5..=9;

/// How many characters of a search text's first line an error quotes.
const QUOTE_LIMIT: usize = 60;

/// The line a model writes to say the file needs no change.
const NO_CHANGE: &str = "NO_CHANGE";

const LF: &str = "\n";
const CRLF: &str = "\r\n";

/// Parses a model's answer.
///
/// Edit blocks win over everything else; without them a `NO_CHANGE` line
/// means no change, and otherwise the longest fenced code block is taken as
/// the whole new file, if `allow_whole_file` permits it.
pub fn parse_answer(answer: &str, allow_whole_file: bool) -> Result<Answer, EditError> {
    let answer = normalize_newlines(answer);
    let lines: Vec<&str> = answer.lines().collect();
    let blocks = parse_blocks(&lines)?;
    if !blocks.is_empty() {
        return Ok(Answer::Blocks(blocks));
    }
    let scan = scan_fences(&lines);
    if scan.no_change {
        return Ok(Answer::NoChange);
    }
    match longest(scan.contents) {
        Some(content) if allow_whole_file => Ok(Answer::WholeFile(content)),
        Some(_) => Err(EditError::WholeFileNotAllowed),
        // A fence that never closes means the answer was most likely cut off;
        // taking it as the file would silently truncate the file.
        None if scan.unclosed => Err(malformed(
            "a code block is opened but never closed, so the answer looks cut off".to_string(),
        )),
        None => Err(EditError::Empty),
    }
}

/// Whether a partial answer has just closed a block whose SEARCH text an earlier block
/// already had.
///
/// A sound answer never searches for the same text twice: after the first block the text is
/// gone (the second would fail) or still there (the second would insert its text a second
/// time). Small models that do it are in a loop that only the context limit would end. Cheap
/// unless the answer's last line is a REPLACE marker, so it can run after every token.
pub fn repeats_itself(partial: &[u8]) -> bool {
    if !partial.ends_with(b"\n") {
        return false;
    }
    // Tokens often carry several line breaks: look at the last line with text on it.
    let last = partial
        .split(|&b| b == b'\n')
        .rev()
        .find(|line| !line.iter().all(u8::is_ascii_whitespace));
    if last.is_none_or(|line| marker(&String::from_utf8_lossy(line)) != Some(Marker::Replace)) {
        return false;
    }
    let text = normalize_newlines(&String::from_utf8_lossy(partial));
    let lines: Vec<&str> = text.lines().collect();
    parse_blocks(&lines).is_ok_and(|blocks| {
        blocks
            .split_last()
            .is_some_and(|(last, earlier)| earlier.iter().any(|b| b.search == last.search))
    })
}

/// Drops every block whose SEARCH text an earlier block already had (see
/// [`repeats_itself`]); returns how many were dropped.
pub fn drop_repeats(answer: &mut Answer) -> usize {
    let Answer::Blocks(blocks) = answer else {
        return 0;
    };
    let before = blocks.len();
    let mut kept: Vec<Block> = Vec::with_capacity(before);
    for block in blocks.drain(..) {
        if !kept.iter().any(|k| k.search == block.search) {
            kept.push(block);
        }
    }
    *blocks = kept;
    before - blocks.len()
}

/// Applies `blocks` in order, each to the result of the ones before it.
pub fn apply_blocks(original: &str, blocks: &[Block]) -> Result<Applied, EditError> {
    // Detected once, so every block inserts lines in the original file's style.
    let eol = detect_eol(original);
    let mut text = original.to_string();
    let mut matches = Vec::with_capacity(blocks.len());
    for (index, block) in blocks.iter().enumerate() {
        let (next, kind) = apply_block(&text, block, index + 1, eol)?;
        text = next;
        matches.push(kind);
    }
    Ok(Applied { text, matches })
}

/// Produces the new file content an answer asks for.
///
/// A whole-file answer keeps the original's line ending style and whether it
/// ends with a newline, since models rarely get either right.
pub fn resolve(original: &str, answer: &Answer) -> Result<Applied, EditError> {
    match answer {
        Answer::NoChange => Ok(Applied {
            text: original.to_string(),
            matches: Vec::new(),
        }),
        Answer::WholeFile(text) => Ok(Applied {
            text: fit_whole_file(original, text),
            matches: Vec::new(),
        }),
        Answer::Blocks(blocks) => apply_blocks(original, blocks),
    }
}

// ---------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Marker {
    Search,
    Divider,
    Replace,
}

/// Recognises a marker line, tolerating 5 to 9 marker characters, spaces
/// around them and any case of SEARCH/REPLACE.
fn marker(line: &str) -> Option<Marker> {
    let line = line.trim();
    let first = line.chars().next()?;
    let (kind, word) = match first {
        '<' => (Marker::Search, "search"),
        '=' => (Marker::Divider, ""),
        '>' => (Marker::Replace, "replace"),
        _ => return None,
    };
    // The marker characters are ASCII, so the count is also a byte offset.
    let run = line.chars().take_while(|&c| c == first).count();
    let rest = line[run..].trim();
    (MARKER_RUN.contains(&run) && rest.eq_ignore_ascii_case(word)).then_some(kind)
}

/// Where the block parser is between lines.
enum State<'a> {
    Outside,
    Search(Vec<&'a str>),
    Replace(Vec<&'a str>, Vec<&'a str>),
}

/// Collects the search/replace blocks; lines outside blocks are ignored.
fn parse_blocks(lines: &[&str]) -> Result<Vec<Block>, EditError> {
    let mut blocks = Vec::new();
    let mut state = State::Outside;
    for &line in lines {
        let number = blocks.len() + 1;
        state = match (state, marker(line)) {
            (State::Outside, Some(Marker::Search)) => State::Search(Vec::new()),
            // Ignoring this could silently drop an edit whose SEARCH line the
            // model forgot, so it is an error rather than noise.
            (State::Outside, Some(Marker::Replace)) => {
                return Err(malformed(format!(
                "a REPLACE marker appears where block {number} should start with a SEARCH marker"
            )))
            }
            // Prose, fences, file names and stray `=======` underlines.
            (State::Outside, _) => State::Outside,
            (State::Search(search), Some(Marker::Divider)) => State::Replace(search, Vec::new()),
            (State::Search(_), Some(Marker::Search)) => {
                return Err(malformed(format!(
                    "block {number} has a second SEARCH marker before its ======= line"
                )))
            }
            (State::Search(_), Some(Marker::Replace)) => {
                return Err(malformed(format!(
                    "block {number} has no ======= line between its SEARCH and REPLACE markers"
                )))
            }
            (State::Search(mut search), None) => {
                search.push(line);
                State::Search(search)
            }
            (State::Replace(search, replace), Some(Marker::Replace)) => {
                blocks.push(Block {
                    search: join_lines(&search),
                    replace: join_lines(&replace),
                });
                State::Outside
            }
            (State::Replace(..), Some(Marker::Search)) => {
                return Err(malformed(format!(
                    "block {number} has no REPLACE marker before the next SEARCH marker"
                )))
            }
            // A `=======` after the divider is replacement text (e.g. a
            // Markdown underline), not a marker.
            (State::Replace(search, mut replace), _) => {
                replace.push(line);
                State::Replace(search, replace)
            }
        };
    }
    let number = blocks.len() + 1;
    match state {
        State::Outside => Ok(blocks),
        State::Search(_) => Err(malformed(format!(
            "block {number} ends before its ======= line"
        ))),
        State::Replace(..) => Err(malformed(format!(
            "block {number} has no REPLACE marker at its end"
        ))),
    }
}

/// Block text is whole lines: each line followed by `'\n'`, or empty.
fn join_lines(lines: &[&str]) -> String {
    lines.iter().map(|line| format!("{line}\n")).collect()
}

/// What a pass over the answer's code fences found.
#[derive(Default)]
struct FenceScan {
    /// Content of each closed, non-blank fence, in answer order.
    contents: Vec<String>,
    /// A fence was still open at the end of the answer.
    unclosed: bool,
    /// A `NO_CHANGE` line appeared outside fences, or as a fence's only line.
    no_change: bool,
}

/// Finds fenced code blocks and `NO_CHANGE` lines. A `NO_CHANGE` line inside
/// a longer fence is file content, not the marker, so fences are tracked.
fn scan_fences(lines: &[&str]) -> FenceScan {
    let mut scan = FenceScan::default();
    let mut open: Option<(usize, Vec<&str>)> = None;
    for &line in lines {
        open = match open {
            None => {
                let opened = fence_open(line).map(|ticks| (ticks, Vec::new()));
                if opened.is_none() && is_no_change(line) {
                    scan.no_change = true;
                }
                opened
            }
            Some((ticks, body)) if fence_closes(line, ticks) => {
                scan.close(&body);
                None
            }
            Some((ticks, mut body)) => {
                body.push(line);
                Some((ticks, body))
            }
        };
    }
    scan.unclosed = open.is_some();
    scan
}

impl FenceScan {
    fn close(&mut self, body: &[&str]) {
        if let [only] = body {
            if is_no_change(only) {
                self.no_change = true;
                return;
            }
        }
        // An empty fence is never a plausible whole file; taking it would wipe
        // the file.
        if body.iter().any(|line| !line.trim().is_empty()) {
            self.contents.push(join_lines(body));
        }
    }
}

/// An opening fence: three or more backticks, then an optional language tag.
fn fence_open(line: &str) -> Option<usize> {
    let line = line.trim_start();
    let ticks = line.chars().take_while(|&c| c == '`').count();
    (ticks >= 3 && !line[ticks..].contains('`')).then_some(ticks)
}

/// A closing fence: only backticks, at least as many as opened the fence.
fn fence_closes(line: &str, ticks: usize) -> bool {
    let line = line.trim();
    line.len() >= ticks && line.chars().all(|c| c == '`')
}

/// `NO_CHANGE` alone on a line; backticks or bold stars around it are
/// forgiven because models like to format the marker.
fn is_no_change(line: &str) -> bool {
    line.trim().trim_matches(['`', '*']).trim() == NO_CHANGE
}

/// The longest text; the first one wins a tie.
fn longest(contents: Vec<String>) -> Option<String> {
    contents
        .into_iter()
        .reduce(|best, next| if next.len() > best.len() { next } else { best })
}

fn malformed(reason: String) -> EditError {
    EditError::Malformed { reason }
}

// ---------------------------------------------------------------------------
// Applying
// ---------------------------------------------------------------------------

/// One block, ready to match against the current text.
struct Edit<'a> {
    /// The current text, always ending with a line break.
    work: &'a str,
    search: &'a str,
    replace: &'a str,
    eol: &'a str,
}

/// Outcome of looking for the search text.
enum Found {
    Nowhere,
    Once(usize),
    Many(usize),
}

impl Found {
    fn from_hits(hits: &[usize]) -> Self {
        match hits {
            [] => Found::Nowhere,
            [one] => Found::Once(*one),
            many => Found::Many(many.len()),
        }
    }
}

/// Outcome of one matching tier.
enum Tier {
    Replaced(String),
    Ambiguous(usize),
    Missing,
}

fn apply_block(
    text: &str,
    block: &Block,
    number: usize,
    eol: &str,
) -> Result<(String, MatchKind), EditError> {
    let search = block_text(&block.search);
    let replace = block_text(&block.replace);
    if search.is_empty() {
        return insert_into_empty(text, &replace, number, eol);
    }
    // A last line without a line break could never match search text, which
    // always ends in one; lend it one while matching and take it back after,
    // so the file keeps its final-newline convention.
    let lent = !text.is_empty() && !text.ends_with('\n');
    let work = if lent {
        format!("{text}{eol}")
    } else {
        text.to_string()
    };
    let edit = Edit {
        work: &work,
        search: &search,
        replace: &replace,
        eol,
    };
    let (result, kind) = apply_tiers(&edit, number)?;
    Ok((
        if lent {
            drop_final_newline(result)
        } else {
            result
        },
        kind,
    ))
}

/// Tries each tier from strict to lenient. An ambiguous tier stops the
/// search: a more lenient tier would only match more places.
fn apply_tiers(edit: &Edit, number: usize) -> Result<(String, MatchKind), EditError> {
    for kind in [
        MatchKind::Exact,
        MatchKind::TrailingWhitespace,
        MatchKind::Indentation,
    ] {
        match run_tier(edit, kind) {
            Tier::Replaced(text) => return Ok((text, kind)),
            Tier::Ambiguous(count) => {
                return Err(EditError::Ambiguous {
                    block: number,
                    first_line: first_line(edit.search),
                    count,
                })
            }
            Tier::Missing => {}
        }
    }
    Err(EditError::NoMatch {
        block: number,
        first_line: first_line(edit.search),
    })
}

fn run_tier(edit: &Edit, kind: MatchKind) -> Tier {
    match kind {
        MatchKind::Exact => exact_tier(edit),
        MatchKind::TrailingWhitespace => window_tier(edit, same_ignoring_trailing, false),
        MatchKind::Indentation => window_tier(edit, same_ignoring_indentation, true),
    }
}

/// The search text verbatim (in the file's line ending style), starting at a
/// line boundary.
fn exact_tier(edit: &Edit) -> Tier {
    let needle = with_eol(edit.search, edit.eol);
    match find_at_line_starts(edit.work, &needle) {
        Found::Once(at) => {
            let replacement = with_eol(edit.replace, edit.eol);
            Tier::Replaced(splice(edit.work, at..at + needle.len(), &replacement))
        }
        Found::Many(count) => Tier::Ambiguous(count),
        Found::Nowhere => Tier::Missing,
    }
}

/// Counts overlapping occurrences too: those are just as ambiguous.
fn find_at_line_starts(haystack: &str, needle: &str) -> Found {
    let line_starts = std::iter::once(0).chain(haystack.match_indices('\n').map(|(at, _)| at + 1));
    let hits: Vec<usize> = line_starts
        .filter(|&start| haystack[start..].starts_with(needle))
        .collect();
    Found::from_hits(&hits)
}

/// Compares the search's lines with every window of as many file lines,
/// using `same`; on a unique match replaces those whole lines.
fn window_tier(edit: &Edit, same: fn(&str, &str) -> bool, reindent: bool) -> Tier {
    let lines = file_lines(edit.work);
    let texts: Vec<&str> = lines.iter().map(|line| line.text).collect();
    let search: Vec<&str> = edit.search.lines().collect();
    match find_window(&texts, &search, same) {
        Found::Once(first) => {
            let last = first + search.len() - 1;
            let replacement = if reindent {
                reindent_replacement(edit.replace, &search, &texts[first..=last])
            } else {
                edit.replace.to_string()
            };
            let range = lines[first].start..lines[last].end;
            Tier::Replaced(splice(edit.work, range, &with_eol(&replacement, edit.eol)))
        }
        Found::Many(count) => Tier::Ambiguous(count),
        Found::Nowhere => Tier::Missing,
    }
}

fn find_window(file: &[&str], search: &[&str], same: fn(&str, &str) -> bool) -> Found {
    if search.is_empty() {
        return Found::Nowhere;
    }
    let hits: Vec<usize> = file
        .windows(search.len())
        .enumerate()
        .filter(|(_, window)| window.iter().zip(search).all(|(f, s)| same(f, s)))
        .map(|(start, _)| start)
        .collect();
    Found::from_hits(&hits)
}

/// `trim_end` also drops the `'\r'` of CRLF lines, so mixed endings match.
fn same_ignoring_trailing(file: &str, search: &str) -> bool {
    file.trim_end() == search.trim_end()
}

fn same_ignoring_indentation(file: &str, search: &str) -> bool {
    file.trim() == search.trim()
}

/// A line of the file: its byte range including the line break, and its
/// text without the `'\n'` (a CRLF line keeps its `'\r'`).
struct Line<'a> {
    start: usize,
    end: usize,
    text: &'a str,
}

fn file_lines(text: &str) -> Vec<Line<'_>> {
    let mut start = 0;
    text.split_inclusive('\n')
        .map(|piece| {
            let line = Line {
                start,
                end: start + piece.len(),
                text: piece.trim_end_matches('\n'),
            };
            start = line.end;
            line
        })
        .collect()
}

/// Shifts the replacement by the indentation difference between the search
/// and the matched file lines, measured at the first non-blank line.
fn reindent_replacement(replace: &str, search: &[&str], window: &[&str]) -> String {
    // Blank lines match only blank lines, so the same index is non-blank in
    // both the search and the window.
    let Some(anchor) = search.iter().position(|line| !line.trim().is_empty()) else {
        return replace.to_string();
    };
    let (Some(search_line), Some(file_line)) = (search.get(anchor), window.get(anchor)) else {
        return replace.to_string();
    };
    let from = leading_whitespace(search_line);
    let to = leading_whitespace(file_line);
    replace
        .lines()
        .map(|line| format!("{}\n", reindent_line(line, from, to)))
        .collect()
}

/// Swaps the search's base indentation `from` for the file's `to`. Swapping
/// rather than counting keeps tabs right when the model wrote spaces; lines
/// not starting with `from` are shifted by the difference in length.
fn reindent_line(line: &str, from: &str, to: &str) -> String {
    if line.trim().is_empty() {
        return line.to_string();
    }
    if let Some(rest) = line.strip_prefix(from) {
        return format!("{to}{rest}");
    }
    let (from_len, to_len) = (from.chars().count(), to.chars().count());
    if to_len >= from_len {
        let extra: String = to.chars().take(to_len - from_len).collect();
        format!("{extra}{line}")
    } else {
        strip_leading_whitespace(line, from_len - to_len).to_string()
    }
}

fn leading_whitespace(line: &str) -> &str {
    &line[..line.len() - line.trim_start().len()]
}

/// Removes up to `count` leading whitespace characters.
fn strip_leading_whitespace(line: &str, count: usize) -> &str {
    let cut: usize = line
        .chars()
        .take(count)
        .take_while(|c| c.is_whitespace())
        .map(char::len_utf8)
        .sum();
    &line[cut..]
}

/// An empty search means "insert", which only makes sense for an empty (or
/// blank) file; anywhere else the model forgot to say where.
fn insert_into_empty(
    text: &str,
    replace: &str,
    number: usize,
    eol: &str,
) -> Result<(String, MatchKind), EditError> {
    if text.trim().is_empty() {
        Ok((with_eol(replace, eol), MatchKind::Exact))
    } else {
        Err(malformed(format!(
            "block {number} has an empty SEARCH section, which is only allowed when the file is empty"
        )))
    }
}

/// A whole-file answer with the original's line endings and final-newline
/// convention. An empty original has no convention, so the answer is kept.
fn fit_whole_file(original: &str, answer: &str) -> String {
    let mut text = normalize_newlines(answer);
    if original.ends_with('\n') {
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
    } else if !original.is_empty() {
        text.truncate(text.trim_end_matches('\n').len());
    }
    with_eol(&text, detect_eol(original))
}

/// CRLF when most line breaks are CRLF; LF otherwise (including no breaks).
fn detect_eol(text: &str) -> &'static str {
    let breaks = text.matches('\n').count();
    let crlf = text.matches(CRLF).count();
    if crlf * 2 > breaks {
        CRLF
    } else {
        LF
    }
}

fn normalize_newlines(text: &str) -> String {
    text.replace(CRLF, LF)
}

/// Block text as whole `'\n'`-terminated lines, whoever built the block.
fn block_text(text: &str) -> String {
    let mut text = normalize_newlines(text);
    if !text.is_empty() && !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

/// Converts `'\n'`-only text to the file's line ending style.
fn with_eol(text: &str, eol: &str) -> String {
    if eol == LF {
        text.to_string()
    } else {
        text.replace(LF, eol)
    }
}

fn drop_final_newline(mut text: String) -> String {
    if text.ends_with('\n') {
        text.pop();
        if text.ends_with('\r') {
            text.pop();
        }
    }
    text
}

fn splice(text: &str, range: Range<usize>, insert: &str) -> String {
    format!("{}{insert}{}", &text[..range.start], &text[range.end..])
}

/// The first non-blank line of a search text, trimmed and shortened for an
/// error message.
fn first_line(search: &str) -> String {
    let line = search
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or("");
    if line.chars().count() <= QUOTE_LIMIT {
        return line.to_string();
    }
    let mut short: String = line.chars().take(QUOTE_LIMIT).collect();
    short.push_str("...");
    short
}

#[cfg(test)]
mod tests;

/// Characters that change how a line reads without being seen: bidirectional controls (the
/// "Trojan Source" attack, CVE-2021-42574), zero-width and other invisible characters, and
/// Unicode tags. A small model should never add them; a poisoned file might ask it to.
fn hidden_character_name(c: char) -> Option<&'static str> {
    Some(match c {
        '\u{202A}' => "LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => "RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => "POP DIRECTIONAL FORMATTING",
        '\u{202D}' => "LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => "RIGHT-TO-LEFT OVERRIDE",
        '\u{2066}' => "LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => "RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => "FIRST STRONG ISOLATE",
        '\u{2069}' => "POP DIRECTIONAL ISOLATE",
        '\u{200E}' => "LEFT-TO-RIGHT MARK",
        '\u{200F}' => "RIGHT-TO-LEFT MARK",
        '\u{061C}' => "ARABIC LETTER MARK",
        '\u{200B}' => "ZERO WIDTH SPACE",
        '\u{200C}' => "ZERO WIDTH NON-JOINER",
        '\u{200D}' => "ZERO WIDTH JOINER",
        '\u{2060}' => "WORD JOINER",
        '\u{2061}'..='\u{2064}' => "INVISIBLE OPERATOR",
        '\u{FEFF}' => "ZERO WIDTH NO-BREAK SPACE",
        '\u{00AD}' => "SOFT HYPHEN",
        '\u{180E}' => "MONGOLIAN VOWEL SEPARATOR",
        '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' => "HANGUL FILLER",
        '\u{E0000}'..='\u{E007F}' => "TAG CHARACTER",
        _ => return None,
    })
}

/// The added lines of `old` → `new` that hold hidden characters, as `line N: U+XXXX NAME`
/// (N counts lines of `new` from 1).
pub fn hidden_characters(old: &str, new: &str) -> Vec<String> {
    let diff = similar::TextDiff::from_lines(old, new);
    let mut found = Vec::new();
    for change in diff.iter_all_changes() {
        if change.tag() != similar::ChangeTag::Insert {
            continue;
        }
        let line = change.new_index().map_or(0, |i| i + 1);
        for c in change.value().chars() {
            if let Some(name) = hidden_character_name(c) {
                found.push(format!("line {line}: U+{:04X} {name}", c as u32));
            }
        }
    }
    found
}

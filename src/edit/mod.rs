//! Turning a language model's answer into the new content of one file.
//!
//! This module owns two steps: parsing the model's answer (search/replace
//! blocks, a whole file inside a code fence, or an explicit `NO_CHANGE`) and
//! applying search/replace blocks to the file's original text, trying an
//! exact match first and then more lenient ones that forgive the slips small
//! models make: whitespace, `...` lines standing for lines left out, and
//! (when one place is clearly meant) a few wrong characters. It does not build prompts, call models, read or
//! write files, or print anything: callers decide what to do with an
//! [`EditError`], and each variant's documentation says whether asking the
//! model again can help.

use std::ops::Range;

pub mod cycle;

pub use cycle::{trailing_cycle, Cycle};

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
    /// The search leaves lines out with `...` lines (the replace has the same
    /// ones); each piece between them was found on its own, exactly or
    /// forgiving whitespace, once and in file order.
    Elided,
    /// Found as the clearly most similar lines of the file, without being
    /// equal to them (a typo, a line too many or too few).
    Fuzzy,
}

impl MatchKind {
    /// The stable name shown to the user and in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            MatchKind::Exact => "exact",
            MatchKind::TrailingWhitespace => "trailing-whitespace",
            MatchKind::Indentation => "indentation",
            MatchKind::Elided => "elided",
            MatchKind::Fuzzy => "fuzzy",
        }
    }
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
    /// Retrying can help: the model can copy the lines from the file exactly
    /// (see [`closest_lines`] for what to show it). `search` is the block's
    /// whole search text, with `'\n'` line breaks.
    #[error(
        "block {block}: the search text starting with \"{first_line}\" does not match any lines of the file"
    )]
    NoMatch {
        block: usize,
        first_line: String,
        search: String,
    },

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

    /// The answer fell into writing the same few lines over and over, and was stopped (see
    /// [`trailing_cycle`]). Retrying can help: the model is shown where it started looping.
    #[error(
        "the answer repeated the same {period} line(s) over and over ({lines} lines), so it was stopped"
    )]
    Looping { period: usize, lines: usize },
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
            EditError::Looping { .. } => "looping-answer",
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

/// What an elision line says once its comment marker is gone.
const ELISION: &str = "...";

/// The similarity a fuzzy match needs at least (see [`similarity_at_least`]).
const FUZZY_MIN: f32 = 0.92;

/// How much more similar a fuzzy match must be than any place that does not
/// overlap it.
const FUZZY_MARGIN: f32 = 0.05;

/// The fewest non-blank search lines a fuzzy match is tried for: one line is
/// too little evidence.
const FUZZY_MIN_LINES: usize = 2;

/// The similarity two lines need for the fuzzy tier to take one for the
/// other (see [`align_lines`]).
const PAIR_MIN: f32 = 0.5;

/// The most work (diagonals tried and characters compared, see
/// [`indel_distance`]) one fuzzy match or [`closest_lines`] call may spend
/// comparing windows, so a large, repetitive file cannot stall an edit:
/// a fraction of a second.
const COMPARE_STEPS: u64 = 20_000_000;

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

/// An answer's blocks split by whether they apply.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sorted {
    /// The blocks that apply, in order, each to the text the ones before it left.
    pub applied: Vec<Block>,
    /// Each block that does not apply there, with why.
    pub failed: Vec<(Block, EditError)>,
}

/// Applies what it can of `blocks`: a block that fails is set aside and the next one is tried
/// on the text so far. For an answer that is mostly right, the model is then asked again for
/// the failed blocks alone (as Aider does), which is shorter to answer and easier to get right
/// than the whole answer again.
pub fn sort_blocks(original: &str, blocks: &[Block]) -> Sorted {
    let eol = detect_eol(original);
    let mut text = original.to_string();
    let mut sorted = Sorted::default();
    for (index, block) in blocks.iter().enumerate() {
        match apply_block(&text, block, index + 1, eol) {
            Ok((next, _)) => {
                text = next;
                sorted.applied.push(block.clone());
            }
            Err(error) => sorted.failed.push((block.clone(), error)),
        }
    }
    sorted
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

/// Where a tier found the search text: the byte range of the work text it
/// covers and the text (in the file's line ending style) that replaces it.
enum Placed {
    Nowhere,
    Once(Range<usize>, String),
    Many(usize),
}

impl Placed {
    fn into_tier(self, work: &str) -> Tier {
        match self {
            Placed::Once(range, replacement) => Tier::Replaced(splice(work, range, &replacement)),
            Placed::Many(count) => Tier::Ambiguous(count),
            Placed::Nowhere => Tier::Missing,
        }
    }
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

/// The tiers, from strict to lenient.
const TIERS: [MatchKind; 5] = [
    MatchKind::Exact,
    MatchKind::TrailingWhitespace,
    MatchKind::Indentation,
    MatchKind::Elided,
    MatchKind::Fuzzy,
];

/// Tries each tier from strict to lenient. An ambiguous tier stops the
/// search: a more lenient tier would only match more places.
fn apply_tiers(edit: &Edit, number: usize) -> Result<(String, MatchKind), EditError> {
    for kind in TIERS {
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
        search: edit.search.to_string(),
    })
}

fn run_tier(edit: &Edit, kind: MatchKind) -> Tier {
    match kind {
        MatchKind::Exact => exact_place(edit).into_tier(edit.work),
        MatchKind::TrailingWhitespace => trailing_place(edit).into_tier(edit.work),
        MatchKind::Indentation => indentation_place(edit).into_tier(edit.work),
        MatchKind::Elided => elided_tier(edit),
        MatchKind::Fuzzy => fuzzy_place(edit).into_tier(edit.work),
    }
}

/// The search text verbatim (in the file's line ending style), starting at a
/// line boundary.
fn exact_place(edit: &Edit) -> Placed {
    let needle = with_eol(edit.search, edit.eol);
    match find_at_line_starts(edit.work, &needle) {
        Found::Once(at) => Placed::Once(at..at + needle.len(), with_eol(edit.replace, edit.eol)),
        Found::Many(count) => Placed::Many(count),
        Found::Nowhere => Placed::Nowhere,
    }
}

fn trailing_place(edit: &Edit) -> Placed {
    window_place(edit, same_ignoring_trailing, false)
}

fn indentation_place(edit: &Edit) -> Placed {
    window_place(edit, same_ignoring_indentation, true)
}

/// The exact, trailing-whitespace and indentation tiers in turn; the first
/// that finds the text anywhere decides.
fn strict_place(edit: &Edit) -> Placed {
    for place in [exact_place, trailing_place, indentation_place] {
        match place(edit) {
            Placed::Nowhere => {}
            found => return found,
        }
    }
    Placed::Nowhere
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
fn window_place(edit: &Edit, same: fn(&str, &str) -> bool, reindent: bool) -> Placed {
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
            Placed::Once(range, with_eol(&replacement, edit.eol))
        }
        Found::Many(count) => Placed::Many(count),
        Found::Nowhere => Placed::Nowhere,
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

// --- elided tier ---------------------------------------------------------

/// A search whose `...` lines stand for lines left out: each piece between
/// them is found on its own (exactly, or forgiving whitespace like the
/// tiers before), must occur exactly once, and the pieces must come in file
/// order without overlapping. The replace must have the same elision lines
/// at the same places; each of its pieces replaces the matching search
/// piece, and the lines left out stay as they are.
fn elided_tier(edit: &Edit) -> Tier {
    let Some(pairs) = elided_pieces(edit.search, edit.replace) else {
        return Tier::Missing;
    };
    let mut spots: Vec<(Range<usize>, String)> = Vec::with_capacity(pairs.len());
    for (search, replace) in &pairs {
        let piece = Edit {
            work: edit.work,
            search,
            replace,
            eol: edit.eol,
        };
        match strict_place(&piece) {
            Placed::Once(range, replacement) => {
                if spots
                    .last()
                    .is_some_and(|(before, _)| before.end > range.start)
                {
                    return Tier::Missing;
                }
                spots.push((range, replacement));
            }
            Placed::Many(count) => return Tier::Ambiguous(count),
            Placed::Nowhere => return Tier::Missing,
        }
    }
    if spots.is_empty() {
        return Tier::Missing;
    }
    let mut text = edit.work.to_string();
    for (range, replacement) in spots.into_iter().rev() {
        text.replace_range(range, &replacement);
    }
    Tier::Replaced(text)
}

/// The search and replace cut at their elision lines into pairs of pieces
/// (as block text). `None` unless the search has elision lines and the
/// replace has the same ones in the same order, or when a blank search piece
/// would have to receive text: with nothing to find, there is no place to put
/// it. Pieces blank on both sides are dropped.
fn elided_pieces(search: &str, replace: &str) -> Option<Vec<(String, String)>> {
    let (search_pieces, search_marks) = split_at_elisions(search);
    if search_marks.is_empty() {
        return None;
    }
    let (replace_pieces, replace_marks) = split_at_elisions(replace);
    if search_marks != replace_marks {
        return None;
    }
    let blank = |lines: &[&str]| lines.iter().all(|line| line.trim().is_empty());
    let mut pairs = Vec::with_capacity(search_pieces.len());
    for (search, replace) in search_pieces.iter().zip(&replace_pieces) {
        match (blank(search), blank(replace)) {
            (true, true) => {}
            (true, false) => return None,
            (false, _) => pairs.push((join_lines(search), join_lines(replace))),
        }
    }
    Some(pairs)
}

/// The lines between elision lines (one more piece than elision lines), and
/// the elision lines themselves, trimmed.
fn split_at_elisions(text: &str) -> (Vec<Vec<&str>>, Vec<&str>) {
    let mut pieces: Vec<Vec<&str>> = vec![Vec::new()];
    let mut marks = Vec::new();
    for line in text.lines() {
        if is_elision(line) {
            marks.push(line.trim());
            pieces.push(Vec::new());
        } else if let Some(piece) = pieces.last_mut() {
            piece.push(line);
        }
    }
    (pieces, marks)
}

/// A line that only says "lines left out here": `...`, or `...` after a
/// line comment marker (`#`, `//`, `--`) or inside a block comment
/// (`/* ... */`, `<!-- ... -->`).
fn is_elision(line: &str) -> bool {
    let line = line.trim();
    let inner = ["#", "//", "--"]
        .iter()
        .find_map(|marker| line.strip_prefix(marker))
        .or_else(|| line.strip_prefix("/*").and_then(|r| r.strip_suffix("*/")))
        .or_else(|| {
            line.strip_prefix("<!--")
                .and_then(|r| r.strip_suffix("-->"))
        })
        .unwrap_or(line);
    inner.trim() == ELISION
}

// --- fuzzy tier ----------------------------------------------------------

/// The window of the file most similar to the search (see [`similarity_at_least`]),
/// among windows of the search's number of lines and one line fewer or more.
/// Taken only when it is similar enough ([`FUZZY_MIN`]) and clearly more
/// similar than any window that does not overlap it ([`FUZZY_MARGIN`]), and
/// never for a search of fewer than [`FUZZY_MIN_LINES`] non-blank lines or
/// one with elision lines. Gives up when the comparisons would take more
/// than [`COMPARE_STEPS`]. See [`merge_into_window`] for what replaces it.
fn fuzzy_place(edit: &Edit) -> Placed {
    let search: Vec<&str> = edit.search.lines().collect();
    let solid = search.iter().filter(|line| !line.trim().is_empty()).count();
    if solid < FUZZY_MIN_LINES || search.iter().any(|line| is_elision(line)) {
        return Placed::Nowhere;
    }
    let lines = file_lines(edit.work);
    let texts: Vec<&str> = lines
        .iter()
        .map(|line| line.text.strip_suffix('\r').unwrap_or(line.text))
        .collect();
    let size = search.len();
    let target = compared_chars(&search);
    let mut windows = bounded_windows(&texts, &search, &[size, size - 1, size + 1]);
    // Most promising first, so that the floor rises early.
    windows.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.start.cmp(&b.start)));
    let mut steps = COMPARE_STEPS;
    let mut top = 0.0f32;
    let mut scored: Vec<Window> = Vec::new();
    for window in windows {
        // A window below this can neither be taken nor make the one taken
        // ambiguous, since the best is at least `top`.
        let floor = (FUZZY_MIN - FUZZY_MARGIN).max(top - FUZZY_MARGIN);
        if window.score < floor {
            break;
        }
        let chars = compared_chars(window.of(&texts));
        match similarity_at_least(&chars, &target, floor, &mut steps) {
            Err(OutOfSteps) => return Placed::Nowhere,
            Ok(None) => {}
            Ok(Some(score)) => {
                top = top.max(score);
                scored.push(Window { score, ..window });
            }
        }
    }
    // Most similar first; a tie goes to the search's own size, then to the
    // earlier window.
    scored.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then((b.len == size).cmp(&(a.len == size)))
            .then(a.start.cmp(&b.start))
    });
    let Some(best) = scored.first() else {
        return Placed::Nowhere;
    };
    let runner_up = scored.iter().find(|other| !other.overlaps(best));
    if best.score < FUZZY_MIN
        || runner_up.is_some_and(|other| best.score - other.score < FUZZY_MARGIN)
    {
        return Placed::Nowhere;
    }
    let replace: Vec<&str> = edit.replace.lines().collect();
    let merged = merge_into_window(&search, best.of(&texts), &replace);
    let range = lines[best.start].start..lines[best.start + best.len - 1].end;
    Placed::Once(range, with_eol(&merged, edit.eol))
}

/// A run of file lines, scored against a search.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: usize,
    len: usize,
    /// Its similarity to the search, or an upper bound on it.
    score: f32,
}

impl Window {
    fn of<'a, 'b>(&self, file: &'a [&'b str]) -> &'a [&'b str] {
        &file[self.start..self.start + self.len]
    }

    fn overlaps(&self, other: &Window) -> bool {
        self.start < other.start + other.len && other.start < self.start + self.len
    }
}

/// The text [`similarity_at_least`] compares: each line without leading or trailing
/// whitespace, followed by a line break.
fn compared_chars(lines: &[&str]) -> Vec<char> {
    lines
        .iter()
        .flat_map(|line| line.trim().chars().chain(std::iter::once('\n')))
        .collect()
}

/// The comparisons of one search ran past [`COMPARE_STEPS`].
#[derive(Debug)]
struct OutOfSteps;

/// How alike two compared texts are, from 0 to 1, if at least `floor`:
/// twice the length of their longest common subsequence of characters over
/// the characters of both (the ratio of Python's `difflib` and of the
/// `similar` crate, computed with a minimal diff). Leading and trailing
/// whitespace is left out (see [`compared_chars`]), since indentation is
/// fixed separately.
///
/// Counts its work against `steps`; the diff stops as soon as the ratio is
/// sure to be below `floor`, which keeps unlike windows cheap.
fn similarity_at_least(
    a: &[char],
    b: &[char],
    floor: f32,
    steps: &mut u64,
) -> Result<Option<f32>, OutOfSteps> {
    let total = a.len() + b.len();
    if total == 0 {
        return Ok((1.0 >= floor).then_some(1.0));
    }
    // The ratio is (total - distance) / total, so a floor caps the distance.
    // One more for rounding; the ratio is checked exactly below.
    let most = ((1.0 - floor.clamp(0.0, 1.0)) * total as f32).ceil() as usize + 1;
    let Some(distance) = indel_distance(a, b, most.min(total), steps)? else {
        return Ok(None);
    };
    let common = (total - distance) / 2;
    // Computed like `CharCounts::bound`, so the bound is never below it.
    let ratio = 2.0 * common as f32 / total as f32;
    Ok((ratio >= floor).then_some(ratio))
}

/// The fewest characters to delete and insert to turn `a` into `b`, if at
/// most `most` (Myers' greedy O((N+M)·D) algorithm, without the path).
fn indel_distance(
    a: &[char],
    b: &[char],
    most: usize,
    steps: &mut u64,
) -> Result<Option<usize>, OutOfSteps> {
    // Common ends cost nothing to skip.
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    let suffix = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(x, y)| x == y)
        .count();
    let (a, b) = (&a[..a.len() - suffix], &b[..b.len() - suffix]);
    let (n, m) = (a.len(), b.len());
    let most = most.min(n + m);
    // furthest[offset + k]: the furthest x reached on diagonal k = x - y.
    let offset = most + 1;
    let mut furthest = vec![0usize; 2 * most + 3];
    for d in 0..=most {
        let mut work = 0u64;
        for step in 0..=d {
            // Diagonals -d, -d+2, ..., d.
            let at = offset + 2 * step - d;
            let mut x = if step == 0 || (step != d && furthest[at - 1] < furthest[at + 1]) {
                furthest[at + 1]
            } else {
                furthest[at - 1] + 1
            };
            // y = x - k, where k = at - offset; never negative on a path.
            let mut y = (x + offset).saturating_sub(at);
            let snake_start = x;
            while x < n && y < m && a[x] == b[y] {
                x += 1;
                y += 1;
            }
            work += 1 + (x - snake_start) as u64;
            furthest[at] = x;
            if x >= n && y >= m {
                return Ok(Some(d));
            }
        }
        *steps = steps.checked_sub(work).ok_or(OutOfSteps)?;
    }
    Ok(None)
}

/// Every window of the given sizes, scored with a cheap upper bound on its
/// [`similarity_at_least`] to `search`: characters the two texts have in common,
/// whatever their order, counted in 256 buckets (sharing a bucket only
/// raises the count, so the bound holds).
fn bounded_windows(file: &[&str], search: &[&str], sizes: &[usize]) -> Vec<Window> {
    let target = CharCounts::of(search);
    let mut windows = Vec::new();
    for &len in sizes {
        if len == 0 || len > file.len() {
            continue;
        }
        let mut counts = CharCounts::of(&file[..len]);
        for start in 0..=file.len() - len {
            if start > 0 {
                counts.remove(file[start - 1]);
                counts.add(file[start + len - 1]);
            }
            windows.push(Window {
                start,
                len,
                score: counts.bound(&target),
            });
        }
    }
    windows
}

/// How often each character occurs in a compared text, by bucket.
struct CharCounts {
    buckets: [u32; 256],
    total: u32,
}

impl CharCounts {
    fn of(lines: &[&str]) -> Self {
        let mut counts = CharCounts {
            buckets: [0; 256],
            total: 0,
        };
        for line in lines {
            counts.add(line);
        }
        counts
    }

    fn chars(line: &str) -> impl Iterator<Item = usize> + '_ {
        line.trim()
            .chars()
            .chain(std::iter::once('\n'))
            .map(|c| c as usize % 256)
    }

    fn add(&mut self, line: &str) {
        for bucket in Self::chars(line) {
            self.buckets[bucket] += 1;
            self.total += 1;
        }
    }

    fn remove(&mut self, line: &str) {
        for bucket in Self::chars(line) {
            self.buckets[bucket] -= 1;
            self.total -= 1;
        }
    }

    /// Computed like `similar::get_diff_ratio`, so it is never below the
    /// real ratio.
    fn bound(&self, other: &CharCounts) -> f32 {
        let common: u32 = self
            .buckets
            .iter()
            .zip(&other.buckets)
            .map(|(a, b)| *a.min(b))
            .sum();
        let total = self.total + other.total;
        if total == 0 {
            return 1.0;
        }
        2.0 * common as f32 / total as f32
    }
}

/// The lines that replace a fuzzily matched window: the block's edit applied
/// to the lines the file really has, like a patch.
///
/// Search lines are paired with the window's lines by a line diff that
/// ignores leading and trailing whitespace, and where that finds lines
/// changed, by [`align_lines`]. A line the block keeps (equal in
/// search and replace) is written as the file has it, so a line the model
/// misquoted is not overwritten with its misquote; a file line the search
/// left out survives when the block keeps the lines on both sides of it.
/// Lines the block adds or changes come from the replace, re-indented by the
/// difference between the search's and the file's indentation.
fn merge_into_window(search: &[&str], window: &[&str], replace: &[&str]) -> String {
    // Which window line each search line stands for, and the window lines
    // that stand for none, by the gap between search lines they sit in.
    let mut partner: Vec<Option<usize>> = vec![None; search.len()];
    let mut extra: Vec<Vec<usize>> = vec![Vec::new(); search.len() + 1];
    let pairing = similar::capture_diff_slices(
        similar::Algorithm::Myers,
        &mapped(search, str::trim),
        &mapped(window, str::trim),
    );
    for op in pairing {
        let (tag, old, new) = op.as_tag_tuple();
        let pairs: Vec<(usize, usize)> = match tag {
            similar::DiffTag::Equal => old.clone().zip(new.clone()).collect(),
            similar::DiffTag::Replace => align_lines(&search[old.clone()], &window[new.clone()])
                .into_iter()
                .map(|(s, w)| (old.start + s, new.start + w))
                .collect(),
            _ => Vec::new(),
        };
        // A window line paired with no search line sits right after the
        // last search line paired before it.
        let mut gap = old.start;
        let mut pairs = pairs.into_iter().peekable();
        for w in new {
            match pairs.next_if(|&(_, paired)| paired == w) {
                Some((s, _)) => {
                    partner[s] = Some(w);
                    gap = s + 1;
                }
                None => extra[gap].push(w),
            }
        }
    }

    let edits = similar::capture_diff_slices(
        similar::Algorithm::Myers,
        &mapped(search, str::trim_end),
        &mapped(replace, str::trim_end),
    );
    let mut kept = vec![false; search.len()];
    for op in &edits {
        if op.tag() == similar::DiffTag::Equal {
            for s in op.old_range() {
                kept[s] = true;
            }
        }
    }
    let (from, to) = search
        .iter()
        .zip(&partner)
        .find_map(|(line, partner)| match partner {
            Some(w) if !line.trim().is_empty() => {
                Some((leading_whitespace(line), leading_whitespace(window[*w])))
            }
            _ => None,
        })
        .unwrap_or(("", ""));

    let mut merge = Merge {
        window,
        kept: &kept,
        extra: &extra,
        next_gap: 0,
        out: String::new(),
    };
    for op in &edits {
        let (tag, old, new) = op.as_tag_tuple();
        merge.flush(old.start);
        if tag == similar::DiffTag::Equal {
            for s in old {
                merge.flush(s);
                if let Some(w) = partner[s] {
                    merge.push(window[w]);
                }
            }
        } else {
            for line in &replace[new] {
                merge.push(&reindent_line(line, from, to));
            }
        }
    }
    merge.flush(search.len());
    merge.out
}

/// Pairs lines of `a` with lines of `b`, in order, so that the paired lines
/// are as similar as possible in all; lines less similar than
/// [`PAIR_MIN`] are never paired. Returns the pairs of indices.
fn align_lines(a: &[&str], b: &[&str]) -> Vec<(usize, usize)> {
    let a_chars: Vec<Vec<char>> = a.iter().map(|line| compared_chars(&[line])).collect();
    let b_chars: Vec<Vec<char>> = b.iter().map(|line| compared_chars(&[line])).collect();
    // Lines left unpaired once the budget is spent are only kept less well.
    let mut steps = COMPARE_STEPS;
    let mut score = |i: usize, j: usize| {
        similarity_at_least(&a_chars[i], &b_chars[j], PAIR_MIN, &mut steps)
            .ok()
            .flatten()
    };
    // best[i][j]: the most similarity pairing a[i..] with b[j..] can reach.
    let mut best = vec![vec![0.0f32; b.len() + 1]; a.len() + 1];
    let mut pair = vec![vec![None; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            let skip = best[i + 1][j].max(best[i][j + 1]);
            best[i][j] = skip;
            if let Some(score) = score(i, j) {
                if score + best[i + 1][j + 1] >= skip {
                    best[i][j] = score + best[i + 1][j + 1];
                    pair[i][j] = Some(score);
                }
            }
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut pairs = Vec::new();
    while i < a.len() && j < b.len() {
        if pair[i][j].is_some() {
            pairs.push((i, j));
            i += 1;
            j += 1;
        } else if best[i + 1][j] >= best[i][j + 1] {
            i += 1;
        } else {
            j += 1;
        }
    }
    pairs
}

fn mapped<'a>(lines: &[&'a str], f: fn(&'a str) -> &'a str) -> Vec<&'a str> {
    lines.iter().map(|line| f(line)).collect()
}

/// The output of [`merge_into_window`] so far.
struct Merge<'a> {
    window: &'a [&'a str],
    kept: &'a [bool],
    extra: &'a [Vec<usize>],
    /// The first gap between search lines not yet written.
    next_gap: usize,
    out: String,
}

impl Merge<'_> {
    fn push(&mut self, line: &str) {
        self.out.push_str(line);
        self.out.push('\n');
    }

    /// Writes the window lines left out by the search in each gap up to
    /// `gap`, where the search lines on both sides are kept.
    fn flush(&mut self, gap: usize) {
        while self.next_gap <= gap {
            let g = self.next_gap;
            let kept_before = g == 0 || self.kept[g - 1];
            let kept_after = g == self.kept.len() || self.kept[g];
            if kept_before && kept_after {
                for &w in &self.extra[g] {
                    self.out.push_str(self.window[w]);
                    self.out.push('\n');
                }
            }
            self.next_gap += 1;
        }
    }
}

/// The window of `content` most like `search`, for telling a model whose
/// search text matched nothing what the file really has there: the 1-based
/// number of its first line and its lines, each ending in `'\n'`.
///
/// Blank lines at either end of the search are left out; the window has as
/// many lines as what remains (or the whole file, if shorter), and is the
/// first of the most similar ones by the fuzzy tier's measure. `None` when
/// the file or the search has no non-blank line.
pub fn closest_lines(content: &str, search: &str) -> Option<(usize, String)> {
    let content = normalize_newlines(content);
    let search = normalize_newlines(search);
    let file: Vec<&str> = content.lines().collect();
    let all: Vec<&str> = search.lines().collect();
    let first = all.iter().position(|line| !line.trim().is_empty())?;
    let last = all.iter().rposition(|line| !line.trim().is_empty())?;
    let search = &all[first..=last];
    if file.iter().all(|line| line.trim().is_empty()) {
        return None;
    }
    let size = search.len().min(file.len());
    let target = compared_chars(search);
    let mut windows = bounded_windows(&file, search, &[size]);
    // Most promising first, so the search can stop once no bound reaches
    // the best real score.
    windows.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.start.cmp(&b.start)));
    let mut steps = COMPARE_STEPS;
    let mut best: Option<Window> = None;
    for window in &windows {
        let floor = best.map_or(0.0, |best| best.score);
        if window.score < floor {
            break;
        }
        let chars = compared_chars(window.of(&file));
        let score = match similarity_at_least(&chars, &target, floor, &mut steps) {
            Err(OutOfSteps) => break,
            Ok(None) => continue,
            Ok(Some(score)) => score,
        };
        let better = best.is_none_or(|best| {
            score
                .total_cmp(&best.score)
                .then(best.start.cmp(&window.start))
                .is_gt()
        });
        if better {
            best = Some(Window { score, ..*window });
        }
    }
    // Out of steps before any score: the most promising window will do.
    let best = best.or_else(|| windows.first().copied())?;
    Some((best.start + 1, join_lines(best.of(&file))))
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

/// Characters that change how a line reads without being seen: Unicode's Bidi_Control set
/// (the "Trojan Source" attack, CVE-2021-42574) and its Default_Ignorable_Code_Point set
/// (zero-width characters, tags, variation selectors: the carrier of 2025's "GlassWorm"), both
/// from ICU's maintained tables. A small model should never add them; a poisoned file might ask
/// it to.
fn hidden_character_name(c: char) -> Option<&'static str> {
    use icu_properties::props::{BidiControl, DefaultIgnorableCodePoint};
    use icu_properties::CodePointSetData;
    let bidi = CodePointSetData::new::<BidiControl>().contains(c);
    if !bidi && !CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c) {
        return None;
    }
    Some(known_name(c).unwrap_or(if bidi {
        "BIDI CONTROL"
    } else {
        "DEFAULT IGNORABLE CODE POINT"
    }))
}

/// The names of the hidden characters seen most, for the message.
fn known_name(c: char) -> Option<&'static str> {
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
        '\u{FE00}'..='\u{FE0F}' | '\u{E0100}'..='\u{E01EF}' => "VARIATION SELECTOR",
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

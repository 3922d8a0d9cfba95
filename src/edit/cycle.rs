//! Answers that go round in circles: the last lines of an answer repeating a short cycle.
//!
//! Small models sometimes fall into writing the same few lines again and again (a comment
//! line, a blank line, a `pass`) until the context is full. The block-level guard
//! ([`super::repeats_itself`]) sees a repeated SEARCH block; this one sees the line-level
//! loops that have no block structure at all, such as a whole-file answer that keeps adding
//! the same comment. It is cheap enough to run after every generated token.

/// The longest cycle looked for, in lines: loops run from one comment line to several whole
/// edit blocks written again and again (a 0.5B model cycling through four broken SEARCH
/// blocks of seven lines each is a loop of 32 lines).
pub const MAX_PERIOD: usize = 64;

/// The fewest lines a repetition must span before it counts as a loop: enough that no sensible
/// answer writes a short cycle that long, few enough to stop a loop after a few hundred tokens
/// rather than thousands. A longer cycle must also come round twice (see [`min_span`]).
pub const MIN_SPAN: usize = 24;

/// The most trailing lines read per call: two turns of the longest cycle, and some.
const WINDOW: usize = MAX_PERIOD * 3;

/// The lines a cycle of `period` lines must span to count as a loop.
pub fn min_span(period: usize) -> usize {
    MIN_SPAN.max(2 * period)
}

/// A loop found at the end of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cycle {
    /// Lines per turn of the loop.
    pub period: usize,
    /// Lines the repetition spans, counting the first turn.
    pub lines: usize,
    /// Byte offset in the answer where the repetition starts: the text before it and one turn
    /// are what the model meant to say, at best.
    pub start: usize,
}

impl Cycle {
    /// `answer` cut after the loop's first turn, for keeping in a conversation without the
    /// thousands of tokens that repeat it.
    pub fn first_turn<'a>(&self, answer: &'a str) -> &'a str {
        let rest = &answer[self.start..];
        let end = rest
            .match_indices('\n')
            .nth(self.period - 1)
            .map_or(rest.len(), |(at, _)| at + 1);
        &answer[..self.start + end]
    }
}

/// The loop the complete lines at the end of `answer` are caught in, if any.
///
/// Lines compare without trailing whitespace. A repetition the `original` file itself holds
/// is not a loop: an answer copying a file with a repeated table or a run of blank lines
/// writes them too.
pub fn trailing_cycle(answer: &[u8], original: &str) -> Option<Cycle> {
    // Only complete lines tell: a token mid-line changes nothing.
    if !answer.ends_with(b"\n") {
        return None;
    }
    let lines = trailing_lines(&answer[..answer.len() - 1]);
    let (period, span) = (1..=MAX_PERIOD)
        .map(|period| (period, repeated_span(&lines, period)))
        .filter(|&(period, span)| span >= min_span(period))
        // The shortest period of the longest span: a loop of one line also repeats every two.
        .max_by_key(|&(period, span)| (span, std::cmp::Reverse(period)))?;
    let start = lines[span - 1].0;
    let text = String::from_utf8_lossy(&answer[start..]);
    if in_file(&text, original) {
        return None;
    }
    Some(Cycle {
        period,
        lines: span,
        start,
    })
}

/// The last [`WINDOW`] lines of `text` (which has its final line break cut off), last first,
/// each with the byte offset it starts at and without trailing whitespace.
fn trailing_lines(text: &[u8]) -> Vec<(usize, &[u8])> {
    let mut lines = Vec::with_capacity(WINDOW);
    let mut end = text.len();
    while lines.len() < WINDOW {
        let start = text[..end]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |at| at + 1);
        lines.push((start, text[start..end].trim_ascii_end()));
        if start == 0 {
            break;
        }
        end = start - 1;
    }
    lines
}

/// How many of `lines` (last first) the cycle of `period` lines ending them spans.
fn repeated_span(lines: &[(usize, &[u8])], period: usize) -> usize {
    let same = lines
        .iter()
        .zip(lines.iter().skip(period))
        .take_while(|((_, a), (_, b))| a == b)
        .count();
    if same == 0 {
        0
    } else {
        same + period
    }
}

/// Whether `text`'s lines occur in a row in `original`, trailing whitespace aside.
fn in_file(text: &str, original: &str) -> bool {
    let trimmed =
        |s: &str| -> String { s.lines().map(str::trim_end).collect::<Vec<_>>().join("\n") };
    trimmed(original).contains(&trimmed(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer_with(head: &str, turn: &str, turns: usize) -> String {
        format!("{head}{}", turn.repeat(turns))
    }

    #[test]
    fn a_comment_written_over_and_over_is_a_loop() {
        let turn = "    # Returns the total value of the item.\n";
        let answer = answer_with("```python\nclass Item:\n", turn, 30);
        let cycle = trailing_cycle(answer.as_bytes(), "class Item:\n    pass\n").unwrap();
        assert_eq!(cycle.period, 1);
        assert_eq!(cycle.lines, 30);
        assert_eq!(&answer[cycle.start..cycle.start + turn.len()], turn);
        assert_eq!(
            cycle.first_turn(&answer),
            format!("```python\nclass Item:\n{turn}")
        );
    }

    #[test]
    fn a_cycle_of_several_lines_is_found_once_it_spans_enough_lines() {
        let turn = "def f():\n    pass\n\n";
        let short = answer_with("", turn, MIN_SPAN / 3 - 1);
        assert_eq!(trailing_cycle(short.as_bytes(), ""), None);
        let long = answer_with("", turn, MIN_SPAN / 3);
        let cycle = trailing_cycle(long.as_bytes(), "").unwrap();
        assert_eq!((cycle.period, cycle.lines), (3, MIN_SPAN));
        assert_eq!(cycle.first_turn(&long), turn);
    }

    #[test]
    fn only_complete_lines_count_and_a_line_that_breaks_the_cycle_ends_it() {
        let looping = answer_with("", "x = 1\n", 40);
        assert!(trailing_cycle(looping.as_bytes(), "").is_some());
        assert!(trailing_cycle(format!("{looping}x =").as_bytes(), "").is_none());
        assert!(trailing_cycle(format!("{looping}y = 2\n").as_bytes(), "").is_none());
        // Trailing whitespace does not hide a loop.
        let ragged = (0..40)
            .map(|i| format!("x = 1{}\n", " ".repeat(i % 3)))
            .collect::<String>();
        assert!(trailing_cycle(ragged.as_bytes(), "").is_some());
    }

    #[test]
    fn a_repetition_the_file_already_holds_is_copied_not_looped() {
        let table = "    0, 0, 0, 0,\n".repeat(40);
        let original = format!("GRID = [\n{table}]\n");
        let answer = format!("```python\nGRID = [\n{table}");
        assert_eq!(trailing_cycle(answer.as_bytes(), &original), None);
        // The same answer for a file without the table is a loop.
        assert!(trailing_cycle(answer.as_bytes(), "GRID = []\n").is_some());
    }

    #[test]
    fn whole_edit_blocks_written_again_and_again_are_a_loop() {
        // What the 0.5B coder wrote for "add a one-line comment above every function": broken
        // blocks (no `=======`) that the block-level guard cannot read, cycling until the
        // context was full.
        let turn = (0..4)
            .map(|i| {
                format!(
                    "<<<<<<< SEARCH\n    def f{i}(self):\n        return {i}\n>>>>>>> REPLACE\n\n"
                )
            })
            .collect::<String>();
        let period = turn.lines().count();
        let once = format!("{turn}{turn}");
        // One line short of two turns.
        let almost = &once[..once.len() - 1];
        assert_eq!(trailing_cycle(almost.as_bytes(), ""), None);
        let cycle = trailing_cycle(once.as_bytes(), "").unwrap();
        assert_eq!((cycle.period, cycle.lines), (period, 2 * period));
        assert_eq!(cycle.first_turn(&once), turn);
    }

    #[test]
    fn distinct_lines_and_cycles_over_the_longest_period_are_not_loops() {
        let counting = (0..200)
            .map(|i| format!("x{i} = {i}\n"))
            .collect::<String>();
        assert_eq!(trailing_cycle(counting.as_bytes(), ""), None);
        let turn = (0..=MAX_PERIOD)
            .map(|i| format!("line {i}\n"))
            .collect::<String>();
        assert_eq!(trailing_cycle(turn.repeat(3).as_bytes(), ""), None);
        // A cycle of the longest period, twice, is one.
        let turn = (0..MAX_PERIOD)
            .map(|i| format!("line {i}\n"))
            .collect::<String>();
        assert!(trailing_cycle(turn.repeat(2).as_bytes(), "").is_some());
    }

    #[test]
    fn a_block_that_searches_and_replaces_the_same_lines_is_not_a_loop() {
        let lines = (0..30).map(|i| format!("x{i} = {i}\n")).collect::<String>();
        let answer = format!("<<<<<<< SEARCH\n{lines}=======\n{lines}>>>>>>> REPLACE\n");
        assert_eq!(trailing_cycle(answer.as_bytes(), ""), None);
    }
}

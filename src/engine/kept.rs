//! Blocks kept between rounds: when some SEARCH/REPLACE blocks of an answer apply and others
//! do not, the ones that apply are kept and the model is asked again for the failed ones
//! alone. Owns what is kept, how a resent answer joins it, and what the model is told.
//!
//! A retry that resends one block generates one block's tokens, not the whole answer's, and a
//! small model fixes one block more often than it rewrites six without a slip.

use crate::edit::{self, Answer, Block, EditError};
use crate::prompt;

/// The blocks that applied in this conversation's earlier answers, and the ones that did not.
/// Empty: the next answer starts over (a whole answer is asked for).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Kept {
    applied: Vec<Block>,
    failed: Vec<(Block, EditError)>,
}

impl Kept {
    /// Blocks that applied and blocks that did not, with why. Kept only when some applied
    /// and some did not: otherwise there is nothing to keep, or nothing to ask for.
    pub fn new(applied: Vec<Block>, failed: Vec<(Block, EditError)>) -> Self {
        if applied.is_empty() || failed.is_empty() {
            return Kept::default();
        }
        Kept { applied, failed }
    }

    /// Sorts an answer's blocks after they failed to apply as a whole with `error`: worth
    /// keeping only when the failure is a block that matched nowhere or in several places.
    pub fn after(original: &str, answer: &Answer, error: &EditError) -> Self {
        match (answer, error) {
            (Answer::Blocks(blocks), EditError::NoMatch { .. } | EditError::Ambiguous { .. }) => {
                let sorted = edit::sort_blocks(original, blocks);
                Kept::new(sorted.applied, sorted.failed)
            }
            _ => Kept::default(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.applied.is_empty()
    }

    /// The answer to apply: a resent answer's blocks after the kept ones. A block the model
    /// sends again unchanged is dropped (it already applied). A whole file replaces all; a
    /// `NO_CHANGE` would leave the edit half done, so it is refused as an answer.
    pub fn join(self, answer: Answer) -> Result<Answer, EditError> {
        if self.is_empty() {
            return Ok(answer);
        }
        match answer {
            Answer::Blocks(new) => {
                let mut blocks = self.applied;
                for block in new {
                    if !blocks.contains(&block) {
                        blocks.push(block);
                    }
                }
                Ok(Answer::Blocks(blocks))
            }
            Answer::WholeFile(text) => Ok(Answer::WholeFile(text)),
            Answer::NoChange => Err(EditError::Malformed {
                reason: "NO_CHANGE was answered for blocks that did not apply, which would \
                         leave the edit half done"
                    .to_owned(),
            }),
        }
    }

    /// What the model is told: which blocks are kept, each failed block's error with the
    /// closest lines of the file, and to send the failed ones alone.
    pub fn feedback(&self, content: &str) -> String {
        let mut problems = String::new();
        for (block, error) in &self.failed {
            problems.push_str(&format!("\n- {error}"));
            if let EditError::NoMatch { .. } = error {
                if let Some(hint) = prompt::closest_lines_hint(content, &block.search) {
                    problems.push_str(&format!("\n  {hint}"));
                }
            }
        }
        prompt::resend_message(self.applied.len(), self.failed.len(), &problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(search: &str, replace: &str) -> Block {
        Block {
            search: search.to_owned(),
            replace: replace.to_owned(),
        }
    }

    const FILE: &str = "def a():\n    return 1\n\n\ndef b():\n    return 2\n";

    fn half_right() -> (Answer, EditError) {
        let answer = Answer::Blocks(vec![
            block("def a():\n", "def a():\n    \"\"\"One.\"\"\"\n"),
            block("def bb():\n", "def bb():\n    \"\"\"Two.\"\"\"\n"),
        ]);
        let error = edit::resolve(FILE, &answer).unwrap_err();
        (answer, error)
    }

    #[test]
    fn a_half_right_answer_keeps_its_good_block_and_asks_for_the_other() {
        let (answer, error) = half_right();
        let kept = Kept::after(FILE, &answer, &error);
        assert!(!kept.is_empty());
        let told = kept.feedback(FILE);
        assert!(
            told.contains("1 of your SEARCH/REPLACE blocks applied"),
            "{told}"
        );
        assert!(told.contains("def bb():"), "{told}");
        assert!(told.contains("from line 5"), "the closest lines: {told}");
        // The model resends the failed block fixed, and the good one again: it counts once.
        let resent = Answer::Blocks(vec![
            block("def a():\n", "def a():\n    \"\"\"One.\"\"\"\n"),
            block("def b():\n", "def b():\n    \"\"\"Two.\"\"\"\n"),
        ]);
        let joined = kept.join(resent).unwrap();
        let text = edit::resolve(FILE, &joined).unwrap().text;
        assert_eq!(
            text,
            "def a():\n    \"\"\"One.\"\"\"\n    return 1\n\n\ndef b():\n    \"\"\"Two.\"\"\"\n    return 2\n"
        );
    }

    #[test]
    fn nothing_is_kept_when_no_block_applied_or_the_answer_was_not_blocks() {
        let answer = Answer::Blocks(vec![block("zzz\n", "y\n")]);
        let error = edit::resolve(FILE, &answer).unwrap_err();
        assert!(Kept::after(FILE, &answer, &error).is_empty());
        let whole = Answer::WholeFile("x\n".to_owned());
        assert!(Kept::after(FILE, &whole, &EditError::Empty).is_empty());
    }

    #[test]
    fn no_change_after_a_half_applied_answer_is_refused() {
        let (answer, error) = half_right();
        let kept = Kept::after(FILE, &answer, &error);
        assert!(matches!(
            kept.join(Answer::NoChange),
            Err(EditError::Malformed { .. })
        ));
    }
}

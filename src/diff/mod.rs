//! Git-style unified diffs for single files.
//!
//! This module owns turning one file's old and new contents into the text of a
//! `git diff`-style patch for a plain modification, such that `git apply`
//! accepts it and reproduces the new contents byte for byte: CRLF and mixed
//! line endings, a lone `\r` inside a line, missing final newlines and paths
//! that git would quote are all handled. It also joins several such diffs into
//! one patch. It does not read or write files, talk to git, print anything, or
//! describe creations, deletions, renames or mode changes.

use similar::{Algorithm, DiffOp, DiffTag};

/// Lines of unchanged context around each change, as `git diff` uses by default.
const CONTEXT: usize = 3;

/// Marker git writes after a patch line whose file line has no trailing `\n`.
const NO_NEWLINE_MARKER: &str = "\\ No newline at end of file\n";

/// The diff of one file, ready to be joined into a patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDiff {
    /// Repo-relative path, `/` separated, unquoted.
    pub path: String,
    /// The whole diff for this file, from `diff --git` on, ending in `\n`.
    pub text: String,
    /// Number of `+` lines.
    pub added: usize,
    /// Number of `-` lines.
    pub removed: usize,
    /// Where each hunk is, in order.
    pub hunks: Vec<Hunk>,
}

/// One hunk of a file's diff, for pointing at the lines it changes (CI annotations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// The first and last line of the old file that the hunk removes or replaces, 1-based,
    /// context left out. A hunk that only inserts names the line it inserts after (0 at the
    /// top of the file) as both.
    pub old_first: usize,
    pub old_last: usize,
    /// The hunk's lines, from its `@@` header on.
    pub text: String,
}

/// Diffs `old` against `new` for the file at `path`; `None` when they are equal.
///
/// `mode` is the file's git mode (e.g. `0o100644`, `0o100755`). A plain
/// modification keeps the mode, and git prints modes only when they change, so
/// nothing is emitted for it; it is taken so that callers already pass it once
/// mode changes or new files are described here.
pub fn unified_diff(path: &str, old: &str, new: &str, mode: u32) -> Option<FileDiff> {
    let _ = mode;
    if old == new {
        return None;
    }
    let old_lines = split_lines(old);
    let new_lines = split_lines(new);
    let ops = similar::capture_diff_slices(Algorithm::Patience, &old_lines, &new_lines);

    let mut text = file_header(path);
    let mut added = 0;
    let mut removed = 0;
    let mut hunks = Vec::new();
    for group in similar::group_diff_ops(ops, CONTEXT) {
        let Some(header) = hunk_header(&group) else {
            continue;
        };
        let start = text.len();
        text.push_str(&header);
        for op in &group {
            let (plus, minus) = write_op(&mut text, op, &old_lines, &new_lines);
            added += plus;
            removed += minus;
        }
        let (old_first, old_last) = changed_old_lines(&group);
        hunks.push(Hunk {
            old_first,
            old_last,
            text: text[start..].to_owned(),
        });
    }
    Some(FileDiff {
        path: path.to_string(),
        text,
        added,
        removed,
        hunks,
    })
}

/// Joins per-file diffs into one patch, in the order given.
pub fn join_patch(diffs: &[FileDiff]) -> String {
    diffs.iter().map(|d| d.text.as_str()).collect()
}

/// Splits at `\n` only, each line keeping its terminator.
///
/// Git's line rule: a lone `\r` is part of the line, not a break, so similar's
/// own tokenizer (which also breaks at `\r`) cannot be used. The last line may
/// lack `\n`; that is how a missing final newline shows up later.
fn split_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// The `diff --git`, `---` and `+++` lines. No `index` line: `git apply`
/// does not need blob ids, and we have none to give. As git does, a name with
/// a space ends its `---`/`+++` lines with a tab, without which GNU `patch`
/// takes the name to end at the space.
fn file_header(path: &str) -> String {
    let a = quote_path("a/", path);
    let b = quote_path("b/", path);
    let tab = if path.contains(' ') { "\t" } else { "" };
    format!("diff --git {a} {b}\n--- {a}{tab}\n+++ {b}{tab}\n")
}

/// Prefixes `path` and quotes it C-style where git would.
///
/// Git quotes (with `core.quotepath` on, its default) when a name has `"`,
/// `\`, a control character or any non-ASCII byte; the prefix goes inside the
/// quotes. Spaces alone are left unquoted, as git does.
fn quote_path(prefix: &str, path: &str) -> String {
    let full = format!("{prefix}{path}");
    if !full.bytes().any(needs_quoting) {
        return full;
    }
    let mut out = String::with_capacity(full.len() + 8);
    out.push('"');
    for byte in full.bytes() {
        push_quoted_byte(&mut out, byte);
    }
    out.push('"');
    out
}

/// Control characters, DEL and every non-ASCII byte fall outside printable ASCII.
fn needs_quoting(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || !(0x20..0x7f).contains(&byte)
}

/// Writes one byte of a quoted name: git's short escapes where it has them,
/// three-digit octal for other bytes that need quoting, the byte otherwise.
fn push_quoted_byte(out: &mut String, byte: u8) {
    let short = match byte {
        0x07 => Some('a'),
        0x08 => Some('b'),
        b'\t' => Some('t'),
        b'\n' => Some('n'),
        0x0b => Some('v'),
        0x0c => Some('f'),
        b'\r' => Some('r'),
        b'"' => Some('"'),
        b'\\' => Some('\\'),
        _ => None,
    };
    match short {
        Some(c) => {
            out.push('\\');
            out.push(c);
        }
        None if needs_quoting(byte) => out.push_str(&format!("\\{byte:03o}")),
        None => out.push(char::from(byte)),
    }
}

/// The `@@ -l,s +l,s @@` line for a group of ops; `None` for an empty group.
///
/// The counts are the sums of the ops' own lengths, the lines the hunk really carries: the
/// patience diff can report an insertion at the end with an old position before the preceding
/// context, and a header computed from the last op's position would then miscount the hunk.
fn hunk_header(group: &[DiffOp]) -> Option<String> {
    let first = group.first()?;
    let old_len: usize = group.iter().map(|op| op.old_range().len()).sum();
    let new_len: usize = group.iter().map(|op| op.new_range().len()).sum();
    let old_start = first.old_range().start;
    let new_start = first.new_range().start;
    let old = hunk_range(old_start, old_start + old_len);
    let new = hunk_range(new_start, new_start + new_len);
    Some(format!("@@ -{old} +{new} @@\n"))
}

/// The old file's lines a group changes, 1-based and inclusive: see [`Hunk::old_first`].
fn changed_old_lines(group: &[DiffOp]) -> (usize, usize) {
    let changed: Vec<_> = group
        .iter()
        .filter(|op| op.tag() != DiffTag::Equal)
        .map(DiffOp::old_range)
        .collect();
    let start = changed.first().map_or(0, |r| r.start);
    let end = changed.last().map_or(start, |r| r.end).max(start);
    if end == start {
        (start, start)
    } else {
        (start + 1, end)
    }
}

/// One side of a hunk header from a 0-based half-open line range.
///
/// Git's convention: the start is 1-based, except that an empty range names
/// the line before it (so `0,0` at the top of a file); a count of 1 is left
/// out.
fn hunk_range(start: usize, end: usize) -> String {
    match end - start {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        count => format!("{},{count}", start + 1),
    }
}

/// Writes the patch lines of one op; returns (added, removed).
///
/// A replace writes all removed lines before all added ones, as git does.
fn write_op(out: &mut String, op: &DiffOp, old: &[&str], new: &[&str]) -> (usize, usize) {
    let (tag, old_range, new_range) = op.as_tag_tuple();
    match tag {
        DiffTag::Equal => {
            write_lines(out, ' ', &old[old_range]);
            (0, 0)
        }
        DiffTag::Delete => write_lines(out, '-', &old[old_range]),
        DiffTag::Insert => write_lines(out, '+', &new[new_range]),
        DiffTag::Replace => {
            let (_, removed) = write_lines(out, '-', &old[old_range]);
            let (added, _) = write_lines(out, '+', &new[new_range]);
            (added, removed)
        }
    }
}

/// Writes `lines` with `sign` in front; returns the count as (added, removed)
/// according to the sign.
///
/// Each line keeps its own terminator (so CRLF survives). Only a file's last
/// line can lack `\n`; such a line is ended here and followed by git's marker,
/// which tells `git apply` to drop that `\n` again. Because the check is per
/// line, it is right whether old, new or both lack the final newline, and for
/// context lines too.
fn write_lines(out: &mut String, sign: char, lines: &[&str]) -> (usize, usize) {
    for line in lines {
        out.push(sign);
        out.push_str(line);
        if !line.ends_with('\n') {
            out.push('\n');
            out.push_str(NO_NEWLINE_MARKER);
        }
    }
    match sign {
        '+' => (lines.len(), 0),
        '-' => (0, lines.len()),
        _ => (0, 0),
    }
}

#[cfg(test)]
mod tests;

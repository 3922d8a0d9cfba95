//! Rendering for people: the per-file summary of a run, warnings and errors, on stderr, in
//! colour when asked for (`--color`), and cut down to what needs attention with `--quiet`.
//!
//! The library returns typed results; this turns them into lines. The product (patch or JSON)
//! is written by the command itself.

use codey::engine::{Outcome, Report};
use codey::session::{ExitStatus, Mode, RunResult};

/// How text for people looks.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// ANSI colours (`--color`).
    pub color: bool,
    /// Only what needs attention: failed files, warnings, refusals (`--quiet`).
    pub quiet: bool,
}

const RED: &str = "31";
const GREEN: &str = "32";
const YELLOW: &str = "33";

/// `text` in an ANSI colour when colour is on.
fn paint(text: &str, code: &str, color: bool) -> String {
    if color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

/// A warning line.
pub fn warning(message: &str, color: bool) -> String {
    format!("{} {message}\n", paint("warning:", YELLOW, color))
}

/// An error and its causes on one line, each said once: thiserror messages often quote their
/// source already (`cannot read config X: No such file…`), and anyhow's `{:#}` would add it
/// again.
pub fn error(err: &anyhow::Error, color: bool) -> String {
    let mut message = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    format!("codey: {} {message}", paint("error:", RED, color))
}

/// The human summary: one line per file (per rule when there are several), the counts, then
/// the models' story. Quiet, only failed files, warnings and refusals.
pub fn summary(result: &RunResult, style: Style) -> String {
    let reports = &result.reports;
    let mut out = String::new();
    for report in reports {
        if let (Some(rule), false) = (&report.rule, style.quiet) {
            out.push_str(&format!("rule {rule}: {}\n", report.instruction));
        }
        file_lines(&mut out, report, style);
    }
    let count = |label: &str| reports.iter().map(|r| r.count(label)).sum::<usize>();
    if !style.quiet {
        out.push_str(&format!(
            "{} changed, {} unchanged, {} skipped, {} failed\n",
            count("changed"),
            count("unchanged"),
            count("skipped"),
            count("failed")
        ));
        // Stats are cumulative over the run: the last report holds them all.
        if let Some(last) = reports.last() {
            model_lines(&mut out, last);
        }
    }
    for warning in reports.iter().flat_map(|r| &r.warnings) {
        out.push_str(&self::warning(warning, style.color));
    }
    if let (Some(peak), false) = (
        reports.last().and_then(|r| r.models.peak_rss_mb),
        style.quiet,
    ) {
        out.push_str(&format!("peak RSS {peak} MB\n"));
    }
    written_lines(&mut out, result, style);
    out
}

/// What happened to the changes: flagged edits, refusals, the commit or the files written.
fn written_lines(out: &mut String, result: &RunResult, style: Style) {
    let warned = result.failures_warned();
    if warned > 0 {
        out.push_str(&warning(
            &format!(
                "{warned} file(s) could not be edited and are left as they are; the commit is \
                 not blocked for them (--strict blocks it)"
            ),
            style.color,
        ));
    }
    for change in result.flagged() {
        out.push_str(&format!(
            "{} {}: the edit adds invisible or bidirectional control characters: {}\n",
            paint("suspicious:", RED, style.color),
            change.path,
            change.flags.join("; ")
        ));
    }
    let Some(w) = &result.written else {
        return;
    };
    for r in &w.refused {
        out.push_str(&format!(
            "{} {}: {}\n",
            paint("not written:", YELLOW, style.color),
            r.path,
            r.refusal
        ));
    }
    if style.quiet {
        return;
    }
    let holds = || format!("{} file(s): {}", w.committed.len(), w.committed.join(", "));
    match (&w.commit, &w.branch) {
        (Some(commit), Some(branch)) => out.push_str(&format!(
            "committed {commit} on new branch {branch} ({}); worktree untouched\n",
            holds()
        )),
        (Some(commit), None) => out.push_str(&format!("committed {commit} ({})\n", holds())),
        _ if matches!(result.mode(), Mode::Write { .. }) => {
            out.push_str(&format!("wrote {} file(s)\n", w.files.len()));
            if result.exit_status() == ExitStatus::EditsDue && !w.files.is_empty() {
                out.push_str("review the edits with `git diff`, stage them and commit again\n");
            }
        }
        _ => {}
    }
}

fn file_lines(out: &mut String, report: &Report, style: Style) {
    for f in &report.files {
        let failed = matches!(f.outcome, Outcome::Failed(_));
        if style.quiet && !failed {
            continue;
        }
        let role = f.role.map_or("-", |r| r.name());
        let detail = match &f.outcome {
            Outcome::Changed { added, removed, .. } if f.repeated_blocks > 0 => format!(
                "+{added} -{removed} (the model looped: {} repeated block(s) dropped)",
                f.repeated_blocks
            ),
            Outcome::Changed { added, removed, .. } => format!("+{added} -{removed}"),
            other => other.reason().unwrap_or_default(),
        };
        let tokens = if f.generated_tokens > 0 {
            let rate = |tokens: usize, secs: f64| tokens as f64 / secs.max(1e-9);
            format!(
                " [{} prompt tokens at {:.0}/s, {} generated at {:.1}/s, {:.1}s]",
                f.prompt_tokens,
                rate(f.prompt_tokens, f.prompt_seconds),
                f.generated_tokens,
                rate(f.generated_tokens, f.generate_seconds),
                f.seconds
            )
        } else {
            String::new()
        };
        // Padded before it is painted: escape codes take no columns.
        let label = format!("{:<9}", f.outcome.label());
        let label = match f.outcome {
            Outcome::Changed { .. } => paint(&label, GREEN, style.color),
            Outcome::Failed(_) => paint(&label, RED, style.color),
            _ => label,
        };
        out.push_str(&format!("{label} {role:<9} {}: {detail}{tokens}\n", f.path));
    }
}

fn model_lines(out: &mut String, report: &Report) {
    for (role, s) in &report.models.roles {
        let measured = s.measured_mb.map_or("?".to_owned(), |m| m.to_string());
        out.push_str(&format!(
            "model {role}: {} load(s), {} unload(s) ({} evicted, {} idle), {} request(s), estimated {} MB, measured {measured} MB, load {:.2}s\n",
            s.loads, s.unloads, s.evictions, s.idle_unloads, s.requests, s.estimated_mb, s.load_seconds
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot read config /nope.json: {0}")]
    struct Quoting(#[source] std::io::Error);

    #[test]
    fn a_cause_the_message_already_quotes_is_said_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let said = io.to_string();
        let err = anyhow::Error::new(Quoting(io)).context("loading");
        let line = error(&err, false);
        assert_eq!(line.matches(&said).count(), 1, "{line}");
        assert!(
            line.starts_with("codey: error: loading: cannot read config"),
            "{line}"
        );
        assert!(error(&err, true).contains("\x1b[31merror:\x1b[0m"));
    }
}

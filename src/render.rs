//! Rendering for people: the per-file summary of a run, warnings and errors, on stderr, in
//! colour when asked for (`--color`), and cut down to what needs attention with `--quiet`.
//!
//! The library returns typed results; this turns them into lines: the summary, and the GitHub
//! Actions workflow commands of `--format github`. The patch and the JSON are written by the
//! command itself.

use codey::diff;
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
        if let Some(endpoint) = &s.endpoint {
            out.push_str(&format!(
                "model {role}: served by {endpoint} (no local memory), {} request(s), connect {:.2}s\n",
                s.requests, s.load_seconds
            ));
            continue;
        }
        let measured = s.measured_mb.map_or("?".to_owned(), |m| m.to_string());
        out.push_str(&format!(
            "model {role}: {} load(s), {} unload(s) ({} evicted, {} idle), {} request(s), estimated {} MB, measured {measured} MB, load {:.2}s\n",
            s.loads, s.unloads, s.evictions, s.idle_unloads, s.requests, s.estimated_mb, s.load_seconds
        ));
    }
}

/// GitHub Actions workflow commands (`--format github`): a `::warning` on the lines each hunk of
/// the edits due changes, titled with what asked for it, with the hunk as its message; an
/// `::error` (a `::warning` where failures only warn, under `--staged`) for each file that
/// failed or was refused. The runner shows them as annotations on the pull request's diff.
pub fn github(result: &RunResult) -> String {
    let mut out = String::new();
    for change in &result.changes {
        let Some(file_diff) = diff::unified_diff(
            &change.path,
            &change.original,
            &change.new_content,
            change.mode,
        ) else {
            continue;
        };
        let title = format!("codey: {}", asked_by(result, &change.path));
        for hunk in &file_diff.hunks {
            // GitHub has no line 0: an insertion at the top points at line 1.
            let (first, last) = (hunk.old_first.max(1), hunk.old_last.max(1));
            out.push_str(&workflow_command(
                "warning",
                &[
                    ("file", &change.path),
                    ("line", &first.to_string()),
                    ("endLine", &last.to_string()),
                    ("title", &title),
                ],
                &format!("edit due (apply the patch artifact):\n{}", hunk.text),
            ));
        }
    }
    let level = if result.failures_warned() > 0 {
        "warning"
    } else {
        "error"
    };
    for f in result.reports.iter().flat_map(|r| &r.files) {
        if let Outcome::Failed(error) = &f.outcome {
            let props = [("file", f.path.as_str()), ("title", "codey: not edited")];
            out.push_str(&workflow_command(level, &props, &error.to_string()));
        }
    }
    for r in result.written.iter().flat_map(|w| &w.refused) {
        let props = [("file", r.path.as_str()), ("title", "codey: not written")];
        out.push_str(&workflow_command("error", &props, &r.refusal.to_string()));
    }
    out
}

/// What asked for the edit of `path`: the rules that changed it, or the instruction.
fn asked_by(result: &RunResult, path: &str) -> String {
    let askers: Vec<String> = result
        .reports
        .iter()
        .filter(|r| {
            r.files
                .iter()
                .any(|f| f.path == path && matches!(f.outcome, Outcome::Changed { .. }))
        })
        .map(|r| match &r.rule {
            Some(rule) => format!("rule {rule}"),
            None => {
                let short: String = r.instruction.chars().take(60).collect();
                let more = if short.len() < r.instruction.len() {
                    "…"
                } else {
                    ""
                };
                format!("{short}{more}")
            }
        })
        .collect();
    askers.join(", ")
}

/// One workflow command line, escaped as the runner expects: in the message `%`, CR and LF;
/// in property values `:` and `,` too (they delimit the properties).
/// <https://github.com/actions/toolkit/blob/main/packages/core/src/command.ts>
fn workflow_command(command: &str, properties: &[(&str, &str)], message: &str) -> String {
    let escape = |text: &str| {
        text.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let props: Vec<String> = properties
        .iter()
        .map(|(key, value)| {
            let value = escape(value).replace(':', "%3A").replace(',', "%2C");
            format!("{key}={value}")
        })
        .collect();
    format!("::{command} {}::{}\n", props.join(","), escape(message))
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

    #[test]
    fn workflow_commands_escape_what_would_end_them() {
        assert_eq!(
            workflow_command(
                "warning",
                &[("file", "a,b:c.py"), ("title", "100%")],
                "one\ntwo\r\n50%"
            ),
            "::warning file=a%2Cb%3Ac.py,title=100%25::one%0Atwo%0D%0A50%25\n"
        );
    }
}

//! Rendering a run for people: the per-file summary on stderr.
//!
//! The library returns typed results; this turns them into lines. The product (patch or JSON)
//! is written by the command itself.

use codey::engine::{Outcome, Report};
use codey::session::{ExitStatus, Mode, RunResult};

/// The human summary: one line per file (per rule when there are several), the counts, then
/// the models' story.
pub fn summary(result: &RunResult) -> String {
    let reports = &result.reports;
    let mut out = String::new();
    for report in reports {
        if let Some(rule) = &report.rule {
            out.push_str(&format!("rule {rule}: {}\n", report.instruction));
        }
        file_lines(&mut out, report);
    }
    let count = |label: &str| reports.iter().map(|r| r.count(label)).sum::<usize>();
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
    for warning in reports.iter().flat_map(|r| &r.warnings) {
        out.push_str(&format!("warning: {warning}\n"));
    }
    if let Some(peak) = reports.last().and_then(|r| r.models.peak_rss_mb) {
        out.push_str(&format!("peak RSS {peak} MB\n"));
    }
    written_lines(&mut out, result);
    out
}

/// What happened to the changes: flagged edits, refusals, the commit or the files written.
fn written_lines(out: &mut String, result: &RunResult) {
    let warned = result.failures_warned();
    if warned > 0 {
        out.push_str(&format!(
            "warning: {warned} file(s) could not be edited and are left as they are; the commit is \
             not blocked for them (--strict blocks it)\n"
        ));
    }
    for change in result.flagged() {
        out.push_str(&format!(
            "suspicious: {}: the edit adds invisible or bidirectional control characters: {}\n",
            change.path,
            change.flags.join("; ")
        ));
    }
    let Some(w) = &result.written else {
        return;
    };
    for r in &w.refused {
        out.push_str(&format!("not written: {}: {}\n", r.path, r.refusal));
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

fn file_lines(out: &mut String, report: &Report) {
    for f in &report.files {
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
        out.push_str(&format!(
            "{:<9} {:<9} {}: {detail}{tokens}\n",
            f.outcome.label(),
            role,
            f.path
        ));
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

//! The remote rows of `codey bench`: files per minute editing a repository in this process
//! against the same model on llama-server (one row per server, files in flight up to its
//! slots), how much of a served edit's time is the client's, and how evenly `--shard` splits
//! the files.

use std::path::Path;
use std::time::Instant;

use serde::Serialize;

use super::{step, BenchError};
use crate::config::{Config, Role};
use crate::engine::{self, EditRequest, Outcome, Report};
use crate::event::{Progress, Silent};
use crate::lifecycle::Lifecycle;
use crate::llama::Llama;
use crate::remote::Endpoint;
use crate::router::Router;
use crate::scan::{self, ScanOptions};
use crate::shard;

/// One way of running the coder over every file.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteRow {
    /// `in-process`, or the server's URL.
    pub label: String,
    /// Files in flight side by side (the server's slots; 1 in-process).
    pub slots: usize,
    pub files: usize,
    pub changed: usize,
    pub failed: usize,
    pub seconds: f64,
    pub files_per_minute: f64,
    /// Files per minute over the in-process row's.
    pub speedup: f64,
    /// The server's own prompt and generation time over the client's time per file (1.0: no
    /// client overhead); only for served rows.
    pub server_share: Option<f64>,
    pub prompt_tokens_per_second: f64,
    pub generate_tokens_per_second: f64,
}

/// How evenly `--shard I/N` splits the files, by bytes.
#[derive(Debug, Clone, Serialize)]
pub struct ShardBalance {
    pub shards: usize,
    pub largest_bytes: u64,
    pub mean_bytes: f64,
    /// Largest over mean: 1.0 is a perfect split.
    pub imbalance: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemoteFigures {
    pub instruction: String,
    pub rows: Vec<RemoteRow>,
    pub shards: Vec<ShardBalance>,
}

/// Runs `instruction` with the coder over every file of `root`: in-process, then on each of
/// `servers` with as many files in flight as it has slots.
pub fn run(
    config: &Config,
    root: &Path,
    instruction: &str,
    servers: &[String],
    progress: &dyn Progress,
) -> Result<RemoteFigures, BenchError> {
    let mut rows = Vec::new();
    step(progress, "coder over every file, in-process".to_owned());
    let mut local = Lifecycle::new(Llama, config.clone(), None);
    rows.push(pass(&mut local, root, instruction, "in-process", 1)?);
    drop(local);
    for url in servers {
        let mut served = config.clone();
        served.models.coder.endpoint = Some(Endpoint::new(url.clone()));
        let mut lifecycle = Lifecycle::new(Llama, served, None);
        let slots = lifecycle.workers(Role::Coder, usize::MAX)?.len();
        step(
            progress,
            format!("coder over every file on {url} ({slots} slot(s))"),
        );
        rows.push(pass(&mut lifecycle, root, instruction, url, slots)?);
    }
    let base = rows[0].files_per_minute;
    for row in &mut rows {
        row.speedup = row.files_per_minute / base.max(f64::MIN_POSITIVE);
    }
    let weights: Vec<u64> = scan::scan(root, root, &ScanOptions::default())?
        .files
        .iter()
        .map(|c| c.content.len() as u64)
        .collect();
    let shards = [2, 4, 8]
        .into_iter()
        .map(|n| balance(&weights, n))
        .collect();
    Ok(RemoteFigures {
        instruction: instruction.to_owned(),
        rows,
        shards,
    })
}

fn pass(
    lifecycle: &mut Lifecycle<Llama>,
    root: &Path,
    instruction: &str,
    label: &str,
    slots: usize,
) -> Result<RemoteRow, BenchError> {
    let scanned = scan::scan(root, root, &ScanOptions::default())?;
    let request = EditRequest {
        role: Some(Role::Coder),
        jobs: slots,
        ..EditRequest::first_answers(instruction)
    };
    let started = Instant::now();
    let report = engine::run(
        lifecycle,
        &mut Router::new(crate::router::DEFAULT_MARGIN),
        &request,
        scanned.files,
        &scanned.skipped,
        &Silent,
    );
    let seconds = started.elapsed().as_secs_f64();
    Ok(row(
        &report,
        label,
        slots,
        seconds,
        lifecycle.is_remote(Role::Coder),
    ))
}

fn row(report: &Report, label: &str, slots: usize, seconds: f64, served: bool) -> RemoteRow {
    let edited: Vec<_> = report.files.iter().filter(|f| f.role.is_some()).collect();
    let sum = |f: &dyn Fn(&engine::FileReport) -> f64| edited.iter().map(|r| f(r)).sum::<f64>();
    let prompt_seconds = sum(&|r| r.prompt_seconds);
    let generate_seconds = sum(&|r| r.generate_seconds);
    let prompt_tokens = sum(&|r| (r.prompt_tokens - r.reused_tokens) as f64);
    let generated = sum(&|r| r.generated_tokens as f64);
    RemoteRow {
        label: label.to_owned(),
        slots,
        files: edited.len(),
        changed: edited
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Changed { .. }))
            .count(),
        failed: edited
            .iter()
            .filter(|f| matches!(f.outcome, Outcome::Failed(_)))
            .count(),
        seconds,
        files_per_minute: edited.len() as f64 * 60.0 / seconds.max(f64::MIN_POSITIVE),
        speedup: 1.0,
        server_share: served.then(|| {
            (prompt_seconds + generate_seconds) / sum(&|r| r.seconds).max(f64::MIN_POSITIVE)
        }),
        prompt_tokens_per_second: prompt_tokens / prompt_seconds.max(f64::MIN_POSITIVE),
        generate_tokens_per_second: generated / generate_seconds.max(f64::MIN_POSITIVE),
    }
}

fn balance(weights: &[u64], shards: usize) -> ShardBalance {
    let cuts = shard::partition(weights, shards);
    let loads: Vec<u64> = cuts
        .windows(2)
        .map(|w| weights[w[0]..w[1]].iter().sum())
        .collect();
    let largest = loads.iter().copied().max().unwrap_or(0);
    let mean = weights.iter().sum::<u64>() as f64 / shards as f64;
    ShardBalance {
        shards,
        largest_bytes: largest,
        mean_bytes: mean,
        imbalance: largest as f64 / mean.max(f64::MIN_POSITIVE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_is_largest_shard_over_the_mean() {
        let b = balance(&[10, 10, 10, 10], 2);
        assert_eq!(b.largest_bytes, 20);
        assert!((b.imbalance - 1.0).abs() < 1e-9);
        let b = balance(&[30, 10], 2);
        assert!((b.imbalance - 1.5).abs() < 1e-9);
    }
}

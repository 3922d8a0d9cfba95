//! Sharding: which part of a run's files one of N parallel jobs edits (`--shard I/N`).
//!
//! Owns parsing `I/N` and the partition of a scan into N contiguous runs of the path-sorted
//! files, balanced by size. Contiguous is what makes the shards add up: a patch lists its files
//! in path order, so the patches of shards 1, 2, …, N concatenated in that order are, byte for
//! byte, the patch of the unsharded run. The partition depends only on the candidates' paths and
//! sizes, never on the machine or the order the file system lists them in, so every job of a CI
//! matrix computes the same one. It does not decide what happens to a file.

use std::str::FromStr;

use crate::scan::{Candidate, Scan};

/// What one file weighs beyond its bytes: the prompt's fixed part and the router's look cost
/// about as much as this much more file. A guess, not a measurement; it only keeps a shard of
/// many tiny files from counting as light.
const PER_FILE_BYTES: u64 = 512;

/// One of N shards, `index` counted from 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: usize,
    count: usize,
}

/// A `--shard` argument that is not `I/N` with 1 ≤ I ≤ N. Retrying does not help; the
/// argument must change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("{0:?} is not of the form I/N, e.g. 2/4 for the second of four shards")]
    Syntax(String),
    #[error("the shard count N must be at least 1 (I/N, e.g. 1/1)")]
    NoShards,
    #[error("shard {index} of {count} does not exist: I/N needs 1 ≤ I ≤ N")]
    OutOfRange { index: usize, count: usize },
}

impl Shard {
    pub fn new(index: usize, count: usize) -> Result<Shard, ShardError> {
        if count == 0 {
            return Err(ShardError::NoShards);
        }
        if index == 0 || index > count {
            return Err(ShardError::OutOfRange { index, count });
        }
        Ok(Shard { index, count })
    }

    pub fn index(self) -> usize {
        self.index
    }

    pub fn count(self) -> usize {
        self.count
    }

    /// Splits a scan into this shard's part and the candidates of the other shards (whose
    /// contents still count when the router asks which names the repository holds). A skipped
    /// file goes to the shard whose path range holds it, so each is reported exactly once.
    pub fn select(self, scan: Scan) -> (Scan, Vec<Candidate>) {
        let mut files = scan.files;
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
        let weights: Vec<u64> = files.iter().map(weight).collect();
        let cuts = partition(&weights, self.count);
        let (lo, hi) = (cuts[self.index - 1], cuts[self.index]);
        // Path range of the shard: from its first file (the very start for shard 1) up to the
        // first file of the next non-empty shard; None is past every path.
        let start = |k: usize| -> Option<String> { files.get(cuts[k - 1]).map(|c| c.rel.clone()) };
        let from = if self.index == 1 {
            Some(String::new())
        } else {
            start(self.index)
        };
        let to = if self.index == self.count {
            None
        } else {
            start(self.index + 1)
        };
        let owns = |path: &str| {
            from.as_deref().is_some_and(|f| f <= path) && to.as_deref().is_none_or(|t| path < t)
        };
        let skipped = scan.skipped.into_iter().filter(|(p, _)| owns(p)).collect();
        let mut others = files;
        let mine: Vec<Candidate> = others.drain(lo..hi).collect();
        (
            Scan {
                files: mine,
                skipped,
            },
            others,
        )
    }
}

impl FromStr for Shard {
    type Err = ShardError;

    fn from_str(s: &str) -> Result<Shard, ShardError> {
        let syntax = || ShardError::Syntax(s.to_owned());
        let (i, n) = s.split_once('/').ok_or_else(syntax)?;
        let number = |t: &str| {
            // Digits only: `+1` and ` 1` parse as usize but are not what `I/N` means.
            if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            t.parse::<usize>().map_err(|_| syntax())
        };
        Shard::new(number(i)?, number(n)?)
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

fn weight(c: &Candidate) -> u64 {
    c.content.len() as u64 + PER_FILE_BYTES
}

/// Cuts `weights` (in path order) into `count` contiguous runs: returns `count + 1` indices,
/// `0 = c[0] ≤ c[1] ≤ … ≤ c[count] = len`, run `k` (from 1) being `c[k-1]..c[k]`.
///
/// The heaviest run is as light as any contiguous partition allows (the least capacity with
/// which greedy packing needs at most `count` runs, found by bisection). Among the partitions
/// that meet that bound, each cut in turn is placed, as far as the bound lets it, nearest an
/// even share of what the earlier runs left, so the lighter runs are balanced too rather than
/// packed to the bound from the left with empty runs at the end.
pub fn partition(weights: &[u64], count: usize) -> Vec<usize> {
    let n = weights.len();
    let count = count.max(1);
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0u64);
    for w in weights {
        prefix.push(prefix[prefix.len() - 1] + w);
    }
    let total = prefix[n];
    let cap = least_capacity(weights, count);
    // lowest[m]: the first index from which the files to the end fit in m runs of `cap`.
    let mut lowest = vec![n; count + 1];
    for m in 1..=count {
        lowest[m] = extend_left(&prefix, lowest[m - 1], cap);
    }
    let mut cuts = vec![0; count + 1];
    for k in 1..count {
        let prev = cuts[k - 1];
        let lo = prev.max(lowest[count - k]);
        let hi = extend_right(&prefix, prev, cap);
        cuts[k] = nearest(&prefix, prev, lo..=hi, total, count - k + 1);
    }
    cuts[count] = n;
    cuts
}

/// The least capacity with which greedy packing from the left needs at most `count` runs.
fn least_capacity(weights: &[u64], count: usize) -> u64 {
    let runs = |cap: u64| {
        let (mut runs, mut load) = (1usize, 0u64);
        for &w in weights {
            if load + w > cap {
                runs += 1;
                load = 0;
            }
            load += w;
        }
        runs
    };
    let (mut lo, mut hi) = (
        weights.iter().copied().max().unwrap_or(0),
        weights.iter().sum::<u64>(),
    );
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if runs(mid) <= count {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    lo
}

/// The furthest index `j ≥ from` with the files `from..j` weighing at most `cap`.
fn extend_right(prefix: &[u64], from: usize, cap: u64) -> usize {
    let limit = prefix[from] + cap;
    // prefix is non-decreasing: the last j with prefix[j] ≤ limit.
    from + prefix[from..].partition_point(|&p| p <= limit) - 1
}

/// The first index `i ≤ to` with the files `i..to` weighing at most `cap`.
fn extend_left(prefix: &[u64], to: usize, cap: u64) -> usize {
    let floor = prefix[to].saturating_sub(cap);
    prefix[..=to].partition_point(|&p| p < floor)
}

/// The end in `range` for the run starting at `start`, the first of `runs` still to cut, whose
/// prefix weight is nearest an even share of the rest: `prefix[start] + (total −
/// prefix[start]) / runs`, compared multiplied out by `runs`. Ties go to the lower index.
fn nearest(
    prefix: &[u64],
    start: usize,
    range: std::ops::RangeInclusive<usize>,
    total: u64,
    runs: usize,
) -> usize {
    let (lo, hi) = range.into_inner();
    let runs = runs as u128;
    let done = u128::from(prefix[start]);
    let target = done * (runs - 1) + u128::from(total);
    let scaled = |i: usize| u128::from(prefix[i]) * runs;
    // prefix is non-decreasing: the first index at or past the target and the one before it
    // are the only candidates.
    let past = lo + prefix[lo..=hi].partition_point(|&p| u128::from(p) * runs < target);
    if past > hi {
        return hi;
    }
    if past == lo {
        return lo;
    }
    let before = past - 1;
    if target - scaled(before) <= scaled(past) - target {
        before
    } else {
        past
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::SkipReason;
    use proptest::prelude::*;

    /// The least possible weight of the heaviest run, by dynamic programming over every
    /// contiguous partition.
    fn optimum(weights: &[u64], count: usize) -> u64 {
        let n = weights.len();
        let sum = |a: usize, b: usize| weights[a..b].iter().sum::<u64>();
        // best[k][i]: the first i files in k runs.
        let mut best = vec![vec![u64::MAX; n + 1]; count + 1];
        best[0][0] = 0;
        for k in 1..=count {
            for i in 0..=n {
                for j in 0..=i {
                    if best[k - 1][j] != u64::MAX {
                        best[k][i] = best[k][i].min(best[k - 1][j].max(sum(j, i)));
                    }
                }
            }
        }
        best[count][n]
    }

    fn heaviest(weights: &[u64], cuts: &[usize]) -> u64 {
        cuts.windows(2)
            .map(|w| weights[w[0]..w[1]].iter().sum::<u64>())
            .max()
            .unwrap_or(0)
    }

    proptest! {
        #[test]
        fn runs_are_contiguous_cover_every_file_once_and_are_as_light_as_possible(
            weights in proptest::collection::vec(1u64..2000, 0..30),
            count in 1usize..7,
        ) {
            let cuts = partition(&weights, count);
            prop_assert_eq!(cuts.len(), count + 1);
            prop_assert_eq!(cuts[0], 0);
            prop_assert_eq!(cuts[count], weights.len());
            prop_assert!(cuts.windows(2).all(|w| w[0] <= w[1]), "{:?}", cuts);
            prop_assert_eq!(heaviest(&weights, &cuts), optimum(&weights, count));
            // The same input always gives the same cuts.
            prop_assert_eq!(partition(&weights, count), cuts);
        }
    }

    #[test]
    fn the_light_runs_are_spread_too_not_left_empty_at_the_end() {
        assert_eq!(partition(&[1; 12], 3), vec![0, 4, 8, 12]);
        // Greedy packing to the bound (2) would give [1, 1], [1, 1], [].
        assert_eq!(partition(&[1; 4], 3), vec![0, 1, 2, 4]);
        // One heavy file takes a shard of its own.
        assert_eq!(partition(&[1, 1, 10, 1, 1], 3), vec![0, 2, 3, 5]);
        // More shards than files: the extra shards are empty.
        assert_eq!(partition(&[5, 5], 4), vec![0, 0, 1, 1, 2]);
        assert_eq!(partition(&[], 2), vec![0, 0, 0]);
    }

    #[test]
    fn i_of_n_is_parsed_and_checked() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard::new(2, 4).unwrap()));
        assert_eq!(
            "1/1".parse::<Shard>().map(|s| s.to_string()),
            Ok("1/1".into())
        );
        assert_eq!(
            "0/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 0, count: 3 })
        );
        assert_eq!(
            "4/3".parse::<Shard>(),
            Err(ShardError::OutOfRange { index: 4, count: 3 })
        );
        assert_eq!("1/0".parse::<Shard>(), Err(ShardError::NoShards));
        for bad in ["", "1", "1/", "/2", "a/b", "1/2/3", "+1/2", " 1/2", "1/-2"] {
            assert_eq!(
                bad.parse::<Shard>(),
                Err(ShardError::Syntax(bad.into())),
                "{bad}"
            );
        }
        let message = "0/3".parse::<Shard>().unwrap_err().to_string();
        assert!(message.contains("1 ≤ I ≤ N"), "{message}");
    }

    fn candidate(rel: &str, bytes: usize) -> Candidate {
        Candidate {
            path: rel.into(),
            rel: rel.to_owned(),
            content: "x".repeat(bytes),
            mode: 0o100644,
            explicit: false,
        }
    }

    #[test]
    fn every_file_and_skip_lands_in_exactly_one_shard_whatever_the_listing_order() {
        let sizes = [
            ("a.py", 900),
            ("b/c.py", 50),
            ("b/d.py", 4000),
            ("e.rs", 10),
            ("f.go", 700),
            ("g.js", 3000),
            ("h.ts", 1),
        ];
        let skipped: Vec<(String, SkipReason)> = ["0.bin", "b/c.zip", "e.so", "z.bin"]
            .iter()
            .map(|p| ((*p).to_owned(), SkipReason::Binary))
            .collect();
        let sorted: Vec<Candidate> = sizes.iter().map(|(p, n)| candidate(p, *n)).collect();
        let mut shuffled = sorted.clone();
        shuffled.reverse();
        shuffled.swap(1, 4);
        for count in 1..=8 {
            let mut files = Vec::new();
            let mut skips = Vec::new();
            for index in 1..=count {
                let shard = Shard::new(index, count).unwrap();
                let scan = |files: &[Candidate]| Scan {
                    files: files.to_vec(),
                    skipped: skipped.clone(),
                };
                let (mine, others) = shard.select(scan(&shuffled));
                let (same, _) = shard.select(scan(&sorted));
                assert_eq!(mine.files, same.files, "{shard}");
                assert_eq!(mine.files.len() + others.len(), sorted.len());
                files.extend(mine.files);
                skips.extend(mine.skipped);
            }
            // Concatenated in shard order: every file once, in path order.
            assert_eq!(files, sorted, "{count} shards");
            assert_eq!(skips, skipped, "{count} shards");
        }
    }
}

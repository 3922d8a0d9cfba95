//! The model lifecycle manager: which models are in memory, and when they come and go.
//!
//! Owns loading on demand, the estimate made before every load (weights + KV cache + compute
//! buffers, from GGUF metadata), the memory budget (least recently used non-resident model
//! evicted first; always-resident models never), idle unloading (the clock starts when a request
//! ends, so a busy model is never unloaded), and the statistics the summary reports. It does not
//! decide which role a file needs (`router`) or in what order files run (`engine`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::config::{Config, Role};
use crate::event::{Event, ModelEvent, Progress, Silent};
use crate::hash::sha256_file;
use crate::loaded::Loaded;
use crate::model::{Backend, LoadSpec, ModelError, ModelFacts};
use crate::remote::{RemoteError, RemoteModel};

/// Tokens per llama.cpp batch; also what compute buffers are sized for.
pub const BATCH_SIZE: u32 = 512;

/// Memory a model is expected to take once loaded, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Estimate {
    pub weights: u64,
    pub kv_cache: u64,
    pub compute: u64,
}

impl Estimate {
    /// From GGUF metadata and the configured context: weights are the mapped file plus the
    /// tensors the CPU backend may repack into a second buffer (for a Q4_K_M 1.5B model that is
    /// 600 MB, what an estimate of the file alone missed); the KV cache
    /// holds f16 keys and values for every layer and position; compute buffers are dominated by
    /// one batch of logits and activations.
    pub fn from_facts(facts: &ModelFacts, context_size: u32, batch: u32) -> Self {
        let ctx = u64::from(context_size);
        let batch = u64::from(batch);
        // Saturating: absurd metadata must give an absurd estimate (refused), not a wrapped one.
        let kv_per_token = facts
            .n_head_kv
            .saturating_mul(facts.head_dim_k.saturating_add(facts.head_dim_v))
            .saturating_mul(2);
        Estimate {
            weights: facts.file_bytes.saturating_add(facts.repackable_bytes),
            kv_cache: facts
                .n_layer
                .saturating_mul(ctx)
                .saturating_mul(kv_per_token),
            compute: facts
                .n_vocab
                .saturating_add(facts.n_embd.saturating_mul(4))
                .saturating_mul(batch)
                .saturating_mul(4),
        }
    }

    pub fn total(&self) -> u64 {
        self.weights
            .saturating_add(self.kv_cache)
            .saturating_add(self.compute)
    }
}

/// Bytes to whole mebibytes, rounded up, for messages.
pub fn mb(bytes: u64) -> u64 {
    bytes.div_ceil(1024 * 1024)
}

/// Why a model could not be made available. Retrying does not help: the config, the budget or
/// the model file has to change.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    #[error("{role} model not found at {path}: {hint}")]
    Missing {
        role: Role,
        path: PathBuf,
        hint: String,
    },
    #[error(
        "{role} model needs an estimated {needed_mb} MB but the memory budget is {budget_mb} MB: \
         raise memory_budget_mb or choose a smaller model or context_size"
    )]
    TooLarge {
        role: Role,
        needed_mb: u64,
        budget_mb: u64,
    },
    #[error(
        "{role} model needs an estimated {needed_mb} MB but only {free_mb} MB of the {budget_mb} MB \
         budget can be freed (always-resident: {resident}): raise memory_budget_mb"
    )]
    NoRoom {
        role: Role,
        needed_mb: u64,
        free_mb: u64,
        budget_mb: u64,
        resident: String,
    },
    #[error(
        "{role} model path {path} lies outside the model directory {dir}; codey loads models only \
         from model_dir (move the file there, or point model_dir at its directory)"
    )]
    OutsideModelDir {
        role: Role,
        path: PathBuf,
        dir: PathBuf,
    },
    #[error(
        "{role} model {path} does not match its pinned sha256: expected {expected}, found {found} \
         (the file is corrupt or was replaced; fetch it again)"
    )]
    Checksum {
        role: Role,
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("{role} model: {source}")]
    Model {
        role: Role,
        #[source]
        source: ModelError,
    },
    #[error("{role} model endpoint {source}")]
    Remote {
        role: Role,
        #[source]
        source: RemoteError,
    },
}

/// A source of time, so tests can move it.
pub trait Clock {
    fn now(&self) -> Duration;
}

/// Wall-clock time since the manager was created.
#[derive(Debug)]
pub struct SystemClock(Instant);

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock(Instant::now())
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// A clock that only moves when told; clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct ManualClock(Arc<AtomicU64>);

impl ManualClock {
    pub fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_millis() as u64, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Counters for one role.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RoleStats {
    pub loads: u32,
    pub unloads: u32,
    pub evictions: u32,
    pub idle_unloads: u32,
    pub requests: u32,
    pub load_seconds: f64,
    pub estimated_mb: u64,
    /// Growth of the process's resident memory over the model's load and first request.
    pub measured_mb: Option<u64>,
    /// The server that runs the model, when it is not in this process.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// Everything the summary reports about models.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub roles: BTreeMap<Role, RoleStats>,
    pub events: Vec<ModelEvent>,
    pub peak_rss_mb: Option<u64>,
}

struct Slot<M> {
    model: M,
    estimate: u64,
    last_used: Duration,
    rss_before: Option<u64>,
    measured: bool,
}

/// Keeps models in memory within the budget.
pub struct Lifecycle<B: Backend> {
    backend: B,
    config: Config,
    config_source: Option<PathBuf>,
    threads: usize,
    clock: Box<dyn Clock>,
    facts: BTreeMap<Role, ModelFacts>,
    slots: BTreeMap<Role, Slot<Loaded<B::Model>>>,
    stats: Stats,
    progress: Rc<dyn Progress>,
    /// Roles whose file matched its pinned sha256 in this run.
    verified: BTreeSet<Role>,
}

impl<B: Backend> Lifecycle<B> {
    pub fn new(backend: B, config: Config, config_source: Option<PathBuf>) -> Self {
        Lifecycle {
            backend,
            config,
            config_source,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            clock: Box::new(SystemClock::default()),
            facts: BTreeMap::new(),
            slots: BTreeMap::new(),
            stats: Stats::default(),
            progress: Rc::new(Silent),
            verified: BTreeSet::new(),
        }
    }

    /// Replaces the clock (tests).
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Threads for llama.cpp; defaults to the number of cores, since llama.cpp's own default
    /// of 4 oversubscribes small machines.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Reports every model event to `progress` as it happens.
    pub fn with_progress(mut self, progress: Rc<dyn Progress>) -> Self {
        self.progress = progress;
        self
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Roles whose models are in memory now.
    pub fn loaded(&self) -> Vec<Role> {
        self.slots.keys().copied().collect()
    }

    /// The statistics so far, with the current peak RSS.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.peak_rss_mb = peak_rss().map(mb);
        stats
    }

    /// Whether `role`'s model runs on a server (it then takes no memory here).
    pub fn is_remote(&self, role: Role) -> bool {
        self.config.models.get(role).endpoint.is_some()
    }

    /// Connects to every model configured on a server: the health and identity check made
    /// before a batch, so that a server that is down fails the run at once, naming it.
    pub fn connect_remotes(&mut self) -> Result<(), LifecycleError> {
        for role in Role::ALL {
            if self.is_remote(role) {
                self.ensure_loaded(role)?;
            }
        }
        Ok(())
    }

    /// Up to `n` handles on `role`'s served model, each pinned to its own server slot (and so
    /// its own prompt cache), for files in flight side by side; never more than the server has
    /// slots. Empty when the model is not served.
    pub fn workers(&mut self, role: Role, n: usize) -> Result<Vec<RemoteModel>, LifecycleError> {
        if !self.is_remote(role) {
            return Ok(Vec::new());
        }
        self.ensure_loaded(role)?;
        let remote = self
            .slots
            .get(&role)
            .and_then(|s| s.model.remote())
            .ok_or_else(|| missing_slot(role))?;
        let workers: Vec<RemoteModel> = (0..n.min(remote.slots()).max(1))
            .map(|slot| remote.pinned(slot))
            .collect();
        Ok(workers)
    }

    /// Counts `n` requests made to `role`'s model outside [`Lifecycle::with`] (by workers).
    pub fn count_requests(&mut self, role: Role, n: usize) {
        self.role_stats(role).requests += n as u32;
    }

    /// The memory `role`'s model is expected to need, from its GGUF metadata (nothing for a
    /// served model).
    pub fn estimate(&mut self, role: Role) -> Result<Estimate, LifecycleError> {
        if self.is_remote(role) {
            return Ok(Estimate::default());
        }
        let facts = match self.facts.get(&role) {
            Some(f) => *f,
            None => {
                let path = self.existing_path(role)?;
                let f = self
                    .backend
                    .inspect(&path)
                    .map_err(|source| LifecycleError::Model { role, source })?;
                self.facts.insert(role, f);
                f
            }
        };
        let context = self.config.models.get(role).context_size;
        Ok(Estimate::from_facts(&facts, context, BATCH_SIZE))
    }

    /// Runs `f` on `role`'s model, loading it (and making room) first. The idle clock restarts
    /// when `f` returns.
    pub fn with<R>(
        &mut self,
        role: Role,
        f: impl FnOnce(&mut Loaded<B::Model>) -> R,
    ) -> Result<R, LifecycleError> {
        self.unload_idle();
        self.ensure_loaded(role)?;
        let slot = self
            .slots
            .get_mut(&role)
            .ok_or_else(|| missing_slot(role))?;
        let result = f(&mut slot.model);
        slot.last_used = self.clock.now();
        if !slot.measured {
            slot.measured = true;
            let grown = rss()
                .zip(slot.rss_before)
                .map(|(now, before)| now.saturating_sub(before));
            // From now on the budget counts what the model really took when that is more than
            // the estimate (llama.cpp's CPU backend may repack weights into a second buffer).
            slot.estimate = slot.estimate.max(grown.unwrap_or(0));
            self.role_stats(role).measured_mb = grown.map(mb);
        }
        self.role_stats(role).requests += 1;
        Ok(result)
    }

    /// How `role`'s model is (or would be) loaded: its checked path and the run's parameters.
    pub fn load_spec(&mut self, role: Role) -> Result<LoadSpec, LifecycleError> {
        let path = self.existing_path(role)?;
        let model_cfg = self.config.models.get(role);
        Ok(LoadSpec {
            path,
            context_size: model_cfg.context_size,
            n_gpu_layers: model_cfg.n_gpu_layers,
            threads: self.threads,
            batch_size: BATCH_SIZE,
        })
    }

    /// Unloads every non-resident model idle for longer than its `unload_after_seconds`.
    /// Returns the roles unloaded.
    pub fn unload_idle(&mut self) -> Vec<Role> {
        let now = self.clock.now();
        let idle: Vec<(Role, u64)> = self
            .slots
            .iter()
            .filter_map(|(&role, slot)| {
                let cfg = self.config.models.get(role);
                let limit = cfg.unload_after_seconds.filter(|_| !cfg.always_resident)?;
                let idle = now.saturating_sub(slot.last_used);
                (idle >= Duration::from_secs(limit)).then_some((role, idle.as_secs()))
            })
            .collect();
        for &(role, idle_seconds) in &idle {
            self.slots.remove(&role);
            self.role_stats(role).idle_unloads += 1;
            self.role_stats(role).unloads += 1;
            self.emit(ModelEvent::IdleUnload { role, idle_seconds });
        }
        idle.into_iter().map(|(r, _)| r).collect()
    }

    /// Unloads `role`'s model if it is loaded, resident or not (end of run, tests).
    pub fn unload(&mut self, role: Role) {
        if self.slots.remove(&role).is_some() {
            self.role_stats(role).unloads += 1;
            self.emit(ModelEvent::Unload { role });
        }
    }

    /// The model file for `role`: present, inside `model_dir` once symlinks and `..` are
    /// resolved, and matching its pinned sha256 if the config pins one (checked once per run).
    fn existing_path(&mut self, role: Role) -> Result<PathBuf, LifecycleError> {
        let path = self.config.model_path(role);
        if !path.is_file() {
            return Err(LifecycleError::Missing {
                role,
                hint: self.config.fetch_hint(role, self.config_source.as_deref()),
                path,
            });
        }
        let dir = self.config.model_dir();
        let inside = match (path.canonicalize(), dir.canonicalize()) {
            (Ok(file), Ok(dir)) => file.starts_with(dir),
            _ => false,
        };
        if !inside {
            return Err(LifecycleError::OutsideModelDir { role, path, dir });
        }
        if let Some(expected) = self.config.models.get(role).sha256.clone() {
            if !self.verified.contains(&role) {
                let found = sha256_file(&path).map_err(|e| LifecycleError::Model {
                    role,
                    source: ModelError::invalid_file(&path, e.to_string()),
                })?;
                if !found.eq_ignore_ascii_case(&expected) {
                    return Err(LifecycleError::Checksum {
                        role,
                        path,
                        expected,
                        found,
                    });
                }
                self.verified.insert(role);
            }
        }
        Ok(path)
    }

    fn ensure_loaded(&mut self, role: Role) -> Result<(), LifecycleError> {
        if self.slots.contains_key(&role) {
            return Ok(());
        }
        if let Some(endpoint) = self.config.models.get(role).endpoint.clone() {
            return self.connect(role, &endpoint);
        }
        let estimate = self.estimate(role)?.total();
        let budget = self.config.budget_bytes();
        if estimate > budget {
            return Err(LifecycleError::TooLarge {
                role,
                needed_mb: mb(estimate),
                budget_mb: mb(budget),
            });
        }
        self.make_room(role, estimate, budget)?;
        let spec = self.load_spec(role)?;
        self.emit(ModelEvent::Load {
            role,
            estimated_mb: mb(estimate),
        });
        let rss_before = rss().filter(|_| self.backend.uses_process_memory());
        let started = Instant::now();
        let model = self
            .backend
            .load(&spec)
            .map(Loaded::Local)
            .map_err(|source| LifecycleError::Model { role, source })?;
        let stats = self.role_stats(role);
        stats.loads += 1;
        stats.load_seconds += started.elapsed().as_secs_f64();
        stats.estimated_mb = mb(estimate);
        let now = self.clock.now();
        self.slots.insert(
            role,
            Slot {
                model,
                estimate,
                last_used: now,
                rss_before,
                measured: false,
            },
        );
        Ok(())
    }

    /// Checks `role`'s server and keeps a handle on it; it takes no memory budget and is never
    /// evicted for room.
    fn connect(
        &mut self,
        role: Role,
        endpoint: &crate::remote::Endpoint,
    ) -> Result<(), LifecycleError> {
        let cfg = self.config.models.get(role);
        let expected = (!cfg.path.as_os_str().is_empty()).then(|| cfg.path.clone());
        let started = Instant::now();
        let model = RemoteModel::connect(endpoint, expected.as_deref(), cfg.context_size as usize)
            .map_err(|source| LifecycleError::Remote { role, source })?;
        self.emit(ModelEvent::Connect {
            role,
            endpoint: model.url().to_owned(),
            model: model.served().to_owned(),
            slots: model.slots(),
        });
        let stats = self.role_stats(role);
        stats.loads += 1;
        stats.load_seconds += started.elapsed().as_secs_f64();
        stats.endpoint = Some(model.url().to_owned());
        let now = self.clock.now();
        self.slots.insert(
            role,
            Slot {
                model: Loaded::Remote(model),
                estimate: 0,
                last_used: now,
                rss_before: None,
                measured: true,
            },
        );
        Ok(())
    }

    /// Evicts least recently used non-resident models until `needed` fits.
    fn make_room(&mut self, role: Role, needed: u64, budget: u64) -> Result<(), LifecycleError> {
        loop {
            let used: u64 = self.slots.values().map(|s| s.estimate).sum();
            if used + needed <= budget {
                return Ok(());
            }
            let victim = self
                .slots
                .iter()
                .filter(|(r, s)| s.estimate > 0 && !self.config.models.get(**r).always_resident)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(r, _)| *r);
            let Some(victim) = victim else {
                let resident: Vec<&str> = self.slots.keys().map(|r| r.name()).collect();
                return Err(LifecycleError::NoRoom {
                    role,
                    needed_mb: mb(needed),
                    free_mb: mb(budget.saturating_sub(used)),
                    budget_mb: mb(budget),
                    resident: resident.join(", "),
                });
            };
            self.slots.remove(&victim);
            let stats = self.role_stats(victim);
            stats.evictions += 1;
            stats.unloads += 1;
            self.emit(ModelEvent::Evict {
                role: victim,
                for_role: role,
            });
        }
    }

    fn role_stats(&mut self, role: Role) -> &mut RoleStats {
        self.stats.roles.entry(role).or_default()
    }

    fn emit(&mut self, event: ModelEvent) {
        self.progress.event(&Event::Model(event.clone()));
        self.stats.events.push(event);
    }
}

fn missing_slot(role: Role) -> LifecycleError {
    LifecycleError::Model {
        role,
        source: ModelError::Load {
            path: PathBuf::new(),
            reason: "model vanished after loading".into(),
        },
    }
}

/// A line of /proc/self/status in bytes (Linux only; None elsewhere).
fn proc_status_kb(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Current resident set size in bytes.
pub fn rss() -> Option<u64> {
    proc_status_kb("VmRSS:")
}

/// Peak resident set size in bytes.
pub fn peak_rss() -> Option<u64> {
    proc_status_kb("VmHWM:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scripted::{Scripted, ScriptedModel};

    const MIB: u64 = 1024 * 1024;
    fn setup(
        sizes: [u64; 3],
        budget_mb: u64,
    ) -> (tempfile::TempDir, Lifecycle<Scripted>, ManualClock) {
        let (dir, lc, _, clock) = crate::scripted::lifecycle(sizes, budget_mb);
        (dir, lc, clock)
    }

    fn touch(lc: &mut Lifecycle<Scripted>, role: Role) {
        lc.with(role, |_m: &mut Loaded<ScriptedModel>| ()).unwrap();
    }

    #[test]
    fn estimate_counts_weights_kv_and_compute() {
        let facts = ModelFacts {
            file_bytes: 100,
            repackable_bytes: 60,
            n_layer: 2,
            n_embd: 8,
            n_head: 2,
            n_head_kv: 1,
            head_dim_k: 4,
            head_dim_v: 4,
            n_vocab: 10,
            n_ctx_train: 0,
        };
        let e = Estimate::from_facts(&facts, 16, 4);
        // The repackable tensors count twice: mapped, and copied into the repacked buffer.
        assert_eq!(e.weights, 160);
        assert_eq!(e.kv_cache, 2 * 16 * 8 * 2);
        assert_eq!(e.compute, (10 + 32) * 4 * 4);
        assert_eq!(e.total(), 160 + 512 + 672);
    }

    #[test]
    fn evicts_least_recently_used_and_never_the_resident_router() {
        // Router 100 + coder 500 + algorithm 500 does not fit 1000: one editor must go.
        let (_d, mut lc, clock) = setup([100, 500, 500], 1000);
        touch(&mut lc, Role::Router);
        clock.advance(Duration::from_secs(1));
        touch(&mut lc, Role::Coder);
        clock.advance(Duration::from_secs(1));
        // The router is older than the coder but resident, so the coder is the victim.
        touch(&mut lc, Role::Algorithm);
        assert_eq!(lc.loaded(), vec![Role::Router, Role::Algorithm]);
        let stats = lc.stats();
        assert!(stats.events.contains(&ModelEvent::Evict {
            role: Role::Coder,
            for_role: Role::Algorithm
        }));
        assert_eq!(stats.roles[&Role::Coder].evictions, 1);
        assert_eq!(stats.roles.get(&Role::Router).map_or(0, |s| s.evictions), 0);
    }

    #[test]
    fn lru_order_picks_the_oldest_non_resident() {
        // Budget fits router + two editors of 300 but not a third model; make coder the newer.
        let (_d, mut lc, clock) = setup([100, 300, 300], 800);
        lc.config.models.router.always_resident = false;
        touch(&mut lc, Role::Algorithm);
        clock.advance(Duration::from_secs(1));
        touch(&mut lc, Role::Coder);
        clock.advance(Duration::from_secs(1));
        touch(&mut lc, Role::Router);
        assert_eq!(
            lc.loaded(),
            vec![Role::Router, Role::Coder, Role::Algorithm]
        );
        // Grow the router so that one more model must go: the algorithm is least recent.
        lc.unload(Role::Router);
        lc.config.models.router.context_size = 4096;
        lc.backend
            .set_size(&lc.config.model_path(Role::Router), 250 * MIB);
        lc.facts.clear();
        touch(&mut lc, Role::Router);
        assert_eq!(lc.loaded(), vec![Role::Router, Role::Coder]);
    }

    #[test]
    fn model_larger_than_budget_is_refused() {
        let (_d, mut lc, _) = setup([100, 2000, 500], 1000);
        let err = lc.with(Role::Coder, |_| ()).unwrap_err().to_string();
        assert!(err.contains("coder model needs an estimated"), "{err}");
        assert!(err.contains("budget is 1000 MB"), "{err}");
        assert!(lc.loaded().is_empty());
    }

    #[test]
    fn no_room_when_residents_fill_the_budget() {
        let (_d, mut lc, _) = setup([600, 500, 500], 1000);
        touch(&mut lc, Role::Router);
        let err = lc.with(Role::Coder, |_| ()).unwrap_err().to_string();
        assert!(err.contains("always-resident: router"), "{err}");
        assert_eq!(lc.loaded(), vec![Role::Router]);
    }

    #[test]
    fn idle_models_unload_after_their_timeout_but_resident_ones_stay() {
        let (_d, mut lc, clock) = setup([100, 300, 300], 5000);
        lc.config.models.coder.unload_after_seconds = Some(30);
        touch(&mut lc, Role::Router);
        touch(&mut lc, Role::Coder);
        clock.advance(Duration::from_secs(29));
        assert!(lc.unload_idle().is_empty());
        clock.advance(Duration::from_secs(1));
        assert_eq!(lc.unload_idle(), vec![Role::Coder]);
        clock.advance(Duration::from_secs(3600));
        assert!(lc.unload_idle().is_empty());
        assert_eq!(lc.loaded(), vec![Role::Router]);
        assert_eq!(lc.stats().roles[&Role::Coder].idle_unloads, 1);
    }

    #[test]
    fn idle_clock_starts_when_the_request_ends() {
        let (_d, mut lc, clock) = setup([100, 300, 300], 5000);
        lc.config.models.coder.unload_after_seconds = Some(10);
        let inner = clock.clone();
        // A request that runs for a minute: the model is busy, not idle.
        lc.with(Role::Coder, |_| inner.advance(Duration::from_secs(60)))
            .unwrap();
        assert!(
            lc.unload_idle().is_empty(),
            "unloaded right after a long request"
        );
        clock.advance(Duration::from_secs(10));
        assert_eq!(lc.unload_idle(), vec![Role::Coder]);
    }

    #[test]
    fn missing_model_names_path_and_fetch_command() {
        let (dir, mut lc, _) = setup([100, 300, 300], 5000);
        lc.config.models.coder.path = crate::config::DEFAULT_CODER_FILE.into();
        let err = lc.with(Role::Coder, |_| ()).unwrap_err().to_string();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(err.contains(crate::config::FETCH_COMMAND), "{err}");
    }

    #[test]
    fn loaded_model_is_reused_without_reloading() {
        let (_d, mut lc, _) = setup([100, 300, 300], 5000);
        for _ in 0..3 {
            touch(&mut lc, Role::Coder);
        }
        let s = &lc.stats().roles[&Role::Coder];
        assert_eq!((s.loads, s.requests), (1, 3));
    }
}

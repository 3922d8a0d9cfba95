//! Configuration: which models play which role, how much memory they may use, and where the
//! weights live.
//!
//! The shape is the seed's multi-model config (`models.{router,coder,algorithm}`,
//! `memory_budget_mb`, `model_dir`), read as JSON with unknown keys rejected so that a typo is
//! an error naming the key and the file rather than a silently ignored setting. A legacy
//! single-model file (`model_path` at the top level) still loads and is migrated in place, the
//! old file kept beside it as a backup. This module does not load models or look at GGUF files;
//! it only says where they are and how they should be run.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::remote::Endpoint;

/// The three jobs a model can have in codey.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Tiny, always-resident model that decides which editor a file needs.
    Router,
    /// General code editing.
    Coder,
    /// Algorithmic and performance work.
    Algorithm,
}

impl Role {
    /// Every role, in the order the scheduler loads them.
    pub const ALL: [Role; 3] = [Role::Router, Role::Coder, Role::Algorithm];

    /// The lowercase name used in config files, flags and summaries.
    pub fn name(self) -> &'static str {
        match self {
            Role::Router => "router",
            Role::Coder => "coder",
            Role::Algorithm => "algorithm",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`: width and alignment (`{role:<9}`) apply to it.
        f.pad(self.name())
    }
}

/// How one model is run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// GGUF file; a relative path is resolved against `model_dir`. With an `endpoint`, the file
    /// name the server must serve (empty: whatever it serves).
    #[serde(default)]
    pub path: PathBuf,
    /// A server that runs the model instead of this process (llama.cpp's `llama-server`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    /// Context window in tokens (prompt + answer).
    #[serde(default = "default_context_size")]
    pub context_size: u32,
    /// Layers offloaded to a GPU; ignored by CPU-only builds.
    #[serde(default)]
    pub n_gpu_layers: u32,
    /// Never evicted or unloaded while codey runs.
    #[serde(default)]
    pub always_resident: bool,
    /// Unload after this many idle seconds (counted from the end of the last request).
    #[serde(default)]
    pub unload_after_seconds: Option<u64>,
    /// Free text shown in summaries.
    #[serde(default)]
    pub description: String,
    /// The file's SHA-256 (hex); when set, a file that does not match is never loaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

fn default_context_size() -> u32 {
    4096
}

/// The model for each role.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Models {
    pub router: ModelConfig,
    pub coder: ModelConfig,
    pub algorithm: ModelConfig,
}

impl Models {
    /// The model configured for `role`.
    pub fn get(&self, role: Role) -> &ModelConfig {
        match role {
            Role::Router => &self.router,
            Role::Coder => &self.coder,
            Role::Algorithm => &self.algorithm,
        }
    }

    pub fn get_mut(&mut self, role: Role) -> &mut ModelConfig {
        match role {
            Role::Router => &mut self.router,
            Role::Coder => &mut self.coder,
            Role::Algorithm => &mut self.algorithm,
        }
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub models: Models,
    /// Upper bound on the estimated memory of all loaded models together.
    pub memory_budget_mb: u64,
    /// Directory that relative model paths are resolved against; `~/` is expanded.
    #[serde(default = "default_model_dir")]
    pub model_dir: PathBuf,
    /// Size bound of the on-disk KV cache (prompt states kept across runs); 0 turns it off.
    #[serde(default = "default_kv_cache_mb")]
    pub kv_cache_mb: u64,
    /// The editors a file goes through, in order, while it still fails after its feedback
    /// rounds: a file that fails with one goes on to the next (issue 10). `[]` or one role: no
    /// escalation. Never past an editor `--role` or a rule chose.
    #[serde(
        default = "default_escalation",
        deserialize_with = "deserialize_escalation"
    )]
    pub escalation: Vec<Role>,
}

fn default_kv_cache_mb() -> u64 {
    1024
}

/// The coder first, then the larger algorithm model.
pub fn default_escalation() -> Vec<Role> {
    vec![Role::Coder, Role::Algorithm]
}

/// An escalation order from role names (the config's `escalation`, `--escalation`): editor
/// roles only, each at most once.
pub fn parse_escalation<S: AsRef<str>>(names: &[S]) -> Result<Vec<Role>, String> {
    let mut order = Vec::with_capacity(names.len());
    for name in names {
        let role = match name.as_ref().trim() {
            "coder" => Role::Coder,
            "algorithm" => Role::Algorithm,
            "router" => {
                return Err(
                    "`router` is not an editor: the escalation order names `coder` and \
                     `algorithm`"
                        .to_owned(),
                )
            }
            other => {
                return Err(format!(
                    "unknown role `{other}`: the escalation order names `coder` and `algorithm`"
                ))
            }
        };
        if order.contains(&role) {
            return Err(format!(
                "`{role}` is named twice: a file sees each editor once"
            ));
        }
        order.push(role);
    }
    Ok(order)
}

fn deserialize_escalation<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Role>, D::Error> {
    let names = Vec::<String>::deserialize(d)?;
    parse_escalation(&names).map_err(serde::de::Error::custom)
}

/// The file name of a default model, as `codey models fetch` stores it (pinned in models.lock).
pub const DEFAULT_ROUTER_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// See [`DEFAULT_ROUTER_FILE`].
pub const DEFAULT_CODER_FILE: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";
/// See [`DEFAULT_ROUTER_FILE`].
pub const DEFAULT_ALGORITHM_FILE: &str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf";
/// The command that fetches the default models.
pub const FETCH_COMMAND: &str = "codey models fetch";

/// Where the default models are stored: `$CODEY_MODEL_DIR`, else the user data dir.
pub fn default_model_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CODEY_MODEL_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("codey")
        .join("models")
}

impl Default for Config {
    /// The small real models that tests and the README use.
    fn default() -> Self {
        let model = |path: &str, context_size, resident, description: &str| ModelConfig {
            path: PathBuf::from(path),
            context_size,
            n_gpu_layers: 0,
            always_resident: resident,
            unload_after_seconds: if resident { None } else { Some(60) },
            description: description.to_owned(),
            sha256: None,
            endpoint: None,
        };
        Config {
            kv_cache_mb: default_kv_cache_mb(),
            escalation: default_escalation(),
            models: Models {
                router: model(
                    DEFAULT_ROUTER_FILE,
                    2048,
                    true,
                    "SmolLM2-135M-Instruct Q4_1: always-resident router",
                ),
                coder: model(
                    DEFAULT_CODER_FILE,
                    4096,
                    false,
                    "Qwen2.5-Coder-0.5B-Instruct Q4_K_M: general code edits",
                ),
                algorithm: model(
                    DEFAULT_ALGORITHM_FILE,
                    4096,
                    false,
                    "Qwen2.5-Coder-1.5B-Instruct Q4_K_M: algorithmic edits",
                ),
            },
            memory_budget_mb: 3000,
            model_dir: default_model_dir(),
        }
    }
}

/// Why a configuration could not be used. None of these is helped by retrying: the file or the
/// environment has to change.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config {path}: key `{key}`: {message}")]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("cannot migrate legacy config {path}: {source}")]
    Migrate {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A loaded configuration and the file it came from (None for built-in defaults).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub source: Option<PathBuf>,
    /// Set when a legacy file was migrated: where the old file was kept.
    pub migrated_backup: Option<PathBuf>,
}

/// The user-level config file: `<config dir>/codey/config.json`.
pub fn user_config_path() -> Option<PathBuf> {
    dirs::config_dir().map(|d| d.join("codey").join("config.json"))
}

/// Finds and loads the configuration: `explicit` (from `--config`) if given, else the user
/// config file if it exists, else the built-in defaults.
pub fn load(explicit: Option<&Path>) -> Result<Loaded, ConfigError> {
    if let Some(path) = explicit {
        return load_file(path);
    }
    match user_config_path() {
        Some(path) if path.is_file() => load_file(&path),
        _ => Ok(Loaded {
            config: Config::default(),
            source: None,
            migrated_backup: None,
        }),
    }
}

/// Loads one file, migrating it first if it has the legacy single-model shape.
pub fn load_file(path: &Path) -> Result<Loaded, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    unique_keys(&text).map_err(|message| ConfigError::Invalid {
        path: path.to_owned(),
        key: "(the file)".to_owned(),
        message,
    })?;
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            key: format!("(line {}, column {})", e.line(), e.column()),
            message: e.to_string(),
        })?;
    if value.get("model_path").is_some() {
        return migrate_legacy(path, &text, value);
    }
    let config: Config = parse(path, value)?;
    config.validate(path)?;
    Ok(Loaded {
        config,
        source: Some(path.to_owned()),
        migrated_backup: None,
    })
}

/// Fails on a JSON object that names a key twice, anywhere in `text` (serde_json would keep
/// the last silently), and on anything after the first value. JSON syntax errors are left to
/// the caller's own parse, which reports them with their position.
pub fn unique_keys(text: &str) -> Result<(), String> {
    use serde::de::{Deserializer as _, IgnoredAny, MapAccess, SeqAccess, Visitor};

    struct Unique;

    impl<'de> serde::de::DeserializeSeed<'de> for Unique {
        type Value = ();
        fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_any(Unique)
        }
    }

    impl<'de> Visitor<'de> for Unique {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
            let mut seen = std::collections::BTreeSet::new();
            while let Some(key) = map.next_key::<String>()? {
                if !seen.insert(key.clone()) {
                    return Err(serde::de::Error::custom(format!(
                        "key `{key}` appears twice"
                    )));
                }
                map.next_value_seed(Unique)?;
            }
            Ok(())
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while seq.next_element_seed(Unique)?.is_some() {}
            Ok(())
        }
        fn visit_bool<E>(self, _: bool) -> Result<(), E> {
            Ok(())
        }
        fn visit_i64<E>(self, _: i64) -> Result<(), E> {
            Ok(())
        }
        fn visit_u64<E>(self, _: u64) -> Result<(), E> {
            Ok(())
        }
        fn visit_f64<E>(self, _: f64) -> Result<(), E> {
            Ok(())
        }
        fn visit_str<E>(self, _: &str) -> Result<(), E> {
            Ok(())
        }
        fn visit_unit<E>(self) -> Result<(), E> {
            Ok(())
        }
    }

    let mut de = serde_json::Deserializer::from_str(text);
    match de.deserialize_any(Unique) {
        Ok(()) => de
            .end()
            .map_err(|e| format!("unexpected text after the JSON value ({e})")),
        Err(e) if e.is_syntax() || e.is_eof() => {
            // Syntax errors are reported by the real parse, with line and column.
            let _ = IgnoredAny;
            Ok(())
        }
        Err(e) => Err(e.to_string()),
    }
}

/// The smallest context a model may be given: room for a prompt and an answer.
pub const MIN_CONTEXT: u32 = 512;

/// Deserialises with the path of the offending key in the error.
fn parse<T: serde::de::DeserializeOwned>(
    path: &Path,
    value: serde_json::Value,
) -> Result<T, ConfigError> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let key = e.path().to_string();
        let message = e.into_inner().to_string();
        ConfigError::Invalid {
            path: path.to_owned(),
            // serde reports an unknown or missing field at its parent; name the field itself.
            key: unknown_field_key(&key, &message).unwrap_or(key),
            message,
        }
    })
}

fn unknown_field_key(parent: &str, message: &str) -> Option<String> {
    let name = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("missing field `"))?
        .split('`')
        .next()?;
    // Some errors already carry the field in their path; never name it twice (`foo.foo`).
    if parent == name || parent.ends_with(&format!(".{name}")) {
        return Some(parent.to_owned());
    }
    Some(if parent == "." || parent.is_empty() {
        name.to_owned()
    } else {
        format!("{parent}.{name}")
    })
}

/// The seed's single-model config, before routing existed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Legacy {
    model_path: PathBuf,
    #[serde(default = "default_context_size", alias = "n_ctx")]
    context_size: u32,
    #[serde(default)]
    n_gpu_layers: u32,
    #[serde(default)]
    model_dir: Option<PathBuf>,
    #[serde(default)]
    memory_budget_mb: Option<u64>,
}

/// The legacy model becomes both editors (it was the only model); the router stays the default
/// one. The new file replaces the old, which is kept as `<name>.bak`.
fn migrate_legacy(
    path: &Path,
    text: &str,
    value: serde_json::Value,
) -> Result<Loaded, ConfigError> {
    let legacy: Legacy = parse(path, value)?;
    let mut config = Config::default();
    // Validate before anything is written: a bad legacy file is reported, not rewritten.
    let check = |c: &Config| c.validate(path);
    for role in [Role::Coder, Role::Algorithm] {
        let m = config.models.get_mut(role);
        m.path = legacy.model_path.clone();
        m.context_size = legacy.context_size;
        m.n_gpu_layers = legacy.n_gpu_layers;
        m.description = "migrated from the single-model config".to_owned();
    }
    if let Some(dir) = legacy.model_dir {
        config.model_dir = dir;
    }
    if let Some(budget) = legacy.memory_budget_mb {
        config.memory_budget_mb = budget;
    }
    check(&config)?;
    let backup = free_backup_path(path);
    let migrate_err = |source| ConfigError::Migrate {
        path: path.to_owned(),
        source,
    };
    std::fs::write(&backup, text).map_err(migrate_err)?;
    let json =
        serde_json::to_string_pretty(&config).map_err(|e| migrate_err(std::io::Error::other(e)))?;
    std::fs::write(path, json + "\n").map_err(migrate_err)?;
    Ok(Loaded {
        config,
        source: Some(path.to_owned()),
        migrated_backup: Some(backup),
    })
}

/// `<file>.bak`, or `<file>.bak.N` for the first N not taken: an older backup is never
/// overwritten.
fn free_backup_path(path: &Path) -> PathBuf {
    let first = path.with_extension("json.bak");
    if !first.exists() {
        return first;
    }
    (1..)
        .map(|n| path.with_extension(format!("json.bak.{n}")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// Expands a leading `~/` to the home directory.
fn expand_home(path: &Path) -> PathBuf {
    match path.strip_prefix("~") {
        Ok(rest) => dirs::home_dir().map_or_else(|| path.to_owned(), |h| h.join(rest)),
        Err(_) => path.to_owned(),
    }
}

impl Config {
    /// Checks the values serde cannot: a context too small to hold a prompt and an answer (0
    /// would make llama.cpp silently use the model's full training context, which the memory
    /// estimate would not count), and an empty budget.
    pub fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |key: String, message: String| ConfigError::Invalid {
            path: path.to_owned(),
            key,
            message,
        };
        for role in Role::ALL {
            let model = self.models.get(role);
            if let Some(problem) = model.endpoint.as_ref().and_then(Endpoint::problem) {
                return Err(invalid(format!("models.{role}.endpoint"), problem));
            }
            if model.endpoint.is_none() && model.path.as_os_str().is_empty() {
                return Err(invalid(
                    format!("models.{role}.path"),
                    "names no model file (give a path, or an endpoint)".into(),
                ));
            }
            let sha = self.models.get(role).sha256.as_deref();
            if sha.is_some_and(|h| h.len() != 64 || !h.bytes().all(|b| b.is_ascii_hexdigit())) {
                return Err(invalid(
                    format!("models.{role}.sha256"),
                    "must be 64 hexadecimal digits".into(),
                ));
            }
            let context = self.models.get(role).context_size;
            if context < MIN_CONTEXT {
                return Err(invalid(
                    format!("models.{role}.context_size"),
                    format!("{context} is below the minimum of {MIN_CONTEXT} tokens"),
                ));
            }
        }
        if self.memory_budget_mb == 0 {
            return Err(invalid(
                "memory_budget_mb".into(),
                "must be more than 0".into(),
            ));
        }
        Ok(())
    }

    /// The model directory with `~` expanded.
    pub fn model_dir(&self) -> PathBuf {
        expand_home(&self.model_dir)
    }

    /// Where the GGUF file for `role` is: absolute paths as given, relative ones under
    /// `model_dir`.
    pub fn model_path(&self, role: Role) -> PathBuf {
        let path = expand_home(&self.models.get(role).path);
        if path.is_absolute() {
            path
        } else {
            self.model_dir().join(path)
        }
    }

    /// The memory budget in bytes.
    pub fn budget_bytes(&self) -> u64 {
        self.memory_budget_mb.saturating_mul(1024 * 1024)
    }

    /// How to get the model for `role` when its file is missing: `codey models fetch` for the
    /// defaults (told the directory when it is not the default one), otherwise a pointer to the
    /// config key.
    pub fn fetch_hint(&self, role: Role, source: Option<&Path>) -> String {
        let default_file = match role {
            Role::Router => DEFAULT_ROUTER_FILE,
            Role::Coder => DEFAULT_CODER_FILE,
            Role::Algorithm => DEFAULT_ALGORITHM_FILE,
        };
        if self.models.get(role).path == Path::new(default_file) {
            let dir = self.model_dir();
            if dir == default_model_dir() {
                format!("run `{FETCH_COMMAND} {role}`")
            } else {
                format!("run `{FETCH_COMMAND} {role} --model-dir {}`", dir.display())
            }
        } else {
            let file = source.map_or_else(|| "the config".to_owned(), |p| p.display().to_string());
            format!("download the model there or change `models.{role}.path` in {file}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_keys_and_trailing_text_are_errors_and_keys_are_named_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"memory_budget_mb": 100, "memory_budget_mb": 9000}"#,
        )
        .unwrap();
        let err = load_file(&path).unwrap_err().to_string();
        assert!(err.contains("`memory_budget_mb` appears twice"), "{err}");
        std::fs::write(&path, r#"{"memory_budget_mb": 100} {}"#).unwrap();
        let err = load_file(&path).unwrap_err().to_string();
        assert!(err.contains("after the JSON value"), "{err}");
        std::fs::write(&path, r#"{"bogus": 1}"#).unwrap();
        let err = load_file(&path).unwrap_err().to_string();
        assert!(
            err.contains("`bogus`") && !err.contains("bogus.bogus"),
            "{err}"
        );
    }

    fn write(dir: &Path, text: &str) -> PathBuf {
        let path = dir.join("config.json");
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn defaults_round_trip_through_json() {
        let config = Config::default();
        let json = serde_json::to_value(&config).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let back: Config = parse(dir.path(), json).unwrap();
        assert_eq!(back, config);
        assert!(back.models.router.always_resident);
        assert!(!back.models.coder.always_resident);
    }

    #[test]
    fn unknown_key_is_named_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            r#"{"models":{"router":{"path":"r.gguf"},"coder":{"path":"c.gguf","contxt_size":1},
               "algorithm":{"path":"a.gguf"}},"memory_budget_mb":100}"#,
        );
        let err = load_file(&path).unwrap_err().to_string();
        assert!(err.contains("models.coder.contxt_size"), "{err}");
        assert!(err.contains("config.json"), "{err}");
    }

    #[test]
    fn escalation_names_editor_roles_once_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let with = |order: &str| {
            format!(
                r#"{{"models":{{"router":{{"path":"r.gguf"}},"coder":{{"path":"c.gguf"}},
                   "algorithm":{{"path":"a.gguf"}}}},"memory_budget_mb":100,"escalation":{order}}}"#
            )
        };
        let order =
            |text: &str| load_file(&write(dir.path(), &with(text))).map(|l| l.config.escalation);
        assert_eq!(
            order(r#"["algorithm", "coder"]"#).unwrap(),
            vec![Role::Algorithm, Role::Coder]
        );
        assert_eq!(order("[]").unwrap(), vec![]);
        assert_eq!(order(r#"["coder"]"#).unwrap(), vec![Role::Coder]);
        for (bad, message) in [
            (
                r#"["coder", "fast"]"#,
                "unknown role `fast`: the escalation order names `coder` and `algorithm`",
            ),
            (r#"["router", "coder"]"#, "`router` is not an editor"),
            (r#"["coder", "coder"]"#, "`coder` is named twice"),
        ] {
            let err = order(bad).unwrap_err().to_string();
            assert!(
                err.contains("key `escalation`") && err.contains(message),
                "{err}"
            );
            assert!(err.contains("config.json"), "{err}");
        }
        // Absent: the coder, then the algorithm model.
        let path = write(
            dir.path(),
            r#"{"models":{"router":{"path":"r.gguf"},"coder":{"path":"c.gguf"},
               "algorithm":{"path":"a.gguf"}},"memory_budget_mb":100}"#,
        );
        let loaded = load_file(&path).unwrap();
        assert_eq!(loaded.config.escalation, vec![Role::Coder, Role::Algorithm]);
    }

    #[test]
    fn wrong_type_is_named_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            r#"{"models":{"router":{"path":"r.gguf"},"coder":{"path":"c.gguf"},
               "algorithm":{"path":"a.gguf"}},"memory_budget_mb":"lots"}"#,
        );
        let err = load_file(&path).unwrap_err().to_string();
        assert!(err.contains("key `memory_budget_mb`"), "{err}");
    }

    #[test]
    fn syntax_error_names_line_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "{\"models\": ");
        let err = load_file(&path).unwrap_err().to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[test]
    fn relative_paths_resolve_against_model_dir() {
        let mut config = Config {
            model_dir: PathBuf::from("/models"),
            ..Config::default()
        };
        config.models.coder.path = PathBuf::from("/abs/coder.gguf");
        assert_eq!(
            config.model_path(Role::Router),
            Path::new("/models").join(DEFAULT_ROUTER_FILE)
        );
        assert_eq!(config.model_path(Role::Coder), Path::new("/abs/coder.gguf"));
    }

    #[test]
    fn zero_context_is_rejected_with_its_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            r#"{"models":{"router":{"path":"r.gguf","context_size":0},"coder":{"path":"c.gguf"},
               "algorithm":{"path":"a.gguf"}},"memory_budget_mb":100}"#,
        );
        let err = load_file(&path).unwrap_err().to_string();
        assert!(err.contains("models.router.context_size"), "{err}");
    }

    #[test]
    fn a_second_migration_keeps_the_first_backup() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), r#"{"model_path": "one.gguf"}"#);
        let first = load_file(&path).unwrap().migrated_backup.unwrap();
        std::fs::write(&path, r#"{"model_path": "two.gguf"}"#).unwrap();
        let second = load_file(&path).unwrap().migrated_backup.unwrap();
        assert_ne!(first, second);
        assert!(std::fs::read_to_string(first).unwrap().contains("one.gguf"));
        assert!(std::fs::read_to_string(second)
            .unwrap()
            .contains("two.gguf"));
    }

    #[test]
    fn legacy_config_is_migrated_and_backed_up() {
        let dir = tempfile::tempdir().unwrap();
        let old = r#"{"model_path": "old.gguf", "n_ctx": 2048, "model_dir": "/m"}"#;
        let path = write(dir.path(), old);
        let loaded = load_file(&path).unwrap();
        assert_eq!(loaded.config.models.coder.path, Path::new("old.gguf"));
        assert_eq!(loaded.config.models.algorithm.context_size, 2048);
        assert_eq!(loaded.config.model_dir, Path::new("/m"));
        let backup = loaded.migrated_backup.unwrap();
        assert_eq!(std::fs::read_to_string(backup).unwrap(), old);
        // The rewritten file loads as the new shape without another migration.
        let again = load_file(&path).unwrap();
        assert!(again.migrated_backup.is_none());
        assert_eq!(again.config, loaded.config);
    }

    #[test]
    fn fetch_hint_names_the_fetch_command_for_defaults_and_the_key_otherwise() {
        let mut config = Config::default();
        let hint = config.fetch_hint(Role::Coder, None);
        assert!(hint.contains("`codey models fetch coder"), "{hint}");
        config.model_dir = PathBuf::from("/elsewhere");
        let hint = config.fetch_hint(Role::Coder, None);
        assert!(hint.contains("--model-dir /elsewhere`"), "{hint}");
        config.models.coder.path = PathBuf::from("mine.gguf");
        let hint = config.fetch_hint(Role::Coder, Some(Path::new("/c.json")));
        assert!(
            hint.contains("models.coder.path") && hint.contains("/c.json"),
            "{hint}"
        );
    }

    #[test]
    fn on_device_config_fixture_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/config/on-device.json");
        let loaded = load_file(&path).unwrap();
        assert_eq!(loaded.config.memory_budget_mb, 6000);
        assert!(loaded.config.models.router.always_resident);
        assert!(loaded
            .config
            .model_path(Role::Coder)
            .ends_with("qwen2.5-coder-7b-instruct-q4_k_m.gguf"));
    }
}

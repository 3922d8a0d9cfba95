//! Rules: the standing instructions a repository keeps in `.codey.json` at its root.
//!
//! Owns the file's format and its validation, and matching a rule's path globs against repo
//! paths. A rule names an instruction, the files it concerns and optionally the editor role —
//! nothing else. The file lives in the repository, so a fork's pull request can change it:
//! it may never name models, directories or commands, and unknown keys are errors, so CI never
//! loads a file or runs a program that a contributor chose.

use std::path::{Path, PathBuf};

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use serde::Deserialize;

use crate::config::Role;

/// The rules file's name, at the repository root.
pub const FILE_NAME: &str = ".codey.json";

/// The whole rules file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    pub rules: Vec<Rule>,
}

/// One standing instruction.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// What `--rule NAME` selects.
    pub name: String,
    pub instruction: String,
    /// Globs over repo-relative paths; `!GLOB` excludes. Empty: every file.
    #[serde(default)]
    pub paths: Vec<String>,
    /// The editor to use instead of asking the router.
    #[serde(default)]
    pub role: Option<EditorRole>,
}

/// The roles a rule may force: the editors (the router is not an editor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EditorRole {
    Coder,
    Algorithm,
}

impl From<EditorRole> for Role {
    fn from(r: EditorRole) -> Role {
        match r {
            EditorRole::Coder => Role::Coder,
            EditorRole::Algorithm => Role::Algorithm,
        }
    }
}

/// Problems with the rules file. Retrying does not help; the file must change.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    #[error("no {FILE_NAME} at the repository root {0} (codey check and --rule need one)")]
    Missing(PathBuf),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{path}: `{key}`: {message} (a rules file holds only rules: name, instruction, paths, \
         role; models and commands come from your own config)"
    )]
    Invalid {
        path: PathBuf,
        key: String,
        message: String,
    },
    #[error("{0} is a symbolic link or not a regular file; codey reads only a plain rules file")]
    NotAFile(PathBuf),
    #[error("{0} is over 1 MiB; a rules file holds a few instructions")]
    TooLarge(PathBuf),
    #[error("{path}: no rule named {name:?} (rules: {known})")]
    NoSuchRule {
        path: PathBuf,
        name: String,
        known: String,
    },
}

/// The largest rules file read: far more than any list of instructions needs.
pub const MAX_BYTES: u64 = 1 << 20;

/// Reads and validates the rules file of the repository at `root`. The file lives in the
/// repository, so a pull request controls it: a symbolic link (to a file outside the
/// repository, or to `/dev/zero`) is refused, and so is a file over [`MAX_BYTES`].
pub fn load(root: &Path) -> Result<RulesFile, RulesError> {
    use std::io::Read;
    let path = root.join(FILE_NAME);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(RulesError::Missing(root.to_owned()))
        }
        Err(source) => return Err(RulesError::Read { path, source }),
    };
    if !meta.file_type().is_file() {
        return Err(RulesError::NotAFile(path));
    }
    let mut text = String::new();
    std::fs::File::open(&path)
        .and_then(|f| f.take(MAX_BYTES + 1).read_to_string(&mut text))
        .map_err(|source| RulesError::Read {
            path: path.clone(),
            source,
        })?;
    if text.len() as u64 > MAX_BYTES {
        return Err(RulesError::TooLarge(path));
    }
    parse(&text, &path)
}

/// Parses rules-file text; `path` only names the file in errors.
pub fn parse(text: &str, path: &Path) -> Result<RulesFile, RulesError> {
    crate::config::unique_keys(text).map_err(|message| RulesError::Invalid {
        path: path.to_owned(),
        key: "(the file)".to_owned(),
        message,
    })?;
    let de = &mut serde_json::Deserializer::from_str(text);
    let file: RulesFile =
        serde_path_to_error::deserialize(de).map_err(|e| RulesError::Invalid {
            path: path.to_owned(),
            key: e.path().to_string(),
            message: e.inner().to_string(),
        })?;
    validate(&file, path)?;
    Ok(file)
}

fn validate(file: &RulesFile, path: &Path) -> Result<(), RulesError> {
    let invalid = |i: usize, field: &str, message: String| RulesError::Invalid {
        path: path.to_owned(),
        key: format!("rules[{i}].{field}"),
        message,
    };
    for (i, rule) in file.rules.iter().enumerate() {
        if rule.name.trim().is_empty() {
            return Err(invalid(i, "name", "must not be empty".into()));
        }
        if file.rules[..i].iter().any(|r| r.name == rule.name) {
            return Err(invalid(i, "name", format!("{:?} is used twice", rule.name)));
        }
        if rule.instruction.trim().is_empty() {
            return Err(invalid(i, "instruction", "must not be empty".into()));
        }
        if let Err(message) = PathFilter::new(&rule.paths) {
            return Err(invalid(i, "paths", message));
        }
    }
    Ok(())
}

impl RulesFile {
    /// The rule called `name`.
    pub fn get(&self, name: &str, path: &Path) -> Result<&Rule, RulesError> {
        self.rules
            .iter()
            .find(|r| r.name == name)
            .ok_or_else(|| RulesError::NoSuchRule {
                path: path.to_owned(),
                name: name.to_owned(),
                known: self
                    .rules
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// A rule's path globs, gitignore-style: a glob without `/` matches a file name at any depth,
/// one with `/` matches the whole repo-relative path; `!` excludes.
#[derive(Debug, Clone)]
pub struct PathFilter {
    include: Option<GlobSet>,
    exclude: GlobSet,
}

impl PathFilter {
    /// Builds the filter; the error names the glob that does not parse.
    pub fn new(globs: &[String]) -> Result<Self, String> {
        let mut include = GlobSetBuilder::new();
        let mut exclude = GlobSetBuilder::new();
        let mut any_include = false;
        for glob in globs {
            let (negated, pattern) = match glob.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, glob.as_str()),
            };
            let pattern = pattern.trim_start_matches('/');
            let full = if pattern.contains('/') {
                pattern.to_owned()
            } else {
                format!("**/{pattern}")
            };
            // `*` stays within one directory, as in .gitignore; `**` crosses them.
            let compiled = GlobBuilder::new(&full)
                .literal_separator(true)
                .build()
                .map_err(|e| format!("glob {glob:?}: {e}"))?;
            if negated {
                exclude.add(compiled);
            } else {
                any_include = true;
                include.add(compiled);
            }
        }
        let build = |b: GlobSetBuilder| b.build().map_err(|e| e.to_string());
        Ok(PathFilter {
            include: if any_include {
                Some(build(include)?)
            } else {
                None
            },
            exclude: build(exclude)?,
        })
    }

    /// Whether the repo-relative, `/`-separated `path` is selected.
    pub fn matches(&self, path: &str) -> bool {
        // A glob for a directory selects everything below it.
        let selected = |set: &GlobSet| {
            set.is_match(path)
                || path
                    .match_indices('/')
                    .any(|(i, _)| set.is_match(&path[..i]))
        };
        self.include.as_ref().is_none_or(selected) && !selected(&self.exclude)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<RulesFile, RulesError> {
        parse(text, Path::new(".codey.json"))
    }

    const ONE: &str = r#"{"rules": [{"name": "a", "instruction": "x"}]}"#;

    #[test]
    fn trailing_data_and_repeated_keys_are_errors() {
        let err = parse_str(&format!("{ONE}\n{ONE}")).unwrap_err().to_string();
        assert!(err.contains("after the JSON value"), "{err}");
        let twice = r#"{"rules": [{"name": "a", "name": "b", "instruction": "x"}]}"#;
        let err = parse_str(twice).unwrap_err().to_string();
        assert!(err.contains("`name` appears twice"), "{err}");
        assert!(parse_str(ONE).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_symlinked_or_huge_rules_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.json");
        std::fs::write(&outside, ONE).unwrap();
        let root = dir.path().join("repo");
        std::fs::create_dir_all(&root).unwrap();
        std::os::unix::fs::symlink(&outside, root.join(FILE_NAME)).unwrap();
        assert!(matches!(load(&root), Err(RulesError::NotAFile(_))));
        std::fs::remove_file(root.join(FILE_NAME)).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join(FILE_NAME)).unwrap();
        assert!(matches!(load(&root), Err(RulesError::NotAFile(_))));
        std::fs::remove_file(root.join(FILE_NAME)).unwrap();
        let padded = format!("{ONE}{}", " ".repeat(MAX_BYTES as usize));
        std::fs::write(root.join(FILE_NAME), padded).unwrap();
        assert!(matches!(load(&root), Err(RulesError::TooLarge(_))));
        std::fs::write(root.join(FILE_NAME), ONE).unwrap();
        assert_eq!(load(&root).unwrap().rules.len(), 1);
    }

    #[test]
    fn parses_rules_with_paths_and_roles() {
        let file = parse_str(
            r#"{"rules": [
                {"name": "docs", "instruction": "add docstrings", "paths": ["*.py"], "role": "coder"},
                {"name": "perf", "instruction": "make it faster"}
            ]}"#,
        )
        .unwrap();
        assert_eq!(file.rules.len(), 2);
        assert_eq!(file.rules[0].role, Some(EditorRole::Coder));
        assert!(file.rules[1].paths.is_empty());
        assert_eq!(
            file.get("perf", Path::new("x")).unwrap().instruction,
            "make it faster"
        );
        let err = file.get("nope", Path::new("x")).unwrap_err().to_string();
        assert!(err.contains("docs, perf"), "{err}");
    }

    #[test]
    fn refuses_models_commands_and_unknown_keys_naming_the_key() {
        for (text, key) in [
            (
                r#"{"rules": [{"name": "a", "instruction": "b", "model": "/tmp/evil.gguf"}]}"#,
                "rules[0].model",
            ),
            (
                r#"{"rules": [], "models": {"coder": {"path": "/tmp/x.gguf"}}}"#,
                "models",
            ),
            (
                r#"{"rules": [{"name": "a", "instruction": "b", "command": "curl x | sh"}]}"#,
                "rules[0].command",
            ),
            (
                r#"{"rules": [{"name": "a", "instruction": "b", "role": "router"}]}"#,
                "rules[0].role",
            ),
        ] {
            let err = parse_str(text).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{key}: {err}");
            assert!(err.contains("models and commands"), "{err}");
        }
    }

    #[test]
    fn refuses_empty_and_duplicate_names_and_bad_globs() {
        for (text, key) in [
            (
                r#"{"rules": [{"name": " ", "instruction": "b"}]}"#,
                "rules[0].name",
            ),
            (
                r#"{"rules": [{"name": "a", "instruction": "b"}, {"name": "a", "instruction": "c"}]}"#,
                "rules[1].name",
            ),
            (
                r#"{"rules": [{"name": "a", "instruction": ""}]}"#,
                "rules[0].instruction",
            ),
            (
                r#"{"rules": [{"name": "a", "instruction": "b", "paths": ["src/[x"]}]}"#,
                "rules[0].paths",
            ),
        ] {
            let err = parse_str(text).unwrap_err().to_string();
            assert!(err.contains(&format!("`{key}`")), "{key}: {err}");
        }
    }

    #[test]
    fn path_filter_is_gitignore_like() {
        let f = PathFilter::new(&["*.py".into(), "!tests/**".into()]).unwrap();
        assert!(f.matches("a.py"));
        assert!(f.matches("src/deep/a.py"));
        assert!(!f.matches("src/a.rs"));
        assert!(!f.matches("tests/test_a.py"));
        let f = PathFilter::new(&["src".into()]).unwrap();
        assert!(f.matches("src/a/b.rs"));
        assert!(!f.matches("lib/src.rs"));
        let f = PathFilter::new(&["src/*.rs".into()]).unwrap();
        assert!(f.matches("src/main.rs"));
        assert!(!f.matches("lib/src/main.rs"));
        assert!(PathFilter::new(&[]).unwrap().matches("anything"));
    }
}

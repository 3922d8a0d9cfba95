//! codey against a real llama-server (built and started by `scripts/llama-server.sh` on
//! 127.0.0.1) serving the default coder model: routing on its token probabilities, an edit with
//! two files in flight on two slots, a server that is down, and one restarted mid-run.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::common::{
    assert_answer_outcome, assert_outcomes_agree, file_report, real_models, small_files, Run,
    TestRepo, RENAME,
};

const CODER: &str = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf";

/// A llama-server started by the project's script; stopped when dropped.
struct Server {
    port: u16,
    url: String,
    slots: usize,
    log: PathBuf,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/llama-server.sh")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    fn start(slots: usize) -> Server {
        let port = free_port();
        let log = std::env::temp_dir().join(format!("codey-test-llama-server-{port}.log"));
        let mut server = Server {
            port,
            url: String::new(),
            slots,
            log,
        };
        server.url = server.launch();
        server
    }

    fn launch(&self) -> String {
        let model = real_models().join(CODER);
        let out = Command::new("bash")
            .arg(script())
            .args(["start", "--model", model.to_str().unwrap()])
            .args([
                "--port",
                &self.port.to_string(),
                "--slots",
                &self.slots.to_string(),
            ])
            .args(["--ctx", "4096", "--log", self.log.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/llama-server.sh start failed (run `scripts/llama-server.sh build` first, or \
             set CODEY_LLAMA_SERVER): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    fn stop(&self) {
        let status = Command::new("bash")
            .arg(script())
            .args(["stop", "--port", &self.port.to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(script())
            .args(["stop", "--port", &self.port.to_string()])
            .status();
    }
}

/// Whether a slot of the server on `port` is busy (`GET /slots`).
fn generating(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = write!(stream, "GET /slots HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    answer.contains("\"is_processing\":true")
}

/// A config whose router and coder both run on `url` (the router asks the served coder model
/// for its label probabilities).
fn served(repo: &TestRepo, url: &str) -> PathBuf {
    repo.config(&json!({
        "models": {
            "router": {"path": CODER, "endpoint": {"url": url}},
            "coder": {"path": CODER, "endpoint": {"url": url}},
            "algorithm": {"path": CODER, "endpoint": {"url": url}}
        },
        "memory_budget_mb": 3000,
        "model_dir": real_models(),
    }))
}

/// Asserts that every file of `names` got its answers from the server and that the run's
/// verdicts agree, whatever the 0.5B model wrote: greedy output on a server differs across CPUs,
/// thread counts and when two slots are batched together, so an answer may not apply (exit 2)
/// or change nothing. A request that never got through would fail the file with
/// `generation-error` (or `model-unavailable`), which [`assert_answer_outcome`] refuses. Returns
/// the run's JSON report.
fn assert_served(run: &Run, names: &[&str]) -> serde_json::Value {
    let json = run.json();
    assert_outcomes_agree(run, &json, false, &[]);
    for name in names {
        let file = file_report(&json, name);
        assert_answer_outcome(&file);
        let reason = file["reason"].as_str().unwrap_or_default();
        assert!(!reason.contains("not reachable"), "{file:#}");
        let rounds = file["rounds"].as_array().unwrap();
        assert!(!rounds.is_empty(), "{file:#}");
    }
    json
}

/// Applies the patch of a run's JSON report with `git apply`, when there is one.
fn apply_patch(repo: &TestRepo, json: &serde_json::Value) {
    let patch = json["patch"].as_str().unwrap();
    if !patch.is_empty() {
        repo.apply(patch);
    }
}

#[test]
fn a_served_model_routes_and_edits_two_files_side_by_side() {
    let server = Server::start(2);
    let names = ["a.py", "b.py", "c.py"];
    let repo = small_files(&names);
    let config = served(&repo, &server.url);
    let out = repo.codey(&[
        "edit",
        RENAME,
        "--config",
        config.to_str().unwrap(),
        "--jobs",
        "2",
        "--format",
        "json",
        "--no-escalate",
    ]);
    // Every file reached the server, and the patch lists files in path order whatever
    // finished first (both checked by `assert_served`).
    let json = assert_served(&out, &names);
    let report = &json["reports"][0];
    for name in names {
        let file = file_report(&json, name);
        // The router on the server answered with label scores: no fallback for its failure.
        let reason = file["route_reason"].as_str().unwrap_or_default();
        assert!(
            !reason.contains("router model failed") && !reason.contains("unavailable"),
            "{reason}"
        );
    }
    let roles = &report["models"]["roles"];
    assert_eq!(roles["coder"]["endpoint"], server.url.as_str(), "{roles:#}");
    assert_eq!(roles["router"]["endpoint"], server.url.as_str());
    apply_patch(&repo, &json);
    // The same server through its OpenAI-compatible API: whole conversations, label scores
    // from top_logprobs.
    repo.git(&["checkout", "--", "."]);
    let endpoint = json!({"url": server.url, "api": "openai"});
    let openai = repo.config(&json!({
        "models": {"router": {"endpoint": endpoint}, "coder": {"endpoint": endpoint}, "algorithm": {"endpoint": endpoint}},
        "memory_budget_mb": 3000,
    }));
    let out = repo.codey(&[
        "edit",
        RENAME,
        "--config",
        openai.to_str().unwrap(),
        "--format",
        "json",
        "--jobs",
        "2",
        "--no-escalate",
    ]);
    let json = assert_served(&out, &names);
    for name in names {
        let file = file_report(&json, name);
        let reason = file["route_reason"].as_str().unwrap_or_default();
        assert!(
            !reason.contains("router model failed") && !reason.contains("unavailable"),
            "{reason}"
        );
    }
    apply_patch(&repo, &json);
}

#[test]
fn a_server_down_fails_at_once_and_a_restart_mid_run_is_waited_for() {
    let server = Server::start(1);
    let names = ["a.py", "b.py", "c.py", "d.py"];
    let repo = small_files(&names);
    let config = served(&repo, &server.url);
    let config = config.to_str().unwrap().to_owned();
    // Restarted while the first files are being edited: the request in flight breaks, the
    // client waits for the server to come back and asks again.
    let restarter = {
        let (port, log, url) = (server.port, server.log.clone(), server.url.clone());
        std::thread::spawn(move || {
            // Once codey is generating (a slot busy), not before: a server down before the
            // batch is an error by design.
            let deadline = std::time::Instant::now() + Duration::from_secs(300);
            while !generating(port) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(200));
            }
            let again = Server {
                port,
                url,
                slots: 1,
                log,
            };
            again.stop();
            std::thread::sleep(Duration::from_secs(2));
            again.launch();
            std::mem::forget(again);
        })
    };
    let out = repo.codey(&[
        "edit", RENAME, "--config", &config, "--role", "coder", "--format", "json",
    ]);
    restarter.join().unwrap();
    // The restart was waited for: no file failed on the broken request (`assert_served`);
    // whether each answer applies is the model's.
    let json = assert_served(&out, &names);
    apply_patch(&repo, &json);
    server.stop();
    let down = repo
        .codey(&["edit", RENAME, "--config", &config, "--role", "coder"])
        .expect(2);
    assert!(
        down.stderr().contains(&server.url) && down.stderr().contains("not reachable"),
        "{}",
        down.stderr()
    );
}

//! Models on a server (`endpoint`, `--endpoint`, `--jobs`), against a stand-in for
//! llama-server that speaks its API on 127.0.0.1 with scripted answers: what the client does
//! when the server is down, loading, cuts an answer short, serves another model or takes files
//! side by side is checked exactly here. The real llama-server is in the `models` target.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::common::{blocks, file_prompt, small_files, TestRepo, RENAME};

/// What the stand-in does to one `/completion` request before answering normally.
#[derive(Debug, Clone, Copy)]
enum Trouble {
    /// Answers with this status and llama-server's error body.
    Status(u16),
    /// Streams this many events of the answer, then closes the connection.
    CutAfter(usize),
}

#[derive(Default)]
struct State {
    answers: Vec<(String, String)>,
    troubles: Vec<Trouble>,
    model: String,
    slots: usize,
    delay: Duration,
    /// Every request: path, Authorization header, `id_slot`.
    seen: Vec<(String, Option<String>, Option<i64>)>,
    in_flight: usize,
    most_in_flight: usize,
    /// Extra delay for the answers whose needle holds this text.
    slow: Option<(String, Duration)>,
    /// `start NEEDLE` and `end NEEDLE` of each answer, in the order they happened.
    timeline: Vec<String>,
    completions: usize,
    /// Label probabilities for routing requests (`n_probs`): none, or the log-probability of
    /// `algorithm`'s first token and of `coder`'s for prompts that are not the calibration.
    label_logprobs: Option<(f64, f64)>,
}

/// A stand-in llama-server: `/health`, `/props`, `/apply-template`, `/tokenize` (one token per
/// byte) and streamed `/completion` answering from `(needle, answer)` pairs.
struct FakeServer {
    url: String,
    state: Arc<Mutex<State>>,
}

impl FakeServer {
    fn start(answers: &[(String, String)]) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            answers: answers.to_vec(),
            model: "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf".to_owned(),
            slots: 4,
            ..State::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        FakeServer { url, state }
    }

    fn with(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
    }

    fn state<R>(&self, f: impl FnOnce(&State) -> R) -> R {
        f(&self.state.lock().unwrap())
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut head = String::new();
    let (mut length, mut auth) = (0, None);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if lower.starts_with("authorization:") {
            auth = Some(line["authorization:".len()..].trim().to_owned());
        }
        if head.is_empty() {
            head = line;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
    state
        .lock()
        .unwrap()
        .seen
        .push((path.clone(), auth, body["id_slot"].as_i64()));
    let reply = |stream: &mut TcpStream, status: u16, value: &Value| {
        let text = value.to_string();
        let _ = write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
    };
    match path.as_str() {
        "/health" => reply(&mut stream, 200, &json!({"status": "ok"})),
        "/props" => {
            let s = state.lock().unwrap();
            let props = json!({
                "model_path": format!("/models/{}", s.model),
                "total_slots": s.slots,
                "default_generation_settings": {"n_ctx": 4096},
            });
            reply(&mut stream, 200, &props);
        }
        "/apply-template" => {
            let mut prompt = String::new();
            for m in body["messages"].as_array().unwrap() {
                prompt += &format!(
                    "<{}>\n{}\n",
                    m["role"].as_str().unwrap(),
                    m["content"].as_str().unwrap()
                );
            }
            reply(
                &mut stream,
                200,
                &json!({"prompt": prompt + "<assistant>\n"}),
            );
        }
        "/tokenize" => {
            let tokens: Vec<u8> = body["content"].as_str().unwrap().bytes().collect();
            reply(&mut stream, 200, &json!({ "tokens": tokens }));
        }
        "/completion" => complete(&mut stream, state, &body, reply),
        "/v1/models" => {
            let model = state.lock().unwrap().model.clone();
            reply(
                &mut stream,
                200,
                &json!({"object": "list", "data": [{"id": model}]}),
            );
        }
        "/v1/chat/completions" => chat(&mut stream, state, &body, reply),
        _ => reply(
            &mut stream,
            404,
            &json!({"error": {"code": 404, "message": "File Not Found"}}),
        ),
    }
}

fn complete(
    stream: &mut TcpStream,
    state: &Mutex<State>,
    body: &Value,
    reply: impl Fn(&mut TcpStream, u16, &Value),
) {
    let prompt: Vec<u8> = body["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_u64().unwrap() as u8)
        .collect();
    let prompt = String::from_utf8_lossy(&prompt).into_owned();
    if body["n_probs"].as_u64().unwrap_or(0) > 0 {
        return reply(stream, 200, &label_answer(state, &prompt));
    }
    let (answer, trouble, delay, needle) = {
        let mut s = state.lock().unwrap();
        s.completions += 1;
        s.in_flight += 1;
        s.most_in_flight = s.most_in_flight.max(s.in_flight);
        let (needle, answer) = s
            .answers
            .iter()
            .find(|(needle, _)| prompt.contains(needle.as_str()))
            .map_or_else(|| (String::new(), "NO_CHANGE".to_owned()), Clone::clone);
        let trouble = (!s.troubles.is_empty()).then(|| s.troubles.remove(0));
        let extra = match &s.slow {
            Some((text, extra)) if needle.contains(text.as_str()) => *extra,
            _ => Duration::ZERO,
        };
        s.timeline.push(format!("start {needle}"));
        (answer, trouble, s.delay + extra, needle)
    };
    std::thread::sleep(delay);
    let done = || {
        let mut s = state.lock().unwrap();
        s.in_flight -= 1;
        s.timeline.push(format!("end {needle}"));
    };
    if let Some(Trouble::Status(status)) = trouble {
        done();
        let error = json!({"error": {"code": status, "message": "Loading model", "type": "unavailable_error"}});
        return reply(stream, status, &error);
    }
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    );
    let pieces: Vec<String> = answer.chars().map(String::from).collect();
    for (i, piece) in pieces.iter().enumerate() {
        if matches!(trouble, Some(Trouble::CutAfter(n)) if i == n) {
            done();
            return;
        }
        let event = json!({"content": piece, "tokens": [piece.as_bytes()[0]], "stop": false});
        let _ = write!(stream, "data: {event}\n\n");
    }
    let end = json!({"content": "", "stop": true, "stop_type": "eos",
        "timings": {"prompt_n": prompt.len(), "prompt_ms": 2.0, "predicted_n": pieces.len(), "predicted_ms": 3.0}});
    let _ = write!(stream, "data: {end}\n\n");
    let _ = stream.flush();
    done();
}

/// A routing answer: the top tokens after the prompt, or none at all. The calibration prompt
/// (`N/A`) gets both labels alike, so the calibrated margin is the scripted one.
fn label_answer(state: &Mutex<State>, prompt: &str) -> Value {
    let Some((algorithm, coder)) = state.lock().unwrap().label_logprobs else {
        return json!({"content": "x", "stop": true});
    };
    let (algorithm, coder) = if prompt.contains("N/A") {
        (-1.0, -1.0)
    } else {
        (algorithm, coder)
    };
    // One token per byte: a label's first token is its first letter.
    let top = json!([
        {"id": u32::from(b'a'), "token": "a", "logprob": algorithm},
        {"id": u32::from(b'c'), "token": "c", "logprob": coder},
        {"id": u32::from(b'z'), "token": "z", "logprob": -12.0},
    ]);
    json!({"content": "a", "stop": true, "completion_probabilities": [{"id": 97, "logprob": algorithm, "top_logprobs": top}]})
}

/// An OpenAI-style chat answer: label probabilities for a one-token request with `logprobs`,
/// else a streamed answer (one chunk per character, then usage and `[DONE]`), with the same
/// troubles as `/completion`.
fn chat(
    stream: &mut TcpStream,
    state: &Mutex<State>,
    body: &Value,
    reply: impl Fn(&mut TcpStream, u16, &Value),
) {
    let prompt: String = body["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["content"].as_str().unwrap_or_default().to_owned())
        .collect();
    if body["logprobs"] == true {
        let Some((algorithm, coder)) = state.lock().unwrap().label_logprobs else {
            return reply(
                stream,
                200,
                &json!({"choices": [{"message": {"content": "a"}}]}),
            );
        };
        let (algorithm, coder) = if prompt.contains("N/A") {
            (-1.0, -1.0)
        } else {
            (algorithm, coder)
        };
        let top = json!([{"token": "algo", "logprob": algorithm}, {"token": " cod", "logprob": coder}, {"token": "x", "logprob": -12.0}]);
        return reply(
            stream,
            200,
            &json!({"choices": [{"logprobs": {"content": [{"token": "algo", "logprob": algorithm, "top_logprobs": top}]}}]}),
        );
    }
    let (answer, trouble) = {
        let mut s = state.lock().unwrap();
        s.completions += 1;
        let answer = s
            .answers
            .iter()
            .find(|(needle, _)| prompt.contains(needle.as_str()))
            .map_or_else(|| "NO_CHANGE".to_owned(), |(_, a)| a.clone());
        let trouble = (!s.troubles.is_empty()).then(|| s.troubles.remove(0));
        (answer, trouble)
    };
    if let Some(Trouble::Status(status)) = trouble {
        return reply(
            stream,
            status,
            &json!({"error": {"code": status, "message": "Loading model"}}),
        );
    }
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    );
    let pieces: Vec<String> = answer.chars().map(String::from).collect();
    for (i, piece) in pieces.iter().enumerate() {
        if matches!(trouble, Some(Trouble::CutAfter(n)) if i == n) {
            return;
        }
        let event =
            json!({"choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": null}]});
        let _ = write!(stream, "data: {event}\n\n");
    }
    let end = json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]});
    let usage = json!({"choices": [], "usage": {"prompt_tokens": prompt.len(), "completion_tokens": pieces.len()}});
    let _ = write!(stream, "data: {end}\n\ndata: {usage}\n\ndata: [DONE]\n\n");
    let _ = stream.flush();
}

/// Rename answers for the small files `names`.
fn rename_answers(names: &[&str]) -> Vec<(String, String)> {
    names
        .iter()
        .map(|n| {
            let answer = blocks(&[
                ("def old_name():\n", "def new_name():\n"),
                ("print(old_name())\n", "print(new_name())\n"),
            ]);
            (file_prompt(n), answer)
        })
        .collect()
}

/// A config whose coder runs on `url`, with extra endpoint settings.
fn served_config(repo: &TestRepo, url: &str, extra: Value) -> std::path::PathBuf {
    let mut endpoint = json!({ "url": url });
    if let (Some(e), Some(x)) = (endpoint.as_object_mut(), extra.as_object()) {
        e.extend(x.clone());
    }
    repo.config(&json!({
        "models": {
            "router": {"path": "SmolLM2-135M-Instruct.Q4_1.gguf"},
            "coder": {"path": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf", "endpoint": endpoint},
            "algorithm": {"path": "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"}
        },
        "memory_budget_mb": 3000,
        "model_dir": repo.home.join("no-models"),
    }))
}

#[test]
fn a_served_coder_edits_with_the_key_sent_and_never_shown() {
    let names = ["a.py", "b.py"];
    let repo = small_files(&names);
    let server = FakeServer::start(&rename_answers(&names));
    let config = served_config(&repo, &server.url, json!({"api_key_env": "CODEY_TEST_KEY"}));
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_codey"));
    repo.env(&mut cmd);
    cmd.args([
        "-vv",
        "edit",
        RENAME,
        "--role",
        "coder",
        "--format",
        "json",
        "--no-progress",
    ])
    .args(["--config", config.to_str().unwrap()])
    .env("CODEY_TEST_KEY", "sk-very-secret");
    let out = repo.run(cmd).expect(0);
    let json = out.json();
    assert!(!out.stderr().contains("sk-very-secret") && !out.stdout().contains("sk-very-secret"));
    repo.apply(json["patch"].as_str().unwrap());
    assert!(
        repo.read("a.py").contains("def new_name():")
            && repo.read("b.py").contains("print(new_name())")
    );
    let coder = &json["reports"][0]["models"]["roles"]["coder"];
    assert_eq!(coder["endpoint"], server.url.as_str(), "{json:#}");
    assert_eq!(coder["estimated_mb"], 0);
    server.state(|s| {
        let completions: Vec<_> = s.seen.iter().filter(|r| r.0 == "/completion").collect();
        assert_eq!(completions.len(), 2);
        assert!(s
            .seen
            .iter()
            .all(|r| r.1.as_deref() == Some("Bearer sk-very-secret")));
    });
}

#[test]
fn jobs_put_files_side_by_side_on_the_slots_and_the_patch_stays_in_path_order() {
    let names = ["a.py", "b.py", "c.py", "d.py", "e.py"];
    let repo = small_files(&names);
    let server = FakeServer::start(&rename_answers(&names));
    server.with(|s| s.delay = Duration::from_millis(400));
    let config = served_config(&repo, &server.url, json!({}));
    let config = config.to_str().unwrap();
    let one = repo
        .codey(&["edit", RENAME, "--role", "coder", "--config", config])
        .expect(0);
    assert_eq!(server.state(|s| s.most_in_flight), 1);
    server.with(|s| s.seen.clear());
    let two = repo
        .codey(&[
            "edit", RENAME, "--role", "coder", "--config", config, "--jobs", "2",
        ])
        .expect(0);
    assert_eq!(
        two.stdout(),
        one.stdout(),
        "the patch does not depend on --jobs"
    );
    server.state(|s| {
        assert_eq!(s.most_in_flight, 2);
        let slots: BTreeSet<i64> = s
            .seen
            .iter()
            .filter(|r| r.0 == "/completion")
            .filter_map(|r| r.2)
            .collect();
        assert_eq!(
            slots,
            BTreeSet::from([0, 1]),
            "each worker keeps its own slot"
        );
    });
}

#[test]
fn a_free_slot_takes_the_next_file_without_waiting_for_a_slow_one() {
    let names = ["a.py", "b.py", "c.py", "d.py", "e.py"];
    let repo = small_files(&names);
    let server = FakeServer::start(&rename_answers(&names));
    server.with(|s| {
        s.delay = Duration::from_millis(20);
        s.slow = Some((file_prompt("a.py"), Duration::from_millis(1500)));
    });
    let config = served_config(&repo, &server.url, json!({}));
    let config = config.to_str().unwrap();
    repo.codey(&[
        "edit", RENAME, "--role", "coder", "--config", config, "--jobs", "2",
    ])
    .expect(0);
    server.state(|s| {
        let at = |event: &str| {
            s.timeline
                .iter()
                .position(|e| *e == event)
                .unwrap_or_else(|| panic!("no {event:?} in {:?}", s.timeline))
        };
        // One slot works through b..e while the other is still on a.py.
        let a_done = at(&format!("end {}", file_prompt("a.py")));
        let e_started = at(&format!("start {}", file_prompt("e.py")));
        assert!(e_started < a_done, "{:?}", s.timeline);
        assert_eq!(s.most_in_flight, 2);
    });
}

#[test]
fn a_server_that_is_down_fails_the_run_before_the_batch_naming_it() {
    let repo = small_files(&["a.py"]);
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let started = std::time::Instant::now();
    let out = repo
        .codey(&[
            "edit",
            RENAME,
            "--role",
            "coder",
            "--endpoint",
            &format!("coder={url}"),
        ])
        .expect(2);
    assert!(
        out.stderr().contains(&url) && out.stderr().contains("not reachable"),
        "{}",
        out.stderr()
    );
    assert_eq!(out.stdout(), "");
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "no waiting for a server that is down"
    );
    assert_eq!(repo.status(), "");
}

#[test]
fn a_server_serving_another_model_is_refused_by_name() {
    let repo = small_files(&["a.py"]);
    let server = FakeServer::start(&[]);
    server.with(|s| s.model = "llama-3-8b.gguf".to_owned());
    let config = served_config(&repo, &server.url, json!({}));
    let out = repo
        .codey(&[
            "edit",
            RENAME,
            "--role",
            "coder",
            "--config",
            config.to_str().unwrap(),
        ])
        .expect(2);
    let err = out.stderr();
    assert!(
        err.contains("llama-3-8b.gguf")
            && err.contains("qwen2.5-coder-0.5b")
            && err.contains(&server.url),
        "{err}"
    );
    assert_eq!(server.state(|s| s.completions), 0);
}

#[test]
fn a_loading_server_is_waited_for_and_an_answer_cut_short_is_asked_again_never_used() {
    let repo = small_files(&["a.py"]);
    let server = FakeServer::start(&rename_answers(&["a.py"]));
    server.with(|s| s.troubles = vec![Trouble::Status(503), Trouble::CutAfter(20)]);
    let config = served_config(&repo, &server.url, json!({}));
    let out = repo
        .codey(&[
            "edit",
            RENAME,
            "--role",
            "coder",
            "--config",
            config.to_str().unwrap(),
            "--rounds",
            "0",
        ])
        .expect(0);
    repo.apply(&out.stdout());
    assert!(repo.read("a.py").contains("def new_name():\n"));
    assert_eq!(
        server.state(|s| s.completions),
        3,
        "503, cut short, then whole"
    );
}

#[test]
fn a_served_router_decides_on_its_label_probabilities_and_without_them_the_keywords_do() {
    let repo = small_files(&["a.py"]);
    let server = FakeServer::start(&rename_answers(&["a.py"]));
    server.with(|s| s.label_logprobs = Some((-0.1, -6.0)));
    let config = repo.config(&json!({
        "models": {
            "router": {"path": "", "endpoint": {"url": server.url}},
            "coder": {"path": "", "endpoint": {"url": server.url}},
            "algorithm": {"path": "", "endpoint": {"url": server.url}}
        },
        "memory_budget_mb": 3000,
        "model_dir": repo.home.join("no-models"),
    }));
    let config = config.to_str().unwrap();
    // The keyword rule calls a rename coder work; the served router is sure it is algorithm.
    let out = repo
        .codey(&[
            "edit",
            RENAME,
            "--config",
            config,
            "--format",
            "json",
            "--no-escalate",
        ])
        .expect(0);
    let file = crate::common::file_report(&out.json(), "a.py");
    assert_eq!(file["role"], "algorithm", "{file:#}");
    assert!(
        file["route_reason"]
            .as_str()
            .unwrap()
            .contains("router model (margin 5.90)"),
        "{file:#}"
    );
    server.with(|s| s.label_logprobs = None);
    let out = repo
        .codey(&[
            "edit",
            RENAME,
            "--config",
            config,
            "--format",
            "json",
            "--no-escalate",
        ])
        .expect(0);
    let file = crate::common::file_report(&out.json(), "a.py");
    assert_eq!(file["role"], "coder", "{file:#}");
    let reason = file["route_reason"].as_str().unwrap();
    assert!(
        reason.contains("router model unavailable") && reason.contains("no token probabilities"),
        "{reason}"
    );
}

#[test]
fn an_openai_compatible_server_takes_whole_conversations_routes_and_retries() {
    let names = ["a.py", "b.py"];
    let repo = small_files(&names);
    let server = FakeServer::start(&rename_answers(&names));
    server.with(|s| {
        s.label_logprobs = Some((-0.1, -6.0));
        s.model = "Qwen/Qwen2.5-Coder-0.5B-Instruct".to_owned();
        s.troubles = vec![Trouble::CutAfter(10)];
    });
    let endpoint =
        json!({"url": server.url, "api": "openai", "model": "Qwen/Qwen2.5-Coder-0.5B-Instruct"});
    let config = repo.config(&json!({
        "models": {
            "router": {"endpoint": endpoint},
            "coder": {"endpoint": endpoint},
            "algorithm": {"endpoint": endpoint}
        },
        "memory_budget_mb": 3000,
        "model_dir": repo.home.join("no-models"),
    }));
    let config = config.to_str().unwrap();
    let out = repo
        .codey(&[
            "edit",
            RENAME,
            "--config",
            config,
            "--format",
            "json",
            "--no-escalate",
            "--jobs",
            "2",
        ])
        .expect(0);
    let json = out.json();
    for name in names {
        let file = crate::common::file_report(&json, name);
        assert_eq!(
            (file["outcome"].as_str(), file["role"].as_str()),
            (Some("changed"), Some("algorithm")),
            "{file:#}"
        );
        assert!(file["route_reason"]
            .as_str()
            .unwrap()
            .contains("router model (margin 5.90)"));
    }
    repo.apply(json["patch"].as_str().unwrap());
    assert!(repo.read("b.py").contains("print(new_name())"));
    assert_eq!(
        server.state(|s| s.completions),
        3,
        "the answer cut short was asked for again"
    );
    // Another model name than the server lists is refused by name.
    let wrong = json!({"url": server.url, "api": "openai", "model": "llama3"});
    let config = repo.config(&json!({
        "models": {"router": {"endpoint": wrong}, "coder": {"endpoint": wrong}, "algorithm": {"endpoint": wrong}},
        "memory_budget_mb": 3000,
    }));
    let out = repo
        .codey(&["edit", RENAME, "--config", config.to_str().unwrap()])
        .expect(2);
    assert!(
        out.stderr().contains("llama3")
            && out.stderr().contains("Qwen/Qwen2.5-Coder-0.5B-Instruct"),
        "{}",
        out.stderr()
    );
}

//! Models on an inference server: llama.cpp's `llama-server`, over HTTP or HTTPS.
//!
//! Owns the connection to one endpoint — the health and identity check made before a batch,
//! timeouts, bounded retries on busy, loading or restarting servers — and [`RemoteModel`], the
//! [`LanguageModel`] that runs there. The chat template, the tokenizer and greedy generation are
//! the server's; prefix reuse is its prompt cache, pinned to one slot per worker; label scores
//! come from its top-N token probabilities. An answer is used only once the server has said it
//! ended: a stream cut short is asked for again, never applied. The API key is read from the
//! environment when connecting and never printed.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::{
    ChatApi, ChatMessage, GenerateOptions, Generation, LanguageModel, Logits, ModelError, OnToken,
    StopReason, Token,
};

/// Where a model is served, as the user config names it (`models.<role>.endpoint`). It never
/// comes from a repository's `.codey.json`: a pull request must not point CI at a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Base URL, e.g. `http://127.0.0.1:8080`.
    pub url: String,
    /// The server's API.
    #[serde(default)]
    pub api: Api,
    /// The model name sent with each request and checked against `/v1/models` (OpenAI API
    /// only; vLLM and Ollama need it). Empty: the first model the server lists.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// The environment variable that holds the API key, sent as a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key_env: Option<String>,
    /// Seconds one request may take, answer included.
    #[serde(default = "default_timeout_seconds")]
    pub timeout_seconds: u64,
}

fn default_timeout_seconds() -> u64 {
    600
}

impl Endpoint {
    /// An endpoint with the defaults (from `--endpoint URL`).
    pub fn new(url: impl Into<String>) -> Self {
        Endpoint {
            url: url.into(),
            api: Api::default(),
            model: String::new(),
            api_key_env: None,
            timeout_seconds: default_timeout_seconds(),
        }
    }

    /// Why this endpoint cannot be used, if it cannot (checked when the config loads).
    pub fn problem(&self) -> Option<String> {
        let url = self.url.trim_end_matches('/');
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Some(format!("`{url}` must start with http:// or https://"));
        }
        if url.len() <= "https://".len() {
            return Some(format!("`{url}` names no host"));
        }
        if self.timeout_seconds == 0 {
            return Some("timeout_seconds must be more than 0".to_owned());
        }
        None
    }
}

/// The API an endpoint speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Api {
    /// llama.cpp's `llama-server`: `/completion` on token ids, `/tokenize`, `/apply-template`,
    /// `n_probs`, slots.
    #[default]
    LlamaServer,
    /// An OpenAI-compatible server (vLLM, Ollama, llama-server's `/v1`): whole conversations
    /// to `/v1/chat/completions`, label scores from `top_logprobs`.
    Openai,
}

/// Why a server could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    #[error("{url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("{url} serves {served}, not {expected} (start the server with that model, or set the config's path to what it serves)")]
    OtherModel {
        url: String,
        served: String,
        expected: String,
    },
    #[error("the environment variable {0} (the endpoint's api_key_env) is not set")]
    MissingKey(String),
    #[error("{url}: {message}")]
    Protocol { url: String, message: String },
}

/// How long a busy, loading or restarting server is waited for, in all, before a request fails.
const RETRY_FOR: Duration = Duration::from_secs(90);

/// Top tokens asked for when scoring labels.
const LABEL_PROBS: usize = 32;

/// An API key that never shows in logs or errors.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// One model on a server, seen through one slot. Clones share the connection pool.
#[derive(Debug, Clone)]
pub struct RemoteModel {
    agent: ureq::Agent,
    url: String,
    key: Option<Secret>,
    /// The server slot this handle's requests pin (its prompt cache); None lets the server pick.
    slot: Option<usize>,
    context: usize,
    slots: usize,
    served: String,
    api: Api,
}

/// Requests an OpenAI-compatible server is given side by side at most (it batches on its own
/// and does not say how many slots it has).
const OPENAI_SLOTS: usize = 16;

/// What a health and identity check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerFacts {
    /// The model file the server has loaded (its file name).
    pub model: String,
    /// Tokens of context per slot.
    pub context: usize,
    /// Requests it serves side by side.
    pub slots: usize,
}

impl RemoteModel {
    /// Checks that the server answers and is ready, and, when `expected` names a model file,
    /// that it is the one served. `context` caps the context codey uses (the config's).
    pub fn connect(
        endpoint: &Endpoint,
        expected: Option<&Path>,
        context: usize,
    ) -> Result<RemoteModel, RemoteError> {
        let key = match &endpoint.api_key_env {
            Some(var) => Some(Secret(
                std::env::var(var).map_err(|_| RemoteError::MissingKey(var.clone()))?,
            )),
            None => None,
        };
        let mut model = RemoteModel {
            agent: agent(Duration::from_secs(endpoint.timeout_seconds)),
            url: endpoint.url.trim_end_matches('/').to_owned(),
            key,
            slot: None,
            context,
            slots: 1,
            served: String::new(),
            api: endpoint.api,
        };
        if endpoint.api == Api::Openai {
            model.served = model.openai_model(&endpoint.model)?;
            model.context = context;
            model.slots = OPENAI_SLOTS;
            return Ok(model);
        }
        let facts = model.facts()?;
        if let Some(expected) = expected.and_then(Path::file_name) {
            let expected = expected.to_string_lossy();
            if !facts.model.eq_ignore_ascii_case(&expected) {
                return Err(RemoteError::OtherModel {
                    url: model.url,
                    served: facts.model,
                    expected: expected.into_owned(),
                });
            }
        }
        model.context = context.min(facts.context.max(1));
        model.slots = facts.slots.max(1);
        // One file at a time keeps to one slot, so the shared prefix stays in its cache.
        model.slot = Some(0);
        model.served = facts.model;
        Ok(model)
    }

    /// A handle pinned to server slot `slot` (its own prompt cache), for one worker of `--jobs`.
    pub fn pinned(&self, slot: usize) -> RemoteModel {
        RemoteModel {
            slot: Some(slot % self.slots),
            ..self.clone()
        }
    }

    /// The endpoint's base URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The model file the server serves.
    pub fn served(&self) -> &str {
        &self.served
    }

    /// Requests the server serves side by side.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// The model to ask for on an OpenAI-compatible server: `wanted` when `/v1/models` lists
    /// it, the first listed when `wanted` is empty. A server that is down fails at once.
    fn openai_model(&self, wanted: &str) -> Result<String, RemoteError> {
        let models = self.retrying(false, || {
            let response = self.send("GET", "/v1/models", None)?;
            read_json(response).map_err(Failure::Retry)
        })?;
        let ids: Vec<String> = models["data"]
            .as_array()
            .map(|d| {
                d.iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if wanted.is_empty() {
            return ids
                .into_iter()
                .next()
                .ok_or_else(|| self.protocol("/v1/models lists no model"));
        }
        ids.iter()
            .find(|id| id.as_str() == wanted)
            .cloned()
            .ok_or_else(|| RemoteError::OtherModel {
                url: self.url.clone(),
                served: ids.join(", "),
                expected: wanted.to_owned(),
            })
    }

    /// Health, then the served model, context per slot and slot count (`/health`, `/props`).
    pub fn facts(&self) -> Result<ServerFacts, RemoteError> {
        // Down before a batch is an error at once; loading is waited for.
        self.retrying(false, || {
            let response = self.send("GET", "/health", None)?;
            read_json(response).map_err(Failure::Retry)
        })?;
        let props = self.request("GET", "/props", None)?;
        let model = props["model_path"]
            .as_str()
            .and_then(|p| Path::new(p).file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let context = props["default_generation_settings"]["n_ctx"]
            .as_u64()
            .unwrap_or(0) as usize;
        let slots = props["total_slots"].as_u64().unwrap_or(1) as usize;
        if context == 0 {
            return Err(self.protocol("/props gives no context size (n_ctx)"));
        }
        Ok(ServerFacts {
            model,
            context,
            slots,
        })
    }

    fn protocol(&self, message: impl Into<String>) -> RemoteError {
        RemoteError::Protocol {
            url: self.url.clone(),
            message: message.into(),
        }
    }

    /// One JSON request, retried while the server is unreachable, loading or busy, for up to
    /// [`RETRY_FOR`].
    fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, RemoteError> {
        self.retrying(true, || {
            let response = self.send(method, path, body)?;
            read_json(response).map_err(Failure::Retry)
        })
    }

    /// Runs `once` until it succeeds, fails for good, or [`RETRY_FOR`] has passed. A server
    /// that is down is waited for only with `wait_if_down`.
    fn retrying<T>(
        &self,
        wait_if_down: bool,
        mut once: impl FnMut() -> Result<T, Failure>,
    ) -> Result<T, RemoteError> {
        let started = Instant::now();
        let mut pause = Duration::from_millis(250);
        loop {
            let message = match once() {
                Ok(value) => return Ok(value),
                Err(Failure::Final(message)) => {
                    return Err(RemoteError::Protocol {
                        url: self.url.clone(),
                        message,
                    })
                }
                Err(Failure::Down(message)) if !wait_if_down => {
                    return Err(RemoteError::Unreachable {
                        url: self.url.clone(),
                        message: format!("the server is not reachable ({message})"),
                    })
                }
                Err(Failure::Down(message) | Failure::Retry(message)) => message,
            };
            if started.elapsed() + pause > RETRY_FOR {
                return Err(RemoteError::Unreachable {
                    url: self.url.clone(),
                    message: format!("{message} (gave up after {} s)", RETRY_FOR.as_secs()),
                });
            }
            tracing::debug!(url = %self.url, %message, "retrying");
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_secs(4));
        }
    }

    /// Sends one request; a status that waiting may cure (503 loading, 429 busy) or a refused
    /// connection is [`Failure::Retry`].
    fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<ureq::http::Response<ureq::Body>, Failure> {
        let url = format!("{}{path}", self.url);
        let auth = self.key.as_ref().map(|k| format!("Bearer {}", k.0));
        let result = match body {
            Some(body) => {
                let mut request = self.agent.post(&url);
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request
                    .header("Content-Type", "application/json")
                    .send(body.to_string())
            }
            None => {
                let mut request = if method == "GET" {
                    self.agent.get(&url)
                } else {
                    self.agent.delete(&url)
                };
                if let Some(auth) = &auth {
                    request = request.header("Authorization", auth);
                }
                request.call()
            }
        };
        let response = result.map_err(|e| match e {
            ureq::Error::Io(_) | ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => {
                Failure::Down(e.to_string())
            }
            ureq::Error::Timeout(_) => Failure::Final(format!("{e} (timeout_seconds)")),
            e => Failure::Final(e.to_string()),
        })?;
        let status = response.status().as_u16();
        if status == 200 {
            return Ok(response);
        }
        let message = error_message(status, response);
        match status {
            429 | 502 | 503 | 504 => Err(Failure::Retry(message)),
            _ => Err(Failure::Final(message)),
        }
    }

    /// Greedy generation as one streamed request; the stream's end event carries the timings.
    fn stream(
        &self,
        prompt: &[Token],
        options: &GenerateOptions,
        on_token: &mut OnToken<'_>,
    ) -> Result<Generation, Failure> {
        let body = json!({
            "prompt": prompt,
            "n_predict": options.max_tokens,
            "temperature": 0.0,
            "top_k": 1,
            "repeat_penalty": 1.0,
            "cache_prompt": true,
            "id_slot": self.slot.map_or(-1, |s| s as i64),
            "stream": true,
            "return_tokens": true,
        });
        let started = Instant::now();
        let response = self.send("POST", "/completion", Some(&body))?;
        let mut reader = BufReader::new(response.into_body().into_reader());
        let mut answer: Vec<u8> = Vec::new();
        let mut generated = 0;
        let mut line = String::new();
        loop {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .map_err(|e| Failure::Retry(format!("the answer stream broke: {e}")))?;
            if read == 0 {
                // Cut short (a restart, a dropped connection): never use half an answer.
                return Err(Failure::Retry(
                    "the server closed the answer before it ended".to_owned(),
                ));
            }
            let Some(data) = line.trim_end().strip_prefix("data: ") else {
                continue;
            };
            let event: Value = serde_json::from_str(data)
                .map_err(|e| Failure::Final(format!("an answer event is not JSON: {e}")))?;
            if let Some(error) = event.get("error") {
                return Err(Failure::Final(format!("the server failed: {error}")));
            }
            if let Some(piece) = event["content"].as_str() {
                answer.extend_from_slice(piece.as_bytes());
            }
            let count = event["tokens"].as_array().map_or(0, Vec::len);
            if event["stop"].as_bool() == Some(true) {
                return Ok(finished(&event, prompt.len(), answer, generated + count));
            }
            for _ in 0..count.max(1) {
                generated += 1;
                if on_token(generated, &answer).is_break() {
                    // Dropping the reader closes the connection; the server cancels the task.
                    return Ok(Generation {
                        text: String::from_utf8_lossy(&answer).into_owned(),
                        prompt_tokens: prompt.len(),
                        reused_tokens: 0,
                        generated_tokens: generated,
                        drafted_tokens: 0,
                        accepted_tokens: 0,
                        prompt_seconds: 0.0,
                        generate_seconds: started.elapsed().as_secs_f64(),
                        stop: StopReason::Stopped,
                    });
                }
            }
        }
    }
}

impl RemoteModel {
    fn chat_body(&self, messages: &[ChatMessage]) -> Value {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        json!({"model": self.served, "messages": messages, "temperature": 0.0})
    }

    /// One streamed chat answer; the end needs a `finish_reason`, else the answer is cut short.
    fn chat_stream(
        &self,
        messages: &[ChatMessage],
        on_token: &mut OnToken<'_>,
    ) -> Result<Generation, Failure> {
        let mut body = self.chat_body(messages);
        body["stream"] = json!(true);
        body["stream_options"] = json!({"include_usage": true});
        let started = Instant::now();
        let response = self.send("POST", "/v1/chat/completions", Some(&body))?;
        let mut reader = BufReader::new(response.into_body().into_reader());
        let (mut answer, mut pieces, mut line) = (Vec::new(), 0, String::new());
        let mut first: Option<f64> = None;
        let mut finish: Option<String> = None;
        let mut last = Value::Null;
        loop {
            line.clear();
            let read = reader
                .read_line(&mut line)
                .map_err(|e| Failure::Retry(format!("the answer stream broke: {e}")))?;
            let data = line.trim_end().strip_prefix("data: ").map(str::to_owned);
            if read == 0 || data.as_deref() == Some("[DONE]") {
                break;
            }
            let Some(data) = data else { continue };
            let event: Value = serde_json::from_str(&data)
                .map_err(|e| Failure::Final(format!("an answer event is not JSON: {e}")))?;
            if let Some(error) = event.get("error") {
                return Err(Failure::Final(format!("the server failed: {error}")));
            }
            let choice = &event["choices"][0];
            if let Some(piece) = choice["delta"]["content"]
                .as_str()
                .filter(|p| !p.is_empty())
            {
                first.get_or_insert_with(|| started.elapsed().as_secs_f64());
                answer.extend_from_slice(piece.as_bytes());
                pieces += 1;
                if on_token(pieces, &answer).is_break() {
                    finish = Some("stopped".to_owned());
                    break;
                }
            }
            if let Some(reason) = choice["finish_reason"].as_str() {
                finish = Some(reason.to_owned());
            }
            if event.get("usage").is_some_and(|u| !u.is_null()) || event.get("timings").is_some() {
                last = event;
            }
        }
        let Some(finish) = finish else {
            return Err(Failure::Retry(
                "the server closed the answer before it ended".to_owned(),
            ));
        };
        let elapsed = started.elapsed().as_secs_f64();
        let first = first.unwrap_or(elapsed);
        let usage = &last["usage"];
        let timings = &last["timings"];
        Ok(Generation {
            text: String::from_utf8_lossy(&answer).into_owned(),
            prompt_tokens: usage["prompt_tokens"].as_u64().unwrap_or(0) as usize,
            reused_tokens: usage["prompt_tokens_details"]["cached_tokens"]
                .as_u64()
                .unwrap_or(0) as usize,
            generated_tokens: usage["completion_tokens"]
                .as_u64()
                .map_or(pieces, |n| n as usize),
            drafted_tokens: 0,
            accepted_tokens: 0,
            // The server's own timings where it gives them (llama-server), else the wait for
            // the first piece and the rest.
            prompt_seconds: timings["prompt_ms"]
                .as_f64()
                .map_or(first, |ms| ms / 1000.0),
            generate_seconds: timings["predicted_ms"]
                .as_f64()
                .map_or(elapsed - first, |ms| ms / 1000.0),
            stop: match finish.as_str() {
                "length" => StopReason::ContextFull,
                "stopped" => StopReason::Stopped,
                _ => StopReason::EndOfGeneration,
            },
        })
    }
}

impl ChatApi for RemoteModel {
    fn chat(
        &mut self,
        messages: &[ChatMessage],
        on_token: &mut OnToken<'_>,
    ) -> Result<Generation, ModelError> {
        self.retrying(true, || self.chat_stream(messages, on_token))
            .map_err(model_error)
    }

    fn chat_label_scores(
        &mut self,
        messages: &[ChatMessage],
        labels: &[&str],
    ) -> Result<Vec<f32>, ModelError> {
        let mut body = self.chat_body(messages);
        body["max_tokens"] = json!(1);
        body["logprobs"] = json!(true);
        body["top_logprobs"] = json!(20);
        let answer = self
            .request("POST", "/v1/chat/completions", Some(&body))
            .map_err(model_error)?;
        let top: Vec<(String, f32)> = answer["choices"][0]["logprobs"]["content"][0]
            ["top_logprobs"]
            .as_array()
            .map(|top| {
                top.iter()
                    .filter_map(|t| {
                        Some((
                            t["token"].as_str()?.to_owned(),
                            t["logprob"].as_f64()? as f32,
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if top.is_empty() {
            return Err(ModelError::Decode(
                "the server gave no token probabilities (logprobs)".to_owned(),
            ));
        }
        scores_from_pieces(&top, labels).ok_or_else(|| {
            ModelError::Decode("none of the labels is among the server's top tokens".to_owned())
        })
    }
}

/// Label scores from top tokens known only by their text: a label's score is the best of the
/// tokens it starts with (a first token `cod` stands for `coder`); a label none starts with
/// gets the lowest score shown. None when no label matches any token.
fn scores_from_pieces(top: &[(String, f32)], labels: &[&str]) -> Option<Vec<f32>> {
    let floor = top.iter().map(|t| t.1).fold(f32::INFINITY, f32::min);
    let found: Vec<Option<f32>> = labels
        .iter()
        .map(|label| {
            top.iter()
                .filter(|(piece, _)| {
                    let piece = piece.trim().to_lowercase();
                    !piece.is_empty() && label.starts_with(piece.as_str())
                })
                .map(|t| t.1)
                .reduce(f32::max)
        })
        .collect();
    if found.iter().all(Option::is_none) {
        return None;
    }
    Some(found.into_iter().map(|f| f.unwrap_or(floor)).collect())
}

/// A failed attempt: worth another try after a pause, or not.
enum Failure {
    /// Nothing listens: final before a batch (the server is down), worth waiting for during
    /// one (it is restarting).
    Down(String),
    /// Loading, busy, or an answer cut short.
    Retry(String),
    Final(String),
}

fn agent(timeout: Duration) -> ureq::Agent {
    use ureq::tls::{RootCerts, TlsConfig};
    ureq::Agent::config_builder()
        .user_agent(concat!("codey/", env!("CARGO_PKG_VERSION")))
        .tls_config(
            TlsConfig::builder()
                .root_certs(RootCerts::PlatformVerifier)
                .build(),
        )
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(timeout))
        .build()
        .into()
}

fn read_json(response: ureq::http::Response<ureq::Body>) -> Result<Value, String> {
    let text = response
        .into_body()
        .read_to_string()
        .map_err(|e| format!("the answer broke off: {e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("the answer is not JSON: {e}"))
}

/// The server's own error message for a status, or the status alone.
fn error_message(status: u16, response: ureq::http::Response<ureq::Body>) -> String {
    let body = response.into_body().read_to_string().unwrap_or_default();
    let message = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect());
    format!("HTTP {status}: {message}")
}

/// The generation a stream's end event describes.
fn finished(event: &Value, prompt_tokens: usize, answer: Vec<u8>, generated: usize) -> Generation {
    let timings = &event["timings"];
    let evaluated = timings["prompt_n"]
        .as_u64()
        .map_or(prompt_tokens, |n| n as usize);
    let stop = match event["stop_type"].as_str() {
        Some("limit") => StopReason::MaxTokens,
        _ if event["truncated"].as_bool() == Some(true) => StopReason::ContextFull,
        _ => StopReason::EndOfGeneration,
    };
    let generated = timings["predicted_n"]
        .as_u64()
        .map_or(generated, |n| n as usize);
    Generation {
        text: String::from_utf8_lossy(&answer).into_owned(),
        prompt_tokens,
        reused_tokens: prompt_tokens.saturating_sub(evaluated),
        generated_tokens: generated,
        drafted_tokens: 0,
        accepted_tokens: 0,
        prompt_seconds: timings["prompt_ms"].as_f64().unwrap_or(0.0) / 1000.0,
        generate_seconds: timings["predicted_ms"].as_f64().unwrap_or(0.0) / 1000.0,
        stop,
    }
}

fn model_error(e: RemoteError) -> ModelError {
    ModelError::Decode(e.to_string())
}

/// The log-probability of each label's first token among the top tokens the server gave; a
/// label not among them gets the lowest one shown (its true score is at most that). None when
/// no label is among them: nothing can be told apart.
fn scores_from_top(top: &[(Token, f32)], firsts: &[Option<Token>]) -> Option<Vec<f32>> {
    let floor = top.iter().map(|t| t.1).fold(f32::INFINITY, f32::min);
    let found: Vec<Option<f32>> = firsts
        .iter()
        .map(|first| first.and_then(|id| top.iter().find(|t| t.0 == id).map(|t| t.1)))
        .collect();
    if found.iter().all(Option::is_none) {
        return None;
    }
    Some(found.into_iter().map(|f| f.unwrap_or(floor)).collect())
}

impl LanguageModel for RemoteModel {
    fn context_size(&self) -> usize {
        self.context
    }

    fn chat_prompt(&self, messages: &[ChatMessage]) -> Result<String, ModelError> {
        let messages: Vec<Value> = messages
            .iter()
            .map(|m| json!({"role": m.role, "content": m.content}))
            .collect();
        let answer = self
            .request(
                "POST",
                "/apply-template",
                Some(&json!({ "messages": messages })),
            )
            .map_err(model_error)?;
        answer["prompt"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| ModelError::Template("/apply-template gave no prompt".to_owned()))
    }

    fn tokenize(&self, text: &str, special: bool) -> Result<Vec<Token>, ModelError> {
        let body = json!({"content": text, "add_special": special, "parse_special": special});
        let answer = self
            .request("POST", "/tokenize", Some(&body))
            .map_err(model_error)?;
        answer["tokens"]
            .as_array()
            .map(|tokens| {
                tokens
                    .iter()
                    .filter_map(|t| t.as_i64().or_else(|| t["id"].as_i64()))
                    .map(|t| t as Token)
                    .collect()
            })
            .ok_or_else(|| ModelError::Decode("/tokenize gave no tokens".to_owned()))
    }

    fn decode(&mut self, _: &[Token], _: usize, _: Logits) -> Result<(), ModelError> {
        Err(ModelError::Decode(
            "a served model decodes on its server; codey cannot decode tokens there".to_owned(),
        ))
    }

    fn logits(&self, _: usize) -> &[f32] {
        &[]
    }

    /// The server keeps its own prompt cache: nothing to cut here.
    fn truncate(&mut self, _: usize) {}

    fn cached(&self) -> &[Token] {
        &[]
    }

    fn chat_api(&mut self) -> Option<&mut dyn ChatApi> {
        match self.api {
            Api::Openai => Some(self),
            Api::LlamaServer => None,
        }
    }

    fn is_end(&self, _: Token) -> bool {
        false
    }

    fn push_piece(&self, _: Token, _: &mut Vec<u8>) {}

    fn generate(
        &mut self,
        prompt: &[Token],
        options: &GenerateOptions,
        on_token: &mut OnToken<'_>,
    ) -> Result<Generation, ModelError> {
        // Progress from a try that broke off must not leak into the next one's count.
        let mut last = 0;
        self.retrying(true, || {
            self.stream(prompt, options, &mut |n, answer| {
                last = n;
                on_token(n, answer)
            })
        })
        .map_err(model_error)
        .inspect(|_| tracing::debug!(tokens = last, "remote answer"))
    }

    fn label_scores(&mut self, prompt: &[Token], labels: &[&str]) -> Result<Vec<f32>, ModelError> {
        let firsts: Vec<Option<Token>> = labels
            .iter()
            .map(|l| self.tokenize(l, false).map(|t| t.first().copied()))
            .collect::<Result<_, _>>()?;
        let body = json!({
            "prompt": prompt,
            "n_predict": 1,
            "n_probs": LABEL_PROBS,
            "temperature": 0.0,
            "post_sampling_probs": false,
            "cache_prompt": true,
            "id_slot": self.slot.map_or(-1, |s| s as i64),
        });
        let answer = self
            .request("POST", "/completion", Some(&body))
            .map_err(model_error)?;
        let top: Vec<(Token, f32)> = answer["completion_probabilities"][0]["top_logprobs"]
            .as_array()
            .map(|top| {
                top.iter()
                    .filter_map(|t| {
                        Some((t["id"].as_i64()? as Token, t["logprob"].as_f64()? as f32))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if top.is_empty() {
            return Err(ModelError::Decode(
                "the server gave no token probabilities (n_probs)".to_owned(),
            ));
        }
        scores_from_top(&top, &firsts).ok_or_else(|| {
            ModelError::Decode(format!(
                "none of the labels is among the server's top {LABEL_PROBS} tokens"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_outside_the_top_tokens_gets_the_lowest_score_shown() {
        let top = [(5, -0.1), (9, -2.0), (7, -4.5)];
        assert_eq!(
            scores_from_top(&top, &[Some(9), Some(11)]),
            Some(vec![-2.0, -4.5])
        );
        assert_eq!(scores_from_top(&top, &[Some(1), None]), None);
    }

    #[test]
    fn the_end_event_gives_stop_reason_reuse_and_timings() {
        let event = json!({"stop": true, "stop_type": "limit", "timings":
            {"prompt_n": 30, "prompt_ms": 500.0, "predicted_n": 12, "predicted_ms": 300.0}});
        let g = finished(&event, 100, b"abc".to_vec(), 3);
        assert_eq!(g.stop, StopReason::MaxTokens);
        assert_eq!((g.reused_tokens, g.generated_tokens), (70, 12));
        assert!((g.prompt_seconds - 0.5).abs() < 1e-9);
        assert_eq!(g.text, "abc");
        let eos = json!({"stop": true, "stop_type": "eos"});
        assert_eq!(
            finished(&eos, 4, vec![], 2).stop,
            StopReason::EndOfGeneration
        );
        assert_eq!(finished(&eos, 4, vec![], 2).generated_tokens, 2);
    }

    #[test]
    fn labels_are_scored_by_the_pieces_they_start_with() {
        let top = [
            (" cod".to_owned(), -0.5),
            ("algorithm".to_owned(), -2.0),
            ("x".to_owned(), -7.0),
        ];
        assert_eq!(
            scores_from_pieces(&top, &["coder", "algorithm"]),
            Some(vec![-0.5, -2.0])
        );
        assert_eq!(scores_from_pieces(&top, &["zeta"]), None);
    }

    #[test]
    fn endpoints_are_checked_and_keys_never_shown() {
        assert!(Endpoint::new("http://127.0.0.1:8080").problem().is_none());
        assert!(Endpoint::new("127.0.0.1:8080").problem().is_some());
        assert!(Endpoint::new("https://").problem().is_some());
        assert_eq!(format!("{:?}", Secret("sk-123".into())), "<redacted>");
    }

    #[test]
    fn a_server_that_is_down_fails_naming_the_endpoint() {
        // A port just bound and released: nothing listens there.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9);
        let url = format!("http://127.0.0.1:{port}");
        let mut endpoint = Endpoint::new(&url);
        endpoint.timeout_seconds = 2;
        let started = Instant::now();
        let error = RemoteModel::connect(&endpoint, None, 2048).map(|_| ());
        let message = error.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains(&url), "{message}");
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

//! The lifecycle manager on the real models: budget, eviction order, residency, idle unloading,
//! refusal, and one load per role per batch. Figures come from `--format json`.

use serde_json::Value;

use crate::common::{config_json, real_models, Run, TestRepo};

const INSTRUCTION: &str =
    "Make `find_duplicates` run in linear time with a set of seen names; add a docstring to `print_report`";

const ALGO_FILE: &str = "def find_duplicates(names):\n    out = []\n    for i in range(len(names)):\n        for j in range(i + 1, len(names)):\n            if names[i] == names[j] and names[i] not in out:\n                out.append(names[i])\n    return out\n";
const DOC_FILE: &str = "def print_report(items):\n    print(\"Items:\", len(items))\n";

fn role(json: &Value, role: &str) -> Value {
    json["reports"][0]["models"]["roles"][role].clone()
}

fn events(json: &Value) -> Vec<String> {
    json["reports"][0]["models"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["event"].as_str().unwrap(),
                e["role"].as_str().unwrap()
            )
        })
        .collect()
}

/// Runs the instruction with `config` and returns the run and its JSON report. The editors'
/// answers are not these tests' concern (a file the model botches exits 2): only what happened
/// to the models. So that the models' answers decide nothing here, the keyword table routes
/// every file (`--router-margin 1000`: the router model is still loaded and asked, but never
/// trusted), and a file an editor gives up on is not sent on to the algorithm model
/// (`--no-escalate`), which would make that the file's role.
fn edit_json(repo: &TestRepo, config: &std::path::Path) -> (Run, Value) {
    let run = repo.edit_with_config(
        INSTRUCTION,
        config,
        &[
            "--format",
            "json",
            "--no-escalate",
            "--router-margin",
            "1000",
        ],
    );
    assert!(matches!(run.code(), 0 | 2), "{}", run.stderr());
    let json = run.json();
    (run, json)
}

#[test]
fn tight_budget_loads_each_editor_once_and_never_evicts_the_router() {
    // Files alternate between the editors in path order: a naive loop would load four times.
    let repo = TestRepo::with_files(&[
        ("a_dupes.py", ALGO_FILE),
        ("b_report.py", DOC_FILE),
        ("c_dupes.py", ALGO_FILE),
        ("d_report.py", DOC_FILE),
    ]);
    // Router (~240 MB) + coder (~850 MB) or router + algorithm (~2080 MB) fit; both editors don't.
    let config = repo.config(&config_json(2500, &real_models()));
    let (run, json) = edit_json(&repo, &config);
    // The keyword table routes each file on its part of the instruction ("linear time" or
    // "docstring"), and no file moves on to another editor: the roles do not depend on what
    // the models answer.
    let roles: Vec<(String, String)> = json["reports"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().to_owned(),
                f["role"].as_str().unwrap_or("-").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        roles,
        [
            ("a_dupes.py", "algorithm"),
            ("b_report.py", "coder"),
            ("c_dupes.py", "algorithm"),
            ("d_report.py", "coder")
        ]
        .map(|(p, r)| (p.to_owned(), r.to_owned()))
    );
    for r in ["router", "coder", "algorithm"] {
        assert_eq!(role(&json, r)["loads"], 1, "{r}: {:#}", role(&json, r));
    }
    assert_eq!(role(&json, "coder")["evictions"], 1);
    assert_eq!(role(&json, "router")["evictions"], 0);
    assert_eq!(role(&json, "router")["unloads"], 0);
    assert_eq!(
        events(&json),
        ["load router", "load coder", "evict coder", "load algorithm"]
    );
    let evict = &json["reports"][0]["models"]["events"][2];
    assert_eq!(evict["for_role"], "algorithm");
    // The summary on stderr shows the same story.
    assert!(
        run.stderr().contains("model coder: 1 load(s)"),
        "{}",
        run.stderr()
    );
}

#[test]
fn idle_models_unload_after_their_timeout_but_the_resident_router_stays() {
    let repo = TestRepo::with_files(&[("a_dupes.py", ALGO_FILE), ("b_report.py", DOC_FILE)]);
    let mut config = config_json(6000, &real_models());
    config["models"]["coder"]["unload_after_seconds"] = 0.into();
    // Residency wins over an idle timeout.
    config["models"]["router"]["unload_after_seconds"] = 0.into();
    let config = repo.config(&config);
    let (_, json) = edit_json(&repo, &config);
    assert_eq!(
        events(&json),
        [
            "load router",
            "load coder",
            "idle-unload coder",
            "load algorithm"
        ]
    );
    assert_eq!(role(&json, "coder")["idle_unloads"], 1);
    assert_eq!(role(&json, "router")["unloads"], 0);
    // Estimated and measured footprints are both reported, and no estimate falls more than 5 %
    // short of what the model really took (weights, repacked weights, KV cache, compute).
    for r in ["router", "coder", "algorithm"] {
        let stats = role(&json, r);
        let (estimated, measured) = (
            stats["estimated_mb"].as_u64(),
            stats["measured_mb"].as_u64(),
        );
        let (estimated, measured) = (estimated.unwrap(), measured.unwrap());
        assert!(
            estimated * 100 >= measured * 95,
            "{r}: estimated {estimated} MB, measured {measured} MB"
        );
    }
    let coder = role(&json, "coder");
    assert!(coder["estimated_mb"].as_u64().unwrap() > 400, "{coder:#}");
    assert!(coder["measured_mb"].as_u64().unwrap() > 100, "{coder:#}");
    assert!(
        json["reports"][0]["models"]["peak_rss_mb"]
            .as_u64()
            .unwrap()
            > 500
    );
}

#[test]
fn a_model_over_the_whole_budget_is_refused_with_a_clear_error() {
    let repo = TestRepo::with_files(&[("b_report.py", DOC_FILE)]);
    let config = repo.config(&config_json(600, &real_models()));
    let run = repo
        .edit_with_config(INSTRUCTION, &config, &["--role", "coder"])
        .expect(2);
    let err = run.stderr();
    assert!(err.contains("coder model needs an estimated"), "{err}");
    assert!(err.contains("the memory budget is 600 MB"), "{err}");
    assert_eq!(run.stdout(), "");
}

#[test]
fn models_command_shows_estimates_before_loading() {
    let repo = TestRepo::with_files(&[("a.txt", "x\n")]);
    let out = repo
        .codey_plain(&["models", "--model-dir", real_models().to_str().unwrap()])
        .expect(0)
        .stdout();
    let coder = out
        .lines()
        .skip_while(|l| !l.starts_with("coder"))
        .nth(1)
        .unwrap();
    assert!(coder.contains("estimated") && coder.contains("KV"), "{out}");
    assert!(out.contains("always resident"), "{out}");
}

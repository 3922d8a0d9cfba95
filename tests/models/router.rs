//! The router on the real router model, against the labelled case sets: the development set
//! (`router_cases.json`, which the keyword list was corrected against) and a held-out set
//! (`router_holdout.json`, written separately and never tuned on).

use serde_json::Value;

use crate::common::{fixtures, real_models, TestRepo};

fn evaluate(repo: &TestRepo, file: &str) -> Value {
    let cases = fixtures().join(file);
    let json = repo
        .codey_plain(&["eval-router", cases.to_str().unwrap()])
        .expect(0)
        .json();
    let combined = json["combined_accuracy"].as_f64().unwrap();
    let model = json["model_accuracy"].as_f64().unwrap();
    eprintln!("router on {file}: model {model:.3}, combined {combined:.3}");
    json
}

#[test]
fn router_accuracy_on_labelled_cases() {
    real_models();
    let repo = TestRepo::with_files(&[("a.txt", "x\n")]);
    for (file, min_cases) in [("router_cases.json", 60), ("router_holdout.json", 40)] {
        let json = evaluate(&repo, file);
        assert!(json["cases"].as_u64().unwrap() >= min_cases);
        let combined = json["combined_accuracy"].as_f64().unwrap();
        assert!(
            combined >= 0.85,
            "{file}: combined router accuracy {combined:.3}\n{json:#}"
        );
        // The model was really consulted: its own accuracy is reported, and the sweep shows
        // what other margins would give.
        assert!(json["model_accuracy"].as_f64().unwrap() > 0.0);
        assert_eq!(json["margin_sweep"].as_array().unwrap().len(), 9);
    }
}

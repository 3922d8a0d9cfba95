//! The router on the real router model, against the labelled case set.

use crate::common::{fixtures, TestRepo};

#[test]
fn router_accuracy_on_labelled_cases() {
    let repo = TestRepo::with_files(&[("a.txt", "x\n")]);
    let cases = fixtures().join("router_cases.json");
    let run = repo
        .codey_plain(&["eval-router", cases.to_str().unwrap()])
        .expect(0);
    let json = run.json();
    let combined = json["combined_accuracy"].as_f64().unwrap();
    let model = json["model_accuracy"].as_f64().unwrap();
    eprintln!("router: model {model:.3}, combined {combined:.3}");
    assert!(json["cases"].as_u64().unwrap() >= 60);
    assert!(
        combined >= 0.85,
        "combined router accuracy {combined:.3}\n{json:#}"
    );
}

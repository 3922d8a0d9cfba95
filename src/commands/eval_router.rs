//! `codey eval-router`: the router's accuracy on a labelled case set, and the scope and due
//! checks' precision and recall on theirs, as JSON on stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use codey::config::Role;
use codey::lifecycle::Lifecycle;
use codey::llama::Llama;
use codey::model::Pooling;
use codey::router::{self, knn};

use crate::cli::{require_input, ConfigArgs, JudgeArg};

#[derive(Debug, Args)]
#[command(after_help = "Examples:
  codey eval-router                                # from a checkout: fixtures/router_cases.json
  codey eval-router fixtures/router_holdout.json --router-margin 1.0
  codey eval-router --judge coder                  # the coder model few-shot as the judge
  codey eval-router --method knn                   # nearest cases by the router model's embeddings
  codey eval-router fixtures/router_cases.json --scope-cases fixtures/scope_cases.json")]
pub struct EvalArgs {
    /// Labelled cases (JSON array of {instruction, path, symbols, mentions, expected}).
    #[arg(default_value = "fixtures/router_cases.json")]
    pub cases: PathBuf,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// The model that judges (as `codey edit --router-judge`).
    #[arg(long, value_enum, value_name = "MODEL", default_value = "router")]
    pub judge: JudgeArg,
    /// The judge's confidence margin below which the keyword table decides
    /// [default: 3.0 for the router model, 1.5 for an editor].
    #[arg(long, value_name = "LOGPROB")]
    pub router_margin: Option<f32>,
    /// How the judge's model decides: by the labels' log-probabilities, or by a vote of the
    /// labelled development cases nearest to the task in its embeddings (each development case
    /// is judged without itself: leave-one-out).
    #[arg(long, value_enum, default_value = "labels")]
    pub method: Method,
    #[command(flatten)]
    pub knn: KnnArgs,
    /// Also measure the scope check on these labelled cases (JSON array of
    /// {instruction, path, content, expected: in|out}), e.g. fixtures/scope_cases.json.
    #[arg(long, value_name = "FILE")]
    pub scope_cases: Option<PathBuf>,
    /// Also measure the due check on these labelled cases (JSON array of
    /// {instruction, path, content, expected: due|not-due}), e.g. fixtures/due_cases.json.
    #[arg(long, value_name = "FILE")]
    pub due_cases: Option<PathBuf>,
}

/// How the judge's model decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The log-probabilities of the two labels (`--router-margin` apart).
    Labels,
    /// Nearest labelled cases by cosine similarity of the model's embeddings.
    Knn,
}

/// How the hidden states become one embedding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PoolingArg {
    Mean,
    Last,
}

/// The nearest-neighbour judge's settings (with `--method knn`).
#[derive(Debug, Args)]
pub struct KnnArgs {
    /// Nearest cases that vote.
    #[arg(long, value_name = "N", default_value_t = knn::Settings::default().k)]
    pub knn_k: usize,
    /// The least similarity-weighted vote share the winning role needs to decide.
    #[arg(long, value_name = "SHARE", default_value_t = knn::Settings::default().min_share)]
    pub knn_share: f32,
    /// The least cosine similarity of the nearest case for the vote to decide.
    #[arg(long, value_name = "COSINE", default_value_t = knn::Settings::default().min_similarity)]
    pub knn_similarity: f32,
    /// How the hidden states of the task's tokens are pooled.
    #[arg(long, value_enum, default_value = "mean")]
    pub knn_pooling: PoolingArg,
    /// Text put before every task before it is embedded.
    #[arg(long, value_name = "TEXT", default_value_t = knn::Settings::default().prefix)]
    pub knn_prefix: String,
    /// Compare raw embeddings, without subtracting the cases' mean embedding first.
    #[arg(long)]
    pub knn_no_center: bool,
    /// Embed backticked names as written, not as one placeholder.
    #[arg(long)]
    pub knn_keep_names: bool,
}

impl KnnArgs {
    fn settings(&self) -> knn::Settings {
        knn::Settings {
            k: self.knn_k,
            min_share: self.knn_share,
            min_similarity: self.knn_similarity,
            pooling: match self.knn_pooling {
                PoolingArg::Mean => Pooling::Mean,
                PoolingArg::Last => Pooling::Last,
            },
            prefix: self.knn_prefix.clone(),
            center: !self.knn_no_center,
            mask_names: !self.knn_keep_names,
        }
    }
}

fn read_cases<T: serde::de::DeserializeOwned>(path: &std::path::Path) -> Result<T> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read {} (pass the case file's path)", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not a case list", path.display()))
}

/// Runs `codey eval-router`.
pub fn run(args: &EvalArgs) -> Result<ExitCode> {
    require_input(
        &args.cases,
        "the CASES argument",
        "a labelled case file (codey's fixtures/router_cases.json)",
    )?;
    let cases: Vec<router::Case> = read_cases(&args.cases)?;
    let scope = match &args.scope_cases {
        Some(path) => Some(router::evaluate_scope(&read_cases::<Vec<_>>(path)?)),
        None => None,
    };
    let due = match &args.due_cases {
        Some(path) => Some(router::evaluate_due(&read_cases::<Vec<_>>(path)?)),
        None => None,
    };
    let loaded = args.config.load()?;
    let mut lifecycle = Lifecycle::new(Llama, loaded.config, loaded.source);
    let judge = Role::from(args.judge);
    let mut json = match args.method {
        Method::Labels => {
            let margin = args
                .router_margin
                .unwrap_or_else(|| router::default_margin(judge));
            let eval = lifecycle.with(judge, |model| {
                router::evaluate(model, judge, &cases, margin)
            })??;
            serde_json::to_value(&eval)?
        }
        Method::Knn => {
            let settings = args.knn.settings();
            let eval = lifecycle.with(judge, |model| {
                knn::evaluate(model, judge, &cases, knn::examples(), &settings)
            })??;
            serde_json::to_value(&eval)?
        }
    };
    if let Some(scope) = scope {
        json["scope"] = serde_json::to_value(scope)?;
    }
    if let Some(due) = due {
        json["due"] = serde_json::to_value(due)?;
    }
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, &json)?;
    writeln!(out)?;
    Ok(ExitCode::SUCCESS)
}

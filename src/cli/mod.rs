//! The command line: arguments (clap) and dispatch to the commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::backend::{BackendChoice, run_on};
use crate::error::{Error, Result};
use crate::hub::HubSettings;
use crate::predict::{Input, PredictRequest};

#[derive(Debug, Parser)]
#[command(name = "distill-tui", version, about = "Distill BERT into students initialized from chosen teacher layers")]
pub struct Cli {
    /// Where to run: cpu (burn-ndarray), cuda (needs a build with --features cuda), or auto.
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu, global = true)]
    pub backend: BackendChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify text with a model folder or Hub id and print the label and probabilities.
    Predict(PredictArgs),
}

#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// Model folder (config.json, model.safetensors, tokenizer.json) or Hub id.
    #[arg(long)]
    pub model: String,
    /// Hub revision (branch, tag or commit), for a Hub id.
    #[arg(long, default_value = "main")]
    pub revision: String,
    /// Truncate inputs to this many tokens [default: the model's position limit].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Print one JSON object {"label", "label_id", "logits", "probs"} per input.
    #[arg(long)]
    pub json: bool,
    /// Read inputs from a JSON Lines file of {"text": ..., "text_pair": ...}; prints JSON lines.
    #[arg(long, conflicts_with_all = ["text", "text_pair"])]
    pub input: Option<PathBuf>,
    /// The text to classify.
    #[arg(required_unless_present = "input")]
    pub text: Option<String>,
    /// Second text of a pair (premise/hypothesis, question/sentence, ...).
    pub text_pair: Option<String>,
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Predict(a) => {
            let input = match (a.input, a.text) {
                (Some(path), _) => Input::JsonLines(path),
                (None, Some(text)) => Input::Text { text, pair: a.text_pair },
                (None, None) => return Err(Error::Input("give a TEXT or --input FILE.jsonl".into())),
            };
            let request = PredictRequest {
                model: a.model,
                revision: a.revision,
                max_length: a.max_length,
                json: a.json,
                input,
                hub: HubSettings::from_env(),
            };
            run_on(cli.backend, request)?
        }
    }
}

//! `distill-tui predict`: run a sequence classifier on text and print labels and probabilities.

use std::io::Write;
use std::path::PathBuf;

use crate::ops::{FastOps, TrainBackend};
use burn::tensor::activation::softmax;
use serde::{Deserialize, Serialize};

use crate::backend::BackendTask;
use crate::error::{Error, Result};
use crate::events::BackendInfo;
use crate::hub::HubSettings;
use crate::model::{BertClassifier, LoadedModel};
use crate::tokenize::{Encoded, Padding, TextTokenizer};

/// What `predict` was asked.
#[derive(Debug, Clone)]
pub struct PredictRequest {
    pub model: String,
    pub revision: String,
    pub max_length: Option<usize>,
    pub json: bool,
    pub input: Input,
    pub hub: HubSettings,
}

#[derive(Debug, Clone)]
pub enum Input {
    Text { text: String, pair: Option<String> },
    JsonLines(PathBuf),
}

/// One prediction, as `--json` prints it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Prediction {
    pub label: String,
    pub label_id: usize,
    pub logits: Vec<f32>,
    pub probs: Vec<f32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonLine {
    text: String,
    text_pair: Option<String>,
}

/// Reads `{"text": ..., "text_pair": ...}` lines; blank lines are skipped; errors name the line.
pub fn read_jsonl(path: &std::path::Path) -> Result<Vec<(String, Option<String>)>> {
    let file = crate::input_file::open(path, true).map_err(|e| Error::io(path, e))?;
    let mut items = Vec::new();
    for (i, line) in crate::input_file::lines(file, crate::input_file::JSONL_LINE).enumerate() {
        let line = line.map_err(|e| Error::Input(format!("{}: {e}", path.display())))?;
        if line.trim().is_empty() {
            continue;
        }
        let item: JsonLine = serde_json::from_str(&line).map_err(|e| {
            Error::Input(format!(
                "{}:{}: {e}; each line must be an object {{\"text\": \"...\", \"text_pair\": \"...\"}} (text_pair optional)",
                path.display(),
                i + 1
            ))
        })?;
        items.push((item.text, item.text_pair));
    }
    Ok(items)
}

/// Runs the classifier on `items` in batches of `batch_size`, padded per batch by `padding`.
pub fn predict_batch<B: FastOps>(
    model: &BertClassifier<B>,
    tokenizer: &TextTokenizer,
    labels: &[String],
    items: &[(String, Option<String>)],
    batch_size: usize,
    padding: Padding,
    device: &B::Device,
) -> Result<Vec<Prediction>> {
    let encoded = tokenizer.encode_many(items)?;
    let mut out = Vec::with_capacity(items.len());
    for chunk in encoded.chunks(batch_size.max(1)) {
        let refs: Vec<&Encoded> = chunk.iter().collect();
        let batch = padding.collate(&refs);
        let logits = model.forward(batch.to_input::<B>(device)).logits;
        let probs = softmax(logits.clone(), 1);
        let n = labels.len();
        let logits: Vec<f32> = logits.into_data().to_vec().map_err(|e| Error::Internal(format!("{e:?}")))?;
        let probs: Vec<f32> = probs.into_data().to_vec().map_err(|e| Error::Internal(format!("{e:?}")))?;
        for (l, p) in logits.chunks(n).zip(probs.chunks(n)) {
            let label_id = argmax(p);
            out.push(Prediction { label: labels[label_id].clone(), label_id, logits: l.to_vec(), probs: p.to_vec() });
        }
    }
    Ok(out)
}

pub fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |best, (i, x)| if *x > v[best] { i } else { best })
}

/// Human-readable output: the label, then every label's probability.
pub fn format_human(p: &Prediction, labels: &[String]) -> String {
    let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
    let mut s = format!("{} (label {}, p = {:.4})\n", p.label, p.label_id, p.probs[p.label_id]);
    for (i, l) in labels.iter().enumerate() {
        let mark = if i == p.label_id { ">" } else { " " };
        s.push_str(&format!("{mark} {l:<width$}  p = {:.4}  logit = {:+.4}\n", p.probs[i], p.logits[i]));
    }
    s
}

impl BackendTask for PredictRequest {
    type Output = Result<()>;

    fn run<B: TrainBackend>(self, device: B::Device, info: BackendInfo) -> Result<()> {
        info.warn_on_stderr();
        let loaded =
            LoadedModel::<B::InnerBackend>::load(&self.model, &self.revision, &self.hub, self.max_length, 0, &device)?;
        if let Some(line) = loaded.report.summary(0) {
            eprintln!(
                "warning: {}: {line}. Its predictions are those of an untrained head; fine-tune it first.",
                loaded.files.source
            );
        }
        // An inference backend: dropout is off.
        let model = loaded.model;
        let labels = &loaded.config.labels;
        let items = match &self.input {
            Input::Text { text, pair } => vec![(text.clone(), pair.clone())],
            Input::JsonLines(path) => read_jsonl(path)?,
        };
        let preds = predict_batch(
            &model,
            &loaded.tokenizer,
            labels,
            &items,
            32,
            info.padding(&loaded.config, loaded.tokenizer.max_length),
            &device,
        )?;
        let mut out = std::io::stdout().lock();
        for p in &preds {
            let text = if self.json || matches!(self.input, Input::JsonLines(_)) {
                serde_json::to_string(p).expect("predictions serialize") + "\n"
            } else {
                format_human(p, labels)
            };
            out.write_all(text.as_bytes()).map_err(|e| Error::Internal(format!("writing stdout: {e}")))?;
        }
        Ok(())
    }
}

//! `results.json`: everything a run of the matrix produced, rewritten after every epoch.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::{EpochRecord, RunStatus};

pub const RESULTS_JSON: &str = "results.json";
pub const RESULTS_CSV: &str = "results.csv";
pub const RESULTS_MD: &str = "results.md";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Results {
    pub experiment: String,
    pub config_file: String,
    pub backend: String,
    pub device: String,
    pub versions: Versions,
    pub data: DataInfo,
    pub training: serde_json::Value,
    pub teacher: TeacherResult,
    pub runs: Vec<RunResult>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub distill_tui: String,
    pub burn: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    pub task: String,
    pub train: String,
    pub validation: String,
    pub train_examples: usize,
    pub validation_examples: usize,
    pub max_length: usize,
    /// Mean tokens per training example (after truncation, without padding).
    pub train_mean_tokens: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeacherResult {
    pub model: String,
    pub revision: String,
    pub num_layers: usize,
    pub params: usize,
    pub finetune_epochs: usize,
    pub status: RunStatus,
    pub validation_loss: Option<f64>,
    pub validation_accuracy: Option<f64>,
    pub seconds: f64,
    pub checkpoint: Option<String>,
    pub epochs: Vec<EpochRecord>,
    /// Per validation example, '1' if right and '0' if wrong.
    pub validation_correct: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub name: String,
    pub slug: String,
    pub seed: u64,
    pub teacher_layers: Vec<usize>,
    pub status: RunStatus,
    pub reason: Option<String>,
    /// Final epoch's training loss (the weighted distillation loss).
    pub train_loss: Option<f64>,
    /// Final epoch's validation cross-entropy.
    pub validation_loss: Option<f64>,
    pub validation_accuracy: Option<f64>,
    pub params: usize,
    pub seconds: f64,
    /// The saved student, relative to the experiment folder.
    pub checkpoint: Option<String>,
    /// Set when the run was interrupted and continued from this epoch's checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from_epoch: Option<usize>,
    pub epochs: Vec<EpochRecord>,
    pub validation_correct: String,
}

impl RunResult {
    /// Updates the final-epoch fields from `epochs`.
    pub fn set_epochs(&mut self, epochs: &[EpochRecord], correct: &[bool]) {
        self.epochs = epochs.to_vec();
        if let Some(last) = epochs.last() {
            self.train_loss = epochs.iter().rev().find_map(|e| e.train_loss);
            self.validation_loss = Some(last.validation_loss);
            self.validation_accuracy = Some(last.validation_accuracy);
        }
        self.validation_correct = correct_string(correct);
    }
}

pub use crate::events::{correct_string, parse_correct};

impl Results {
    pub fn read(dir: &Path) -> Result<Self> {
        let path = if dir.is_file() { dir.to_path_buf() } else { dir.join(RESULTS_JSON) };
        let text = std::fs::read_to_string(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Input(format!(
                "{}: no results here; give the experiment folder (checkpoints/<name>) or its results.json",
                path.display()
            )),
            _ => Error::io(&path, e),
        })?;
        serde_json::from_str(&text)
            .map_err(|e| Error::Input(format!("{}: not a distill-tui results file: {e}", path.display())))
    }
}

//! Numbers of a run: the loss and its parts per step, and the metrics of an epoch.

use serde::{Deserialize, Serialize};

/// The distillation loss and its terms as numbers, for logs and results.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LossValues {
    pub total: f64,
    pub ce: f64,
    pub kl: f64,
    pub cosine: f64,
}

/// Metrics of one epoch; epoch 0 is the evaluation before any update (no training numbers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: Option<f64>,
    pub train_ce: Option<f64>,
    pub train_kl: Option<f64>,
    pub train_cosine: Option<f64>,
    pub validation_loss: f64,
    pub validation_accuracy: f64,
}

/// Per-example correctness as stored in results: '1' right, '0' wrong, one per example.
pub fn correct_string(correct: &[bool]) -> String {
    correct.iter().map(|&c| if c { '1' } else { '0' }).collect()
}

pub fn parse_correct(s: &str) -> Vec<bool> {
    s.chars().map(|c| c == '1').collect()
}

//! `results.json`: everything a run of the matrix produced, rewritten after every epoch.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::{EpochRecord, RunStatus};

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

/// The teacher: what was loaded, and what its fine-tune (or evaluation as loaded) produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeacherResult {
    pub model: String,
    pub revision: String,
    pub num_layers: usize,
    pub finetune_epochs: usize,
    #[serde(flatten)]
    pub record: RunRecord,
}

impl TeacherResult {
    /// Whether the teacher was fine-tuned on the task (then its fine-tune is the first run).
    pub fn finetuned(&self) -> bool {
        self.finetune_epochs > 0
    }
}

/// One student run of the matrix: which strategy and seed, and what it produced.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    pub name: String,
    pub slug: String,
    pub seed: u64,
    pub teacher_layers: Vec<usize>,
    #[serde(flatten)]
    pub record: RunRecord,
}

/// What one training run (the teacher's fine-tune or a student's) produced; its keys sit
/// beside the teacher's or the run's own in results.json.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub status: RunStatus,
    /// Why the run ended as it did (failed, skipped, stopped); `None` when it just finished.
    #[serde(default)]
    pub reason: Option<String>,
    /// Final epoch's training loss (for students the weighted distillation loss, for the
    /// teacher cross-entropy).
    #[serde(default)]
    pub train_loss: Option<f64>,
    /// Final epoch's validation cross-entropy.
    pub validation_loss: Option<f64>,
    pub validation_accuracy: Option<f64>,
    pub params: usize,
    pub seconds: f64,
    /// The saved model, relative to the experiment folder.
    pub checkpoint: Option<String>,
    /// Set when the run was interrupted and continued from this epoch's checkpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resumed_from_epoch: Option<usize>,
    pub epochs: Vec<EpochRecord>,
    /// Per validation example, '1' if right and '0' if wrong.
    pub validation_correct: String,
}

impl RunRecord {
    /// A run not started yet, of a model with `params` parameters.
    pub fn pending(params: usize) -> Self {
        RunRecord {
            status: RunStatus::Pending,
            reason: None,
            train_loss: None,
            validation_loss: None,
            validation_accuracy: None,
            params,
            seconds: 0.0,
            checkpoint: None,
            resumed_from_epoch: None,
            epochs: vec![],
            validation_correct: String::new(),
        }
    }

    /// Updates the final-epoch fields from `epochs` (`correct`: the last evaluation's
    /// per-example correctness).
    pub fn set_epochs(&mut self, epochs: &[EpochRecord], correct: &[bool]) {
        self.epochs = epochs.to_vec();
        if let Some(last) = epochs.last() {
            self.train_loss = epochs.iter().rev().find_map(|e| e.train_loss);
            self.validation_loss = Some(last.validation_loss);
            self.validation_accuracy = Some(last.validation_accuracy);
        }
        self.validation_correct = correct_string(correct);
    }

    /// The numbers of an evaluation made outside the epochs (a teacher used as loaded, or
    /// reloaded from an earlier invocation).
    pub fn set_evaluation(&mut self, loss: f64, accuracy: f64, correct: &[bool]) {
        self.validation_loss = Some(loss);
        self.validation_accuracy = Some(accuracy);
        self.validation_correct = correct_string(correct);
    }

    /// How the run ended: its status, why, how long it took (earlier invocations included)
    /// and the epoch a checkpoint let it continue from.
    pub fn set_end(&mut self, status: RunStatus, reason: Option<String>, seconds: f64, resumed_from: Option<usize>) {
        self.status = status;
        self.reason = reason;
        self.seconds = seconds;
        self.resumed_from_epoch = resumed_from;
    }
}

use crate::events::correct_string;

impl Results {
    /// Whether the teacher and every run have ended: done, skipped or failed (not stopped,
    /// which resumes).
    pub fn all_ended(&self) -> bool {
        let ended = RunStatus::ended;
        ended(self.teacher.record.status) && self.runs.iter().all(|r| ended(r.record.status))
    }

    /// The results in `text`, read from `path` (named in errors). Files written before the
    /// teacher's record had a training loss get its final epoch's.
    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut results: Self = serde_json::from_str(text)
            .map_err(|e| Error::Input(format!("{}: not a distill-tui results file: {e}", path.display())))?;
        let t = &mut results.teacher.record;
        if t.train_loss.is_none() {
            t.train_loss = t.epochs.iter().rev().find_map(|e| e.train_loss);
        }
        Ok(results)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A results.json as written before the teacher and the runs shared `RunRecord`: the
    /// teacher without `reason` and `train_loss`, a run without `resumed_from_epoch`.
    const BEFORE: &str = r#"{
  "experiment": "demo-synthetic",
  "config_file": "demo.toml",
  "backend": "cpu",
  "device": "CPU",
  "versions": { "distill_tui": "0.1.0", "burn": "0.21.0" },
  "data": { "task": "sst2", "train": "train.tsv", "validation": "dev.tsv", "train_examples": 4,
            "validation_examples": 2, "max_length": 32, "train_mean_tokens": 7.5 },
  "training": { "epochs": 1 },
  "teacher": { "model": "teacher", "revision": "main", "num_layers": 12, "params": 639810, "finetune_epochs": 1,
    "status": "done", "validation_loss": 0.2230569554085377, "validation_accuracy": 0.94140625,
    "seconds": 3.8781874419999998, "checkpoint": "teacher",
    "epochs": [
      { "epoch": 0, "train_loss": null, "train_ce": null, "train_kl": null, "train_cosine": null,
        "validation_loss": 0.69, "validation_accuracy": 0.5 },
      { "epoch": 1, "train_loss": 0.2765967077575624, "train_ce": 0.2765967077575624, "train_kl": null,
        "train_cosine": null, "validation_loss": 0.2230569554085377, "validation_accuracy": 0.94140625 }
    ],
    "validation_correct": "10" },
  "runs": [
    { "name": "Odd Layer", "slug": "odd-layer", "seed": 42, "teacher_layers": [1, 3, 5, 7, 9, 11], "status": "failed",
      "reason": "loss became NaN", "train_loss": null, "validation_loss": null, "validation_accuracy": null,
      "params": 339906, "seconds": 2.2, "checkpoint": null, "epochs": [], "validation_correct": "" }
  ]
}"#;

    #[test]
    fn an_earlier_results_file_reads_back_and_its_keys_stay() {
        let r = Results::parse(BEFORE, Path::new("results.json")).unwrap();
        let t = &r.teacher.record;
        assert_eq!((t.status, t.params, t.seconds), (RunStatus::Done, 639810, 3.8781874419999998));
        assert_eq!(t.train_loss, Some(0.2765967077575624), "the teacher's training loss from its last epoch");
        assert_eq!(t.reason, None);
        let run = &r.runs[0].record;
        assert_eq!(
            (run.status, run.reason.as_deref(), run.resumed_from_epoch),
            (RunStatus::Failed, Some("loss became NaN"), None)
        );

        // Written again: the same keys in the same places, the teacher's reason and training loss added.
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<std::collections::BTreeSet<_>>();
        let before: serde_json::Value = serde_json::from_str(BEFORE).unwrap();
        let after = serde_json::to_value(&r).unwrap();
        assert_eq!(keys(&after), keys(&before));
        assert_eq!(keys(&after["runs"][0]), keys(&before["runs"][0]));
        let mut teacher = keys(&before["teacher"]);
        teacher.extend(["reason".to_string(), "train_loss".to_string()]);
        assert_eq!(keys(&after["teacher"]), teacher);
        let again: Results = serde_json::from_value(after).unwrap();
        assert_eq!(again, r);
    }

    #[test]
    fn a_resumed_run_says_from_which_epoch() {
        let mut r = RunRecord::pending(10);
        assert!(!serde_json::to_value(&r).unwrap().as_object().unwrap().contains_key("resumed_from_epoch"));
        r.set_end(RunStatus::Done, None, 1.5, Some(2));
        assert_eq!(serde_json::to_value(&r).unwrap()["resumed_from_epoch"], 2);
    }
}

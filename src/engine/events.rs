//! What the engine tells its listeners (the TUI, the headless printer), and how they steer it.
//! The engine knows nothing about screens: it sends [`Event`]s and reads [`Control`] between
//! steps.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::BackendInfo;
use crate::distill::loss::LossValues;

/// Index of a run in [`Event::Plan`]'s list; the teacher fine-tune, when there is one, is run 0.
pub type RunId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Pending,
    Running,
    Done,
    Skipped,
    Failed,
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Done => "done",
            RunStatus::Skipped => "skipped",
            RunStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// Fine-tuning the teacher on the task.
    Teacher,
    /// Distilling one student.
    Student,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLabel {
    pub kind: RunKind,
    pub name: String,
    pub seed: u64,
    /// 1-based teacher layers the student starts from (empty for the teacher).
    pub teacher_layers: Vec<usize>,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Info,
    Warn,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StepEvent {
    pub run: RunId,
    pub epoch: usize,
    /// 1-based step within the run, out of `steps_total`.
    pub step: usize,
    pub steps_total: usize,
    pub loss: LossValues,
    pub lr: f64,
    /// Training examples per second over this step.
    pub examples_per_s: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// The whole matrix, before work starts.
    Plan { experiment: String, backend: BackendInfo, teacher_layers: usize, runs: Vec<RunLabel> },
    Log { level: Level, text: String },
    RunStarted { run: RunId, epochs: usize, steps_per_epoch: usize, train_examples: usize },
    Step(StepEvent),
    Epoch { run: RunId, record: EpochRecord },
    RunEnded { run: RunId, status: RunStatus, reason: Option<String>, seconds: f64 },
    /// All runs are over; results are in `results_dir`.
    Finished { results_dir: PathBuf },
}

/// Pause, skip and quit, set by a front end and read by the engine between steps.
#[derive(Debug, Default)]
pub struct Control {
    paused: AtomicBool,
    skip: AtomicBool,
    quit: AtomicBool,
}

impl Control {
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Asks the engine to end the current run as skipped and go on with the next.
    pub fn skip_current(&self) {
        self.skip.store(true, Ordering::SeqCst);
    }

    /// Asks the engine to stop after the current step and write what it has.
    pub fn quit(&self) {
        self.quit.store(true, Ordering::SeqCst);
    }

    pub fn quit_requested(&self) -> bool {
        self.quit.load(Ordering::SeqCst)
    }

    /// Takes a pending skip request (so it applies to one run only).
    pub fn take_skip(&self) -> bool {
        self.skip.swap(false, Ordering::SeqCst)
    }

    /// Blocks while paused (unless a quit or skip comes); returns how long it waited.
    pub fn wait_while_paused(&self) -> Duration {
        let start = std::time::Instant::now();
        while self.is_paused() && !self.quit_requested() && !self.skip.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        start.elapsed()
    }
}

/// Where events go. Sending never fails the engine: a front end that went away (a closed
/// terminal) must not stop training.
#[derive(Debug, Clone)]
pub struct Events {
    tx: Option<std::sync::mpsc::Sender<Event>>,
}

impl Events {
    pub fn new(tx: std::sync::mpsc::Sender<Event>) -> Self {
        Self { tx: Some(tx) }
    }

    /// Events sent nowhere (tests, benchmarks).
    pub fn none() -> Self {
        Self { tx: None }
    }

    pub fn send(&self, e: Event) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(e);
        }
    }

    pub fn info(&self, text: impl Into<String>) {
        self.send(Event::Log { level: Level::Info, text: text.into() });
    }

    pub fn warn(&self, text: impl Into<String>) {
        self.send(Event::Log { level: Level::Warn, text: text.into() });
    }
}

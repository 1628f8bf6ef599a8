//! What the engine tells its listeners (the TUI, the headless printer), and how they steer it.
//! The engine knows nothing about screens: it sends [`Event`]s and reads [`Control`] between
//! steps.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::BackendInfo;
use crate::distill::loss::LossValues;

/// Index of a run in [`Event::Plan`]'s list; the teacher fine-tune, when there is one, is run 0.
pub type RunId = usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Not started yet.
    Pending,
    Running,
    /// Interrupted by the user or a signal; rerunning the same command resumes it.
    Stopped,
    Done,
    Skipped,
    Failed,
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Stopped => "stopped",
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
}

/// Work outside the training steps that is long enough to need its own progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// The teacher's outputs on the training set, computed once before the students.
    TeacherOutputs,
    /// A pass over the validation set.
    Evaluation,
}

impl Phase {
    pub fn describe(&self) -> &'static str {
        match self {
            Phase::TeacherOutputs => "computing the teacher's outputs",
            Phase::Evaluation => "evaluating",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// The whole matrix, before work starts.
    Plan {
        experiment: String,
        backend: BackendInfo,
        teacher_layers: usize,
        runs: Vec<RunLabel>,
        /// Epochs of each student run and optimizer steps per epoch (for the ETA before the
        /// first student starts).
        student_epochs: usize,
        steps_per_epoch: usize,
    },
    Log {
        level: Level,
        text: String,
    },
    RunStarted {
        run: RunId,
        epochs: usize,
        steps_per_epoch: usize,
        train_examples: usize,
    },
    Step(StepEvent),
    /// Batches done of a phase that is not a training step (`run`: the run it belongs to).
    Progress {
        run: Option<RunId>,
        phase: Phase,
        done: usize,
        total: usize,
    },
    Epoch {
        run: RunId,
        record: EpochRecord,
    },
    RunEnded {
        run: RunId,
        status: RunStatus,
        reason: Option<String>,
        seconds: f64,
    },
    /// All runs are over; results are in `results_dir`.
    Finished {
        results_dir: PathBuf,
    },
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

/// Reports the progress of a [`Phase`] and answers whether to go on (no quit was asked).
pub struct PhaseProgress<'a> {
    pub events: &'a Events,
    pub control: &'a Control,
    pub run: Option<RunId>,
    pub phase: Phase,
}

impl PhaseProgress<'_> {
    /// Sends `done` of `total` batches; `false` when the user asked to quit.
    pub fn tick(&self, done: usize, total: usize) -> bool {
        self.events.send(Event::Progress { run: self.run, phase: self.phase, done, total });
        !self.control.quit_requested()
    }
}

/// Where events go: a front end, and the experiment's `events.jsonl`. Sending never fails
/// the engine: a front end that went away (a closed terminal) or a log that cannot be written
/// (results are written and checked separately) must not stop training.
#[derive(Debug, Clone)]
pub struct Events {
    tx: Option<std::sync::mpsc::Sender<Event>>,
    log: Option<Arc<Mutex<std::io::LineWriter<std::fs::File>>>>,
}

impl Events {
    pub fn new(tx: std::sync::mpsc::Sender<Event>) -> Self {
        Self { tx: Some(tx), log: None }
    }

    /// Events sent nowhere (tests, benchmarks).
    pub fn none() -> Self {
        Self { tx: None, log: None }
    }

    /// The same events, also appended to `path` as JSON lines (`{"t": unix seconds, "event":
    /// kind, ...}`). Append-only: after a crash, only its last line can be incomplete.
    pub fn logging_to(&self, path: &Path) -> crate::error::Result<Self> {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| crate::error::Error::io(path, e))?;
        Ok(Self { tx: self.tx.clone(), log: Some(Arc::new(Mutex::new(std::io::LineWriter::new(file)))) })
    }

    pub fn send(&self, e: Event) {
        // Progress within a phase is for the screen only; the log keeps what happened.
        if let Some(log) = self.log.as_ref().filter(|_| !matches!(e, Event::Progress { .. }))
            && let Ok(mut v) = serde_json::to_value(&e)
        {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("t".into(), serde_json::json!((t * 1000.0).round() / 1000.0));
            }
            if let Ok(mut w) = log.lock() {
                let _ = writeln!(w, "{v}");
            }
        }
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

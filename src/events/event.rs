//! What the engine tells its listeners.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{EpochRecord, LossValues, RunId, RunLabel, RunStatus};

/// Where the work runs: what decides padding and what the GPU header shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// burn-flex (or burn-ndarray) on the CPU.
    Cpu,
    /// burn-cuda on an NVIDIA GPU.
    Cuda,
    /// burn-wgpu: Vulkan or Metal, on a GPU or in software.
    Wgpu,
}

impl BackendKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Cuda => "cuda",
            BackendKind::Wgpu => "wgpu",
        }
    }

    /// Whether kernels are compiled (and autotuned) for each new tensor shape, at run time.
    pub fn compiles_kernels(&self) -> bool {
        matches!(self, BackendKind::Cuda | BackendKind::Wgpu)
    }
}

/// The backend that was picked, for headers and results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendInfo {
    pub name: BackendKind,
    /// Human description of the device.
    pub device: String,
    /// How it was chosen: `--backend cuda`, `auto`, or `auto: ` and why no GPU was taken.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub why: String,
    /// What the user should know about the choice: a GPU that is there but cannot be used
    /// (no NVRTC, a driver too old), and how to fix it. Said once, as warnings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

impl BackendInfo {
    pub fn new(name: BackendKind, device: impl Into<String>) -> Self {
        Self { name, device: device.into(), why: String::new(), warnings: Vec::new() }
    }

    /// Prints the warnings to stderr, for the commands without a monitor (predict, bench).
    pub fn warn_on_stderr(&self) {
        use std::io::Write;
        for w in &self.warnings {
            let _ = writeln!(std::io::stderr().lock(), "warning: {w}");
        }
    }

    /// The device and how it was chosen, for the header, the headless first line and
    /// results.json: `CUDA: NVIDIA H200 (auto)`, `CPU (burn-flex, 2 threads; auto: this build
    /// has no GPU backend)`.
    pub fn describe(&self) -> String {
        match (self.why.is_empty(), self.device.strip_suffix(')')) {
            (true, _) => self.device.clone(),
            (false, Some(open)) if open.contains(" (") => format!("{open}; {})", self.why),
            (false, _) => format!("{} ({})", self.device, self.why),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Info,
    Warn,
}

/// Work outside the training steps that is long enough to need its own progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
        /// The data are generated, not real (the demo).
        synthetic: bool,
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
    /// The next batch has a shape the GPU has not run yet: its kernels are compiled and tuned
    /// first (seconds to a minute). `shapes`: how many distinct shapes so far, this one included.
    Compiling {
        run: Option<RunId>,
        /// For a training step (forward and backward), not inference only.
        training: bool,
        batch: usize,
        tokens: usize,
        shapes: usize,
    },
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

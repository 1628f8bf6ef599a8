//! An experiment under way: the state the steps of `run_experiment` share, and where its
//! records go (the teacher's into matrix.json, each cell's into its own record; results.json
//! is merged from them after every write).

use super::options::EngineOptions;
use super::prepare::{Prepared, teacher_fingerprint};
use crate::backend::shapes::ShapeLog;
use crate::distill::batched::PhaseProgress;
use crate::error::Result;
use crate::events::{BackendInfo, BackendKind, Control, Events, Phase, RunId};
use crate::experiment::{CosineTarget, Experiment};
use crate::model::BertConfig;
use crate::ops::TrainBackend;
use crate::report::results::Results;
use crate::tokenize::Padding;
use crate::workspace::cells::{write_matrix, write_record};
use crate::workspace::lock::Fence;
use crate::workspace::results::publish;

/// An experiment under way: what it was prepared with, where events go, and its results.
pub struct Matrix<'a, B: TrainBackend> {
    pub exp: &'a Experiment,
    pub p: Prepared,
    /// The teacher's config on the task's labels.
    pub config: BertConfig,
    pub padding: Padding,
    pub backend: BackendKind,
    /// The batch shapes run so far (each compiles kernels on a GPU).
    pub shapes: ShapeLog,
    pub device: &'a B::Device,
    pub events: Events,
    pub control: &'a Control,
    pub results: Results,
    /// The lock this process writes under now (the experiment folder's while the teacher runs,
    /// a cell's while it trains): checked before each write.
    pub fence: Option<Fence>,
}

/// What every part of a run shares: the experiment and how it was asked to run, the backend
/// and device it runs on, where its events go and the controls the front end steers it with.
pub struct Env<'a, B: TrainBackend> {
    pub exp: &'a Experiment,
    pub opts: &'a EngineOptions,
    pub info: &'a BackendInfo,
    pub device: &'a B::Device,
    pub events: &'a Events,
    pub control: &'a Control,
}

impl<'a, B: TrainBackend> Matrix<'a, B> {
    /// The matrix of `env`'s experiment, prepared as `p`, its teacher of `config` (on the
    /// task's labels), starting from `results`.
    pub fn new(env: Env<'a, B>, p: Prepared, config: BertConfig, results: Results) -> Self {
        let Env { exp, info, device, events, control, .. } = env;
        let padding = info.padding(&p.config, exp.data.max_length);
        let shapes = ShapeLog::new(info.name.compiles_kernels());
        Self {
            exp,
            p,
            config,
            padding,
            backend: info.name,
            shapes,
            device,
            events: events.clone(),
            control,
            results,
            fence: None,
        }
    }

    /// Progress of `phase` (of `run`, when it belongs to one).
    pub fn watch(&self, run: Option<RunId>, phase: Phase) -> PhaseProgress<'_> {
        PhaseProgress { events: &self.events, control: self.control, shapes: &self.shapes, run, phase }
    }

    /// Writes the plan and the teacher's record, then the merged results.
    pub fn save_teacher(&self) -> Result<()> {
        self.check_fence()?;
        write_matrix(&self.exp.dir, &self.results)?;
        publish(&self.exp.dir).map(|_| ())
    }

    /// Whether this process may still write (it holds its lock).
    pub fn check_fence(&self) -> Result<()> {
        self.fence.as_ref().map_or(Ok(()), Fence::check)
    }

    /// Writes the record of the cell at `index` of the results' runs, then the merged results.
    pub fn save_cell(&self, index: usize, folder: &str) -> Result<()> {
        self.check_fence()?;
        write_record(&self.exp.dir, folder, &self.results.runs[index])?;
        publish(&self.exp.dir).map(|_| ())
    }

    /// What decides the teacher's outputs on the training set: the teacher (its fine-tune's
    /// fingerprint and weights), the data, the padding and the backend. One file each.
    pub fn teacher_outputs_key(&self) -> serde_json::Value {
        let weights = std::fs::metadata(&self.p.files.weights).map(|m| m.len()).unwrap_or(0);
        serde_json::json!({
            "teacher": teacher_fingerprint(self.exp, &self.p),
            "teacher_weights": [self.p.files.weights.display().to_string(), weights],
            "train": [self.p.train.source.clone(), self.p.train.len(), self.p.train.lengths().iter().sum::<usize>()],
            "padding": format!("{:?}", self.padding),
            "backend": self.backend.as_str(),
            "cls": self.exp.training.cosine_target == CosineTarget::ClsHidden,
        })
    }
}

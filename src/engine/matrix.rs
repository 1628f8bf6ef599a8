//! An experiment under way: the state the steps of `run_experiment` share.

use super::prepare::Prepared;
use crate::backend::shapes::ShapeLog;
use crate::distill::batched::PhaseProgress;
use crate::events::{Control, Events, Phase, RunId};
use crate::experiment::Experiment;
use crate::model::BertConfig;
use crate::ops::TrainBackend;
use crate::report::Results;
use crate::tokenize::Padding;

/// An experiment under way: what it was prepared with, where events go, and its results.
pub struct Matrix<'a, B: TrainBackend> {
    pub exp: &'a Experiment,
    pub p: Prepared,
    /// The teacher's config on the task's labels.
    pub config: BertConfig,
    pub padding: Padding,
    /// The batch shapes run so far (each compiles kernels on a GPU).
    pub shapes: ShapeLog,
    pub device: &'a B::Device,
    pub events: &'a Events,
    pub control: &'a Control,
    pub results: Results,
}

impl<B: TrainBackend> Matrix<'_, B> {
    /// Progress of `phase` (of `run`, when it belongs to one).
    pub fn watch(&self, run: Option<RunId>, phase: Phase) -> PhaseProgress<'_> {
        PhaseProgress { events: self.events, control: self.control, shapes: &self.shapes, run, phase }
    }
}

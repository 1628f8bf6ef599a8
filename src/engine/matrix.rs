//! An experiment under way: the state the steps of `run_experiment` share.

use super::prepare::Prepared;
use crate::events::{Control, Events};
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
    pub device: &'a B::Device,
    pub events: &'a Events,
    pub control: &'a Control,
    pub results: Results,
}

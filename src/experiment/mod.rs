//! The experiment definition: `experiments.toml`, overrides, validation and the run matrix.

mod file;
pub mod layers;
pub mod overrides;
mod spec;
pub mod tasks;

pub use file::{CosineTarget, Precision};
pub use spec::{
    DataSource, DataSpec, Experiment, LayerChoice, LossWeights, PlannedRun, RunSpec, TeacherSpec, TrainingSpec,
};

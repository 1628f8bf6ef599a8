//! The experiment definition: `experiments.toml`, overrides, validation and the run matrix.

pub mod file;
pub mod layers;
pub mod overrides;
pub mod spec;
pub mod tasks;

pub use file::{CosineTarget, Precision};
pub use spec::{DataSource, Experiment, LossWeights, PlannedRun, TrainingSpec};

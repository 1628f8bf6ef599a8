//! How the engine is asked to run an experiment, besides its configuration.

use crate::hub::HubSettings;

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub hub: HubSettings,
    /// Compute the teacher's outputs once instead of in every step (same results, faster).
    pub teacher_cache: bool,
    /// Move an existing experiment folder aside and start over instead of resuming.
    pub fresh: bool,
    /// The data are generated (the demo): front ends say so.
    pub synthetic: bool,
    /// What of the matrix this process runs.
    pub scope: Scope,
}

/// What of the matrix a process runs; all of them share one experiment folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// The teacher, then every cell in turn (the default).
    Matrix,
    /// The teacher only: its fine-tune and its outputs on the training set (a Slurm teacher job).
    Teacher,
    /// One cell, by its index in plan order (seeds, then runs); the teacher must be ready.
    Cell(usize),
    /// The teacher, then the cells in child processes, several at once.
    Parallel(Launch),
}

/// How a `--parallel` or `--devices` run starts a cell: `program run-cell --index N args...`,
/// one per lane, with `CUDA_VISIBLE_DEVICES` set to the lane's device when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    pub program: std::path::PathBuf,
    pub args: Vec<String>,
    /// One lane per cell that may run at once: the device it gets, if any.
    pub lanes: Vec<Option<String>>,
}

impl EngineOptions {
    pub fn new(hub: HubSettings) -> Self {
        Self { hub, teacher_cache: true, fresh: false, synthetic: false, scope: Scope::Matrix }
    }
}

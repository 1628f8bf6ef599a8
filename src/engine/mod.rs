//! Runs an experiment: teacher, data, the matrix of students, results. The engine sends
//! events and reads controls; front ends (TUI, headless printer) consume them. It writes the
//! experiment folder through `crate::workspace`, which the readers use too.

mod labels;
mod matrix;
mod options;
mod parallel;
mod prepare;
mod runner;
mod students;
mod teacher;

pub use options::{EngineOptions, Launch, Scope};
pub use runner::{Checked, check_experiment, run_experiment};

//! Runs an experiment: teacher, data, the matrix of students, results. The engine sends
//! events and reads controls; front ends (TUI, headless printer) consume them.

pub mod cells;
pub mod labels;
pub mod layout;
mod lock;
mod matrix;
mod options;
mod parallel;
mod prepare;
pub mod runner;
mod students;
mod teacher;
pub mod workspace;

pub use runner::{EngineOptions, check_experiment, run_experiment};

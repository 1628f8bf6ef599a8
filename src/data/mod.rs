//! Task data: file readers, examples and batching (the GLUE task definitions are part of the
//! experiment's vocabulary, in `experiment::tasks`).

pub mod batches;
pub mod dataset;
pub mod readers;
pub use crate::experiment::tasks;

pub use dataset::{Dataset, Example};
pub use tasks::Task;

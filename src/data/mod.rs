//! Task data: GLUE task definitions, file readers, examples and batching.

pub mod batches;
pub mod dataset;
pub mod readers;
pub mod tasks;

pub use dataset::{Dataset, Example};
pub use tasks::Task;

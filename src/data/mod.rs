//! Task data: file readers, examples and batching (the GLUE task definitions are part of the
//! experiment's vocabulary, in `experiment::tasks`).

pub mod batches;
mod dataset;
pub mod readers;

pub use dataset::{Dataset, Example, column_choices, load_examples, rows_to_examples};

//! Distillation: losses, schedule, students built from teacher layers, teacher outputs,
//! evaluation and the training loop.

pub mod adam;
pub mod batched;
pub mod checkpoint;
pub mod eval;
pub mod loss;
pub mod schedule;
pub mod student;
pub mod teacher_outputs;
pub mod train;

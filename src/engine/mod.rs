//! Runs an experiment: teacher, data, the matrix of students, results.

pub mod events;

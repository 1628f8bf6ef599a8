//! distill-tui: distill a BERT teacher into students initialized from chosen teacher layers,
//! and compare the choices.

pub mod atomic;
pub mod backend;
pub mod bench;
pub mod cli;
pub mod data;
pub mod demo;
pub mod distill;
pub mod engine;
pub mod error;
pub mod events;
pub mod experiment;
pub mod headless;
pub mod hub;
pub mod input_file;
pub mod kernel_cache;
pub mod model;
pub mod ops;
pub mod playground;
pub mod plots;
pub mod predict;
pub mod report;
pub mod signals;
pub mod slurm;
pub mod synthetic;
pub mod tokenize;
pub mod tui;
pub mod watch;

pub use error::{Error, Result};

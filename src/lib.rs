//! distill-tui: distill a BERT teacher into students initialized from chosen teacher layers,
//! and compare the choices.
//!
//! The modules in layers, each using only the layers above it (README, Layout, which also gives
//! the order within a layer).

// Vocabulary and files: the words every layer speaks, errors, writing and reading files, text.
pub mod atomic;
pub mod error;
pub mod events;
pub mod input_file;
pub mod signals;
pub mod text;

// Inputs: the Hub, the experiment file.
pub mod experiment;
pub mod hub;

// Computing: tokens, kernels, BERT, datasets, the backends' caches and the backends.
pub mod backend;
pub mod data;
pub mod kernel_cache;
pub mod model;
pub mod ops;
pub mod tokenize;

// Training and results: generated inputs, a training run, results and tables.
pub mod distill;
pub mod report;
pub mod synthetic;

// The experiment folder: its files, cells, locks and merged results.
pub mod workspace;

// The work: the experiment, and the other commands.
pub mod bench;
pub mod demo;
pub mod engine;
pub mod predict;

// Readers of the experiment folder: followed, submitted, drawn.
pub mod plots;
pub mod slurm;
pub mod watch;

// Front ends: they read events and results; `try` (playground) draws with the monitor's styles.
pub mod headless;
pub mod playground;
pub mod tui;

// The command line: everything.
pub mod cli;

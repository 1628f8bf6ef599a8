//! The command line: its arguments (`args.rs`, clap) and one file per command, each saying what
//! the command does and handing the work to the modules below: `matrix.rs` (the experiment:
//! a plain run, `run-cell`, `run-teacher`, `demo`), `spread.rs` (`--parallel`, `--devices`),
//! `predict.rs`, `bench.rs`, `report.rs`, `submit.rs`, `try_models.rs` (`try`), `watch.rs`.
//! Only this module (and `main`) imports the engine.

mod args;
mod bench;
mod matrix;
mod predict;
mod report;
mod spread;
mod submit;
mod try_models;
mod watch;

pub use args::*;

use crate::error::Result;

/// Writes to stdout, ignoring errors (print! panics when the terminal or pipe has gone).
pub fn print_out(text: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|_| out.flush());
}

/// Writes a line to stderr, ignoring errors (eprintln! panics when the terminal has gone).
pub fn print_err(text: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{text}");
}

/// Runs the parsed command line; returns the exit status (0, or 128 + a signal that stopped
/// the experiment).
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        Some(Command::Predict(a)) => predict::run(a),
        Some(Command::Bench(a)) => bench::run(a),
        Some(Command::Demo(a)) => matrix::demo(a),
        Some(Command::RunCell(a)) => matrix::run_cell(a),
        Some(Command::RunTeacher(a)) => matrix::run_teacher(a),
        Some(Command::Submit(a)) => submit::run(a),
        Some(Command::Try(a)) => try_models::run(a),
        Some(Command::Watch(a)) => watch::run(a),
        Some(Command::Report(a)) => report::run(a),
        None => matrix::run(&cli.backend, &cli.config, cli.monitor, cli.fresh, &cli.spread),
    }
}

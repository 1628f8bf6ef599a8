//! The matrix as cells. A cell is one (seed, run); its folder `cells/<folder>/` holds its result
//! record, its event log, its lock and its control file, so that many processes (a `--parallel`
//! run's children, Slurm array tasks on several hosts) can share one experiment folder.
//! `results.json/csv/md` are derived (see `results.rs`): the plan and the teacher
//! (`matrix.json`, written by the process that runs the teacher) merged with every cell record.

use std::path::Path;

use super::layout::{CELL_RECORD, MATRIX_JSON, cell_dir, cell_folder};
use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::input_file::{RESULTS, read_text};
use crate::report::results::Results;
use crate::report::results::RunResult;

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value).expect("serializes");
    write_atomic(path, |tmp| std::fs::write(tmp, &text).map_err(|e| Error::io(tmp, e)))
}

/// Writes a cell's record (its folder is created when missing).
pub fn write_record(exp_dir: &Path, folder: &str, run: &RunResult) -> Result<()> {
    let dir = cell_dir(exp_dir, folder);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    write_json(&dir.join(CELL_RECORD), run)
}

/// A cell's record, if it has a readable one.
pub fn read_record(exp_dir: &Path, folder: &str) -> Option<RunResult> {
    let text = read_text(&cell_dir(exp_dir, folder).join(CELL_RECORD), RESULTS).ok()?;
    serde_json::from_str(&text).ok()
}

/// Writes the plan and the teacher (the runs as this process knows them; cell records win).
pub fn write_matrix(exp_dir: &Path, results: &Results) -> Result<()> {
    write_json(&exp_dir.join(MATRIX_JSON), results)
}

/// The cell folder of each row of `results`, in order.
pub fn folders(results: &Results) -> Vec<String> {
    let mut seeds: Vec<u64> = results.runs.iter().map(|r| r.seed).collect();
    seeds.sort_unstable();
    seeds.dedup();
    results.runs.iter().map(|r| cell_folder(&r.slug, r.seed, seeds.len() > 1)).collect()
}

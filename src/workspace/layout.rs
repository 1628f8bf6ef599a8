//! The files and folders of an experiment folder (`<output_dir>/<name>/`), named in one place:
//! every module that reads or writes one of them takes its name from here.

use std::path::{Path, PathBuf};

use crate::experiment::{Experiment, PlannedRun};

/// The fine-tuned teacher.
pub const TEACHER_DIR: &str = "teacher";
/// What the saved teacher was fine-tuned with; it is reused only when this matches.
pub const FINGERPRINT: &str = "fingerprint.json";
/// Per-epoch checkpoints of unfinished runs.
pub const RESUME_DIR: &str = ".resume";
/// Every event, one JSON object per line.
pub const EVENTS_LOG: &str = "events.jsonl";
/// Held while a process works in the folder; `.lock.break` beside it is `flock`ed (and then
/// deleted) for the moment a lock is removed (see `workspace::lock`).
pub const LOCK_FILE: &str = ".lock";
/// The configuration as run.
pub const CONFIG_FILE: &str = "config.toml";
/// The plan, the data and the teacher: results.json before the cells' records are merged in.
pub const MATRIX_JSON: &str = "matrix.json";
/// One folder per cell (a seed and a run): its record, event log, lock and control file.
pub const CELLS_DIR: &str = "cells";
/// A cell's result record (its row of results.json).
pub const CELL_RECORD: &str = "record.json";
/// A cell's pause and skip requests: one word, `pause`, `run` or `skip`.
pub const CELL_CONTROL: &str = "control";
/// The teacher's outputs on the training set, one file per teacher, data and backend.
pub const TEACHER_OUTPUTS_DIR: &str = "teacher-outputs";
/// Held while a process rewrites results.json/csv/md (an advisory file lock).
pub const MERGE_LOCK: &str = ".results.lock";
/// The record of every run, merged from `matrix.json` and the cells' records.
pub const RESULTS_JSON: &str = "results.json";
/// The results table as CSV.
pub const RESULTS_CSV: &str = "results.csv";
/// The results table and its analysis as Markdown.
pub const RESULTS_MD: &str = "results.md";
/// A `--parallel` or `--devices` child's output, in its cell's folder.
pub const PROCESS_LOG: &str = "process.log";
/// The plots, drawn when every run has ended.
pub const PLOTS_DIR: &str = "plots";
/// Every number the plots draw, in the plots folder.
pub const PLOTS_DATA: &str = "data.json";
/// The plots, by file stem (each as .svg and .png), in the order results.md lists them.
pub const PLOTS: [(&str, &str); 3] = [
    ("loss", "Training loss per step"),
    ("accuracy", "Validation accuracy per epoch"),
    ("final-accuracy", "Final validation accuracy per strategy"),
];
/// The sbatch scripts, the jobs' output and what was submitted, for `submit --slurm`.
pub const SLURM_DIR: &str = "slurm";
/// The jobs the last `submit` sent, in the Slurm folder.
pub const SUBMITTED: &str = "submitted.json";

/// The folder a student is saved in, relative to the experiment folder.
pub fn student_folder(exp: &Experiment, run: &PlannedRun, seed: u64) -> String {
    cell_folder(&run.slug, seed, exp.seeds.len() > 1)
}

/// The folder name of a run's cell and saved student: its slug, and its seed when there are several.
pub fn cell_folder(slug: &str, seed: u64, many_seeds: bool) -> String {
    if many_seeds { format!("{slug}-seed{seed}") } else { slug.to_string() }
}

/// results.md of the experiment folder `dir`, or beside the results.json `dir` names.
pub fn results_md(dir: &Path) -> PathBuf {
    let dir = if dir.is_file() { dir.parent().unwrap_or(dir) } else { dir };
    dir.join(RESULTS_MD)
}

/// `<experiment>/cells/<folder>`.
pub fn cell_dir(exp_dir: &Path, folder: &str) -> PathBuf {
    exp_dir.join(CELLS_DIR).join(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_md_is_beside_a_results_json_or_in_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let json = dir.path().join(RESULTS_JSON);
        std::fs::write(&json, "{}").unwrap();
        assert_eq!(results_md(&json), dir.path().join("results.md"));
        assert_eq!(results_md(dir.path()), dir.path().join("results.md"));
    }
}

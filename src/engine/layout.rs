//! The files and folders of an experiment folder (`<output_dir>/<name>/`), named in one place.

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
/// Held while a process works in the folder.
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

/// The folder a student is saved in, relative to the experiment folder.
pub fn student_folder(exp: &Experiment, run: &PlannedRun, seed: u64) -> String {
    cell_folder(&run.slug, seed, exp.seeds.len() > 1)
}

/// The folder name of a run's cell and saved student: its slug, and its seed when there are several.
pub fn cell_folder(slug: &str, seed: u64, many_seeds: bool) -> String {
    if many_seeds { format!("{slug}-seed{seed}") } else { slug.to_string() }
}

/// `<experiment>/cells/<folder>`.
pub fn cell_dir(exp_dir: &Path, folder: &str) -> PathBuf {
    exp_dir.join(CELLS_DIR).join(folder)
}

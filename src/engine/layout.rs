//! The files and folders of an experiment folder (`<output_dir>/<name>/`), named in one place.

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

/// The folder a student is saved in, relative to the experiment folder.
pub fn student_folder(exp: &Experiment, run: &PlannedRun, seed: u64) -> String {
    if exp.seeds.len() > 1 { format!("{}-seed{seed}", run.slug) } else { run.slug.clone() }
}

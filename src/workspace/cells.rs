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

/// Writes a cell's record (its folder is created when missing). A done record is never
/// overwritten: a cell that is done stays as it was done.
pub fn write_record(exp_dir: &Path, folder: &str, run: &RunResult) -> Result<()> {
    let dir = cell_dir(exp_dir, folder);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let path = dir.join(CELL_RECORD);
    if let Some(old) = read_record(exp_dir, folder)
        && old.record.status == crate::events::RunStatus::Done
        && old != *run
    {
        return Err(Error::Input(format!(
            "{}: the cell is done (its record says so) and is not overwritten; another process finished it",
            path.display()
        )));
    }
    write_json(&path, run)
}

/// A cell's record, if it has a readable one that is safe to use (see `results::check_run`).
pub fn read_record(exp_dir: &Path, folder: &str) -> Option<RunResult> {
    let text = read_text(&cell_dir(exp_dir, folder).join(CELL_RECORD), RESULTS).ok()?;
    let record: RunResult = serde_json::from_str(&text).ok()?;
    check_run(&record).ok().map(|()| record)
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

/// What a hand-edited or hostile results file (or cell record) could use to reach outside the
/// experiment folder or into the terminal: a slug other than one distill-tui makes, a checkpoint
/// that is absolute or climbs out of the folder, a name or reason with control characters.
pub fn check_safe(results: &Results) -> std::result::Result<(), String> {
    let t = &results.teacher;
    check_text("the teacher's model", &t.model)?;
    check_checkpoint(t.record.checkpoint.as_deref())?;
    check_text("the experiment's name", &results.experiment)?;
    for r in &results.runs {
        check_run(r)?;
    }
    Ok(())
}

/// [`check_safe`] for one row.
pub fn check_run(r: &RunResult) -> std::result::Result<(), String> {
    let slug_ok =
        !r.slug.is_empty() && r.slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !slug_ok {
        return Err(format!("the run slug {:?} is not one distill-tui makes", r.slug));
    }
    check_text("a run's name", &r.name)?;
    check_text("a run's reason", r.record.reason.as_deref().unwrap_or(""))?;
    check_checkpoint(r.record.checkpoint.as_deref())
}

fn check_text(what: &str, text: &str) -> std::result::Result<(), String> {
    match text.chars().any(char::is_control) {
        true => Err(format!("{what} {:?} holds control characters", text.chars().take(60).collect::<String>())),
        false => Ok(()),
    }
}

fn check_checkpoint(c: Option<&str>) -> std::result::Result<(), String> {
    let Some(c) = c else { return Ok(()) };
    let inside = Path::new(c).components().all(|p| matches!(p, std::path::Component::Normal(_)));
    match inside && !c.is_empty() {
        true => Ok(()),
        false => Err(format!("the checkpoint {c:?} is not a folder inside the experiment folder")),
    }
}

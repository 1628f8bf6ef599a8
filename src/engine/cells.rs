//! The matrix as cells. A cell is one (seed, run); its folder `cells/<folder>/` holds its result
//! record, its event log, its lock and its control file, so that many processes (a `--parallel`
//! run's children, Slurm array tasks on several hosts) can share one experiment folder.
//! `results.json/csv/md` are derived: the plan and the teacher (`matrix.json`, written by the
//! process that runs the teacher) merged with every cell record. Any process may rewrite them.

use std::path::Path;

use super::layout::{CELL_CONTROL, CELL_RECORD, MATRIX_JSON, MERGE_LOCK, cell_dir, cell_folder};
use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::events::Control;
use crate::input_file::{RESULTS, SMALL, read_text};
use crate::report::Results;
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

/// `matrix.json` with every cell's record merged in; `None` for a folder without one (made by
/// a version before cells, or not started).
pub fn merged(exp_dir: &Path) -> Result<Option<Results>> {
    let path = exp_dir.join(MATRIX_JSON);
    if !path.exists() {
        return Ok(None);
    }
    let mut results = Results::read(&path)?;
    let folders = folders(&results);
    for (row, folder) in results.runs.iter_mut().zip(folders) {
        if let Some(record) = read_record(exp_dir, &folder)
            && (&record.slug, record.seed) == (&row.slug, row.seed)
        {
            *row = record;
        }
    }
    Ok(Some(results))
}

/// Merges and rewrites results.json/csv/md, one process at a time (an advisory lock: two
/// merges never interleave, so the last one written includes every record written before it).
pub fn publish(exp_dir: &Path) -> Result<Results> {
    let path = exp_dir.join(MERGE_LOCK);
    let file = std::fs::OpenOptions::new().create(true).truncate(false).write(true).open(&path);
    let file = file.map_err(|e| Error::io(&path, e))?;
    // Without file locks (some network filesystems), the merge still happens; only unlocked.
    let _ = file.lock();
    let outcome = match merged(exp_dir)? {
        Some(results) => results.write(exp_dir).map(|_| results),
        None => Err(Error::Input(format!("{}: no {MATRIX_JSON}: the teacher has not run here yet", exp_dir.display()))),
    };
    let _ = file.unlock();
    outcome
}

/// What a cell's control file asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Pause,
    Run,
    Skip,
}

impl Request {
    pub fn word(self) -> &'static str {
        match self {
            Request::Pause => "pause",
            Request::Run => "run",
            Request::Skip => "skip",
        }
    }
}

/// Asks the cell in `exp_dir/cells/<folder>` to pause, resume or skip (it reads the file
/// between steps).
pub fn request(exp_dir: &Path, folder: &str, what: Request) -> Result<()> {
    let path = cell_dir(exp_dir, folder).join(CELL_CONTROL);
    write_atomic(&path, |tmp| std::fs::write(tmp, format!("{}\n", what.word())).map_err(|e| Error::io(tmp, e)))
}

fn read_request(path: &Path) -> Option<Request> {
    match read_text(path, SMALL).ok()?.trim() {
        "pause" => Some(Request::Pause),
        "run" => Some(Request::Run),
        "skip" => Some(Request::Skip),
        _ => None,
    }
}

/// Runs `work` while a thread reads the cell's control file five times a second and passes
/// what changed on to `control` (a change only: the monitor's own keys keep working beside it).
pub fn with_control_file<R>(exp_dir: &Path, folder: &str, control: &Control, work: impl FnOnce() -> R) -> R {
    use std::sync::atomic::{AtomicBool, Ordering};
    let path = cell_dir(exp_dir, folder).join(CELL_CONTROL);
    // A request left by an earlier process is not for this one.
    let _ = std::fs::remove_file(&path);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut last = None;
            while !stop.load(Ordering::SeqCst) {
                let now = read_request(&path);
                if now != last {
                    match now {
                        Some(Request::Pause) => control.set_paused(true),
                        Some(Request::Run) => control.set_paused(false),
                        Some(Request::Skip) => {
                            control.set_paused(false);
                            control.skip_current();
                        }
                        None => {}
                    }
                    last = now;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        });
        let out = work();
        stop.store(true, Ordering::SeqCst);
        out
    })
}

/// Whether a live distill-tui holds the lock at `path` (by its heartbeat on another host).
pub fn lock_is_live(path: &Path) -> bool {
    match super::lock::read_owner(path) {
        Some(owner) => matches!(owner.holder(), super::lock::Holder::Live(_)),
        None => false,
    }
}

//! The results of an experiment folder: merged from `matrix.json` and the cells' records, and
//! written as results.json (the record of every run) and the tables made from it, results.csv
//! and results.md (with links to the plots once drawn). Any process may rewrite them.

use std::path::Path;

use super::cells::{check_safe, folders, read_record};
use super::layout::{MATRIX_JSON, MERGE_LOCK, PLOTS, PLOTS_DIR, RESULTS_CSV, RESULTS_JSON, RESULTS_MD};
use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::input_file::{RESULTS, read_text};
use crate::report::results::Results;
use crate::report::table::{csv, markdown};

/// `matrix.json` with every cell's record merged in; `None` for a folder without one (made by
/// a version before cells, or not started).
pub fn merged(exp_dir: &Path) -> Result<Option<Results>> {
    let path = exp_dir.join(MATRIX_JSON);
    if !path.exists() {
        return Ok(None);
    }
    let mut results = read_results(&path)?;
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
        Some(results) => write_results(exp_dir, &results).map(|_| results),
        None => Err(Error::Input(format!("{}: no {MATRIX_JSON}: the teacher has not run here yet", exp_dir.display()))),
    };
    let _ = file.unlock();
    outcome
}

/// The results of the experiment folder `dir` (or the results.json `dir` names): its cells'
/// records merged into its plan, or, for a folder of a version before cells, its results.json.
pub fn open_results(dir: &Path) -> Result<Results> {
    match merged(dir)? {
        Some(results) => Ok(results),
        None => read_results(dir),
    }
}

/// results.json of the experiment folder `dir`, or the results file `dir` names.
pub fn read_results(dir: &Path) -> Result<Results> {
    let path = if dir.is_file() { dir.to_path_buf() } else { dir.join(RESULTS_JSON) };
    let text = read_text(&path, RESULTS).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => Error::Input(format!(
            "{}: no results here; give the experiment folder (checkpoints/<name>) or its results.json",
            path.display()
        )),
        _ => Error::io(&path, e),
    })?;
    let results = Results::parse(&text, &path)?;
    check_safe(&results).map_err(|why| {
        Error::Input(format!("{}: {why}; this file was not written by distill-tui as it is", path.display()))
    })?;
    Ok(results)
}

/// Writes results.json, results.csv and results.md into `dir`, each atomically.
pub fn write_results(dir: &Path, results: &Results) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = serde_json::to_string_pretty(results).expect("results serialize");
    write_atomic(&dir.join(RESULTS_JSON), |p| std::fs::write(p, &json).map_err(|e| Error::io(p, e)))?;
    let csv = csv(results);
    write_atomic(&dir.join(RESULTS_CSV), |p| std::fs::write(p, &csv).map_err(|e| Error::io(p, e)))?;
    let mut md = markdown(results);
    md.push_str(&plot_links(dir));
    write_atomic(&dir.join(RESULTS_MD), |p| std::fs::write(p, &md).map_err(|e| Error::io(p, e)))?;
    Ok(())
}

/// A "Plots" section linking the plots that exist in `dir/plots` (none: empty).
fn plot_links(dir: &Path) -> String {
    let mut s = String::new();
    for (stem, title) in PLOTS {
        if dir.join(PLOTS_DIR).join(format!("{stem}.png")).is_file() {
            s.push_str(&format!("- [{title}]({PLOTS_DIR}/{stem}.png) ([SVG]({PLOTS_DIR}/{stem}.svg))\n"));
        }
    }
    if s.is_empty() { s } else { format!("\n## Plots\n\n{s}") }
}

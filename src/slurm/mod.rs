//! `distill-tui submit --slurm`: the matrix as Slurm jobs, from a login node. Everything is
//! checked first (and the model and data downloaded into the shared Hugging Face cache); then a
//! teacher job and, depending on it, an array job of the cells that have not ended. A rerun
//! submits only those, and says why an earlier teacher job failed.

pub mod script;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::events::RunStatus;
use crate::experiment::Experiment;
use crate::workspace::layout::{FINGERPRINT, SLURM_DIR, SUBMITTED, TEACHER_DIR, TEACHER_OUTPUTS_DIR};
use crate::workspace::results::merged;
use script::{ScriptSettings, cells_script, quote, teacher_script};

/// What `submit` was asked.
#[derive(Debug, Clone)]
pub struct Submit {
    pub settings: ScriptSettings,
    /// At most this many cells at once (`--array=...%K`).
    pub max_parallel: Option<u32>,
    pub dry_run: bool,
    /// The experiment's cells, in plan order (from the checked plan).
    pub cells: usize,
}

/// The jobs of the last submission.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Submitted {
    teacher: Option<String>,
    cells: Option<String>,
    indices: Vec<usize>,
}

/// `--array` ranges: `0-3,5,7-8`, then `%K`.
pub fn array_spec(indices: &[usize], max_parallel: Option<u32>) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let mut j = i;
        while j + 1 < indices.len() && indices[j + 1] == indices[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { indices[i].to_string() } else { format!("{}-{}", indices[i], indices[j]) });
        i = j + 1;
    }
    let mut spec = parts.join(",");
    if let Some(k) = max_parallel {
        spec.push_str(&format!("%{k}"));
    }
    spec
}

/// What one `submit` sends: the scripts, where they go, the cells left and their array.
struct Batch {
    teacher_text: String,
    cells_text: String,
    teacher_path: PathBuf,
    cells_path: PathBuf,
    /// The cells not ended, by index.
    left: Vec<usize>,
    /// `--array=` of the cells left.
    array: String,
    /// The teacher is ready: no teacher job.
    teacher_ready: bool,
}

/// Submits what is left of `exp`; returns what to print.
pub fn submit(exp: &Experiment, s: &Submit) -> Result<String> {
    let dir = &exp.dir;
    let slurm_dir = std::path::absolute(dir.join(SLURM_DIR)).map_err(|e| Error::io(&dir.join(SLURM_DIR), e))?;
    let results = merged(dir)?;
    let ended = |st: RunStatus| matches!(st, RunStatus::Done | RunStatus::Skipped | RunStatus::Failed);
    let left: Vec<usize> = match &results {
        Some(r) => r.runs.iter().enumerate().filter(|(_, run)| !ended(run.record.status)).map(|(i, _)| i).collect(),
        None => (0..s.cells).collect(),
    };
    let previous = read_submitted(&slurm_dir);
    if !s.dry_run {
        refuse_if_queued(previous.as_ref(), dir)?;
    }
    let teacher_ready = teacher_ready(exp, results.as_ref());
    let mut out = String::new();
    if let (Some(p), false) = (&previous, teacher_ready)
        && let Some(id) = &p.teacher
    {
        out.push_str(&format!(
            "The last teacher job ({id}) ended without a teacher, so Slurm cancelled its cells ({}).\n{}\n",
            p.cells.as_deref().unwrap_or("none"),
            why_failed(&slurm_dir.join(format!("teacher-{id}.out")))
        ));
    }
    if left.is_empty() {
        out.push_str(&format!("Every cell of {} has ended; nothing to submit.\n", exp.name));
        return Ok(out);
    }
    let batch = Batch {
        teacher_text: teacher_script(&s.settings, &slurm_dir),
        cells_text: cells_script(&s.settings, &slurm_dir),
        teacher_path: slurm_dir.join("teacher.sbatch"),
        cells_path: slurm_dir.join("cells.sbatch"),
        array: array_spec(&left, s.max_parallel),
        left,
        teacher_ready,
    };
    if s.dry_run {
        out.push_str(&dry_run(&batch));
        return Ok(out);
    }
    out.push_str(&send(&batch, &slurm_dir, dir, s.cells)?);
    Ok(out)
}

/// Refuses while jobs of the last submission are still queued or running.
fn refuse_if_queued(previous: Option<&Submitted>, dir: &Path) -> Result<()> {
    let Some(p) = previous else { return Ok(()) };
    let queued: Vec<String> = [&p.teacher, &p.cells].into_iter().flatten().filter(|id| in_queue(id)).cloned().collect();
    if queued.is_empty() {
        return Ok(());
    }
    Err(Error::Input(format!(
        "the jobs of the last submission are still queued or running ({}); watch them with \
         `distill-tui watch {}`, or cancel them (scancel {}) before submitting again",
        queued.join(", "),
        dir.display(),
        queued.join(" ")
    )))
}

/// The sbatch commands of `batch`, the cells' depending on the teacher's when there is one.
fn commands(batch: &Batch, teacher: Option<&str>) -> (String, String) {
    let teacher_cmd = format!("sbatch --parsable {}", quote(&batch.teacher_path.display().to_string()));
    let dep = match teacher {
        Some(t) => format!("--dependency=afterok:{t} --kill-on-invalid-dep=yes "),
        None => String::new(),
    };
    let cells_cmd =
        format!("sbatch --parsable {dep}--array={} {}", batch.array, quote(&batch.cells_path.display().to_string()));
    (teacher_cmd, cells_cmd)
}

/// `--dry-run`: the scripts and the commands, nothing written or submitted.
fn dry_run(batch: &Batch) -> String {
    let mut out = format!(
        "# {}\n{}\n# {}\n{}\n",
        batch.teacher_path.display(),
        batch.teacher_text,
        batch.cells_path.display(),
        batch.cells_text
    );
    let (teacher_cmd, cells_cmd) = commands(batch, (!batch.teacher_ready).then_some("<teacher>"));
    if !batch.teacher_ready {
        out.push_str(&format!("{teacher_cmd}\n"));
    }
    out.push_str(&format!("{cells_cmd}\n"));
    out
}

/// Writes the scripts (a user's edits are kept) and submits the teacher job, if needed, and the
/// cells' array; records the job ids; returns what to print.
fn send(batch: &Batch, slurm_dir: &Path, dir: &Path, cells_total: usize) -> Result<String> {
    // Where Slurm is not, nothing is written.
    if let Err(e) = Command::new("sbatch").arg("--version").output() {
        return Err(Error::Input(format!("cannot run sbatch ({e}); run `submit --slurm` on a Slurm login node")));
    }
    std::fs::create_dir_all(slurm_dir).map_err(|e| Error::io(slurm_dir, e))?;
    // The scripts are the user's once written: edits (module loads, containers) are kept.
    for (path, text) in [(&batch.teacher_path, &batch.teacher_text), (&batch.cells_path, &batch.cells_text)] {
        if !path.exists() {
            std::fs::write(path, text).map_err(|e| Error::io(path, e))?;
        }
    }
    let teacher = match batch.teacher_ready {
        true => None,
        false => Some(sbatch(&[batch.teacher_path.as_os_str()])?),
    };
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    if let Some(t) = &teacher {
        args.push(format!("--dependency=afterok:{t}").into());
        args.push("--kill-on-invalid-dep=yes".into());
    }
    args.push(format!("--array={}", batch.array).into());
    args.push(batch.cells_path.clone().into());
    let cells = sbatch(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>())?;
    let record = Submitted { teacher: teacher.clone(), cells: Some(cells.clone()), indices: batch.left.clone() };
    let path = slurm_dir.join(SUBMITTED);
    std::fs::write(&path, serde_json::to_string_pretty(&record).expect("json")).map_err(|e| Error::io(&path, e))?;
    let mut out = match &teacher {
        Some(t) => format!("Submitted the teacher job {t} ({})\n", batch.teacher_path.display()),
        None => "The teacher is ready; no teacher job.\n".to_string(),
    };
    out.push_str(&format!(
        "Submitted the cells as array job {cells}: {} of {cells_total} cells (--array={}; {})\n",
        batch.left.len(),
        batch.array,
        batch.cells_path.display()
    ));
    out.push_str(&format!(
        "Watch them: distill-tui watch {}\nQueue: squeue -j {}\nRerun this command to submit the cells that have not ended.\n",
        dir.display(),
        [teacher.as_deref(), Some(cells.as_str())].into_iter().flatten().collect::<Vec<_>>().join(",")
    ));
    Ok(out)
}

/// The teacher is fine-tuned and saved (or needs no fine-tune), with its outputs, so cells
/// need no teacher job.
fn teacher_ready(exp: &Experiment, results: Option<&crate::report::results::Results>) -> bool {
    let Some(r) = results else { return false };
    let saved = !exp.teacher.finetunes() || exp.dir.join(TEACHER_DIR).join(FINGERPRINT).is_file();
    let outputs = std::fs::read_dir(exp.dir.join(TEACHER_OUTPUTS_DIR)).map(|mut d| d.next().is_some()).unwrap_or(false);
    r.teacher.record.status == RunStatus::Done && saved && outputs
}

fn read_submitted(slurm_dir: &Path) -> Option<Submitted> {
    let text = crate::input_file::read_text(&slurm_dir.join(SUBMITTED), crate::input_file::SMALL).ok()?;
    serde_json::from_str(&text).ok()
}

/// Whether Slurm still has the job (queued or running; array tasks included).
fn in_queue(id: &str) -> bool {
    Command::new("squeue")
        .args(["-h", "-o", "%i", "-j", id])
        .output()
        .is_ok_and(|o| o.status.success() && !String::from_utf8_lossy(&o.stdout).trim().is_empty())
}

/// Why a job failed: the error lines at the end of its output (or where to look).
fn why_failed(output: &Path) -> String {
    match std::fs::read_to_string(output) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
            let tail: Vec<&str> = lines.iter().rev().take(3).rev().copied().collect();
            format!("Its output ({}) ends with:\n  {}", output.display(), tail.join("\n  "))
        }
        Err(_) => format!("Its output {} cannot be read; `scontrol show job` may still know why.", output.display()),
    }
}

/// Runs sbatch and returns the job id it prints.
fn sbatch(args: &[&std::ffi::OsStr]) -> Result<String> {
    let out =
        Command::new("sbatch").arg("--parsable").args(args).output().map_err(|e| {
            Error::Input(format!("cannot run sbatch ({e}); run `submit --slurm` on a Slurm login node"))
        })?;
    if !out.status.success() {
        return Err(Error::Input(format!("sbatch refused the job: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    // --parsable prints `id` or `id;cluster`.
    let id = text.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::Internal(format!("sbatch printed {text:?}, not a job id")));
    }
    Ok(id)
}

/// The absolute path of this program, for the scripts.
pub fn this_program() -> Result<PathBuf> {
    std::env::current_exe().map_err(|e| Error::Internal(format!("cannot find this program's path: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_ranges_are_compact() {
        assert_eq!(array_spec(&[0, 1, 2, 3], Some(2)), "0-3%2");
        assert_eq!(array_spec(&[0, 2, 3, 4, 7], None), "0,2-4,7");
        assert_eq!(array_spec(&[5], Some(1)), "5%1");
    }
}

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
use crate::text::consecutive_runs;
use crate::workspace::layout::{FINGERPRINT, SLURM_DIR, SUBMITTED, TEACHER_DIR};
use crate::workspace::results::merged;
use script::{ScriptSettings, cells_script, quote, teacher_script};

/// What `submit` was asked.
#[derive(Debug, Clone)]
pub struct Submit {
    pub settings: ScriptSettings,
    /// At most this many cells at once (`--array=...%K`).
    pub max_parallel: Option<u32>,
    pub dry_run: bool,
    /// Use scripts edited by hand even though submit's own settings changed since it wrote them.
    pub keep_scripts: bool,
    /// The experiment's cells, in plan order (from the checked plan).
    pub cells: usize,
    /// The teacher's fingerprint: saved teacher outputs are ready only for this teacher.
    pub teacher: serde_json::Value,
}

/// The jobs of the last submission, recorded as soon as each is accepted.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Submitted {
    teacher: Option<String>,
    /// The first array job (what versions before array splitting recorded).
    #[serde(default)]
    cells: Option<String>,
    /// Every array job of the cells (several when the matrix is larger than MaxArraySize).
    #[serde(default)]
    arrays: Vec<String>,
    indices: Vec<usize>,
}

impl Submitted {
    fn arrays(&self) -> Vec<String> {
        let mut all = self.arrays.clone();
        if let Some(c) = &self.cells
            && !all.contains(c)
        {
            all.insert(0, c.clone());
        }
        all
    }
}

/// `--array` ranges: `0-3,5,7-8`, then `%K`.
pub fn array_spec(indices: &[usize], max_parallel: Option<u32>) -> String {
    let parts: Vec<String> = consecutive_runs(indices)
        .into_iter()
        .map(|(a, b)| if a == b { a.to_string() } else { format!("{a}-{b}") })
        .collect();
    let mut spec = parts.join(",");
    if let Some(k) = max_parallel {
        spec.push_str(&format!("%{k}"));
    }
    spec
}

/// The cells as array jobs Slurm accepts: task ids below `max_array_size` (Slurm's
/// MaxArraySize), each array covering a window of cell indices with its offset, so that the
/// cell is `offset + task id`. Returns (offset, the array's `--array=` spec) per array.
pub fn arrays(left: &[usize], max_parallel: Option<u32>, max_array_size: usize) -> Vec<(usize, String)> {
    let size = max_array_size.max(1);
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut i = 0;
    while i < left.len() {
        let offset = left[i] / size * size;
        let window: Vec<usize> = left[i..].iter().take_while(|&&c| c < offset + size).map(|c| c - offset).collect();
        i += window.len();
        out.push((offset, array_spec(&window, max_parallel)));
    }
    out
}

/// Slurm's MaxArraySize (task ids must be below it), from `scontrol show config`; Slurm's
/// default, 1001, when it cannot be read.
fn max_array_size() -> usize {
    let Ok(out) = Command::new("scontrol").args(["show", "config"]).output() else { return 1001 };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim() == "MaxArraySize").then(|| v.trim().parse().ok()).flatten()
        })
        .unwrap_or(1001)
}

/// One script of a submission: what submit would write now, and what to do about the one on
/// disk.
struct Script {
    path: PathBuf,
    /// What submit writes now, from its settings.
    generated: String,
    /// What is on disk, if anything.
    on_disk: Option<String>,
    /// What submit wrote last time (its record), if it knows.
    written: Option<String>,
}

/// What a submission does with a script.
#[derive(Debug, PartialEq, Eq)]
enum ScriptUse {
    /// None there, or there as submit wrote it and its settings unchanged: (re)written as generated.
    Write,
    /// Edited by hand, submit's settings unchanged since: kept.
    KeepEdits,
    /// Edited by hand, and submit's settings changed since it wrote it: which lines changed.
    Conflict(Vec<String>),
}

impl Script {
    fn decide(&self) -> ScriptUse {
        let edited = match (&self.on_disk, &self.written) {
            (None, _) => false,
            (Some(disk), Some(written)) => disk != written,
            // Written by a version that kept no record: edited unless it is what would be written.
            (Some(disk), None) => *disk != self.generated,
        };
        let settings_changed = self.written.as_ref().is_some_and(|w| *w != self.generated);
        match (edited, settings_changed) {
            (false, _) => ScriptUse::Write,
            (true, false) => ScriptUse::KeepEdits,
            (true, true) => {
                let old = self.written.as_deref().unwrap_or("");
                let gone = old.lines().filter(|l| !self.generated.lines().any(|n| n == *l)).map(|l| format!("- {l}"));
                let came = self.generated.lines().filter(|l| !old.lines().any(|o| o == *l)).map(|l| format!("+ {l}"));
                ScriptUse::Conflict(gone.chain(came).collect())
            }
        }
    }

    /// The text the job runs.
    fn text(&self) -> &str {
        match self.decide() {
            ScriptUse::KeepEdits | ScriptUse::Conflict(_) => self.on_disk.as_deref().unwrap_or(&self.generated),
            ScriptUse::Write => &self.generated,
        }
    }
}

/// The record of the scripts submit wrote, in the Slurm folder: what each said.
const SCRIPTS_RECORD: &str = "scripts.json";

fn read_scripts_record(slurm_dir: &Path) -> std::collections::BTreeMap<String, String> {
    crate::input_file::read_text(&slurm_dir.join(SCRIPTS_RECORD), crate::input_file::SMALL)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

fn script(
    slurm_dir: &Path,
    name: &str,
    generated: String,
    record: &std::collections::BTreeMap<String, String>,
) -> Script {
    let path = slurm_dir.join(name);
    let on_disk = crate::input_file::read_text(&path, crate::input_file::SMALL).ok();
    Script { path, generated, on_disk, written: record.get(name).cloned() }
}

/// What one `submit` sends: the scripts, the cells left and their arrays.
struct Batch {
    teacher: Script,
    cells: Script,
    /// The cells not ended, by index.
    left: Vec<usize>,
    /// (offset, `--array=` spec) of each array job.
    arrays: Vec<(usize, String)>,
    /// The teacher is ready: no teacher job.
    teacher_ready: bool,
    /// A teacher job of the last submission, still queued or running, whose cells were never
    /// submitted: the cells depend on it instead of a new one.
    teacher_queued: Option<String>,
}

/// Submits what is left of `exp`; returns what to print.
pub fn submit(exp: &Experiment, s: &Submit) -> Result<String> {
    let dir = &exp.dir;
    let slurm_dir = std::path::absolute(dir.join(SLURM_DIR)).map_err(|e| Error::io(&dir.join(SLURM_DIR), e))?;
    let results = merged(dir)?;
    let left: Vec<usize> = match &results {
        Some(r) => r.runs.iter().enumerate().filter(|(_, run)| !run.record.status.ended()).map(|(i, _)| i).collect(),
        None => (0..s.cells).collect(),
    };
    let previous = read_submitted(&slurm_dir);
    let teacher_queued = match &previous {
        Some(p) if !s.dry_run => refuse_if_queued(p, dir)?,
        _ => None,
    };
    let teacher_ready = teacher_ready(exp, results.as_ref(), &s.teacher);
    let mut out = String::new();
    if let (Some(p), false, None) = (&previous, teacher_ready, &teacher_queued)
        && let Some(id) = &p.teacher
    {
        out.push_str(&format!(
            "The last teacher job ({id}) ended without a teacher, so Slurm cancelled its cells ({}).\n{}\n",
            if p.arrays().is_empty() { "none".to_string() } else { p.arrays().join(", ") },
            why_failed(&slurm_dir.join(format!("teacher-{id}.out")))
        ));
    }
    if left.is_empty() {
        out.push_str(&format!("Every cell of {} has ended; nothing to submit.\n", exp.name));
        return Ok(out);
    }
    let record = read_scripts_record(&slurm_dir);
    let generated = |t: std::result::Result<String, String>| t.map_err(Error::Input);
    let batch = Batch {
        teacher: script(&slurm_dir, "teacher.sbatch", generated(teacher_script(&s.settings, &slurm_dir))?, &record),
        cells: script(&slurm_dir, "cells.sbatch", generated(cells_script(&s.settings, &slurm_dir))?, &record),
        arrays: arrays(&left, s.max_parallel, if s.dry_run { usize::MAX } else { max_array_size() }),
        left,
        teacher_ready,
        teacher_queued,
    };
    if s.dry_run {
        out.push_str(&dry_run(&batch));
        return Ok(out);
    }
    for script in [&batch.teacher, &batch.cells] {
        if let ScriptUse::Conflict(changes) = script.decide()
            && !s.keep_scripts
        {
            return Err(Error::Input(format!(
                "{} was edited by hand, and submit's settings changed since it wrote it:\n  {}\nPut those changes \
                 into your script and rerun with --keep-scripts, or delete it to have it written anew; nothing was \
                 submitted",
                script.path.display(),
                changes.join("\n  ")
            )));
        }
    }
    out.push_str(&send(&batch, &slurm_dir, dir, s.cells)?);
    Ok(out)
}

/// Refuses while array jobs of the last submission are still queued or running. A teacher job
/// still queued whose arrays were never submitted (sbatch refused them) is returned, for the
/// cells to depend on.
fn refuse_if_queued(p: &Submitted, dir: &Path) -> Result<Option<String>> {
    let arrays = p.arrays();
    let queued: Vec<String> = p.teacher.iter().chain(&arrays).filter(|id| in_queue(id)).cloned().collect();
    if queued.is_empty() {
        return Ok(None);
    }
    if arrays.is_empty() && p.teacher.as_ref().is_some_and(|t| queued == [t.clone()]) {
        return Ok(p.teacher.clone());
    }
    Err(Error::Input(format!(
        "the jobs of the last submission are still queued or running ({}); watch them with \
         `distill-tui watch {}`, or cancel them (scancel {}) before submitting again",
        queued.join(", "),
        dir.display(),
        queued.join(" ")
    )))
}

/// The sbatch command of one array, depending on the teacher's job when there is one.
fn array_command(batch: &Batch, teacher: Option<&str>, offset: usize, spec: &str) -> String {
    let dep = match teacher {
        Some(t) => format!("--dependency=afterok:{t} --kill-on-invalid-dep=yes "),
        None => String::new(),
    };
    let export = if offset > 0 { format!("--export=ALL,DISTILL_TUI_CELL_OFFSET={offset} ") } else { String::new() };
    format!("sbatch --parsable {dep}{export}--array={spec} {}", quote(&batch.cells.path.display().to_string()))
}

/// `--dry-run`: the scripts as the jobs would run them and the commands; nothing written or
/// submitted.
fn dry_run(batch: &Batch) -> String {
    let mut out = String::new();
    for script in [&batch.teacher, &batch.cells] {
        let note = match script.decide() {
            ScriptUse::Write if script.on_disk.as_deref() == Some(&script.generated) => "as on disk".to_string(),
            ScriptUse::Write if script.on_disk.is_some() => "rewritten: submit's settings changed".to_string(),
            ScriptUse::Write => "to be written".to_string(),
            ScriptUse::KeepEdits => "your edits, kept".to_string(),
            ScriptUse::Conflict(c) => format!(
                "your edits; submit's settings changed since ({}): submit refuses without --keep-scripts",
                c.join("; ")
            ),
        };
        out.push_str(&format!("# {} ({note})\n{}\n", script.path.display(), script.text()));
    }
    let teacher = match (&batch.teacher_queued, batch.teacher_ready) {
        (Some(t), _) => Some(t.clone()),
        (None, true) => None,
        (None, false) => {
            out.push_str(&format!("sbatch --parsable {}\n", quote(&batch.teacher.path.display().to_string())));
            Some("<teacher>".to_string())
        }
    };
    for (offset, spec) in &batch.arrays {
        out.push_str(&format!("{}\n", array_command(batch, teacher.as_deref(), *offset, spec)));
    }
    out
}

/// Writes the scripts that are to be written (and the record of them), submits the teacher job
/// if needed and the cells' arrays, recording each job as soon as Slurm accepts it; returns what
/// to print.
fn send(batch: &Batch, slurm_dir: &Path, dir: &Path, cells_total: usize) -> Result<String> {
    // Where Slurm is not, nothing is written.
    if let Err(e) = Command::new("sbatch").arg("--version").output() {
        return Err(Error::Input(format!("cannot run sbatch ({e}); run `submit --slurm` on a Slurm login node")));
    }
    std::fs::create_dir_all(slurm_dir).map_err(|e| Error::io(slurm_dir, e))?;
    let mut out = String::new();
    let mut record = read_scripts_record(slurm_dir);
    for script in [&batch.teacher, &batch.cells] {
        let name = script.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        match script.decide() {
            ScriptUse::Write => {
                if script.on_disk.as_ref().is_some_and(|d| *d != script.generated) {
                    out.push_str(&format!("Rewrote {} (submit's settings changed).\n", script.path.display()));
                }
                write_text(&script.path, &script.generated)?;
                record.insert(name, script.generated.clone());
            }
            ScriptUse::KeepEdits => out.push_str(&format!("Kept your edits of {}.\n", script.path.display())),
            // With --keep-scripts: the edits stay, and are taken as made for these settings.
            ScriptUse::Conflict(_) => {
                out.push_str(&format!("Kept your edits of {} (--keep-scripts).\n", script.path.display()));
                record.insert(name, script.generated.clone());
            }
        }
    }
    write_text(&slurm_dir.join(SCRIPTS_RECORD), &serde_json::to_string_pretty(&record).expect("json"))?;
    let mut submitted = Submitted { indices: batch.left.clone(), ..Default::default() };
    let teacher = match (&batch.teacher_queued, batch.teacher_ready) {
        (Some(t), _) => {
            out.push_str(&format!(
                "The teacher job {t} of the last submission is still queued; the cells depend on it.\n"
            ));
            Some(t.clone())
        }
        (None, true) => {
            out.push_str("The teacher is ready; no teacher job.\n");
            None
        }
        (None, false) => {
            let t = sbatch(&[batch.teacher.path.as_os_str()])?;
            out.push_str(&format!("Submitted the teacher job {t} ({})\n", batch.teacher.path.display()));
            Some(t)
        }
    };
    submitted.teacher = teacher.clone();
    write_submitted(slurm_dir, &submitted)?;
    for (offset, spec) in &batch.arrays {
        let mut args: Vec<std::ffi::OsString> = Vec::new();
        if let Some(t) = &teacher {
            args.push(format!("--dependency=afterok:{t}").into());
            args.push("--kill-on-invalid-dep=yes".into());
        }
        if *offset > 0 {
            args.push(format!("--export=ALL,DISTILL_TUI_CELL_OFFSET={offset}").into());
        }
        args.push(format!("--array={spec}").into());
        args.push(batch.cells.path.clone().into());
        let id = sbatch(&args.iter().map(|a| a.as_os_str()).collect::<Vec<_>>()).map_err(|e| {
            let kept = teacher.as_ref().map(|t| format!(" (the teacher job {t} is recorded; a rerun depends on it)"));
            Error::Input(format!("{e}{}", kept.unwrap_or_default()))
        })?;
        submitted.cells.get_or_insert(id.clone());
        submitted.arrays.push(id.clone());
        write_submitted(slurm_dir, &submitted)?;
        out.push_str(&format!("Submitted cells as array job {id} (--array={spec}, cell = task id + {offset})\n"));
    }
    out.push_str(&format!(
        "{} of {cells_total} cells submitted ({})\nWatch them: distill-tui watch {}\nQueue: squeue -j {}\n\
         Rerun this command to submit the cells that have not ended.\n",
        batch.left.len(),
        batch.cells.path.display(),
        dir.display(),
        teacher.iter().chain(&submitted.arrays).cloned().collect::<Vec<_>>().join(",")
    ));
    Ok(out)
}

fn write_text(path: &Path, text: &str) -> Result<()> {
    crate::atomic::write_atomic(path, |p| std::fs::write(p, text).map_err(|e| Error::io(p, e)))
}

fn write_submitted(slurm_dir: &Path, s: &Submitted) -> Result<()> {
    write_text(&slurm_dir.join(SUBMITTED), &serde_json::to_string_pretty(s).expect("json"))
}

/// The teacher is fine-tuned and saved (or needs no fine-tune), with its outputs saved for this
/// very teacher (their key's record names its fingerprint), so cells need no teacher job.
fn teacher_ready(
    exp: &Experiment,
    results: Option<&crate::report::results::Results>,
    teacher: &serde_json::Value,
) -> bool {
    let Some(r) = results else { return false };
    let saved = !exp.teacher.finetunes() || exp.dir.join(TEACHER_DIR).join(FINGERPRINT).is_file();
    r.teacher.record.status == RunStatus::Done
        && saved
        && crate::workspace::teacher_outputs::saved_for(&exp.dir, teacher)
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

/// Why a job failed: the error lines at the end of its output (or where to look). Only the end of
/// the output is read, however large it is.
fn why_failed(output: &Path) -> String {
    match crate::input_file::read_tail(output, 16 << 10) {
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

//! The students of the matrix: one cell per (seed, strategy), each built from the teacher's
//! chosen layers, checked, trained and saved; a cell that ended in an earlier invocation is
//! kept as it was.

use std::path::Path;

use burn::module::Module;

use super::matrix::Matrix;
use super::prepare::{checkpoint_key, settings};
use crate::distill::checkpoint::RunCheckpoint;
use crate::distill::eval::Evaluation;
use crate::distill::student::{build_student, verify_student};
use crate::distill::train::{RunJob, RunOutcome, TeacherSignal, train_run};
use crate::error::{Error, Result};
use crate::events::{EpochRecord, Event, RunId, RunStatus, cell_run_id};
use crate::experiment::{Experiment, PlannedRun};
use crate::hub::files::WEIGHTS;
use crate::model::{BertClassifier, BertConfig, save_folder};
use crate::ops::TrainBackend;
use crate::report::results::Results;
use crate::report::results::{RunRecord, RunResult};
use crate::workspace::cells::{read_record, write_record};
use crate::workspace::control::with_control_file;
use crate::workspace::layout::{EVENTS_LOG, LOCK_FILE, RESUME_DIR, cell_dir, student_folder};
use crate::workspace::lock::HeldLock;
use crate::workspace::results::publish;

/// A cell of the matrix: one strategy with one seed, a student to train.
pub struct Cell {
    /// Its number in plan order (seed by seed, each seed's strategies in order): its row of
    /// `results.runs` and `run-cell --index`.
    pub index: usize,
    /// Its run in the events (see [`cell_run_id`]).
    pub run_id: RunId,
    pub seed: u64,
    pub strategy: PlannedRun,
    /// Where the student is saved, relative to the experiment folder.
    pub folder: String,
    /// It ended in an earlier invocation and is kept as it was.
    pub kept: bool,
}

/// Every (seed, strategy) in plan order, and the results each starts from: the earlier
/// result of a run that ended before, else a pending one with its parameter count.
pub fn cells(
    exp: &Experiment,
    plan: &[PlannedRun],
    previous: Option<&Results>,
    student_params: impl Fn(usize) -> usize,
) -> (Vec<Cell>, Vec<RunResult>) {
    let (mut cells, mut results) = (vec![], vec![]);
    for &seed in &exp.seeds {
        for run in plan {
            let index = cells.len();
            let earlier = finished_earlier(previous, &exp.dir, run, seed);
            let folder = student_folder(exp, run, seed);
            let kept = earlier.is_some();
            results.push(earlier.unwrap_or_else(|| pending(run, seed, student_params(run.teacher_layers.len()))));
            let run_id = cell_run_id(index, exp.teacher.finetunes());
            cells.push(Cell { index, run_id, seed, strategy: run.clone(), folder, kept });
        }
    }
    (cells, results)
}

fn pending(r: &PlannedRun, seed: u64, params: usize) -> RunResult {
    RunResult {
        name: r.name.clone(),
        slug: r.slug.clone(),
        seed,
        teacher_layers: r.teacher_layers.clone(),
        record: RunRecord::pending(params),
    }
}

/// The result of `run` (seed `seed`) from an earlier invocation, if that run ended there (done
/// with its saved student, skipped or failed); runs that were stopped are run (resumed) again.
fn finished_earlier(previous: Option<&Results>, dir: &Path, run: &PlannedRun, seed: u64) -> Option<RunResult> {
    let r = previous?
        .runs
        .iter()
        .find(|r| r.slug == run.slug && r.seed == seed && r.teacher_layers == run.teacher_layers)?;
    let ended = match r.record.status {
        RunStatus::Done => r.record.checkpoint.as_ref().is_some_and(|c| dir.join(c).join(WEIGHTS).is_file()),
        RunStatus::Skipped | RunStatus::Failed => true,
        RunStatus::Pending | RunStatus::Running | RunStatus::Stopped | RunStatus::Crashed => false,
    };
    ended.then(|| r.clone())
}

impl<B: TrainBackend> Matrix<'_, B> {
    /// Gives each cell that ended in an earlier invocation a cell record, when it has none (a
    /// folder of a version before cells kept them in results.json only).
    pub fn adopt_ended(&self, cells: &[Cell]) -> Result<()> {
        for cell in cells.iter().filter(|s| s.kept) {
            if read_record(&self.exp.dir, &cell.folder).is_none() {
                write_record(&self.exp.dir, &cell.folder, &self.results.runs[cell.index])?;
            }
        }
        Ok(())
    }

    /// Runs a cell under its lock, its events logged in its folder and its control file read.
    /// A cell another live process runs is left to it (`refuse`: it is an error instead).
    pub fn cell(
        &mut self,
        cell: &Cell,
        teacher: &BertClassifier<B>,
        signal: TeacherSignal<'_, B::InnerBackend>,
        refuse: bool,
    ) -> Result<()> {
        let dir = cell_dir(&self.exp.dir, &cell.folder);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock = match HeldLock::take(&dir.join(LOCK_FILE)) {
            Ok(lock) => lock,
            Err(Error::Input(why)) if !refuse => {
                self.events.warn(format!("{why}; this process leaves that cell to it"));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        // Whether the cell is still to do is decided only now, holding its lock: another process
        // may have ended it since this one planned the matrix.
        if let Some(record) = read_record(&self.exp.dir, &cell.folder).filter(|r| r.record.status.ended()) {
            self.results.runs[cell.index] = record;
            self.replay(cell);
            return Ok(());
        }
        let cell_events = self.events.logging_to(&dir.join(EVENTS_LOG))?;
        if let Some(why) = &lock.took_over {
            cell_events.info(format!("took over the cell's lock, left behind: {why}"));
        }
        let events = std::mem::replace(&mut self.events, cell_events);
        let fence = self.fence.replace(lock.fence());
        let (exp_dir, control, lost) = (self.exp.dir.clone(), self.control, lock.lost());
        let outcome =
            with_control_file(&exp_dir, &cell.folder, control, &lost, || self.run_student(cell, teacher, signal));
        self.events = events;
        self.fence = fence;
        drop(lock);
        outcome
    }

    /// Sends the records of a cell that ended in an earlier invocation.
    pub fn replay(&self, cell: &Cell) {
        let earlier = &self.results.runs[cell.index].record;
        for record in &earlier.epochs {
            self.events.send(Event::Epoch { run: cell.run_id, record: record.clone() });
        }
        let why = format!("{} in an earlier invocation; kept", earlier.status.as_str());
        let (status, seconds) = (earlier.status, earlier.seconds);
        self.events.send(Event::RunEnded { run: cell.run_id, status, reason: Some(why), seconds });
    }

    /// Builds the cell's student from the teacher's layers, checks the copy, trains and saves it.
    pub fn run_student(
        &mut self,
        cell: &Cell,
        teacher: &BertClassifier<B>,
        signal: TeacherSignal<'_, B::InnerBackend>,
    ) -> Result<()> {
        let layers = &cell.strategy.teacher_layers;
        let (student, student_config) = build_student(teacher, &self.config, layers);
        let tensors = verify_student(teacher, &student, layers)?;
        self.events.info(format!(
            "{} (seed {}): student layers 1-{} copied from teacher layers {} ({tensors} tensors, each checked equal)",
            cell.strategy.name,
            cell.seed,
            layers.len(),
            crate::text::fmt_layers(layers)
        ));
        let r = &mut self.results.runs[cell.index].record;
        r.params = student.num_params();
        r.status = RunStatus::Running;
        self.save_cell(cell.index, &cell.folder)?;
        let s = settings(self.exp, cell.seed, self.exp.training.epochs, self.padding);
        let ck =
            RunCheckpoint::new(self.exp.dir.join(RESUME_DIR).join(&cell.folder), checkpoint_key(&s, &self.p, layers));
        let job = RunJob { id: cell.run_id, settings: &s, teacher: signal, checkpoint: Some(&ck) };
        let outcome = self.train_student(student, cell, job)?;
        self.student_trained(cell, outcome, &student_config, &ck)
    }

    /// Trains a student, keeping its row of results.json current after every epoch.
    fn train_student(&mut self, student: BertClassifier<B>, cell: &Cell, job: RunJob<'_, B>) -> Result<RunOutcome<B>> {
        let (results, dir, index, fence) = (&mut self.results, &self.exp.dir, cell.index, &self.fence);
        let ctx = self.p.run_context::<B>(&self.events, self.control, &self.shapes, self.device);
        train_run::<B>(student, &ctx, job, &mut |records: &[EpochRecord], ev: &Evaluation, seconds| {
            // The epoch's checkpoint follows only a record written under the lock.
            fence.as_ref().map_or(Ok(()), |f| f.check())?;
            let r = &mut results.runs[index].record;
            r.set_epochs(records, &ev.correct);
            r.seconds = seconds;
            write_record(dir, &cell.folder, &results.runs[index])?;
            publish(dir).map(|_| ())
        })
    }

    /// Records how a student's run ended; a finished student is saved as a model folder.
    fn student_trained(
        &mut self,
        cell: &Cell,
        outcome: RunOutcome<B>,
        config: &BertConfig,
        ck: &RunCheckpoint,
    ) -> Result<()> {
        if outcome.status == RunStatus::Done {
            self.check_fence()?;
            save_folder(&self.exp.dir.join(&cell.folder), config, &outcome.model, &self.p.files, &self.p.tokenizer)?;
        }
        let r = &mut self.results.runs[cell.index].record;
        r.set_end(outcome.status, outcome.reason.clone(), outcome.seconds, outcome.resumed_from);
        if outcome.status == RunStatus::Done {
            r.checkpoint = Some(cell.folder.clone());
        }
        self.save_cell(cell.index, &cell.folder)?;
        if outcome.status != RunStatus::Stopped {
            ck.clear();
        }
        let (status, reason, seconds) = (outcome.status, outcome.reason, outcome.seconds);
        self.events.send(Event::RunEnded { run: cell.run_id, status, reason, seconds });
        Ok(())
    }
}

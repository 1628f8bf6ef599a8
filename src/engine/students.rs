//! The students of the matrix: one slot per (seed, strategy), each built from the teacher's
//! chosen layers, checked, trained and saved; a slot that ended in an earlier invocation is
//! kept as it was.

use std::path::Path;

use burn::module::Module;

use super::cells::{publish, read_record, with_control_file, write_record};
use super::layout::{EVENTS_LOG, LOCK_FILE, RESUME_DIR, cell_dir, student_folder};
use super::lock::HeldLock;
use super::matrix::Matrix;
use super::prepare::{checkpoint_key, settings};
use crate::distill::checkpoint::RunCheckpoint;
use crate::distill::eval::Evaluation;
use crate::distill::student::{build_student, verify_student};
use crate::distill::teacher_outputs::TeacherOutputs;
use crate::distill::train::{RunJob, RunOutcome, TeacherSignal, train_run};
use crate::error::{Error, Result};
use crate::events::{EpochRecord, Event, RunId, RunStatus};
use crate::experiment::{Experiment, PlannedRun};
use crate::model::files::WEIGHTS;
use crate::model::{BertClassifier, BertConfig, save_folder};
use crate::ops::TrainBackend;
use crate::report::Results;
use crate::report::results::{RunRecord, RunResult};

/// One student run of the matrix.
pub struct Slot {
    /// Its index in the plan the events carry (the teacher fine-tune, when there is one, is 0).
    pub id: RunId,
    /// Its index in `results.runs`.
    pub index: usize,
    pub seed: u64,
    pub run: PlannedRun,
    /// Where the student is saved, relative to the experiment folder.
    pub folder: String,
    /// It ended in an earlier invocation and is kept as it was.
    pub kept: bool,
}

/// Every (seed, strategy) in plan order, and the results each starts from: the earlier
/// result of a run that ended before, else a pending one with its parameter count.
pub fn slots(
    exp: &Experiment,
    plan: &[PlannedRun],
    previous: Option<&Results>,
    student_params: impl Fn(usize) -> usize,
) -> (Vec<Slot>, Vec<RunResult>) {
    let first_student = usize::from(exp.teacher.finetune_epochs > 0);
    let (mut slots, mut results) = (vec![], vec![]);
    for &seed in &exp.seeds {
        for run in plan {
            let index = slots.len();
            let earlier = finished_earlier(previous, &exp.dir, run, seed);
            let folder = student_folder(exp, run, seed);
            let kept = earlier.is_some();
            results.push(earlier.unwrap_or_else(|| pending(run, seed, student_params(run.teacher_layers.len()))));
            slots.push(Slot { id: first_student + index, index, seed, run: run.clone(), folder, kept });
        }
    }
    (slots, results)
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
        RunStatus::Pending | RunStatus::Running | RunStatus::Stopped => false,
    };
    ended.then(|| r.clone())
}

/// What the students learn from besides the labels: the teacher's outputs computed once, or
/// the teacher itself in every step.
pub enum Teacher<'a, B: TrainBackend> {
    Cached(&'a TeacherOutputs),
    Live(&'a BertClassifier<B::InnerBackend>),
}

impl<B: TrainBackend> Matrix<'_, B> {
    /// Gives each slot that ended in an earlier invocation a cell record, when it has none (a
    /// folder of a version before cells kept them in results.json only).
    pub fn adopt_ended(&self, slots: &[Slot]) -> Result<()> {
        for slot in slots.iter().filter(|s| s.kept) {
            if read_record(&self.exp.dir, &slot.folder).is_none() {
                write_record(&self.exp.dir, &slot.folder, &self.results.runs[slot.index])?;
            }
        }
        Ok(())
    }

    /// Runs a cell under its lock, its events logged in its folder and its control file read.
    /// A cell another live process runs is left to it (`refuse`: it is an error instead).
    pub fn cell(
        &mut self,
        slot: &Slot,
        teacher: &BertClassifier<B>,
        signal: &Teacher<'_, B>,
        refuse: bool,
    ) -> Result<()> {
        let dir = cell_dir(&self.exp.dir, &slot.folder);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let lock = match HeldLock::take(&dir.join(LOCK_FILE)) {
            Ok(lock) => lock,
            Err(Error::Input(why)) if !refuse => {
                self.events.warn(format!("{why}; this process leaves that cell to it"));
                return Ok(());
            }
            Err(e) => return Err(e),
        };
        let cell_events = self.events.logging_to(&dir.join(EVENTS_LOG))?;
        if let Some(why) = &lock.took_over {
            cell_events.info(format!("took over the cell's lock, left behind: {why}"));
        }
        let events = std::mem::replace(&mut self.events, cell_events);
        let (exp_dir, control) = (self.exp.dir.clone(), self.control);
        let outcome = with_control_file(&exp_dir, &slot.folder, control, || self.run_student(slot, teacher, signal));
        self.events = events;
        drop(lock);
        outcome
    }

    /// Sends the records of a slot that ended in an earlier invocation.
    pub fn replay(&self, slot: &Slot) {
        let earlier = &self.results.runs[slot.index].record;
        for record in &earlier.epochs {
            self.events.send(Event::Epoch { run: slot.id, record: record.clone() });
        }
        let why = format!("{} in an earlier invocation; kept", earlier.status.as_str());
        let (status, seconds) = (earlier.status, earlier.seconds);
        self.events.send(Event::RunEnded { run: slot.id, status, reason: Some(why), seconds });
    }

    /// Builds the slot's student from the teacher's layers, checks the copy, trains and saves it.
    pub fn run_student(&mut self, slot: &Slot, teacher: &BertClassifier<B>, signal: &Teacher<'_, B>) -> Result<()> {
        let layers = &slot.run.teacher_layers;
        let (student, student_config) = build_student(teacher, &self.config, layers);
        let tensors = verify_student(teacher, &student, layers)?;
        self.events.info(format!(
            "{} (seed {}): student layers 1-{} copied from teacher layers {} ({tensors} tensors, each checked equal)",
            slot.run.name,
            slot.seed,
            layers.len(),
            crate::report::table::fmt_layers(layers)
        ));
        let r = &mut self.results.runs[slot.index].record;
        r.params = student.num_params();
        r.status = RunStatus::Running;
        self.save_cell(slot.index, &slot.folder)?;
        let s = settings(self.exp, slot.seed, self.exp.training.epochs, self.padding);
        let ck =
            RunCheckpoint::new(self.exp.dir.join(RESUME_DIR).join(&slot.folder), checkpoint_key(&s, &self.p, layers));
        let teacher = match signal {
            Teacher::Cached(c) => TeacherSignal::Cached(c),
            Teacher::Live(t) => TeacherSignal::Live(t),
        };
        let job = RunJob { id: slot.id, settings: &s, teacher, checkpoint: Some(&ck) };
        let outcome = self.train_student(student, slot, job)?;
        self.student_trained(slot, outcome, &student_config, &ck)
    }

    /// Trains a student, keeping its row of results.json current after every epoch.
    fn train_student(&mut self, student: BertClassifier<B>, slot: &Slot, job: RunJob<'_, B>) -> Result<RunOutcome<B>> {
        let (results, dir, index) = (&mut self.results, &self.exp.dir, slot.index);
        let ctx = self.p.run_context::<B>(&self.events, self.control, &self.shapes, self.device);
        train_run::<B>(student, &ctx, job, &mut |records: &[EpochRecord], ev: &Evaluation, seconds| {
            let r = &mut results.runs[index].record;
            r.set_epochs(records, &ev.correct);
            r.seconds = seconds;
            write_record(dir, &slot.folder, &results.runs[index])?;
            publish(dir).map(|_| ())
        })
    }

    /// Records how a student's run ended; a finished student is saved as a model folder.
    fn student_trained(
        &mut self,
        slot: &Slot,
        outcome: RunOutcome<B>,
        config: &BertConfig,
        ck: &RunCheckpoint,
    ) -> Result<()> {
        let r = &mut self.results.runs[slot.index].record;
        r.set_end(outcome.status, outcome.reason.clone(), outcome.seconds, outcome.resumed_from);
        if outcome.status == RunStatus::Done {
            save_folder(&self.exp.dir.join(&slot.folder), config, &outcome.model, &self.p.files, &self.p.tokenizer)?;
            r.checkpoint = Some(slot.folder.clone());
        }
        self.save_cell(slot.index, &slot.folder)?;
        if outcome.status != RunStatus::Stopped {
            ck.clear();
        }
        let (status, reason, seconds) = (outcome.status, outcome.reason, outcome.seconds);
        self.events.send(Event::RunEnded { run: slot.id, status, reason, seconds });
        Ok(())
    }
}

//! The teacher: loaded on the task's labels, then fine-tuned (or reused from an earlier
//! invocation with the same settings, or used as loaded), and evaluated.

use std::time::Instant;

use burn::module::AutodiffModule;

use super::matrix::Matrix;
use super::prepare::{Prepared, checkpoint_key, settings, teacher_fingerprint};
use crate::distill::checkpoint::RunCheckpoint;
use crate::distill::eval::{Evaluation, eval_batch, evaluate};
use crate::distill::train::{RunJob, RunOutcome, TeacherSignal, train_run};
use crate::error::{Error, Result};
use crate::workspace::layout::{FINGERPRINT, RESUME_DIR, TEACHER_DIR};
use std::path::Path;

use crate::events::{EpochRecord, Event, Events, Phase, RunStatus};
use crate::experiment::Experiment;
use crate::hub::files::WEIGHTS;
use crate::model::load_classifier;
use crate::model::{BertClassifier, BertConfig, save_folder};
use crate::ops::TrainBackend;
use crate::report::results::RunRecord;

/// The teacher's checkpoint on the task's labels (its head reordered when its labels are the
/// task's in another order), with warnings about what the checkpoint lacked.
pub fn load_teacher<B: TrainBackend>(
    exp: &Experiment,
    p: &Prepared,
    config: &BertConfig,
    events: &Events,
    device: &B::Device,
) -> Result<BertClassifier<B>> {
    let (teacher, report) = load_classifier::<B>(&p.files.weights, config, exp.teacher_seed(), device)?;
    let teacher = teacher.with_precision(exp.training.precision);
    let teacher = match &p.alignment {
        super::labels::LabelAlignment::Permuted(order) => {
            events.info(format!("teacher labels reordered to the task's order ({})", config.labels.join(", ")));
            teacher.permute_labels(order)
        }
        _ => teacher,
    };
    if let Some(line) = report.summary(exp.teacher_seed()) {
        events.warn(format!("teacher {}: {line}", p.files.source));
    }
    if !exp.teacher.finetunes() && report.initialized.contains(&crate::model::Part::Classifier) {
        events.warn("the teacher is not fine-tuned (teacher.finetune_epochs = 0) and its classifier is random: KL and cosine will chase noise; set finetune_epochs");
    }
    Ok(teacher)
}

impl<B: TrainBackend> Matrix<'_, B> {
    /// The fine-tuned teacher saved in `dir`, computing in the experiment's precision.
    fn load_saved(&self, dir: &Path) -> Result<BertClassifier<B>> {
        let (model, _) = load_classifier::<B>(&dir.join(WEIGHTS), &self.config, self.exp.teacher_seed(), self.device)?;
        Ok(model.with_precision(self.exp.training.precision))
    }

    fn evaluate_teacher(&self, model: &BertClassifier<B>) -> Result<Option<Evaluation>> {
        let exp = self.exp;
        let run = (exp.teacher.finetunes()).then_some(0);
        let batch = eval_batch(exp.training.batch_size);
        evaluate(&model.valid(), &self.p.valid, batch, self.padding, self.device, &self.watch(run, Phase::Evaluation))
    }

    /// The teacher a cell's process learns from: as loaded, or the one the teacher's process
    /// fine-tuned and saved (never fine-tuned here: many cells would race to do it).
    pub fn ready_teacher(&self, teacher: BertClassifier<B>) -> Result<BertClassifier<B>> {
        if !self.exp.teacher.finetunes() {
            return Ok(teacher);
        }
        let dir = self.exp.dir.join(TEACHER_DIR);
        let Some(saved) = saved_fingerprint(&dir) else {
            return Err(Error::Input(format!(
                "{}: no fine-tuned teacher here (its job has not finished, failed or was skipped); run the \
                 teacher first (`distill-tui run-teacher` with the same --config and --set)",
                dir.display()
            )));
        };
        if saved["fingerprint"] != teacher_fingerprint(self.exp, &self.p) {
            return Err(Error::Input(format!(
                "{} holds a teacher fine-tuned with other settings than this config's; run the teacher again \
                 (`distill-tui run-teacher`), or give this experiment another experiment.name",
                dir.display()
            )));
        }
        drop(teacher);
        let model = self.load_saved(&dir)?;
        self.events.info(format!("teacher loaded from {}", dir.display()));
        Ok(model)
    }

    /// The teacher the students learn from: fine-tuned now, reused, or as loaded.
    pub fn finetune_teacher(&mut self, teacher: BertClassifier<B>) -> Result<BertClassifier<B>> {
        let started = Instant::now();
        if !self.exp.teacher.finetunes() {
            let Some(ev) = self.evaluate_teacher(&teacher)? else { return Ok(teacher) };
            evaluated(&mut self.results.teacher.record, &[], &ev, started.elapsed().as_secs_f64());
            self.save_teacher()?;
            return Ok(teacher);
        }
        if let Some(saved) = saved_fingerprint(&self.exp.dir.join(TEACHER_DIR)) {
            return self.reuse_teacher(saved);
        }
        self.results.teacher.record.status = RunStatus::Running;
        let outcome = self.train_teacher(teacher)?;
        self.teacher_trained(outcome)
    }

    /// The teacher an earlier invocation fine-tuned with the same settings.
    fn reuse_teacher(&mut self, saved: serde_json::Value) -> Result<BertClassifier<B>> {
        let (exp, dir) = (self.exp, self.exp.dir.join(TEACHER_DIR));
        if saved["fingerprint"] != teacher_fingerprint(exp, &self.p) {
            return Err(Error::Input(format!(
                "{} holds a teacher fine-tuned with other settings than this config's (teacher, data, seed or optimizer); \
                 move that folder away, or give this experiment another experiment.name",
                dir.display()
            )));
        }
        let model = self.load_saved(&dir)?;
        self.events.info(format!("reusing the fine-tuned teacher saved in {}", dir.display()));
        let Some(ev) = self.evaluate_teacher(&model)? else { return Ok(model) };
        let epochs: Vec<EpochRecord> = serde_json::from_value(saved["epochs"].clone()).unwrap_or_default();
        let t = &mut self.results.teacher.record;
        evaluated(t, &epochs, &ev, saved["seconds"].as_f64().unwrap_or(0.0));
        t.checkpoint = Some(TEACHER_DIR.into());
        self.save_teacher()?;
        self.events.send(Event::RunEnded {
            run: 0,
            status: RunStatus::Done,
            reason: Some("reused".into()),
            seconds: 0.0,
        });
        Ok(model)
    }

    fn teacher_checkpoint(&self) -> RunCheckpoint {
        let (exp, s) = (self.exp, self.teacher_settings());
        let key = format!("{}|{}", checkpoint_key(&s, &self.p, &[]), teacher_fingerprint(exp, &self.p));
        RunCheckpoint::new(exp.dir.join(RESUME_DIR).join(TEACHER_DIR), key)
    }

    fn teacher_settings(&self) -> crate::distill::train::TrainSettings {
        settings(self.exp, self.exp.teacher_seed(), self.exp.teacher.finetune_epochs, self.padding)
    }

    /// Fine-tunes the teacher (cross-entropy only), keeping results.json current per epoch.
    fn train_teacher(&mut self, teacher: BertClassifier<B>) -> Result<RunOutcome<B>> {
        let (s, ck) = (self.teacher_settings(), self.teacher_checkpoint());
        let (results, dir) = (&mut self.results, &self.exp.dir);
        let ctx = self.p.run_context::<B>(&self.events, self.control, &self.shapes, self.device);
        let job = RunJob { id: 0, settings: &s, teacher: TeacherSignal::None, checkpoint: Some(&ck) };
        // The run's active seconds, earlier invocations included (a resumed run goes on counting).
        let fence = &self.fence;
        let outcome = train_run::<B>(teacher, &ctx, job, &mut |records: &[EpochRecord], ev: &Evaluation, seconds| {
            fence.as_ref().map_or(Ok(()), |f| f.check())?;
            let t = &mut results.teacher.record;
            t.set_epochs(records, &ev.correct);
            t.seconds = seconds;
            crate::workspace::cells::write_matrix(dir, results)?;
            crate::workspace::results::publish(dir).map(|_| ())
        })?;
        Ok(outcome)
    }

    /// Records the fine-tune's end (its epochs and evaluation are recorded as they come, as a
    /// student's): a finished teacher is saved (and reloaded, so that a resumed matrix and an
    /// uninterrupted one teach from the very same weights).
    fn teacher_trained(&mut self, outcome: RunOutcome<B>) -> Result<BertClassifier<B>> {
        let (exp, dir) = (self.exp, self.exp.dir.join(TEACHER_DIR));
        let t = &mut self.results.teacher.record;
        t.set_end(outcome.status, outcome.reason.clone(), outcome.seconds, outcome.resumed_from);
        let mut model = outcome.model;
        match outcome.status {
            RunStatus::Done => {
                self.check_fence()?;
                save_folder(&dir, &self.config, &model, &self.p.files, &self.p.tokenizer)?;
                let record = serde_json::json!({
                    "fingerprint": teacher_fingerprint(exp, &self.p),
                    "epochs": outcome.epochs,
                    "seconds": outcome.seconds,
                });
                crate::atomic::write_atomic(&dir.join(FINGERPRINT), |path| {
                    std::fs::write(path, serde_json::to_string_pretty(&record).expect("json"))
                        .map_err(|e| Error::io(path, e))
                })?;
                self.results.teacher.record.checkpoint = Some(TEACHER_DIR.into());
                self.teacher_checkpoint().clear();
                model = self.load_saved(&dir)?;
            }
            RunStatus::Failed => {
                self.save_teacher()?;
                return Err(Error::Input(format!(
                    "the teacher's fine-tune failed ({}); lower training.learning_rate",
                    outcome.reason.unwrap_or_default()
                )));
            }
            RunStatus::Skipped => {
                let trained = outcome.epochs.iter().filter(|e| e.epoch > 0).count();
                self.events.warn(format!(
                    "teacher fine-tune skipped after {trained} of {} epochs: the students learn from this teacher; it is not saved, so a rerun fine-tunes it again",
                    exp.teacher.finetune_epochs
                ))
            }
            _ => {}
        }
        self.save_teacher()?;
        let (status, reason, seconds) = (outcome.status, outcome.reason, outcome.seconds);
        self.events.send(Event::RunEnded { run: 0, status, reason, seconds });
        Ok(model)
    }
}

/// A teacher done without training now (used as loaded, or reused with the `epochs` of its
/// earlier fine-tune): its numbers are those of the evaluation `ev`, which took `seconds`.
fn evaluated(t: &mut RunRecord, epochs: &[EpochRecord], ev: &Evaluation, seconds: f64) {
    t.set_epochs(epochs, &ev.correct);
    t.set_evaluation(ev.loss, ev.accuracy, &ev.correct);
    t.set_end(RunStatus::Done, None, seconds, None);
}

fn saved_fingerprint(dir: &Path) -> Option<serde_json::Value> {
    let text = crate::input_file::read_text(&dir.join(FINGERPRINT), crate::input_file::SMALL).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    dir.join(WEIGHTS).is_file().then_some(v)
}

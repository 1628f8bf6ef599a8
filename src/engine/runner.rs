//! The experiment: load the teacher and the data, fine-tune the teacher, distill every
//! student of the matrix, and keep results.json current after every epoch.

use std::time::Instant;

use burn::module::{AutodiffModule, Module};

use super::layout::EVENTS_LOG;
use super::matrix::Matrix;
pub use super::options::EngineOptions;
use super::prepare::{Prepared, plan_labels, prepare, task_labels};
use super::students::{Slot, Teacher, slots};
use super::teacher::load_teacher;
use super::workspace::Workspace;
use crate::backend::shapes::{ShapeLog, list};
use crate::distill::teacher_outputs::TeacherOutputs;
use crate::distill::train::steps_per_epoch;
use crate::error::{Error, Result};
use crate::events::{BackendInfo, Control, Event, Events, Phase};
use crate::experiment::{CosineTarget, Experiment};
use crate::model::{BertClassifier, BertConfig};
use crate::ops::TrainBackend;
use crate::report::Results;
use crate::report::results::{DataInfo, RESULTS_JSON, RunRecord, TeacherResult, Versions};

/// Runs the whole experiment on backend `B` and returns the final results (also written to
/// `<output_dir>/<name>/`).
pub fn run_experiment<B: TrainBackend>(
    exp: &Experiment,
    opts: &EngineOptions,
    info: &BackendInfo,
    device: &B::Device,
    events: &Events,
    control: &Control,
) -> Result<Results> {
    let p = prepare(exp, opts, events)?;
    let previous = previous_results(exp, opts)?;
    // Only now, with every input checked, is the experiment folder touched.
    let workspace = Workspace::open(exp, opts.fresh)?;
    let events = &events.logging_to(&exp.dir.join(EVENTS_LOG))?;
    if let Some(why) = &workspace.took_over {
        events.info(format!("took over the experiment folder's lock, left behind: {why}"));
    }
    if let Some(aside) = &workspace.moved_aside {
        events.info(format!("--fresh: the earlier results were moved to {}", aside.display()));
    }
    events.send(plan_event(exp, &p, info, opts));
    let config = p.config.with_labels(task_labels(exp));
    let teacher = load_teacher::<B>(exp, &p, &config, events, device)?;
    let (params, layer_params) = (teacher.num_params(), teacher.layer(0).num_params());
    // A student is the teacher less the encoder layers it does not copy.
    let student_params = |layers: usize| params - (config.num_hidden_layers - layers) * layer_params;
    let (slots, runs) = slots(exp, &p.plan, previous.as_ref(), student_params);
    let results = Results { runs, ..initial_results(exp, &p, info, &config, params) };
    let padding = info.padding(&p.config, exp.data.max_length);
    let shapes = ShapeLog::new(info.name.compiles_kernels());
    let mut m = Matrix { exp, p, config, padding, shapes, device, events, control, results };
    // Runs that ended earlier are in before the first write, so no crash can lose them.
    m.results.write(&exp.dir)?;
    let teacher = m.finetune_teacher(teacher)?;
    if control.quit_requested() {
        return m.finish();
    }
    m.students(&slots, &teacher, opts.teacher_cache)?;
    m.finish()
}

/// Results of an earlier invocation of this configuration, whose finished runs are kept.
fn previous_results(exp: &Experiment, opts: &EngineOptions) -> Result<Option<Results>> {
    match Results::read(&exp.dir) {
        _ if opts.fresh => Ok(None),
        Ok(r) => Ok(Some(r)),
        Err(_) if !exp.dir.join(RESULTS_JSON).exists() => Ok(None),
        // Never overwrite results that cannot be read (another tool's file, a newer version).
        Err(e) => {
            Err(Error::Input(format!("{e}; move that folder away or add --fresh (it is moved aside, not deleted)")))
        }
    }
}

/// The whole matrix, before work starts.
fn plan_event(exp: &Experiment, p: &Prepared, info: &BackendInfo, opts: &EngineOptions) -> Event {
    Event::Plan {
        experiment: exp.name.clone(),
        backend: info.clone(),
        teacher_layers: p.config.num_hidden_layers,
        runs: plan_labels(exp, &p.plan),
        student_epochs: exp.training.epochs,
        steps_per_epoch: steps_per_epoch(p.train.len(), exp.training.batch_size),
        synthetic: opts.synthetic,
    }
}

/// The results record before any run: the experiment, the data and the teacher as loaded.
fn initial_results(exp: &Experiment, p: &Prepared, info: &BackendInfo, config: &BertConfig, params: usize) -> Results {
    Results {
        experiment: exp.name.clone(),
        config_file: exp.file.display().to_string(),
        backend: info.name.as_str().into(),
        device: info.device.clone(),
        versions: Versions { distill_tui: env!("CARGO_PKG_VERSION").into(), burn: "0.21.0".into() },
        data: DataInfo {
            task: exp.data.task.name.into(),
            train: p.train.source.clone(),
            validation: p.valid.source.clone(),
            train_examples: p.train.len(),
            validation_examples: p.valid.len(),
            max_length: exp.data.max_length,
            train_mean_tokens: p.train.lengths().iter().sum::<usize>() as f64 / p.train.len().max(1) as f64,
        },
        training: serde_json::to_value(&exp.training).expect("serializes"),
        teacher: TeacherResult {
            model: p.files.source.clone(),
            revision: exp.teacher.revision.clone(),
            num_layers: config.num_hidden_layers,
            finetune_epochs: exp.teacher.finetune_epochs,
            record: RunRecord::pending(params),
        },
        runs: vec![],
    }
}

impl<B: TrainBackend> Matrix<'_, B> {
    /// Every student slot in turn, from the teacher's outputs computed once (or the teacher
    /// itself in every step); stops after the current run when the user quits.
    fn students(&mut self, slots: &[Slot], teacher: &BertClassifier<B>, cache: bool) -> Result<()> {
        let teacher_valid = teacher.valid();
        let outputs = match cache {
            true => match self.teacher_outputs(&teacher_valid)? {
                Some(o) => Some(o),
                None => return Ok(()),
            },
            false => None,
        };
        let signal = match &outputs {
            Some(o) => Teacher::Cached(o),
            None => Teacher::Live(&teacher_valid),
        };
        for slot in slots {
            if slot.kept {
                self.replay(slot);
                continue;
            }
            self.run_student(slot, teacher, &signal)?;
            if self.control.quit_requested() {
                break;
            }
        }
        Ok(())
    }

    /// The teacher's outputs on the training set, batch by batch; `None` when the user quit.
    fn teacher_outputs(&self, teacher: &BertClassifier<B::InnerBackend>) -> Result<Option<TeacherOutputs>> {
        let t0 = Instant::now();
        let with_cls = self.exp.training.cosine_target == CosineTarget::ClsHidden;
        let watch = self.watch(None, Phase::TeacherOutputs);
        let train = &self.p.train;
        let outputs = TeacherOutputs::compute(teacher, train, 64, self.padding, with_cls, self.device, &watch)?;
        if outputs.is_some() {
            let seconds = t0.elapsed().as_secs_f64();
            self.events
                .info(format!("teacher outputs for {} training examples computed once in {seconds:.1}s", train.len()));
        }
        Ok(outputs)
    }

    /// Writes the results and says the matrix is over (finished, or stopped by the user).
    fn finish(self) -> Result<Results> {
        let shapes = self.shapes.shapes();
        if self.shapes.compiles() && !shapes.is_empty() {
            let n = shapes.len();
            self.events.info(format!("{n} batch shapes (examples x tokens) compiled on the GPU: {}", list(&shapes)));
        }
        self.results.write(&self.exp.dir)?;
        self.events.send(Event::Finished { results_dir: self.exp.dir.clone() });
        Ok(self.results)
    }
}

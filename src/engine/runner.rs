//! The experiment: load the teacher and the data, fine-tune the teacher, distill every
//! student of the matrix, and keep results.json current after every epoch.

use std::time::Instant;

use burn::module::{AutodiffModule, Module};

use super::matrix::{Env, Matrix};
use super::options::{EngineOptions, Scope};
use super::prepare::{Prepared, plan_labels, prepare, task_labels, teacher_fingerprint};
use super::students::{Cell, cells};
use super::teacher::load_teacher;
use crate::backend::shapes::list;
use crate::distill::teacher_outputs::TeacherOutputs;
use crate::distill::train::{TeacherSignal, steps_per_epoch};
use crate::error::{Error, Result};
use crate::events::{BackendInfo, Control, Event, Events, Phase};
use crate::experiment::{CosineTarget, Experiment};
use crate::model::BertClassifier;
use crate::model::BertConfig;
use crate::ops::TrainBackend;
use crate::report::results::Results;
use crate::report::results::{DataInfo, RunRecord, TeacherResult, Versions};
use crate::workspace::layout::{CONFIG_FILE, EVENTS_LOG, RESULTS_JSON};
use crate::workspace::open::{Workspace, config_changes};
use crate::workspace::results::{merged, publish, read_results};

/// Runs the experiment (or the part `opts.scope` names) on backend `B` and returns the results
/// (also written to `<output_dir>/<name>/`, merged from every cell's record).
pub fn run_experiment<B: TrainBackend>(
    exp: &Experiment,
    opts: &EngineOptions,
    info: &BackendInfo,
    device: &B::Device,
    events: &Events,
    control: &Control,
) -> Result<Results> {
    let p = prepare(exp, opts, events)?;
    if let Scope::Cell(index) = opts.scope {
        return run_cell::<B>(Env { exp, opts, info, device, events, control }, p, index);
    }
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
    announce(exp, &p, info, opts, events);
    let config = p.config.with_labels(task_labels(exp));
    let teacher = load_teacher::<B>(exp, &p, &config, events, device)?;
    let (cells, runs) = student_cells(exp, &p, &teacher, &config, previous.as_ref());
    let results = Results { runs, ..initial_results(exp, &p, info, &config, teacher.num_params()) };
    let mut m = Matrix::new(Env { exp, opts, info, device, events, control }, p, config, results);
    m.fence = Some(workspace.fence());
    // Runs that ended earlier are in before the first write, so no crash can lose them.
    m.adopt_ended(&cells)?;
    m.save_teacher()?;
    let teacher = m.finetune_teacher(teacher)?;
    if control.quit_requested() {
        return m.finish();
    }
    match &opts.scope {
        Scope::Matrix => m.students(&cells, &teacher, opts.teacher_cache)?,
        Scope::Teacher => {
            if opts.teacher_cache {
                m.saved_teacher_outputs(&teacher.valid())?;
            }
        }
        Scope::Parallel(launch) => {
            if !opts.teacher_cache || m.saved_teacher_outputs(&teacher.valid())?.is_some() {
                drop(teacher);
                m.in_children(&cells, launch)?;
            }
        }
        Scope::Cell(_) => unreachable!("handled above"),
    }
    m.finish()
}

/// Checks everything a run would (the teacher's files and config, the plan, the data: those
/// from the Hub are downloaded into its cache), and that the experiment folder, if it exists,
/// was started with this configuration; touches nothing. Returns the number of cells.
pub fn check_experiment(exp: &Experiment, opts: &EngineOptions) -> Result<Checked> {
    let p = prepare(exp, opts, &Events::none())?;
    started_here(exp)?;
    Ok(Checked { cells: exp.seeds.len() * p.plan.len(), teacher: teacher_fingerprint(exp, &p) })
}

/// What [`check_experiment`] found: the number of cells, and the teacher's fingerprint (what
/// its saved outputs are recorded under).
pub struct Checked {
    pub cells: usize,
    pub teacher: serde_json::Value,
}

/// Every student cell, and the results each starts from (an earlier result, or pending).
fn student_cells<B: TrainBackend>(
    exp: &Experiment,
    p: &Prepared,
    teacher: &BertClassifier<B>,
    config: &BertConfig,
    previous: Option<&Results>,
) -> (Vec<Cell>, Vec<crate::report::results::RunResult>) {
    let (params, layer_params) = (teacher.num_params(), teacher.layer(0).num_params());
    // A student is the teacher less the encoder layers it does not copy.
    let student_params = |layers: usize| params - (config.num_hidden_layers - layers) * layer_params;
    cells(exp, &p.plan, previous, student_params)
}

/// One cell, in a folder the teacher's process has started with this configuration: its
/// teacher is loaded (never fine-tuned here), its outputs read, and the cell trained.
fn run_cell<B: TrainBackend>(env: Env<'_, B>, p: Prepared, index: usize) -> Result<Results> {
    let Env { exp, opts, info, device, events, .. } = env;
    let Some(previous) = started_here(exp)? else {
        return Err(Error::Input(format!(
            "{}: the teacher has not run here yet; run the teacher first (`distill-tui run-teacher` with the same \
             --config and --set, or the whole matrix)",
            exp.dir.display()
        )));
    };
    let config = p.config.with_labels(task_labels(exp));
    let teacher = load_teacher::<B>(exp, &p, &config, events, device)?;
    let (cells, runs) = student_cells(exp, &p, &teacher, &config, Some(&previous));
    let Some(cell) = cells.get(index) else {
        return Err(Error::Input(format!(
            "--index {index}: this matrix has {} cells (0 to {}: seeds x runs, in plan order)",
            cells.len(),
            cells.len().saturating_sub(1)
        )));
    };
    announce(exp, &p, info, opts, events);
    let results = Results { runs, ..previous };
    let mut m = Matrix::new(env, p, config, results);
    let teacher = m.ready_teacher(teacher)?;
    if cell.kept {
        let status = m.results.runs[cell.index].record.status;
        events.info(format!(
            "{} (seed {}) ended earlier ({}); nothing to do",
            cell.strategy.name,
            cell.seed,
            status.as_str()
        ));
        m.replay(cell);
        return m.finish();
    }
    let outputs = match opts.teacher_cache {
        true => match m.saved_teacher_outputs(&teacher.valid())? {
            Some(o) => Some(o),
            None => return m.finish(),
        },
        false => None,
    };
    let teacher_valid = teacher.valid();
    let signal = match &outputs {
        Some(o) => TeacherSignal::Cached(o),
        None => TeacherSignal::Live(&teacher_valid),
    };
    m.cell(cell, &teacher, signal, true)?;
    m.finish()
}

/// The merged results of a folder whose teacher step ran with this configuration (`None`
/// when no teacher step has run there); another configuration's folder is refused.
fn started_here(exp: &Experiment) -> Result<Option<Results>> {
    let saved = exp.dir.join(CONFIG_FILE);
    let old = match crate::input_file::read_text(&saved, crate::input_file::EXPERIMENT_FILE) {
        Ok(old) => old,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(&saved, e)),
    };
    let changes = config_changes(&old, &exp.resolved_toml);
    if !changes.is_empty() {
        return Err(Error::Input(format!(
            "{} was started with another configuration ({}); give the same --config and --set as its teacher job",
            exp.dir.display(),
            changes.join("; ")
        )));
    }
    merged(&exp.dir)
}

/// Results of an earlier invocation of this configuration, whose finished runs are kept.
fn previous_results(exp: &Experiment, opts: &EngineOptions) -> Result<Option<Results>> {
    if opts.fresh {
        return Ok(None);
    }
    // The cells' records are the truth; results.json is read for a folder of a version before cells.
    if let Some(merged) = merged(&exp.dir)? {
        return Ok(Some(merged));
    }
    match read_results(&exp.dir) {
        Ok(r) => Ok(Some(r)),
        Err(_) if !exp.dir.join(RESULTS_JSON).exists() => Ok(None),
        // Never overwrite results that cannot be read (another tool's file, a newer version).
        Err(e) => {
            Err(Error::Input(format!("{e}; move that folder away or add --fresh (it is moved aside, not deleted)")))
        }
    }
}

/// The plan, then what the user should know about the backend chosen.
fn announce(exp: &Experiment, p: &Prepared, info: &BackendInfo, opts: &EngineOptions, events: &Events) {
    events.send(plan_event(exp, p, info, opts));
    for warning in &info.warnings {
        events.warn(warning.clone());
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
        device: info.describe(),
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
    /// Every student cell in turn, from the teacher's outputs computed once (or the teacher
    /// itself in every step); stops after the current run when the user quits.
    fn students(&mut self, cells: &[Cell], teacher: &BertClassifier<B>, cache: bool) -> Result<()> {
        let teacher_valid = teacher.valid();
        let outputs = match cache {
            true => match self.saved_teacher_outputs(&teacher_valid)? {
                Some(o) => Some(o),
                None => return Ok(()),
            },
            false => None,
        };
        let signal = match &outputs {
            Some(o) => TeacherSignal::Cached(o),
            None => TeacherSignal::Live(&teacher_valid),
        };
        for cell in cells {
            if cell.kept {
                self.replay(cell);
                continue;
            }
            self.cell(cell, teacher, signal, false)?;
            if self.control.quit_requested() {
                break;
            }
        }
        Ok(())
    }

    /// The teacher's outputs, read from the file an earlier process saved for this teacher,
    /// data and backend, or computed now and saved there; `None` when the user quit.
    fn saved_teacher_outputs(&self, teacher: &BertClassifier<B::InnerBackend>) -> Result<Option<TeacherOutputs>> {
        // A teacher whose fine-tune was skipped is not the saved one: its outputs are not either.
        if self.results.teacher.record.status == crate::events::RunStatus::Skipped {
            return self.teacher_outputs(teacher);
        }
        let key = self.teacher_outputs_key();
        let path = crate::workspace::teacher_outputs::outputs_path(&self.exp.dir, &key);
        if let Some(saved) = TeacherOutputs::load(&path, self.p.train.len()) {
            self.events.info(format!("teacher outputs read from {}", path.display()));
            return Ok(Some(saved));
        }
        let Some(outputs) = self.teacher_outputs(teacher)? else { return Ok(None) };
        std::fs::create_dir_all(path.parent().expect("in a folder")).map_err(|e| Error::io(&path, e))?;
        outputs.save(&path)?;
        crate::workspace::teacher_outputs::save_key(&path, &key)?;
        Ok(Some(outputs))
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
    fn finish(mut self) -> Result<Results> {
        let shapes = self.shapes.shapes();
        if self.shapes.compiles() && !shapes.is_empty() {
            let n = shapes.len();
            self.events.info(format!("{n} batch shapes (examples x tokens) compiled on the GPU: {}", list(&shapes)));
        }
        self.results = publish(&self.exp.dir)?;
        self.events.send(Event::Finished { results_dir: self.exp.dir.clone() });
        Ok(self.results)
    }
}

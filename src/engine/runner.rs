//! The experiment: load the teacher and the data, fine-tune the teacher, distill every
//! student of the matrix, and keep results.json current after every epoch.

use std::path::Path;
use std::time::Instant;

use crate::ops::TrainBackend;
use burn::module::{AutodiffModule, Module};

use super::labels::{LabelAlignment, align_labels};
use super::layout::{EVENTS_LOG, FINGERPRINT, RESUME_DIR, TEACHER_DIR, student_folder};
use super::workspace::Workspace;
use crate::data::Dataset;
use crate::data::dataset::load_examples;
use crate::distill::checkpoint::RunCheckpoint;
use crate::distill::eval::{Evaluation, evaluate};
use crate::distill::student::{build_student, verify_student};
use crate::distill::teacher_outputs::TeacherOutputs;
use crate::distill::train::{RunContext, RunJob, TeacherSignal, TrainSettings, train_run};
use crate::error::{Error, Result};
use crate::events::BackendInfo;
use crate::events::{Control, EpochRecord, Event, Events, Phase, PhaseProgress, RunKind, RunLabel, RunStatus};
use crate::experiment::{CosineTarget, Experiment, PlannedRun};
use crate::hub::HubSettings;
use crate::model::files::ModelFiles;
use crate::model::weights::load_classifier;
use crate::model::{BertClassifier, BertConfig, save_folder};
use crate::report::Results;
use crate::report::results::{DataInfo, RunResult, TeacherResult, Versions, correct_string};
use crate::tokenize::{Padding, TextTokenizer};

#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub hub: HubSettings,
    /// Compute the teacher's outputs once instead of in every step (same results, faster).
    pub teacher_cache: bool,
    /// Move an existing experiment folder aside and start over instead of resuming.
    pub fresh: bool,
    /// The data are generated (the demo): front ends say so.
    pub synthetic: bool,
}

impl EngineOptions {
    pub fn new(hub: HubSettings) -> Self {
        Self { hub, teacher_cache: true, fresh: false, synthetic: false }
    }
}

/// Everything checked and loaded before the first step.
pub struct Prepared {
    pub files: ModelFiles,
    pub config: BertConfig,
    pub alignment: LabelAlignment,
    pub plan: Vec<PlannedRun>,
    pub tokenizer: TextTokenizer,
    pub train: Dataset,
    pub valid: Dataset,
}

/// Loads and checks the teacher's config, the run matrix and the data. Any bad input ends
/// here, before work starts.
pub fn prepare(exp: &Experiment, opts: &EngineOptions, events: &Events) -> Result<Prepared> {
    let files = ModelFiles::resolve(&exp.teacher.model, &exp.teacher.revision, &opts.hub)?;
    let config = BertConfig::from_file(&files.config)?;
    let plan = exp.plan(config.num_hidden_layers, config.max_position_embeddings)?;
    let task = exp.data.task;
    let alignment = align_labels(&config, task, &files.source)?;
    let tokenizer = TextTokenizer::load(&files, exp.data.max_length, config.vocab_size)?;
    crate::model::weights::check_weights(&files.weights, &config)?;
    let (train_src, train_ex) = load_examples(&exp.data, &exp.data.train, "train", exp.data.train_examples, &opts.hub)?;
    let (valid_src, valid_ex) = load_examples(
        &exp.data,
        &exp.data.validation,
        &exp.data.validation_split,
        exp.data.validation_examples,
        &opts.hub,
    )?;
    let train = Dataset::tokenize(train_src, train_ex, &tokenizer)?;
    let valid = Dataset::tokenize(valid_src, valid_ex, &tokenizer)?;
    events.info(format!("training data: {}", train.source));
    events.info(format!("validation data: {}", valid.source));
    Ok(Prepared { files, config, alignment, plan, tokenizer, train, valid })
}

fn settings(exp: &Experiment, seed: u64, epochs: usize, padding: Padding) -> TrainSettings {
    let t = &exp.training;
    TrainSettings {
        epochs,
        batch_size: t.batch_size,
        learning_rate: t.learning_rate,
        warmup_steps: t.warmup_steps,
        seed,
        temperature: t.temperature,
        loss_weights: t.loss_weights,
        cosine_target: t.cosine_target,
        padding,
    }
}

/// What decides the fine-tuned teacher; a saved teacher is reused only when this matches.
fn teacher_fingerprint(exp: &Experiment, p: &Prepared) -> serde_json::Value {
    serde_json::json!({
        "model": exp.teacher.model,
        "revision": exp.teacher.revision,
        "finetune_epochs": exp.teacher.finetune_epochs,
        "task": exp.data.task.name,
        "train": p.train.source,
        "max_length": exp.data.max_length,
        "seed": exp.seeds[0],
        "batch_size": exp.training.batch_size,
        "learning_rate": exp.training.learning_rate,
        "warmup_steps": exp.training.warmup_steps,
    })
}

/// The plan as events label it: the teacher fine-tune (if any), then each seed's runs.
pub fn plan_labels(exp: &Experiment, plan: &[PlannedRun]) -> Vec<RunLabel> {
    let mut labels = Vec::new();
    if exp.teacher.finetune_epochs > 0 {
        labels.push(RunLabel {
            kind: RunKind::Teacher,
            name: "Teacher fine-tune".into(),
            seed: exp.seeds[0],
            teacher_layers: vec![],
        });
    }
    for &seed in &exp.seeds {
        for r in plan {
            labels.push(RunLabel {
                kind: RunKind::Student,
                name: r.name.clone(),
                seed,
                teacher_layers: r.teacher_layers.clone(),
            });
        }
    }
    labels
}

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
    // Runs that ended in an earlier invocation of this same configuration are kept as they are.
    let previous = match Results::read(&exp.dir) {
        _ if opts.fresh => None,
        Ok(r) => Some(r),
        Err(_) if !exp.dir.join(crate::report::results::RESULTS_JSON).exists() => None,
        // Never overwrite results that cannot be read (another tool's file, a newer version).
        Err(e) => {
            return Err(Error::Input(format!(
                "{e}; move that folder away or add --fresh (it is moved aside, not deleted)"
            )));
        }
    };
    // Only now, with every input checked, is the experiment folder touched.
    let workspace = Workspace::open(exp, opts.fresh)?;
    let events = &events.logging_to(&exp.dir.join(EVENTS_LOG))?;
    if let Some(aside) = &workspace.moved_aside {
        events.info(format!("--fresh: the earlier results were moved to {}", aside.display()));
    }
    let labels = plan_labels(exp, &p.plan);
    events.send(Event::Plan {
        experiment: exp.name.clone(),
        backend: info.clone(),
        teacher_layers: p.config.num_hidden_layers,
        runs: labels.clone(),
        student_epochs: exp.training.epochs,
        steps_per_epoch: crate::distill::train::steps_per_epoch(p.train.len(), exp.training.batch_size),
        synthetic: opts.synthetic,
    });
    let padding = info.padding(&p.config);
    let task_labels: Vec<String> = exp.data.task.label_names.iter().map(|s| s.to_string()).collect();
    let config = p.config.with_labels(task_labels);

    // The teacher, on the task's labels.
    let (teacher, report) = load_classifier::<B>(&p.files.weights, &config, exp.seeds[0], device)?;
    let teacher = match &p.alignment {
        LabelAlignment::Permuted(order) => {
            events.info(format!("teacher labels reordered to the task's order ({})", config.labels.join(", ")));
            teacher.permute_labels(order)
        }
        _ => teacher,
    };
    if let Some(line) = report.summary(exp.seeds[0]) {
        events.warn(format!("teacher {}: {line}", p.files.source));
    }
    if exp.teacher.finetune_epochs == 0 && !report.initialized.is_empty() {
        events.warn("the teacher is not fine-tuned (teacher.finetune_epochs = 0) and its classifier is random: KL and cosine will chase noise; set finetune_epochs");
    }
    let params = teacher.num_params();
    // A student is the teacher less the encoder layers it does not copy.
    let layer_params = teacher.layer(0).num_params();
    let student_params = |layers: usize| params - (config.num_hidden_layers - layers) * layer_params;
    let mut results = Results {
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
            params,
            finetune_epochs: exp.teacher.finetune_epochs,
            status: RunStatus::Pending,
            validation_loss: None,
            validation_accuracy: None,
            seconds: 0.0,
            checkpoint: None,
            epochs: vec![],
            validation_correct: String::new(),
        },
        runs: vec![],
    };
    // Runs that ended earlier go in before the first write, so no crash can lose them.
    let mut kept = vec![];
    for &seed in &exp.seeds {
        for r in &p.plan {
            if let Some(earlier) = finished_earlier(previous.as_ref(), &exp.dir, r, seed) {
                results.runs.push(earlier);
                kept.push(true);
                continue;
            }
            kept.push(false);
            results.runs.push(RunResult {
                name: r.name.clone(),
                slug: r.slug.clone(),
                seed,
                teacher_layers: r.teacher_layers.clone(),
                status: RunStatus::Pending,
                reason: None,
                train_loss: None,
                validation_loss: None,
                validation_accuracy: None,
                params: student_params(r.teacher_layers.len()),
                seconds: 0.0,
                checkpoint: None,
                resumed_from_epoch: None,
                epochs: vec![],
                validation_correct: String::new(),
            });
        }
    }
    results.write(&exp.dir)?;

    // Fine-tune (or reuse) the teacher.
    let teacher = finetune_teacher::<B>(exp, &p, &config, teacher, padding, &mut results, device, events, control)?;
    if control.quit_requested() {
        results.write(&exp.dir)?;
        events.send(Event::Finished { results_dir: exp.dir.clone() });
        return Ok(results);
    }
    let teacher_valid = teacher.valid();

    let cache = if opts.teacher_cache {
        let t0 = Instant::now();
        let with_cls = exp.training.cosine_target == CosineTarget::ClsHidden;
        let watch = PhaseProgress { events, control, run: None, phase: Phase::TeacherOutputs };
        let Some(c) =
            TeacherOutputs::compute(&teacher_valid, &p.train, 64, padding, with_cls, device, &|d, t| watch.tick(d, t))?
        else {
            results.write(&exp.dir)?;
            events.send(Event::Finished { results_dir: exp.dir.clone() });
            return Ok(results);
        };
        events.info(format!(
            "teacher outputs for {} training examples computed once in {:.1}s",
            p.train.len(),
            t0.elapsed().as_secs_f64()
        ));
        Some(c)
    } else {
        None
    };

    let first_student = usize::from(exp.teacher.finetune_epochs > 0);
    let mut k = 0;
    for &seed in &exp.seeds {
        for run in &p.plan {
            let run_id = first_student + k;
            let idx = k;
            k += 1;
            let folder = student_folder(exp, run, seed);
            if kept[idx] {
                let earlier = &results.runs[idx];
                for record in &earlier.epochs {
                    events.send(Event::Epoch { run: run_id, record: record.clone() });
                }
                let why = format!("{} in an earlier invocation; kept", earlier.status.as_str());
                events.send(Event::RunEnded {
                    run: run_id,
                    status: earlier.status,
                    reason: Some(why),
                    seconds: earlier.seconds,
                });
                continue;
            }
            let (student, student_config) = build_student(&teacher, &config, &run.teacher_layers);
            let tensors = verify_student(&teacher, &student, &run.teacher_layers)?;
            events.info(format!(
                "{} (seed {seed}): student layers 1-{} copied from teacher layers {} ({tensors} tensors, each checked equal)",
                run.name,
                run.teacher_layers.len(),
                crate::report::table::fmt_layers(&run.teacher_layers)
            ));
            results.runs[idx].params = student.num_params();
            results.runs[idx].status = RunStatus::Running;
            results.write(&exp.dir)?;
            let signal = match &cache {
                Some(c) => TeacherSignal::Cached(c),
                None => TeacherSignal::Live(&teacher_valid),
            };
            let s = settings(exp, seed, exp.training.epochs, padding);
            let ck =
                RunCheckpoint::new(exp.dir.join(RESUME_DIR).join(&folder), checkpoint_key(&s, &p, &run.teacher_layers));
            let started = Instant::now();
            let dir = exp.dir.clone();
            let ctx = RunContext { train: &p.train, valid: &p.valid, events, control, device };
            let job = RunJob { id: run_id, settings: &s, teacher: signal, checkpoint: Some(&ck) };
            let outcome = train_run::<B>(student, &ctx, job, &mut |records: &[EpochRecord], ev: &Evaluation, _m| {
                let r = &mut results.runs[idx];
                r.set_epochs(records, &ev.correct);
                r.seconds = started.elapsed().as_secs_f64();
                results.write(&dir)
            })?;
            let r = &mut results.runs[idx];
            r.status = outcome.status;
            r.reason = outcome.reason.clone();
            r.seconds = outcome.seconds;
            r.resumed_from_epoch = outcome.resumed_from;
            if outcome.status == RunStatus::Done {
                save_folder(&exp.dir.join(&folder), &student_config, &outcome.model, &p.files, &p.tokenizer)?;
                r.checkpoint = Some(folder);
            }
            results.write(&exp.dir)?;
            if outcome.status != RunStatus::Stopped {
                ck.clear();
            }
            events.send(Event::RunEnded {
                run: run_id,
                status: outcome.status,
                reason: outcome.reason,
                seconds: outcome.seconds,
            });
            if control.quit_requested() {
                events.send(Event::Finished { results_dir: exp.dir.clone() });
                return Ok(results);
            }
        }
    }
    events.send(Event::Finished { results_dir: exp.dir.clone() });
    Ok(results)
}

#[allow(clippy::too_many_arguments)]
fn finetune_teacher<B: TrainBackend>(
    exp: &Experiment,
    p: &Prepared,
    config: &BertConfig,
    teacher: BertClassifier<B>,
    padding: Padding,
    results: &mut Results,
    device: &B::Device,
    events: &Events,
    control: &Control,
) -> Result<BertClassifier<B>> {
    let started = Instant::now();
    let watch = PhaseProgress {
        events,
        control,
        run: (exp.teacher.finetune_epochs > 0).then_some(0),
        phase: Phase::Evaluation,
    };
    let evaluate_teacher = |m: &BertClassifier<B>| {
        evaluate(&m.valid(), &p.valid, exp.training.batch_size.max(32), padding, device, &|d, t| watch.tick(d, t))
    };
    if exp.teacher.finetune_epochs == 0 {
        let Some(ev) = evaluate_teacher(&teacher)? else { return Ok(teacher) };
        set_teacher(results, &ev, RunStatus::Done, started.elapsed().as_secs_f64());
        results.write(&exp.dir)?;
        return Ok(teacher);
    }
    let dir = exp.dir.join(TEACHER_DIR);
    let fingerprint = teacher_fingerprint(exp, p);
    if let Some(saved) = saved_fingerprint(&dir) {
        if saved["fingerprint"] != fingerprint {
            return Err(Error::Input(format!(
                "{} holds a teacher fine-tuned with other settings than this config's (teacher, data, seed or optimizer); \
                 move that folder away, or give this experiment another experiment.name",
                dir.display()
            )));
        }
        let (model, _) = load_classifier::<B>(&dir.join(crate::model::files::WEIGHTS), config, exp.seeds[0], device)?;
        events.info(format!("reusing the fine-tuned teacher saved in {}", dir.display()));
        let Some(ev) = evaluate_teacher(&model)? else { return Ok(model) };
        results.teacher.epochs = serde_json::from_value(saved["epochs"].clone()).unwrap_or_default();
        set_teacher(results, &ev, RunStatus::Done, saved["seconds"].as_f64().unwrap_or(0.0));
        results.teacher.checkpoint = Some(TEACHER_DIR.into());
        results.write(&exp.dir)?;
        events.send(Event::RunEnded { run: 0, status: RunStatus::Done, reason: Some("reused".into()), seconds: 0.0 });
        return Ok(model);
    }
    results.teacher.status = RunStatus::Running;
    let s = settings(exp, exp.seeds[0], exp.teacher.finetune_epochs, padding);
    let ck = RunCheckpoint::new(
        exp.dir.join(RESUME_DIR).join(TEACHER_DIR),
        format!("{}|{fingerprint}", checkpoint_key(&s, p, &[])),
    );
    let exp_dir = exp.dir.clone();
    let ctx = RunContext { train: &p.train, valid: &p.valid, events, control, device };
    let job = RunJob { id: 0, settings: &s, teacher: TeacherSignal::None, checkpoint: Some(&ck) };
    let outcome = train_run::<B>(teacher, &ctx, job, &mut |records: &[EpochRecord], ev: &Evaluation, _m| {
        results.teacher.epochs = records.to_vec();
        set_teacher(results, ev, RunStatus::Running, started.elapsed().as_secs_f64());
        results.write(&exp_dir)
    })?;
    match &outcome.evaluation {
        Some(ev) => set_teacher(results, ev, outcome.status, outcome.seconds),
        None => results.teacher.status = outcome.status,
    }
    results.teacher.epochs = outcome.epochs.clone();
    let mut model = outcome.model;
    match outcome.status {
        RunStatus::Done => {
            save_folder(&dir, config, &model, &p.files, &p.tokenizer)?;
            let record =
                serde_json::json!({ "fingerprint": fingerprint, "epochs": outcome.epochs, "seconds": outcome.seconds });
            crate::atomic::write_atomic(&dir.join(FINGERPRINT), |path| {
                std::fs::write(path, serde_json::to_string_pretty(&record).expect("json"))
                    .map_err(|e| Error::io(path, e))
            })?;
            results.teacher.checkpoint = Some(TEACHER_DIR.into());
            ck.clear();
            // Students learn from the saved teacher, the one a resumed experiment reloads, so a
            // resumed matrix and an uninterrupted one see the very same teacher.
            model = load_classifier::<B>(&dir.join(crate::model::files::WEIGHTS), config, exp.seeds[0], device)?.0;
        }
        RunStatus::Failed => {
            results.write(&exp.dir)?;
            return Err(Error::Input(format!(
                "the teacher's fine-tune failed ({}); lower training.learning_rate",
                outcome.reason.unwrap_or_default()
            )));
        }
        RunStatus::Skipped => {
            let trained = outcome.epochs.iter().filter(|e| e.epoch > 0).count();
            events.warn(format!(
                "teacher fine-tune skipped after {trained} of {} epochs: the students learn from this teacher; it is not saved, so a rerun fine-tunes it again",
                exp.teacher.finetune_epochs
            ))
        }
        _ => {}
    }
    results.write(&exp.dir)?;
    events.send(Event::RunEnded { run: 0, status: outcome.status, reason: outcome.reason, seconds: outcome.seconds });
    Ok(model)
}

/// What a run's checkpoint must match to be resumed: its settings, its layers and its data.
fn checkpoint_key(s: &TrainSettings, p: &Prepared, layers: &[usize]) -> String {
    format!(
        "{s:?}|layers {layers:?}|train {} ({} examples)|valid {} ({} examples)",
        p.train.source,
        p.train.len(),
        p.valid.source,
        p.valid.len()
    )
}

/// The result of `run` (seed `seed`) from an earlier invocation, if that run ended there (done
/// with its saved student, skipped or failed); runs that were stopped are run (resumed) again.
fn finished_earlier(previous: Option<&Results>, dir: &Path, run: &PlannedRun, seed: u64) -> Option<RunResult> {
    let r = previous?
        .runs
        .iter()
        .find(|r| r.slug == run.slug && r.seed == seed && r.teacher_layers == run.teacher_layers)?;
    let ended = match r.status {
        RunStatus::Done => {
            r.checkpoint.as_ref().is_some_and(|c| dir.join(c).join(crate::model::files::WEIGHTS).is_file())
        }
        RunStatus::Skipped | RunStatus::Failed => true,
        RunStatus::Pending | RunStatus::Running | RunStatus::Stopped => false,
    };
    ended.then(|| r.clone())
}

fn set_teacher(results: &mut Results, ev: &Evaluation, status: RunStatus, seconds: f64) {
    let t = &mut results.teacher;
    t.status = status;
    t.validation_loss = Some(ev.loss);
    t.validation_accuracy = Some(ev.accuracy);
    t.validation_correct = correct_string(&ev.correct);
    t.seconds = seconds;
}

fn saved_fingerprint(dir: &Path) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(dir.join(FINGERPRINT)).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    dir.join(crate::model::files::WEIGHTS).is_file().then_some(v)
}

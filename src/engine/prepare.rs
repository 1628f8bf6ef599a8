//! Before any work: the teacher's files and config, the plan, the data, checked and loaded;
//! and what each run is trained with.

use super::labels::{LabelAlignment, align_labels};
use super::options::EngineOptions;
use crate::backend::shapes::ShapeLog;
use crate::data::Dataset;
use crate::data::load_examples;
use crate::distill::train::{RunContext, TrainSettings};
use crate::error::Result;
use crate::events::{Control, Events, RunKind, RunLabel};
use crate::experiment::{Experiment, PlannedRun};
use crate::hub::files::ModelFiles;
use crate::model::BertConfig;
use crate::tokenize::{Padding, TextTokenizer};

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

impl Prepared {
    /// What every run of the experiment shares, for `train_run`.
    pub fn run_context<'a, B: burn::tensor::backend::Backend>(
        &'a self,
        events: &'a Events,
        control: &'a Control,
        shapes: &'a ShapeLog,
        device: &'a B::Device,
    ) -> RunContext<'a, B> {
        RunContext { train: &self.train, valid: &self.valid, events, control, shapes, device }
    }
}

/// Loads and checks the teacher's config, the run matrix and the data. Any bad input ends
/// here, before work starts.
pub fn prepare(exp: &Experiment, opts: &EngineOptions, events: &Events) -> Result<Prepared> {
    let files = ModelFiles::resolve(&exp.teacher.model, &exp.teacher.revision, &opts.hub)?;
    let config = BertConfig::from_file(&files.config)?;
    let plan = exp.plan(config.num_hidden_layers, config.max_tokens())?;
    let task = exp.data.task;
    let alignment = align_labels(&config, task, &files.source)?;
    let tokenizer = TextTokenizer::load(&files, exp.data.max_length, config.vocab_size)?.for_model(&config);
    crate::model::check_weights(&files.weights, &config)?;
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

pub fn settings(exp: &Experiment, seed: u64, epochs: usize, padding: Padding) -> TrainSettings {
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
pub fn teacher_fingerprint(exp: &Experiment, p: &Prepared) -> serde_json::Value {
    let mut fingerprint = serde_json::json!({
        "model": exp.teacher.model,
        "revision": exp.teacher.revision,
        "finetune_epochs": exp.teacher.finetune_epochs,
        "task": exp.data.task.name,
        "train": p.train.source,
        "max_length": exp.data.max_length,
        "seed": exp.teacher_seed(),
        "batch_size": exp.training.batch_size,
        "learning_rate": exp.training.learning_rate,
        "warmup_steps": exp.training.warmup_steps,
    });
    // Only when not f32, so that the teachers of f32 runs keep the fingerprint they were saved with.
    if !exp.training.precision.is_f32() {
        fingerprint["precision"] = exp.training.precision.as_str().into();
    }
    fingerprint
}

/// The plan as events label it: the teacher fine-tune (if any), then each seed's runs.
pub fn plan_labels(exp: &Experiment, plan: &[PlannedRun]) -> Vec<RunLabel> {
    let mut labels = Vec::new();
    if exp.teacher.finetunes() {
        labels.push(RunLabel {
            kind: RunKind::Teacher,
            name: "Teacher fine-tune".into(),
            seed: exp.teacher_seed(),
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

/// What a run's checkpoint must match to be resumed: its settings, its layers and its data.
pub fn checkpoint_key(s: &TrainSettings, p: &Prepared, layers: &[usize]) -> String {
    format!(
        "{s:?}|layers {layers:?}|train {} ({} examples)|valid {} ({} examples)",
        p.train.source,
        p.train.len(),
        p.valid.source,
        p.valid.len()
    )
}

/// The task's label names, in its order: the classifier's labels.
pub fn task_labels(exp: &Experiment) -> Vec<String> {
    exp.data.task.label_names.iter().map(|s| s.to_string()).collect()
}

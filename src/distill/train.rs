//! One training run: the teacher's fine-tune (cross-entropy only) or a student's distillation.
//! Emits events and checks the controls between steps; knows nothing about screens.

use std::time::{Duration, Instant};

use crate::ops::TrainBackend;
use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};

use super::adam::{RunOptimizer, optimizer};
use super::batched::PhaseProgress;
use super::checkpoint::{CheckpointState, PendingSave, Progress, RunCheckpoint};
use super::eval::{Evaluation, eval_batch, evaluate};
use super::loss::{cross_entropy, distillation_loss};
use super::schedule::LinearSchedule;
use super::teacher_outputs::TeacherOutputs;
use crate::backend::shapes::{Shape, ShapeLog};
use crate::data::Dataset;
use crate::data::batches::epoch_batches;
use crate::error::Result;
use crate::events::{Control, EpochRecord, Event, Events, LossValues, Phase, RunId, RunStatus, StepEvent};
use crate::experiment::{CosineTarget, LossWeights};
use crate::model::BertClassifier;
use crate::tokenize::{Encoded, Padding, TokenBatch};

#[derive(Debug, Clone, PartialEq)]
pub struct TrainSettings {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    /// Seeds the batch order (with the epoch) and dropout.
    pub seed: u64,
    pub temperature: f64,
    pub loss_weights: LossWeights,
    pub cosine_target: CosineTarget,
    pub padding: Padding,
}

/// What the student learns from besides the labels.
pub enum TeacherSignal<'a, B: Backend> {
    /// No teacher: cross-entropy only (fine-tuning the teacher itself).
    None,
    /// Teacher outputs computed once for the whole training set.
    Cached(&'a TeacherOutputs),
    /// A teacher forward pass in every step (the reference behaviour the cache must match).
    Live(&'a BertClassifier<B>),
}

// By hand: derived, they would ask `B: Clone`; the variants hold references only.
impl<B: Backend> Clone for TeacherSignal<'_, B> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<B: Backend> Copy for TeacherSignal<'_, B> {}

pub struct RunOutcome<B: AutodiffBackend> {
    pub model: BertClassifier<B>,
    pub epochs: Vec<EpochRecord>,
    pub status: RunStatus,
    pub reason: Option<String>,
    /// The last evaluation (of the final model); `None` when the run was stopped before its
    /// first evaluation ended.
    pub evaluation: Option<Evaluation>,
    pub seconds: f64,
    /// The epoch a checkpoint let this run continue from, if it did.
    pub resumed_from: Option<usize>,
}

/// The dropout seed of one epoch: reseeding per epoch makes a run resumed at an epoch
/// boundary draw the same masks as one that never stopped.
fn epoch_seed(seed: u64, epoch: usize) -> u64 {
    // splitmix64 of (seed, epoch)
    let mut z = seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Called after each evaluated epoch with the records so far, the evaluation and the model
/// (the caller writes results).
pub type OnEpoch<'a> = dyn FnMut(&[EpochRecord], &Evaluation, f64) -> Result<()> + 'a;

/// Number of optimizer steps in one epoch.
pub fn steps_per_epoch(examples: usize, batch_size: usize) -> usize {
    examples.div_ceil(batch_size)
}

/// What every run of an experiment shares: the data, where events go, the controls, the device.
pub struct RunContext<'a, B: Backend> {
    pub train: &'a Dataset,
    pub valid: &'a Dataset,
    pub events: &'a Events,
    pub control: &'a Control,
    /// The batch shapes run so far in this process (each compiles kernels on a GPU).
    pub shapes: &'a ShapeLog,
    pub device: &'a B::Device,
}

/// One run to train: its id in the plan, its settings, what it learns from, where it is
/// checkpointed.
pub struct RunJob<'a, B: AutodiffBackend> {
    pub id: RunId,
    pub settings: &'a TrainSettings,
    pub teacher: TeacherSignal<'a, B::InnerBackend>,
    pub checkpoint: Option<&'a RunCheckpoint>,
}

/// Trains `model` for `job`, from its checkpoint when there is one, calling `on_epoch` after
/// every evaluated epoch. Between steps it honours pause, skip and quit.
pub fn train_run<B: TrainBackend>(
    model: BertClassifier<B>,
    ctx: &RunContext<'_, B>,
    job: RunJob<'_, B>,
    on_epoch: &mut OnEpoch<'_>,
) -> Result<RunOutcome<B>> {
    let mut run = Run::new(ctx, job);
    let s = run.job.settings;
    ctx.events.send(Event::RunStarted {
        run: run.job.id,
        epochs: s.epochs,
        steps_per_epoch: run.per_epoch,
        train_examples: ctx.train.len(),
    });
    let mut model = run.resume(model);
    let Some(first_epoch) = run.start(&model)? else {
        return Ok(run.stopped_before_training(model));
    };
    on_epoch(&run.records, run.evaluation(), run.seconds())?;
    for epoch in first_epoch..=s.epochs {
        let sums;
        (model, sums) = match run.train_epoch(model, epoch)? {
            EpochEnd::Trained(model, sums) => (model, sums),
            EpochEnd::Interrupted(model, status, reason) => return run.end(model, status, Some(reason)),
        };
        let Some(ev) = run.eval(&model)? else {
            let reason = format!("stopped while evaluating epoch {epoch}, at step {} of {}", run.step, run.total);
            return run.end(model, RunStatus::Stopped, Some(reason));
        };
        run.record_epoch(epoch, Some(sums), ev);
        on_epoch(&run.records, run.evaluation(), run.seconds())?;
        if epoch < s.epochs {
            run.checkpoint(&model, epoch)?;
        }
    }
    run.end(model, RunStatus::Done, None)
}

/// The loss terms summed over an epoch's steps.
#[derive(Default)]
struct EpochSums {
    sum: LossValues,
    steps: usize,
}

impl EpochSums {
    fn add(&mut self, v: LossValues) {
        self.sum.total += v.total;
        self.sum.ce += v.ce;
        self.sum.kl += v.kl;
        self.sum.cosine += v.cosine;
        self.steps += 1;
    }

    fn mean(&self, x: f64) -> Option<f64> {
        Some(x / self.steps.max(1) as f64)
    }
}

enum EpochEnd<B: AutodiffBackend> {
    Trained(BertClassifier<B>, EpochSums),
    /// Stopped, skipped or failed before the epoch ended, and why.
    Interrupted(BertClassifier<B>, RunStatus, String),
}

/// A run under way: its optimizer and schedule, where it is, what it recorded, its time.
struct Run<'a, B: TrainBackend> {
    ctx: &'a RunContext<'a, B>,
    job: RunJob<'a, B>,
    optim: RunOptimizer<B>,
    schedule: LinearSchedule,
    lengths: Vec<usize>,
    per_epoch: usize,
    total: usize,
    started: Instant,
    paused: Duration,
    /// Active seconds before a resume.
    earlier_seconds: f64,
    step: usize,
    records: Vec<EpochRecord>,
    evaluation: Option<Evaluation>,
    resumed: Option<CheckpointState>,
    /// The checkpoint being written while training goes on (see `save_in_background`).
    pending: Option<PendingSave>,
}

impl<'a, B: TrainBackend> Run<'a, B> {
    fn new(ctx: &'a RunContext<'a, B>, job: RunJob<'a, B>) -> Self {
        let s = job.settings;
        let per_epoch = steps_per_epoch(ctx.train.len(), s.batch_size);
        let total = per_epoch * s.epochs;
        Self {
            ctx,
            optim: optimizer::<B>(),
            schedule: LinearSchedule { base: s.learning_rate, warmup: s.warmup_steps, total },
            lengths: ctx.train.lengths(),
            per_epoch,
            total,
            started: Instant::now(),
            paused: Duration::ZERO,
            earlier_seconds: 0.0,
            step: 0,
            records: vec![],
            evaluation: None,
            resumed: None,
            pending: None,
            job,
        }
    }

    fn distilling(&self) -> bool {
        !matches!(self.job.teacher, TeacherSignal::None)
    }

    /// Active seconds of the run so far (pauses excluded, earlier invocations included).
    fn seconds(&self) -> f64 {
        self.earlier_seconds + (self.started.elapsed() - self.paused).as_secs_f64()
    }

    fn evaluation(&self) -> &Evaluation {
        self.evaluation.as_ref().expect("a run is evaluated before its first epoch")
    }

    /// The model and optimizer of the last finished epoch, when a checkpoint of these
    /// settings exists; otherwise `model` as it is.
    fn resume(&mut self, model: BertClassifier<B>) -> BertClassifier<B> {
        let (Some(ck), events) = (self.job.checkpoint, self.ctx.events) else { return model };
        match ck.state() {
            Ok(Some(state)) if state.epoch <= self.job.settings.epochs => {
                match ck.restore(&state, model.clone(), optimizer::<B>(), self.ctx.device) {
                    Ok((m, o)) => {
                        self.optim = o;
                        self.resumed = Some(state);
                        m
                    }
                    Err(why) => {
                        events.warn(format!("cannot resume from {}: {why}; starting this run over", ck.dir.display()));
                        model
                    }
                }
            }
            Ok(_) => model,
            Err(why) => {
                events.warn(format!("cannot resume: {why}; starting this run over"));
                model
            }
        }
    }

    /// The records so far: a resumed run's, or epoch 0 (the evaluation before any update).
    /// Returns the first epoch to train, or `None` when the user quit during that evaluation.
    fn start(&mut self, model: &BertClassifier<B>) -> Result<Option<usize>> {
        let (events, run) = (self.ctx.events, self.job.id);
        if let Some(state) = &self.resumed {
            events.info(format!(
                "resuming from the checkpoint of epoch {} of {} (step {} of {})",
                state.epoch, self.job.settings.epochs, state.step, self.total
            ));
            for record in &state.records {
                events.send(Event::Epoch { run, record: record.clone() });
            }
            self.evaluation = Some(state.evaluation());
            self.records = state.records.clone();
            self.step = state.step;
            self.earlier_seconds = state.seconds;
            return Ok(Some(state.epoch + 1));
        }
        let Some(ev) = self.eval(model)? else { return Ok(None) };
        self.record_epoch(0, None, ev);
        Ok(Some(1))
    }

    fn stopped_before_training(self, model: BertClassifier<B>) -> RunOutcome<B> {
        RunOutcome {
            model,
            epochs: vec![],
            status: RunStatus::Stopped,
            reason: Some("stopped before training started".to_string()),
            evaluation: None,
            seconds: (self.started.elapsed() - self.paused).as_secs_f64(),
            resumed_from: None,
        }
    }

    /// Validation loss and accuracy, batch by batch; `None` when the user quit meanwhile.
    fn eval(&self, model: &BertClassifier<B>) -> Result<Option<Evaluation>> {
        let (ctx, s) = (self.ctx, self.job.settings);
        let watch = PhaseProgress {
            events: ctx.events,
            control: ctx.control,
            shapes: ctx.shapes,
            run: Some(self.job.id),
            phase: Phase::Evaluation,
        };
        evaluate(&model.valid(), ctx.valid, eval_batch(s.batch_size), s.padding, ctx.device, &watch)
    }

    /// Records an evaluated epoch (with its training sums; none for epoch 0) and sends it.
    fn record_epoch(&mut self, epoch: usize, sums: Option<EpochSums>, ev: Evaluation) {
        let distilling = self.distilling();
        let mean = |f: fn(&LossValues) -> f64| sums.as_ref().and_then(|s| s.mean(f(&s.sum)));
        let record = EpochRecord {
            epoch,
            train_loss: mean(|v| v.total),
            train_ce: mean(|v| v.ce),
            train_kl: if distilling { mean(|v| v.kl) } else { None },
            train_cosine: if distilling { mean(|v| v.cosine) } else { None },
            validation_loss: ev.loss,
            validation_accuracy: ev.accuracy,
        };
        self.ctx.events.send(Event::Epoch { run: self.job.id, record: record.clone() });
        self.records.push(record);
        self.evaluation = Some(ev);
    }

    /// One epoch of optimizer steps, unless pause, skip, quit or a non-finite loss end it.
    fn train_epoch(&mut self, mut model: BertClassifier<B>, epoch: usize) -> Result<EpochEnd<B>> {
        let (ctx, s) = (self.ctx, self.job.settings);
        B::seed(ctx.device, epoch_seed(s.seed, epoch));
        crate::ops::rng::seed_dropout(epoch_seed(s.seed, epoch));
        let mut sums = EpochSums::default();
        for batch in epoch_batches(&self.lengths, s.batch_size, s.seed, epoch) {
            self.paused += ctx.control.wait_while_paused();
            let at = |what: &str| format!("{what} at step {} of {}", self.step, self.total);
            if ctx.control.quit_requested() {
                return Ok(EpochEnd::Interrupted(model, RunStatus::Stopped, at("stopped")));
            }
            if ctx.control.take_skip() {
                return Ok(EpochEnd::Interrupted(model, RunStatus::Skipped, at("skipped")));
            }
            let t0 = Instant::now();
            let items: Vec<&Encoded> = batch.iter().map(|&i| &ctx.train.encoded[i]).collect();
            let tokens = s.padding.collate(&items);
            let shape = Shape { training: true, batch: tokens.batch, tokens: tokens.seq };
            let compiling = ctx.shapes.enter(ctx.events, Some(self.job.id), shape);
            let (loss, values) = self.loss(&model, &batch, tokens);
            if !values.total.is_finite() {
                let reason =
                    format!("loss became {} at epoch {epoch}, step {} of {}", values.total, self.step + 1, self.total);
                return Ok(EpochEnd::Interrupted(model, RunStatus::Failed, reason));
            }
            let lr = self.schedule.lr(self.step);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = self.optim.step(lr, model, grads);
            self.step += 1;
            sums.add(values);
            if compiling {
                let (b, t, secs) = (shape.batch, shape.tokens, t0.elapsed().as_secs_f64());
                ctx.events.info(format!(
                    "first training step on a batch of {b}x{t} tokens: {secs:.1}s (GPU kernels compiled)"
                ));
            }
            ctx.events.send(Event::Step(StepEvent {
                run: self.job.id,
                epoch,
                step: self.step,
                steps_total: self.total,
                loss: values,
                lr,
                examples_per_s: batch.len() as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            }));
        }
        Ok(EpochEnd::Trained(model, sums))
    }

    /// The loss of one batch (`batch`: its examples, `tokens`: their tokens): cross-entropy for the teacher's fine-tune, the distillation loss
    /// for a student (the teacher's outputs from the cache or a live pass).
    fn loss(&self, model: &BertClassifier<B>, batch: &[usize], tokens: TokenBatch) -> (Tensor<B, 1>, LossValues) {
        let (ctx, s) = (self.ctx, self.job.settings);
        let labels: Vec<i64> = batch.iter().map(|&i| ctx.train.examples[i].label as i64).collect();
        let y = Tensor::<B, 1, Int>::from_data(TensorData::new(labels, [batch.len()]), ctx.device);
        let out = model.forward(tokens.to_input::<B>(ctx.device));
        let (t_logits, t_cls) = match &self.job.teacher {
            TeacherSignal::None => {
                let ce = cross_entropy(out.logits, y);
                let v = ce.clone().into_data().iter::<f64>().next().unwrap_or(f64::NAN);
                return (ce, LossValues { total: v, ce: v, kl: 0.0, cosine: 0.0 });
            }
            TeacherSignal::Cached(c) => (c.logits::<B>(batch, ctx.device), c.cls::<B>(batch, ctx.device)),
            TeacherSignal::Live(t) => {
                let o = t.forward(tokens.to_input::<B::InnerBackend>(ctx.device));
                (Tensor::from_inner(o.logits), Some(Tensor::from_inner(o.cls_hidden)))
            }
        };
        let pair = match s.cosine_target {
            CosineTarget::Logits => (out.logits.clone(), t_logits.clone()),
            CosineTarget::ClsHidden => (out.cls_hidden.clone(), t_cls.expect("teacher [CLS] states were computed")),
        };
        let terms = distillation_loss(out.logits, t_logits, y, pair, s.temperature, s.loss_weights);
        let v = terms.values();
        (terms.total, v)
    }

    /// Saves the finished epoch in the background; the previous save is on disk first.
    fn checkpoint(&mut self, model: &BertClassifier<B>, epoch: usize) -> Result<()> {
        let Some(ck) = self.job.checkpoint else { return Ok(()) };
        let seconds = self.seconds();
        self.wait_for_save()?;
        let evaluation = self.evaluation.as_ref().expect("an epoch was just evaluated");
        let progress = Progress { epoch, step: self.step, records: &self.records, seconds, evaluation };
        self.pending = Some(ck.save_in_background(model, &self.optim, progress));
        Ok(())
    }

    fn wait_for_save(&mut self) -> Result<()> {
        self.pending.take().map_or(Ok(()), PendingSave::wait)
    }

    fn end(mut self, model: BertClassifier<B>, status: RunStatus, reason: Option<String>) -> Result<RunOutcome<B>> {
        self.wait_for_save()?;
        let seconds = self.seconds();
        Ok(RunOutcome {
            model,
            epochs: self.records,
            status,
            reason,
            evaluation: self.evaluation,
            seconds,
            resumed_from: self.resumed.map(|s| s.epoch),
        })
    }
}

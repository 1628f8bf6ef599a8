//! One training run: the teacher's fine-tune (cross-entropy only) or a student's distillation.
//! Emits events and checks the controls between steps; knows nothing about screens.

use std::time::Instant;

use crate::ops::TrainBackend;
use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};

use super::checkpoint::{PendingSave, Progress, RunCheckpoint};
use super::eval::{Evaluation, evaluate};
use super::loss::{LossValues, cross_entropy, distillation_loss};
use super::schedule::LinearSchedule;
use super::teacher_outputs::TeacherOutputs;
use crate::data::Dataset;
use crate::data::batches::epoch_batches;
use crate::error::Result;
use crate::events::{Control, EpochRecord, Event, Events, Phase, PhaseProgress, RunId, RunStatus, StepEvent};
use crate::experiment::{CosineTarget, LossWeights};
use crate::model::BertClassifier;
use crate::tokenize::{Encoded, Padding};

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
pub type OnEpoch<'a, B> = dyn FnMut(&[EpochRecord], &Evaluation, &BertClassifier<B>) -> Result<()> + 'a;

/// Number of optimizer steps in one epoch.
pub fn steps_per_epoch(examples: usize, batch_size: usize) -> usize {
    examples.div_ceil(batch_size)
}

#[allow(clippy::too_many_arguments)]
pub fn train_run<B: TrainBackend>(
    mut model: BertClassifier<B>,
    train: &Dataset,
    valid: &Dataset,
    s: &TrainSettings,
    teacher: TeacherSignal<'_, B::InnerBackend>,
    run: RunId,
    events: &Events,
    control: &Control,
    device: &B::Device,
    checkpoint: Option<&RunCheckpoint>,
    on_epoch: &mut OnEpoch<'_, B>,
) -> Result<RunOutcome<B>> {
    let started = Instant::now();
    let mut paused = std::time::Duration::ZERO;
    let adam = super::adam::optimizer::<B>;
    let mut optim = adam();
    let lengths = train.lengths();
    let per_epoch = steps_per_epoch(train.len(), s.batch_size);
    let total = per_epoch * s.epochs;
    let schedule = LinearSchedule { base: s.learning_rate, warmup: s.warmup_steps, total };
    let distilling = !matches!(teacher, TeacherSignal::None);
    events.send(Event::RunStarted { run, epochs: s.epochs, steps_per_epoch: per_epoch, train_examples: train.len() });

    let watch = PhaseProgress { events, control, run: Some(run), phase: Phase::Evaluation };
    let eval = |m: &BertClassifier<B>| {
        evaluate(&m.valid(), valid, s.batch_size.max(32), s.padding, device, &|d, t| watch.tick(d, t))
    };
    // Continue from the last finished epoch when a checkpoint of these settings exists.
    let mut resumed = None;
    if let Some(ck) = checkpoint {
        match ck.state() {
            Ok(Some(state)) if state.epoch <= s.epochs => match ck.restore(&state, model.clone(), adam(), device) {
                Ok((m, o)) => {
                    model = m;
                    optim = o;
                    resumed = Some(state);
                }
                Err(why) => {
                    events.warn(format!("cannot resume from {}: {why}; starting this run over", ck.dir.display()))
                }
            },
            Ok(_) => {}
            Err(why) => events.warn(format!("cannot resume: {why}; starting this run over")),
        }
    }
    let (mut evaluation, mut records, first_epoch, mut step, earlier_seconds) = match &resumed {
        Some(state) => {
            events.info(format!(
                "resuming from the checkpoint of epoch {} of {} (step {step} of {total})",
                state.epoch,
                s.epochs,
                step = state.step
            ));
            for record in &state.records {
                events.send(Event::Epoch { run, record: record.clone() });
            }
            (state.evaluation(), state.records.clone(), state.epoch + 1, state.step, state.seconds)
        }
        None => {
            let Some(evaluation) = eval(&model)? else {
                let seconds = (started.elapsed() - paused).as_secs_f64();
                let reason = Some("stopped before training started".to_string());
                return Ok(RunOutcome {
                    model,
                    epochs: vec![],
                    status: RunStatus::Stopped,
                    reason,
                    evaluation: None,
                    seconds,
                    resumed_from: None,
                });
            };
            let record = EpochRecord {
                epoch: 0,
                train_loss: None,
                train_ce: None,
                train_kl: None,
                train_cosine: None,
                validation_loss: evaluation.loss,
                validation_accuracy: evaluation.accuracy,
            };
            events.send(Event::Epoch { run, record: record.clone() });
            (evaluation, vec![record], 1, 0, 0.0)
        }
    };
    on_epoch(&records, &evaluation, &model)?;
    let resumed_from = resumed.map(|s| s.epoch);

    let end = |model, records, status, reason: Option<String>, evaluation, paused: std::time::Duration| RunOutcome {
        model,
        epochs: records,
        status,
        reason,
        evaluation: Some(evaluation),
        seconds: earlier_seconds + (started.elapsed() - paused).as_secs_f64(),
        resumed_from,
    };
    // The checkpoint being written while training goes on (see `save_in_background`).
    let mut pending: Option<PendingSave> = None;
    let finish = |p: Option<PendingSave>| p.map_or(Ok(()), PendingSave::wait);
    for epoch in first_epoch..=s.epochs {
        B::seed(device, epoch_seed(s.seed, epoch));
        crate::ops::seed_dropout(epoch_seed(s.seed, epoch));
        let mut sum = LossValues::default();
        let mut n_steps = 0usize;
        for batch in epoch_batches(&lengths, s.batch_size, s.seed, epoch) {
            paused += control.wait_while_paused();
            if control.quit_requested() {
                finish(pending.take())?;
                return Ok(end(
                    model,
                    records,
                    RunStatus::Stopped,
                    Some(format!("stopped at step {step} of {total}")),
                    evaluation,
                    paused,
                ));
            }
            if control.take_skip() {
                finish(pending.take())?;
                return Ok(end(
                    model,
                    records,
                    RunStatus::Skipped,
                    Some(format!("skipped at step {step} of {total}")),
                    evaluation,
                    paused,
                ));
            }
            let t0 = Instant::now();
            let items: Vec<&Encoded> = batch.iter().map(|&i| &train.encoded[i]).collect();
            let tokens = s.padding.collate(&items);
            let labels: Vec<i64> = batch.iter().map(|&i| train.examples[i].label as i64).collect();
            let y = Tensor::<B, 1, Int>::from_data(TensorData::new(labels, [batch.len()]), device);
            let out = model.forward(tokens.to_input::<B>(device));
            let (loss, values) = if distilling {
                let (t_logits, t_cls) = match &teacher {
                    TeacherSignal::Cached(c) => (c.logits::<B>(&batch, device), c.cls::<B>(&batch, device)),
                    TeacherSignal::Live(t) => {
                        let o = t.forward(tokens.to_input::<B::InnerBackend>(device));
                        (Tensor::from_inner(o.logits), Some(Tensor::from_inner(o.cls_hidden)))
                    }
                    TeacherSignal::None => unreachable!("distilling"),
                };
                let pair = match s.cosine_target {
                    CosineTarget::Logits => (out.logits.clone(), t_logits.clone()),
                    CosineTarget::ClsHidden => {
                        (out.cls_hidden.clone(), t_cls.expect("teacher [CLS] states were computed"))
                    }
                };
                let terms = distillation_loss(out.logits, t_logits, y, pair, s.temperature, s.loss_weights);
                let v = terms.values();
                (terms.total, v)
            } else {
                let ce = cross_entropy(out.logits, y);
                let v = ce.clone().into_data().iter::<f64>().next().unwrap_or(f64::NAN);
                (ce, LossValues { total: v, ce: v, kl: 0.0, cosine: 0.0 })
            };
            if !values.total.is_finite() {
                let reason = format!("loss became {} at epoch {epoch}, step {} of {total}", values.total, step + 1);
                finish(pending.take())?;
                return Ok(end(model, records, RunStatus::Failed, Some(reason), evaluation, paused));
            }
            let lr = schedule.lr(step);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            step += 1;
            n_steps += 1;
            sum.total += values.total;
            sum.ce += values.ce;
            sum.kl += values.kl;
            sum.cosine += values.cosine;
            events.send(Event::Step(StepEvent {
                run,
                epoch,
                step,
                steps_total: total,
                loss: values,
                lr,
                examples_per_s: batch.len() as f64 / t0.elapsed().as_secs_f64().max(1e-9),
            }));
        }
        let Some(ev) = eval(&model)? else {
            finish(pending.take())?;
            let reason = Some(format!("stopped while evaluating epoch {epoch}, at step {step} of {total}"));
            return Ok(end(model, records, RunStatus::Stopped, reason, evaluation, paused));
        };
        evaluation = ev;
        let mean = |x: f64| Some(x / n_steps.max(1) as f64);
        let record = EpochRecord {
            epoch,
            train_loss: mean(sum.total),
            train_ce: mean(sum.ce),
            train_kl: if distilling { mean(sum.kl) } else { None },
            train_cosine: if distilling { mean(sum.cosine) } else { None },
            validation_loss: evaluation.loss,
            validation_accuracy: evaluation.accuracy,
        };
        events.send(Event::Epoch { run, record: record.clone() });
        records.push(record);
        on_epoch(&records, &evaluation, &model)?;
        if let Some(ck) = checkpoint.filter(|_| epoch < s.epochs) {
            let seconds = earlier_seconds + (started.elapsed() - paused).as_secs_f64();
            // One checkpoint at a time, in order: the previous one is on disk before this starts.
            finish(pending.take())?;
            pending = Some(ck.save_in_background(
                &model,
                &optim,
                Progress { epoch, step, records: &records, seconds, evaluation: &evaluation },
            ));
        }
    }
    finish(pending.take())?;
    Ok(end(model, records, RunStatus::Done, None, evaluation, paused))
}

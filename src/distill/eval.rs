//! Validation: mean cross-entropy, accuracy and per-example correctness.

use crate::ops::FastOps;
use burn::tensor::{Int, Tensor, TensorData};

use super::batched::{PhaseProgress, over_batches};
use super::loss::cross_entropy_each;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::BertClassifier;
use crate::tokenize::Padding;

#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Mean cross-entropy over the examples.
    pub loss: f64,
    pub accuracy: f64,
    /// Whether each example (in dataset order) was classified right.
    pub correct: Vec<bool>,
}

/// The smallest batch an evaluation runs in. Evaluation keeps no gradients, so a batch larger
/// than a small training batch costs little memory, and fewer, fuller batches pass over the
/// validation set faster (on a GPU each batch is a launch of every kernel). Larger training
/// batches are used as they are.
pub const EVAL_BATCH_MIN: usize = 32;

/// The batch size of an evaluation for a training batch size of `train_batch`.
pub fn eval_batch(train_batch: usize) -> usize {
    train_batch.max(EVAL_BATCH_MIN)
}

/// Runs `model` (on an inference backend: no dropout) over `data`, reporting to `watch`;
/// `None` when the user quit.
pub fn evaluate<B: FastOps>(
    model: &BertClassifier<B>,
    data: &Dataset,
    batch_size: usize,
    padding: Padding,
    device: &B::Device,
    watch: &PhaseProgress,
) -> Result<Option<Evaluation>> {
    let mut correct = vec![false; data.len()];
    let mut loss_sum = 0.0;
    let finished = over_batches(data, batch_size, padding, watch, |batch, tokens| {
        let labels: Vec<i64> = batch.iter().map(|&i| data.examples[i].label as i64).collect();
        let logits = model.forward(tokens.to_input::<B>(device)).logits;
        let y = Tensor::<B, 1, Int>::from_data(TensorData::new(labels.clone(), [labels.len()]), device);
        let ce: Vec<f32> = cross_entropy_each(logits.clone(), y)
            .into_data()
            .to_vec()
            .map_err(|e| Error::Internal(format!("{e:?}")))?;
        loss_sum += ce.iter().map(|&x| x as f64).sum::<f64>();
        let pred: Vec<i64> = logits.argmax(1).into_data().iter::<i64>().collect();
        for ((&i, &p), &y) in batch.iter().zip(&pred).zip(&labels) {
            correct[i] = p == y;
        }
        Ok(())
    })?;
    if !finished {
        return Ok(None);
    }
    let n = data.len().max(1) as f64;
    Ok(Some(Evaluation { loss: loss_sum / n, accuracy: correct.iter().filter(|c| **c).count() as f64 / n, correct }))
}

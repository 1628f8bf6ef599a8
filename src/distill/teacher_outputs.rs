//! The teacher's outputs on the training set. The teacher is frozen and runs without dropout,
//! so its logits (and [CLS] states) for an example never change: they are computed once and
//! reused by every run and epoch instead of a teacher forward pass in every step.

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use super::batched::{PhaseProgress, over_batches};
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::model::BertClassifier;
use crate::ops::FastOps;
use crate::tokenize::Padding;

/// Per-example teacher outputs, row `i` for example `i`.
#[derive(Debug, Clone)]
pub struct TeacherOutputs {
    pub num_labels: usize,
    pub logits: Vec<f32>,
    pub hidden: usize,
    /// Last-layer [CLS] states, when the cosine term uses them.
    pub cls: Option<Vec<f32>>,
}

impl TeacherOutputs {
    /// Reports to `watch` after each batch; `None` when the user quit.
    pub fn compute<B: FastOps>(
        teacher: &BertClassifier<B>,
        data: &Dataset,
        batch_size: usize,
        padding: Padding,
        with_cls: bool,
        device: &B::Device,
        watch: &PhaseProgress,
    ) -> Result<Option<Self>> {
        let n = data.len();
        let (mut logits, mut cls, mut num_labels, mut hidden) = (Vec::new(), Vec::new(), 0, 0);
        let mut rows: Vec<(usize, Vec<f32>, Vec<f32>)> = Vec::with_capacity(n);
        let finished = over_batches(data, batch_size, padding, watch, |batch, tokens| {
            let out = teacher.forward(tokens.to_input::<B>(device));
            num_labels = out.logits.dims()[1];
            hidden = out.cls_hidden.dims()[1];
            let l: Vec<f32> = out.logits.into_data().to_vec().map_err(|e| Error::Internal(format!("{e:?}")))?;
            let c: Vec<f32> = if with_cls {
                out.cls_hidden.into_data().to_vec().map_err(|e| Error::Internal(format!("{e:?}")))?
            } else {
                Vec::new()
            };
            for (k, &i) in batch.iter().enumerate() {
                let cls_row = if with_cls { c[k * hidden..(k + 1) * hidden].to_vec() } else { Vec::new() };
                rows.push((i, l[k * num_labels..(k + 1) * num_labels].to_vec(), cls_row));
            }
            Ok(())
        })?;
        if !finished {
            return Ok(None);
        }
        rows.sort_by_key(|r| r.0);
        for (_, l, c) in rows {
            logits.extend(l);
            cls.extend(c);
        }
        Ok(Some(Self { num_labels, logits, hidden, cls: with_cls.then_some(cls) }))
    }

    fn gather<B: Backend>(rows: &[f32], width: usize, idx: &[usize], device: &B::Device) -> Tensor<B, 2> {
        let mut v = Vec::with_capacity(idx.len() * width);
        for &i in idx {
            v.extend_from_slice(&rows[i * width..(i + 1) * width]);
        }
        Tensor::from_data(TensorData::new(v, [idx.len(), width]), device)
    }

    /// Teacher logits `[batch, labels]` for the examples `idx`.
    pub fn logits<B: Backend>(&self, idx: &[usize], device: &B::Device) -> Tensor<B, 2> {
        Self::gather(&self.logits, self.num_labels, idx, device)
    }

    /// Teacher [CLS] states `[batch, hidden]` for the examples `idx`, if they were computed.
    pub fn cls<B: Backend>(&self, idx: &[usize], device: &B::Device) -> Option<Tensor<B, 2>> {
        self.cls.as_ref().map(|c| Self::gather(c, self.hidden, idx, device))
    }
}

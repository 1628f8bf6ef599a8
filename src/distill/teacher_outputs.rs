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

/// The first bytes of a saved [`TeacherOutputs`] file.
const MAGIC: &[u8; 8] = b"DTTOUT01";

impl TeacherOutputs {
    /// Writes the outputs (little-endian: the magic, labels, hidden, examples, whether [CLS]
    /// states follow, then the f32 logits and states) to `path`, atomically.
    pub fn save(&self, path: &std::path::Path) -> Result<()> {
        let n = self.logits.len() / self.num_labels.max(1);
        let mut bytes = Vec::with_capacity(40 + 4 * (self.logits.len() + self.cls.as_ref().map_or(0, Vec::len)));
        bytes.extend_from_slice(MAGIC);
        for v in [self.num_labels, self.hidden, n, usize::from(self.cls.is_some())] {
            bytes.extend_from_slice(&(v as u64).to_le_bytes());
        }
        for x in self.logits.iter().chain(self.cls.iter().flatten()) {
            bytes.extend_from_slice(&x.to_le_bytes());
        }
        crate::atomic::write_atomic(path, |tmp| std::fs::write(tmp, &bytes).map_err(|e| Error::io(tmp, e)))
    }

    /// Reads outputs [`save`](Self::save) wrote for `examples` examples; `None` when the file
    /// is missing, cut short or of another shape (it is then computed again).
    pub fn load(path: &std::path::Path, examples: usize) -> Option<Self> {
        // A file of other processes': a regular file (never a FIFO) whose size is exactly what its
        // header says, read only then.
        use std::io::Read;
        let mut file = crate::input_file::open(path, false).ok()?;
        let len = file.metadata().ok()?.len();
        let mut header = [0u8; 40];
        file.read_exact(&mut header).ok()?;
        let rest = header.strip_prefix(MAGIC)?;
        let word = |i: usize| Some(u64::from_le_bytes(rest.get(8 * i..8 * i + 8)?.try_into().ok()?) as usize);
        let (num_labels, hidden, n, with_cls) = (word(0)?, word(1)?, word(2)?, word(3)? == 1);
        let cls_len = if with_cls { n.checked_mul(hidden)? } else { 0 };
        let floats_len = n.checked_mul(num_labels)?.checked_add(cls_len)?;
        if n != examples || len != 40 + 4 * floats_len as u64 {
            return None;
        }
        let mut bytes = Vec::with_capacity(4 * floats_len);
        file.take(4 * floats_len as u64).read_to_end(&mut bytes).ok()?;
        let floats: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        if floats.len() != floats_len {
            return None;
        }
        let (logits, cls) = floats.split_at(n * num_labels);
        Some(Self { num_labels, logits: logits.to_vec(), hidden, cls: with_cls.then(|| cls.to_vec()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saved_outputs_read_back_bit_for_bit_and_a_torn_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.bin");
        let logits = vec![0.1f32, -2.5, f32::MIN_POSITIVE, 3.0e7, 1.0 / 3.0, -0.0];
        let out = TeacherOutputs { num_labels: 2, logits, hidden: 2, cls: Some(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]) };
        out.save(&path).unwrap();
        let back = TeacherOutputs::load(&path, 3).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&back.logits), bits(&out.logits));
        assert_eq!(back.cls, out.cls);
        assert_eq!((back.num_labels, back.hidden), (2, 2));
        assert!(TeacherOutputs::load(&path, 4).is_none(), "another number of examples");
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
        assert!(TeacherOutputs::load(&path, 3).is_none(), "cut short");
        let no_cls = TeacherOutputs { cls: None, ..out };
        no_cls.save(&path).unwrap();
        assert_eq!(TeacherOutputs::load(&path, 3).unwrap().cls, None);
    }
}

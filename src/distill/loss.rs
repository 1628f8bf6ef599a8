//! The distillation objective: cross-entropy on the labels, KL to the teacher's softened
//! distribution, a cosine term, and their weighted mean.

use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use crate::experiment::LossWeights;

/// Mean cross-entropy of `logits` `[batch, labels]` against `labels` `[batch]`.
pub fn cross_entropy<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let batch = labels.dims()[0];
    let logp = log_softmax(logits, 1);
    logp.gather(1, labels.reshape([batch, 1])).mean().neg()
}

/// Per-example cross-entropy `[batch]`.
pub fn cross_entropy_each<B: Backend>(logits: Tensor<B, 2>, labels: Tensor<B, 1, Int>) -> Tensor<B, 1> {
    let batch = labels.dims()[0];
    log_softmax(logits, 1).gather(1, labels.reshape([batch, 1])).reshape([batch]).neg()
}

/// `KL(softmax(teacher/T) || softmax(student/T))`, summed over labels, averaged over the batch
/// ("batchmean"), times `T^2` (Hinton et al.), as `nn.KLDivLoss(reduction="batchmean")` gives it.
pub fn kl_divergence<B: Backend>(student: Tensor<B, 2>, teacher: Tensor<B, 2>, temperature: f64) -> Tensor<B, 1> {
    let batch = student.dims()[0] as f64;
    let log_ps = log_softmax(student / temperature, 1);
    let log_pt = log_softmax(teacher / temperature, 1);
    let pt = log_pt.clone().exp();
    (pt * (log_pt - log_ps)).sum() * (temperature * temperature / batch)
}

/// Mean of `1 - cos(a_i, b_i)` over the batch (`nn.CosineEmbeddingLoss` with target 1). Norms
/// are clamped at 1e-8 as `torch.cosine_similarity` does.
pub fn cosine_loss<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 1> {
    let dot = (a.clone() * b.clone()).sum_dim(1);
    let na = a.powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-8);
    let nb = b.powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-8);
    (dot / (na * nb)).neg().add_scalar(1.0).mean()
}

/// The three terms and their weighted mean, still as tensors (the total carries the graph).
pub struct LossTerms<B: Backend> {
    pub total: Tensor<B, 1>,
    pub ce: Tensor<B, 1>,
    pub kl: Tensor<B, 1>,
    pub cosine: Tensor<B, 1>,
}

use crate::events::LossValues;

/// `(w_ce * CE + w_kl * KL + w_cos * cosine) / (w_ce + w_kl + w_cos)`.
pub fn distillation_loss<B: Backend>(
    student_logits: Tensor<B, 2>,
    teacher_logits: Tensor<B, 2>,
    labels: Tensor<B, 1, Int>,
    cosine_pair: (Tensor<B, 2>, Tensor<B, 2>),
    temperature: f64,
    w: LossWeights,
) -> LossTerms<B> {
    let ce = cross_entropy(student_logits.clone(), labels);
    let kl = kl_divergence(student_logits, teacher_logits, temperature);
    let cosine = cosine_loss(cosine_pair.0, cosine_pair.1);
    let total = (ce.clone() * w.ce + kl.clone() * w.kl + cosine.clone() * w.cosine) / (w.ce + w.kl + w.cosine);
    LossTerms { total, ce, kl, cosine }
}

impl<B: Backend> LossTerms<B> {
    pub fn values(&self) -> LossValues {
        let v = |t: &Tensor<B, 1>| t.clone().into_scalar_f64();
        LossValues { total: v(&self.total), ce: v(&self.ce), kl: v(&self.kl), cosine: v(&self.cosine) }
    }
}

trait IntoF64 {
    fn into_scalar_f64(self) -> f64;
}

impl<B: Backend> IntoF64 for Tensor<B, 1> {
    fn into_scalar_f64(self) -> f64 {
        self.into_data().iter::<f64>().next().unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuBackend as B;
    use burn::tensor::TensorData;

    fn t2(v: &[[f32; 3]]) -> Tensor<B, 2> {
        let flat: Vec<f32> = v.iter().flatten().copied().collect();
        Tensor::from_data(TensorData::new(flat, [v.len(), 3]), &Default::default())
    }

    fn scalar(t: Tensor<B, 1>) -> f64 {
        t.into_data().iter::<f64>().next().unwrap()
    }

    #[test]
    fn cross_entropy_by_hand() {
        // logits [0, ln 2, ln 3]: softmax = [1/6, 2/6, 3/6]; label 2 -> ln 2, label 0 -> ln 6.
        let l = t2(&[[0.0, 2f32.ln(), 3f32.ln()], [0.0, 2f32.ln(), 3f32.ln()]]);
        let y = Tensor::<B, 1, Int>::from_ints([2, 0], &Default::default());
        let want = (2f64.ln() + 6f64.ln()) / 2.0;
        assert!((scalar(cross_entropy(l, y)) - want).abs() < 1e-6);
    }

    #[test]
    fn kl_by_hand_with_temperature() {
        // T = 2: teacher [0, 2 ln 3, 0]/2 -> softmax [1/5, 3/5, 1/5]; student 0s -> uniform 1/3.
        let s = t2(&[[0.0, 0.0, 0.0]]);
        let t = t2(&[[0.0, 2.0 * 3f32.ln(), 0.0]]);
        let p = [0.2f64, 0.6, 0.2];
        let kl: f64 = p.iter().map(|pi| pi * (pi / (1.0 / 3.0)).ln()).sum();
        assert!((scalar(kl_divergence(s, t, 2.0)) - kl * 4.0).abs() < 1e-6);
        // Identical distributions: 0.
        let same = t2(&[[1.0, -2.0, 0.5], [3.0, 0.0, 0.0]]);
        assert!(scalar(kl_divergence(same.clone(), same, 1.0)).abs() < 1e-6);
    }

    #[test]
    fn kl_is_batch_mean() {
        let s = t2(&[[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]);
        let t = t2(&[[0.0, 2.0 * 3f32.ln(), 0.0], [0.0, 0.0, 0.0]]);
        let p = [0.2f64, 0.6, 0.2];
        let one: f64 = p.iter().map(|pi| pi * (pi * 3.0).ln()).sum();
        assert!((scalar(kl_divergence(s, t, 2.0)) - one * 4.0 / 2.0).abs() < 1e-6);
    }

    #[test]
    fn cosine_by_hand() {
        // Parallel: 0; orthogonal: 1; opposite: 2. Mean = 1.
        let a = t2(&[[1.0, 2.0, 3.0], [1.0, 0.0, 0.0], [1.0, 1.0, 0.0]]);
        let b = t2(&[[2.0, 4.0, 6.0], [0.0, 5.0, 0.0], [-1.0, -1.0, 0.0]]);
        assert!((scalar(cosine_loss(a, b)) - 1.0).abs() < 1e-6);
    }

    #[test]
    fn total_is_the_weighted_mean() {
        let s = t2(&[[0.0, 2f32.ln(), 3f32.ln()]]);
        let t = t2(&[[1.0, 0.0, 0.0]]);
        let y = Tensor::<B, 1, Int>::from_ints([2], &Default::default());
        let w = LossWeights { ce: 1.0, kl: 2.0, cosine: 1.0 };
        let terms = distillation_loss(s.clone(), t.clone(), y, (t.clone(), s.clone()), 1.0, w);
        let v = terms.values();
        assert!((v.ce - 2f64.ln()).abs() < 1e-6);
        assert!((v.total - (v.ce + 2.0 * v.kl + v.cosine) / 4.0).abs() < 1e-6);
        // Hand values of the other two terms.
        let ps = [1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0];
        let e = std::f64::consts::E;
        let pt = [e / (e + 2.0), 1.0 / (e + 2.0), 1.0 / (e + 2.0)];
        let kl: f64 = (0..3).map(|i| pt[i] * (pt[i] / ps[i]).ln()).sum();
        assert!((v.kl - kl).abs() < 1e-5);
        let sv = [0.0, 2f64.ln(), 3f64.ln()];
        let cos = sv[0] / (sv.iter().map(|x| x * x).sum::<f64>().sqrt());
        assert!((v.cosine - (1.0 - cos)).abs() < 1e-6);
    }
}

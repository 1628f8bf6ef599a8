//! `distill-tui bench`: the time of one distillation step on random weights and tokens —
//! teacher forward without gradients, student forward, (CE + KL + cosine) / 3, backward and an
//! Adam update — with examples per second, achieved matmul GFLOP/s and peak memory.

use std::time::Instant;

use crate::ops::TrainBackend;
use burn::module::AutodiffModule;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::{Int, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::backend::BackendTask;
use crate::distill::loss::distillation_loss;
use crate::distill::student::build_student;
use crate::error::{Error, Result};
use crate::events::BackendInfo;
use crate::experiment::{LossWeights, Precision};
use crate::model::{BertClassifier, BertConfig, BertInput};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BenchShape {
    pub hidden: usize,
    pub layers: usize,
    pub batch: usize,
    pub seq: usize,
    pub steps: usize,
    /// The number format of the forward and backward passes (`training.precision`).
    pub precision: Precision,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BenchReport {
    pub backend: String,
    pub device: String,
    pub hidden: usize,
    pub teacher_layers: usize,
    pub student_layers: usize,
    pub batch: usize,
    pub seq: usize,
    pub steps: usize,
    pub precision: &'static str,
    pub step_s_median: f64,
    pub step_s_min: f64,
    /// The warm-up step, not counted: on a GPU it compiles and autotunes the kernels (less
    /// when the caches of an earlier run are found).
    pub first_step_s: f64,
    pub examples_per_s: f64,
    pub gflops: f64,
    pub peak_rss_mb: f64,
    /// Median seconds of each phase of a step (the backend is synchronized between phases).
    pub phases_s: Phases,
}

/// Where a step's time goes.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Phases {
    pub teacher_forward: f64,
    /// Student forward pass and the loss.
    pub student_forward: f64,
    pub backward: f64,
    pub optimizer: f64,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Matmul FLOPs of one encoder layer's forward pass on `batch` x `seq` tokens.
pub fn layer_forward_flops(hidden: usize, batch: usize, seq: usize) -> f64 {
    let (h, t) = (hidden as f64, (batch * seq) as f64);
    // Q, K, V and output projections: 4 * 2*T*h*h; FFN h->4h->h: 2 * 2*T*h*4h;
    // scores and weighted values: 2 * 2*batch*seq*seq*h.
    8.0 * t * h * h + 16.0 * t * h * h + 4.0 * (batch * seq * seq) as f64 * h
}

/// FLOPs of a step: teacher forward, student forward and backward (twice the forward).
pub fn step_flops(s: &BenchShape) -> f64 {
    let f = layer_forward_flops(s.hidden, s.batch, s.seq);
    s.layers as f64 * f + 3.0 * (s.layers / 2) as f64 * f
}

/// Peak resident memory of this process (Linux), in MB.
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

impl BenchShape {
    /// Every size in its range, and the step within `available` bytes of memory (when known),
    /// before anything is allocated.
    pub fn check(&self, available: Option<f64>) -> Result<()> {
        let s = self;
        let ok = s.hidden.is_multiple_of(64)
            && (64..=8192).contains(&s.hidden)
            && (2..=96).contains(&s.layers)
            && (1..=4096).contains(&s.batch)
            && (2..=512).contains(&s.seq)
            && (1..=100_000).contains(&s.steps);
        if !ok {
            return Err(Error::Input(
                "bench needs --hidden a multiple of 64 from 64 to 8192, --layers 2 to 96, --batch 1 to 4096, \
                 --seq 2 to 512 (BERT's positions), --steps 1 to 100000"
                    .into(),
            ));
        }
        let need = self.memory_estimate();
        if let Some(have) = available.filter(|&have| need > have) {
            return Err(Error::Input(format!(
                "bench at this size needs about {:.1} GB of memory and {:.1} GB are available; use smaller \
                 --hidden, --layers, --batch or --seq",
                need / 1e9,
                have / 1e9
            )));
        }
        Ok(())
    }

    /// Bytes a step needs, roughly: the teacher's weights, the student's with their gradients
    /// and Adam's two moments, and the activations kept for the backward pass.
    pub fn memory_estimate(&self) -> f64 {
        let (h, l, b, t) = (self.hidden as f64, self.layers as f64, self.batch as f64, self.seq as f64);
        let layer = 12.0 * h * h;
        let embeddings = 30522.0 * h;
        let weights = (l * layer + embeddings) + 4.0 * (l / 2.0 * layer + embeddings);
        let heads = h / 64.0;
        let activations = l / 2.0 * b * t * (12.0 * h + 2.0 * heads * t) + l * b * t * 4.0 * h;
        4.0 * (weights + activations)
    }
}

/// MemAvailable of /proc/meminfo, in bytes (Linux).
fn available_memory() -> Option<f64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<f64>().ok()? * 1024.0)
}

impl BackendTask for BenchShape {
    type Output = Result<BenchReport>;

    fn run<B: TrainBackend>(self, device: B::Device, info: BackendInfo) -> Result<BenchReport> {
        info.warn_on_stderr();
        let s = self;
        s.check(available_memory())?;
        let config = BertConfig::synthetic(30522, s.hidden, s.layers, s.hidden / 64, 4 * s.hidden, 3);
        let teacher = BertClassifier::<B>::new(&config, 1, &device).with_precision(s.precision);
        let layers: Vec<usize> = (1..=s.layers / 2).collect();
        let (mut student, _) = build_student(&teacher, &config, &layers);
        let teacher = teacher.valid();
        let mut optim = crate::distill::adam::optimizer::<B>();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let ids: Vec<i64> = (0..s.batch * s.seq).map(|_| rng.random_range(1000..30000)).collect();
        let labels: Vec<i64> = (0..s.batch).map(|_| rng.random_range(0..3)).collect();
        let int2 = |v: Vec<i64>| TensorData::new(v, [s.batch, s.seq]);
        let weights = LossWeights { ce: 1.0, kl: 1.0, cosine: 1.0 };
        let mut times = Vec::with_capacity(s.steps);
        let mut first_step_s = 0.0;
        let mut phases: [Vec<f64>; 4] = Default::default();
        let sync = || B::sync(&device).map_err(|e| Error::Backend(format!("{e:?}")));
        for step in 0..=s.steps {
            let t0 = Instant::now();
            let input = |d: &B::Device| BertInput::<B> {
                input_ids: Tensor::from_data(int2(ids.clone()), d),
                token_type_ids: Tensor::zeros([s.batch, s.seq], d),
                attention_mask: None,
            };
            let teacher_input = BertInput::<B::InnerBackend> {
                input_ids: Tensor::from_data(int2(ids.clone()), &device),
                token_type_ids: Tensor::zeros([s.batch, s.seq], &device),
                attention_mask: None,
            };
            let t_logits = Tensor::<B, 2>::from_inner(teacher.forward(teacher_input).logits);
            sync()?;
            let t1 = Instant::now();
            let out = student.forward(input(&device));
            let y = Tensor::<B, 1, Int>::from_data(TensorData::new(labels.clone(), [s.batch]), &device);
            let terms =
                distillation_loss(out.logits.clone(), t_logits.clone(), y, (out.logits, t_logits), 1.0, weights);
            sync()?;
            let t2 = Instant::now();
            let grads = GradientsParams::from_grads(terms.total.backward(), &student);
            sync()?;
            let t3 = Instant::now();
            student = optim.step(5e-5, student, grads);
            sync()?;
            if step == 0 {
                first_step_s = t0.elapsed().as_secs_f64();
            } else {
                times.push(t0.elapsed().as_secs_f64());
                for (v, (a, b)) in phases.iter_mut().zip([(t0, t1), (t1, t2), (t2, t3), (t3, Instant::now())]) {
                    v.push((b - a).as_secs_f64());
                }
            }
        }
        let mut sorted = times.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        let [tf, sf, bw, op] = phases.map(self::median);
        let phases_s = Phases { teacher_forward: tf, student_forward: sf, backward: bw, optimizer: op };
        Ok(BenchReport {
            backend: info.name.as_str().into(),
            device: info.describe(),
            hidden: s.hidden,
            teacher_layers: s.layers,
            student_layers: s.layers / 2,
            batch: s.batch,
            seq: s.seq,
            steps: s.steps,
            precision: s.precision.as_str(),
            step_s_median: median,
            step_s_min: sorted[0],
            first_step_s,
            examples_per_s: s.batch as f64 / median,
            gflops: step_flops(&s) / median / 1e9,
            peak_rss_mb: peak_rss_mb(),
            phases_s,
        })
    }
}

impl BenchReport {
    pub fn human(&self) -> String {
        format!(
            "distillation step, teacher {}x{} -> student {} layers, batch {} x {} tokens, {}, on {}:\n  median {:.3} s/step (min {:.3}, {} steps after 1 warm-up of {:.2} s)\n  {:.2} examples/s, {:.1} GFLOP/s (matmuls), peak RSS {:.0} MB\n  phases (medians): teacher forward {:.3} s, student forward + loss {:.3} s, backward {:.3} s, Adam {:.3} s\n",
            self.teacher_layers,
            self.hidden,
            self.student_layers,
            self.batch,
            self.seq,
            self.precision,
            self.device,
            self.step_s_median,
            self.step_s_min,
            self.steps,
            self.first_step_s,
            self.examples_per_s,
            self.gflops,
            self.peak_rss_mb,
            self.phases_s.teacher_forward,
            self.phases_s.student_forward,
            self.phases_s.backward,
            self.phases_s.optimizer
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flops_by_hand() {
        // hidden 64, batch 1, seq 2: T = 2; 24*T*h^2 = 196608; attention 4*1*4*64 = 1024.
        assert_eq!(layer_forward_flops(64, 1, 2), 196_608.0 + 1_024.0);
        let s = BenchShape { hidden: 64, layers: 4, batch: 1, seq: 2, steps: 1, precision: Precision::F32 };
        assert_eq!(step_flops(&s), (4.0 + 3.0 * 2.0) * 197_632.0);
    }

    #[test]
    fn a_tiny_bench_runs_and_reports() {
        let s = BenchShape { hidden: 64, layers: 2, batch: 2, seq: 8, steps: 2, precision: Precision::F32 };
        let r = crate::backend::run_on(crate::backend::BackendChoice::Cpu, s).unwrap().unwrap();
        assert_eq!((r.student_layers, r.steps), (1, 2));
        assert!(r.step_s_median > 0.0 && r.examples_per_s > 0.0 && r.gflops > 0.0);
        let p = r.phases_s;
        let sum = p.teacher_forward + p.student_forward + p.backward + p.optimizer;
        assert!([p.teacher_forward, p.student_forward, p.backward, p.optimizer].iter().all(|t| *t > 0.0));
        // The phases are medians of their own, so their sum is near the median step, not equal.
        assert!(sum <= 2.0 * r.step_s_min.max(r.step_s_median) + 1e-3, "{p:?} vs {}", r.step_s_median);
        assert!(r.peak_rss_mb > 1.0);
    }

    #[test]
    fn sizes_are_checked_before_anything_is_allocated() {
        let shape =
            |hidden, layers| BenchShape { hidden, layers, batch: 32, seq: 128, steps: 5, precision: Precision::F32 };
        assert!(shape(0, 12).check(None).is_err(), "0 is a multiple of 64 but no size");
        assert!(shape(96, 12).check(None).is_err());
        assert!(shape(384, 1).check(None).is_err());
        assert!(shape(10_000_000, 100).check(None).is_err());
        assert!(shape(384, 12).check(None).is_ok());
        // Measured peak RSS: 1.24 GB at 384/12, batch 32 x 128; 1.85 GB at 768/12, 32 x 32.
        let est = shape(384, 12).memory_estimate();
        assert!((1.1e9..1.6e9).contains(&est), "{est}");
        let est = BenchShape { hidden: 768, layers: 12, batch: 32, seq: 32, steps: 1, precision: Precision::F32 }
            .memory_estimate();
        assert!((1.6e9..2.3e9).contains(&est), "{est}");
        let err = shape(4096, 48).check(Some(8e9)).unwrap_err().to_string();
        assert!(err.contains("GB of memory and 8.0 GB are available"), "{err}");
        assert_eq!(shape(4096, 48).check(Some(8e9)).unwrap_err().exit_code(), 2);
    }
}

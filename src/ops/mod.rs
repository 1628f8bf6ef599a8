//! The operations of a BERT training step that burn 0.21 runs slowly on the CPU, as a backend
//! extension (burn's "custom backend operation" pattern): [`FastOps`] has a default for every
//! operation, written with burn's tensor operations, which any backend gets (burn-cuda and
//! burn-ndarray keep burn's own kernels and autodiff); burn-flex overrides them with fused,
//! multi-threaded kernels (`flex/`), and `Autodiff<Flex>` gives those kernels their own backward
//! passes (`autodiff.rs`), so that under autodiff they are not decomposed again into a dozen
//! single-threaded operations.
//!
//! Every override is tested against the default (values and gradients) in `tests.rs`.

mod autodiff;
mod flex;
pub mod reference;
pub mod rng;
mod simd;
#[cfg(test)]
mod tests;

use std::sync::OnceLock;

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor};

/// The operations burn-flex overrides, by the names `DISTILL_TUI_DEFAULT_OPS` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Linear,
    Attention,
    LayerNorm,
    Gelu,
    Dropout,
    Embedding,
    Adam,
}

impl Op {
    pub const ALL: [Op; 7] = [Op::Linear, Op::Attention, Op::LayerNorm, Op::Gelu, Op::Dropout, Op::Embedding, Op::Adam];

    pub fn name(self) -> &'static str {
        match self {
            Op::Linear => "linear",
            Op::Attention => "attention",
            Op::LayerNorm => "layer_norm",
            Op::Gelu => "gelu",
            Op::Dropout => "dropout",
            Op::Embedding => "embedding",
            Op::Adam => "adam",
        }
    }
}

/// The operations named in `spec` (comma-separated names, or `all`); unknown names are ignored.
pub fn parse_ops(spec: &str) -> Vec<Op> {
    let names: Vec<&str> = spec.split(',').map(str::trim).collect();
    Op::ALL.into_iter().filter(|op| names.contains(&"all") || names.contains(&op.name())).collect()
}

/// Whether `op` runs burn's own operation instead of the burn-flex kernel (for `linear`, burn's
/// `Linear` path, one product per batch item): the operations listed in the environment
/// variable `DISTILL_TUI_DEFAULT_OPS` (for example `linear,adam`, or `all`) do. It exists to measure what each kernel brings (`bench/ops_ablation.sh`) and as a way
/// around a kernel that misbehaves; results are the same within float rounding either way.
pub fn uses_default(op: Op) -> bool {
    static DEFAULTS: OnceLock<Vec<Op>> = OnceLock::new();
    DEFAULTS
        .get_or_init(|| std::env::var("DISTILL_TUI_DEFAULT_OPS").map(|s| parse_ops(&s)).unwrap_or_default())
        .contains(&op)
}

/// Adam's hyperparameters for [`FastOps::adam_step`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamHyper {
    pub lr: f64,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
}

/// Adam's state for one parameter tensor: its moments and the number of steps taken.
pub struct AdamMoments<B: Backend, const D: usize> {
    pub moment_1: Tensor<B, D>,
    pub moment_2: Tensor<B, D>,
    pub time: usize,
}

/// The operations the model and the optimizer use, each with a default written in burn's
/// tensor operations.
pub trait FastOps: Backend {
    /// Whether another thread may read this backend's tensors (to write a checkpoint) while
    /// this one trains on. True for burn-flex; burn-fusion's GPU backends track tensor handles
    /// per stream, and such a read raced with the optimizer's next step there ("Should have
    /// handle for tensor", seen on burn-wgpu), so the default is to read on the training thread.
    const READS_FROM_ANOTHER_THREAD: bool = false;

    /// `x @ weight + bias` over the last dimension; `x` is `[.., in]`, `weight` `[in, out]`.
    /// All leading dimensions are folded into one, so that one matrix product covers the batch.
    fn fast_linear<const D: usize>(
        x: Tensor<Self, D>,
        weight: Tensor<Self, 2>,
        bias: Option<Tensor<Self, 1>>,
    ) -> Tensor<Self, D> {
        reference::linear(x, weight, bias)
    }

    /// GELU in its exact form, `x * Φ(x)` (transformers' `"gelu"`).
    fn fast_gelu<const D: usize>(x: Tensor<Self, D>) -> Tensor<Self, D> {
        burn::tensor::activation::gelu(x)
    }

    /// `LayerNorm(x + residual)` over the last dimension (the residual is optional).
    fn fast_layer_norm(
        x: Tensor<Self, 3>,
        residual: Option<Tensor<Self, 3>>,
        gamma: Tensor<Self, 1>,
        beta: Tensor<Self, 1>,
        epsilon: f64,
    ) -> Tensor<Self, 3> {
        reference::layer_norm(x, residual, gamma, beta, epsilon)
    }

    /// Multi-head self-attention on projected `q`, `k`, `v` (`[batch, seq, hidden]`, heads
    /// side by side in the hidden dimension): `softmax(q k^T / sqrt(d) + mask) v`, with dropout
    /// on the attention probabilities when training, heads merged back into `[batch, seq,
    /// hidden]`. `key_bias` (`[batch, seq]`, 0 for tokens and a large negative number for
    /// padding) is added to every query's scores; `None` when the batch has no padding.
    fn fast_attention(
        q: Tensor<Self, 3>,
        k: Tensor<Self, 3>,
        v: Tensor<Self, 3>,
        key_bias: Option<Tensor<Self, 2>>,
        heads: usize,
        dropout: f64,
    ) -> Tensor<Self, 3> {
        reference::attention(q, k, v, key_bias, heads, dropout)
    }

    /// The rows of `weight` (`[rows, hidden]`) at `ids` (`[batch, seq]`): `[batch, seq, hidden]`.
    fn fast_embedding(weight: Tensor<Self, 2>, ids: Tensor<Self, 2, Int>) -> Tensor<Self, 3> {
        burn::tensor::module::embedding(weight, ids)
    }

    /// Dropout with probability `prob` when training (under autodiff), the identity otherwise.
    fn fast_dropout<const D: usize>(x: Tensor<Self, D>, prob: f64) -> Tensor<Self, D> {
        burn::nn::Dropout { prob }.forward(x)
    }

    /// One Adam update of `param` with `grad` (burn's `Adam`, same arithmetic): returns the new
    /// parameter and moments. `state` is `None` before the first step.
    fn adam_step<const D: usize>(
        param: Tensor<Self, D>,
        grad: Tensor<Self, D>,
        state: Option<AdamMoments<Self, D>>,
        hyper: AdamHyper,
    ) -> (Tensor<Self, D>, AdamMoments<Self, D>) {
        reference::adam_step(param, grad, state, hyper)
    }
}

/// A backend that trains: autodiff with [`FastOps`], over an inner backend with [`FastOps`]
/// (evaluation, the teacher's outputs and the optimizer run there).
pub trait TrainBackend: AutodiffBackend<InnerBackend: FastOps> + FastOps {}

impl<B> TrainBackend for B where B: AutodiffBackend<InnerBackend: FastOps> + FastOps {}

#[cfg(feature = "ndarray")]
impl FastOps for burn_ndarray::NdArray<f32> {}
#[cfg(feature = "ndarray")]
impl<C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy> FastOps
    for burn::backend::Autodiff<burn_ndarray::NdArray<f32>, C>
{
}

// burn-cuda and burn-wgpu keep burn's kernels: their fusion backend already merges elementwise
// work.
#[cfg(feature = "cuda")]
impl FastOps for burn_cuda::Cuda<f32, i32> {}
#[cfg(feature = "cuda")]
impl<C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy> FastOps
    for burn::backend::Autodiff<burn_cuda::Cuda<f32, i32>, C>
{
}
#[cfg(feature = "wgpu")]
impl FastOps for burn_wgpu::Wgpu<f32, i32> {}
#[cfg(feature = "wgpu")]
impl<C: burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy> FastOps
    for burn::backend::Autodiff<burn_wgpu::Wgpu<f32, i32>, C>
{
}

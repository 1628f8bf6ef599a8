//! The operations of [`FastOps`](super::FastOps) written with burn's tensor operations: the
//! defaults every backend gets, and what the burn-flex kernels are tested against.

use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{DType, Tensor, TensorPrimitive};

use super::{AdamHyper, AdamMoments};

/// `x @ weight + bias` with `x`'s leading dimensions folded into one (burn's `Linear` on a 3-D
/// input runs one matrix product per batch item and, in its backward pass, materializes a
/// `[batch, in, out]` weight gradient before summing it).
pub fn linear<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    weight: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, D> {
    let dims = x.dims();
    let d_in = dims[D - 1];
    let d_out = weight.dims()[1];
    let rows = dims[..D - 1].iter().product::<usize>();
    let y = x.reshape([rows, d_in]).matmul(weight);
    let y = match bias {
        Some(b) => y + b.unsqueeze_dim(0),
        None => y,
    };
    let mut out = dims;
    out[D - 1] = d_out;
    y.reshape(out)
}

/// `LayerNorm(x + residual)`, burn's layer norm.
pub fn layer_norm<B: Backend>(
    x: Tensor<B, 3>,
    residual: Option<Tensor<B, 3>>,
    gamma: Tensor<B, 1>,
    beta: Tensor<B, 1>,
    epsilon: f64,
) -> Tensor<B, 3> {
    let x = match residual {
        Some(r) => x + r,
        None => x,
    };
    Tensor::from_primitive(TensorPrimitive::Float(B::layer_norm(
        x.into_primitive().tensor(),
        gamma.into_primitive().tensor(),
        Some(beta.into_primitive().tensor()),
        epsilon,
    )))
}

/// Multi-head attention as transformers' BERT computes it: split heads, scaled scores plus the
/// mask, softmax, dropout, weighted values, merged heads. The two products run in the inputs'
/// number format; the mask, the softmax and the dropout in f32 (for bf16 inputs the scores
/// are widened, the probabilities narrowed back for the second product).
pub fn attention<B: Backend>(
    q: Tensor<B, 3>,
    k: Tensor<B, 3>,
    v: Tensor<B, 3>,
    key_bias: Option<Tensor<B, 2>>,
    heads: usize,
    dropout: f64,
) -> Tensor<B, 3> {
    let [batch, seq, hidden] = q.dims();
    let head_dim = hidden / heads;
    let split = |t: Tensor<B, 3>| t.reshape([batch, seq, heads, head_dim]).swap_dims(1, 2);
    let dtype = q.dtype();
    let scores = split(q).matmul(split(k).swap_dims(2, 3)) / (head_dim as f64).sqrt();
    let scores = scores.cast(DType::F32);
    let scores = match key_bias {
        Some(bias) => scores + bias.reshape([batch, 1, 1, seq]),
        None => scores,
    };
    let probs = burn::nn::Dropout { prob: dropout }.forward(softmax(scores, 3)).cast(dtype);
    probs.matmul(split(v)).swap_dims(1, 2).reshape([batch, seq, hidden])
}

/// burn-optim's `Adam` (no weight decay, no AMSGrad), operation for operation.
pub fn adam_step<B: Backend, const D: usize>(
    param: Tensor<B, D>,
    grad: Tensor<B, D>,
    state: Option<AdamMoments<B, D>>,
    h: AdamHyper,
) -> (Tensor<B, D>, AdamMoments<B, D>) {
    let (m1, m2, time) = match state {
        Some(s) => (
            s.moment_1.mul_scalar(h.beta_1).add(grad.clone().mul_scalar(1.0 - h.beta_1)),
            s.moment_2.mul_scalar(h.beta_2).add(grad.square().mul_scalar(1.0 - h.beta_2)),
            s.time + 1,
        ),
        None => (grad.clone().mul_scalar(1.0 - h.beta_1), grad.square().mul_scalar(1.0 - h.beta_2), 1),
    };
    let (factor, eps) = bias_correction(h, time);
    let update = m1.clone().mul_scalar(factor).div(m2.clone().sqrt().add_scalar(eps));
    let param = param - update.mul_scalar(h.lr);
    (param, AdamMoments { moment_1: m1, moment_2: m2, time })
}

/// Adam's bias corrections folded as burn folds them: the update is
/// `m1 * factor / (sqrt(m2) + eps)` with `factor = sqrt(1 - b2^t) / (1 - b1^t)` and
/// `eps = epsilon * sqrt(1 - b2^t)`, all in f32.
pub fn bias_correction(h: AdamHyper, time: usize) -> (f32, f32) {
    let t = time.min(i32::MAX as usize) as i32;
    let bc2_sqrt = (1.0 - h.beta_2.powi(t)).sqrt();
    (bc2_sqrt / (1.0 - h.beta_1.powi(t)), h.epsilon * bc2_sqrt)
}

//! [`FastOps`] under autodiff on burn-flex: each operation is one node of the graph whose
//! backward pass is a burn-flex kernel (`flex/`), instead of the dozen nodes burn's autodiff
//! would record for the decomposed operation. Each node keeps what its backward pass needs:
//! the inputs of a product, the probabilities of an attention, a dropout mask's seed.

use std::sync::Arc;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Int, Tensor, TensorPrimitive};
use burn_flex::{Flex, FlexTensor};

use super::flex::{attention, dropout, embedding, gelu, layer_norm, linear};
use super::{FastOps, Op, reference, rng, uses_default};

type Ad<C> = Autodiff<Flex, C>;

fn ad<C: CheckpointStrategy, const D: usize>(t: Tensor<Ad<C>, D>) -> FloatTensor<Ad<C>> {
    t.into_primitive().tensor()
}

fn from_ad<C: CheckpointStrategy, const D: usize>(p: FloatTensor<Ad<C>>) -> Tensor<Ad<C>, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

fn f32s_only<C: CheckpointStrategy, const D: usize>(t: &Tensor<Ad<C>, D>) -> bool {
    t.dtype() == DType::F32
}

/// Registers the gradient `$grad` for the parent `$node` when that parent needs one (and
/// computes it only then).
macro_rules! give {
    ($grads:expr, $node:expr, $grad:expr) => {
        if let Some(node) = $node {
            $grads.register::<Flex>(node.id, $grad);
        }
    };
}

#[derive(Debug)]
struct LinearBackward;

impl Backward<Flex, 3> for LinearBackward {
    /// The input and the weight.
    type State = (FlexTensor, FlexTensor);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px, pw, pb] = &ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (x, w) = ops.state;
        let x_dims = x.layout().shape().to_vec();
        give!(grads, px, linear::grad_x(&dy, &w, &x_dims));
        give!(grads, pw, linear::grad_w(&x, &dy));
        give!(grads, pb, linear::grad_b(&dy));
    }
}

#[derive(Debug)]
struct GeluBackward;

impl Backward<Flex, 1> for GeluBackward {
    type State = FlexTensor;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        give!(grads, &ops.parents[0], gelu::backward(&ops.state, dy));
    }
}

/// The input (`x + residual`), the per-row statistics and gamma.
type NormState = (FlexTensor, Arc<Vec<[f32; 2]>>, FlexTensor);

#[derive(Debug)]
struct AddNormBackward;

impl Backward<Flex, 4> for AddNormBackward {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px, pr, pg, pb] = &ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (input, stats, gamma) = ops.state;
        let (dx, dgamma, dbeta) = layer_norm::backward(&dy, &input, &stats, &gamma);
        give!(grads, pr, dx.clone());
        give!(grads, px, dx);
        give!(grads, pg, dgamma);
        give!(grads, pb, dbeta);
    }
}

#[derive(Debug)]
struct NormBackward;

impl Backward<Flex, 3> for NormBackward {
    type State = NormState;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [px, pg, pb] = &ops.parents;
        let dy = grads.consume::<Flex>(&ops.node);
        let (input, stats, gamma) = ops.state;
        let (dx, dgamma, dbeta) = layer_norm::backward(&dy, &input, &stats, &gamma);
        give!(grads, px, dx);
        give!(grads, pg, dgamma);
        give!(grads, pb, dbeta);
    }
}

#[derive(Debug)]
struct AttentionBackward;

impl Backward<Flex, 3> for AttentionBackward {
    /// q, k, v, the probabilities and the shape of the operation (with the dropout seed).
    type State = (FlexTensor, FlexTensor, FlexTensor, Arc<Vec<f32>>, attention::Spec);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [pq, pk, pv] = &ops.parents;
        let d_ctx = grads.consume::<Flex>(&ops.node);
        let (q, k, v, probs, spec) = ops.state;
        let (dq, dk, dv) = attention::backward(&d_ctx, &q, &k, &v, &probs, spec);
        give!(grads, pq, dq);
        give!(grads, pk, dk);
        give!(grads, pv, dv);
    }
}

#[derive(Debug)]
struct EmbeddingBackward;

impl Backward<Flex, 1> for EmbeddingBackward {
    /// The ids and the table's shape.
    type State = (Arc<Vec<u32>>, usize, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let (ids, rows, hidden) = ops.state;
        give!(grads, &ops.parents[0], embedding::backward(&dy, &ids, rows, hidden));
    }
}

#[derive(Debug)]
struct DropoutBackward;

impl Backward<Flex, 1> for DropoutBackward {
    /// The probability and the mask's seed.
    type State = (f64, u64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dy = grads.consume::<Flex>(&ops.node);
        let (prob, seed) = ops.state;
        give!(grads, &ops.parents[0], dropout::apply(dy, prob, seed));
    }
}

impl<C: CheckpointStrategy> FastOps for Ad<C> {
    const READS_FROM_ANOTHER_THREAD: bool = true;

    fn fast_linear<const D: usize>(
        x: Tensor<Self, D>,
        weight: Tensor<Self, 2>,
        bias: Option<Tensor<Self, 1>>,
    ) -> Tensor<Self, D> {
        if uses_default(Op::Linear) {
            return burn::tensor::module::linear(x, weight, bias);
        }
        let bias = match bias {
            Some(b) if f32s_only(&x) && f32s_only(&weight) && f32s_only(&b) => b,
            bias => return reference::linear(x, weight, bias),
        };
        let (x, w, b) = (ad(x), ad(weight), ad(bias));
        let out = linear::forward(&x.primitive, &w.primitive, Some(&b.primitive));
        from_ad(
            match LinearBackward
                .prepare::<C>([x.node.clone(), w.node.clone(), b.node.clone()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish((x.primitive, w.primitive), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            },
        )
    }

    fn fast_gelu<const D: usize>(x: Tensor<Self, D>) -> Tensor<Self, D> {
        if !f32s_only(&x) || uses_default(Op::Gelu) {
            return burn::tensor::activation::gelu(x);
        }
        let x = ad(x);
        let out = gelu::forward(x.primitive.clone());
        from_ad(match GeluBackward.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(x.primitive, out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        })
    }

    fn fast_layer_norm(
        x: Tensor<Self, 3>,
        residual: Option<Tensor<Self, 3>>,
        gamma: Tensor<Self, 1>,
        beta: Tensor<Self, 1>,
        epsilon: f64,
    ) -> Tensor<Self, 3> {
        let all_f32 = f32s_only(&x) && f32s_only(&gamma) && f32s_only(&beta) && residual.as_ref().is_none_or(f32s_only);
        if !all_f32 || uses_default(Op::LayerNorm) {
            return reference::layer_norm(x, residual, gamma, beta, epsilon);
        }
        let (x, g, b) = (ad(x), ad(gamma), ad(beta));
        let r = residual.map(ad);
        let f = layer_norm::forward(
            &x.primitive,
            r.as_ref().map(|r| &r.primitive),
            &g.primitive,
            &b.primitive,
            epsilon as f32,
        );
        let state = (f.input, Arc::new(f.stats), g.primitive.clone());
        from_ad(match r {
            Some(r) => {
                match AddNormBackward.prepare::<C>([x.node, r.node, g.node, b.node]).compute_bound().stateful() {
                    OpsKind::Tracked(prep) => prep.finish(state, f.out),
                    OpsKind::UnTracked(prep) => prep.finish(f.out),
                }
            }
            None => match NormBackward.prepare::<C>([x.node, g.node, b.node]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish(state, f.out),
                OpsKind::UnTracked(prep) => prep.finish(f.out),
            },
        })
    }

    fn fast_attention(
        q: Tensor<Self, 3>,
        k: Tensor<Self, 3>,
        v: Tensor<Self, 3>,
        key_bias: Option<Tensor<Self, 2>>,
        heads: usize,
        dropout: f64,
    ) -> Tensor<Self, 3> {
        let all_f32 = f32s_only(&q) && f32s_only(&k) && f32s_only(&v) && key_bias.as_ref().is_none_or(f32s_only);
        if !all_f32 || uses_default(Op::Attention) {
            return reference::attention(q, k, v, key_bias, heads, dropout);
        }
        let (q, k, v) = (ad(q), ad(k), ad(v));
        let bias = key_bias.map(|b| ad(b).primitive);
        let spec = attention::Spec { heads, dropout: (dropout > 0.0).then(|| (dropout, rng::next_seed())) };
        let (out, probs) = attention::forward(&q.primitive, &k.primitive, &v.primitive, bias.as_ref(), spec);
        from_ad(match AttentionBackward.prepare::<C>([q.node, k.node, v.node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((q.primitive, k.primitive, v.primitive, Arc::new(probs), spec), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        })
    }

    fn fast_embedding(weight: Tensor<Self, 2>, ids: Tensor<Self, 2, Int>) -> Tensor<Self, 3> {
        if !f32s_only(&weight) || uses_default(Op::Embedding) {
            return burn::tensor::module::embedding(weight, ids);
        }
        let [rows, hidden] = weight.dims();
        let id_dims = ids.dims();
        let ids = Arc::new(embedding::ids(&ids.into_primitive(), rows));
        let w = ad(weight);
        let out = embedding::forward(&w.primitive, &ids, &id_dims);
        from_ad(match EmbeddingBackward.prepare::<C>([w.node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((ids, rows, hidden), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        })
    }

    fn fast_dropout<const D: usize>(x: Tensor<Self, D>, prob: f64) -> Tensor<Self, D> {
        if prob <= 0.0 {
            return x;
        }
        if !f32s_only(&x) || uses_default(Op::Dropout) {
            return burn::nn::Dropout { prob }.forward(x);
        }
        let x = ad(x);
        let seed = rng::next_seed();
        // Written over x's buffer when nothing else holds it (the backward pass needs only the seed).
        let out = dropout::apply(x.primitive, prob, seed);
        from_ad(match DropoutBackward.prepare::<C>([x.node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((prob, seed), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        })
    }
}

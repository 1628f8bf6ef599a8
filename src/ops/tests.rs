//! Every burn-flex operation against its default (burn's own operations): values, and under
//! autodiff the gradients of every input, within 1e-5.

use burn::backend::Autodiff;
use burn::tensor::{Distribution, Tensor, TensorData};
use burn_flex::Flex;

use super::{AdamHyper, AdamMoments, FastOps, reference, rng};

type Ad = Autodiff<Flex>;

const TOL: f32 = 1e-5;

fn random<const D: usize>(shape: [usize; D], seed: u64, scale: f64) -> Tensor<Flex, D> {
    use rand::{Rng, SeedableRng};
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| (r.random::<f64>() * 2.0 - 1.0) as f32 * scale as f32).collect();
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

fn leaf<const D: usize>(t: &Tensor<Flex, D>) -> Tensor<Ad, D> {
    Tensor::from_inner(t.clone()).require_grad()
}

fn values<const D: usize>(t: Tensor<Flex, D>) -> Vec<f32> {
    t.into_data().to_vec().unwrap()
}

/// Equal within `tol`, relative to the magnitude for elements above 1 (sums over thousands of
/// products differ in their last bits with the order of the additions).
#[track_caller]
fn assert_close(what: &str, a: &[f32], b: &[f32], tol: f32) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs() / y.abs().max(1.0)).fold(0.0f32, f32::max);
    assert!(worst <= tol, "{what}: max difference {worst} > {tol}");
    assert!(a.iter().any(|x| *x != 0.0), "{what}: all zeros");
}

/// Runs `f` on fresh leaves made from `inputs` twice, as the fast operation and as the
/// reference, and compares the outputs and the gradients of a random weighting of the output.
fn check<const D: usize, const O: usize>(
    what: &str,
    inputs: &[Tensor<Flex, D>],
    fast: impl Fn(&[Tensor<Ad, D>]) -> Tensor<Ad, O>,
    slow: impl Fn(&[Tensor<Ad, D>]) -> Tensor<Ad, O>,
) {
    let run = |f: &dyn Fn(&[Tensor<Ad, D>]) -> Tensor<Ad, O>| {
        let leaves: Vec<Tensor<Ad, D>> = inputs.iter().map(leaf).collect();
        let out = f(&leaves);
        let weights = Tensor::<Ad, O>::from_inner(random(out.dims(), 99, 1.0));
        let grads = (out.clone() * weights).sum().backward();
        let g: Vec<Vec<f32>> = leaves.iter().map(|l| values(l.grad(&grads).expect("a gradient"))).collect();
        (values(out.inner()), g)
    };
    let (out_fast, grads_fast) = run(&fast);
    let (out_slow, grads_slow) = run(&slow);
    assert_close(&format!("{what}: values"), &out_fast, &out_slow, TOL);
    for (i, (a, b)) in grads_fast.iter().zip(&grads_slow).enumerate() {
        assert_close(&format!("{what}: gradient of input {i}"), a, b, TOL);
    }
}

#[test]
fn linear_matches_burn_on_3d_and_2d_inputs_and_transposed_weights() {
    let x = random([3, 5, 7], 1, 1.0);
    let w = random([7, 4], 2, 0.5);
    let b = random([4], 3, 0.5);
    let bias3 = |t: &[Tensor<Ad, 3>]| t[2].clone().reshape([4]);
    let w3 = |t: &[Tensor<Ad, 3>]| t[1].clone().reshape([7, 4]);
    let ins = [x.clone(), w.clone().reshape([1, 7, 4]), b.clone().reshape([1, 1, 4])];
    check(
        "linear 3-D",
        &ins,
        |t| Ad::fast_linear(t[0].clone(), w3(t), Some(bias3(t))),
        |t| reference::linear(t[0].clone(), w3(t), Some(bias3(t))),
    );
    // A weight stored transposed ([out, in], as PyTorch stores it) is read through its strides.
    let wt = random([4, 7], 4, 0.5);
    let ins = [x.clone().reshape([15, 7]), wt];
    let w2 = |t: &[Tensor<Ad, 2>]| t[1].clone().transpose();
    check(
        "linear 2-D, transposed weight",
        &ins,
        |t| Ad::fast_linear(t[0].clone(), w2(t), None),
        |t| reference::linear(t[0].clone(), w2(t), None),
    );
    // Enough rows for the weight gradient to be summed in parallel chunks.
    let ins = [random([2, 2500, 8], 30, 1.0), random([1, 8, 4], 31, 0.5), random([1, 1, 4], 32, 0.5)];
    let w8 = |t: &[Tensor<Ad, 3>]| t[1].clone().reshape([8, 4]);
    check(
        "linear, 5,000 rows",
        &ins,
        |t| Ad::fast_linear(t[0].clone(), w8(t), Some(bias3(t))),
        |t| reference::linear(t[0].clone(), w8(t), Some(bias3(t))),
    );
    // Without autodiff.
    let fast = values(Flex::fast_linear(x.clone(), w.clone(), Some(b.clone())));
    assert_close("linear (inference)", &fast, &values(reference::linear(x, w, Some(b))), TOL);
}

#[test]
fn gelu_matches_burn() {
    let x = random([2, 50, 33], 5, 6.0);
    check(
        "gelu",
        std::slice::from_ref(&x),
        |t| Ad::fast_gelu(t[0].clone()),
        |t| burn::tensor::activation::gelu(t[0].clone()),
    );
    assert_close(
        "gelu (inference)",
        &values(Flex::fast_gelu(x.clone())),
        &values(burn::tensor::activation::gelu(x)),
        TOL,
    );
}

#[test]
fn layer_norm_matches_burn_with_and_without_a_residual() {
    let x = random([2, 5, 48], 6, 3.0).add_scalar(1.5);
    let r = random([2, 5, 48], 7, 1.0);
    let g = random([1, 1, 48], 8, 1.0).add_scalar(1.0);
    let b = random([1, 1, 48], 9, 0.5);
    let v = |t: &Tensor<Ad, 3>| t.clone().reshape([48]);
    let ins = [x.clone(), r.clone(), g.clone(), b.clone()];
    check(
        "layer norm + residual",
        &ins,
        |t| Ad::fast_layer_norm(t[0].clone(), Some(t[1].clone()), v(&t[2]), v(&t[3]), 1e-12),
        |t| reference::layer_norm(t[0].clone(), Some(t[1].clone()), v(&t[2]), v(&t[3]), 1e-12),
    );
    let ins = [x.clone(), g.clone(), b.clone()];
    check(
        "layer norm",
        &ins,
        |t| Ad::fast_layer_norm(t[0].clone(), None, v(&t[1]), v(&t[2]), 1e-5),
        |t| reference::layer_norm(t[0].clone(), None, v(&t[1]), v(&t[2]), 1e-5),
    );
    let (g, b) = (g.reshape([48]), b.reshape([48]));
    let fast = values(Flex::fast_layer_norm(x.clone(), Some(r.clone()), g.clone(), b.clone(), 1e-12));
    assert_close("layer norm (inference)", &fast, &values(reference::layer_norm(x, Some(r), g, b, 1e-12)), TOL);
}

/// `[batch, seq]`: 0 for tokens, f32::MIN for the last `pad[b]` positions of item `b`.
fn key_bias(seq: usize, pad: &[usize]) -> Tensor<Flex, 2> {
    let v: Vec<f32> =
        pad.iter().flat_map(|&p| (0..seq).map(move |j| if j + p >= seq { f32::MIN } else { 0.0 })).collect();
    Tensor::from_data(TensorData::new(v, [pad.len(), seq]), &Default::default())
}

#[test]
fn attention_matches_burn_with_and_without_padding() {
    let (q, k, v) = (random([3, 7, 16], 10, 1.0), random([3, 7, 16], 11, 1.0), random([3, 7, 16], 12, 1.0));
    let ins = [q.clone(), k.clone(), v.clone()];
    for pad in [None, Some(vec![0, 2, 6])] {
        let bias = pad.as_ref().map(|p| key_bias(7, p));
        let ad_bias = || bias.clone().map(Tensor::<Ad, 2>::from_inner);
        check(
            &format!("attention, padding {pad:?}"),
            &ins,
            |t| Ad::fast_attention(t[0].clone(), t[1].clone(), t[2].clone(), ad_bias(), 4, 0.0),
            |t| reference::attention(t[0].clone(), t[1].clone(), t[2].clone(), ad_bias(), 4, 0.0),
        );
        let fast = values(Flex::fast_attention(q.clone(), k.clone(), v.clone(), bias.clone(), 4, 0.1));
        let slow = values(reference::attention(q.clone(), k.clone(), v.clone(), bias, 4, 0.0));
        assert_close("attention (inference: no dropout)", &fast, &slow, TOL);
    }
}

/// The dropout factors the fast operations draw for the next mask on this thread, as a tensor
/// (`seed_dropout(stream)` first).
fn mask<const D: usize>(shape: [usize; D], prob: f64, stream: u64) -> Tensor<Flex, D> {
    rng::seed_dropout(stream);
    let seed = rng::next_seed();
    let (t, scale) = (rng::threshold(prob), (1.0 / (1.0 - prob)) as f32);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|i| rng::factor(seed, i as u32, t, scale)).collect();
    Tensor::from_data(TensorData::new(v, shape), &Default::default())
}

#[test]
fn dropout_applies_its_hashed_mask_to_values_and_gradients() {
    let x = random([4, 9, 32], 13, 1.0);
    let m = mask([4, 9, 32], 0.25, 77);
    let dropped = values(m.clone()).iter().filter(|f| **f == 0.0).count() as f64 / m.shape().num_elements() as f64;
    assert!((dropped - 0.25).abs() < 0.03, "{dropped}");
    check(
        "dropout",
        std::slice::from_ref(&x),
        |t| {
            rng::seed_dropout(77);
            Ad::fast_dropout(t[0].clone(), 0.25)
        },
        |t| t[0].clone() * Tensor::from_inner(m.clone()),
    );
    // Not training: the identity.
    assert_eq!(values(Flex::fast_dropout(x.clone(), 0.25)), values(x));
}

#[test]
fn attention_dropout_drops_probabilities_with_the_same_mask_forward_and_backward() {
    let (q, k, v) = (random([2, 6, 16], 14, 1.0), random([2, 6, 16], 15, 1.0), random([2, 6, 16], 16, 1.0));
    let bias = key_bias(6, &[0, 3]);
    let m = mask([2, 2, 6, 6], 0.3, 5);
    // The reference with that mask on the probabilities.
    let masked = |t: &[Tensor<Ad, 3>]| {
        let split = |x: Tensor<Ad, 3>| x.reshape([2, 6, 2, 8]).swap_dims(1, 2);
        let scores = split(t[0].clone()).matmul(split(t[1].clone()).swap_dims(2, 3)) / 8f64.sqrt()
            + Tensor::<Ad, 2>::from_inner(bias.clone()).reshape([2, 1, 1, 6]);
        let probs = burn::tensor::activation::softmax(scores, 3) * Tensor::from_inner(m.clone());
        probs.matmul(split(t[2].clone())).swap_dims(1, 2).reshape([2, 6, 16])
    };
    check(
        "attention with dropout",
        &[q, k, v],
        |t| {
            rng::seed_dropout(5);
            Ad::fast_attention(t[0].clone(), t[1].clone(), t[2].clone(), Some(Tensor::from_inner(bias.clone())), 2, 0.3)
        },
        masked,
    );
}

#[test]
fn adam_is_burns_adam_bit_for_bit() {
    let h = AdamHyper { lr: 3e-3, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-8 };
    let (mut p_fast, mut p_slow) = (random([70_001], 17, 1.0), random([70_001], 17, 1.0));
    let (mut s_fast, mut s_slow): (Option<AdamMoments<Flex, 1>>, Option<AdamMoments<Flex, 1>>) = (None, None);
    for step in 0..4 {
        let g = random([70_001], 20 + step, 0.1);
        let (p, s) = Flex::adam_step(p_fast, g.clone(), s_fast, h);
        (p_fast, s_fast) = (p, Some(s));
        let (p, s) = reference::adam_step(p_slow, g, s_slow, h);
        (p_slow, s_slow) = (p, Some(s));
    }
    let (a, b) = (s_fast.unwrap(), s_slow.unwrap());
    assert_eq!((a.time, b.time), (4, 4));
    assert_eq!(values(p_fast), values(p_slow));
    assert_eq!(values(a.moment_1), values(b.moment_1));
    assert_eq!(values(a.moment_2), values(b.moment_2));
}

#[test]
fn a_tensor_shared_elsewhere_is_not_overwritten_by_adam() {
    let h = AdamHyper { lr: 0.1, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-8 };
    let p = random([100], 21, 1.0);
    let kept = p.clone();
    let before = values(kept.clone());
    let (updated, _) = Flex::adam_step(p, random([100], 22, 1.0), None, h);
    assert_eq!(values(kept), before);
    assert_ne!(values(updated), before);
}

#[test]
fn normal_random_inputs_give_finite_attention_at_a_realistic_size() {
    let q = Tensor::<Flex, 3>::random([2, 40, 64], Distribution::Normal(0.0, 3.0), &Default::default());
    let out = values(Flex::fast_attention(q.clone(), q.clone(), q, Some(key_bias(40, &[0, 39])), 4, 0.0));
    assert!(out.iter().all(|x| x.is_finite()));
}

#[test]
fn default_ops_are_named_by_a_comma_separated_list() {
    use super::{Op, parse_ops};
    assert_eq!(parse_ops("linear, adam"), vec![Op::Linear, Op::Adam]);
    assert_eq!(parse_ops("all"), Op::ALL.to_vec());
    assert_eq!(parse_ops("none"), vec![]);
    assert_eq!(parse_ops(""), vec![]);
}

#[test]
fn embedding_matches_burn_with_repeated_ids() {
    use burn::tensor::Int;
    let table = random([11, 6], 40, 1.0);
    let ids =
        || Tensor::<Ad, 2, Int>::from_data(TensorData::new(vec![3i64, 0, 3, 10, 7, 3], [2, 3]), &Default::default());
    check(
        "embedding",
        std::slice::from_ref(&table),
        |t| Ad::fast_embedding(t[0].clone(), ids()),
        |t| burn::tensor::module::embedding(t[0].clone(), ids()),
    );
    let flex_ids = Tensor::<Flex, 2, Int>::from_data(TensorData::new(vec![1i64, 2, 9], [1, 3]), &Default::default());
    let fast = values(Flex::fast_embedding(table.clone(), flex_ids.clone()));
    assert_close("embedding (inference)", &fast, &values(burn::tensor::module::embedding(table, flex_ids)), 0.0);
}

#[test]
#[should_panic(expected = "mismatched shapes")]
fn a_weight_of_the_wrong_size_panics_instead_of_reading_past_it() {
    let _ = Flex::fast_linear(random([2, 3, 8], 50, 1.0), random([6, 4], 51, 1.0), None);
}

#[test]
#[should_panic(expected = "different shapes")]
fn attention_operands_must_agree() {
    let q = random([2, 5, 16], 52, 1.0);
    let _ = Flex::fast_attention(q.clone(), random([2, 4, 16], 53, 1.0), q, None, 2, 0.0);
}

#[test]
fn an_empty_lookup_gives_a_zero_gradient_of_the_tables_shape() {
    use burn::tensor::Int;
    let table = leaf(&random([7, 5], 54, 1.0));
    let ids = Tensor::<Ad, 2, Int>::from_data(TensorData::new(Vec::<i64>::new(), [1, 0]), &Default::default());
    let out = Ad::fast_embedding(table.clone(), ids);
    assert_eq!(out.dims(), [1, 0, 5]);
    let grads = (out.sum() + table.clone().sum() * 0.0).backward();
    let g = table.grad(&grads).unwrap();
    assert_eq!(g.dims(), [7, 5]);
    assert!(values(g).iter().all(|x| *x == 0.0));
}

#[test]
fn nan_in_the_scores_stays_nan() {
    let mut q = values(random([1, 3, 8], 55, 1.0));
    q[0] = f32::NAN;
    let q = Tensor::<Flex, 3>::from_data(TensorData::new(q, [1, 3, 8]), &Default::default());
    let out = values(Flex::fast_attention(q.clone(), q.clone(), q, None, 2, 0.0));
    assert!(out.iter().any(|x| x.is_nan()), "a NaN query must not be hidden by the softmax");
}

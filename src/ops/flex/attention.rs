//! Multi-head self-attention in one operation per (batch item, head), all of them in parallel:
//! the heads are read in place from `[batch, seq, hidden]` through gemm's strides (no permuted
//! copies), the mask is added and the softmax taken row by row, dropout is a hashed mask
//! (regenerated in the backward pass, not stored), and the context is written straight into
//! the merged `[batch, seq, hidden]` layout. The backward pass keeps only the probabilities.

use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::gelu::exp_neg;
use super::{Mat, f32s, from_vec, gemm_raw};
use crate::ops::rng;
use crate::ops::simd::{max, output, sum_by, sum_by2, update, vectorized};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spec {
    pub heads: usize,
    /// Dropout on the probabilities: its probability and mask seed.
    pub dropout: Option<(f64, u64)>,
}

#[derive(Clone, Copy)]
struct Out(*mut f32);
// SAFETY: every task writes a disjoint block (its head's columns, its own probability rows).
unsafe impl Send for Out {}
unsafe impl Sync for Out {}

impl Out {
    fn at(self, offset: usize) -> *mut f32 {
        // SAFETY: offsets are computed within the buffers by the callers.
        unsafe { self.0.add(offset) }
    }
}

struct Shape {
    batch: usize,
    seq: usize,
    hidden: usize,
    heads: usize,
    head_dim: usize,
}

impl Shape {
    /// The shape of `q`, which every other operand must have too.
    fn of(q: &FlexTensor, others: &[&FlexTensor], heads: usize) -> Self {
        let d = q.layout().shape().to_vec();
        for t in others {
            assert_eq!(t.layout().shape().to_vec(), d, "attention operands of different shapes");
        }
        assert_eq!(d.len(), 3, "attention takes [batch, seq, hidden]");
        assert!(heads > 0 && d[2].is_multiple_of(heads), "hidden size {} is not a multiple of {heads} heads", d[2]);
        Shape { batch: d[0], seq: d[1], hidden: d[2], heads, head_dim: d[2] / heads }
    }

    /// Where head `h` of batch item `b` starts in a `[batch, seq, hidden]` tensor.
    fn head(&self, b: usize, h: usize) -> usize {
        b * self.seq * self.hidden + h * self.head_dim
    }

    fn scale(&self) -> f32 {
        1.0 / (self.head_dim as f32).sqrt()
    }
}

/// The dropout factors of one row of probabilities (task `task`, query row `i`): `f(j, factor)`
/// for each column `j` (call inside `vectorized`).
#[inline(always)]
/// Head `task`'s `[n, n]` probabilities with its dropout mask applied (the same mask in the
/// forward and the backward pass); `None` without dropout.
fn dropped_probs(spec: &Spec, s: &Shape, task: usize, p: &[f32], n: usize) -> Option<Vec<f32>> {
    spec.dropout?;
    let mut dropped = output(n * n);
    vectorized(
        #[inline(always)]
        || {
            for (i, (row, out)) in p.chunks_exact(n).zip(dropped.chunks_exact_mut(n)).enumerate() {
                dropout_factors(
                    spec,
                    s,
                    task,
                    i,
                    n,
                    #[inline(always)]
                    |j, f| out[j] = row[j] * f,
                );
            }
        },
    );
    Some(dropped)
}

fn dropout_factors(spec: &Spec, s: &Shape, task: usize, i: usize, n: usize, mut f: impl FnMut(usize, f32)) {
    if let Some((p, seed)) = spec.dropout {
        let (t, scale) = (rng::threshold(p), if p < 1.0 { (1.0 / (1.0 - p)) as f32 } else { 0.0 });
        let base = ((task * s.seq + i) * s.seq) as u32;
        for j in 0..n {
            f(j, rng::factor(seed, base.wrapping_add(j as u32), t, scale));
        }
    }
}

/// The context `[batch, seq, hidden]` and the attention probabilities `[batch, heads, seq,
/// seq]` (before dropout).
pub fn forward(
    q: &FlexTensor,
    k: &FlexTensor,
    v: &FlexTensor,
    key_bias: Option<&FlexTensor>,
    spec: Spec,
) -> (FlexTensor, Vec<f32>) {
    let (q, k, v) = (q.to_contiguous(), k.to_contiguous(), v.to_contiguous());
    let s = Shape::of(&q, &[&k, &v], spec.heads);
    let bias = key_bias.map(|b| b.to_contiguous());
    let (qs, ks, vs) = (f32s(&q), f32s(&k), f32s(&v));
    let bias = bias.as_ref().map(f32s);
    assert!(bias.is_none_or(|b| b.len() == s.batch * s.seq), "the attention mask must be [batch, seq]");
    let n = s.seq;
    let mut probs = output(s.batch * s.heads * n * n);
    let mut ctx = output(qs.len());
    let ctx_out = Out(ctx.as_mut_ptr());
    probs.par_chunks_mut((n * n).max(1)).enumerate().for_each(|(task, p)| {
        let (b, h) = (task / s.heads, task % s.heads);
        let at = s.head(b, h);
        // SAFETY: p is [n, n]; q and k heads are [n, head_dim] with row stride hidden.
        unsafe {
            gemm_raw(
                p.as_mut_ptr(),
                n as isize,
                false,
                Mat::strided(qs, at, s.hidden, 1, n, s.head_dim),
                Mat::strided(ks, at, s.hidden, 1, n, s.head_dim).t(),
                s.scale(),
                gemm::Parallelism::None,
            );
        }
        let bias = bias.map(|bias| &bias[b * n..(b + 1) * n]);
        vectorized(
            #[inline(always)]
            || {
                for row in p.chunks_exact_mut(n) {
                    softmax_row(row, bias);
                }
            },
        );
        let dropped = dropped_probs(&spec, &s, task, p, n);
        let lhs = Mat::strided(dropped.as_deref().unwrap_or(p), 0, n, 1, n, n);
        // SAFETY: this task alone writes head h's columns of batch item b.
        unsafe {
            gemm_raw(
                ctx_out.at(at),
                s.hidden as isize,
                false,
                lhs,
                Mat::strided(vs, at, s.hidden, 1, n, s.head_dim),
                1.0,
                gemm::Parallelism::None,
            );
        }
    });
    (from_vec(ctx, vec![s.batch, s.seq, s.hidden]), probs)
}

/// `row = softmax(row + bias)` in place (call inside `vectorized`).
#[inline(always)]
fn softmax_row(row: &mut [f32], bias: Option<&[f32]>) {
    if let Some(bias) = bias {
        update(
            row,
            bias,
            #[inline(always)]
            |x, b| x + b,
        );
    }
    let m = max(row);
    for x in row.iter_mut() {
        *x = exp_neg(*x - m);
    }
    let inv = 1.0
        / sum_by(
            row,
            #[inline(always)]
            |x| x,
        );
    for x in row.iter_mut() {
        *x *= inv;
    }
}

/// Gradients of `q`, `k` and `v` from the context's gradient.
pub fn backward(
    d_ctx: &FlexTensor,
    q: &FlexTensor,
    k: &FlexTensor,
    v: &FlexTensor,
    probs: &[f32],
    spec: Spec,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (d_ctx, q, k, v) = (d_ctx.to_contiguous(), q.to_contiguous(), k.to_contiguous(), v.to_contiguous());
    let s = Shape::of(&q, &[&k, &v, &d_ctx], spec.heads);
    let (dc, qs, ks, vs) = (f32s(&d_ctx), f32s(&q), f32s(&k), f32s(&v));
    let n = s.seq;
    let (mut dq, mut dk, mut dv) = (output(qs.len()), output(qs.len()), output(qs.len()));
    let (dq_out, dk_out, dv_out) = (Out(dq.as_mut_ptr()), Out(dk.as_mut_ptr()), Out(dv.as_mut_ptr()));
    (0..s.batch * s.heads).into_par_iter().for_each(|task| {
        let (b, h) = (task / s.heads, task % s.heads);
        let at = s.head(b, h);
        let p = &probs[task * n * n..(task + 1) * n * n];
        let dropped = dropped_probs(&spec, &s, task, p, n);
        let p_used = dropped.as_deref().unwrap_or(p);
        // dv = p_used^T @ d_ctx;  dp = d_ctx @ v^T
        let mut dp = output(n * n);
        // SAFETY: this task alone writes head h's columns of batch item b in dv; dp is [n, n].
        unsafe {
            gemm_raw(
                dv_out.at(at),
                s.hidden as isize,
                false,
                Mat::strided(p_used, 0, n, 1, n, n).t(),
                Mat::strided(dc, at, s.hidden, 1, n, s.head_dim),
                1.0,
                gemm::Parallelism::None,
            );
            gemm_raw(
                dp.as_mut_ptr(),
                n as isize,
                false,
                Mat::strided(dc, at, s.hidden, 1, n, s.head_dim),
                Mat::strided(vs, at, s.hidden, 1, n, s.head_dim).t(),
                1.0,
                gemm::Parallelism::None,
            );
        }
        // Through dropout (the same factors), then softmax: ds = p * (dp - sum(p * dp)).
        vectorized(
            #[inline(always)]
            || {
                for (i, (dp_row, p_row)) in dp.chunks_exact_mut(n).zip(p.chunks_exact(n)).enumerate() {
                    dropout_factors(
                        &spec,
                        &s,
                        task,
                        i,
                        n,
                        #[inline(always)]
                        |j, f| dp_row[j] *= f,
                    );
                    let dot = sum_by2(
                        dp_row,
                        p_row,
                        #[inline(always)]
                        |a, b| a * b,
                    );
                    update(
                        dp_row,
                        p_row,
                        #[inline(always)]
                        |d, p| p * (d - dot),
                    );
                }
            },
        );
        // dq = ds @ k * scale;  dk = ds^T @ q * scale
        // SAFETY: this task alone writes head h's columns of batch item b in dq and dk.
        unsafe {
            gemm_raw(
                dq_out.at(at),
                s.hidden as isize,
                false,
                Mat::strided(&dp, 0, n, 1, n, n),
                Mat::strided(ks, at, s.hidden, 1, n, s.head_dim),
                s.scale(),
                gemm::Parallelism::None,
            );
            gemm_raw(
                dk_out.at(at),
                s.hidden as isize,
                false,
                Mat::strided(&dp, 0, n, 1, n, n).t(),
                Mat::strided(qs, at, s.hidden, 1, n, s.head_dim),
                s.scale(),
                gemm::Parallelism::None,
            );
        }
    });
    let shape = vec![s.batch, s.seq, s.hidden];
    (from_vec(dq, shape.clone()), from_vec(dk, shape.clone()), from_vec(dv, shape))
}

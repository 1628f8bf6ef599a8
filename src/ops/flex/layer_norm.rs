//! `LayerNorm(x + residual)` over the last dimension in one pass per row, and its backward
//! pass with the gamma and beta gradients summed in a fixed order.

use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::{f32s, from_vec};
use crate::ops::simd::{map2, output, rows_per_task, sum_by, sum_by3, update, vectorized};

/// What the backward pass needs besides the output.
pub struct Forward {
    pub out: FlexTensor,
    /// `x + residual` (or `x`), `[.., width]`.
    pub input: FlexTensor,
    /// Per row: the mean and 1/sqrt(variance + eps).
    pub stats: Vec<[f32; 2]>,
}

pub fn forward(
    x: &FlexTensor,
    residual: Option<&FlexTensor>,
    gamma: &FlexTensor,
    beta: &FlexTensor,
    eps: f32,
) -> Forward {
    let x = x.to_contiguous();
    let shape = x.layout().shape().to_vec();
    let width = *shape.last().unwrap();
    let input = match residual {
        Some(r) => {
            let r = r.to_contiguous();
            let (a, b) = (f32s(&x), f32s(&r));
            assert_eq!(a.len(), b.len(), "a residual of another shape than the layer norm's input");
            let mut s = output(a.len());
            s.par_chunks_mut(16 * 1024).enumerate().for_each(|(i, out)| {
                let o = i * 16 * 1024;
                let (a, b) = (&a[o..o + out.len()], &b[o..o + out.len()]);
                vectorized(
                    #[inline(always)]
                    || {
                        map2(
                            out,
                            a,
                            b,
                            #[inline(always)]
                            |a, b| a + b,
                        )
                    },
                );
            });
            from_vec(s, shape.clone())
        }
        None => x,
    };
    let (gamma, beta) = (gamma.to_contiguous(), beta.to_contiguous());
    let (src, g, b) = (f32s(&input), f32s(&gamma), f32s(&beta));
    assert!(
        g.len() == width && b.len() == width,
        "layer norm over {width} features with {} gammas and {} betas",
        g.len(),
        b.len()
    );
    if src.is_empty() {
        return Forward { out: from_vec(Vec::new(), shape), input, stats: Vec::new() };
    }
    let rows = src.len() / width;
    let mut out = output(src.len());
    let mut stats = vec![[0.0f32; 2]; rows];
    let per = rows_per_task(rows, width);
    out.par_chunks_mut(per * width).zip(stats.par_chunks_mut(per)).enumerate().for_each(|(c, (out, stats))| {
        let first = c * per;
        vectorized(
            #[inline(always)]
            || {
                for (r, st) in stats.iter_mut().enumerate() {
                    let s = &src[(first + r) * width..(first + r + 1) * width];
                    let o = &mut out[r * width..(r + 1) * width];
                    let mean = sum_by(
                        s,
                        #[inline(always)]
                        |v| v,
                    ) / width as f32;
                    let var = sum_by(
                        s,
                        #[inline(always)]
                        |v| (v - mean) * (v - mean),
                    ) / width as f32;
                    let rstd = 1.0 / (var + eps).sqrt();
                    let (g, b) = (&g[..width], &b[..width]);
                    for i in 0..width {
                        o[i] = (s[i] - mean) * rstd * g[i] + b[i];
                    }
                    *st = [mean, rstd];
                }
            },
        );
    });
    Forward { out: from_vec(out, shape), input, stats }
}

/// Gradients of the input (`x` and the residual alike), gamma and beta.
pub fn backward(
    dy: &FlexTensor,
    input: &FlexTensor,
    stats: &[[f32; 2]],
    gamma: &FlexTensor,
) -> (FlexTensor, FlexTensor, FlexTensor) {
    let (dy, gamma) = (dy.to_contiguous(), gamma.to_contiguous());
    let shape = input.layout().shape().to_vec();
    let width = *shape.last().unwrap();
    let (dy_s, src, g) = (f32s(&dy), f32s(input), f32s(&gamma));
    assert_eq!(dy_s.len(), src.len(), "a gradient of another shape than the layer norm's output");
    if src.is_empty() {
        return (
            from_vec(Vec::new(), shape),
            from_vec(vec![0.0; width], vec![width]),
            from_vec(vec![0.0; width], vec![width]),
        );
    }
    let mut dx = output(src.len());
    // Fixed chunks of rows, partial sums added in chunk order: independent of the thread count.
    const CHUNK: usize = 64;
    let partials: Vec<Vec<f32>> = dx
        .par_chunks_mut(CHUNK * width)
        .enumerate()
        .map(|(c, dx)| {
            let first = c * CHUNK;
            let mut acc = vec![0.0f32; 2 * width];
            let (dgamma, dbeta) = acc.split_at_mut(width);
            vectorized(
                #[inline(always)]
                || {
                    let (g, dgamma, dbeta) = (&g[..width], &mut dgamma[..width], &mut dbeta[..width]);
                    for r in 0..dx.len() / width {
                        let [mean, rstd] = stats[first + r];
                        let s = &src[(first + r) * width..(first + r + 1) * width];
                        let dy = &dy_s[(first + r) * width..(first + r + 1) * width];
                        let dx = &mut dx[r * width..(r + 1) * width];
                        let sum_g = sum_by3(
                            s,
                            dy,
                            g,
                            #[inline(always)]
                            |_, d, gm| d * gm,
                        );
                        let sum_gx = sum_by3(
                            s,
                            dy,
                            g,
                            #[inline(always)]
                            |v, d, gm| d * gm * ((v - mean) * rstd),
                        );
                        let (mean_g, mean_gx) = (sum_g / width as f32, sum_gx / width as f32);
                        for i in 0..width {
                            let xhat = (s[i] - mean) * rstd;
                            dgamma[i] += dy[i] * xhat;
                            dbeta[i] += dy[i];
                            dx[i] = rstd * (dy[i] * g[i] - mean_g - xhat * mean_gx);
                        }
                    }
                },
            );
            acc
        })
        .collect();
    let mut sums = vec![0.0f32; 2 * width];
    for p in &partials {
        vectorized(
            #[inline(always)]
            || {
                update(
                    &mut sums,
                    p,
                    #[inline(always)]
                    |s, x| s + x,
                )
            },
        );
    }
    let dbeta = sums.split_off(width);
    (from_vec(dx, shape), from_vec(sums, vec![width]), from_vec(dbeta, vec![width]))
}

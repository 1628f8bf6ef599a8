//! Running loops with the CPU's widest vectors and on every core, deterministically.

use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

struct Vectorized<F>(F);

impl<R, F: FnOnce() -> R> WithSimd for Vectorized<F> {
    type Output = R;

    #[inline(always)]
    fn with_simd<S: Simd>(self, _simd: S) -> R {
        (self.0)()
    }
}

/// Runs `f` compiled for the best instruction set this CPU has (AVX-512, AVX2+FMA, or the
/// baseline), chosen at run time by pulp: plain loops inside `f` (and `#[inline(always)]`
/// functions it calls) are auto-vectorized for it.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    Arch::new().dispatch(Vectorized(f))
}

/// Rows per task for row-wise work on `[rows, width]`: tasks of at least ~16K elements, so
/// that small tensors stay on one thread.
pub fn rows_per_task(rows: usize, width: usize) -> usize {
    (16 * 1024 / width.max(1)).clamp(1, rows.max(1))
}

/// Calls `f(first_row, out_rows)` on chunks of `out` (`[rows, width]`), in parallel.
pub fn for_rows(out: &mut [f32], width: usize, f: impl Fn(usize, &mut [f32]) + Sync + Send) {
    let rows = out.len() / width.max(1);
    let per = rows_per_task(rows, width);
    out.par_chunks_mut(per * width).enumerate().for_each(|(i, chunk)| f(i * per, chunk));
}

/// Sums `f(first_row, rows)` partial column sums (each `[width]`) over fixed chunks of rows
/// and adds them in chunk order: the result does not depend on the number of threads.
pub fn column_sums(rows: usize, width: usize, parts: usize, f: impl Fn(usize, usize, &mut [f32]) + Sync + Send) -> Vec<f32> {
    const CHUNK: usize = 64;
    let chunks = rows.div_ceil(CHUNK);
    let partial: Vec<Vec<f32>> = (0..chunks)
        .into_par_iter()
        .map(|c| {
            let mut acc = vec![0.0f32; width * parts];
            let first = c * CHUNK;
            f(first, CHUNK.min(rows - first), &mut acc);
            acc
        })
        .collect();
    let mut total = vec![0.0f32; width * parts];
    for p in &partial {
        vectorized(|| total.iter_mut().zip(p).for_each(|(t, x)| *t += x));
    }
    total
}

/// A vector of `n` floats whose contents the caller overwrites entirely before reading.
pub fn output(n: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(n);
    // SAFETY: f32 has no invalid bit patterns, and every caller writes all `n` elements before
    // any is read (burn-flex allocates its outputs the same way); skipping the zero fill saves
    // a pass over memory per operation.
    #[allow(clippy::uninit_vec)]
    unsafe {
        v.set_len(n)
    };
    v
}

/// Lanes of the vectorizable sums below: 16 independent accumulators added in a fixed order,
/// so that the loops vectorize and the result is the same on every CPU.
const LANES: usize = 16;

#[inline(always)]
fn finish(acc: [f32; LANES], tail: f32) -> f32 {
    let mut s = 0.0;
    for a in acc {
        s += a;
    }
    s + tail
}

/// `sum(f(a_i))`.
#[inline(always)]
pub fn sum_by(a: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = a.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().map(|&x| f(x)).sum();
    for c in chunks {
        for l in 0..LANES {
            acc[l] += f(c[l]);
        }
    }
    finish(acc, tail)
}

/// `sum(f(a_i, b_i))`.
#[inline(always)]
pub fn sum_by2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(&x, &y)| f(x, y)).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += f(x[l], y[l]);
        }
    }
    finish(acc, tail)
}

/// `sum(f(a_i, b_i, c_i))`.
#[inline(always)]
pub fn sum_by3(a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len()).min(c.len());
    let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
    let mut acc = [0.0f32; LANES];
    let (ca, cb, cc) = (a.chunks_exact(LANES), b.chunks_exact(LANES), c.chunks_exact(LANES));
    let tail: f32 =
        ca.remainder().iter().zip(cb.remainder()).zip(cc.remainder()).map(|((&x, &y), &z)| f(x, y, z)).sum();
    for ((x, y), z) in ca.zip(cb).zip(cc) {
        for l in 0..LANES {
            acc[l] += f(x[l], y[l], z[l]);
        }
    }
    finish(acc, tail)
}

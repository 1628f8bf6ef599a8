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
    if out.is_empty() || width == 0 {
        return;
    }
    let rows = out.len() / width;
    let per = rows_per_task(rows, width);
    out.par_chunks_mut(per * width).enumerate().for_each(|(i, chunk)| f(i * per, chunk));
}

/// Sums `f(first_row, rows)` partial column sums (each `[width]`) over fixed chunks of rows
/// and adds them in chunk order: the result does not depend on the number of threads.
pub fn column_sums(
    rows: usize,
    width: usize,
    parts: usize,
    f: impl Fn(usize, usize, &mut [f32]) + Sync + Send,
) -> Vec<f32> {
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
        vectorized(
            #[inline(always)]
            || {
                update(
                    &mut total,
                    p,
                    #[inline(always)]
                    |t, x| t + x,
                )
            },
        );
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

// The loops below are plain index loops with their lengths checked up front: inside
// `vectorized` they are compiled for the CPU's vectors only if they end up inlined into it, and
// iterator adapters (`zip().for_each()`) are often left as calls to their `fold`, compiled
// without. Callers pass `#[inline(always)]` closures.

/// `out[i] = f(a[i], b[i])`.
#[inline(always)]
pub fn map2(out: &mut [f32], a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) {
    let n = out.len();
    let (a, b) = (&a[..n], &b[..n]);
    for i in 0..n {
        out[i] = f(a[i], b[i]);
    }
}

/// `out[i] = f(out[i])`.
#[inline(always)]
pub fn update_each(out: &mut [f32], f: impl Fn(f32) -> f32) {
    for x in out.iter_mut() {
        *x = f(*x);
    }
}

/// `out[i] = f(out[i], a[i])`.
#[inline(always)]
pub fn update(out: &mut [f32], a: &[f32], f: impl Fn(f32, f32) -> f32) {
    let n = out.len();
    let a = &a[..n];
    for i in 0..n {
        out[i] = f(out[i], a[i]);
    }
}

/// Lanes of the vectorizable reductions below: 16 independent accumulators combined in a
/// fixed order, so that the loops vectorize and the result is the same on every CPU.
const LANES: usize = 16;

/// `sum(f(a[i], b[i], c[i]))` over the shortest of the three.
#[inline(always)]
pub fn sum_by3(a: &[f32], b: &[f32], c: &[f32], f: impl Fn(f32, f32, f32) -> f32) -> f32 {
    let n = a.len().min(b.len()).min(c.len());
    let (a, b, c) = (&a[..n], &b[..n], &c[..n]);
    let full = n - n % LANES;
    let mut acc = [0.0f32; LANES];
    let mut i = 0;
    while i < full {
        for l in 0..LANES {
            acc[l] += f(a[i + l], b[i + l], c[i + l]);
        }
        i += LANES;
    }
    let mut total = 0.0;
    for x in acc {
        total += x;
    }
    for j in full..n {
        total += f(a[j], b[j], c[j]);
    }
    total
}

/// `sum(f(a[i], b[i]))`.
#[inline(always)]
pub fn sum_by2(a: &[f32], b: &[f32], f: impl Fn(f32, f32) -> f32) -> f32 {
    sum_by3(
        a,
        b,
        a,
        #[inline(always)]
        |x, y, _| f(x, y),
    )
}

/// `sum(f(a[i]))`.
#[inline(always)]
pub fn sum_by(a: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    sum_by3(
        a,
        a,
        a,
        #[inline(always)]
        |x, _, _| f(x),
    )
}

/// The largest element (`-inf` for none).
#[inline(always)]
pub fn max(a: &[f32]) -> f32 {
    let n = a.len();
    let full = n - n % LANES;
    let mut acc = [f32::NEG_INFINITY; LANES];
    let mut i = 0;
    while i < full {
        for l in 0..LANES {
            acc[l] = acc[l].max(a[i + l]);
        }
        i += LANES;
    }
    let mut m = f32::NEG_INFINITY;
    for x in acc.iter().chain(&a[full..]) {
        m = m.max(*x);
    }
    m
}

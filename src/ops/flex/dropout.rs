//! Dropout with a hashed mask: `x * factor(seed, i)`; the backward pass applies the same
//! factors to the gradient, regenerated from the seed.

use burn_flex::FlexTensor;

use super::in_place;
use crate::ops::rng;
use crate::ops::simd::{for_rows, vectorized};

/// `x` with a fraction `prob` of its elements zeroed and the rest scaled by `1 / (1 - prob)`
/// (the backward pass is the same operation on the gradient, with the same seed).
/// In place when `x` is not referenced elsewhere.
pub fn apply(x: FlexTensor, prob: f64, seed: u64) -> FlexTensor {
    let (t, scale) = (rng::threshold(prob), if prob < 1.0 { (1.0 / (1.0 - prob)) as f32 } else { 0.0 });
    in_place(x, |v| {
        for_rows(v, 1, |first, out| {
            vectorized(
                #[inline(always)]
                || {
                    for (j, x) in out.iter_mut().enumerate() {
                        *x *= rng::factor(seed, (first + j) as u32, t, scale);
                    }
                },
            );
        });
    })
}

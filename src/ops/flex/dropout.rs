//! Dropout with a hashed mask: `x * factor(seed, i)`; the backward pass applies the same
//! factors to the gradient, regenerated from the seed.

use burn_flex::FlexTensor;

use super::{f32s, from_vec};
use crate::ops::rng;
use crate::ops::simd::{for_rows, output, vectorized};

/// `x` with a fraction `prob` of its elements zeroed and the rest scaled by `1 / (1 - prob)`
/// (the backward pass is the same operation on the gradient, with the same seed).
pub fn apply(x: &FlexTensor, prob: f64, seed: u64) -> FlexTensor {
    let x = x.to_contiguous();
    let src = f32s(&x);
    let (t, scale) = (rng::threshold(prob), if prob < 1.0 { (1.0 / (1.0 - prob)) as f32 } else { 0.0 });
    let mut y = output(src.len());
    for_rows(&mut y, 1, |first, out| {
        let src = &src[first..first + out.len()];
        vectorized(|| {
            for (j, (o, &x)) in out.iter_mut().zip(src).enumerate() {
                *o = x * rng::factor(seed, (first + j) as u32, t, scale);
            }
        });
    });
    from_vec(y, x.layout().shape().to_vec())
}

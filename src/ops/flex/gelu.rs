//! GELU, `x * Φ(x)`, and its derivative `Φ(x) + x φ(x)`, with a vectorizable erf
//! (Abramowitz & Stegun 7.1.26: 1.5e-7 absolute error, 3.6e-7 evaluated in f32) instead of
//! scalar `erff` calls.

use burn_flex::FlexTensor;

use super::{f32s, from_vec};
use crate::ops::simd::{for_rows, output, vectorized};

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2 pi)
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// `e^x` for `x <= 0` (0 below -87, as `expf` gives 0 far enough out), branch-free:
/// `2^n * p(r)` with `x = n ln 2 + r`, `|r| <= ln2 / 2`, and a degree-6 Taylor polynomial
/// (relative error ~2e-7).
#[inline(always)]
pub fn exp_neg(x: f32) -> f32 {
    let c = x.max(-87.0);
    let n = (c * std::f32::consts::LOG2_E + 0.5).floor();
    let r = c - n * 0.693_145_75 - n * 1.428_606_8e-6;
    let p = 1.0 + r * (1.0 + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    let e = p * f32::from_bits(((n as i32 + 127) as u32) << 23);
    if x < -87.0 { 0.0 } else { e }
}

/// erf(x), absolute error below 4e-7: A&S 7.1.26 for |x| >= 0.5 and, where its `1 - ...`
/// would cancel, the Maclaurin series to x^13 (truncation error below 2e-8).
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = t * (0.254_829_6 + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    let far = (1.0 - poly * exp_neg(-a * a)).copysign(x);
    let z = x * x;
    let series = x
        * 1.128_379_2
        * (1.0 + z * (-1.0 / 3.0 + z * (1.0 / 10.0 + z * (-1.0 / 42.0 + z * (1.0 / 216.0 + z * (-1.0 / 1320.0 + z * (1.0 / 9360.0)))))));
    if a < 0.5 { series } else { far }
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    0.5 * x * (1.0 + erf(x * FRAC_1_SQRT_2))
}

#[inline(always)]
fn gelu_grad(x: f32) -> f32 {
    0.5 * (1.0 + erf(x * FRAC_1_SQRT_2)) + x * FRAC_1_SQRT_2PI * exp_neg(-0.5 * x * x)
}

pub fn forward(x: &FlexTensor) -> FlexTensor {
    let x = x.to_contiguous();
    let src = f32s(&x);
    let mut y = output(src.len());
    for_rows(&mut y, 1, |first, out| {
        let src = &src[first..first + out.len()];
        vectorized(|| out.iter_mut().zip(src).for_each(|(o, &x)| *o = gelu(x)));
    });
    from_vec(y, x.layout().shape().to_vec())
}

/// `dy * gelu'(x)`.
pub fn backward(x: &FlexTensor, dy: &FlexTensor) -> FlexTensor {
    let (x, dy) = (x.to_contiguous(), dy.to_contiguous());
    let (src, g) = (f32s(&x), f32s(&dy));
    let mut dx = output(src.len());
    for_rows(&mut dx, 1, |first, out| {
        let (src, g) = (&src[first..first + out.len()], &g[first..first + out.len()]);
        vectorized(|| out.iter_mut().zip(src).zip(g).for_each(|((o, &x), &g)| *o = g * gelu_grad(x)));
    });
    from_vec(dx, x.layout().shape().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_and_exp_are_accurate() {
        for i in -4000..=4000 {
            let x = i as f32 / 500.0;
            assert!((erf(x) as f64 - libm::erf(x as f64)).abs() < 4e-7, "erf({x})");
            if x <= 0.0 {
                let a = x * 10.0;
                let e = (a as f64).exp();
                assert!((exp_neg(a) as f64 - e).abs() <= 3e-7 * e, "exp({a})");
            }
        }
        assert_eq!(exp_neg(-200.0), 0.0);
        assert_eq!(exp_neg(f32::MIN), 0.0);
        assert_eq!(exp_neg(0.0), 1.0);
    }
}

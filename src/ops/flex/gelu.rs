//! GELU, `x * Φ(x)`, and its derivative `Φ(x) + x φ(x)`, with a vectorizable erf (a rational
//! function, absolute error below 4e-7) and exp instead of scalar `erff` / `expf` calls. The
//! polynomials use fused multiply-adds: single instructions on the AVX2 and AVX-512 paths.

use burn_flex::FlexTensor;

use super::{f32s, in_place};
use crate::ops::simd::{for_rows, update, update_each, vectorized};

const FRAC_1_SQRT_2: f32 = std::f32::consts::FRAC_1_SQRT_2;
/// 1 / sqrt(2 pi)
const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;

/// `a * b + c` in one rounding.
#[inline(always)]
fn fma(a: f32, b: f32, c: f32) -> f32 {
    a.mul_add(b, c)
}

/// `e^x` for `x <= 0` (0 below -87, as `expf` gives 0 far enough out; positive inputs are
/// taken as 0), branch-free: `2^n * p(r)` with `x = n ln 2 + r`, `|r| <= ln2 / 2`, and a
/// degree-6 Taylor polynomial (relative error ~2e-7).
#[inline(always)]
// Not `clamp`: it keeps NaN, and `n` below must be a finite integer.
#[allow(clippy::manual_clamp)]
pub fn exp_neg(x: f32) -> f32 {
    let c = x.max(-87.0).min(0.0);
    let n = fma(c, std::f32::consts::LOG2_E, 0.5).floor();
    let r = fma(n, -1.428_606_8e-6, fma(n, -0.693_145_75, c));
    let mut p = 1.0 / 720.0;
    for k in [1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0] {
        p = fma(p, r, k);
    }
    // SAFETY: `c` is finite and within [-87, 0] (`max` maps NaN to -87), so `n` is an integer
    // in [-126, 0]. The unchecked conversion vectorizes; `as i32` (saturating) does not.
    let n = unsafe { n.to_int_unchecked::<i32>() };
    let e = p * f32::from_bits(((n + 127) as u32) << 23);
    // NaN stays NaN (a diverging run must show NaN losses, as with burn's exp).
    if x < -87.0 {
        0.0
    } else if x.is_nan() {
        x
    } else {
        e
    }
}

/// erf(x) as `x P(x^2) / Q(x^2)` on [-4, 4] (erf is ±1 in f32 beyond), the rational
/// approximation of Eigen's and XLA's `erf` for f32: absolute error below 4e-7, no exp, no
/// branches.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let z = x * x;
    let mut p = -2.726_142_3e-10;
    for a in [2.770_681_4e-8, -2.101_024e-6, -5.692_506_4e-5, -7.349_906_3e-4, -2.9546e-3, -1.609_603_3e-2] {
        p = fma(p, z, a);
    }
    let mut q = -1.456_607_2e-5;
    for b in [-2.133_740_6e-4, -1.682_827e-3, -7.373_329_3e-3, -1.426_473_9e-2] {
        q = fma(q, z, b);
    }
    x * p / q
}

#[inline(always)]
fn gelu(x: f32) -> f32 {
    let half_x = 0.5 * x;
    fma(half_x, erf(x * FRAC_1_SQRT_2), half_x)
}

#[inline(always)]
fn gelu_grad(x: f32) -> f32 {
    fma(0.5, erf(x * FRAC_1_SQRT_2), 0.5) + x * FRAC_1_SQRT_2PI * exp_neg(-0.5 * x * x)
}

/// GELU of `x`, in place when `x` is not referenced elsewhere (inference: the product it
/// comes from is used by nothing else).
pub fn forward(x: FlexTensor) -> FlexTensor {
    in_place(x, |v| {
        for_rows(v, 1, |_, out| {
            vectorized(
                #[inline(always)]
                || update_each(out, gelu),
            )
        });
    })
}

/// `dy * gelu'(x)`, written over `dy` when it is not referenced elsewhere.
pub fn backward(x: &FlexTensor, dy: FlexTensor) -> FlexTensor {
    let x = x.to_contiguous();
    let src = f32s(&x);
    in_place(dy, |g| {
        for_rows(g, 1, |first, out| {
            let src = &src[first..first + out.len()];
            vectorized(
                #[inline(always)]
                || {
                    update(
                        out,
                        src,
                        #[inline(always)]
                        |g, x| g * gelu_grad(x),
                    )
                },
            );
        });
    })
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
        assert!(
            exp_neg(f32::NAN).is_nan()
                && erf(f32::NAN).is_nan()
                && gelu(f32::NAN).is_nan()
                && gelu_grad(f32::NAN).is_nan()
        );
    }
}

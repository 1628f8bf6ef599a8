//! Adam in one pass over each parameter tensor, in place, on every core: the arithmetic of
//! burn's `Adam` (so the numbers are the same), without its ~13 passes and 3 allocations.

use burn::tensor::Tensor;
use burn_flex::{Flex, FlexTensor};
use rayon::prelude::*;

use super::{prim, tensor};
use crate::ops::reference::bias_correction;
use crate::ops::simd::vectorized;
use crate::ops::{AdamHyper, AdamMoments};

/// A tensor this operation may write in place: contiguous over its whole buffer (shared buffers
/// are copied once by `storage_mut`).
fn writable(t: FlexTensor) -> FlexTensor {
    let l = t.layout();
    if l.is_contiguous() && l.start_offset() == 0 && t.bytes().len() == l.num_elements() * 4 {
        t
    } else {
        t.to_contiguous()
    }
}

const CHUNK: usize = 32 * 1024;

pub fn step<const D: usize>(
    param: Tensor<Flex, D>,
    grad: Tensor<Flex, D>,
    state: Option<AdamMoments<Flex, D>>,
    h: AdamHyper,
) -> (Tensor<Flex, D>, AdamMoments<Flex, D>) {
    let shape = param.shape();
    let grad = prim(grad).to_contiguous();
    let g = super::f32s(&grad);
    let mut p = writable(prim(param));
    let (mut m1, mut m2, time, first) = match state {
        Some(s) => (writable(prim(s.moment_1)), writable(prim(s.moment_2)), s.time + 1, false),
        None => {
            let zeros = || super::from_vec(vec![0.0; g.len()], shape.to_vec());
            (zeros(), zeros(), 1, true)
        }
    };
    let (factor, eps) = bias_correction(h, time);
    let (b1, b2, lr) = (h.beta_1, h.beta_2, h.lr as f32);
    let (c1, c2) = (1.0 - b1, 1.0 - b2);
    {
        let (ps, m1s, m2s) = (p.storage_mut::<f32>(), m1.storage_mut::<f32>(), m2.storage_mut::<f32>());
        ps.par_chunks_mut(CHUNK)
            .zip(m1s.par_chunks_mut(CHUNK))
            .zip(m2s.par_chunks_mut(CHUNK))
            .zip(g.par_chunks(CHUNK))
            .for_each(|(((p, m1), m2), g)| {
                vectorized(
                    #[inline(always)]
                    || {
                        for (((p, m1), m2), &g) in p.iter_mut().zip(m1.iter_mut()).zip(m2.iter_mut()).zip(g) {
                            // The same operations as burn's Adam, in the same order (the first
                            // step's moments are `g * c1` and `g * g * c2`: 0 * b + x is x).
                            *m1 = if first { g * c1 } else { *m1 * b1 + g * c1 };
                            *m2 = if first { g * g * c2 } else { *m2 * b2 + g * g * c2 };
                            *p -= *m1 * factor / (m2.sqrt() + eps) * lr;
                        }
                    },
                )
            });
    }
    (tensor(p), AdamMoments { moment_1: tensor(m1), moment_2: tensor(m2), time })
}

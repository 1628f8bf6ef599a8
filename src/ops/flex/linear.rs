//! `x @ w + b` and its gradients as single strided gemm calls over all rows at once.

use burn_flex::FlexTensor;

use super::{Mat, f32s, from_vec, gemm_into};
use crate::ops::simd::{column_sums, for_rows, output, vectorized};

/// `x` `[.., in]` times `w` `[in, out]` (any strides) plus `b` `[out]`: `[.., out]`.
pub fn forward(x: &FlexTensor, w: &FlexTensor, b: Option<&FlexTensor>) -> FlexTensor {
    let x = x.to_contiguous();
    let dims = x.layout().shape().to_vec();
    let (d_in, d_out) = (dims[dims.len() - 1], w.layout().shape()[1]);
    let rows = x.layout().num_elements() / d_in.max(1);
    let mut y = output(rows * d_out);
    let read_dst = match b {
        Some(b) => {
            let b = b.to_contiguous();
            let bias = f32s(&b);
            for_rows(&mut y, d_out, |_, chunk| {
                for row in chunk.chunks_exact_mut(d_out) {
                    row.copy_from_slice(bias);
                }
            });
            true
        }
        None => false,
    };
    gemm_into(&mut y, read_dst, Mat::of(&x, rows, d_in), Mat::of2(w), rows, d_out, d_in);
    let mut out = dims;
    *out.last_mut().unwrap() = d_out;
    from_vec(y, out)
}

/// The gradient of `x`: `dy @ w^T`, shaped like `x_dims`.
pub fn grad_x(dy: &FlexTensor, w: &FlexTensor, x_dims: &[usize]) -> FlexTensor {
    let dy = dy.to_contiguous();
    let (d_in, d_out) = (w.layout().shape()[0], w.layout().shape()[1]);
    let rows = dy.layout().num_elements() / d_out.max(1);
    let mut dx = output(rows * d_in);
    gemm_into(&mut dx, false, Mat::of(&dy, rows, d_out), Mat::of2(w).t(), rows, d_in, d_out);
    from_vec(dx, x_dims.to_vec())
}

/// The gradient of `w`: `x^T @ dy`, `[in, out]`.
pub fn grad_w(x: &FlexTensor, dy: &FlexTensor) -> FlexTensor {
    let (x, dy) = (x.to_contiguous(), dy.to_contiguous());
    let d_in = *x.layout().shape().to_vec().last().unwrap();
    let d_out = *dy.layout().shape().to_vec().last().unwrap();
    let rows = x.layout().num_elements() / d_in.max(1);
    let mut dw = output(d_in * d_out);
    gemm_into(&mut dw, false, Mat::of(&x, rows, d_in).t(), Mat::of(&dy, rows, d_out), d_in, d_out, rows);
    from_vec(dw, vec![d_in, d_out])
}

/// The gradient of `b`: the column sums of `dy`.
pub fn grad_b(dy: &FlexTensor) -> FlexTensor {
    let dy = dy.to_contiguous();
    let d_out = *dy.layout().shape().to_vec().last().unwrap();
    let rows = dy.layout().num_elements() / d_out.max(1);
    let g = f32s(&dy);
    let sums = column_sums(rows, d_out, 1, |first, n, acc| {
        vectorized(|| {
            for row in g[first * d_out..(first + n) * d_out].chunks_exact(d_out) {
                acc.iter_mut().zip(row).for_each(|(a, x)| *a += x);
            }
        })
    });
    from_vec(sums, vec![d_out])
}

//! Embedding lookup and its gradient. burn-flex's own backward pass allocates the dense
//! `[vocab, hidden]` gradient through a zeroed byte vector that is then copied to realign it,
//! and copies it once more before adding the rows: three passes over 47 MB per step for
//! BERT's word embeddings. Here: one parallel zero fill and the row additions.

use burn::tensor::DType;
use burn_flex::FlexTensor;
use rayon::prelude::*;

use super::{f32s, from_vec};
use crate::ops::simd::{update, vectorized};

/// The token ids of an integer tensor, checked against the table's `rows`.
pub fn ids(t: &FlexTensor, rows: usize) -> Vec<u32> {
    let t = t.to_contiguous();
    let ids: Vec<i64> = match t.dtype() {
        DType::I64 => t.as_slice::<i64>().expect("contiguous").to_vec(),
        DType::I32 => t.as_slice::<i32>().expect("contiguous").iter().map(|&i| i as i64).collect(),
        DType::U32 => t.as_slice::<u32>().expect("contiguous").iter().map(|&i| i as i64).collect(),
        other => panic!("embedding ids of type {other:?}: expected an integer tensor"),
    };
    ids.into_iter()
        .map(|i| {
            assert!(i >= 0 && (i as usize) < rows, "token id {i} is outside the embedding table of {rows} rows");
            i as u32
        })
        .collect()
}

/// `weight[ids]`: `[ids..., hidden]`.
pub fn forward(weight: &FlexTensor, ids: &[u32], id_dims: &[usize]) -> FlexTensor {
    let weight = weight.to_contiguous();
    let hidden = weight.layout().shape()[1];
    let w = f32s(&weight);
    let mut out = vec![0.0f32; ids.len() * hidden];
    if out.is_empty() {
        let mut dims = id_dims.to_vec();
        dims.push(hidden);
        return from_vec(out, dims);
    }
    out.par_chunks_mut(hidden * 64).enumerate().for_each(|(c, chunk)| {
        for (r, row) in chunk.chunks_exact_mut(hidden).enumerate() {
            let id = ids[c * 64 + r] as usize;
            row.copy_from_slice(&w[id * hidden..(id + 1) * hidden]);
        }
    });
    let mut dims = id_dims.to_vec();
    dims.push(hidden);
    from_vec(out, dims)
}

/// The gradient of the table: `dy`'s rows added into the rows of their ids, `[rows, hidden]`.
pub fn backward(dy: &FlexTensor, ids: &[u32], rows: usize, hidden: usize) -> FlexTensor {
    let dy = dy.to_contiguous();
    let g = f32s(&dy);
    assert_eq!(g.len(), ids.len() * hidden, "an embedding gradient of another shape than the lookup");
    let mut grad = crate::ops::simd::output(rows * hidden);
    grad.par_chunks_mut(64 * 1024).for_each(|c| c.fill(0.0));
    vectorized(
        #[inline(always)]
        || {
            for (t, &id) in ids.iter().enumerate() {
                let id = id as usize;
                update(
                    &mut grad[id * hidden..(id + 1) * hidden],
                    &g[t * hidden..(t + 1) * hidden],
                    #[inline(always)]
                    |a, b| a + b,
                );
            }
        },
    );
    from_vec(grad, vec![rows, hidden])
}

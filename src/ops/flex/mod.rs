//! burn-flex's [`FastOps`]: fused, multi-threaded, vectorized kernels on `FlexTensor`s.
//! Anything but f32 falls back to the defaults.

mod adam;
pub mod attention;
pub mod dropout;
pub mod embedding;
pub mod gelu;
pub mod layer_norm;
pub mod linear;

use std::marker::PhantomData;

use burn::tensor::{Bytes, DType, Int, Shape, Tensor, TensorPrimitive};
use burn_flex::{Flex, FlexTensor, Layout};

use super::{AdamHyper, AdamMoments, FastOps, Op, reference, uses_default};

/// The tensor of a primitive and back.
pub fn prim<const D: usize>(t: Tensor<Flex, D>) -> FlexTensor {
    t.into_primitive().tensor()
}

pub fn tensor<const D: usize>(p: FlexTensor) -> Tensor<Flex, D> {
    Tensor::from_primitive(TensorPrimitive::Float(p))
}

pub fn is_f32<const D: usize>(t: &Tensor<Flex, D>) -> bool {
    t.dtype() == DType::F32
}

/// A contiguous f32 tensor's elements.
pub fn f32s(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// A new contiguous f32 tensor.
pub fn from_vec(data: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    debug_assert_eq!(data.len(), shape.iter().product::<usize>());
    FlexTensor::new(Bytes::from_elems(data), Layout::contiguous(Shape::from(shape)), DType::F32)
}

/// `t` itself when this operation may overwrite it: contiguous over its whole buffer and
/// referenced nowhere else (a gradient being consumed, an intermediate nobody kept), else
/// `Err(t)`. Writing in place saves an allocation and a pass over memory.
pub fn writable(t: FlexTensor) -> Result<FlexTensor, FlexTensor> {
    let l = t.layout();
    let whole = l.is_contiguous() && l.start_offset() == 0 && t.bytes().len() == l.num_elements() * 4;
    if whole && t.dtype() == DType::F32 && t.is_unique() { Ok(t) } else { Err(t) }
}

/// `f(values)` on `t`'s own buffer if it is [`writable`], else on a copy.
pub fn in_place(t: FlexTensor, f: impl FnOnce(&mut [f32])) -> FlexTensor {
    let mut t = match writable(t) {
        Ok(t) => t,
        Err(t) => {
            let c = t.to_contiguous();
            from_vec(f32s(&c).to_vec(), c.layout().shape().to_vec())
        }
    };
    f(t.try_storage_mut::<f32>().expect("a unique contiguous f32 tensor"));
    t
}

/// A matrix operand for gemm: a pointer into a live tensor, its row and column strides and its
/// extent, checked to lie within the tensor's storage when the operand is made.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    ptr: *const f32,
    rs: isize,
    cs: isize,
    rows: usize,
    cols: usize,
    _life: PhantomData<&'a [f32]>,
}

// SAFETY: a `Mat` only reads the tensor it borrows.
unsafe impl Send for Mat<'_> {}
unsafe impl Sync for Mat<'_> {}

impl<'a> Mat<'a> {
    /// A contiguous tensor read as `[rows, cols]`, row-major.
    pub fn of(t: &'a FlexTensor, rows: usize, cols: usize) -> Self {
        Self::strided(f32s(t), 0, cols, 1, rows, cols)
    }

    /// A 2-D tensor with its own strides (a transposed view costs nothing).
    pub fn of2(t: &'a FlexTensor) -> Self {
        let l = t.layout();
        assert_eq!(l.num_dims(), 2, "a matrix operand must be 2-D");
        let (rs, cs) = (l.strides()[0], l.strides()[1]);
        assert!(rs >= 0 && cs >= 0, "matrix operands with negative strides are not supported");
        Self::strided(t.storage(), l.start_offset(), rs as usize, cs as usize, l.shape()[0], l.shape()[1])
    }

    /// The `[rows, cols]` matrix at `offset` in `data` with the given strides; panics unless all
    /// of it lies within `data`.
    pub fn strided(data: &'a [f32], offset: usize, rs: usize, cs: usize, rows: usize, cols: usize) -> Self {
        if rows > 0 && cols > 0 {
            let last = offset + (rows - 1) * rs + (cols - 1) * cs;
            assert!(
                last < data.len(),
                "a [{rows}, {cols}] matrix at {offset} (strides {rs}, {cs}) overruns {} elements",
                data.len()
            );
        }
        // SAFETY: `offset` is within `data` or the matrix is empty (then it is never read);
        // `wrapping_add` keeps the empty case free of out-of-bounds pointer arithmetic.
        let ptr = data.as_ptr().wrapping_add(offset);
        Mat { ptr, rs: rs as isize, cs: cs as isize, rows, cols, _life: PhantomData }
    }

    /// The transpose (same memory).
    pub fn t(self) -> Self {
        Mat { rs: self.cs, cs: self.rs, rows: self.cols, cols: self.rows, ..self }
    }
}

/// Matrix products below this many multiply-adds run on one thread (burn-flex's threshold).
const PARALLEL_MACS: usize = 192 * 192 * 192;

/// `dst` (`[m, n]`, row-major) `= lhs @ rhs` (`+ dst` when `read_dst`), threaded when large.
pub fn gemm_into(dst: &mut [f32], read_dst: bool, lhs: Mat<'_>, rhs: Mat<'_>, m: usize, n: usize, k: usize) {
    assert_eq!(dst.len(), m * n);
    assert_eq!((lhs.rows, lhs.cols, rhs.cols), (m, k, n), "matrix product of mismatched shapes");
    let par = if m * n * k >= PARALLEL_MACS { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: `dst` is an exclusive [m, n] row-major buffer.
    unsafe { gemm_raw(dst.as_mut_ptr(), n as isize, read_dst, lhs, rhs, 1.0, par) }
}

/// `dst = (dst if read_dst) + scale * lhs @ rhs` on raw memory, `dst` an `[m, n]` matrix with
/// rows `dst_rs` apart (`m`, `n` and the inner size are the operands': they were checked against
/// their storage when made).
///
/// # Safety
/// `dst` must be valid for writes of an `[lhs.rows, rhs.cols]` matrix whose rows are `dst_rs`
/// elements apart, and not aliased by anything else during the call.
pub unsafe fn gemm_raw(
    dst: *mut f32,
    dst_rs: isize,
    read_dst: bool,
    lhs: Mat<'_>,
    rhs: Mat<'_>,
    scale: f32,
    par: gemm::Parallelism,
) {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    assert_eq!(rhs.rows, k, "matrix product of mismatched shapes");
    let dst_cs = 1;
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !read_dst {
            for i in 0..m as isize {
                for j in 0..n as isize {
                    // SAFETY: within the destination (caller's contract).
                    unsafe { *dst.offset(i * dst_rs + j * dst_cs) = 0.0 };
                }
            }
        }
        return;
    }
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m, n, k, dst, dst_cs, dst_rs, read_dst, lhs.ptr, lhs.cs, lhs.rs, rhs.ptr, rhs.cs, rhs.rs, 1.0, scale,
            false, false, false, par,
        )
    }
}

impl FastOps for Flex {
    const READS_FROM_ANOTHER_THREAD: bool = true;

    fn fast_linear<const D: usize>(
        x: Tensor<Self, D>,
        weight: Tensor<Self, 2>,
        bias: Option<Tensor<Self, 1>>,
    ) -> Tensor<Self, D> {
        if uses_default(Op::Linear) {
            return burn::tensor::module::linear(x, weight, bias);
        }
        if !is_f32(&x) || !is_f32(&weight) || bias.as_ref().is_some_and(|b| !is_f32(b)) {
            return reference::linear(x, weight, bias);
        }
        tensor(linear::forward(&prim(x), &prim(weight), bias.map(prim).as_ref()))
    }

    fn fast_gelu<const D: usize>(x: Tensor<Self, D>) -> Tensor<Self, D> {
        if !is_f32(&x) || uses_default(Op::Gelu) {
            return burn::tensor::activation::gelu(x);
        }
        tensor(gelu::forward(prim(x)))
    }

    fn fast_layer_norm(
        x: Tensor<Self, 3>,
        residual: Option<Tensor<Self, 3>>,
        gamma: Tensor<Self, 1>,
        beta: Tensor<Self, 1>,
        epsilon: f64,
    ) -> Tensor<Self, 3> {
        let all_f32 = is_f32(&x) && is_f32(&gamma) && is_f32(&beta) && residual.as_ref().is_none_or(is_f32);
        if !all_f32 || uses_default(Op::LayerNorm) {
            return reference::layer_norm(x, residual, gamma, beta, epsilon);
        }
        let residual = residual.map(prim);
        tensor(layer_norm::forward(&prim(x), residual.as_ref(), &prim(gamma), &prim(beta), epsilon as f32).out)
    }

    fn fast_attention(
        q: Tensor<Self, 3>,
        k: Tensor<Self, 3>,
        v: Tensor<Self, 3>,
        key_bias: Option<Tensor<Self, 2>>,
        heads: usize,
        _dropout: f64,
    ) -> Tensor<Self, 3> {
        let all_f32 = is_f32(&q) && is_f32(&k) && is_f32(&v) && key_bias.as_ref().is_none_or(is_f32);
        if !all_f32 || uses_default(Op::Attention) {
            return reference::attention(q, k, v, key_bias, heads, 0.0);
        }
        // No autodiff, so no dropout (as burn's `Dropout`).
        let bias = key_bias.map(prim);
        let spec = attention::Spec { heads, dropout: None };
        tensor(attention::forward(&prim(q), &prim(k), &prim(v), bias.as_ref(), spec).0)
    }

    fn fast_embedding(weight: Tensor<Self, 2>, ids: Tensor<Self, 2, Int>) -> Tensor<Self, 3> {
        if !is_f32(&weight) || uses_default(Op::Embedding) {
            return burn::tensor::module::embedding(weight, ids);
        }
        let [rows, _] = weight.dims();
        let id_dims = ids.dims();
        let ids = embedding::ids(&ids.into_primitive(), rows);
        tensor(embedding::forward(&prim(weight), &ids, &id_dims))
    }

    fn fast_dropout<const D: usize>(x: Tensor<Self, D>, _prob: f64) -> Tensor<Self, D> {
        x
    }

    fn adam_step<const D: usize>(
        param: Tensor<Self, D>,
        grad: Tensor<Self, D>,
        state: Option<AdamMoments<Self, D>>,
        hyper: AdamHyper,
    ) -> (Tensor<Self, D>, AdamMoments<Self, D>) {
        if uses_default(Op::Adam)
            || !is_f32(&param)
            || !is_f32(&grad)
            || state.as_ref().is_some_and(|s| !is_f32(&s.moment_1) || !is_f32(&s.moment_2))
        {
            return reference::adam_step(param, grad, state, hyper);
        }
        adam::step(param, grad, state, hyper)
    }
}

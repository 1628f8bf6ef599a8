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

/// A matrix operand for gemm: a pointer into a live tensor and its row and column strides.
#[derive(Clone, Copy)]
pub struct Mat<'a> {
    ptr: *const f32,
    rs: isize,
    cs: isize,
    _life: PhantomData<&'a [f32]>,
}

// SAFETY: a `Mat` only reads the tensor it borrows.
unsafe impl Send for Mat<'_> {}
unsafe impl Sync for Mat<'_> {}

impl<'a> Mat<'a> {
    /// A contiguous tensor read as `[rows, cols]`, row-major.
    pub fn of(t: &'a FlexTensor, rows: usize, cols: usize) -> Self {
        let data = f32s(t);
        assert!(rows * cols <= data.len());
        Mat { ptr: data.as_ptr(), rs: cols as isize, cs: 1, _life: PhantomData }
    }

    /// A 2-D tensor with its own strides (a transposed view costs nothing).
    pub fn of2(t: &'a FlexTensor) -> Self {
        let l = t.layout();
        assert_eq!(l.num_dims(), 2);
        let storage: &[f32] = t.storage();
        let (rs, cs) = (l.strides()[0], l.strides()[1]);
        let (r, c) = (l.shape()[0] as isize, l.shape()[1] as isize);
        let last = l.start_offset() as isize + (r - 1).max(0) * rs + (c - 1).max(0) * cs;
        assert!(rs >= 0 && cs >= 0 && last < storage.len() as isize);
        // SAFETY: the offset is within the storage (checked above).
        Mat { ptr: unsafe { storage.as_ptr().add(l.start_offset()) }, rs, cs, _life: PhantomData }
    }

    /// A sub-matrix starting at `offset` elements, with the given strides (within the slice).
    pub fn strided(data: &'a [f32], offset: usize, rs: usize, cs: usize) -> Self {
        assert!(offset < data.len().max(1));
        // SAFETY: the caller's strides stay within `data` (asserted by the callers' shapes).
        Mat { ptr: unsafe { data.as_ptr().add(offset) }, rs: rs as isize, cs: cs as isize, _life: PhantomData }
    }

    /// The transpose (same memory).
    pub fn t(self) -> Self {
        Mat { rs: self.cs, cs: self.rs, ..self }
    }
}

/// Matrix products below this many multiply-adds run on one thread (burn-flex's threshold).
const PARALLEL_MACS: usize = 192 * 192 * 192;

/// `dst` (`[m, n]`, row-major) `= lhs @ rhs` (`+ dst` when `read_dst`), threaded when large.
pub fn gemm_into(dst: &mut [f32], read_dst: bool, lhs: Mat<'_>, rhs: Mat<'_>, m: usize, n: usize, k: usize) {
    assert_eq!(dst.len(), m * n);
    let par = if m * n * k >= PARALLEL_MACS { gemm::Parallelism::Rayon(0) } else { gemm::Parallelism::None };
    // SAFETY: `dst` holds m*n elements; `lhs` and `rhs` borrow live tensors whose shapes the
    // callers derived m, n and k from.
    unsafe { gemm_raw(dst.as_mut_ptr(), n as isize, 1, read_dst, lhs, rhs, m, n, k, 1.0, par) }
}

/// `dst = (dst if read_dst) + scale * lhs @ rhs` on raw strided memory.
///
/// # Safety
/// `dst` must be valid for writes of an `[m, n]` matrix with strides `(dst_rs, dst_cs)`, not
/// aliased by anything else during the call, and `lhs` / `rhs` must address `[m, k]` / `[k, n]`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_raw(
    dst: *mut f32,
    dst_rs: isize,
    dst_cs: isize,
    read_dst: bool,
    lhs: Mat<'_>,
    rhs: Mat<'_>,
    m: usize,
    n: usize,
    k: usize,
    scale: f32,
    par: gemm::Parallelism,
) {
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
            m, n, k, dst, dst_cs, dst_rs, read_dst, lhs.ptr, lhs.cs, lhs.rs, rhs.ptr, rhs.cs, rhs.rs, 1.0, scale, false, false, false,
            par,
        )
    }
}

impl FastOps for Flex {
    fn fast_linear<const D: usize>(x: Tensor<Self, D>, weight: Tensor<Self, 2>, bias: Option<Tensor<Self, 1>>) -> Tensor<Self, D> {
        if uses_default(Op::Linear) {
            return burn::tensor::module::linear(x, weight, bias);
        }
        if !is_f32(&x) || !is_f32(&weight) {
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
        if !is_f32(&x) || uses_default(Op::LayerNorm) {
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
        if !is_f32(&q) || uses_default(Op::Attention) {
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
        if uses_default(Op::Adam) || !is_f32(&param) || !is_f32(&grad) || state.as_ref().is_some_and(|s| !is_f32(&s.moment_1) || !is_f32(&s.moment_2)) {
            return reference::adam_step(param, grad, state, hyper);
        }
        adam::step(param, grad, state, hyper)
    }
}

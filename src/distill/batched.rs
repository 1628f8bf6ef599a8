//! Inference over a whole dataset in length-sorted batches (little padding), with progress
//! and a way out: what evaluation and the teacher's outputs share.

use crate::data::Dataset;
use crate::data::batches::sorted_batches;
use crate::error::Result;
use crate::tokenize::Encoded;

/// Calls `f` with each batch's example indices and encodings; `progress(done, total)` is called
/// before the first batch and after each. `Ok(false)` when `progress` returned `false` (the user
/// quit).
pub fn over_batches<'d>(
    data: &'d Dataset,
    batch_size: usize,
    progress: &dyn Fn(usize, usize) -> bool,
    mut f: impl FnMut(&[usize], &[&'d Encoded]) -> Result<()>,
) -> Result<bool> {
    let batches = sorted_batches(&data.lengths(), batch_size);
    let total = batches.len();
    if !progress(0, total) {
        return Ok(false);
    }
    for (done, batch) in batches.iter().enumerate() {
        let items: Vec<&Encoded> = batch.iter().map(|&i| &data.encoded[i]).collect();
        f(batch, &items)?;
        if !progress(done + 1, total) {
            return Ok(false);
        }
    }
    Ok(true)
}

//! Inference over a whole dataset in length-sorted batches (little padding), with progress
//! and a way out: what evaluation and the teacher's outputs share.

use crate::backend::shapes::{Shape, ShapeLog};
use crate::data::Dataset;
use crate::data::batches::sorted_batches;
use crate::error::Result;
use crate::events::{Control, Event, Events, Phase, RunId};
use crate::tokenize::{Encoded, Padding, TokenBatch};

/// Reports the progress of a [`Phase`], notes the batch shapes it runs, and answers whether to
/// go on (no quit was asked).
pub struct PhaseProgress<'a> {
    pub events: &'a Events,
    pub control: &'a Control,
    pub shapes: &'a ShapeLog,
    pub run: Option<RunId>,
    pub phase: Phase,
}

impl PhaseProgress<'_> {
    /// Sends `done` of `total` batches; `false` when the user asked to quit.
    pub fn tick(&self, done: usize, total: usize) -> bool {
        self.events.send(Event::Progress { run: self.run, phase: self.phase, done, total });
        !self.control.quit_requested()
    }
}

/// Calls `f` with each batch's example indices and tokens (padded by `padding`); progress is
/// reported before the first batch and after each. `Ok(false)` when the user quit.
pub fn over_batches(
    data: &Dataset,
    batch_size: usize,
    padding: Padding,
    watch: &PhaseProgress,
    mut f: impl FnMut(&[usize], TokenBatch) -> Result<()>,
) -> Result<bool> {
    let batches = sorted_batches(&data.lengths(), batch_size);
    let total = batches.len();
    if !watch.tick(0, total) {
        return Ok(false);
    }
    for (done, batch) in batches.iter().enumerate() {
        let items: Vec<&Encoded> = batch.iter().map(|&i| &data.encoded[i]).collect();
        let tokens = padding.collate(&items);
        watch.shapes.enter(watch.events, watch.run, Shape { training: false, batch: tokens.batch, tokens: tokens.seq });
        f(batch, tokens)?;
        if !watch.tick(done + 1, total) {
            return Ok(false);
        }
    }
    Ok(true)
}

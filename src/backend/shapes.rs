//! The batch shapes (examples x tokens) the model has run on in this process, for training
//! (forward and backward) and for inference (forward only) apart. A GPU backend compiles and
//! autotunes its kernels for each new one (seconds to a minute, before the step can run); the
//! padding policy ([`super::BackendInfo::padding`]) keeps their number small and independent
//! of the number of batches. The first batch of a new shape is announced ([`Event::Compiling`])
//! so that a screen can say why the step takes long.

use std::collections::BTreeSet;
use std::sync::Mutex;

use crate::events::{Event, Events, RunId};

/// One shape: whether it trains (forward and backward) or only infers, examples, tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Shape {
    pub training: bool,
    pub batch: usize,
    pub tokens: usize,
}

pub struct ShapeLog {
    /// Whether a new shape costs compilation (GPU backends).
    compiles: bool,
    seen: Mutex<BTreeSet<Shape>>,
}

impl ShapeLog {
    pub fn new(compiles: bool) -> Self {
        Self { compiles, seen: Mutex::new(BTreeSet::new()) }
    }

    /// Notes a batch about to run (for `run`). Returns whether its kernels are compiled now: a
    /// shape not seen before, on a GPU backend; then [`Event::Compiling`] is sent.
    pub fn enter(&self, events: &Events, run: Option<RunId>, shape: Shape) -> bool {
        let (new, count) = {
            let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
            (seen.insert(shape), seen.len())
        };
        let compiling = new && self.compiles;
        if compiling {
            let Shape { training, batch, tokens } = shape;
            events.send(Event::Compiling { run, training, batch, tokens, shapes: count });
        }
        compiling
    }

    /// Every shape so far, in order (inference first).
    pub fn shapes(&self) -> Vec<Shape> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).iter().copied().collect()
    }

    pub fn compiles(&self) -> bool {
        self.compiles
    }
}

/// `inference 32x64, 8x64; training 32x64`: shapes as a list for a log line.
pub fn list(shapes: &[Shape]) -> String {
    let of = |training: bool| {
        let s: Vec<String> =
            shapes.iter().filter(|s| s.training == training).map(|s| format!("{}x{}", s.batch, s.tokens)).collect();
        (!s.is_empty()).then(|| format!("{} {}", if training { "training" } else { "inference" }, s.join(", ")))
    };
    [of(false), of(true)].into_iter().flatten().collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_shapes_on_a_compiling_backend_are_announced() {
        let (tx, rx) = std::sync::mpsc::channel();
        let events = Events::new(tx);
        let gpu = ShapeLog::new(true);
        let shape = |training, batch| Shape { training, batch, tokens: 64 };
        assert!(gpu.enter(&events, Some(1), shape(true, 32)));
        assert!(!gpu.enter(&events, Some(2), shape(true, 32)), "compiled once per process, whatever the run");
        assert!(gpu.enter(&events, None, shape(false, 32)), "inference is another kernel set");
        assert!(gpu.enter(&events, None, shape(false, 8)));
        let sent: Vec<Event> = rx.try_iter().collect();
        let compiling = |run, training, batch, shapes| Event::Compiling { run, training, batch, tokens: 64, shapes };
        assert_eq!(
            sent,
            vec![compiling(Some(1), true, 32, 1), compiling(None, false, 32, 2), compiling(None, false, 8, 3)]
        );
        assert_eq!(list(&gpu.shapes()), "inference 8x64, 32x64; training 32x64");
        let cpu = ShapeLog::new(false);
        assert!(!cpu.enter(&events, None, shape(true, 32)));
        assert_eq!(rx.try_iter().count(), 0);
        assert_eq!(cpu.shapes(), vec![shape(true, 32)]);
    }
}

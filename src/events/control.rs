//! How front ends steer the engine.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Pause, skip and quit, set by a front end and read by the engine between steps.
#[derive(Debug, Default)]
pub struct Control {
    paused: AtomicBool,
    skip: AtomicBool,
    quit: AtomicBool,
    /// The run a skip is for, when the front end names one (several run at once).
    skip_run: std::sync::Mutex<Option<usize>>,
}

impl Control {
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::SeqCst);
    }

    pub fn is_paused(&self) -> bool {
        self.paused.load(Ordering::SeqCst)
    }

    /// Asks the engine to end the current run as skipped and go on with the next.
    pub fn skip_current(&self) {
        self.skip.store(true, Ordering::SeqCst);
    }

    /// Asks the engine to end run `run` as skipped: the current run when one runs at a time.
    pub fn skip_run(&self, run: usize) {
        if let Ok(mut r) = self.skip_run.lock() {
            *r = Some(run);
        }
        self.skip_current();
    }

    /// Takes a pending skip request and the run it names, if any (several runs at once).
    pub fn take_skip_of_run(&self) -> Option<Option<usize>> {
        let run = self.skip_run.lock().ok().and_then(|mut r| r.take());
        self.take_skip().then_some(run)
    }

    /// Asks the engine to stop after the current step and write what it has.
    pub fn quit(&self) {
        self.quit.store(true, Ordering::SeqCst);
    }

    pub fn quit_requested(&self) -> bool {
        self.quit.load(Ordering::SeqCst)
    }

    /// Takes a pending skip request (so it applies to one run only).
    pub fn take_skip(&self) -> bool {
        self.skip.swap(false, Ordering::SeqCst)
    }

    /// Blocks while paused (unless a quit or skip comes); returns how long it waited.
    pub fn wait_while_paused(&self) -> Duration {
        let start = std::time::Instant::now();
        while self.is_paused() && !self.quit_requested() && !self.skip.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(20));
        }
        start.elapsed()
    }
}

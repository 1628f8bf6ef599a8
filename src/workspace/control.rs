//! A cell's control file (`cells/<folder>/control`): how a process that does not run a cell (the
//! `--parallel` parent, `watch`) pauses, resumes or skips it. The cell's process reads it
//! between steps.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use super::layout::{CELL_CONTROL, cell_dir};
use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::events::Control;
use crate::input_file::{SMALL, read_text};

/// What a cell's control file asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Pause,
    Run,
    Skip,
}

impl Request {
    pub fn word(self) -> &'static str {
        match self {
            Request::Pause => "pause",
            Request::Run => "run",
            Request::Skip => "skip",
        }
    }
}

/// Asks the cell in `exp_dir/cells/<folder>` to pause, resume or skip (it reads the file
/// between steps).
pub fn request(exp_dir: &Path, folder: &str, what: Request) -> Result<()> {
    let path = cell_dir(exp_dir, folder).join(CELL_CONTROL);
    write_atomic(&path, |tmp| std::fs::write(tmp, format!("{}\n", what.word())).map_err(|e| Error::io(tmp, e)))
}

fn read_request(path: &Path) -> Option<Request> {
    match read_text(path, SMALL).ok()?.trim() {
        "pause" => Some(Request::Pause),
        "run" => Some(Request::Run),
        "skip" => Some(Request::Skip),
        _ => None,
    }
}

/// Runs `work` while a thread reads the cell's control file five times a second and passes
/// what changed on to `control` (a change only: the monitor's own keys keep working beside it);
/// once `lost` is set (the cell's lock is gone or another's), it asks the run to stop.
pub fn with_control_file<R>(
    exp_dir: &Path,
    folder: &str,
    control: &Control,
    lost: &AtomicBool,
    work: impl FnOnce() -> R,
) -> R {
    let path = cell_dir(exp_dir, folder).join(CELL_CONTROL);
    // A request left by an earlier process is not for this one.
    let _ = std::fs::remove_file(&path);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut last = None;
            let mut told = false;
            while !stop.load(Ordering::SeqCst) {
                if lost.load(Ordering::SeqCst) && !told {
                    told = true;
                    control.set_paused(false);
                    control.quit();
                }
                let now = read_request(&path);
                if now != last {
                    match now {
                        Some(Request::Pause) => control.set_paused(true),
                        Some(Request::Run) => control.set_paused(false),
                        Some(Request::Skip) => {
                            control.set_paused(false);
                            control.skip_current();
                        }
                        None => {}
                    }
                    last = now;
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        });
        let out = work();
        stop.store(true, Ordering::SeqCst);
        out
    })
}

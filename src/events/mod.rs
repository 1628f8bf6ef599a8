//! The vocabulary every layer speaks: runs and their status, epoch records and loss values,
//! the events the engine sends (the TUI and the headless printer consume them) and the controls
//! front ends steer it with. It depends on nothing of this crate but its errors, so that the
//! training loop, the reports and the front ends can all use it without depending on each other.

mod control;
mod event;
mod record;
mod sink;
mod status;
mod tail;

pub use control::Control;
pub use event::{BackendInfo, BackendKind, Event, Level, Phase, StepEvent};
pub use record::{EpochRecord, LossValues, correct_string, parse_correct};
pub use sink::Events;
pub use status::{RunId, RunKind, RunLabel, RunStatus, cell_run_id, run_cell};
pub use tail::LogTail;

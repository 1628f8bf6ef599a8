//! The experiment folder (`<output_dir>/<name>/`): what is in it and who may write it. The
//! engine writes it; `watch`, `try`, the plots, `submit` and `report` read it, and only through
//! this module: its names ([`layout`]), the cells' records and the merged results ([`cells`],
//! [`results`]), the control files that pause or skip a cell ([`control`]), the locks that say
//! which process holds the folder or a cell ([`lock`]), and taking the folder for a run
//! ([`open`]: the lock, the configuration check, `--fresh`).

pub mod cells;
pub mod control;
pub mod layout;
pub mod lock;
pub mod open;
pub mod results;
pub mod teacher_outputs;

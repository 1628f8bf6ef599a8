//! The terminal monitor: a ratatui app fed by engine events.

pub mod app;
pub mod eta;
pub mod history;
pub mod keys;
pub mod state;
pub mod sysinfo;
pub mod view;

//! The terminal monitor: a ratatui app fed by engine events.

pub mod app;
pub mod state;
pub mod view;

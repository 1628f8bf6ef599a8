//! Drawing the monitor from [`AppState`]: header, run list with the selected run's details,
//! charts, progress, the live results table, the log, the footer and the overlays. Pure: a
//! frame in, nothing else touched.

mod charts;
mod header;
mod log;
mod overlays;
mod runs;
pub mod style;
mod table;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};

use super::state::{AppState, ChartMode};

pub fn draw(f: &mut Frame, s: &AppState) {
    let area = f.area();
    let table_h = (s.runs.len() as u16 + 2).min(area.height.saturating_sub(12).max(3));
    let log_h = match area.height {
        0..24 => 2,
        24..40 => 4,
        _ => 8,
    };
    let [header_area, top, gauge_area, table_area, log_area, footer_area] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(6),
        Constraint::Length(1),
        Constraint::Length(table_h),
        Constraint::Length(log_h),
        Constraint::Length(1),
    ])
    .areas(area);
    header::header(f, header_area, s);
    let list_w = match area.width {
        0..100 => (area.width * 2 / 5).max(28),
        100..160 => 44,
        _ => 56,
    };
    let [left, chart_area] = Layout::horizontal([Constraint::Length(list_w), Constraint::Min(20)]).areas(top);
    runs::runs_panel(f, left, s);
    match s.view.chart {
        ChartMode::Loss => charts::loss(f, chart_area, s),
        ChartMode::LossAll => charts::loss_all(f, chart_area, s),
        ChartMode::Accuracy => charts::accuracy(f, chart_area, s),
    }
    header::gauge(f, gauge_area, s);
    table::results_table(f, table_area, s);
    log::log(f, log_area, s);
    header::footer(f, footer_area, s);
    overlays::overlay(f, area, s);
    if s.view.no_color {
        style::strip_colors(f.buffer_mut());
    }
}

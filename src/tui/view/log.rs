//! The log: the newest lines that fit, scrollable; warnings marked in words, not only colour.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::style::{WARN, fit};
use crate::events::Level;
use crate::tui::state::AppState;

pub fn log(f: &mut Frame, area: Rect, s: &AppState) {
    let n = area.height.saturating_sub(1) as usize;
    let w = area.width as usize;
    let end = s.logs.len().saturating_sub(s.view.log_scroll);
    let start = end.saturating_sub(n);
    let lines: Vec<Line> = s
        .logs
        .range(start..end)
        .map(|(level, text)| match level {
            Level::Warn => Line::from(vec!["warning: ".fg(WARN).bold(), Span::raw(fit(text, w.saturating_sub(9)))]),
            Level::Info => Line::from(fit(text, w)),
        })
        .collect();
    let mut title = String::from(" Log ");
    if s.warnings > 0 {
        title.push_str(&format!("· {} warning{} ", s.warnings, if s.warnings == 1 { "" } else { "s" }));
    }
    if s.view.log_scroll > 0 {
        title.push_str(&format!("· {} newer below (end) ", s.view.log_scroll));
    } else if start > 0 {
        title.push_str("· pgup/[ older ");
    }
    f.render_widget(Paragraph::new(lines).block(Block::default().borders(Borders::TOP).title(title)), area);
}

//! Colours and marks. Every meaning carried by a colour is also carried by a symbol or an
//! attribute, so that the monitor reads the same with `NO_COLOR`.

use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::Span;

use crate::events::RunStatus;
use crate::tui::state::RunView;

pub const ACCENT: Color = Color::Cyan;
pub const GOOD: Color = Color::Green;
pub const WARN: Color = Color::Yellow;
pub const BAD: Color = Color::Red;
/// Secondary text: still readable on dark themes (not dark grey).
pub const QUIET: Color = Color::Gray;
/// Marks the best finished student's accuracy (with colour, bold, and this mark).
pub const BEST_MARK: &str = "▲";

/// One colour per strategy, in plan order.
pub const PALETTE: [Color; 8] = [
    Color::Cyan,
    Color::Green,
    Color::Magenta,
    Color::Yellow,
    Color::Blue,
    Color::Red,
    Color::LightCyan,
    Color::LightGreen,
];

pub fn faint() -> Style {
    Style::default().fg(Color::DarkGray)
}

pub fn status_symbol(r: &RunView) -> Span<'static> {
    match r.status {
        RunStatus::Pending => "·".fg(QUIET),
        RunStatus::Running => "▶".fg(ACCENT).bold(),
        RunStatus::Done => "✓".fg(GOOD),
        RunStatus::Skipped => "»".fg(WARN),
        RunStatus::Stopped => "■".fg(WARN),
        RunStatus::Failed => "✗".fg(BAD).bold(),
        RunStatus::Crashed => "↯".fg(BAD).bold(),
    }
}

/// A run that did not finish: shown dim, never counted as best.
pub fn unfinished(r: &RunView) -> bool {
    matches!(r.status, RunStatus::Pending | RunStatus::Skipped | RunStatus::Stopped | RunStatus::Crashed)
}

/// Removes every colour from a drawn frame (`NO_COLOR`); what had a background colour (status
/// badges, key labels) is shown reversed instead.
pub fn strip_colors(buf: &mut Buffer) {
    for cell in buf.content.iter_mut() {
        if cell.bg != Color::Reset {
            cell.modifier ^= Modifier::REVERSED;
        }
        cell.fg = Color::Reset;
        cell.bg = Color::Reset;
    }
}

/// A text cut to `width` columns, with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    crate::text::cut(text, width, false)
}

/// Display width of a text.
pub fn width(text: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(text)
}

/// A number in at most 4 significant digits, for axis labels.
pub fn fmt_axis(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else if a >= 0.01 {
        format!("{v:.3}")
    } else {
        format!("{v:.1e}")
    }
}

/// Values as a row of block characters between `lo` and `hi` (a sparkline in text).
pub fn spark(values: &[f64], lo: f64, hi: f64) -> String {
    const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
    let span = (hi - lo).max(1e-9);
    values.iter().map(|v| BARS[(((v - lo) / span) * 7.0).round().clamp(0.0, 7.0) as usize]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_with_an_ellipsis() {
        assert_eq!(fit("student layer 6", 20), "student layer 6");
        assert_eq!(fit("student layer 6 <- teacher layer 12", 12), "student lay…");
        assert_eq!(width(&fit("±±±±±±", 3)), 3);
    }

    #[test]
    fn axis_numbers_and_sparks() {
        assert_eq!(fmt_axis(0.31234), "0.312");
        assert_eq!(fmt_axis(2.5), "2.50");
        assert_eq!(fmt_axis(0.0012), "1.2e-3");
        assert_eq!(spark(&[0.5, 0.75, 1.0], 0.5, 1.0), "▁▅█");
    }
}

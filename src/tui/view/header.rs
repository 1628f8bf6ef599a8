//! The top line (state, experiment, progress, time, ETA, warnings, machine), the progress line
//! of the current work, and the footer of keys.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Color, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{LineGauge, Paragraph};

use super::style::{ACCENT, GOOD, QUIET, WARN, fit, width};
use crate::text::fmt_seconds;
use crate::tui::keys::{Action, BINDINGS, applies, short_label};
use crate::tui::state::AppState;
use crate::tui::sysinfo::fmt_bytes;

fn status_word(s: &AppState) -> Span<'static> {
    if s.finished {
        " FINISHED ".black().on_green().bold()
    } else if s.quitting {
        " STOPPING ".black().on_red().bold()
    } else if s.paused {
        " PAUSED ".black().on_yellow().bold()
    } else if s.watching {
        " WATCHING ".black().on_cyan().bold()
    } else {
        " RUNNING ".black().on_cyan().bold()
    }
}

/// The header's parts, most important first; the line keeps what fits, in display order.
pub fn header(f: &mut Frame, area: Rect, s: &AppState) {
    let (over, total) = s.progress();
    // (priority: lower is kept first, spans)
    let mut parts: Vec<(u8, Vec<Span>)> =
        vec![(0, vec![status_word(s), Span::raw(" "), s.experiment.clone().bold().fg(ACCENT)])];
    if s.synthetic {
        parts.push((6, vec![Span::raw(" "), " SYNTHETIC DATA ".black().on_magenta()]));
    }
    parts.push((1, vec![Span::raw(format!(" │ runs {over}/{total}"))]));
    parts.push((2, vec![Span::raw(format!(" │ {}", fmt_seconds(s.elapsed.as_secs_f64())))]));
    if !s.finished && !s.quitting {
        let eta = match s.eta() {
            Some(e) => format!(" │ ETA {}{}", if e.approximate { "~" } else { "" }, fmt_seconds(e.seconds)),
            None => " │ ETA …".into(),
        };
        parts.push((1, vec![Span::raw(eta)]));
    }
    if s.warnings > 0 {
        parts.push((1, vec![Span::raw(" │ "), format!("⚠ {}", s.warnings).fg(WARN).bold()]));
    }
    if let Some(g) = s.sys.gpu {
        parts.push((
            3,
            vec![Span::raw(format!(
                " │ gpu {:.0}% {:.1}/{:.0}G",
                g.utilization_percent,
                g.memory_used_mib / 1024.0,
                g.memory_total_mib / 1024.0
            ))],
        ));
    }
    if let (Some(cpu), Some(rss)) = (s.sys.cpu_percent, s.sys.rss_bytes) {
        parts.push((4, vec![Span::raw(format!(" │ cpu {cpu:.0}% {}", fmt_bytes(rss)))]));
    }
    let used = |parts: &[(u8, Vec<Span>)], keep: u8| -> usize {
        parts.iter().filter(|p| p.0 <= keep).flat_map(|p| &p.1).map(|sp| width(&sp.content)).sum()
    };
    let room = area.width as usize;
    let keep = (0..=6).rev().find(|&k| used(&parts, k) <= room).unwrap_or(0);
    let mut spans: Vec<Span> = parts.into_iter().filter(|p| p.0 <= keep).flat_map(|p| p.1).collect();
    // The device in what room is left: whole, or its name without the details in parentheses.
    let left = room.saturating_sub(spans.iter().map(|sp| width(&sp.content)).sum());
    let short = s.device.split(" (").next().unwrap_or(&s.device);
    let device = [s.device.as_str(), short].into_iter().map(|d| format!(" │ {d}")).find(|d| width(d) <= left);
    if let Some(d) = device {
        spans.push(Span::raw(d).fg(QUIET));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// Progress of what is under way: a run's steps, an evaluation, the teacher's outputs.
pub fn gauge(f: &mut Frame, area: Rect, s: &AppState) {
    let w = area.width as usize;
    let gauge = |label: String, ratio: f64| {
        LineGauge::default()
            .filled_style(Style::default().fg(if s.paused { WARN } else { ACCENT }))
            .unfilled_style(Style::default().fg(Color::DarkGray))
            .label(fit(&label, w.saturating_sub(12)))
            .ratio(ratio.clamp(0.0, 1.0))
    };
    if let Some(c) = s.compiling {
        let who = c.run.and_then(|r| s.runs.get(r)).map(|r| format!("{}: ", r.label.name)).unwrap_or_default();
        let label = format!(
            "{who}compiling GPU kernels for {} on {}x{} tokens (shape {}) · {} · once per shape",
            if c.training { "training" } else { "inference" },
            c.batch,
            c.tokens,
            c.shapes,
            fmt_seconds(c.seconds)
        );
        let ratio = match (s.phase, s.current.and_then(|i| s.runs.get(i))) {
            (Some(p), _) => p.done as f64 / p.total.max(1) as f64,
            (None, Some(r)) => r.step as f64 / r.steps_total.max(1) as f64,
            _ => 0.0,
        };
        f.render_widget(gauge(label, ratio), area);
        return;
    }
    if let Some(p) = s.phase {
        let who = p.run.and_then(|r| s.runs.get(r)).map(|r| format!("{}: ", r.label.name)).unwrap_or_default();
        let eta = p.eta().map(|e| format!(" · ETA {}", fmt_seconds(e))).unwrap_or_default();
        let label = format!("{who}{} · batch {}/{}{eta}", p.phase.describe(), p.done, p.total);
        f.render_widget(gauge(label, p.done as f64 / p.total.max(1) as f64), area);
        return;
    }
    let Some(r) = s.current.and_then(|c| s.runs.get(c)) else {
        let (text, color) = match &s.results_dir {
            Some(d) if s.finished => (
                format!(
                    "all runs over · results in {} · q to exit",
                    d.join(crate::workspace::layout::RESULTS_MD).display()
                ),
                GOOD,
            ),
            _ if s.quitting => ("stopping and writing the results…".to_string(), WARN),
            _ => ("loading the teacher and the data…".to_string(), QUIET),
        };
        f.render_widget(Paragraph::new(fit(&text, w)).fg(color), area);
        return;
    };
    let ratio = if r.steps_total == 0 { 0.0 } else { r.step as f64 / r.steps_total as f64 };
    let eta = r.eta().map(|e| format!(" · ETA {}", fmt_seconds(e))).unwrap_or_default();
    let label = format!(
        "{}  step {}/{} · epoch {}/{} · {:.1} ex/s{eta}",
        r.label.name,
        r.step,
        r.steps_total,
        r.epoch.max(1),
        r.epochs_total,
        r.examples_per_s
    );
    f.render_widget(gauge(label, ratio), area);
}

pub fn footer(f: &mut Frame, area: Rect, s: &AppState) {
    let mut spans = Vec::new();
    let mut used = 0;
    let training = !s.finished && !s.quitting;
    for b in BINDINGS.iter().filter(|b| !b.footer.is_empty() && applies(b, training)) {
        let what = match b.action {
            Action::Pause if s.paused => "resume",
            Action::Quit if s.finished => "exit",
            _ => b.footer,
        };
        let key = format!(" {} ", short_label(b));
        let text = format!(" {what}  ");
        if used + width(&key) + width(&text) > area.width as usize {
            break;
        }
        used += width(&key) + width(&text);
        spans.push(Span::raw(key).black().on_gray());
        spans.push(Span::raw(text));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

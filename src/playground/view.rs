//! Drawing the `try` screen: the title, the input line(s), and each model's answer with a bar
//! per class.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::state::{RowStatus, TryState};
use crate::tui::view::style::{fit, width};

const GOOD: Color = Color::Green;
const BAD: Color = Color::Red;
const QUIET: Color = Color::DarkGray;

pub fn draw(f: &mut Frame, s: &TryState) {
    let inputs = if s.pair { 2 } else { 1 };
    let mut constraints = vec![Constraint::Length(1)];
    constraints.extend(std::iter::repeat_n(Constraint::Length(3), inputs));
    constraints.extend([Constraint::Min(3), Constraint::Length(1)]);
    let areas = Layout::vertical(constraints).split(f.area());
    title(f, areas[0], s);
    for i in 0..inputs {
        input(f, areas[1 + i], s, i);
    }
    models(f, areas[1 + inputs], s);
    let keys = if s.pair {
        " enter  classify   tab  other line   ↑↓  earlier inputs   esc  leave"
    } else {
        " enter  classify   ↑↓  earlier inputs   esc  leave"
    };
    f.render_widget(Paragraph::new(fit(keys, areas[2 + inputs].width as usize)).fg(QUIET), areas[2 + inputs]);
}

fn title(f: &mut Frame, area: Rect, s: &TryState) {
    let (loaded, total) = s.loaded();
    let mut spans = vec![" TRY ".black().on_cyan().bold(), Span::raw(" "), s.title.clone().bold()];
    if loaded < total {
        spans.push(Span::raw(format!(" │ loading models {loaded}/{total}…")));
    } else {
        spans.push(Span::raw(format!(" │ {total} models")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn input(f: &mut Frame, area: Rect, s: &TryState, i: usize) {
    let active = s.field == i;
    let style = if active { Style::default().fg(Color::Cyan) } else { Style::default().fg(QUIET) };
    let block = Block::default().borders(Borders::ALL).border_style(style).title(format!(" {} ", s.input_names[i]));
    let inner = area.width.saturating_sub(3) as usize;
    let text = &s.inputs[i];
    // The end of a long line stays in view, where the typing is: as many of its last characters
    // as fit (one pass from the end, so a pasted paragraph costs no more than its length).
    let shown: String = {
        use unicode_width::UnicodeWidthChar;
        let mut used = 0;
        let tail: Vec<char> = text
            .chars()
            .rev()
            .take_while(|c| {
                used += c.width().unwrap_or(0);
                used <= inner
            })
            .collect();
        tail.into_iter().rev().collect()
    };
    let mut spans = vec![Span::raw(shown)];
    if active {
        spans.push(Span::styled("▏", Style::default().add_modifier(Modifier::SLOW_BLINK)));
    }
    f.render_widget(Paragraph::new(Line::from(spans)).block(block), area);
}

fn models(f: &mut Frame, area: Rect, s: &TryState) {
    let w = area.width.saturating_sub(2) as usize;
    let mut lines: Vec<Line> = Vec::new();
    let name_w = s.rows.iter().map(|r| width(&r.name)).max().unwrap_or(0).min(w / 2);
    let label_w = s.rows.iter().flat_map(|r| r.labels.iter().map(|l| width(l))).max().unwrap_or(0).min(16);
    let reference = s.reference();
    // The longest limit an input was cut to (0: none was cut).
    let mut cut = 0;
    for (i, r) in s.rows.iter().enumerate() {
        let name = format!("{:<name_w$}", fit(&r.name, name_w));
        let head: Vec<Span> = match (&r.status, &r.answer, &r.error) {
            (RowStatus::Queued, ..) => vec![Span::raw("· "), Span::raw(name), " waiting to load".fg(QUIET)],
            (RowStatus::Loading, ..) => vec![Span::raw("… "), Span::raw(name), " loading".fg(QUIET)],
            (RowStatus::Failed(e), ..) => {
                let room = w.saturating_sub(name_w + 3);
                vec!["✗ ".fg(BAD), Span::raw(name), Span::raw(" "), fit(e, room).fg(BAD)]
            }
            (RowStatus::Ready { .. }, _, Some(e)) => {
                let room = w.saturating_sub(name_w + 3);
                vec!["✗ ".fg(BAD), Span::raw(name), Span::raw(" "), fit(e, room).fg(BAD)]
            }
            (RowStatus::Ready { max_length }, Some(a), None) => {
                let label = r.labels.get(a.label_id).cloned().unwrap_or_default();
                let agree = match (i, reference) {
                    (0, _) => Span::raw("  reference  ").fg(QUIET),
                    (_, Some(t)) if t == a.label_id => " = teacher   ".fg(GOOD),
                    (_, Some(_)) => " ≠ teacher   ".fg(BAD),
                    (_, None) => Span::raw("             "),
                };
                let mut v = vec![
                    "▶ ".fg(Color::Cyan),
                    Span::raw(name),
                    Span::raw(" "),
                    format!("{:<label_w$}", fit(&label, label_w)).bold(),
                    Span::raw(format!(" {:>5.1}%", a.probs[a.label_id] * 100.0)),
                    agree,
                    Span::raw(format!("{:>6.1} ms", a.millis)).fg(QUIET),
                ];
                if a.truncated {
                    v.push(" ✂".fg(Color::Yellow));
                    cut = cut.max(*max_length);
                }
                v
            }
            (RowStatus::Ready { .. }, None, None) if s.asked.is_some() => {
                vec!["… ".fg(QUIET), Span::raw(name), " classifying".fg(QUIET)]
            }
            (RowStatus::Ready { .. }, None, None) => vec!["✓ ".fg(GOOD), Span::raw(name), " ready".fg(QUIET)],
        };
        lines.push(Line::from(head));
        if let (Some(a), None) = (&r.answer, &r.error) {
            let bar_w = w.saturating_sub(name_w + label_w + 14).clamp(5, 40);
            for (k, p) in a.probs.iter().enumerate() {
                let filled = ((*p as f64) * bar_w as f64).round() as usize;
                let label = r.labels.get(k).cloned().unwrap_or_default();
                let colour = if k == a.label_id { Color::Cyan } else { QUIET };
                lines.push(Line::from(vec![
                    Span::raw(format!("  {:<name_w$} {:>label_w$} ", "", fit(&label, label_w))),
                    Span::styled("█".repeat(filled.min(bar_w)), Style::default().fg(colour)),
                    Span::styled("░".repeat(bar_w - filled.min(bar_w)), Style::default().fg(QUIET)),
                    Span::raw(format!(" {:>5.1}%", p * 100.0)),
                ]));
            }
        }
    }
    if cut > 0 {
        lines.push(Line::from(""));
        lines.push(Line::from(
            format!("✂ input cut to {cut} tokens (the model's limit), as predict cuts it").fg(Color::Yellow),
        ));
    }
    let asked = match &s.asked {
        Some([a, b]) if s.pair => format!(" Models · \"{}\" / \"{}\" ", fit(a, w / 3), fit(b, w / 3)),
        Some([a, _]) => format!(" Models · \"{}\" ", fit(a, w.saturating_sub(14))),
        None => " Models · type a sentence and press enter ".to_string(),
    };
    let block = Block::default().borders(Borders::ALL).title(asked);
    f.render_widget(Paragraph::new(lines).block(block), area);
}

//! Overlays: the key help and the confirmations of quit and skip.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Stylize;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::style::BEST_MARK;
use crate::events::RunKind;
use crate::tui::keys::BINDINGS;
use crate::tui::state::{AppState, Mode};

pub fn overlay(f: &mut Frame, area: Rect, s: &AppState) {
    if s.view.mode == Mode::Help {
        help(f, area);
    } else if s.view.mode == Mode::ConfirmQuit {
        let text = vec![
            Line::from("Stop after the current step and write the results?"),
            Line::from("Rerunning the same command resumes where it stopped."),
            Line::from(""),
            yes_no("quit", "keep running"),
        ];
        confirm(f, area, " Quit ", text);
    } else if let Some(run) = s.skip_asked().and_then(|i| s.runs.get(i)) {
        let text = if run.label.kind == RunKind::Teacher {
            vec![
                Line::from(format!(
                    "Skip the teacher's fine-tune after {} of {} epochs?",
                    run.trained_epochs(),
                    run.epochs_total
                )),
                Line::from("The students then learn from this partly trained teacher, the"),
                Line::from("results say so, and it is not saved: a rerun fine-tunes it again."),
                Line::from(""),
                yes_no("skip", "keep training"),
            ]
        } else {
            vec![
                Line::from(format!("Skip {} (seed {})?", run.label.name, run.label.seed)),
                Line::from("Its numbers so far are kept, marked skipped, and never ranked."),
                Line::from(""),
                yes_no("skip", "keep training"),
            ]
        };
        confirm(f, area, " Skip ", text);
    }
}

fn yes_no(yes: &'static str, no: &'static str) -> Line<'static> {
    Line::from(vec![
        " y ".black().on_red(),
        Span::raw(format!(" {yes}   ")),
        " n ".black().on_gray(),
        Span::raw(format!(" {no}")),
    ])
}

fn popup(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn confirm(f: &mut Frame, area: Rect, title: &str, text: Vec<Line<'static>>) {
    let w = text.iter().map(|l| l.width()).max().unwrap_or(20) as u16 + 4;
    let r = popup(area, w, text.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(title.to_string())),
        r,
    );
}

fn help(f: &mut Frame, area: Rect) {
    let key_w = BINDINGS.iter().map(|b| b.label.chars().count()).max().unwrap_or(8) + 2;
    let mut text: Vec<Line> =
        BINDINGS.iter().map(|b| Line::from(vec![format!("{:<key_w$}", b.label).bold(), Span::raw(b.help)])).collect();
    text.push(Line::from(vec![format!("{:<key_w$}", "ctrl-c").bold(), Span::raw("quit without asking")]));
    text.push(Line::from(""));
    text.push(Line::from("Training loss: the weighted sum of CE, KL to the teacher and the cosine term (the teacher: CE). Validation loss: CE."));
    text.push(Line::from(format!(
        "{BEST_MARK}: the best finished student's accuracy. Skipped and stopped runs are dim and never ranked."
    )));
    text.push(Line::from(
        "Run list: ✓ done, ▶ running, · queued, » skipped, ■ stopped, ✗ failed; bars: accuracy per epoch.",
    ));
    let r = popup(area, 96, text.len() as u16 + 4);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(Block::default().borders(Borders::ALL).title(" Keys (any key closes) ")),
        r,
    );
}

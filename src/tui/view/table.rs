//! The live results table: per run the epoch its numbers come from, training loss, validation
//! loss and accuracy, its best epoch and time. Only finished students compete for best.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::style::{ACCENT, BAD, BEST_MARK, GOOD, QUIET, fit, status_symbol, unfinished, width};
use crate::events::RunStatus;
use crate::report::table::{fmt_layers_compact, fmt_seconds};
use crate::tui::state::{AppState, RunView};

fn name_of(s: &AppState, r: &RunView) -> String {
    let mut name = if r.is_student() { r.label.name.clone() } else { "Teacher".into() };
    if r.is_student() && s.several_seeds() {
        name.push_str(&format!(" s{}", r.label.seed));
    }
    if matches!(r.status, RunStatus::Skipped | RunStatus::Stopped | RunStatus::Failed) {
        name.push_str(&format!(" ({})", r.status.as_str()));
    }
    name
}

fn num(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "–".into())
}

pub fn results_table(f: &mut Frame, area: Rect, s: &AppState) {
    let best = s.best_accuracy();
    let names: Vec<String> = s.runs.iter().map(|r| name_of(s, r)).collect();
    let layers: Vec<String> = s
        .runs
        .iter()
        .map(|r| {
            if r.is_student() { fmt_layers_compact(&r.label.teacher_layers) } else { format!("1-{}", s.teacher_layers) }
        })
        .collect();
    let layers_w = layers.iter().map(|l| width(l)).max().unwrap_or(0).max(6) as u16;
    // Fixed columns: Ep, Train, Val loss, Val acc (with the best mark); then Best and Time if
    // they fit; the name takes what is left, up to its longest.
    let fixed: [(&str, u16); 4] = [("Ep", 5), ("Train", 7), ("Val loss", 8), ("Val acc", 8)];
    let optional: [(&str, u16); 2] = [("Best (ep)", 11), ("Time", 7)];
    let name_need = names.iter().map(|n| width(n)).max().unwrap_or(4) as u16 + 2;
    let base = layers_w + fixed.iter().map(|c| c.1 + 1).sum::<u16>() + 1;
    let mut shown = 0;
    while shown < optional.len()
        && base + name_need.min(24) + optional[..=shown].iter().map(|c| c.1 + 1).sum::<u16>() <= area.width
    {
        shown += 1;
    }
    let extra: u16 = optional[..shown].iter().map(|c| c.1 + 1).sum();
    let name_w = name_need.min(area.width.saturating_sub(base + extra).max(8));
    let rows: Vec<Row> = s
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let last = r.last();
            let train = r.epochs.iter().rev().find_map(|e| e.train_loss);
            let total = if r.epochs_total > 0 {
                r.epochs_total
            } else if r.is_student() {
                s.student_epochs
            } else {
                0
            };
            let ep = last.map(|e| format!("{}/{total}", e.epoch)).unwrap_or_else(|| "–".into());
            let acc = last.map(|e| e.validation_accuracy);
            let is_best = r.is_student() && r.status == RunStatus::Done && acc.is_some() && acc == best;
            let acc_cell = match acc {
                Some(a) if is_best => Cell::from(format!("{a:.4} {BEST_MARK}")).fg(GOOD).add_modifier(Modifier::BOLD),
                a => Cell::from(num(a)),
            };
            let mut cells = vec![
                Cell::from(Line::from(vec![
                    status_symbol(r),
                    Span::raw(format!(" {}", fit(&names[i], name_w.saturating_sub(2) as usize))),
                ])),
                Cell::from(layers[i].clone()),
                Cell::from(ep),
                Cell::from(num(train)),
                Cell::from(num(last.map(|e| e.validation_loss))),
                acc_cell,
            ];
            if shown >= 1 {
                cells.push(Cell::from(
                    r.best_epoch()
                        .map(|e| format!("{:.4} ({})", e.validation_accuracy, e.epoch))
                        .unwrap_or_else(|| "–".into()),
                ));
            }
            if shown >= 2 {
                cells.push(Cell::from(if r.seconds > 0.0 { fmt_seconds(r.seconds) } else { String::new() }));
            }
            let row = Row::new(cells);
            match r.status {
                RunStatus::Failed => row.fg(BAD),
                _ if unfinished(r) => row.style(Style::default().fg(QUIET).add_modifier(Modifier::DIM)),
                _ => row,
            }
        })
        .collect();
    let mut widths = vec![Constraint::Length(name_w), Constraint::Length(layers_w)];
    widths.extend(fixed.iter().map(|c| Constraint::Length(c.1)));
    widths.extend(optional[..shown].iter().map(|c| Constraint::Length(c.1)));
    let mut header = vec!["Run", "Layers"];
    header.extend(fixed.iter().map(|c| c.0));
    header.extend(optional[..shown].iter().map(|c| c.0));
    let title = format!(" Results · numbers of the epoch in Ep · {BEST_MARK} best finished student ");
    let table = Table::new(rows, widths)
        .header(Row::new(header).bold().fg(ACCENT))
        .column_spacing(1)
        .block(Block::default().borders(Borders::TOP).title(fit(&title, area.width as usize)));
    f.render_widget(table, area);
}

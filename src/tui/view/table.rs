//! The live results table: per run the epoch its numbers come from, training loss, validation
//! loss and accuracy, its best epoch and time. Only finished students compete for best.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};

use super::style::{self, ACCENT, BAD, BEST_MARK, GOOD, QUIET, fit, status_symbol, unfinished};
use crate::events::RunStatus;
use crate::text::{fmt_layers_compact, fmt_seconds};
use crate::tui::state::{AppState, RunView};

fn name_of(s: &AppState, r: &RunView) -> String {
    let mut name = if r.is_student() { r.label.name.clone() } else { "Teacher".into() };
    if r.is_student() && s.several_seeds() {
        name.push_str(&format!(" s{}", r.label.seed));
    }
    if matches!(r.status, RunStatus::Skipped | RunStatus::Stopped | RunStatus::Failed | RunStatus::Crashed) {
        name.push_str(&format!(" ({})", r.status.as_str()));
    }
    name
}

fn num(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.4}")).unwrap_or_else(|| "–".into())
}

/// Fixed columns: Ep, Train, Val loss, Val acc (with the best mark); then Best and Time if
/// they fit; the name takes what is left, up to its longest.
const FIXED: [(&str, u16); 4] = [("Ep", 5), ("Train", 7), ("Val loss", 8), ("Val acc", 8)];
const OPTIONAL: [(&str, u16); 2] = [("Best (ep)", 11), ("Time", 7)];

/// Column widths for `width`: the name column, the layers column, and how many optional
/// columns fit.
struct Columns {
    name: u16,
    layers: u16,
    optional: usize,
}

impl Columns {
    fn fit(width: u16, names: &[String], layers: &[String]) -> Self {
        let layers_w = layers.iter().map(|l| style::width(l)).max().unwrap_or(0).max(6) as u16;
        let name_need = names.iter().map(|n| style::width(n)).max().unwrap_or(4) as u16 + 2;
        let base = layers_w + FIXED.iter().map(|c| c.1 + 1).sum::<u16>() + 1;
        let extra = |n: usize| OPTIONAL[..n].iter().map(|c| c.1 + 1).sum::<u16>();
        let mut shown = 0;
        while shown < OPTIONAL.len() && base + name_need.min(24) + extra(shown + 1) <= width {
            shown += 1;
        }
        let name = name_need.min(width.saturating_sub(base + extra(shown)).max(8));
        Self { name, layers: layers_w, optional: shown }
    }

    fn widths(&self) -> Vec<Constraint> {
        let mut w = vec![Constraint::Length(self.name), Constraint::Length(self.layers)];
        w.extend(FIXED.iter().chain(&OPTIONAL[..self.optional]).map(|c| Constraint::Length(c.1)));
        w
    }

    fn header(&self) -> Row<'static> {
        let mut h = vec!["Run", "Layers"];
        h.extend(FIXED.iter().chain(&OPTIONAL[..self.optional]).map(|c| c.0));
        Row::new(h).bold().fg(ACCENT)
    }
}

pub fn results_table(f: &mut Frame, area: Rect, s: &AppState) {
    let names: Vec<String> = s.runs.iter().map(|r| name_of(s, r)).collect();
    let layers: Vec<String> = s
        .runs
        .iter()
        .map(|r| {
            if r.is_student() { fmt_layers_compact(&r.label.teacher_layers) } else { format!("1-{}", s.teacher_layers) }
        })
        .collect();
    let cols = Columns::fit(area.width, &names, &layers);
    let best = s.best_accuracy();
    let rows: Vec<Row> =
        s.runs.iter().enumerate().map(|(i, r)| row(s, r, &names[i], &layers[i], &cols, best)).collect();
    let title = format!(" Results · numbers of the epoch in Ep · {BEST_MARK} best finished student ");
    let table = Table::new(rows, cols.widths())
        .header(cols.header())
        .column_spacing(1)
        .block(Block::default().borders(Borders::TOP).title(fit(&title, area.width as usize)));
    f.render_widget(table, area);
}

/// One run's row: the numbers of its latest evaluated epoch, marked best only when it is the
/// best finished student.
fn row(s: &AppState, r: &RunView, name: &str, layers: &str, cols: &Columns, best: Option<f64>) -> Row<'static> {
    let last = r.last();
    let train = r.epochs.iter().rev().find_map(|e| e.train_loss);
    let total = match (r.epochs_total, r.is_student()) {
        (0, true) => s.student_epochs,
        (n, _) => n,
    };
    let ep = last.map(|e| format!("{}/{total}", e.epoch)).unwrap_or_else(|| "–".into());
    let acc = last.map(|e| e.validation_accuracy);
    let is_best = r.is_student() && r.status == RunStatus::Done && acc.is_some() && acc == best;
    let acc_cell = match acc {
        Some(a) if is_best => Cell::from(format!("{a:.4} {BEST_MARK}")).fg(GOOD).add_modifier(Modifier::BOLD),
        a => Cell::from(num(a)),
    };
    let name =
        Line::from(vec![status_symbol(r), Span::raw(format!(" {}", fit(name, cols.name.saturating_sub(2) as usize)))]);
    let mut cells = vec![
        Cell::from(name),
        Cell::from(layers.to_string()),
        Cell::from(ep),
        Cell::from(num(train)),
        Cell::from(num(last.map(|e| e.validation_loss))),
        acc_cell,
    ];
    if cols.optional >= 1 {
        let best_epoch = r.best_epoch().map(|e| format!("{:.4} ({})", e.validation_accuracy, e.epoch));
        cells.push(Cell::from(best_epoch.unwrap_or_else(|| "–".into())));
    }
    if cols.optional >= 2 {
        cells.push(Cell::from(if r.seconds > 0.0 { fmt_seconds(r.seconds) } else { String::new() }));
    }
    let row = Row::new(cells);
    match r.status {
        RunStatus::Failed => row.fg(BAD),
        _ if unfinished(r) => row.style(Style::default().fg(QUIET).add_modifier(Modifier::DIM)),
        _ => row,
    }
}

//! The run list (state, progress or accuracy with its trend per epoch) and, below it when there
//! is room, the selected run's epochs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style, Stylize};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::style::{QUIET, fit, spark, status_symbol, width};
use crate::events::RunStatus;
use crate::text::fmt_seconds;
use crate::tui::state::{AppState, RunView};

pub fn runs_panel(f: &mut Frame, area: Rect, s: &AppState) {
    let list_h = (s.runs.len() as u16 + 2).min(area.height);
    let details_h = area.height - list_h;
    if details_h >= 5 {
        let [list, details_area] = Layout::vertical([Constraint::Length(list_h), Constraint::Min(5)]).areas(area);
        run_list(f, list, s);
        details(f, details_area, s);
    } else {
        run_list(f, area, s);
    }
}

/// The range of every evaluated accuracy, so that trends compare across runs.
fn accuracy_range(s: &AppState) -> (f64, f64) {
    let all = s.runs.iter().flat_map(|r| r.epochs.iter().map(|e| e.validation_accuracy));
    all.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

fn right_text(s: &AppState, r: &RunView, i: usize, (lo, hi): (f64, f64)) -> String {
    let trend = || spark(&r.epochs.iter().map(|e| e.validation_accuracy).collect::<Vec<_>>(), lo, hi);
    match r.status {
        RunStatus::Pending => "queued".into(),
        RunStatus::Running => match s.phase.filter(|p| p.run == Some(i)) {
            Some(p) => format!("eval {}/{}", p.done, p.total),
            None if s.paused => format!("paused {}/{}", r.step, r.steps_total),
            None => format!("ep {}/{} {}/{}", r.epoch.max(1), r.epochs_total, r.step, r.steps_total),
        },
        RunStatus::Done => r.last().map(|e| format!("{} {:.4}", trend(), e.validation_accuracy)).unwrap_or_default(),
        RunStatus::Skipped => format!("skipped ep {}", r.trained_epochs()),
        RunStatus::Stopped => "stopped".into(),
        RunStatus::Failed => "failed".into(),
        RunStatus::Crashed => "crashed".into(),
    }
}

fn run_list(f: &mut Frame, area: Rect, s: &AppState) {
    let several = s.several_seeds();
    let range = accuracy_range(s);
    let inner_w = area.width.saturating_sub(2) as usize;
    let lines: Vec<Line> = s
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let right = right_text(s, r, i, range);
            let room = inner_w.saturating_sub(width(&right) + 3);
            let name = fit(&r.title(several), room);
            let pad = inner_w.saturating_sub(2 + width(&name) + width(&right));
            let right_style =
                if r.status == RunStatus::Pending { Style::default().fg(QUIET) } else { Style::default() };
            let mut line = Line::from(vec![
                status_symbol(r),
                Span::raw(format!(" {name}{}", " ".repeat(pad))),
                Span::styled(right, right_style),
            ]);
            if i == s.view.selected {
                line = line.style(Style::default().add_modifier(Modifier::REVERSED));
            }
            line
        })
        .collect();
    let block = Block::default().borders(Borders::ALL).title(" Runs ");
    let inner_h = area.height.saturating_sub(2) as usize;
    let scroll = s.view.selected.saturating_sub(inner_h.saturating_sub(1)) as u16;
    f.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}

/// The selected run: what it is, its numbers per epoch, its best epoch and pace.
fn details(f: &mut Frame, area: Rect, s: &AppState) {
    let Some(r) = s.runs.get(s.view.selected) else { return };
    let w = area.width.saturating_sub(2) as usize;
    let mut lines = Vec::new();
    let what = if r.is_student() {
        format!(
            "seed {} · layers {{{}}} of the teacher's {}",
            r.label.seed,
            crate::text::fmt_layers(&r.label.teacher_layers),
            s.teacher_layers
        )
    } else {
        format!("{} layers, cross-entropy on the labels", s.teacher_layers)
    };
    lines.push(Line::from(fit(&what, w)).fg(QUIET));
    lines.push(Line::from("ep  train   val loss  val acc").bold());
    let room = (area.height as usize).saturating_sub(5);
    let skip = r.epochs.len().saturating_sub(room);
    let best = r.best_epoch().map(|e| e.epoch);
    for e in r.epochs.iter().skip(skip) {
        let train = e.train_loss.map(|t| format!("{t:.4}")).unwrap_or_else(|| "init  ".into());
        let mark = if Some(e.epoch) == best { " ◀ best" } else { "" };
        lines.push(Line::from(fit(
            &format!("{:>2}  {train}  {:.4}    {:.4}{mark}", e.epoch, e.validation_loss, e.validation_accuracy),
            w,
        )));
    }
    if r.epochs.is_empty() {
        lines.push(Line::from("–  not evaluated yet").fg(QUIET));
    }
    let mut tail = vec![r.status.as_str().to_string()];
    if r.examples_per_s > 0.0 {
        tail.push(format!("{:.1} ex/s", r.examples_per_s));
    }
    if r.seconds > 0.0 {
        tail.push(fmt_seconds(r.seconds));
    }
    if let Some(why) = &r.reason {
        tail.push(why.clone());
    }
    lines.push(Line::from(fit(&tail.join(" · "), w)).fg(QUIET));
    let title = format!(" {} ", fit(&r.title(s.several_seeds()), w.saturating_sub(2)));
    f.render_widget(Paragraph::new(lines).block(Block::default().borders(Borders::ALL).title(title)), area);
}

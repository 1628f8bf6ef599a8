//! The charts: the selected run's training loss (smoothed line over faint raw points, epoch
//! marks, validation loss per epoch), every student's loss on shared axes, and validation
//! accuracy per epoch with the teacher as a line.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Chart, Dataset, GraphType, LegendPosition, Paragraph};

use super::style::{ACCENT, PALETTE, QUIET, WARN, faint, fit, fmt_axis};
use crate::events::RunStatus;
use crate::tui::history::{RECENT_STEPS, smooth, window_for};
use crate::tui::state::{AppState, RunView};

/// Colour of a run: one per strategy (its name), so that seeds of one strategy share it.
fn color_of(s: &AppState, r: &RunView) -> Color {
    let mut names: Vec<&str> = Vec::new();
    for x in s.runs.iter().filter(|x| x.is_student()) {
        if !names.contains(&x.label.name.as_str()) {
            names.push(&x.label.name);
        }
    }
    let i = names.iter().position(|n| *n == r.label.name).unwrap_or(0);
    PALETTE[i % PALETTE.len()]
}

/// Bounds padded by 5% (a flat series gets a small band around it).
fn padded(lo: f64, hi: f64) -> [f64; 2] {
    let (lo, hi) = crate::text::padded_range(lo, hi);
    [lo, hi]
}

fn labels3(lo: f64, hi: f64, fmt: impl Fn(f64) -> String) -> Vec<Line<'static>> {
    vec![Line::from(fmt(lo)), Line::from(fmt((lo + hi) / 2.0)), Line::from(fmt(hi))]
}

/// The 5th and 95th percentiles: single spikes do not flatten the chart.
fn robust_range(ys: impl Iterator<Item = f64>) -> (f64, f64) {
    let mut v: Vec<f64> = ys.filter(|y| y.is_finite()).collect();
    if v.is_empty() {
        return (f64::INFINITY, f64::NEG_INFINITY);
    }
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.05), at(0.95))
}

fn step_label(v: f64) -> String {
    format!("{v:.0}")
}

fn empty(f: &mut Frame, area: Rect, block: Block, text: &str) {
    f.render_widget(Paragraph::new(text.to_string()).fg(QUIET).block(block), area);
}

fn window_name(s: &AppState) -> String {
    if s.view.recent { format!("{RECENT_STEPS} steps") } else { "whole run".into() }
}

/// The selected run's training loss.
pub fn loss(f: &mut Frame, area: Rect, s: &AppState) {
    let Some(r) = s.runs.get(s.view.selected) else { return };
    let raw = if s.view.recent { r.loss.recent() } else { r.loss.full() };
    let stride = if s.view.recent { 1 } else { r.loss.stride() };
    let block = loss_block(s, r, area, stride);
    if raw.is_empty() {
        return empty(f, area, block, if r.status == RunStatus::Pending { "queued" } else { "no steps yet" });
    }
    let inner = block.inner(area);
    f.render_widget(block, area);
    let [chart_area, parts_area] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(inner);
    f.render_widget(LossSeries::new(s, r, raw).chart(), chart_area);
    f.render_widget(Paragraph::new(fit(&parts_line(r), parts_area.width as usize)).fg(QUIET), parts_area);
}

/// The frame of the loss chart: what and whose (title), the window, the legend.
fn loss_block(s: &AppState, r: &RunView, area: Rect, stride: usize) -> Block<'static> {
    let what = if r.is_student() { "Loss" } else { "CE loss" };
    let window = format!(" {} ", window_name(s));
    let w = (area.width as usize).saturating_sub(4 + window.len());
    let title = fit(&format!(" {what} · {} ", r.title(s.several_seeds())), w);
    let steps = if stride == 1 { "⠂ steps".to_string() } else { format!("⠂ {stride}-step means") };
    let legend = Line::from(vec![
        Span::raw(" "),
        "━ smoothed".fg(ACCENT),
        Span::raw(" "),
        Span::styled(steps, faint()),
        Span::raw(" "),
        "• val CE".fg(WARN).bold(),
        Span::raw(" "),
        Span::styled("┊ epochs ", faint()),
    ]);
    Block::default()
        .borders(Borders::ALL)
        .title(title)
        .title_top(Line::from(window).right_aligned())
        .title_bottom(legend)
}

/// The loss and its parts, smoothed, under the chart.
fn parts_line(r: &RunView) -> String {
    match r.parts {
        Some(p) if r.is_student() => format!(
            "step {} · loss {:.4} = CE {:.4} · KL {:.4} · cos {:.4} (weighted; smoothed)",
            r.step, p.total, p.ce, p.kl, p.cosine
        ),
        Some(p) => format!("step {} · CE {:.4} (smoothed)", r.step, p.ce),
        None => String::new(),
    }
}

/// The points of a run's loss chart: raw and smoothed steps, validation loss per epoch, epoch
/// marks, and the bounds that hold them (single spikes left out).
struct LossSeries {
    raw: Vec<(f64, f64)>,
    smoothed: Vec<(f64, f64)>,
    val: Vec<(f64, f64)>,
    marks: Vec<[(f64, f64); 2]>,
    x: [f64; 2],
    y: [f64; 2],
}

impl LossSeries {
    fn new(s: &AppState, r: &RunView, raw: Vec<(f64, f64)>) -> Self {
        let smoothed = smooth(&raw, window_for(raw.len()));
        let spe = r.steps_per_epoch().max(1) as f64;
        let last = raw[raw.len() - 1].0;
        let (x0, x1) = if s.view.recent {
            (raw[0].0, last.max(raw[0].0 + 1.0))
        } else {
            (0.0, (r.steps_total as f64).max(last).max(1.0))
        };
        let val: Vec<(f64, f64)> = r
            .epochs
            .iter()
            .map(|e| (e.epoch as f64 * spe, e.validation_loss))
            .filter(|p| p.0 >= x0 && p.0 <= x1)
            .collect();
        let (rlo, rhi) = robust_range(raw.iter().map(|p| p.1));
        let lo = smoothed.iter().chain(&val).map(|p| p.1).fold(rlo, f64::min);
        let hi = smoothed.iter().chain(&val).map(|p| p.1).fold(rhi, f64::max);
        let y = padded(lo, hi);
        let marks = (1..r.epochs_total)
            .map(|k| k as f64 * spe)
            .filter(|x| *x > x0 && *x < x1)
            .map(|x| [(x, y[0]), (x, y[1])])
            .collect();
        Self { raw, smoothed, val, marks, x: [x0, x1], y }
    }

    fn chart(&self) -> Chart<'_> {
        let line = |data| Dataset::default().marker(Marker::Braille).graph_type(GraphType::Line).data(data);
        let mut datasets: Vec<Dataset> = self.marks.iter().map(|m| line(m).style(faint())).collect();
        datasets.push(line(&self.raw).graph_type(GraphType::Scatter).style(faint()));
        datasets.push(line(&self.smoothed).style(Style::default().fg(ACCENT)));
        let val_style = Style::default().fg(WARN).add_modifier(Modifier::BOLD);
        datasets.push(
            Dataset::default().marker(Marker::Dot).graph_type(GraphType::Scatter).style(val_style).data(&self.val),
        );
        let ([x0, x1], [ylo, yhi]) = (self.x, self.y);
        let quiet = Style::default().fg(QUIET);
        Chart::new(datasets)
            .x_axis(Axis::default().bounds(self.x).labels(labels3(x0, x1, step_label)).style(quiet))
            .y_axis(Axis::default().bounds(self.y).labels(labels3(ylo, yhi, fmt_axis)).style(quiet))
            .legend_position(None)
    }
}

/// One line per student run, a colour per strategy; the legend names each strategy once.
fn student_lines<'a>(s: &AppState, series: &'a [(&RunView, Vec<(f64, f64)>)]) -> Vec<Dataset<'a>> {
    let mut named: Vec<&str> = Vec::new();
    series
        .iter()
        .map(|(r, pts)| {
            let style = Style::default().fg(color_of(s, r));
            let d = Dataset::default().marker(Marker::Braille).graph_type(GraphType::Line).style(style).data(pts);
            if named.contains(&r.label.name.as_str()) {
                d
            } else {
                named.push(&r.label.name);
                d.name(r.label.name.clone())
            }
        })
        .collect()
}

/// The lowest and highest values.
fn y_range(ys: impl Iterator<Item = f64>) -> (f64, f64) {
    ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)))
}

/// A chart with axes in the quiet colour and a legend that stays up to 60% of the width.
fn legend_chart<'a>(
    datasets: Vec<Dataset<'a>>,
    block: Block<'a>,
    x: Axis<'a>,
    y: Axis<'a>,
    at: LegendPosition,
) -> Chart<'a> {
    let quiet = Style::default().fg(QUIET);
    Chart::new(datasets)
        .block(block)
        .x_axis(x.style(quiet))
        .y_axis(y.style(quiet))
        .legend_position(Some(at))
        .hidden_legend_constraints((Constraint::Percentage(60), Constraint::Percentage(80)))
}

/// Every student's smoothed loss on shared axes, one colour per strategy.
pub fn loss_all(f: &mut Frame, area: Rect, s: &AppState) {
    let block = Block::default()
        .borders(Borders::ALL)
        .title(" Loss of every student ")
        .title_top(Line::from(format!(" {} ", window_name(s))).right_aligned());
    let series: Vec<(&RunView, Vec<(f64, f64)>)> = s
        .runs
        .iter()
        .filter(|r| r.is_student() && !r.loss.is_empty())
        .map(|r| {
            let raw = if s.view.recent { r.loss.recent() } else { r.loss.full() };
            (r, smooth(&raw, window_for(raw.len())))
        })
        .collect();
    if series.is_empty() {
        return empty(f, area, block, "no student has trained yet");
    }
    let last = |pts: &[(f64, f64)]| pts.last().map_or(1.0, |p| p.0);
    let x1 = series
        .iter()
        .map(|(r, pts)| if s.view.recent { last(pts) } else { (r.steps_total as f64).max(last(pts)) })
        .fold(1.0, f64::max);
    let first = series.iter().filter_map(|(_, p)| p.first()).map(|p| p.0).fold(f64::INFINITY, f64::min);
    let x0 = if s.view.recent { first.min(x1 - 1.0) } else { 0.0 };
    let (lo, hi) = y_range(series.iter().flat_map(|(_, p)| p).map(|p| p.1));
    let [ylo, yhi] = padded(lo, hi);
    let x = Axis::default().title("step").bounds([x0, x1]).labels(labels3(x0, x1, step_label));
    let y = Axis::default().bounds([ylo, yhi]).labels(labels3(ylo, yhi, fmt_axis));
    f.render_widget(legend_chart(student_lines(s, &series), block, x, y, LegendPosition::TopRight), area);
}

/// Validation accuracy per epoch of every run (epoch 0: the initialization), the teacher's as
/// a horizontal line.
pub fn accuracy(f: &mut Frame, area: Rect, s: &AppState) {
    let block = Block::default().borders(Borders::ALL).title(" Validation accuracy ");
    let students: Vec<(&RunView, Vec<(f64, f64)>)> = s
        .runs
        .iter()
        .filter(|r| r.is_student() && !r.epochs.is_empty())
        .map(|r| (r, r.epochs.iter().map(|e| (e.epoch as f64, e.validation_accuracy)).collect()))
        .collect();
    if students.is_empty() {
        return empty(f, area, block, "no student has been evaluated yet");
    }
    let max_epoch = students.iter().flat_map(|(_, p)| p).map(|p| p.0).fold(s.student_epochs as f64, f64::max).max(1.0);
    let teacher = s.teacher_accuracy();
    let (lo, hi) = y_range(students.iter().flat_map(|(_, p)| p).map(|p| p.1).chain(teacher));
    let [ylo, yhi] = padded(lo, hi);
    let teacher_line: Vec<(f64, f64)> = teacher.map(|t| vec![(0.0, t), (max_epoch, t)]).unwrap_or_default();
    let mut datasets = Vec::new();
    if let Some(t) = teacher {
        let style = Style::default().fg(Color::White);
        let line = Dataset::default().marker(Marker::Dot).graph_type(GraphType::Line).style(style);
        datasets.push(line.name(format!("Teacher {t:.3}")).data(&teacher_line));
    }
    datasets.extend(student_lines(s, &students));
    let n = max_epoch as usize;
    let x_labels: Vec<Line> = match n {
        0..=10 => (0..=n).map(|e| Line::from(e.to_string())).collect(),
        _ => labels3(0.0, max_epoch, step_label),
    };
    let x = Axis::default().title("epoch (0: init)").bounds([0.0, max_epoch]).labels(x_labels);
    let y = Axis::default().bounds([ylo, yhi]).labels(labels3(ylo, yhi, |v| format!("{v:.3}")));
    f.render_widget(legend_chart(datasets, block, x, y, LegendPosition::BottomRight), area);
}

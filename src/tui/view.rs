//! Drawing the monitor from [`AppState`]: header, run list, progress, charts, the live results
//! table, the log and the key help. Pure: a frame in, nothing else touched.

use ratatui::Frame;
use ratatui::layout::{Constraint, Direction, Layout, Rect};
use ratatui::style::{Color, Modifier, Style, Stylize};
use ratatui::symbols;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Borders, Cell, Chart, Clear, Dataset, GraphType, LineGauge, Paragraph, Row, Sparkline, Table, Wrap};

use super::state::{AppState, ChartMode, RunView};
use crate::engine::events::{Level, RunKind, RunStatus};
use crate::report::table::{fmt_layers_compact, fmt_seconds};

const ACCENT: Color = Color::Cyan;
const GOOD: Color = Color::Green;
const WARN: Color = Color::Yellow;
const BAD: Color = Color::Red;

pub fn draw(f: &mut Frame, s: &AppState) {
    let area = f.area();
    let table_h = (s.runs.len() as u16 + 3).min(area.height.saturating_sub(12).max(4));
    let log_h = if area.height >= 30 { 5 } else { 3 };
    let rows = Layout::default()
        .direction(Direction::Vertical)
        .constraints([
            Constraint::Length(1),
            Constraint::Min(6),
            Constraint::Length(1),
            Constraint::Length(table_h),
            Constraint::Length(log_h),
            Constraint::Length(1),
        ])
        .split(area);
    header(f, rows[0], s);
    let list_w = if area.width >= 110 { 48 } else { (area.width / 2).max(30) };
    let top = Layout::default()
        .direction(Direction::Horizontal)
        .constraints([Constraint::Length(list_w), Constraint::Min(20)])
        .split(rows[1]);
    run_list(f, top[0], s);
    match s.chart {
        ChartMode::LossParts => loss_parts(f, top[1], s),
        ChartMode::AllRuns => all_runs(f, top[1], s),
    }
    gauge(f, rows[2], s);
    results_table(f, rows[3], s);
    log(f, rows[4], s);
    footer(f, rows[5], s);
    if s.help {
        help(f, area);
    } else if s.confirm_quit {
        confirm(f, area);
    }
}

fn status_word(s: &AppState) -> Span<'static> {
    if s.finished {
        " FINISHED ".black().on_green().bold()
    } else if s.quitting {
        " STOPPING ".black().on_red().bold()
    } else if s.paused {
        " PAUSED ".black().on_yellow().bold()
    } else {
        " RUNNING ".black().on_cyan().bold()
    }
}

fn header(f: &mut Frame, area: Rect, s: &AppState) {
    let (over, total) = s.progress();
    let eta = match s.eta() {
        Some(e) if !s.finished => format!("ETA {}", fmt_seconds(e)),
        _ => String::new(),
    };
    let mut spans = vec![status_word(s), Span::raw(" "), s.experiment.clone().bold().fg(ACCENT)];
    if s.experiment == crate::demo::DEMO_NAME {
        spans.push(Span::raw(" "));
        spans.push(" SYNTHETIC DATA ".black().on_magenta());
    }
    spans.push(Span::raw(format!(" │ runs {over}/{total} │ {} elapsed", fmt_seconds(s.elapsed.as_secs_f64()))));
    if !eta.is_empty() {
        spans.push(Span::raw(format!(" │ {eta}")));
    }
    spans.push(Span::raw(format!(" │ {}", s.device)).dark_gray());
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn symbol(r: &RunView) -> Span<'static> {
    match r.status {
        RunStatus::Pending => "·".dark_gray(),
        RunStatus::Running => "▶".fg(ACCENT).bold(),
        RunStatus::Done => "✓".fg(GOOD),
        RunStatus::Stopped => "■".fg(WARN),
        RunStatus::Skipped => "»".fg(WARN),
        RunStatus::Failed => "✗".fg(BAD).bold(),
    }
}

fn run_name(r: &RunView) -> String {
    if r.label.kind == RunKind::Teacher { r.label.name.clone() } else { format!("{} {{{}}}", r.label.name, fmt_layers_compact(&r.label.teacher_layers)) }
}

fn run_list(f: &mut Frame, area: Rect, s: &AppState) {
    let seeds = s.runs.iter().map(|r| r.label.seed).collect::<std::collections::BTreeSet<_>>().len();
    let lines: Vec<Line> = s
        .runs
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let right = match r.status {
                RunStatus::Pending => "queued".to_string(),
                RunStatus::Running if s.paused => format!("paused {}/{}", r.step, r.steps_total),
                RunStatus::Running => format!("ep {}/{} {}/{}", r.epoch.max(1), r.epochs_total, r.step, r.steps_total),
                RunStatus::Done => r.last().map(|e| format!("acc {:.4}", e.validation_accuracy)).unwrap_or_default(),
                RunStatus::Skipped => "skipped".into(),
                RunStatus::Stopped => "stopped".into(),
                RunStatus::Failed => "failed".into(),
            };
            let mut name = run_name(r);
            if seeds > 1 && r.label.kind == RunKind::Student {
                name.push_str(&format!(" s{}", r.label.seed));
            }
            let width = area.width.saturating_sub(4) as usize;
            let room = width.saturating_sub(right.chars().count() + 3);
            let name: String = if name.chars().count() > room { name.chars().take(room.saturating_sub(1)).collect::<String>() + "…" } else { name };
            let pad = width.saturating_sub(name.chars().count() + right.chars().count() + 2);
            let mut line = Line::from(vec![symbol(r), Span::raw(format!(" {name}{}", " ".repeat(pad))), Span::raw(right).dark_gray()]);
            if i == s.selected {
                line = line.style(Style::default().add_modifier(Modifier::REVERSED));
            }
            line
        })
        .collect();
    let block = Block::default().borders(Borders::ALL).title(" Runs ");
    let inner_h = area.height.saturating_sub(2) as usize;
    let scroll = s.selected.saturating_sub(inner_h.saturating_sub(1)) as u16;
    f.render_widget(Paragraph::new(lines).block(block).scroll((scroll, 0)), area);
}

fn gauge(f: &mut Frame, area: Rect, s: &AppState) {
    let Some(r) = s.current.and_then(|c| s.runs.get(c)) else {
        let text = match &s.results_dir {
            Some(d) if s.finished => format!("all runs over — results in {}", d.join("results.md").display()),
            _ => "starting…".into(),
        };
        f.render_widget(Paragraph::new(text).fg(if s.finished { GOOD } else { Color::Gray }), area);
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
    let g = LineGauge::default()
        .filled_style(Style::default().fg(if s.paused { WARN } else { ACCENT }))
        .unfilled_style(Style::default().fg(Color::DarkGray))
        .label(label)
        .ratio(ratio.clamp(0.0, 1.0));
    f.render_widget(g, area);
}

fn loss_parts(f: &mut Frame, area: Rect, s: &AppState) {
    let block = Block::default().borders(Borders::ALL).title(" Training loss (tab: all runs) ");
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(r) = s.runs.get(s.selected) else { return };
    let parts: Vec<(&str, &std::collections::VecDeque<f64>, Color)> = if r.label.kind == RunKind::Teacher {
        vec![("CE", &r.ce, ACCENT)]
    } else {
        vec![("loss", &r.loss, ACCENT), ("CE", &r.ce, GOOD), ("KL", &r.kl, Color::Magenta), ("cos", &r.cosine, WARN)]
    };
    let h = (inner.height / parts.len() as u16).max(1);
    let areas = Layout::default()
        .direction(Direction::Vertical)
        .constraints(parts.iter().map(|_| Constraint::Length(h)).collect::<Vec<_>>())
        .split(inner);
    for ((name, data, color), a) in parts.iter().zip(areas.iter()) {
        let [label_area, spark_area] = Layout::default()
            .direction(Direction::Horizontal)
            .constraints([Constraint::Length(13), Constraint::Min(1)])
            .areas(*a);
        let last = data.back().map(|v| format!("{v:.4}")).unwrap_or_else(|| "–".into());
        f.render_widget(Paragraph::new(format!("{name:<4} {last}")).fg(*color), label_area);
        let width = spark_area.width as usize;
        let tail: Vec<f64> = data.iter().skip(data.len().saturating_sub(width)).copied().filter(|v| v.is_finite()).collect();
        // Scaled between the window's min and max, so that the trend shows whatever the level.
        let lo = tail.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = tail.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let span = (hi - lo).max(1e-9);
        let points: Vec<u64> = tail.iter().map(|v| (1.0 + (v - lo) / span * 999.0) as u64).collect();
        f.render_widget(Sparkline::default().data(&points).max(1000).style(Style::default().fg(*color)), spark_area);
    }
}

const PALETTE: [Color; 8] = [Color::Cyan, Color::Green, Color::Magenta, Color::Yellow, Color::Blue, Color::Red, Color::LightCyan, Color::LightGreen];

fn all_runs(f: &mut Frame, area: Rect, s: &AppState) {
    let series: Vec<(String, Vec<(f64, f64)>)> = s
        .runs
        .iter()
        .filter(|r| r.label.kind == RunKind::Student && !r.epochs.is_empty())
        .map(|r| (r.label.name.clone(), r.epochs.iter().map(|e| (e.epoch as f64, e.validation_accuracy)).collect()))
        .collect();
    let block = Block::default().borders(Borders::ALL).title(" Validation accuracy per epoch (tab: loss) ");
    if series.is_empty() {
        f.render_widget(Paragraph::new("no student has been evaluated yet").block(block).dark_gray(), area);
        return;
    }
    let (mut lo, mut hi, mut max_epoch) = (1.0f64, 0.0f64, 1.0f64);
    for (_, pts) in &series {
        for &(x, y) in pts {
            lo = lo.min(y);
            hi = hi.max(y);
            max_epoch = max_epoch.max(x);
        }
    }
    let (lo, hi) = ((lo - 0.02).max(0.0), (hi + 0.02).min(1.0));
    let datasets: Vec<Dataset> = series
        .iter()
        .enumerate()
        .map(|(i, (name, pts))| {
            Dataset::default()
                .name(name.clone())
                .marker(symbols::Marker::Braille)
                .graph_type(GraphType::Line)
                .style(Style::default().fg(PALETTE[i % PALETTE.len()]))
                .data(pts)
        })
        .collect();
    let chart = Chart::new(datasets)
        .block(block)
        .x_axis(Axis::default().title("epoch").bounds([0.0, max_epoch]).labels(vec![Span::raw("0"), Span::raw(format!("{max_epoch:.0}"))]))
        .y_axis(Axis::default().bounds([lo, hi]).labels(vec![Span::raw(format!("{lo:.2}")), Span::raw(format!("{hi:.2}"))]));
    f.render_widget(chart, area);
}

/// Train loss, validation loss and accuracy of a run's latest epoch.
fn latest(r: &RunView) -> (Option<f64>, Option<f64>, Option<f64>) {
    let train = r.epochs.iter().rev().find_map(|e| e.train_loss);
    let last = r.last();
    (train, last.map(|e| e.validation_loss), last.map(|e| e.validation_accuracy))
}

fn results_table(f: &mut Frame, area: Rect, s: &AppState) {
    let students: Vec<&RunView> = s.runs.iter().filter(|r| r.label.kind == RunKind::Student).collect();
    let best = |pick: fn(&RunView) -> Option<f64>, higher: bool| -> Option<f64> {
        students.iter().filter_map(|r| pick(r)).fold(None, |b: Option<f64>, v| match b {
            Some(b) if (higher && b >= v) || (!higher && b <= v) => Some(b),
            _ => Some(v),
        })
    };
    let best_train = best(|r| latest(r).0, false);
    let best_loss = best(|r| latest(r).1, false);
    let best_acc = best(|r| latest(r).2, true);
    let cell = |v: Option<f64>, best: Option<f64>, student: bool| -> Cell<'static> {
        match v {
            None => Cell::from("–").dark_gray(),
            Some(x) if student && Some(x) == best => Cell::from(format!("{x:.4}")).fg(GOOD).bold(),
            Some(x) => Cell::from(format!("{x:.4}")),
        }
    };
    let rows: Vec<Row> = s
        .runs
        .iter()
        .map(|r| {
            let student = r.label.kind == RunKind::Student;
            let (t, l, a) = latest(r);
            let layers = if student { fmt_layers_compact(&r.label.teacher_layers) } else { format!("1-{}", s.teacher_layers) };
            let name = if student { r.label.name.clone() } else { "Teacher".into() };
            let row = Row::new(vec![
                Cell::from(Line::from(vec![symbol(r), Span::raw(format!(" {name}"))])),
                Cell::from(layers),
                cell(t, best_train, student),
                cell(l, best_loss, student),
                cell(a, best_acc, student),
                Cell::from(if r.seconds > 0.0 { fmt_seconds(r.seconds) } else { String::new() }),
            ]);
            if r.status == RunStatus::Failed { row.fg(BAD) } else { row }
        })
        .collect();
    let widths = [Constraint::Min(16), Constraint::Length(14), Constraint::Length(10), Constraint::Length(10), Constraint::Length(10), Constraint::Length(8)];
    let table = Table::new(rows, widths)
        .header(Row::new(vec!["Student Layer", "Teacher layers", "Train Loss", "Val Loss", "Val Acc", "Time"]).bold().fg(ACCENT))
        .column_spacing(1)
        .block(Block::default().borders(Borders::TOP).title(" Results "));
    f.render_widget(table, area);
}

fn log(f: &mut Frame, area: Rect, s: &AppState) {
    let n = area.height.saturating_sub(1) as usize;
    let lines: Vec<Line> = s
        .logs
        .iter()
        .skip(s.logs.len().saturating_sub(n))
        .map(|(level, text)| match level {
            Level::Warn => Line::from(vec!["warning: ".fg(WARN).bold(), Span::raw(text.clone())]),
            Level::Info => Line::from(Span::raw(text.clone()).dark_gray()),
        })
        .collect();
    f.render_widget(Paragraph::new(lines).block(Block::default().borders(Borders::TOP).title(" Log ")), area);
}

fn footer(f: &mut Frame, area: Rect, s: &AppState) {
    let keys: &[(&str, &str)] = if s.finished {
        &[("q", "exit"), ("↑↓/jk", "select"), ("tab", "chart"), ("?", "help")]
    } else {
        &[("p", if s.paused { "resume" } else { "pause" }), ("s", "skip run"), ("q", "quit"), ("↑↓/jk", "select"), ("tab", "chart"), ("?", "help")]
    };
    let mut spans = Vec::new();
    for (k, what) in keys {
        spans.push(Span::raw(format!(" {k} ")).black().on_gray());
        spans.push(Span::raw(format!(" {what}  ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn popup(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn help(f: &mut Frame, area: Rect) {
    let text = vec![
        Line::from("p / space  pause or resume (between steps; the ETA clock stops)"),
        Line::from("s          skip the current run (marked skipped, history kept)"),
        Line::from("q / esc    quit: stops after the current step and writes results"),
        Line::from("ctrl-c     quit without asking"),
        Line::from("↑ ↓ / j k  select the run whose losses are charted"),
        Line::from("tab        loss parts of the selected run / accuracy of all runs"),
        Line::from("?          this help (any key closes it)"),
        Line::from(""),
        Line::from("Training loss = weighted mean of CE, KL and cosine; validation loss = CE."),
        Line::from("Best student value per column in green; the table is also in results.md."),
    ];
    let r = popup(area, 76, 12);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(text).wrap(Wrap { trim: false }).block(Block::default().borders(Borders::ALL).title(" Keys ")), r);
}

fn confirm(f: &mut Frame, area: Rect) {
    let r = popup(area, 52, 5);
    f.render_widget(Clear, r);
    let text = vec![Line::from("Stop after the current step and write the results?"), Line::from(vec![" y ".black().on_red(), Span::raw(" quit   "), " n ".black().on_gray(), Span::raw(" keep running")])];
    f.render_widget(Paragraph::new(text).block(Block::default().borders(Borders::ALL).title(" Quit ")), r);
}

//! The three plots drawn with plotters, each as SVG (for papers) and PNG (for a quick look):
//! the same drawing code on both backends. Text uses DejaVu Sans from the `dejavu` crate, so a
//! machine without fonts draws the same PNG.

use plotters::chart::MeshStyle;
use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::data::{Band, PlotData};

/// Pixels of every plot: readable at 100% on a laptop screen.
pub const SIZE: (u32, u32) = (1100, 650);
const FONT: &str = "sans-serif";

/// Colours of the strategies, in plan order (Okabe-Ito: told apart by colour-blind readers).
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(120, 120, 120),
    RGBColor(240, 228, 66),
];
const TEACHER: RGBColor = RGBColor(40, 40, 40);

pub fn colour(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// Registers the bundled font once (plotters' ab_glyph text needs one).
pub fn register_font() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
        let _ = plotters::style::register_font(FONT, FontStyle::Bold, dejavu::sans::bold());
    });
}

type Res = Result<(), Box<dyn std::error::Error>>;

/// A strip at the bottom for a line on how to read the plot.
const FOOT: u32 = 26;

/// Room on the right of each plot for its legend, outside the data.
const LEGEND_WIDTH: u32 = 250;

/// One legend entry: colour, label, and whether its line is dashed (the teacher).
type Entry = (RGBColor, String, bool);

/// The legend, drawn in the room right of the plot (never over the data).
fn legend<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, entries: &[Entry]) -> Res
where
    DB::ErrorType: 'static,
{
    let (x, mut y) = (SIZE.0 as i32 - LEGEND_WIDTH as i32 + 12, 80);
    for (c, label, dashed) in entries {
        if *dashed {
            for k in 0..3 {
                let x0 = x + k * 10;
                root.draw(&PathElement::new(vec![(x0, y), (x0 + 6, y)], c.stroke_width(3)))?;
            }
        } else {
            root.draw(&PathElement::new(vec![(x, y), (x + 26, y)], c.stroke_width(4)))?;
        }
        root.draw(&Text::new(label.clone(), (x + 34, y - 9), (FONT, 16).into_font().color(&BLACK)))?;
        y += 28;
    }
    Ok(())
}

/// The line on how to read a plot, in the strip below it.
fn footer<DB: DrawingBackend>(foot: &DrawingArea<DB, Shift>, text: &str) -> Res
where
    DB::ErrorType: 'static,
{
    foot.draw(&Text::new(text.to_string(), (20, 4), (FONT, 14).into_font().color(&BLACK.mix(0.6))))?;
    Ok(())
}

/// A plot's axes: f64 on both.
type Chart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A plot's frame: its caption, margins, room for the axes' labels and, on the right, for the
/// legend; `x` and `y` are the axes' ranges.
fn frame<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    caption: String,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
) -> Result<Chart<'a, DB>, Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    Ok(ChartBuilder::on(root)
        .caption(caption, (FONT, 26))
        .margin(18)
        .margin_right(LEGEND_WIDTH)
        .x_label_area_size(50)
        .y_label_area_size(70)
        .build_cartesian_2d(x, y)?)
}

/// The axes' labels and grid as every plot has them (a caller adds descriptions and formats).
fn mesh<'a, 'b, DB: DrawingBackend>(
    chart: &'b mut Chart<'a, DB>,
) -> MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, DB> {
    let mut m = chart.configure_mesh();
    m.label_style((FONT, 16)).axis_desc_style((FONT, 18)).light_line_style(WHITE.mix(0.0));
    m
}

/// The teacher's accuracy as a dashed line across `x`, and its legend entry.
fn teacher_line<DB: DrawingBackend>(chart: &mut Chart<'_, DB>, x: (f64, f64), t: f64, entries: &mut Vec<Entry>) -> Res
where
    DB::ErrorType: 'static,
{
    chart.draw_series(DashedLineSeries::new(vec![(x.0, t), (x.1, t)], 10, 6, TEACHER.stroke_width(2)))?;
    entries.push((TEACHER, format!("teacher ({:.1}%)", t * 100.0), true));
    Ok(())
}

fn band_polygon(b: &Band) -> Vec<(f64, f64)> {
    let mut pts: Vec<(f64, f64)> = b.x.iter().copied().zip(b.high.iter().copied()).collect();
    pts.extend(b.x.iter().copied().zip(b.low.iter().copied()).rev());
    pts
}

/// The first plot: training loss per step, the smoothed mean over seeds with a band from min to
/// max, every raw step faint.
pub fn loss<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &PlotData) -> Res
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (root, foot) = root.split_vertically(SIZE.1 - FOOT);
    let root = &root;
    let all_y = d.strategies.iter().flat_map(|s| s.loss_raw.iter().flat_map(|r| r.y.iter().copied()));
    let (lo, hi) = all_y.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
    let max_x =
        d.strategies.iter().flat_map(|s| s.loss_raw.iter().flat_map(|r| r.x.last().copied())).fold(1.0, f64::max);
    let (lo, hi) = if lo.is_finite() { crate::text::padded_range(lo, hi) } else { (0.0, 1.0) };
    let caption = format!("{}: training loss per step ({})", d.experiment, d.task);
    let mut chart = frame(root, caption, 0.0..max_x, lo.max(0.0)..hi)?;
    mesh(&mut chart)
        .x_desc("optimizer step")
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .y_desc("distillation loss (CE + KL + cosine, weighted)")
        .draw()?;
    let mut entries: Vec<Entry> = Vec::new();
    for (i, s) in d.strategies.iter().enumerate() {
        let c = colour(i);
        for raw in &s.loss_raw {
            chart.draw_series(LineSeries::new(raw.x.iter().copied().zip(raw.y.iter().copied()), c.mix(0.15)))?;
        }
        let Some(b) = &s.loss else { continue };
        if s.loss_raw.len() > 1 {
            chart.draw_series(std::iter::once(Polygon::new(band_polygon(b), c.mix(0.18))))?;
        }
        let seeds = if s.loss_raw.len() > 1 { format!(" ({} seeds)", s.loss_raw.len()) } else { String::new() };
        chart.draw_series(LineSeries::new(b.x.iter().copied().zip(b.mean.iter().copied()), c.stroke_width(3)))?;
        entries.push((c, format!("{}{seeds}", s.name), false));
    }
    legend(root, &entries)?;
    let several = d.strategies.iter().any(|s| s.loss_raw.len() > 1);
    let bands = if several { "; bands: min to max over seeds" } else { "" };
    footer(&foot, &format!("faint: every step; lines: moving mean over {} steps{bands}", d.smoothing_window))?;
    root.present()?;
    Ok(())
}

/// The second plot: validation accuracy per epoch (epoch 0: the copied layers before any
/// update), the teacher as a horizontal line.
pub fn accuracy<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &PlotData) -> Res
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let ys = d.strategies.iter().flat_map(|s| s.accuracy_raw.iter().flat_map(|r| r.y.iter().copied()));
    let (lo, hi) =
        ys.chain(d.teacher_accuracy).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(y), b.max(y)));
    let (lo, hi) = if lo.is_finite() { crate::text::padded_range(lo, hi) } else { (0.0, 1.0) };
    let epochs =
        d.strategies.iter().flat_map(|s| s.accuracy_raw.iter().flat_map(|r| r.x.last().copied())).fold(1.0, f64::max);
    let caption = format!("{}: validation accuracy per epoch ({})", d.experiment, d.task);
    let mut chart = frame(root, caption, -0.1..epochs + 0.1, lo.max(0.0)..hi.min(1.0))?;
    mesh(&mut chart)
        .x_desc("epoch (0 = the student as copied from the teacher, before any update)")
        .y_desc("validation accuracy")
        .x_labels(epochs as usize + 1)
        .x_label_formatter(&|x| format!("{}", x.round() as i64))
        .y_label_formatter(&|y| format!("{:.0}%", y * 100.0))
        .draw()?;
    let mut entries: Vec<Entry> = Vec::new();
    if let Some(t) = d.teacher_accuracy {
        teacher_line(&mut chart, (-0.1, epochs + 0.1), t, &mut entries)?;
    }
    for (i, s) in d.strategies.iter().enumerate() {
        let c = colour(i);
        let Some(b) = &s.accuracy else { continue };
        if s.accuracy_raw.len() > 1 {
            chart.draw_series(std::iter::once(Polygon::new(band_polygon(b), c.mix(0.18))))?;
        }
        let pts: Vec<(f64, f64)> = b.x.iter().copied().zip(b.mean.iter().copied()).collect();
        chart.draw_series(LineSeries::new(pts.clone(), c.stroke_width(3)))?;
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 5, c.filled())))?;
        let seeds = if s.accuracy_raw.len() > 1 { format!(" ({} seeds)", s.accuracy_raw.len()) } else { String::new() };
        entries.push((c, format!("{}{seeds}", s.name), false));
    }
    legend(root, &entries)?;
    root.present()?;
    Ok(())
}

/// The third plot: final validation accuracy per strategy, the mean over seeds with its 95%
/// interval, each seed as a dot, the teacher's line, and McNemar's p against the best strategy.
pub fn final_accuracy<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &PlotData) -> Res
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let (root, foot) = root.split_vertically(SIZE.1 - FOOT);
    let root = &root;
    let n = d.strategies.len().max(1);
    let mut ys: Vec<f64> = d.strategies.iter().flat_map(|s| s.final_accuracy.iter().copied()).collect();
    for s in &d.strategies {
        if let (Some(m), Some(ci)) = (s.final_mean, s.final_ci95) {
            ys.extend([m - ci, m + ci]);
        }
    }
    ys.extend(d.teacher_accuracy);
    let (lo, hi) = ys.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| (a.min(*y), b.max(*y)));
    let (lo, hi) =
        if lo.is_finite() { crate::text::padded_range(lo, hi + 0.06 * (hi - lo).abs().max(0.01)) } else { (0.0, 1.0) };
    let names: Vec<String> = d
        .strategies
        .iter()
        .map(|s| format!("{} {{{}}}", s.name, crate::text::fmt_layers_compact(&s.teacher_layers)))
        .collect();
    let caption = format!("{}: final validation accuracy per strategy ({})", d.experiment, d.task);
    let mut chart = frame(root, caption, -0.5..n as f64 - 0.5, lo.max(0.0)..hi.min(1.0))?;
    mesh(&mut chart)
        .disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc("student layers copied from the teacher")
        .y_desc("validation accuracy (mean over seeds, 95% interval)")
        .y_label_formatter(&|y| format!("{:.1}%", y * 100.0))
        .draw()?;
    let mut entries: Vec<Entry> = Vec::new();
    if let Some(t) = d.teacher_accuracy {
        teacher_line(&mut chart, (-0.5, n as f64 - 0.5), t, &mut entries)?;
    }
    for (i, s) in d.strategies.iter().enumerate() {
        let (c, x) = (colour(i), i as f64);
        let Some(m) = s.final_mean else { continue };
        let ci = s.final_ci95.unwrap_or(0.0);
        if ci > 0.0 {
            chart.draw_series(std::iter::once(ErrorBar::new_vertical(x, m - ci, m, m + ci, c.stroke_width(3), 24)))?;
        }
        // Each seed beside the mean, hollow; the mean as a large filled dot.
        chart.draw_series(s.final_accuracy.iter().map(|a| Circle::new((x + 0.12, *a), 5, BLACK.stroke_width(1))))?;
        chart.draw_series(std::iter::once(Circle::new((x, m), 9, c.filled())))?;
        entries.push((c, s.name.clone(), false));
        let label = match (s.is_best, s.p_vs_best) {
            (true, _) => format!("{:.2}% best", m * 100.0),
            (false, Some(p)) => format!("{:.2}%  {}", m * 100.0, crate::text::fmt_p(p)),
            (false, None) => format!("{:.2}%", m * 100.0),
        };
        let top = (m + ci).max(s.final_accuracy.iter().copied().fold(m, f64::max));
        chart.draw_series(std::iter::once(Text::new(
            label,
            (x - 0.2, top + 0.05 * (hi - lo)),
            (FONT, 16).into_font().color(&BLACK),
        )))?;
    }
    legend(root, &entries)?;
    footer(
        &foot,
        "large dots: mean over seeds, with its 95% interval (Student's t); small circles: each seed; \
         p: McNemar's exact test on paired per-example correctness against the best",
    )?;
    root.present()?;
    Ok(())
}

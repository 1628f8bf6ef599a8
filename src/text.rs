//! Text as every front end writes it: durations, layer lists, p-values, parameter counts, and
//! strings fitted to a width of terminal columns. At the bottom: it uses nothing of this crate.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Teacher layers as a list: `1, 3, 5`.
pub fn fmt_layers(layers: &[usize]) -> String {
    layers.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(", ")
}

/// Layers in short form: runs of consecutive layers as ranges, `1-6`, `1,3,5,7,9,11`.
pub fn fmt_layers_compact(layers: &[usize]) -> String {
    let parts: Vec<String> = consecutive_runs(layers)
        .into_iter()
        .map(|(a, b)| match b - a {
            0 => a.to_string(),
            1 => format!("{a},{b}"),
            _ => format!("{a}-{b}"),
        })
        .collect();
    parts.join(",")
}

/// The runs of consecutive values of `values`, each as its first and last: `[1, 2, 3, 5]` gives
/// `[(1, 3), (5, 5)]`.
pub fn consecutive_runs(values: &[usize]) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for &v in values {
        match runs.last_mut() {
            Some((_, last)) if v == *last + 1 => *last = v,
            _ => runs.push((v, v)),
        }
    }
    runs
}

/// A p-value: `p = 0.042`, or `p < 0.001`.
pub fn fmt_p(p: f64) -> String {
    if p < 0.001 { "p < 0.001".into() } else { format!("p = {p:.3}") }
}

/// A parameter count in millions: `22.7M`.
pub fn fmt_params(n: usize) -> String {
    format!("{:.1}M", n as f64 / 1e6)
}

/// A duration: `42s`, `3m 05s`, `2h 07m`.
pub fn fmt_seconds(s: f64) -> String {
    let s = s.round() as u64;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// `s` padded with spaces to `w` display columns.
pub fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(s.width())))
}

/// `s` in at most `w` display columns, cut with "…".
pub fn truncate(s: &str, w: usize) -> String {
    cut(s, w, true)
}

/// `s` in at most `w` display columns; when it is longer, cut and ended with "…" (after the
/// spaces at the cut are dropped, with `trim`).
pub fn cut(s: &str, w: usize, trim: bool) -> String {
    if s.width() <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(c);
        used += cw;
    }
    if w > 0 {
        if trim {
            out.truncate(out.trim_end().len());
        }
        out.push('…');
    }
    out
}

/// The range `lo..hi` widened by 5% for an axis (a flat series gets a small band around it;
/// a range that is not finite becomes 0..1).
pub fn padded_range(lo: f64, hi: f64) -> (f64, f64) {
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.05).max(hi.abs().max(1e-3) * 0.01);
    (lo - pad, hi + pad)
}

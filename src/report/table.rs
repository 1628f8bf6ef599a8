//! The results table (markdown, CSV, terminal) and the analysis the assignment asks for,
//! stated from the numbers.

use std::fmt::Write;

use super::results::{Results, RunRecord, RunResult};
use super::stats::{ci95, discordant, mcnemar_exact, mean_std};
use crate::events::RunStatus;
use crate::events::parse_correct;
use crate::text::{fmt_layers, fmt_layers_compact, fmt_p, fmt_params, fmt_seconds};

/// One strategy across its seeds.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub teacher_layers: Vec<usize>,
    pub runs: Vec<RunResult>,
}

impl Row {
    fn done(&self) -> Vec<&RunResult> {
        self.runs.iter().filter(|r| r.record.status == RunStatus::Done).collect()
    }

    pub fn stat(&self, f: impl Fn(&RunRecord) -> Option<f64>) -> Option<(f64, f64)> {
        let xs: Vec<f64> = self.done().into_iter().filter_map(|r| f(&r.record)).collect();
        (!xs.is_empty()).then(|| mean_std(&xs))
    }

    pub fn accuracy(&self) -> Option<(f64, f64)> {
        self.stat(|r| r.validation_accuracy)
    }

    /// Per-example correctness of the done runs, concatenated over the seeds in `seeds`.
    fn correct(&self, seeds: &[u64]) -> Vec<bool> {
        seeds
            .iter()
            .flat_map(|s| self.runs.iter().find(|r| r.seed == *s && r.record.status == RunStatus::Done))
            .flat_map(|r| parse_correct(&r.record.validation_correct))
            .collect()
    }

    /// What is not done among the runs ("stopped", "1 stopped, 2 pending"); empty when all are.
    pub fn status(&self) -> String {
        let done = self.done().len();
        if done == self.runs.len() {
            return String::new();
        }
        let mut counts: Vec<String> = Vec::new();
        for s in [
            RunStatus::Running,
            RunStatus::Stopped,
            RunStatus::Crashed,
            RunStatus::Pending,
            RunStatus::Skipped,
            RunStatus::Failed,
        ] {
            let n = self.runs.iter().filter(|r| r.record.status == s).count();
            if n > 0 {
                counts.push(if self.runs.len() == 1 { s.as_str().to_string() } else { format!("{n} {}", s.as_str()) });
            }
        }
        counts.join(", ")
    }
}

/// Groups runs by name, in plan order.
pub fn rows(results: &Results) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for r in &results.runs {
        match rows.iter_mut().find(|row| row.name == r.name) {
            Some(row) => row.runs.push(r.clone()),
            None => {
                rows.push(Row { name: r.name.clone(), teacher_layers: r.teacher_layers.clone(), runs: vec![r.clone()] })
            }
        }
    }
    rows
}

/// A McNemar comparison of a row against the best row, on the seeds both finished.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    pub p: f64,
    /// Examples right only in the best row, and only in this row.
    pub best_only: usize,
    pub this_only: usize,
}

pub fn best_row(rows: &[Row]) -> Option<usize> {
    // The first of equals, so that the table and the ranking agree.
    rows.iter()
        .enumerate()
        .filter_map(|(i, r)| r.accuracy().map(|(m, _)| (i, m)))
        .fold(None, |best: Option<(usize, f64)>, (i, m)| match best {
            Some((_, bm)) if bm >= m => best,
            _ => Some((i, m)),
        })
        .map(|(i, _)| i)
}

pub fn compare(best: &Row, other: &Row) -> Option<Comparison> {
    let seeds: Vec<u64> =
        best.done().iter().map(|r| r.seed).filter(|s| other.done().iter().any(|o| o.seed == *s)).collect();
    let (a, b) = (best.correct(&seeds), other.correct(&seeds));
    if seeds.is_empty() || a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (best_only, this_only) = discordant(&a, &b);
    Some(Comparison { p: mcnemar_exact(best_only, this_only), best_only, this_only })
}

fn fmt_stat(v: Option<(f64, f64)>, several: bool) -> String {
    match v {
        None => "–".into(),
        Some((m, s)) if several => format!("{m:.4} ± {s:.4}"),
        Some((m, _)) => format!("{m:.4}"),
    }
}

/// How the teacher was really trained: "12 layers, fine-tuned 3 epochs", "12 layers, fine-tuned
/// 1 of 3 epochs, skipped", "12 layers, as loaded".
pub fn teacher_detail(r: &Results) -> String {
    let t = &r.teacher;
    let n = t.finetune_epochs;
    let plural = |k: usize| if k == 1 { "" } else { "s" };
    if n == 0 {
        return format!("{} layers, as loaded", t.num_layers);
    }
    // Epoch 0 is the evaluation before training; the others are trained epochs.
    let trained =
        t.record.epochs.iter().filter(|e| e.epoch > 0 && e.train_loss.is_some()).map(|e| e.epoch).max().unwrap_or(0);
    match t.record.status {
        // A done fine-tune ran every epoch; records may be missing from an older results file.
        RunStatus::Done if trained >= n || t.record.epochs.is_empty() => {
            format!("{} layers, fine-tuned {n} epoch{}", t.num_layers, plural(n))
        }
        RunStatus::Done => format!("{} layers, fine-tuned {trained} of {n} epoch{}", t.num_layers, plural(n)),
        RunStatus::Pending => format!("{} layers, fine-tune of {n} epoch{} not started", t.num_layers, plural(n)),
        s => format!("{} layers, fine-tuned {trained} of {n} epoch{}, {}", t.num_layers, plural(n), s.as_str()),
    }
}

pub fn teacher_label(r: &Results) -> String {
    format!("Teacher ({})", teacher_detail(r))
}

/// The table's column headers, in order.
pub const HEADER: [&str; 8] = [
    "Student Layer",
    "Teacher layers",
    "Training Loss",
    "Validation Loss",
    "Validation Accuracy",
    "Params",
    "Time",
    "vs best (McNemar)",
];

/// One line of the results table as text: the teacher's, then one per strategy.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow {
    pub teacher: bool,
    /// The teacher's full label, or the strategy's name without its status.
    pub name: String,
    /// What is not done ("stopped", "1 stopped, 2 pending"); empty when every run is done.
    pub status: String,
    pub layers: Vec<usize>,
    pub train_loss: String,
    pub validation_loss: String,
    pub validation_accuracy: String,
    pub params: String,
    pub time: String,
    /// Against the best row: "best", "p = 0.012 *" or "–"; empty when no student has finished.
    pub vs_best: String,
    /// The best row (highest mean accuracy over its done runs; the first of equals).
    pub best: bool,
}

impl TableRow {
    /// The name, with " (status)" when some run is not done.
    pub fn name_with_status(&self) -> String {
        if self.status.is_empty() { self.name.clone() } else { format!("{} ({})", self.name, self.status) }
    }

    /// The teacher layers, "1, 3, 5" or in `compact` form "1,3,5" / "1-6"; the teacher's "1-12".
    pub fn layers_text(&self, compact: bool) -> String {
        match (self.teacher, compact) {
            (true, _) => format!("1-{}", self.layers.len()),
            (false, true) => fmt_layers_compact(&self.layers),
            (false, false) => fmt_layers(&self.layers),
        }
    }
}

/// The rows of the table, the teacher's first.
pub fn table_rows(results: &Results) -> Vec<TableRow> {
    let rows = rows(results);
    let several = results.runs.iter().map(|r| r.seed).collect::<std::collections::BTreeSet<_>>().len() > 1;
    let best = best_row(&rows);
    let t = &results.teacher.record;
    let opt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or("–".into());
    let mut out = vec![TableRow {
        teacher: true,
        name: teacher_label(results),
        status: String::new(),
        layers: (1..=results.teacher.num_layers).collect(),
        train_loss: opt(t.train_loss),
        validation_loss: opt(t.validation_loss),
        validation_accuracy: opt(t.validation_accuracy),
        params: fmt_params(t.params),
        time: fmt_seconds(t.seconds),
        vs_best: String::new(),
        best: false,
    }];
    for (i, row) in rows.iter().enumerate() {
        let vs_best = match (best, Some(i) == best) {
            (_, true) => "best".to_string(),
            (Some(b), false) => match compare(&rows[b], row) {
                Some(c) => format!("{}{}", fmt_p(c.p), if c.p < 0.05 { " *" } else { "" }),
                None => "–".into(),
            },
            (None, _) => String::new(),
        };
        out.push(TableRow {
            teacher: false,
            name: row.name.clone(),
            status: row.status(),
            layers: row.teacher_layers.clone(),
            train_loss: fmt_stat(row.stat(|r| r.train_loss), several),
            validation_loss: fmt_stat(row.stat(|r| r.validation_loss), several),
            validation_accuracy: fmt_stat(row.accuracy(), several),
            params: row.runs.first().map(|r| fmt_params(r.record.params)).unwrap_or_default(),
            time: fmt_seconds(row.runs.iter().map(|r| r.record.seconds).sum()),
            vs_best,
            best: Some(i) == best,
        });
    }
    out
}

/// The table as rows of cells (header first); markdown and the terminal both print it.
pub fn table_cells(results: &Results) -> Vec<Vec<String>> {
    let mut out = vec![HEADER.map(String::from).to_vec()];
    for r in table_rows(results) {
        out.push(vec![
            r.name_with_status(),
            r.layers_text(false),
            r.train_loss,
            r.validation_loss,
            r.validation_accuracy,
            r.params,
            r.time,
            r.vs_best,
        ]);
    }
    out
}

/// A plain-text table with aligned columns (for the terminal).
pub fn plain_table(results: &Results) -> String {
    let cells = table_cells(results);
    let widths: Vec<usize> =
        (0..cells[0].len()).map(|c| cells.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
    let mut s = String::new();
    for (i, row) in cells.iter().enumerate() {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(s, "{}", line.join("  ").trim_end());
        if i == 0 {
            let _ = writeln!(s, "{}", widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().join("  "));
        }
    }
    s
}

/// The analysis, from the numbers: ranking, significance against the best, accuracy retained,
/// size, and what initialization alone gives.
pub fn analysis(results: &Results) -> Vec<String> {
    let rows = rows(results);
    let Some(b) = best_row(&rows) else {
        return vec!["No student run has finished yet.".into()];
    };
    let mut ranked: Vec<(&Row, f64)> = rows.iter().filter_map(|r| r.accuracy().map(|(m, _)| (r, m))).collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut lines = vec![ranking_line(&ranked)];
    lines.extend(significance_line(&rows, b, results.data.validation_examples));
    if let Some(ta) = results.teacher.record.validation_accuracy {
        let kept: Vec<String> = ranked.iter().map(|(r, m)| format!("{} {:.1}%", r.name, 100.0 * m / ta)).collect();
        lines.push(format!("Accuracy retained versus the teacher ({ta:.4}): {}.", kept.join(", ")));
    }
    lines.extend(size_line(results, &rows));
    lines.extend(initialization_line(&rows));
    lines
}

/// Strategies by accuracy; accuracies equal as printed are tied: "=", not ">".
fn ranking_line(ranked: &[(&Row, f64)]) -> String {
    let mut ranking = String::new();
    for (i, (r, m)) in ranked.iter().enumerate() {
        if i > 0 {
            ranking.push_str(if format!("{:.4}", ranked[i - 1].1) == format!("{m:.4}") { " = " } else { " > " });
        }
        let _ = write!(ranking, "{} {{{}}} {m:.4}", r.name, fmt_layers(&r.teacher_layers));
    }
    format!("Ranking by validation accuracy: {ranking}.")
}

/// McNemar's test of every strategy against the best (row `b`), with the scale of noise.
fn significance_line(rows: &[Row], b: usize, n_val: usize) -> Option<String> {
    let best = &rows[b];
    let sig: Vec<String> = rows
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != b)
        .filter_map(|(_, row)| compare(best, row).map(|c| (row, c)))
        .map(|(row, c)| {
            format!(
                "{}: {} ({} examples right only in {}, {} only in {}) — {}",
                row.name,
                fmt_p(c.p),
                c.best_only,
                best.name,
                c.this_only,
                row.name,
                if c.p < 0.05 { "significant at 0.05" } else { "not significant: within noise" }
            )
        })
        .collect();
    if sig.is_empty() {
        return None;
    }
    let acc = best.accuracy().map(|a| a.0).unwrap_or(0.0);
    Some(format!(
        "Against the best ({}), McNemar's exact test on paired per-example correctness: {}. For scale, the 95% interval of one accuracy near {acc:.2} on {n_val} examples is ±{:.1} points.",
        best.name,
        sig.join("; "),
        100.0 * ci95(acc, n_val)
    ))
}

fn size_line(results: &Results, rows: &[Row]) -> Option<String> {
    let p = rows.first().and_then(|r| r.runs.first()).map(|r| r.record.params)?;
    let teacher = results.teacher.record.params;
    Some(format!(
        "Size: each student has {} parameters, {:.1}% of the teacher's {} ({} of {} encoder layers).",
        fmt_params(p),
        100.0 * p as f64 / teacher as f64,
        fmt_params(teacher),
        rows[0].teacher_layers.len(),
        results.teacher.num_layers
    ))
}

/// Validation accuracy of the initialized students (epoch 0, before any update).
fn initialization_line(rows: &[Row]) -> Option<String> {
    let init: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let xs: Vec<f64> = r
                .runs
                .iter()
                .filter_map(|x| x.record.epochs.first().filter(|e| e.epoch == 0).map(|e| e.validation_accuracy))
                .collect();
            (!xs.is_empty()).then(|| format!("{} {:.4}", r.name, mean_std(&xs).0))
        })
        .collect();
    (!init.is_empty())
        .then(|| format!("Initialization only (epoch 0, before any update), validation accuracy: {}.", init.join(", ")))
}

pub fn markdown(results: &Results) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# {}\n", results.experiment);
    let seeds: std::collections::BTreeSet<u64> = results.runs.iter().map(|r| r.seed).collect();
    let _ = writeln!(
        s,
        "Task {}; training data {}; validation {}; seeds {}; teacher {}; backend {} ({}).\n",
        results.data.task,
        results.data.train,
        results.data.validation,
        seeds.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "),
        results.teacher.model,
        results.backend,
        results.device
    );
    let cells = table_cells(results);
    let _ = writeln!(s, "| {} |", cells[0].join(" | "));
    let _ = writeln!(s, "|{}|", cells[0].iter().map(|_| "---").collect::<Vec<_>>().join("|"));
    for row in &cells[1..] {
        let _ = writeln!(s, "| {} |", row.join(" | "));
    }
    let _ = writeln!(
        s,
        "\nTraining Loss is the final epoch's mean training objective: for students the weighted mean of cross-entropy, KL to the teacher and the cosine term; for the teacher, cross-entropy. Validation Loss is cross-entropy only. Values are the final epoch's{}. `*`: different from the best at p < 0.05.\n",
        if seeds.len() > 1 { ", mean ± standard deviation over seeds" } else { "" }
    );
    let _ = writeln!(s, "## Analysis\n");
    for line in analysis(results) {
        let _ = writeln!(s, "- {line}");
    }
    s
}

pub fn csv(results: &Results) -> String {
    let mut w = csv::Writer::from_writer(Vec::new());
    let _ = w.write_record([
        "name",
        "seed",
        "teacher_layers",
        "status",
        "train_loss",
        "validation_loss",
        "validation_accuracy",
        "params",
        "seconds",
        "checkpoint",
    ]);
    let t = &results.teacher;
    let _ = w.write_record(csv_record("teacher", String::new(), format!("1-{}", t.num_layers), &t.record));
    for r in &results.runs {
        let layers = r.teacher_layers.iter().map(|l| l.to_string()).collect::<Vec<_>>().join(" ");
        let _ = w.write_record(csv_record(&r.name, r.seed.to_string(), layers, &r.record));
    }
    String::from_utf8(w.into_inner().unwrap_or_default()).unwrap_or_default()
}

/// One line of results.csv, the teacher's or a student run's: its name, seed (none for the
/// teacher), teacher layers, then what the run produced.
fn csv_record(name: &str, seed: String, layers: String, r: &RunRecord) -> [String; 10] {
    let opt = |v: Option<f64>| v.map(|x| format!("{x:.6}")).unwrap_or_default();
    [
        name.to_string(),
        seed,
        layers,
        r.status.as_str().into(),
        opt(r.train_loss),
        opt(r.validation_loss),
        opt(r.validation_accuracy),
        r.params.to_string(),
        format!("{:.1}", r.seconds),
        r.checkpoint.clone().unwrap_or_default(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_layers() {
        assert_eq!(fmt_layers_compact(&[1, 2, 3, 4, 5, 6]), "1-6");
        assert_eq!(fmt_layers_compact(&[1, 3, 5, 7, 9, 11]), "1,3,5,7,9,11");
        assert_eq!(fmt_layers_compact(&[1, 2, 5, 6, 7]), "1,2,5-7");
        assert_eq!(fmt_seconds(59.4), "59s");
        assert_eq!(fmt_seconds(3725.0), "1h 02m");
    }
}

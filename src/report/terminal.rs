//! The final results as printed on exit and by `report`: the table, the analysis and where the
//! files are, fitted to the terminal's width.
//!
//! A table too wide for the terminal gives up detail in this order: full layer lists (then
//! "1-6", "1,3,5,7,9,11"), long headers, the teacher's long label ("Teacher", its detail in a
//! line under the table), the Time column, Params, the McNemar column (then a line per row under
//! the table, and "best" after the best accuracy), Train Loss, Val Loss, the layers, the name
//! header; only then are names cut with "…". The files (results.md, results.csv) keep every
//! column.

use std::io::IsTerminal;
use std::path::Path;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use super::results::Results;
use super::table::{HEADER, TableRow, analysis, table_rows, teacher_detail};
use crate::text::{pad, truncate};

/// Joins words that [`wrap`] keeps on one line; a space in its output.
const NBSP: &str = "\u{a0}";

/// After the best accuracy when the McNemar column (which says "best") is not in the table.
const BEST_MARK: &str = "best";

/// The width to fit the final text to: `COLUMNS` if it is a positive number, else the size of
/// the terminal on stdout; `None` when stdout is not a terminal.
pub fn terminal_width() -> Option<usize> {
    if let Some(w) = std::env::var("COLUMNS").ok().and_then(|v| v.trim().parse::<usize>().ok()).filter(|&w| w > 0) {
        return Some(w);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    ratatui::crossterm::terminal::size().ok().map(|(w, _)| usize::from(w)).filter(|&w| w > 0)
}

/// What is printed on exit and by `report`: the table, the analysis, then where the results'
/// Markdown file is (`results_md`). With `width`, no line is wider than that many columns (from
/// 40 on; narrower is done as well as it goes); without (not a terminal), every column and
/// nothing wrapped.
pub fn final_text(results: &Results, results_md: &Path, width: Option<usize>) -> String {
    let w = width.map_or(usize::MAX, |w| w.max(1));
    let mut lines = vec![String::new()];
    let md_name =
        results_md.file_name().map_or_else(|| results_md.display().to_string(), |n| n.to_string_lossy().into_owned());
    lines.extend(table_and_notes(results, w, &md_name));
    lines.push(String::new());
    // A strategy's name stays on one line, unless it is long (then it would leave lines short).
    let mut names: Vec<&str> = results.runs.iter().map(|r| r.name.as_str()).filter(|n| n.contains(' ')).collect();
    names.sort_by_key(|n| (std::cmp::Reverse(n.len()), *n));
    names.dedup();
    for a in analysis(results) {
        if width.is_none() {
            lines.push(format!("- {a}"));
            continue;
        }
        let mut a = a;
        for n in names.iter().filter(|n| n.width() <= (w.saturating_sub(2) / 3).min(30)) {
            a = a.replace(n, &n.replace(' ', NBSP));
        }
        lines.extend(wrap(&a, w, "- ", "  "));
    }
    lines.push(String::new());
    lines.extend(wrap(&format!("results: {}", results_md.display()), w, "", ""));
    if let Some(hint) = resume_hint(results) {
        lines.extend(wrap(&hint, w, "", ""));
    }
    let mut s = lines.join("\n");
    s.push('\n');
    s
}

/// What is left to do, and how to do it, when the matrix did not run to its end.
fn resume_hint(results: &Results) -> Option<String> {
    use crate::events::RunStatus;
    let mut parts = Vec::new();
    if matches!(results.teacher.record.status, RunStatus::Stopped | RunStatus::Running | RunStatus::Crashed) {
        parts.push("the teacher's fine-tune stopped".to_string());
    }
    let stopped: Vec<String> = results
        .runs
        .iter()
        .filter(|r| matches!(r.record.status, RunStatus::Stopped | RunStatus::Running | RunStatus::Crashed))
        .map(|r| format!("{} (seed {})", r.name, r.seed))
        .collect();
    if !stopped.is_empty() {
        parts.push(format!("stopped: {}", stopped.join(", ")));
    }
    let pending = results.runs.iter().filter(|r| r.record.status == RunStatus::Pending).count();
    if pending > 0 {
        parts.push(format!("{pending} run{} not started", if pending == 1 { "" } else { "s" }));
    }
    (!parts.is_empty()).then(|| {
        format!(
            "Not finished ({}): rerun the same command to resume; finished runs are kept, a stopped run continues from its last finished epoch (--fresh starts over).",
            parts.join("; ")
        )
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Name,
    Layers,
    Train,
    ValLoss,
    Acc,
    Params,
    Time,
    Vs,
}

/// In the order of [`HEADER`].
const COLS: [Col; 8] = [Col::Name, Col::Layers, Col::Train, Col::ValLoss, Col::Acc, Col::Params, Col::Time, Col::Vs];

impl Col {
    fn short_header(self) -> &'static str {
        match self {
            Col::Name => "Student Layer",
            Col::Layers => "Layers",
            Col::Train => "Train Loss",
            Col::ValLoss => "Val Loss",
            Col::Acc => "Val Acc",
            Col::Params => "Params",
            Col::Time => "Time",
            Col::Vs => "vs best",
        }
    }
}

/// How much of the table is shown.
#[derive(Debug, Clone)]
struct Layout {
    compact_layers: bool,
    short_headers: bool,
    short_teacher: bool,
    short_name_header: bool,
    shown: Vec<Col>,
    /// The McNemar column as lines under the table, and "best" after the best accuracy.
    vs_below: bool,
}

/// What to give up next, in order, while the table is too wide.
const STEPS: [fn(&mut Layout); 10] = [
    |l| l.compact_layers = true,
    |l| l.short_headers = true,
    |l| l.short_teacher = true,
    |l| l.hide(Col::Time),
    |l| l.hide(Col::Params),
    |l| {
        l.hide(Col::Vs);
        l.vs_below = true;
    },
    |l| l.hide(Col::Train),
    |l| l.hide(Col::ValLoss),
    |l| l.hide(Col::Layers),
    |l| l.short_name_header = true,
];

impl Layout {
    fn full() -> Self {
        Self {
            compact_layers: false,
            short_headers: false,
            short_teacher: false,
            short_name_header: false,
            shown: COLS.to_vec(),
            vs_below: false,
        }
    }

    /// The first layout, from [`STEPS`], whose table fits in `width`; the last one if none does.
    fn fitting(rows: &[TableRow], width: usize) -> Self {
        let mut l = Self::full();
        for step in STEPS {
            if l.table_width(rows) <= width {
                break;
            }
            step(&mut l);
        }
        l
    }

    fn hide(&mut self, c: Col) {
        self.shown.retain(|&s| s != c);
    }

    fn hidden(&self) -> Vec<Col> {
        // The McNemar column moves under the table instead.
        COLS.into_iter().filter(|c| !self.shown.contains(c) && *c != Col::Vs).collect()
    }

    fn header(&self, c: Col) -> &'static str {
        match c {
            Col::Name if self.short_name_header => "Student",
            _ if self.short_headers => c.short_header(),
            _ => HEADER[c as usize],
        }
    }

    fn cell(&self, r: &TableRow, c: Col) -> String {
        match c {
            Col::Name if r.teacher && self.short_teacher => "Teacher".into(),
            Col::Name => r.name_with_status(),
            Col::Layers => r.layers_text(self.compact_layers),
            Col::Train => r.train_loss.clone(),
            Col::ValLoss => r.validation_loss.clone(),
            Col::Acc if r.best && self.vs_below => format!("{} {BEST_MARK}", r.validation_accuracy),
            Col::Acc => r.validation_accuracy.clone(),
            Col::Params => r.params.clone(),
            Col::Time => r.time.clone(),
            Col::Vs => r.vs_best.clone(),
        }
    }

    fn col_width(&self, rows: &[TableRow], c: Col) -> usize {
        rows.iter().map(|r| self.cell(r, c).width()).chain([self.header(c).width()]).max().unwrap_or(0)
    }

    fn table_width(&self, rows: &[TableRow]) -> usize {
        self.shown.iter().map(|&c| self.col_width(rows, c)).sum::<usize>() + 2 * self.shown.len().saturating_sub(1)
    }

    /// The name cell in at most `w` columns: the name is cut before its status.
    fn name_cell(&self, r: &TableRow, w: usize) -> String {
        let full = self.cell(r, Col::Name);
        if full.width() <= w || r.status.is_empty() || r.teacher {
            return truncate(&full, w);
        }
        let status = format!(" ({})", r.status);
        match w.checked_sub(status.width()) {
            Some(room) if room >= 2 => format!("{}{status}", truncate(&r.name, room)),
            _ => truncate(&full, w),
        }
    }
}

/// The table fitted to `width`, then the lines that go with it: McNemar against the best (when
/// its column had to go), the legend, the teacher's detail and the columns not shown.
fn table_and_notes(results: &Results, width: usize, md_name: &str) -> Vec<String> {
    let rows = table_rows(results);
    let l = Layout::fitting(&rows, width);
    let mut out = table_lines(&rows, &l, width);
    let best = rows.iter().find(|r| r.best);
    if let (true, Some(best)) = (l.vs_below, best) {
        out.extend(vs_best_lines(&rows, best, width));
    }
    out.extend(notes(results, &rows, &l, width, md_name));
    out
}

/// The table itself: the header, a rule, a line per row, each cut to `width`.
fn table_lines(rows: &[TableRow], l: &Layout, width: usize) -> Vec<String> {
    let table_w = l.table_width(rows);
    let name_w = if table_w > width && l.shown.contains(&Col::Name) {
        let others = table_w - l.col_width(rows, Col::Name);
        Some(width.saturating_sub(others))
    } else {
        None
    };
    let cells = |r: Option<&TableRow>| -> Vec<String> {
        l.shown
            .iter()
            .map(|&c| match (r, c, name_w) {
                (None, Col::Name, Some(nw)) => truncate(l.header(c), nw),
                (None, _, _) => l.header(c).to_string(),
                (Some(r), Col::Name, Some(nw)) => l.name_cell(r, nw),
                (Some(r), _, _) => l.cell(r, c),
            })
            .collect()
    };
    let grid: Vec<Vec<String>> = std::iter::once(cells(None)).chain(rows.iter().map(|r| cells(Some(r)))).collect();
    let widths: Vec<usize> =
        (0..l.shown.len()).map(|i| grid.iter().map(|row| row[i].width()).max().unwrap_or(0)).collect();
    let line = |row: &[String]| -> String {
        let padded: Vec<String> = row.iter().zip(&widths).map(|(c, &w)| pad(c, w)).collect();
        truncate(padded.join("  ").trim_end(), width)
    };
    let mut out = vec![line(&grid[0])];
    out.push(truncate(&widths.iter().map(|&w| "-".repeat(w)).collect::<Vec<_>>().join("  "), width));
    out.extend(grid[1..].iter().map(|row| line(row)));
    out
}

/// McNemar's p of each student against the best, below the table when its column did not fit.
fn vs_best_lines(rows: &[TableRow], best: &TableRow, width: usize) -> Vec<String> {
    let vs: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| !r.teacher && !r.best && !r.vs_best.is_empty() && r.vs_best != "–")
        .map(|r| (r.name.as_str(), r.vs_best.as_str()))
        .collect();
    if vs.is_empty() {
        return Vec::new();
    }
    let mut out =
        wrap(&format!("McNemar's exact test against the best, {} (* = p < 0.05):", best.name), width, "", "  ");
    let p_w = vs.iter().map(|(_, p)| p.width()).max().unwrap_or(0);
    let n_w = vs.iter().map(|(n, _)| n.width()).max().unwrap_or(0).min(width.saturating_sub(4 + p_w)).max(1);
    for (name, p) in vs {
        out.push(truncate(&format!("  {}  {p}", pad(&truncate(name, n_w), n_w)), width));
    }
    out
}

/// The legend (seeds, the best mark), the teacher's detail and the columns left out.
fn notes(results: &Results, rows: &[TableRow], l: &Layout, width: usize, md_name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let seeds = results.runs.iter().map(|r| r.seed).collect::<std::collections::BTreeSet<_>>().len();
    let mut legend: Vec<String> = Vec::new();
    if seeds > 1 {
        // Of a strategy with runs not done, the mean is over its done runs.
        let partial = rows.iter().any(|r| !r.teacher && !r.status.is_empty());
        legend.push(format!("Mean ± std over {seeds} seeds{}", if partial { " (done runs only)" } else { "" }));
    }
    if rows.iter().any(|r| r.best) {
        if l.shown.contains(&Col::Vs) {
            legend.push("vs best: McNemar's exact test against the best student, * = p < 0.05".into());
        } else {
            legend.push(format!("{BEST_MARK} = highest student accuracy"));
        }
    }
    if !legend.is_empty() {
        out.extend(wrap(&format!("{}.", legend.join("; ")), width, "", "  "));
    }
    if l.short_teacher {
        out.extend(wrap(&format!("Teacher: {}.", teacher_detail(results)), width, "", "  "));
    }
    let hidden = l.hidden();
    if !hidden.is_empty() {
        let names: Vec<String> = hidden.iter().map(|&c| c.short_header().replace(' ', NBSP)).collect();
        out.extend(wrap(
            &format!("Not shown at this width: {} (all in {md_name}).", names.join(", ")),
            width,
            "",
            "  ",
        ));
    }
    out
}

/// Words that stay on the line of the word before them ("0.7729 >", "p = 0.012", "… — not").
const GLUE_BEFORE: [&str; 5] = ["=", "<", ">", "—", "±"];
/// Words that keep the next word on their line.
const GLUE_AFTER: [&str; 3] = ["=", "<", "±"];

/// `text` wrapped at spaces into lines of at most `width` display columns, `first` before the
/// first line and `rest` before the others. A number stays with its "p =", a layer list "{1, 3,
/// 5}" on one line, as long as it fits; a word wider than a line is cut (only then).
fn wrap(text: &str, width: usize, first: &str, rest: &str) -> Vec<String> {
    let width = width.max(1);
    // Too narrow for indents: the text alone.
    let (first, rest) = if width < first.width().max(rest.width()) + 8 { ("", "") } else { (first, rest) };
    let words: Vec<&str> = text.split(' ').filter(|w| !w.is_empty()).collect();
    // Units: words kept on one line if it fits ("{1, 3, 5} 0.7729 >"); within a unit,
    // parts that stay together in any case ("0.7729 >", "p = 0.012").
    let mut units: Vec<Vec<Vec<&str>>> = Vec::new();
    let mut depth = 0i32;
    for (i, &w) in words.iter().enumerate() {
        let prev = if i > 0 { words[i - 1] } else { "" };
        let strong = i > 0 && (GLUE_BEFORE.contains(&w) || GLUE_AFTER.contains(&prev));
        let weak = i > 0 && (depth > 0 || prev.ends_with('}'));
        match units.last_mut() {
            Some(u) if strong => u.last_mut().expect("a unit has parts").push(w),
            Some(u) if weak => u.push(vec![w]),
            _ => units.push(vec![vec![w]]),
        }
        depth = (depth + w.matches('{').count() as i32 - w.matches('}').count() as i32).max(0);
    }
    let mut f = Filler { lines: Vec::new(), cur: first.to_string(), fresh: true, width, rest };
    for unit in units {
        let parts: Vec<String> = unit.iter().map(|p| p.join(" ")).collect();
        if f.place(&parts.join(" ")) {
            continue;
        }
        for (part, words) in parts.iter().zip(&unit) {
            if f.place(part) {
                continue;
            }
            for w in words {
                if !f.place(w) {
                    f.cut(w);
                }
            }
        }
    }
    f.lines.push(f.cur);
    f.lines.into_iter().map(|l| l.replace(NBSP, " ")).collect()
}

/// Lines being filled by [`wrap`].
struct Filler<'a> {
    lines: Vec<String>,
    /// The line being filled, its indent included.
    cur: String,
    /// Nothing but the indent in `cur` yet.
    fresh: bool,
    width: usize,
    rest: &'a str,
}

impl Filler<'_> {
    fn room(&self) -> usize {
        self.width.saturating_sub(self.cur.width())
    }

    fn new_line(&mut self) {
        let cur = std::mem::replace(&mut self.cur, self.rest.to_string());
        self.lines.push(cur);
        self.fresh = true;
    }

    fn push(&mut self, piece: &str) {
        if !self.fresh {
            self.cur.push(' ');
        }
        self.cur.push_str(piece);
        self.fresh = false;
    }

    /// Puts `piece` on this line or the next; false if it is wider than a line.
    fn place(&mut self, piece: &str) -> bool {
        let w = piece.width();
        let sep = usize::from(!self.fresh);
        if w + sep <= self.room() {
            self.push(piece);
            return true;
        }
        if self.fresh || w > self.width.saturating_sub(self.rest.width()) {
            return false;
        }
        self.new_line();
        self.push(piece);
        true
    }

    /// Puts a word wider than a line, cut over as many lines as it takes.
    fn cut(&mut self, word: &str) {
        let mut chars = word.chars().peekable();
        while chars.peek().is_some() {
            let sep = usize::from(!self.fresh);
            if self.room() < sep + 2 && !self.fresh {
                self.new_line();
                continue;
            }
            let room = self.room().saturating_sub(sep);
            let mut chunk = String::new();
            let mut used = 0;
            while let Some(&c) = chars.peek() {
                let cw = c.width().unwrap_or(0);
                // At least one character per line, however narrow.
                if used + cw > room && !chunk.is_empty() {
                    break;
                }
                chunk.push(c);
                used += cw;
                chars.next();
            }
            self.push(&chunk);
            if chars.peek().is_some() {
                self.new_line();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{EpochRecord, RunStatus};
    use crate::report::results::{DataInfo, RunRecord, RunResult, TeacherResult, Versions};
    use crate::report::table::{csv, markdown};

    const N_VAL: usize = 2000;

    /// Per-example correctness with `acc * N_VAL` right answers, spread by `salt`.
    fn correct(acc: f64, salt: u64) -> String {
        let k = (acc * N_VAL as f64).round() as usize;
        let mut idx: Vec<usize> = (0..N_VAL).collect();
        idx.sort_by_key(|&i| {
            (i as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15 ^ salt.wrapping_mul(0xBF58_476D_1CE4_E5B9)) >> 7
        });
        let mut s = vec!['0'; N_VAL];
        for &i in &idx[..k] {
            s[i] = '1';
        }
        s.into_iter().collect()
    }

    fn epoch(epoch: usize, train: Option<f64>, loss: f64, acc: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: train,
            train_ce: None,
            train_kl: None,
            train_cosine: None,
            validation_loss: loss,
            validation_accuracy: acc,
        }
    }

    fn teacher(finetune_epochs: usize, status: RunStatus, trained: usize) -> TeacherResult {
        let mut epochs = vec![epoch(0, None, 1.10, 0.3350)];
        for e in 1..=trained {
            epochs.push(epoch(e, Some(0.62 - 0.08 * e as f64), 0.52 - 0.02 * e as f64, 0.78 + 0.01 * e as f64));
        }
        TeacherResult {
            model: "bert-base-uncased".into(),
            revision: "main".into(),
            num_layers: 12,
            finetune_epochs,
            record: RunRecord {
                status,
                reason: None,
                train_loss: epochs.iter().rev().find_map(|e| e.train_loss),
                validation_loss: Some(0.4620),
                validation_accuracy: Some(0.8115),
                params: 109_484_547,
                seconds: 1849.0,
                checkpoint: Some("teacher".into()),
                resumed_from_epoch: None,
                epochs,
                validation_correct: correct(0.8115, 99),
            },
        }
    }

    /// A run: name, layers, seed, status, (train loss, validation loss, accuracy) when it ended.
    fn run(name: &str, layers: &[usize], seed: u64, status: RunStatus, end: Option<(f64, f64, f64)>) -> RunResult {
        let salt = seed * 31 + layers.iter().sum::<usize>() as u64 + name.len() as u64;
        let (train, loss, acc) = (end.map(|e| e.0), end.map(|e| e.1), end.map(|e| e.2));
        RunResult {
            name: name.into(),
            slug: name.to_lowercase().replace(' ', "-"),
            seed,
            teacher_layers: layers.to_vec(),
            record: RunRecord {
                status,
                reason: None,
                train_loss: train,
                validation_loss: loss,
                validation_accuracy: acc,
                params: 66_955_779,
                seconds: 611.0 + seed as f64,
                checkpoint: None,
                resumed_from_epoch: None,
                epochs: vec![epoch(0, None, 1.0986, 0.3540 + 0.001 * (salt % 7) as f64)],
                validation_correct: acc.map(|a| correct(a, salt)).unwrap_or_default(),
            },
        }
    }

    fn results(teacher: TeacherResult, runs: Vec<RunResult>) -> Results {
        Results {
            experiment: "mnli-student-init".into(),
            config_file: "experiments.toml".into(),
            backend: "cpu".into(),
            device: "CPU (burn-flex, 16 threads)".into(),
            versions: Versions { distill_tui: "0.1.0".into(), burn: "0.21.0".into() },
            data: DataInfo {
                task: "mnli".into(),
                train: "hub".into(),
                validation: "hub".into(),
                train_examples: 100_000,
                validation_examples: N_VAL,
                max_length: 128,
                train_mean_tokens: 39.5,
            },
            training: serde_json::json!({}),
            teacher,
            runs,
        }
    }

    const TOP: &[usize] = &[1, 2, 3, 4, 5, 6];
    const BOTTOM: &[usize] = &[7, 8, 9, 10, 11, 12];
    const ODD: &[usize] = &[1, 3, 5, 7, 9, 11];
    const EVEN: &[usize] = &[2, 4, 6, 8, 10, 12];

    /// The mission's matrix, one seed, all done.
    fn one_seed() -> Results {
        let done = RunStatus::Done;
        results(
            teacher(3, done, 3),
            vec![
                run("Top-K Layer", TOP, 42, done, Some((0.3766, 0.5824, 0.7475))),
                run("Bottom-K Layer", BOTTOM, 42, done, Some((0.2894, 0.5116, 0.7350))),
                run("Odd Layer", ODD, 42, done, Some((0.2500, 0.4700, 0.7605))),
                run("Even Layer", EVEN, 42, done, Some((0.2512, 0.4650, 0.7820))),
            ],
        )
    }

    /// Three seeds; the user quit during the last run of the third.
    fn three_seeds() -> Results {
        let done = RunStatus::Done;
        let mut runs = Vec::new();
        for (i, seed) in [42u64, 43, 44].into_iter().enumerate() {
            let d = 0.005 * i as f64;
            runs.push(run("Top-K Layer", TOP, seed, done, Some((0.3766 + d, 0.5824 - d, 0.7475 + d))));
            runs.push(run("Bottom-K Layer", BOTTOM, seed, done, Some((0.2894 - d, 0.5116 + d, 0.7350 - d))));
            runs.push(run("Odd Layer", ODD, seed, done, Some((0.2500 + d, 0.4700 - d, 0.7605 + d))));
            runs.push(if seed == 44 {
                run("Even Layer", EVEN, seed, RunStatus::Stopped, None)
            } else {
                run("Even Layer", EVEN, seed, done, Some((0.2512 - d, 0.4650 + d, 0.7820 - d)))
            });
        }
        results(teacher(3, done, 3), runs)
    }

    /// Long names, a stopped and a never-started run, a tie, a skipped teacher fine-tune.
    fn awkward() -> Results {
        let done = RunStatus::Done;
        results(
            teacher(3, RunStatus::Skipped, 1),
            vec![
                run("Every other layer, starting from the first one", ODD, 42, done, Some((0.2500, 0.4700, 0.7730))),
                run("Every other layer, starting from the second one", EVEN, 42, done, Some((0.2512, 0.4650, 0.7730))),
                run("Top-K Layer", TOP, 42, done, Some((0.3766, 0.5824, 0.7475))),
                run("Bottom-K Layer", BOTTOM, 42, RunStatus::Stopped, None),
                run(
                    "Alternating_from_the_bottom_without_any_spaces_at_all",
                    &[1, 2, 5, 6, 7, 12],
                    42,
                    RunStatus::Pending,
                    None,
                ),
            ],
        )
    }

    fn accuracies(r: &Results) -> Vec<String> {
        let mut v: Vec<String> =
            r.runs.iter().filter_map(|x| x.record.validation_accuracy).map(|a| format!("{a:.4}")).collect();
        v.extend(r.teacher.record.validation_accuracy.map(|a| format!("{a:.4}")));
        v
    }

    fn text(r: &Results, w: Option<usize>) -> String {
        final_text(r, Path::new("checkpoints/mnli-student-init/results.md"), w)
    }

    #[test]
    fn every_line_fits_and_the_numbers_stay_whole() {
        for r in [one_seed(), three_seeds(), awkward()] {
            let rows = table_rows(&r);
            // 40, 60, 80, 100, 120, 200 and every width between.
            for w in 40..=200 {
                let t = text(&r, Some(w));
                for line in t.lines() {
                    assert!(line.width() <= w, "width {w}: {} columns: {line:?}\n{t}", line.width());
                }
                // Every accuracy of the table (means ± std over seeds) whole, on one line.
                for row in &rows {
                    let acc = &row.validation_accuracy;
                    assert!(t.lines().any(|l| l.contains(acc.as_str())), "width {w}: {acc} missing\n{t}");
                }
                for a in accuracies(&r) {
                    if r.runs.iter().map(|x| x.seed).collect::<std::collections::BTreeSet<_>>().len() == 1 {
                        assert!(t.contains(&a), "width {w}: {a} missing\n{t}");
                    }
                }
                assert!(t.contains("results.md"), "{t}");
            }
        }
    }

    #[test]
    fn narrow_widths_do_not_panic() {
        for r in [one_seed(), three_seeds(), awkward()] {
            for w in 0..40 {
                let t = text(&r, Some(w));
                for line in t.lines() {
                    assert!(line.width() <= w.max(1), "width {w}: {line:?}");
                }
            }
        }
    }

    #[test]
    fn not_a_terminal_gets_every_column_unwrapped() {
        let r = one_seed();
        let t = text(&r, None);
        assert!(t.contains("Teacher (12 layers, fine-tuned 3 epochs)"), "{t}");
        for h in HEADER {
            assert!(t.contains(h), "{h}\n{t}");
        }
        assert!(t.contains("1, 3, 5, 7, 9, 11"), "{t}");
        assert_eq!(t.lines().filter(|l| l.starts_with("- ")).count(), analysis(&r).len());
        assert!(t.ends_with("results: checkpoints/mnli-student-init/results.md\n"), "{t}");
        assert_eq!(text(&r, Some(1000)), t);
    }

    #[test]
    fn columns_give_way_in_order() {
        let r = one_seed();
        let header = |w: usize| text(&r, Some(w)).lines().nth(1).unwrap().to_string();
        assert!(header(200).contains("Validation Accuracy") && header(200).contains("Time"), "{}", header(200));
        let h120 = header(120);
        assert!(
            h120.contains("Val Acc") && h120.contains("Params") && h120.contains("Time") && h120.contains("vs best"),
            "{h120}"
        );
        let h80 = header(80);
        assert!(h80.contains("vs best") && !h80.contains("Time") && !h80.contains("Params"), "{h80}");
        let t40 = text(&r, Some(40));
        assert!(t40.contains("0.7820 best"), "{t40}");
        assert!(t40.contains("Not shown at this width:"), "{t40}");
        assert!(t40.contains("McNemar's exact test against the best,"), "{t40}");
        assert!(t40.contains("  Bottom-K Layer  p < 0.001 *"), "{t40}");
    }

    #[test]
    fn teacher_label_says_how_it_was_trained() {
        let label = |t: TeacherResult| crate::report::table::teacher_label(&results(t, vec![]));
        assert_eq!(label(teacher(3, RunStatus::Done, 3)), "Teacher (12 layers, fine-tuned 3 epochs)");
        assert_eq!(label(teacher(3, RunStatus::Skipped, 1)), "Teacher (12 layers, fine-tuned 1 of 3 epochs, skipped)");
        assert_eq!(label(teacher(3, RunStatus::Stopped, 2)), "Teacher (12 layers, fine-tuned 2 of 3 epochs, stopped)");
        assert_eq!(label(teacher(1, RunStatus::Skipped, 0)), "Teacher (12 layers, fine-tuned 0 of 1 epoch, skipped)");
        assert_eq!(label(teacher(1, RunStatus::Done, 1)), "Teacher (12 layers, fine-tuned 1 epoch)");
        assert_eq!(label(teacher(2, RunStatus::Pending, 0)), "Teacher (12 layers, fine-tune of 2 epochs not started)");
        assert_eq!(label(teacher(0, RunStatus::Done, 0)), "Teacher (12 layers, as loaded)");
        let r = awkward();
        assert!(markdown(&r).contains("| Teacher (12 layers, fine-tuned 1 of 3 epochs, skipped) |"));
        assert!(text(&r, None).contains("Teacher (12 layers, fine-tuned 1 of 3 epochs, skipped)"));
        let narrow = text(&r, Some(80));
        assert!(narrow.contains("Teacher: 12 layers, fine-tuned 1 of 3 epochs, skipped."), "{narrow}");
        assert!(csv(&r).contains("teacher,,1-12,skipped,"));
    }

    #[test]
    fn a_tie_is_ranked_equal() {
        let r = awkward();
        let ranking = &analysis(&r)[0];
        assert!(
            ranking.contains("starting from the first one {1, 3, 5, 7, 9, 11} 0.7730 = Every other layer, starting from the second one {2, 4, 6, 8, 10, 12} 0.7730 > Top-K Layer"),
            "{ranking}"
        );
        assert!(markdown(&r).contains("0.7730 = Every other layer"));
        // The first of equals is the best, in the table and the ranking alike.
        let rows = table_rows(&r);
        assert!(rows[1].best && !rows[2].best);
        assert!(!one_seed().runs.is_empty() && !analysis(&one_seed())[0].contains(" = "));
    }

    #[test]
    fn unfinished_runs_are_never_best() {
        let r = awkward();
        for row in table_rows(&r) {
            if !row.status.is_empty() {
                assert!(!row.best && row.vs_best == "–" && row.validation_accuracy == "–", "{row:?}");
            }
        }
        // Even if a stopped or skipped run carries a higher accuracy, stats use done runs only.
        let mut r = one_seed();
        r.runs[0].record.status = RunStatus::Stopped;
        r.runs[0].record.validation_accuracy = Some(0.99);
        r.runs[1].record.status = RunStatus::Skipped;
        r.runs[1].record.validation_accuracy = Some(0.98);
        let rows = table_rows(&r);
        assert!(!rows[1].best && !rows[2].best && rows[4].best);
        assert!(analysis(&r)[0].starts_with("Ranking by validation accuracy: Even Layer"));
        let t = text(&r, Some(80));
        assert!(t.contains("Top-K Layer (stopped)") && t.contains("Bottom-K Layer (skipped)"), "{t}");
        assert!(!t.contains("0.9900"), "{t}");
    }

    #[test]
    fn analysis_wraps_at_words_with_a_hanging_indent() {
        let r = awkward();
        let t = text(&r, Some(60));
        let bullets: Vec<&str> = t.lines().skip_while(|l| !l.starts_with("- ")).take_while(|l| !l.is_empty()).collect();
        assert!(bullets.len() > analysis(&r).len());
        for l in &bullets {
            assert!(l.starts_with("- ") || l.starts_with("  ") && !l.starts_with("   "), "{l:?}");
            assert!(!l.ends_with(" =") && !l.ends_with(" p") && !l.starts_with("  ="), "{l:?}");
        }
        // Every word of the analysis comes back whole.
        let joined = bullets.iter().map(|l| l.trim_start_matches("- ").trim()).collect::<Vec<_>>().join(" ");
        for a in analysis(&r) {
            assert!(joined.contains(&a), "{a}\n{joined}");
        }
    }

    #[test]
    fn wrap_keeps_numbers_with_their_sign_and_cuts_only_overlong_words() {
        assert_eq!(wrap("aaa p = 0.012 bbb", 10, "", ""), vec!["aaa", "p = 0.012", "bbb"]);
        assert_eq!(wrap("x 0.7729 > y", 9, "", ""), vec!["x", "0.7729 >", "y"]);
        assert_eq!(wrap("a {1, 2, 3} 0.5 b", 16, "", ""), vec!["a {1, 2, 3} 0.5", "b"]);
        assert_eq!(wrap("results: /a/very/long/path", 12, "", ""), vec!["results: /a/", "very/long/pa", "th"]);
        assert_eq!(wrap("", 10, "- ", "  "), vec!["- "]);
        assert_eq!(truncate("Bottom-K Layer", 8), "Bottom-…");
        assert_eq!(truncate("ab", 0), "");
    }

    #[test]
    fn snapshots_at_80_and_120_columns() {
        for (name, results) in [("one_seed", one_seed()), ("three_seeds", three_seeds())] {
            for w in [80, 120] {
                insta::assert_snapshot!(format!("snapshot_{name}_{w}"), text(&results, Some(w)));
            }
        }
    }
}

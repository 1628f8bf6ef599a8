//! What the plots show, as numbers: computed from results.json and the event logs, written
//! to `plots/data.json` beside the pictures, so that every plotted value can be checked
//! against results.json (and reused in a notebook).

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::events::{Event, LogTail, RunStatus, cell_run_id};
use crate::report::results::Results;
use crate::report::stats::mean_std;
use crate::report::table::{best_row, compare, rows};
use crate::workspace::cells::folders;
use crate::workspace::layout::{EVENTS_LOG, cell_dir};

/// A band of one strategy across its seeds: mean, low and high at each x.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub x: Vec<f64>,
    pub mean: Vec<f64>,
    pub low: Vec<f64>,
    pub high: Vec<f64>,
}

/// One seed's raw series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Series {
    pub seed: u64,
    pub x: Vec<f64>,
    pub y: Vec<f64>,
}

/// One strategy (a run name) in the plots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strategy {
    pub name: String,
    pub teacher_layers: Vec<usize>,
    /// Training loss per optimizer step, per seed, as logged.
    pub loss_raw: Vec<Series>,
    /// The same smoothed (a moving mean), then mean, min and max over the seeds.
    pub loss: Option<Band>,
    /// Validation accuracy per epoch (epoch 0: before any update), per seed.
    pub accuracy_raw: Vec<Series>,
    /// Mean, min and max over the seeds, per epoch.
    pub accuracy: Option<Band>,
    /// Final validation accuracy of each finished seed.
    pub final_accuracy: Vec<f64>,
    /// Mean of `final_accuracy` and the half-width of its 95% interval (Student's t over seeds;
    /// 0 with one seed).
    pub final_mean: Option<f64>,
    pub final_ci95: Option<f64>,
    /// McNemar's exact test on paired per-example correctness against the best strategy.
    pub p_vs_best: Option<f64>,
    pub is_best: bool,
}

/// Everything the three plots draw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlotData {
    pub experiment: String,
    pub task: String,
    pub teacher_accuracy: Option<f64>,
    pub strategies: Vec<Strategy>,
    /// The moving mean's window, in steps.
    pub smoothing_window: usize,
}

/// Two-sided 97.5% quantile of Student's t with `df` degrees of freedom.
pub fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
        2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        d if d <= 30 => T[d - 1],
        _ => 1.96,
    }
}

/// A centred moving mean over `window` points (shorter at the ends).
pub fn moving_mean(y: &[f64], window: usize) -> Vec<f64> {
    let half = window / 2;
    (0..y.len())
        .map(|i| {
            let (a, b) = (i.saturating_sub(half), (i + half + 1).min(y.len()));
            y[a..b].iter().sum::<f64>() / (b - a) as f64
        })
        .collect()
}

/// Mean, min and max at each x over series of equal x (shorter ones end the band).
fn band(series: &[(Vec<f64>, Vec<f64>)]) -> Option<Band> {
    let len = series.iter().map(|(x, _)| x.len()).min()?;
    if len == 0 {
        return None;
    }
    let x = series[0].0[..len].to_vec();
    let at = |i: usize| series.iter().map(|(_, y)| y[i]).collect::<Vec<f64>>();
    let mean = (0..len).map(|i| at(i).iter().sum::<f64>() / series.len() as f64).collect();
    let low = (0..len).map(|i| at(i).into_iter().fold(f64::INFINITY, f64::min)).collect();
    let high = (0..len).map(|i| at(i).into_iter().fold(f64::NEG_INFINITY, f64::max)).collect();
    Some(Band { x, mean, low, high })
}

/// Training loss per step of every run, from the cells' event logs (or, for a folder of the
/// version before cells, the experiment's log), by run id. A step logged twice (a run resumed
/// from its last epoch) keeps its last value.
fn step_losses(dir: &Path, results: &Results) -> BTreeMap<usize, BTreeMap<usize, f64>> {
    let finetuned = results.teacher.finetuned();
    let mut out: BTreeMap<usize, BTreeMap<usize, f64>> = BTreeMap::new();
    let mut take = |events: Vec<Event>, only: Option<usize>| {
        for e in events {
            if let Event::Step(s) = e
                && only.is_none_or(|id| id == s.run)
                && s.loss.total.is_finite()
            {
                out.entry(s.run).or_default().insert(s.step, s.loss.total);
            }
        }
    };
    take(LogTail::new(&dir.join(EVENTS_LOG)).poll(), None);
    for (i, folder) in folders(results).iter().enumerate() {
        take(LogTail::new(&cell_dir(dir, folder).join(EVENTS_LOG)).poll(), Some(cell_run_id(i, finetuned)));
    }
    out
}

impl PlotData {
    pub fn from_results(dir: &Path, results: &Results) -> Self {
        let finetuned = results.teacher.finetuned();
        let steps = step_losses(dir, results);
        let longest = steps.values().map(|s| s.len()).max().unwrap_or(0);
        let window = (longest / 15).max(1);
        let table = rows(results);
        let best = best_row(&table);
        let mut strategies = Vec::new();
        for (ri, row) in table.iter().enumerate() {
            let done = |status: RunStatus| status == RunStatus::Done;
            let mut loss_raw = Vec::new();
            let mut accuracy_raw = Vec::new();
            for run in &row.runs {
                let index = results.runs.iter().position(|r| r.slug == run.slug && r.seed == run.seed).unwrap_or(0);
                if let Some(s) = steps.get(&cell_run_id(index, finetuned)).filter(|s| !s.is_empty()) {
                    let (x, y) = s.iter().map(|(k, v)| (*k as f64, *v)).unzip();
                    loss_raw.push(Series { seed: run.seed, x, y });
                }
                if !run.record.epochs.is_empty() {
                    let (x, y) = run.record.epochs.iter().map(|e| (e.epoch as f64, e.validation_accuracy)).unzip();
                    accuracy_raw.push(Series { seed: run.seed, x, y });
                }
            }
            let smoothed: Vec<(Vec<f64>, Vec<f64>)> =
                loss_raw.iter().map(|s| (s.x.clone(), moving_mean(&s.y, window))).collect();
            let acc: Vec<(Vec<f64>, Vec<f64>)> = accuracy_raw.iter().map(|s| (s.x.clone(), s.y.clone())).collect();
            let final_accuracy: Vec<f64> = row
                .runs
                .iter()
                .filter(|r| done(r.record.status))
                .filter_map(|r| r.record.validation_accuracy)
                .collect();
            let (final_mean, final_ci95) = match final_accuracy.len() {
                0 => (None, None),
                1 => (Some(final_accuracy[0]), Some(0.0)),
                n => {
                    let (m, sd) = mean_std(&final_accuracy);
                    (Some(m), Some(t975(n - 1) * sd / (n as f64).sqrt()))
                }
            };
            let p_vs_best = match best {
                Some(b) if b != ri => compare(&table[b], row).map(|c| c.p),
                _ => None,
            };
            strategies.push(Strategy {
                name: row.name.clone(),
                teacher_layers: row.teacher_layers.clone(),
                loss: band(&smoothed),
                loss_raw,
                accuracy: band(&acc),
                accuracy_raw,
                final_accuracy,
                final_mean,
                final_ci95,
                p_vs_best,
                is_best: best == Some(ri),
            });
        }
        let teacher = &results.teacher.record;
        PlotData {
            experiment: results.experiment.clone(),
            task: results.data.task.clone(),
            teacher_accuracy: (teacher.status == RunStatus::Done).then_some(teacher.validation_accuracy).flatten(),
            strategies,
            smoothing_window: window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_moving_means_and_bands() {
        assert_eq!(t975(1), 12.706);
        assert_eq!(t975(4), 2.776);
        assert_eq!(t975(100), 1.96);
        assert_eq!(moving_mean(&[1.0, 2.0, 3.0, 4.0, 5.0], 3), vec![1.5, 2.0, 3.0, 4.0, 4.5]);
        assert_eq!(moving_mean(&[1.0, 2.0], 1), vec![1.0, 2.0]);
        let b = band(&[(vec![0.0, 1.0, 2.0], vec![1.0, 2.0, 3.0]), (vec![0.0, 1.0], vec![3.0, 0.0])]).unwrap();
        assert_eq!(b, Band { x: vec![0.0, 1.0], mean: vec![2.0, 1.0], low: vec![1.0, 0.0], high: vec![3.0, 2.0] });
    }
}

//! A run's loss history for the charts: the whole run at bounded memory (adjacent points are
//! averaged in pairs whenever the buffer fills), plus the latest steps at full resolution.

use std::collections::VecDeque;

/// Points kept for the whole run; at most this many, at least half as many once full.
pub const FULL_POINTS: usize = 2048;
/// Steps kept at full resolution for the "recent" view.
pub const RECENT_STEPS: usize = 400;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct History {
    /// (step, mean value) over `stride` consecutive steps each, oldest first.
    full: Vec<(f64, f64)>,
    stride: usize,
    /// Steps not yet folded into `full`: sum of steps, sum of values, count.
    acc: (f64, f64, usize),
    recent: VecDeque<(f64, f64)>,
}

impl History {
    pub fn push(&mut self, step: usize, value: f64) {
        if !value.is_finite() {
            return;
        }
        let x = step as f64;
        if self.recent.len() == RECENT_STEPS {
            self.recent.pop_front();
        }
        self.recent.push_back((x, value));
        self.stride = self.stride.max(1);
        self.acc = (self.acc.0 + x, self.acc.1 + value, self.acc.2 + 1);
        if self.acc.2 == self.stride {
            let n = self.acc.2 as f64;
            self.full.push((self.acc.0 / n, self.acc.1 / n));
            self.acc = (0.0, 0.0, 0);
            if self.full.len() == FULL_POINTS {
                self.full = self
                    .full
                    .chunks(2)
                    .map(|c| {
                        (
                            c.iter().map(|p| p.0).sum::<f64>() / c.len() as f64,
                            c.iter().map(|p| p.1).sum::<f64>() / c.len() as f64,
                        )
                    })
                    .collect();
                self.stride *= 2;
            }
        }
    }

    /// The whole run, downsampled (the partial last bucket included).
    pub fn full(&self) -> Vec<(f64, f64)> {
        let mut v = self.full.clone();
        if self.acc.2 > 0 {
            let n = self.acc.2 as f64;
            v.push((self.acc.0 / n, self.acc.1 / n));
        }
        v
    }

    /// The latest steps, one point per step.
    pub fn recent(&self) -> Vec<(f64, f64)> {
        self.recent.iter().copied().collect()
    }

    /// Steps averaged into one point of [`Self::full`].
    pub fn stride(&self) -> usize {
        self.stride.max(1)
    }

    pub fn last(&self) -> Option<f64> {
        self.recent.back().map(|p| p.1)
    }

    pub fn is_empty(&self) -> bool {
        self.recent.is_empty()
    }
}

/// A trailing moving average over `window` points (the first points average what there is).
pub fn smooth(points: &[(f64, f64)], window: usize) -> Vec<(f64, f64)> {
    let window = window.max(1);
    let mut sum = 0.0;
    let mut out = Vec::with_capacity(points.len());
    for (i, &(x, y)) in points.iter().enumerate() {
        sum += y;
        if i >= window {
            sum -= points[i - window].1;
        }
        out.push((x, sum / (i + 1).min(window) as f64));
    }
    out
}

/// The smoothing window for `n` points: about a twentieth of them, so that the trend shows
/// and a change of direction still does.
pub fn window_for(n: usize) -> usize {
    (n / 20).clamp(1, 50)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_whole_run_at_bounded_size() {
        let mut h = History::default();
        for step in 1..=10_000 {
            h.push(step, step as f64);
        }
        let full = h.full();
        assert!(full.len() <= FULL_POINTS && full.len() >= FULL_POINTS / 4, "{}", full.len());
        // The first point averages the first `stride` steps; the last one ends at step 10000.
        let s = h.stride() as f64;
        assert_eq!(full[0], ((1.0 + s) / 2.0, (1.0 + s) / 2.0));
        assert!(full.last().unwrap().0 <= 10_000.0 && full.last().unwrap().0 > 10_000.0 - s);
        // Averages of a line stay on the line.
        assert!(full.iter().all(|(x, y)| x == y));
        assert_eq!(h.recent().len(), RECENT_STEPS);
        assert_eq!(h.recent()[0], (9601.0, 9601.0));
        assert_eq!(h.last(), Some(10_000.0));
    }

    #[test]
    fn non_finite_values_are_not_plotted() {
        let mut h = History::default();
        h.push(1, 1.0);
        h.push(2, f64::NAN);
        h.push(3, f64::INFINITY);
        assert_eq!(h.full(), vec![(1.0, 1.0)]);
    }

    #[test]
    fn moving_average_by_hand() {
        let pts = [(1.0, 4.0), (2.0, 2.0), (3.0, 6.0), (4.0, 0.0)];
        assert_eq!(smooth(&pts, 2), vec![(1.0, 4.0), (2.0, 3.0), (3.0, 4.0), (4.0, 3.0)]);
        assert_eq!(smooth(&pts, 1), pts.to_vec());
    }
}

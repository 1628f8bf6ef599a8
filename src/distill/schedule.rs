//! Learning rate: linear warm-up from 0, then linear decay to 0 (transformers'
//! `get_linear_schedule_with_warmup`).

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LinearSchedule {
    pub base: f64,
    pub warmup: usize,
    pub total: usize,
}

impl LinearSchedule {
    /// The learning rate of step `step` (0-based). Above 0 at every step before `total` when
    /// there is no warm-up.
    pub fn lr(&self, step: usize) -> f64 {
        if step < self.warmup {
            return self.base * step as f64 / self.warmup as f64;
        }
        let left = self.total.saturating_sub(step) as f64;
        let span = self.total.saturating_sub(self.warmup).max(1) as f64;
        self.base * (left / span).max(0.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decays_linearly_to_zero_without_warmup() {
        let s = LinearSchedule { base: 5e-5, warmup: 0, total: 10 };
        assert_eq!(s.lr(0), 5e-5);
        assert!((s.lr(5) - 2.5e-5).abs() < 1e-18);
        assert!((s.lr(9) - 5e-6).abs() < 1e-18);
        assert_eq!(s.lr(10), 0.0);
    }

    #[test]
    fn warms_up_then_decays() {
        let s = LinearSchedule { base: 1.0, warmup: 4, total: 12 };
        assert_eq!([s.lr(0), s.lr(1), s.lr(2), s.lr(4), s.lr(8), s.lr(12)], [0.0, 0.25, 0.5, 1.0, 0.5, 0.0]);
    }
}

//! Statistics for comparing runs: mean and standard deviation, and McNemar's exact test on
//! paired per-example correctness.

/// Mean and sample standard deviation (0 for one value).
pub fn mean_std(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    if xs.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (mean, 0.0);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
}

/// Discordant pairs: `b` = right in A and wrong in B, `c` = the reverse.
pub fn discordant(a: &[bool], b: &[bool]) -> (usize, usize) {
    a.iter().zip(b).fold((0, 0), |(x, y), (&p, &q)| match (p, q) {
        (true, false) => (x + 1, y),
        (false, true) => (x, y + 1),
        _ => (x, y),
    })
}

/// Two-sided exact McNemar p-value: `2 * P(X <= min(b, c))` for `X ~ Binomial(b + c, 1/2)`,
/// capped at 1.
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    // log C(n, i) built up incrementally; sum in log space for large n.
    let mut log_c = 0.0f64;
    let mut terms = Vec::with_capacity(k + 1);
    for i in 0..=k {
        if i > 0 {
            log_c += ((n - i + 1) as f64).ln() - (i as f64).ln();
        }
        terms.push(log_c);
    }
    let max = terms.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let log_sum = max + terms.iter().map(|t| (t - max).exp()).sum::<f64>().ln();
    (2.0 * (log_sum - n as f64 * 2f64.ln()).exp()).min(1.0)
}

/// Half-width of the 95% normal interval of an accuracy `p` on `n` examples.
pub fn ci95(p: f64, n: usize) -> f64 {
    if n == 0 { f64::NAN } else { 1.96 * (p * (1.0 - p) / n as f64).sqrt() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_std_by_hand() {
        let (m, s) = mean_std(&[0.80, 0.82, 0.84]);
        assert!((m - 0.82).abs() < 1e-12);
        assert!((s - 0.02).abs() < 1e-12);
        assert_eq!(mean_std(&[0.5]), (0.5, 0.0));
    }

    #[test]
    fn mcnemar_against_the_binomial_by_hand() {
        // b=1, c=5: 2 * (1 + 6) / 64 = 0.21875.
        assert!((mcnemar_exact(1, 5) - 0.21875).abs() < 1e-12);
        // b=0, c=10: 2 / 1024.
        assert!((mcnemar_exact(0, 10) - 2.0 / 1024.0).abs() < 1e-15);
        assert_eq!(mcnemar_exact(3, 3), 1.0);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        // Symmetric, and large counts do not overflow: 400 vs 500 is significant.
        assert_eq!(mcnemar_exact(400, 500), mcnemar_exact(500, 400));
        let p = mcnemar_exact(400, 500);
        assert!(p > 0.0 && p < 0.01, "{p}");
    }

    #[test]
    fn discordant_counts() {
        let a = [true, true, false, false, true];
        let b = [true, false, true, false, false];
        assert_eq!(discordant(&a, &b), (2, 1));
    }

    #[test]
    fn ci_on_a_thousand_examples_is_about_three_points() {
        assert!((ci95(0.5, 1000) - 0.031).abs() < 0.001);
    }
}

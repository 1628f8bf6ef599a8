//! Dropout masks from a counter-based hash: element `i` of a mask is kept when
//! `hash(seed, i)` is above a threshold. Masks are computed in parallel, identically for any
//! number of threads, and regenerated in the backward pass from the seed instead of stored.
//!
//! Element indices are taken modulo 2^32, so a mask would repeat only within a tensor of more
//! than four billion elements. Each training thread has its own stream of mask seeds, set by
//! [`seed_dropout`] (the training loop does it at every epoch, so a run resumed at an epoch
//! boundary draws the same masks).

use std::cell::Cell;

thread_local! {
    static STREAM: Cell<u64> = const { Cell::new(0x853c_49e6_748f_ea9b) };
}

/// Restarts this thread's stream of dropout seeds.
pub fn seed_dropout(seed: u64) {
    STREAM.with(|s| s.set(mix64(seed ^ 0xd1b5_4a32_d192_ed03)));
}

/// The seed of the next dropout mask drawn on this thread.
pub fn next_seed() -> u64 {
    STREAM.with(|s| {
        let v = s.get().wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set(v);
        mix64(v)
    })
}

/// splitmix64's finalizer.
pub fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A 32-bit hash of element `i` under `seed` (two rounds of Wellons' lowbias32), cheap enough
/// to vectorize.
#[inline(always)]
pub fn hash(seed: u64, i: u32) -> u32 {
    let mut x = i ^ (seed as u32);
    x ^= x >> 16;
    x = x.wrapping_mul(0x21f0_aaad);
    x ^= x >> 15;
    x = x.wrapping_mul(0x735a_2d97);
    x ^= x >> 15;
    x ^= (seed >> 32) as u32;
    x ^= x >> 16;
    x = x.wrapping_mul(0x21f0_aaad);
    x ^= x >> 15;
    x = x.wrapping_mul(0x735a_2d97);
    x ^ (x >> 15)
}

/// The threshold below which a hash drops its element: a fraction `prob` of all 2^32 values.
pub fn threshold(prob: f64) -> u64 {
    (prob.clamp(0.0, 1.0) * 4_294_967_296.0) as u64
}

/// The dropout factor of element `i`: 0 if dropped, `scale` (= 1/(1-p)) if kept.
#[inline(always)]
pub fn factor(seed: u64, i: u32, threshold: u64, scale: f32) -> f32 {
    if (hash(seed, i) as u64) < threshold { 0.0 } else { scale }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_drop_the_asked_fraction_and_depend_on_the_seed() {
        let t = threshold(0.1);
        let n = 200_000u32;
        let dropped = (0..n).filter(|&i| factor(7, i, t, 1.0) == 0.0).count() as f64 / n as f64;
        assert!((dropped - 0.1).abs() < 0.003, "{dropped}");
        let same = (0..n).filter(|&i| factor(7, i, t, 1.0) == factor(8, i, t, 1.0)).count() as f64 / n as f64;
        // Independent masks agree on 0.9^2 + 0.1^2 = 82% of elements.
        assert!((same - 0.82).abs() < 0.005, "{same}");
        assert_eq!(threshold(0.0), 0);
        assert!((0..1000).all(|i| factor(1, i, threshold(0.0), 2.0) == 2.0));
    }

    #[test]
    fn the_stream_restarts_with_its_seed() {
        seed_dropout(5);
        let a = (next_seed(), next_seed());
        seed_dropout(5);
        assert_eq!(a, (next_seed(), next_seed()));
        seed_dropout(6);
        assert_ne!(a.0, next_seed());
    }
}

//! The order of training batches: seeded per (seed, epoch), the same for every run of a seed,
//! and bucketed by length so that little padding is computed.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

/// How many batches' worth of examples are sorted by length together. Large enough that
/// batches hold similar lengths, small enough that each epoch still mixes the data.
pub const BUCKET_BATCHES: usize = 50;

/// Batches of example indices for one epoch: shuffle, sort each window of
/// `BUCKET_BATCHES * batch_size` examples by length, cut into batches, shuffle the batches.
pub fn epoch_batches(lengths: &[usize], batch_size: usize, seed: u64, epoch: usize) -> Vec<Vec<usize>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ (epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let mut idx: Vec<usize> = (0..lengths.len()).collect();
    idx.shuffle(&mut rng);
    let mut batches: Vec<Vec<usize>> = Vec::with_capacity(lengths.len().div_ceil(batch_size));
    for window in idx.chunks_mut(BUCKET_BATCHES * batch_size) {
        window.sort_by_key(|&i| lengths[i]);
        batches.extend(window.chunks(batch_size).map(<[usize]>::to_vec));
    }
    batches.shuffle(&mut rng);
    batches
}

/// Batches in file order (for evaluation, where order does not matter but padding does).
pub fn sorted_batches(lengths: &[usize], batch_size: usize) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..lengths.len()).collect();
    idx.sort_by_key(|&i| lengths[i]);
    idx.chunks(batch_size).map(<[usize]>::to_vec).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_example_once_per_epoch_and_seeded() {
        let lengths: Vec<usize> = (0..1000).map(|i| (i * 37) % 61 + 3).collect();
        let a = epoch_batches(&lengths, 32, 42, 1);
        let mut all: Vec<usize> = a.iter().flatten().copied().collect();
        all.sort();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        assert_eq!(a, epoch_batches(&lengths, 32, 42, 1), "same seed and epoch, same order");
        assert_ne!(a, epoch_batches(&lengths, 32, 42, 2), "a new order every epoch");
        assert_ne!(a, epoch_batches(&lengths, 32, 43, 1), "a new order for another seed");
        assert_eq!(a.iter().filter(|b| b.len() < 32).count(), 1, "one short batch (1000 = 31*32 + 8)");
    }

    #[test]
    fn bucketing_cuts_padding() {
        let lengths: Vec<usize> = (0..2000).map(|i| (i * 7919) % 60 + 5).collect();
        let padded = |batches: &[Vec<usize>]| -> usize {
            batches.iter().map(|b| b.len() * b.iter().map(|&i| lengths[i]).max().unwrap()).sum()
        };
        let real: usize = lengths.iter().sum();
        let bucketed = padded(&epoch_batches(&lengths, 32, 1, 1)) as f64 / real as f64;
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut idx: Vec<usize> = (0..2000).collect();
        idx.shuffle(&mut rng);
        let random: Vec<Vec<usize>> = idx.chunks(32).map(<[usize]>::to_vec).collect();
        let random = padded(&random) as f64 / real as f64;
        assert!(bucketed < 1.1 && random > 1.5, "bucketed {bucketed:.2}x, random {random:.2}x");
    }
}

//! `auto` and a GPU that may be slower than the CPU.
//!
//! A discrete GPU beats the CPU at this work by a wide margin; a software adapter (Mesa's
//! llvmpipe) never does and is never taken by `auto`. Integrated GPUs (and virtual or unnamed
//! adapters) range from slower than a laptop's cores (an older Intel UHD) to several times
//! faster (Apple's, AMD's recent APUs), and the same GPU is fast or slow next to a 2- or a
//! 32-core CPU: no rule on the adapter's kind alone gets both right. So `auto` measures on such
//! an adapter: the same chain of matrix products (the bulk of a training step's arithmetic) on
//! that GPU and on the CPU backend, each after a warm-up that compiles and tunes. The GPU is
//! taken only when it is [`MARGIN`] times faster, since a GPU also pays kernel compilation at
//! the start and a launch per operation. The verdict is remembered (per adapter, driver, CPU and
//! thread count) in the user cache folder, so the race runs once per machine.

use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::prelude::Backend;
use burn::tensor::{Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// How much faster than the CPU an integrated GPU's matrix products must be for `auto` to take it.
pub const MARGIN: f64 = 1.5;

/// The side of the square matrices raced: 2.1 GFLOP a product, a few milliseconds on either.
const N: usize = 1024;
/// Timed products, after two untimed ones.
const REPS: usize = 6;

/// The outcome of one race.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub gpu_gflops: f64,
    pub cpu_gflops: f64,
    /// Read from the cache rather than measured now.
    #[serde(skip)]
    pub remembered: bool,
}

impl Verdict {
    pub fn gpu_wins(&self) -> bool {
        self.gpu_gflops >= MARGIN * self.cpu_gflops
    }

    /// E.g. `the GPU's matrix products ran at 310 GFLOP/s, the CPU's at 420`.
    pub fn describe(&self) -> String {
        format!("matrix products {:.0} GFLOP/s on the GPU, {:.0} on the CPU", self.gpu_gflops, self.cpu_gflops)
    }
}

/// GFLOP/s of a chain of `N`x`N` matrix products on `device`, after two warm-up products.
pub fn matmul_gflops<B: Backend>(device: &B::Device) -> f64 {
    // x @ w with w = 1/N everywhere keeps x at ones: no overflow, no denormals, and each
    // product depends on the last, so none can be skipped or overlapped away.
    let x = Tensor::<B, 2>::from_data(TensorData::new(vec![1.0f32; N * N], [N, N]), device);
    let w = Tensor::<B, 2>::from_data(TensorData::new(vec![1.0 / N as f32; N * N], [N, N]), device);
    let mut y = x;
    for _ in 0..2 {
        y = y.matmul(w.clone());
    }
    let _ = B::sync(device);
    let start = Instant::now();
    for _ in 0..REPS {
        y = y.matmul(w.clone());
    }
    let _ = B::sync(device);
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    // Read one value back, so that the work cannot have been left undone.
    let _ = y.slice([0..1, 0..1]).into_data();
    (2.0 * (N * N * N) as f64 * REPS as f64) / seconds / 1e9
}

/// The file the verdicts are kept in: `<cache>/distill-tui/auto-backend.json`.
pub fn verdicts_file() -> Option<PathBuf> {
    let root = crate::kernel_cache::cache_root(
        std::env::var("XDG_CACHE_HOME").ok().as_deref(),
        std::env::var("HOME").ok().as_deref(),
    )?;
    Some(root.parent()?.join("auto-backend.json"))
}

/// What identifies a race: the adapter, its driver, the CPU and the threads the CPU backend uses.
pub fn race_key(adapter: &str, driver: &str) -> String {
    format!("{adapter} | {driver} | {} | {} threads", cpu_model(), rayon::current_num_threads())
}

fn cpu_model() -> String {
    let info = crate::input_file::read_text(Path::new("/proc/cpuinfo"), 4 << 20).unwrap_or_default();
    info.lines()
        .find_map(|l| l.strip_prefix("model name").and_then(|r| r.split_once(':')).map(|(_, v)| v.trim().to_string()))
        .unwrap_or_else(|| std::env::consts::ARCH.to_string())
}

/// The remembered verdict for `key` in `file`, if any. The file is the user's: one that is
/// missing, unreadable or not ours is ignored (the race runs again and rewrites it).
pub fn remembered(file: &Path, key: &str) -> Option<Verdict> {
    let text = crate::input_file::read_text(file, 1 << 20).ok()?;
    let all: std::collections::BTreeMap<String, Verdict> = serde_json::from_str(&text).ok()?;
    let v = all.get(key)?;
    (v.gpu_gflops.is_finite() && v.cpu_gflops.is_finite() && v.gpu_gflops > 0.0 && v.cpu_gflops > 0.0)
        .then_some(Verdict { remembered: true, ..*v })
}

/// Adds `verdict` for `key` to `file` (best effort: a cache that cannot be written only means
/// the race runs again next time).
pub fn remember(file: &Path, key: &str, verdict: Verdict) {
    let mut all: std::collections::BTreeMap<String, Verdict> = crate::input_file::read_text(file, 1 << 20)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    all.insert(key.to_string(), verdict);
    if let (Some(dir), Ok(text)) = (file.parent(), serde_json::to_string_pretty(&all)) {
        let _ = std::fs::create_dir_all(dir);
        let _ = crate::atomic::write_atomic(file, |tmp| {
            std::fs::write(tmp, text.as_bytes()).map_err(|e| crate::error::Error::io(tmp, e))
        });
    }
}

/// The verdict for a GPU against the CPU backend: remembered under `key` in `file`, or measured
/// with `gpu` (the GPU's GFLOP/s) and the CPU backend, then remembered.
pub fn decide(file: Option<&Path>, key: &str, gpu: impl FnOnce() -> f64) -> Verdict {
    if let Some(v) = file.and_then(|f| remembered(f, key)) {
        return v;
    }
    let gpu_gflops = gpu();
    let cpu_gflops = matmul_gflops::<super::CpuBackend>(&Default::default());
    let verdict = Verdict { gpu_gflops, cpu_gflops, remembered: false };
    if let Some(f) = file {
        remember(f, key, verdict);
    }
    verdict
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gpu_must_be_clearly_faster() {
        let v = |gpu_gflops, cpu_gflops| Verdict { gpu_gflops, cpu_gflops, remembered: false };
        assert!(v(1500.0, 300.0).gpu_wins());
        assert!(v(450.0, 300.0).gpu_wins());
        assert!(!v(440.0, 300.0).gpu_wins(), "1.47x is not enough");
        assert!(!v(50.0, 300.0).gpu_wins());
        assert_eq!(v(310.4, 420.0).describe(), "matrix products 310 GFLOP/s on the GPU, 420 on the CPU");
    }

    #[test]
    fn the_cpu_backend_measures_a_positive_rate() {
        let g = matmul_gflops::<crate::backend::CpuBackend>(&Default::default());
        eprintln!("burn-flex matrix products: {g:.0} GFLOP/s");
        assert!(g.is_finite() && g > 0.5, "{g}");
    }

    #[test]
    fn verdicts_are_remembered_per_key_and_a_broken_file_is_raced_again() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("auto-backend.json");
        let first = decide(Some(&file), "gpu A", || 1.0);
        assert!(!first.remembered && !first.gpu_wins() && first.cpu_gflops > 0.0);
        let again = decide(Some(&file), "gpu A", || panic!("raced again"));
        assert!(again.remembered);
        assert_eq!((again.gpu_gflops, again.cpu_gflops), (first.gpu_gflops, first.cpu_gflops));
        let other = decide(Some(&file), "gpu B", || 1e9);
        assert!(!other.remembered && other.gpu_wins());
        assert!(remembered(&file, "gpu A").is_some(), "one key does not drop another");
        std::fs::write(&file, "{ not json").unwrap();
        assert!(!decide(Some(&file), "gpu A", || 1.0).remembered);
        std::fs::write(&file, r#"{"gpu A": {"gpu_gflops": -1, "cpu_gflops": 5}}"#).unwrap();
        assert!(remembered(&file, "gpu A").is_none(), "a nonsensical verdict is not trusted");
    }
}

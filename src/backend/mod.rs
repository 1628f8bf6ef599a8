//! Which burn backend runs the work: burn-flex on the CPU (always built), burn-cuda on an
//! NVIDIA GPU (with the `cuda` feature), burn-wgpu on any GPU with a Vulkan or Metal driver
//! (with the `wgpu` feature), burn-ndarray on the CPU (with the `ndarray` feature, for
//! side-by-side benchmarks). Work that is generic over the backend implements [`BackendTask`]
//! and is handed to [`run_on`].

pub mod adapter;
mod cuda;
pub mod nvrtc;
pub mod race;
pub mod shapes;
#[cfg(feature = "wgpu")]
mod wgpu;

use burn::backend::Autodiff;

pub use cuda::{CudaFound, CudaProblem, cuda_probe};
#[cfg(feature = "wgpu")]
pub use wgpu::adapters as wgpu_adapters;

use crate::error::{Error, Result};
use crate::ops::TrainBackend;
use crate::tokenize::Padding;

/// The CPU backend: burn-flex, 1.5-2x burn-ndarray on the step benchmark (README, Performance).
pub type CpuBackend = burn_flex::Flex<f32>;
#[cfg(feature = "ndarray")]
pub type NdArrayBackend = burn_ndarray::NdArray<f32>;
#[cfg(feature = "cuda")]
pub type CudaBackend = burn_cuda::Cuda<f32, i32>;
#[cfg(feature = "wgpu")]
pub type WgpuBackend = burn_wgpu::Wgpu<f32, i32>;

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// CUDA when built with it and a driver and GPU are found, then a GPU through WGPU (when
    /// built with it), else the CPU.
    Auto,
    /// burn-flex on the CPU.
    Cpu,
    /// burn-ndarray on the CPU (needs a build with `--features ndarray`).
    #[cfg(feature = "ndarray")]
    Ndarray,
    /// burn-cuda on NVIDIA GPU 0 (needs a build with `--features cuda` and the NVIDIA driver).
    // Not offered in help without the feature, but still accepted, so that `--backend cuda`
    // says how to build with CUDA instead of clap's bare "invalid value".
    #[cfg_attr(not(feature = "cuda"), value(hide = true))]
    Cuda,
    /// burn-wgpu on the best Vulkan (Metal on macOS) adapter, a software one included (needs a
    /// build with `--features wgpu` and a Vulkan driver).
    #[cfg_attr(not(feature = "wgpu"), value(hide = true))]
    Wgpu,
}

use crate::events::{BackendInfo, BackendKind};

impl BackendInfo {
    /// Batches are padded to a multiple of this: 32 on a GPU, where each new sequence length
    /// would compile and autotune its kernels again; exact (1) on the CPU.
    pub fn pad_multiple(&self) -> usize {
        if self.name.compiles_kernels() { 32 } else { 1 }
    }

    /// How batches for `config`'s model are padded on this backend, when no sequence is longer
    /// than `max_length` tokens (a batch is never padded beyond it).
    pub fn padding(&self, config: &crate::model::BertConfig, max_length: usize) -> Padding {
        Padding {
            pad_id: config.pad_token_id as u32,
            multiple: self.pad_multiple(),
            limit: max_length.min(config.max_tokens()),
        }
    }
}

/// Work that runs on any autodiff backend.
pub trait BackendTask {
    type Output;
    fn run<B: TrainBackend>(self, device: B::Device, info: BackendInfo) -> Self::Output;
}

/// Runs `task` on the chosen backend.
pub fn run_on<T: BackendTask>(choice: BackendChoice, task: T) -> Result<T::Output> {
    let Chosen { backend, why, warnings } = resolve(choice)?;
    let info = |name, device: String| BackendInfo { why, warnings, ..BackendInfo::new(name, device) };
    match backend {
        Resolved::Cpu => {
            let info = info(BackendKind::Cpu, format!("CPU (burn-flex, {})", threads_text()));
            Ok(task.run::<Autodiff<CpuBackend>>(Default::default(), info))
        }
        #[cfg(feature = "ndarray")]
        Resolved::Ndarray => {
            let info = info(BackendKind::Cpu, format!("CPU (burn-ndarray, {})", threads_text()));
            Ok(task.run::<Autodiff<NdArrayBackend>>(Default::default(), info))
        }
        #[cfg(feature = "cuda")]
        Resolved::Cuda(found) => {
            // Before the first GPU operation: autotune results and compiled kernels persist.
            crate::kernel_cache::persist();
            let info = info(BackendKind::Cuda, found.device());
            Ok(task.run::<Autodiff<CudaBackend>>(burn_cuda::CudaDevice::new(0), info))
        }
        #[cfg(feature = "wgpu")]
        Resolved::Wgpu(choice) => {
            crate::kernel_cache::persist();
            let info = info(BackendKind::Wgpu, choice.summary.describe());
            Ok(task.run::<Autodiff<WgpuBackend>>(choice.device, info))
        }
    }
}

/// The threads CPU kernels run on (rayon's pool: a core each, or RAYON_NUM_THREADS).
fn threads_text() -> String {
    match rayon::current_num_threads() {
        1 => "1 thread".into(),
        n => format!("{n} threads"),
    }
}

enum Resolved {
    Cpu,
    #[cfg(feature = "ndarray")]
    Ndarray,
    #[cfg(feature = "cuda")]
    Cuda(cuda::CudaFound),
    #[cfg(feature = "wgpu")]
    Wgpu(wgpu::WgpuChoice),
}

/// The backend to run on, how it was chosen, and what the user should know about it.
struct Chosen {
    backend: Resolved,
    why: String,
    warnings: Vec<String>,
}

impl Chosen {
    fn named(backend: Resolved, name: &str) -> Self {
        Chosen { backend, why: format!("--backend {name}"), warnings: Vec::new() }
    }
}

fn resolve(choice: BackendChoice) -> Result<Chosen> {
    match choice {
        BackendChoice::Cpu => Ok(Chosen::named(Resolved::Cpu, "cpu")),
        #[cfg(feature = "ndarray")]
        BackendChoice::Ndarray => Ok(Chosen::named(Resolved::Ndarray, "ndarray")),
        BackendChoice::Auto => Ok(auto()),
        BackendChoice::Cuda => {
            #[cfg(feature = "cuda")]
            {
                cuda_probe().map(|f| Chosen::named(Resolved::Cuda(f), "cuda")).map_err(|e| Error::Backend(e.message))
            }
            #[cfg(not(feature = "cuda"))]
            Err(Error::Backend(
                "this distill-tui was built without CUDA; rebuild with `cargo build --release --features cuda` \
                 (needs the NVIDIA driver and NVRTC at run time), or use --backend cpu"
                    .into(),
            ))
        }
        BackendChoice::Wgpu => {
            #[cfg(feature = "wgpu")]
            {
                wgpu::wgpu_probe(true).map(|c| Chosen::named(Resolved::Wgpu(c), "wgpu")).map_err(Error::Backend)
            }
            #[cfg(not(feature = "wgpu"))]
            Err(Error::Backend(
                "this distill-tui was built without WGPU; rebuild with `cargo build --release --features wgpu` \
                 (needs a Vulkan driver at run time, Metal on macOS), or use --backend cpu"
                    .into(),
            ))
        }
    }
}

/// CUDA, then a GPU through WGPU (a discrete one; an integrated one only when it beats the CPU,
/// see `race.rs`; never a software adapter), then the CPU, with why the GPUs were passed over.
fn auto() -> Chosen {
    #[allow(unused_mut)]
    let (mut passed, mut warnings): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    #[cfg(feature = "cuda")]
    match cuda_probe() {
        Ok(found) => return Chosen { backend: Resolved::Cuda(found), why: "auto".into(), warnings },
        Err(e) => {
            // A GPU the driver sees but that cannot be used is worth a warning; no driver at all is
            // the normal case of a machine without an NVIDIA GPU.
            if e.gpu.is_some() {
                warnings.push(format!("--backend auto did not take the NVIDIA GPU: {}", e.message));
            }
            passed.push(e.short);
        }
    }
    #[cfg(feature = "wgpu")]
    match wgpu::auto_probe() {
        Ok((choice, why)) => return Chosen { backend: Resolved::Wgpu(choice), why, warnings },
        Err(why) => passed.push(why),
    }
    let why = if passed.is_empty() {
        "auto: this build has no GPU backend".to_string()
    } else {
        format!("auto: {}", passed.join("; "))
    };
    Chosen { backend: Resolved::Cpu, why, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;
    impl BackendTask for Echo {
        type Output = &'static str;
        fn run<B: TrainBackend>(self, _device: B::Device, info: BackendInfo) -> &'static str {
            info.name.as_str()
        }
    }

    #[test]
    fn cpu_always_runs_and_auto_falls_back_to_it_without_a_gpu() {
        assert_eq!(run_on(BackendChoice::Cpu, Echo).unwrap(), "cpu");
        if cuda_probe().is_err() {
            assert_eq!(run_on(BackendChoice::Auto, Echo).unwrap(), "cpu");
        }
    }

    #[test]
    fn gpus_round_padding_up_to_32_within_the_length_limit() {
        let info = |name| BackendInfo::new(name, "");
        let kinds = [BackendKind::Cpu, BackendKind::Cuda, BackendKind::Wgpu];
        assert_eq!(kinds.map(|k| info(k).pad_multiple()), [1, 32, 32]);
        let config = crate::model::BertConfig::synthetic(100, 32, 2, 2, 64, 2); // 512 positions
        let gpu = info(BackendKind::Wgpu).padding(&config, 40);
        assert_eq!([1, 31, 32, 33, 40].map(|n| gpu.length(n)), [32, 32, 32, 40, 40]);
        assert_eq!(info(BackendKind::Cpu).padding(&config, 40).length(33), 33);
        assert_eq!(info(BackendKind::Cuda).padding(&config, 1000).length(600), 600, "never shorter than the batch");
        assert_eq!(info(BackendKind::Cuda).padding(&config, 1000).length(500), 512);
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_build_it() {
        let err = run_on(BackendChoice::Cuda, Echo).unwrap_err();
        assert!(err.to_string().contains("--features cuda"));
        assert_eq!(err.exit_code(), 2);
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_says_how_to_build_it() {
        let err = run_on(BackendChoice::Wgpu, Echo).unwrap_err();
        assert!(err.to_string().contains("--features wgpu"));
        assert_eq!(err.exit_code(), 2);
    }
}

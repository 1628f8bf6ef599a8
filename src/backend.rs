//! Which burn backend runs the work: burn-flex on the CPU (always built), burn-cuda on an
//! NVIDIA GPU (with the `cuda` feature), burn-ndarray on the CPU (with the `ndarray` feature,
//! for side-by-side benchmarks). Work that is generic over the backend implements
//! [`BackendTask`] and is handed to [`run_on`].

use burn::backend::Autodiff;

use crate::error::{Error, Result};
use crate::ops::TrainBackend;
use crate::tokenize::Padding;

/// The CPU backend: burn-flex, 1.5-2x burn-ndarray on the step benchmark (README, Performance).
pub type CpuBackend = burn_flex::Flex<f32>;
#[cfg(feature = "ndarray")]
pub type NdArrayBackend = burn_ndarray::NdArray<f32>;
#[cfg(feature = "cuda")]
pub type CudaBackend = burn_cuda::Cuda<f32, i32>;

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendChoice {
    /// CUDA when built with it and a driver and GPU are found, else CPU.
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
}

pub use crate::events::{BackendInfo, BackendKind};

impl BackendInfo {
    /// Batches are padded to a multiple of this: 32 on CUDA, where each new sequence length
    /// would compile and autotune its kernels again; exact (1) on the CPU.
    pub fn pad_multiple(&self) -> usize {
        if self.name == BackendKind::Cuda { 32 } else { 1 }
    }

    /// How batches for `config`'s model are padded on this backend.
    pub fn padding(&self, config: &crate::model::BertConfig) -> Padding {
        Padding {
            pad_id: config.pad_token_id as u32,
            multiple: self.pad_multiple(),
            limit: config.max_position_embeddings,
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
    match resolve(choice)? {
        Resolved::Cpu => {
            let info =
                BackendInfo { name: BackendKind::Cpu, device: format!("CPU (burn-flex, {} threads)", cpu_threads()) };
            Ok(task.run::<Autodiff<CpuBackend>>(Default::default(), info))
        }
        #[cfg(feature = "ndarray")]
        Resolved::Ndarray => {
            let info = BackendInfo {
                name: BackendKind::Cpu,
                device: format!("CPU (burn-ndarray, {} threads)", cpu_threads()),
            };
            Ok(task.run::<Autodiff<NdArrayBackend>>(Default::default(), info))
        }
        #[cfg(feature = "cuda")]
        Resolved::Cuda(name) => {
            // Before the first GPU operation: autotune results and compiled kernels persist.
            crate::kernel_cache::persist();
            let info = BackendInfo { name: BackendKind::Cuda, device: name };
            Ok(task.run::<Autodiff<CudaBackend>>(burn_cuda::CudaDevice::new(0), info))
        }
    }
}

fn cpu_threads() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

enum Resolved {
    Cpu,
    #[cfg(feature = "ndarray")]
    Ndarray,
    #[cfg(feature = "cuda")]
    Cuda(String),
}

fn resolve(choice: BackendChoice) -> Result<Resolved> {
    match choice {
        BackendChoice::Cpu => Ok(Resolved::Cpu),
        #[cfg(feature = "ndarray")]
        BackendChoice::Ndarray => Ok(Resolved::Ndarray),
        BackendChoice::Auto => Ok(match cuda_probe() {
            #[cfg(feature = "cuda")]
            Ok(name) => Resolved::Cuda(name),
            _ => Resolved::Cpu,
        }),
        BackendChoice::Cuda => {
            #[cfg(feature = "cuda")]
            {
                cuda_probe().map(Resolved::Cuda).map_err(Error::Backend)
            }
            #[cfg(not(feature = "cuda"))]
            Err(Error::Backend(
                "this distill-tui was built without CUDA; rebuild with `cargo build --release --features cuda` \
                 (needs only the NVIDIA driver at run time), or use --backend cpu"
                    .into(),
            ))
        }
    }
}

/// Loads the CUDA driver library and asks it for a device, so that a missing driver is a clear
/// error here rather than a panic inside burn-cuda's worker thread.
#[cfg(feature = "cuda")]
pub fn cuda_probe() -> std::result::Result<String, String> {
    type CuInit = unsafe extern "C" fn(u32) -> i32;
    type CuDeviceGetCount = unsafe extern "C" fn(*mut i32) -> i32;
    type CuDeviceGetName = unsafe extern "C" fn(*mut std::ffi::c_char, i32, i32) -> i32;
    let names = ["libcuda.so.1", "libcuda.so", "nvcuda.dll"];
    // SAFETY: loading the NVIDIA driver library runs its initializers, as burn-cuda itself would.
    let lib = names.iter().find_map(|n| unsafe { libloading::Library::new(n) }.ok()).ok_or_else(|| {
        "no NVIDIA driver found (libcuda.so.1 could not be loaded); install the NVIDIA driver, \
             or use --backend cpu"
            .to_string()
    })?;
    // SAFETY: these are the documented CUDA driver API signatures.
    unsafe {
        let init: libloading::Symbol<CuInit> = lib.get(b"cuInit\0").map_err(|e| e.to_string())?;
        let rc = init(0);
        if rc != 0 {
            return Err(format!("the NVIDIA driver failed to initialize (cuInit error {rc}); check `nvidia-smi`"));
        }
        let count: libloading::Symbol<CuDeviceGetCount> = lib.get(b"cuDeviceGetCount\0").map_err(|e| e.to_string())?;
        let mut n = 0;
        if count(&mut n) != 0 || n == 0 {
            return Err("the NVIDIA driver sees no GPU; check `nvidia-smi` and CUDA_VISIBLE_DEVICES".into());
        }
        let mut name = [0 as std::ffi::c_char; 128];
        let get_name: libloading::Symbol<CuDeviceGetName> = lib.get(b"cuDeviceGetName\0").map_err(|e| e.to_string())?;
        let label = if get_name(name.as_mut_ptr(), name.len() as i32, 0) == 0 {
            std::ffi::CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned()
        } else {
            "GPU 0".into()
        };
        // Keep the library loaded for the life of the process, as burn-cuda will use it.
        std::mem::forget(lib);
        Ok(format!("CUDA: {label}"))
    }
}

#[cfg(not(feature = "cuda"))]
pub fn cuda_probe() -> std::result::Result<String, String> {
    Err("built without the `cuda` feature".into())
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
    fn only_cuda_rounds_padding() {
        let info = |name| BackendInfo { name, device: String::new() };
        assert_eq!((info(BackendKind::Cpu).pad_multiple(), info(BackendKind::Cuda).pad_multiple()), (1, 32));
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_says_how_to_build_it() {
        let err = run_on(BackendChoice::Cuda, Echo).unwrap_err();
        assert!(err.to_string().contains("--features cuda"));
        assert_eq!(err.exit_code(), 2);
    }
}

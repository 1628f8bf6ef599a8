//! burn-cuda: the NVIDIA driver and NVRTC asked for before burn-cuda is, so that a missing
//! driver, GPU or run-time compiler is a clear error (what is missing, how to get it) rather
//! than a panic inside burn-cuda's worker thread.

/// What the driver and NVRTC probes found.
#[derive(Debug, Clone)]
pub struct CudaFound {
    /// The GPU's name, e.g. `NVIDIA H200`.
    pub gpu: String,
    /// The driver's CUDA version, e.g. (13, 0).
    pub driver: (u32, u32),
    pub nvrtc: super::nvrtc::Nvrtc,
}

/// Why CUDA cannot be used: the message (what is missing and how to get it), a few words for
/// `auto`'s reason, and the GPU when the driver saw one (then it is worth a warning).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CudaProblem {
    pub message: String,
    pub short: String,
    pub gpu: Option<String>,
}

impl CudaProblem {
    fn no_gpu(short: &str, message: impl Into<String>) -> Self {
        CudaProblem { message: message.into(), short: short.into(), gpu: None }
    }
}

impl std::fmt::Display for CudaProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl CudaFound {
    /// For the header and results.json: `CUDA: NVIDIA H200`.
    pub fn device(&self) -> String {
        format!("CUDA: {}", self.gpu)
    }
}

/// Loads the CUDA driver library, asks it for GPU 0 and its CUDA version, then finds the NVRTC
/// burn-cuda will compile with (see `nvrtc.rs`).
#[cfg(feature = "cuda")]
pub fn cuda_probe() -> std::result::Result<CudaFound, CudaProblem> {
    let (gpu, driver) = driver_probe()?;
    let folders = super::nvrtc::search_folders(&|k| std::env::var(k).ok());
    let nvrtc =
        super::nvrtc::locate(&cudarc::get_lib_name_candidates("nvrtc"), &folders, Some(driver)).map_err(|e| {
            CudaProblem {
                short: format!("{gpu} without a usable NVRTC"),
                message: format!("{gpu} (driver of CUDA {}.{}) found, but {e}", driver.0, driver.1),
                gpu: Some(gpu.clone()),
            }
        })?;
    Ok(CudaFound { gpu, driver, nvrtc })
}

#[cfg(feature = "cuda")]
fn driver_probe() -> std::result::Result<(String, (u32, u32)), CudaProblem> {
    type CuInit = unsafe extern "C" fn(u32) -> i32;
    type CuDriverGetVersion = unsafe extern "C" fn(*mut i32) -> i32;
    type CuDeviceGetCount = unsafe extern "C" fn(*mut i32) -> i32;
    type CuDeviceGetName = unsafe extern "C" fn(*mut std::ffi::c_char, i32, i32) -> i32;
    let names = ["libcuda.so.1", "libcuda.so", "nvcuda.dll"];
    // SAFETY: loading the NVIDIA driver library runs its initializers, as burn-cuda itself would.
    let lib = names.iter().find_map(|n| unsafe { libloading::Library::new(n) }.ok()).ok_or_else(|| {
        CudaProblem::no_gpu(
            "no NVIDIA driver",
            "no NVIDIA driver found (libcuda.so.1 could not be loaded); install the NVIDIA driver, or use --backend cpu",
        )
    })?;
    let symbol = |e: libloading::Error| CudaProblem::no_gpu("an NVIDIA driver without the CUDA API", e.to_string());
    // SAFETY: these are the documented CUDA driver API signatures.
    unsafe {
        let init: libloading::Symbol<CuInit> = lib.get(b"cuInit\0").map_err(symbol)?;
        let rc = init(0);
        if rc != 0 {
            return Err(CudaProblem::no_gpu(
                "the NVIDIA driver did not start",
                format!("the NVIDIA driver failed to initialize (cuInit error {rc}); check `nvidia-smi`"),
            ));
        }
        let get_version: libloading::Symbol<CuDriverGetVersion> = lib.get(b"cuDriverGetVersion\0").map_err(symbol)?;
        let mut v = 0;
        if get_version(&mut v) != 0 || v <= 0 {
            return Err(CudaProblem::no_gpu(
                "the NVIDIA driver did not say its version",
                "the NVIDIA driver did not say its CUDA version; check `nvidia-smi`",
            ));
        }
        let version = (v as u32 / 1000, (v as u32 % 1000) / 10);
        let count: libloading::Symbol<CuDeviceGetCount> = lib.get(b"cuDeviceGetCount\0").map_err(symbol)?;
        let mut n = 0;
        if count(&mut n) != 0 || n == 0 {
            return Err(CudaProblem::no_gpu(
                "no NVIDIA GPU",
                "the NVIDIA driver sees no GPU; check `nvidia-smi` and CUDA_VISIBLE_DEVICES",
            ));
        }
        let mut name = [0 as std::ffi::c_char; 128];
        let get_name: libloading::Symbol<CuDeviceGetName> = lib.get(b"cuDeviceGetName\0").map_err(symbol)?;
        let label = if get_name(name.as_mut_ptr(), name.len() as i32, 0) == 0 {
            std::ffi::CStr::from_ptr(name.as_ptr()).to_string_lossy().into_owned()
        } else {
            "GPU 0".into()
        };
        // Keep the library loaded for the life of the process, as burn-cuda will use it.
        std::mem::forget(lib);
        Ok((label, version))
    }
}

#[cfg(not(feature = "cuda"))]
pub fn cuda_probe() -> std::result::Result<CudaFound, CudaProblem> {
    Err(CudaProblem::no_gpu("built without CUDA", "built without the `cuda` feature"))
}

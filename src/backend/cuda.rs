//! burn-cuda: the NVIDIA driver asked for a GPU before burn-cuda is, so that a missing driver
//! is a clear error rather than a panic inside burn-cuda's worker thread.

/// Loads the CUDA driver library and asks it for a device.
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

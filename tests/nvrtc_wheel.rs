//! The NVRTC search on a real NVRTC: the library files of NVIDIA's `nvidia-cuda-nvrtc` wheel
//! (the one PyTorch installs), laid out in a fake virtual environment as pip lays them out.
//! NVRTC needs no GPU: it is a compiler. `.ci/run` downloads the wheel from PyPI and sets
//! `DISTILL_TUI_NVRTC_WHEEL` to the folder it was unpacked into; without it the test says it
//! did not run (and fails with `DISTILL_TUI_REQUIRE_NVRTC=1`, which CI sets).

use std::path::{Path, PathBuf};

use distill_tui::backend::nvrtc::{locate, search_folders};

/// The unpacked wheel's library folder, holding `libnvrtc.so.N` and its builtins.
fn wheel_lib() -> Option<PathBuf> {
    let Some(dir) = std::env::var_os("DISTILL_TUI_NVRTC_WHEEL") else {
        assert!(
            std::env::var_os("DISTILL_TUI_REQUIRE_NVRTC").is_none(),
            "DISTILL_TUI_REQUIRE_NVRTC is set but DISTILL_TUI_NVRTC_WHEEL is not"
        );
        eprintln!("skipped: set DISTILL_TUI_NVRTC_WHEEL to an unpacked nvidia-cuda-nvrtc wheel (see .ci/run)");
        return None;
    };
    let nvidia = Path::new(&dir).join("nvidia");
    let lib = std::fs::read_dir(&nvidia)
        .unwrap_or_else(|e| panic!("{}: {e}", nvidia.display()))
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("lib"))
        .find(|l| l.is_dir())
        .expect("the wheel has nvidia/<name>/lib");
    Some(lib)
}

/// cudarc's candidate names for NVRTC in a build for CUDA 13 (`cudarc::get_lib_name_candidates`).
fn cudarc_names() -> Vec<String> {
    let mut names: Vec<String> =
        ["libnvrtc.so", "libnvrtc64.so", "libnvrtc64_13.so", "libnvrtc64_134.so"].map(String::from).into();
    names.extend(["13", "12", "11", "10", "9", "1"].map(|v| format!("libnvrtc.so.{v}")));
    names
}

#[test]
fn nvrtc_from_a_pip_wheel_is_found_loaded_and_compiles() {
    let Some(lib) = wheel_lib() else { return };
    let soname = std::fs::read_dir(&lib)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("libnvrtc.so."))
        .expect("libnvrtc.so.N in the wheel");
    // Not loadable by name: the wheel's folder is not on the library path.
    // SAFETY: loading NVRTC runs its initializers only.
    assert!(unsafe { libloading::Library::new(&soname) }.is_err(), "{soname} is on the library path already");

    // A virtual environment as pip makes it, found through PATH.
    let venv = tempfile::tempdir().unwrap();
    let wheel_dir = lib.strip_prefix(lib.parent().unwrap().parent().unwrap().parent().unwrap()).unwrap();
    let site = venv.path().join("lib/python3.12/site-packages");
    let target = site.join(wheel_dir);
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(&lib).unwrap() {
        let entry = entry.unwrap();
        std::os::unix::fs::symlink(entry.path(), target.join(entry.file_name())).unwrap();
    }
    std::fs::create_dir_all(venv.path().join("bin")).unwrap();
    let path = venv.path().join("bin").display().to_string();
    let env = |k: &str| (k == "PATH").then(|| path.clone());
    let folders = search_folders(&env);
    assert!(folders.contains(&target), "{} not in {folders:?}", target.display());

    // A driver older than this NVRTC: refused with the fix, nothing loaded.
    let err = locate(&cudarc_names(), &folders, Some((12, 0))).unwrap_err();
    assert!(err.contains("newer than the NVIDIA driver's CUDA 12.0"), "{err}");
    assert!(err.contains("nvidia-cuda-nvrtc-cu12==12.0.*"), "{err}");
    // SAFETY: as above.
    assert!(unsafe { libloading::Library::new(&soname) }.is_err(), "a refused NVRTC stays unloaded");

    // A driver as new: found in the wheel, and from now on loadable by name, as cudarc loads it.
    let found = locate(&cudarc_names(), &folders, Some((99, 0))).unwrap();
    assert_eq!(found.path.as_deref(), Some(target.join(&soname).as_path()));
    let major: u32 = soname.rsplit('.').next().unwrap().parse().unwrap();
    assert_eq!(found.version.0, major, "{found:?}");
    assert!(found.describe().starts_with(&format!("NVRTC {major}.")), "{}", found.describe());
    // SAFETY: as above; nvrtc* are NVRTC's documented C signatures.
    unsafe {
        let by_name = libloading::Library::new(&soname).expect("loadable by name after the probe");
        type Create =
            unsafe extern "C" fn(*mut *mut u8, *const i8, *const i8, i32, *const *const i8, *const *const i8) -> i32;
        type Compile = unsafe extern "C" fn(*mut u8, i32, *const *const i8) -> i32;
        type PtxSize = unsafe extern "C" fn(*mut u8, *mut usize) -> i32;
        let create: libloading::Symbol<Create> = by_name.get(b"nvrtcCreateProgram\0").unwrap();
        let compile: libloading::Symbol<Compile> = by_name.get(b"nvrtcCompileProgram\0").unwrap();
        let ptx_size: libloading::Symbol<PtxSize> = by_name.get(b"nvrtcGetPTXSize\0").unwrap();
        let src = c"extern \"C\" __global__ void twice(float* x) { x[threadIdx.x] *= 2.0f; }";
        let mut program = std::ptr::null_mut();
        assert_eq!(create(&mut program, src.as_ptr(), c"twice.cu".as_ptr(), 0, std::ptr::null(), std::ptr::null()), 0);
        let arch = [c"--gpu-architecture=compute_90".as_ptr()];
        // The builtins library is found next to libnvrtc (its RPATH is $ORIGIN).
        assert_eq!(compile(program, 1, arch.as_ptr()), 0, "NVRTC compiled a kernel");
        let mut size = 0usize;
        assert_eq!(ptx_size(program, &mut size), 0);
        assert!(size > 100, "PTX of {size} bytes");
    }
    // Asked again, it is now on the "library path" (loaded), as cudarc will find it.
    assert_eq!(locate(&cudarc_names(), &[], Some((99, 0))).unwrap().path, None);
}

//! NVRTC, CUDA's run-time compiler, found before burn-cuda needs it.
//!
//! burn-cuda compiles every kernel at run time with NVRTC, which cudarc loads by name on first
//! use (`libnvrtc.so`, `libnvrtc.so.13`, `libnvrtc.so.12`, ...) and panics without ("Unable to
//! dynamically load the nvrtc shared library"). Many GPU boxes have the driver but no CUDA
//! toolkit, or NVRTC only inside the `nvidia-cuda-nvrtc` wheel that PyTorch brought, in a
//! folder the dynamic loader does not search. So distill-tui looks first where cudarc will
//! look, then in CUDA toolkits and Python environments; a library found there is loaded by its
//! full path, and cudarc's later load by name gets that same library (the loader matches an
//! already loaded library by its SONAME, `libnvrtc.so.12` for the wheel's file of that name).
//!
//! cubecl hands the driver PTX, which a driver loads only if it is as new as the NVRTC that
//! wrote it: NVRTC 13.5 with a CUDA 13.0 driver fails at the first kernel. The version of each
//! NVRTC found is read and compared with the driver's.

use std::path::{Path, PathBuf};

/// A CUDA version, e.g. (12, 4).
pub type CudaVersion = (u32, u32);

/// The NVRTC burn-cuda will use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nvrtc {
    pub version: CudaVersion,
    /// Where it was loaded from: `None` when the loader found it by name (the library path),
    /// as cudarc will.
    pub path: Option<PathBuf>,
}

impl Nvrtc {
    pub fn describe(&self) -> String {
        let (major, minor) = self.version;
        match &self.path {
            None => format!("NVRTC {major}.{minor}"),
            Some(p) => format!("NVRTC {major}.{minor} from {}", p.display()),
        }
    }
}

type NvrtcVersion = unsafe extern "C" fn(*mut i32, *mut i32) -> i32;

/// The version of the NVRTC in `lib`.
fn version_of(lib: &libloading::Library) -> Option<CudaVersion> {
    let (mut major, mut minor) = (0, 0);
    // SAFETY: nvrtcVersion(int*, int*) is NVRTC's documented signature; it only writes the two ints.
    let rc = unsafe {
        let f: libloading::Symbol<NvrtcVersion> = lib.get(b"nvrtcVersion\0").ok()?;
        f(&mut major, &mut minor)
    };
    (rc == 0 && major > 0 && minor >= 0).then_some((major as u32, minor as u32))
}

/// Loads `path` (a name the loader resolves, or a full path), keeping its symbols for later
/// loads by name.
fn open(path: &Path) -> Option<libloading::Library> {
    #[cfg(unix)]
    {
        use libloading::os::unix::{Library, RTLD_GLOBAL, RTLD_NOW};
        // SAFETY: loading NVRTC runs its initializers, as cudarc's own load would.
        unsafe { Library::open(Some(path), RTLD_NOW | RTLD_GLOBAL) }.ok().map(Into::into)
    }
    #[cfg(not(unix))]
    // SAFETY: as above.
    unsafe {
        libloading::Library::new(path).ok()
    }
}

/// Finds the NVRTC that cudarc will load (trying `names` in cudarc's order, then the library
/// files of those names in `folders`) and checks it against the driver's CUDA version. On
/// success the library stays loaded for the life of the process, so that cudarc's load by name
/// finds it. `names` are cudarc's candidates (`libnvrtc.so`, `libnvrtc.so.13`, ...).
pub fn locate(names: &[String], folders: &[PathBuf], driver: Option<CudaVersion>) -> Result<Nvrtc, String> {
    // What the loader finds by name is what cudarc takes, whatever else is installed.
    for name in names {
        if let Some(lib) = open(Path::new(name)) {
            let Some(version) = version_of(&lib) else { continue };
            check(version, driver, &format!("{name} (found on the library path)"))?;
            std::mem::forget(lib);
            return Ok(Nvrtc { version, path: None });
        }
    }
    // Not on the library path: a toolkit's or a wheel's file whose name cudarc asks for.
    let mut found: Vec<(CudaVersion, PathBuf)> = Vec::new();
    for folder in folders {
        for name in names.iter().filter(|n| n.rsplit('.').next().is_some_and(|v| v.parse::<u32>().is_ok())) {
            let path = folder.join(name);
            let canonical = path.canonicalize().unwrap_or_else(|_| path.clone());
            if !path.is_file() || found.iter().any(|(_, p)| p.canonicalize().ok().as_ref() == Some(&canonical)) {
                continue;
            }
            if let Some(version) = open(&path).as_ref().and_then(version_of) {
                found.push((version, path));
            }
        }
    }
    let usable = found.iter().filter(|(v, _)| driver.is_none_or(|d| *v <= d)).max_by_key(|(v, _)| *v);
    if let Some((version, path)) = usable {
        let lib = open(path).ok_or_else(|| format!("{}: could not be loaded again", path.display()))?;
        std::mem::forget(lib);
        return Ok(Nvrtc { version: *version, path: Some(path.clone()) });
    }
    // Only versions newer than the driver (or none at all).
    match found.iter().min_by_key(|(v, _)| *v) {
        Some((version, path)) => Err(check(*version, driver, &path.display().to_string())
            .err()
            .unwrap_or_else(|| format!("{}: NVRTC {}.{} cannot be used", path.display(), version.0, version.1))),
        None => Err(not_found(names, driver)),
    }
}

/// An NVRTC newer than the driver writes PTX the driver refuses.
fn check(nvrtc: CudaVersion, driver: Option<CudaVersion>, what: &str) -> Result<(), String> {
    match driver {
        Some(d) if nvrtc > d => Err(format!(
            "burn-cuda compiles its kernels with NVRTC, and the one found, {what}, is version {}.{}, newer than \
             the NVIDIA driver's CUDA {}.{}: the driver cannot load what it writes. Update the NVIDIA driver, or \
             install an NVRTC of CUDA {}.{} or older ({}) and put its folder first in LD_LIBRARY_PATH; or use \
             --backend cpu",
            nvrtc.0,
            nvrtc.1,
            d.0,
            d.1,
            d.0,
            d.1,
            pip_hint(d),
        )),
        _ => Ok(()),
    }
}

/// How to install an NVRTC that a driver of CUDA `driver` takes.
fn pip_hint((major, minor): CudaVersion) -> String {
    match major {
        0..=11 => format!("`pip install \"nvidia-cuda-nvrtc-cu11=={major}.{minor}.*\"`"),
        12 => format!("`pip install \"nvidia-cuda-nvrtc-cu12==12.{minor}.*\"`"),
        _ => format!("`pip install \"nvidia-cuda-nvrtc=={major}.{minor}.*\"`"),
    }
}

fn not_found(names: &[String], driver: Option<CudaVersion>) -> String {
    let tried: Vec<&str> = names.iter().map(String::as_str).filter(|n| n.starts_with("libnvrtc.so")).collect();
    let install = match driver {
        Some(d) => format!(
            "install NVRTC for your driver's CUDA {}.{}: {} (the wheel PyTorch uses; distill-tui finds it in the \
             active Python environment), or the CUDA toolkit's cuda-nvrtc package",
            d.0,
            d.1,
            pip_hint(d)
        ),
        None => "install NVRTC: `pip install nvidia-cuda-nvrtc-cu12` (the wheel PyTorch uses; distill-tui finds it \
                 in the active Python environment), or the CUDA toolkit's cuda-nvrtc package"
            .into(),
    };
    format!(
        "burn-cuda compiles its kernels at run time with NVRTC (CUDA's run-time compiler), and none was found: \
         not on the library path ({}), not in a CUDA toolkit ($CUDA_HOME, /usr/local/cuda*), not in a Python \
         environment's nvidia-cuda-nvrtc wheel. The NVIDIA driver alone is not enough: {install}; or add the \
         folder holding libnvrtc.so.* to LD_LIBRARY_PATH; or use --backend cpu",
        tried.join(", ")
    )
}

/// The folders searched when NVRTC is not on the library path: CUDA toolkits and the library
/// folders of Python's NVIDIA wheels (`nvidia/cuda_nvrtc/lib` for CUDA 12, `nvidia/cu13/lib`
/// for CUDA 13) and conda environments, in every Python environment the `PATH` leads to.
pub fn search_folders(env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let mut toolkits: Vec<PathBuf> = ["CUDA_HOME", "CUDA_PATH", "CUDA_ROOT", "CUDA_TOOLKIT_ROOT_DIR"]
        .iter()
        .filter_map(|v| env(v).filter(|s| !s.is_empty()).map(PathBuf::from))
        .collect();
    toolkits.push(PathBuf::from("/usr/local/cuda"));
    toolkits.extend(sorted_children(Path::new("/usr/local"), |n| n.starts_with("cuda-")).into_iter().rev());
    toolkits.push(PathBuf::from("/opt/cuda"));
    let mut folders: Vec<PathBuf> = Vec::new();
    for t in &toolkits {
        folders.extend(["lib64", "lib", "targets/x86_64-linux/lib", "targets/sbsa-linux/lib"].map(|s| t.join(s)));
    }
    // Python prefixes: the active environments, every PATH entry's parent, the usual ones.
    let mut prefixes: Vec<PathBuf> = ["VIRTUAL_ENV", "CONDA_PREFIX"]
        .iter()
        .filter_map(|v| env(v).filter(|s| !s.is_empty()).map(PathBuf::from))
        .collect();
    if let Some(path) = env("PATH") {
        prefixes.extend(
            std::env::split_paths(&path)
                .filter(|p| p.ends_with("bin"))
                .filter_map(|p| p.parent().map(Path::to_path_buf)),
        );
    }
    if let Some(home) = env("HOME").filter(|s| !s.is_empty()) {
        prefixes.push(Path::new(&home).join(".local"));
    }
    prefixes.extend(["/usr/local", "/usr", "/opt/conda"].map(PathBuf::from));
    for prefix in dedup(prefixes) {
        folders.push(prefix.join("lib")); // conda's cuda-nvrtc package
        for lib in ["lib", "lib64"] {
            for python in sorted_children(&prefix.join(lib), |n| n.starts_with("python3")) {
                for packages in ["site-packages", "dist-packages"] {
                    let nvidia = python.join(packages).join("nvidia");
                    folders.extend(sorted_children(&nvidia, |_| true).into_iter().map(|d| d.join("lib")));
                }
            }
        }
    }
    dedup(folders).into_iter().filter(|f| f.is_dir()).collect()
}

/// The sub-folders of `dir` whose names pass `keep`, sorted by name (none if unreadable).
fn sorted_children(dir: &Path, keep: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_str().is_some_and(&keep))
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .take(256)
        .collect();
    out.sort();
    out
}

fn dedup(paths: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for p in paths {
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheels_toolkits_and_conda_folders_are_searched() {
        let dir = tempfile::tempdir().unwrap();
        let venv = dir.path().join("venv");
        let cu12 = venv.join("lib/python3.11/site-packages/nvidia/cuda_nvrtc/lib");
        let cu13 = venv.join("lib/python3.12/site-packages/nvidia/cu13/lib");
        let conda = dir.path().join("conda/lib");
        let toolkit = dir.path().join("cuda/lib64");
        for d in [&cu12, &cu13, &conda, &toolkit] {
            std::fs::create_dir_all(d).unwrap();
        }
        std::fs::create_dir_all(dir.path().join("conda/bin")).unwrap();
        let path = std::env::join_paths([venv.join("bin"), dir.path().join("conda/bin")]).unwrap();
        let vars = [
            ("PATH", path.to_str().unwrap().to_string()),
            ("CUDA_HOME", dir.path().join("cuda").to_str().unwrap().to_string()),
        ];
        let env = |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
        let folders = search_folders(&env);
        for d in [&cu12, &cu13, &conda, &toolkit] {
            assert!(folders.contains(d), "{} not in {folders:?}", d.display());
        }
        // The toolkit comes before the Python environments.
        let pos = |d: &PathBuf| folders.iter().position(|f| f == d).unwrap();
        assert!(pos(&toolkit) < pos(&cu12));
    }

    #[test]
    fn nothing_found_says_what_to_install_for_the_driver() {
        let names: Vec<String> =
            ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"].map(|s| format!("{s}.distill-tui-test-missing")).into();
        let err = locate(&names, &[], Some((12, 4))).unwrap_err();
        assert!(err.contains("NVRTC"), "{err}");
        assert!(err.contains("pip install \"nvidia-cuda-nvrtc-cu12==12.4.*\""), "{err}");
        assert!(err.contains("--backend cpu"), "{err}");
        let err = locate(&names, &[], Some((13, 0))).unwrap_err();
        assert!(err.contains("pip install \"nvidia-cuda-nvrtc==13.0.*\""), "{err}");
    }

    #[test]
    fn an_nvrtc_newer_than_the_driver_is_refused_with_the_fix() {
        let err = check((13, 5), Some((13, 0)), "/x/libnvrtc.so.13").unwrap_err();
        assert!(err.contains("version 13.5, newer than the NVIDIA driver's CUDA 13.0"), "{err}");
        assert!(err.contains("nvidia-cuda-nvrtc==13.0.*"), "{err}");
        assert!(check((12, 9), Some((13, 0)), "x").is_ok());
        assert!(check((13, 0), Some((13, 0)), "x").is_ok());
        assert!(check((13, 0), None, "x").is_ok());
    }
}

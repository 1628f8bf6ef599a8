//! Where GPU backends keep what they learn about this machine between runs: cubecl's autotune
//! results (the fastest kernel for each operation and shape) and, for CUDA, compiled kernels.
//! The same for burn-cuda and burn-wgpu, which share cubecl's runtime.
//! cubecl keeps autotune results under the nearest `Cargo.toml`'s `target/` folder (or in the
//! user cache when there is none) and compiles every kernel anew in each process; distill-tui
//! puts both in the user cache folder, so a second run starts with them. A `cubecl.toml` or
//! `burn.toml` of the user's own (found from the working directory up, as cubecl looks for it)
//! is left to rule.

use std::path::{Path, PathBuf};

/// The files cubecl reads its configuration from, in a folder or any folder above it.
const CUBECL_FILES: [&str; 4] = ["cubecl.toml", "CubeCL.toml", "burn.toml", "Burn.toml"];

/// `$XDG_CACHE_HOME/distill-tui/cubecl`, or `$HOME/.cache/distill-tui/cubecl`.
pub fn cache_root(xdg_cache_home: Option<&str>, home: Option<&str>) -> Option<PathBuf> {
    let base = match (xdg_cache_home.filter(|s| !s.is_empty()), home.filter(|s| !s.is_empty())) {
        (Some(xdg), _) => PathBuf::from(xdg),
        (None, Some(home)) => Path::new(home).join(".cache"),
        (None, None) => return None,
    };
    Some(base.join("distill-tui").join("cubecl"))
}

/// The user's own cubecl configuration file, if `dir` or a folder above it has one.
pub fn user_config(dir: &Path) -> Option<PathBuf> {
    dir.ancestors().flat_map(|d| CUBECL_FILES.iter().map(move |f| d.join(f))).find(|p| p.is_file())
}

/// Points cubecl's caches into the user cache folder (once per process, before the first GPU
/// operation), unless the user configures cubecl themselves. Returns the folder, if set.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
pub fn persist() -> Option<PathBuf> {
    use burn_cubecl::cubecl::config::cache::CacheConfig;
    use burn_cubecl::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
    static ROOT: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    ROOT.get_or_init(|| {
        let cwd = std::env::current_dir().ok()?;
        if user_config(&cwd).is_some() {
            return None;
        }
        let root = cache_root(std::env::var("XDG_CACHE_HOME").ok().as_deref(), std::env::var("HOME").ok().as_deref())?;
        std::fs::create_dir_all(&root).ok()?;
        let mut config = CubeClRuntimeConfig::default();
        config.autotune.cache = CacheConfig::File(root.join("autotune"));
        config.compilation.cache = Some(CacheConfig::File(root.join("compilation")));
        // CUBECL_AUTOTUNE_LEVEL and the debug variables still apply.
        CubeClRuntimeConfig::set(config.override_from_env());
        Some(root)
    })
    .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_goes_to_the_user_cache_folder() {
        assert_eq!(cache_root(Some("/x/cache"), Some("/home/u")), Some(PathBuf::from("/x/cache/distill-tui/cubecl")));
        assert_eq!(cache_root(None, Some("/home/u")), Some(PathBuf::from("/home/u/.cache/distill-tui/cubecl")));
        assert_eq!(cache_root(Some(""), Some("/home/u")), Some(PathBuf::from("/home/u/.cache/distill-tui/cubecl")));
        assert_eq!(cache_root(None, None), None);
    }

    #[test]
    fn a_cubecl_file_above_the_working_directory_wins() {
        let dir = tempfile::tempdir().unwrap();
        let deep = dir.path().join("a/b");
        std::fs::create_dir_all(&deep).unwrap();
        // Nothing inside the temporary folder (a file above it, outside the test's control,
        // would be found too: only compare below it).
        assert!(user_config(&deep).is_none_or(|p| !p.starts_with(dir.path())));
        std::fs::write(dir.path().join("a/burn.toml"), "[cubecl]\n").unwrap();
        assert_eq!(user_config(&deep), Some(dir.path().join("a/burn.toml")));
    }
}

//! Which WGPU adapter to run on, decided from the adapters the graphics driver lists: a
//! discrete GPU first, then an integrated one, a virtual one, and a software rasterizer (Mesa's
//! llvmpipe, reported as a CPU device) only when asked for WGPU by name. Kept apart from wgpu's
//! types so that the choice is tested in every build.

/// What the driver says about one adapter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdapterSummary {
    pub name: String,
    pub kind: AdapterKind,
    /// The driver's name and version, e.g. `llvmpipe` and `Mesa 22.3.6 (LLVM 15.0.6)`.
    pub driver: String,
    /// The graphics API, e.g. `Vulkan`.
    pub api: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AdapterKind {
    Discrete,
    Integrated,
    Virtual,
    Other,
    /// Rendering in software on the CPU (llvmpipe, SwiftShader, WARP).
    Software,
}

/// The adapter to use, as burn-wgpu selects it: the index counts adapters of the same kind
/// in the driver's order (`Software` and `Other` have none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pick {
    Discrete(usize),
    Integrated(usize),
    Virtual(usize),
    Software,
    Other,
}

/// The best adapter of `adapters` (in the driver's order), or `None`; a software one only
/// with `allow_software`.
pub fn choose(adapters: &[AdapterSummary], allow_software: bool) -> Option<(Pick, &AdapterSummary)> {
    let best = adapters
        .iter()
        .enumerate()
        .filter(|(_, a)| allow_software || a.kind != AdapterKind::Software)
        .min_by_key(|(i, a)| (a.kind, *i))?;
    let (i, chosen) = best;
    let same_kind_before = adapters[..i].iter().filter(|a| a.kind == chosen.kind).count();
    let pick = match chosen.kind {
        AdapterKind::Discrete => Pick::Discrete(same_kind_before),
        AdapterKind::Integrated => Pick::Integrated(same_kind_before),
        AdapterKind::Virtual => Pick::Virtual(same_kind_before),
        AdapterKind::Software => Pick::Software,
        AdapterKind::Other => Pick::Other,
    };
    Some((pick, chosen))
}

impl AdapterSummary {
    /// For the header and results.json: `WGPU Vulkan: llvmpipe (LLVM 15.0.6, 256 bits), driver
    /// llvmpipe Mesa 22.3.6 (software)`.
    pub fn describe(&self) -> String {
        let software = if self.kind == AdapterKind::Software { " (software)" } else { "" };
        let driver = self.driver.trim();
        let driver = if driver.is_empty() { String::new() } else { format!(", driver {driver}") };
        format!("WGPU {}: {}{driver}{software}", self.api, self.name.trim())
    }
}

/// What to install when no adapter is found.
pub const NO_ADAPTER_HINT: &str = "install the Vulkan driver for your GPU (Debian/Ubuntu: \
    `apt install mesa-vulkan-drivers` for AMD and Intel, or the NVIDIA driver; Fedora: \
    `dnf install mesa-vulkan-drivers`), or use --backend cpu";

#[cfg(test)]
mod tests {
    use super::*;

    fn a(name: &str, kind: AdapterKind) -> AdapterSummary {
        AdapterSummary { name: name.into(), kind, driver: "d 1.0".into(), api: "Vulkan".into() }
    }

    #[test]
    fn a_discrete_gpu_wins_and_software_only_when_allowed() {
        let list = [
            a("llvmpipe", AdapterKind::Software),
            a("Intel UHD", AdapterKind::Integrated),
            a("RX", AdapterKind::Discrete),
        ];
        assert_eq!(choose(&list, false).map(|(p, s)| (p, s.name.as_str())), Some((Pick::Discrete(0), "RX")));
        assert_eq!(choose(&list[..2], false).map(|(p, _)| p), Some(Pick::Integrated(0)));
        assert_eq!(choose(&list[..1], false), None, "llvmpipe is no GPU for `auto`");
        assert_eq!(choose(&list[..1], true).map(|(p, _)| p), Some(Pick::Software));
        assert_eq!(choose(&[], true), None);
    }

    #[test]
    fn the_index_counts_adapters_of_the_same_kind_only() {
        let list = [
            a("llvmpipe", AdapterKind::Software),
            a("first", AdapterKind::Integrated),
            a("second", AdapterKind::Integrated),
        ];
        assert_eq!(choose(&list, true).map(|(p, s)| (p, s.name.as_str())), Some((Pick::Integrated(0), "first")));
        let list = [a("A", AdapterKind::Discrete), a("B", AdapterKind::Integrated), a("C", AdapterKind::Discrete)];
        assert_eq!(choose(&list, false).map(|(p, _)| p), Some(Pick::Discrete(0)));
    }

    #[test]
    fn the_description_names_adapter_driver_and_software() {
        let mut s = a("llvmpipe (LLVM 15.0.6, 256 bits)", AdapterKind::Software);
        s.driver = "llvmpipe Mesa 22.3.6".into();
        assert_eq!(
            s.describe(),
            "WGPU Vulkan: llvmpipe (LLVM 15.0.6, 256 bits), driver llvmpipe Mesa 22.3.6 (software)"
        );
        s.driver.clear();
        s.kind = AdapterKind::Discrete;
        assert_eq!(s.describe(), "WGPU Vulkan: llvmpipe (LLVM 15.0.6, 256 bits)");
    }
}

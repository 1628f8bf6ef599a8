//! burn-wgpu: asks the graphics driver (Vulkan; Metal on macOS) for its adapters before burn
//! does, so that no adapter is a clear error here rather than burn's panic ("No possible
//! adapter available"), and the adapter burn then opens is the one the header names.

use burn_wgpu::WgpuDevice;
use burn_wgpu::graphics::{AutoGraphicsApi, GraphicsApi};

use super::adapter::{AdapterKind, AdapterSummary, NO_ADAPTER_HINT, Pick, choose};

/// The adapter picked for a run.
pub struct WgpuChoice {
    pub device: WgpuDevice,
    pub summary: AdapterSummary,
}

/// The adapters the driver lists for burn-wgpu's graphics API.
pub fn adapters() -> Vec<AdapterSummary> {
    let api = AutoGraphicsApi::backend();
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor {
        backends: api.into(),
        ..wgpu::InstanceDescriptor::new_without_display_handle()
    });
    let list = burn_cubecl::cubecl::future::block_on(instance.enumerate_adapters(api.into()));
    list.iter()
        .map(|a| {
            let info = a.get_info();
            let kind = match info.device_type {
                wgpu::DeviceType::DiscreteGpu => AdapterKind::Discrete,
                wgpu::DeviceType::IntegratedGpu => AdapterKind::Integrated,
                wgpu::DeviceType::VirtualGpu => AdapterKind::Virtual,
                wgpu::DeviceType::Cpu => AdapterKind::Software,
                wgpu::DeviceType::Other => AdapterKind::Other,
            };
            let driver = format!("{} {}", info.driver, info.driver_info);
            AdapterSummary { name: info.name, kind, driver, api: format!("{:?}", info.backend) }
        })
        .collect()
}

/// `auto`'s WGPU adapter, and why: a discrete GPU; an integrated, virtual or unnamed one only
/// when it beats the CPU backend (see `race.rs`); never a software one. Err says why none.
pub fn auto_probe() -> Result<(WgpuChoice, String), String> {
    let all = adapters();
    let Ok(choice) = choose_among(&all, false) else {
        return Err(match all.iter().find(|a| a.kind == AdapterKind::Software) {
            Some(a) => format!("only a software WGPU adapter, {}", a.name.trim()),
            None if all.is_empty() => "no WGPU adapter".into(),
            None => "no WGPU GPU adapter".into(),
        });
    };
    if choice.summary.kind == AdapterKind::Discrete || std::env::var_os("CUBECL_WGPU_DEFAULT_DEVICE").is_some() {
        return Ok((choice, "auto".into()));
    }
    let key = super::race::race_key(&choice.summary.name, &choice.summary.driver);
    let file = super::race::verdicts_file();
    let device = choice.device.clone();
    let verdict = super::race::decide(file.as_deref(), &key, || {
        crate::kernel_cache::persist();
        super::race::matmul_gflops::<super::WgpuBackend>(&device)
    });
    let name = choice.summary.name.trim().to_string();
    if verdict.gpu_wins() {
        Ok((choice, format!("auto: {name} beat the CPU, {}", verdict.describe())))
    } else {
        Err(format!("{name} slower than the CPU, {}", verdict.describe()))
    }
}

/// The adapter to run on: a GPU, or with `allow_software` a software one too. A user's
/// `CUBECL_WGPU_DEFAULT_DEVICE` is left to burn (the header then shows the first adapter).
pub fn wgpu_probe(allow_software: bool) -> Result<WgpuChoice, String> {
    choose_among(&adapters(), allow_software)
}

fn choose_among(all: &[AdapterSummary], allow_software: bool) -> Result<WgpuChoice, String> {
    let Some((pick, summary)) = choose(all, allow_software) else {
        return Err(if all.is_empty() {
            format!("no graphics adapter found for WGPU ({:?}); {NO_ADAPTER_HINT}", AutoGraphicsApi::backend())
        } else {
            let names: Vec<&str> = all.iter().map(|a| a.name.as_str()).collect();
            format!(
                "no GPU adapter for WGPU, only software ones ({}); use --backend wgpu to run on them",
                names.join(", ")
            )
        });
    };
    let device = if std::env::var_os("CUBECL_WGPU_DEFAULT_DEVICE").is_some() {
        WgpuDevice::DefaultDevice
    } else {
        match pick {
            Pick::Discrete(i) => WgpuDevice::DiscreteGpu(i),
            Pick::Integrated(i) => WgpuDevice::IntegratedGpu(i),
            Pick::Virtual(i) => WgpuDevice::VirtualGpu(i),
            Pick::Software => WgpuDevice::Cpu,
            Pick::Other => WgpuDevice::DefaultDevice,
        }
    };
    Ok(WgpuChoice { device, summary: summary.clone() })
}

//! `--parallel N` and `--devices LIST`: after the teacher, the matrix's cells in child
//! processes (`run-cell`), each with the arguments this process was given.

use super::{ConfigArgs, MonitorArgs, SpreadArgs};
use crate::backend::BackendChoice;
use crate::engine::{Launch, Scope};
use crate::error::{Error, Result};

/// `--config`, `--set` and `--backend` as a child process or a job is given them.
pub fn child_args(config: &ConfigArgs, backend: BackendChoice) -> Vec<String> {
    // As given: the children start in this folder, and paths in the files they read must
    // resolve to the same strings (the teacher's fingerprint names its data).
    let mut args = vec!["--config".to_string(), config.config.display().to_string()];
    for set in &config.set {
        args.extend(["--set".to_string(), set.clone()]);
    }
    let name = clap::ValueEnum::to_possible_value(&backend).map(|v| v.get_name().to_string());
    args.extend(["--backend".to_string(), name.unwrap_or_else(|| "cpu".into())]);
    args
}

/// The GPUs of `--devices`, checked and as the cells' `CUDA_VISIBLE_DEVICES`: each cell gets one
/// NVIDIA GPU, so the CUDA backend must be there (a CPU or WGPU run spreads with `--parallel`).
/// An index counts among the GPUs this process may use: those of its own `CUDA_VISIBLE_DEVICES`
/// when set (as Slurm or a user sets it: a cell never gets a GPU outside it), else those
/// `gpus()` finds (`nvidia-smi -L`). UUIDs (`GPU-...`, `MIG-...`) are passed on as they are.
fn device_lanes(
    devices: &[String],
    backend: BackendChoice,
    visible: Option<&str>,
    gpus: impl Fn() -> Option<usize>,
) -> Result<Vec<String>> {
    let refuse = |why: String| Err(Error::Input(format!("--devices: {why}")));
    if !matches!(backend, BackendChoice::Auto | BackendChoice::Cuda) {
        return refuse(
            "gives each cell an NVIDIA GPU (CUDA_VISIBLE_DEVICES), which the chosen backend does not use; \
             with the CPU or WGPU, run cells side by side with --parallel N"
                .into(),
        );
    }
    if !cfg!(feature = "cuda") {
        return refuse(
            "this distill-tui was built without CUDA, so no cell would use the GPU it is given; rebuild with \
             `--features cuda`, or use --parallel N"
                .into(),
        );
    }
    let listed: Option<Vec<String>> = visible.map(|v| v.split(',').map(|d| d.trim().to_string()).collect());
    let count = if listed.is_some() { None } else { gpus() };
    let mut lanes = Vec::new();
    for d in devices {
        if d.is_empty() || !d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return refuse(format!(
                "{d:?} is not a device; give GPU indices or UUIDs separated by commas, like 0,1,2,3"
            ));
        }
        let no_gpu = |i: usize, n: usize, within: &str| {
            refuse(format!(
                "there is no GPU {i}: {n} GPU{}{within} (0 to {})",
                if n == 1 { "" } else { "s" },
                n.saturating_sub(1)
            ))
        };
        let lane = match (d.parse::<usize>(), &listed) {
            (Err(_), _) => d.clone(),
            (Ok(i), Some(list)) if i < list.len() => list[i].clone(),
            (Ok(i), Some(list)) => return no_gpu(i, list.len(), " of this process's CUDA_VISIBLE_DEVICES"),
            (Ok(i), None) => match count {
                Some(n) if i >= n => return no_gpu(i, n, ""),
                _ => i.to_string(),
            },
        };
        if lanes.contains(&lane) {
            return refuse(format!("{d} is listed twice"));
        }
        lanes.push(lane);
    }
    Ok(lanes)
}

/// How many GPUs `nvidia-smi -L` lists (`None` without nvidia-smi).
fn nvidia_smi_gpus() -> Option<usize> {
    let out = std::process::Command::new("nvidia-smi").arg("-L").output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.starts_with("GPU ")).count())
}

/// The scope of a plain run: the whole matrix in this process, or its cells in child
/// processes with `--parallel` or `--devices`.
pub fn scope(spread: &SpreadArgs, backend: BackendChoice, config: &ConfigArgs, monitor: MonitorArgs) -> Result<Scope> {
    let lanes: Vec<Option<String>> = match (&spread.parallel, spread.devices.as_slice()) {
        (Some(n), _) => vec![None; usize::from(*n)],
        (None, []) => return Ok(Scope::Matrix),
        (None, devices) => {
            let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok().filter(|v| !v.trim().is_empty());
            let lanes = device_lanes(devices, backend, visible.as_deref(), nvidia_smi_gpus)?;
            // The teacher runs in this process, on the first listed GPU (set before anything here
            // starts CUDA; each cell's process gets its own).
            // SAFETY: no other thread of this process has started yet.
            unsafe { std::env::set_var("CUDA_VISIBLE_DEVICES", &lanes[0]) };
            lanes.into_iter().map(Some).collect()
        }
    };
    let program = std::env::current_exe()
        .map_err(|e| Error::Internal(format!("cannot find this program's path to start cells: {e}")))?;
    let mut args = child_args(config, backend);
    if monitor.no_teacher_cache {
        args.push("--no-teacher-cache".into());
    }
    Ok(Scope::Parallel(Launch { program, args, lanes }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes(
        devices: &[&str],
        backend: BackendChoice,
        visible: Option<&str>,
        gpus: Option<usize>,
    ) -> Result<Vec<String>> {
        let devices: Vec<String> = devices.iter().map(|d| d.to_string()).collect();
        device_lanes(&devices, backend, visible, || gpus)
    }

    #[test]
    fn devices_need_cuda_and_stay_within_what_this_process_may_use() {
        let e = lanes(&["0"], BackendChoice::Cpu, None, Some(4)).unwrap_err().to_string();
        assert!(e.contains("--parallel N"), "{e}");
        if !cfg!(feature = "cuda") {
            let e = lanes(&["0"], BackendChoice::Auto, None, Some(4)).unwrap_err().to_string();
            assert!(e.contains("built without CUDA") && e.contains("--features cuda"), "{e}");
            return;
        }
        assert_eq!(lanes(&["0", "2"], BackendChoice::Auto, None, Some(4)).unwrap(), ["0", "2"]);
        let e = lanes(&["0", "4"], BackendChoice::Cuda, None, Some(4)).unwrap_err().to_string();
        assert!(e.contains("there is no GPU 4: 4 GPUs (0 to 3)"), "{e}");
        // Within Slurm's allocation: indices map through it, and never leave it.
        assert_eq!(lanes(&["0", "1"], BackendChoice::Auto, Some("2,3"), Some(8)).unwrap(), ["2", "3"]);
        let e = lanes(&["2"], BackendChoice::Auto, Some("2,3"), Some(8)).unwrap_err().to_string();
        assert!(e.contains("of this process's CUDA_VISIBLE_DEVICES"), "{e}");
        assert_eq!(lanes(&["GPU-abc"], BackendChoice::Auto, None, Some(1)).unwrap(), ["GPU-abc"]);
        assert!(lanes(&["0", "0"], BackendChoice::Auto, None, Some(2)).unwrap_err().to_string().contains("twice"));
        assert!(
            lanes(&["gpu 1"], BackendChoice::Auto, None, Some(2)).unwrap_err().to_string().contains("not a device")
        );
    }
}

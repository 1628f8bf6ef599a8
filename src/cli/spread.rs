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

/// The scope of a plain run: the whole matrix in this process, or its cells in child
/// processes with `--parallel` or `--devices`.
pub fn scope(spread: &SpreadArgs, backend: BackendChoice, config: &ConfigArgs, monitor: MonitorArgs) -> Result<Scope> {
    let lanes: Vec<Option<String>> = match (&spread.parallel, spread.devices.as_slice()) {
        (Some(n), _) => vec![None; usize::from(*n)],
        (None, []) => return Ok(Scope::Matrix),
        (None, devices) => {
            if let Some(bad) =
                devices.iter().find(|d| d.is_empty() || !d.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
            {
                return Err(Error::Input(format!(
                    "--devices: {bad:?} is not a device; give GPU indices or UUIDs separated by commas, like 0,1,2,3"
                )));
            }
            devices.iter().cloned().map(Some).collect()
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

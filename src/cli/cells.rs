//! The commands and options that spread a matrix's cells over processes: `--parallel` and
//! `--devices`, `submit --slurm`, and `watch`.

use std::sync::Arc;

use super::{ConfigArgs, MonitorArgs, SpreadArgs, SubmitArgs, print_out};
use crate::backend::BackendChoice;
use crate::engine::runner::{EngineOptions, Launch, Scope};
use crate::error::{Error, Result};
use crate::events::Control;
use crate::experiment::Experiment;
use crate::hub::HubSettings;
use crate::report::terminal::{final_text, terminal_width};
use crate::signals::Signals;

/// `--config`, `--set` and `--backend` as a child process or a job is given them.
fn child_args(config: &ConfigArgs, backend: BackendChoice) -> Vec<String> {
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
pub fn spread_scope(
    spread: &SpreadArgs,
    backend: BackendChoice,
    config: &ConfigArgs,
    monitor: MonitorArgs,
) -> Result<Scope> {
    let slots: Vec<Option<String>> = match (&spread.parallel, spread.devices.as_slice()) {
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
    Ok(Scope::Parallel(Launch { program, args, slots }))
}

/// `submit --slurm`: the experiment checked (and its Hub files downloaded), and the scripts'
/// settings.
pub fn submit_request(a: SubmitArgs, exp: &Experiment) -> Result<crate::slurm::Submit> {
    let cells = crate::engine::check_experiment(exp, &EngineOptions::new(HubSettings::from_env()))?;
    let workdir = std::env::current_dir().map_err(|e| Error::Internal(format!("no current folder: {e}")))?;
    let settings = crate::slurm::script::ScriptSettings {
        job_name: exp.name.clone(),
        partition: a.partition,
        time: a.time,
        gpus_per_cell: a.gpus_per_cell,
        cpus_per_cell: a.cpus_per_cell,
        sbatch_args: a.sbatch_args,
        workdir: workdir.display().to_string(),
        program: crate::slurm::this_program()?.display().to_string(),
        args: child_args(&a.config, a.backend),
    };
    Ok(crate::slurm::Submit { settings, max_parallel: a.max_parallel, dry_run: a.dry_run, cells })
}

/// `watch`: the monitor on the files of `dir` until `q`; the final table when every cell ended.
pub fn watch(dir: &std::path::Path) -> Result<i32> {
    if !dir.join(crate::engine::layout::EVENTS_LOG).is_file() {
        return Err(Error::Input(format!(
            "{}: no experiment here (no {}); give the experiment folder (checkpoints/<name>) a run writes to",
            dir.display(),
            crate::engine::layout::EVENTS_LOG
        )));
    }
    if !crate::tui::app::terminal_available() {
        return Err(Error::Input("watch needs a terminal; for a log, read the cells' events.jsonl".into()));
    }
    let signals = Signals::install(false)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let control = Arc::new(Control::default());
    let (follow_dir, follow_control) = (dir.to_path_buf(), control.clone());
    let follower = std::thread::Builder::new()
        .name("distill-watch".into())
        .spawn(move || crate::watch::follow(&follow_dir, tx, &follow_control))
        .map_err(|e| Error::Internal(format!("cannot start the file follower: {e}")))?;
    let exit = crate::tui::app::watch(&rx, control.clone(), &signals);
    control.quit();
    drop(rx);
    let _ = follower.join();
    let exit = exit?;
    if exit == crate::tui::app::MonitorExit::Try {
        let session = crate::playground::Session::of_experiment(dir)?;
        crate::playground::run(session, BackendChoice::Auto, HubSettings::from_env())?;
    }
    let ended = matches!(exit, crate::tui::app::MonitorExit::Closed | crate::tui::app::MonitorExit::Try)
        && crate::engine::cells::merged(dir).ok().flatten().is_some_and(|r| r.all_ended());
    match crate::engine::cells::merged(dir) {
        Ok(Some(results)) if ended => print_out(&final_text(&results, dir, terminal_width())),
        _ => print_out(&format!(
            "Left {}; the run goes on. `distill-tui watch {}` attaches again.\n",
            dir.display(),
            dir.display()
        )),
    }
    Ok(0)
}

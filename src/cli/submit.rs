//! `submit --slurm`: everything checked (and Hub files downloaded) on the login node, then the
//! teacher job and the array of the cells not ended handed to Slurm (`crate::slurm`).

use super::{SubmitArgs, print_out};
use crate::engine::{EngineOptions, check_experiment};
use crate::error::{Error, Result};
use crate::experiment::Experiment;
use crate::hub::HubSettings;

pub fn run(a: SubmitArgs) -> Result<i32> {
    let exp = Experiment::load(&a.config.config, &a.config.set)?;
    let submit = request(a, &exp)?;
    print_out(&crate::slurm::submit(&exp, &submit)?);
    Ok(0)
}

/// `submit --slurm`: the experiment checked (and its Hub files downloaded), and the scripts'
/// settings.
fn request(a: SubmitArgs, exp: &Experiment) -> Result<crate::slurm::Submit> {
    let checked = check_experiment(exp, &EngineOptions::new(HubSettings::from_env()))?;
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
        args: super::spread::child_args(&a.config, a.backend),
    };
    Ok(crate::slurm::Submit {
        settings,
        max_parallel: a.max_parallel,
        dry_run: a.dry_run,
        keep_scripts: a.keep_scripts,
        cells: checked.cells,
        teacher: checked.teacher,
    })
}

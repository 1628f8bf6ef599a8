//! `try [DIR] [--model ...]`: the teacher and the students of an experiment (or any models) side
//! by side on sentences typed in the terminal.

use super::TryArgs;
use crate::error::Result;
use crate::experiment::Experiment;
use crate::hub::HubSettings;
use crate::playground::{Session, run as run_try};

pub fn run(a: TryArgs) -> Result<i32> {
    let session = match (a.model.is_empty(), a.dir) {
        (false, _) => Session::of_models(&a.model),
        (true, Some(dir)) => Session::of_experiment(&dir)?,
        (true, None) => Session::of_experiment(&Experiment::load(&a.config.config, &a.config.set)?.dir)?,
    };
    run_try(session, a.backend.backend, HubSettings::from_env())?;
    Ok(0)
}

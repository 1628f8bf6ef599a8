//! `watch [DIR]`: the monitor, read-only, on an experiment other processes are writing; the final
//! table when every cell has ended.

use std::path::Path;
use std::sync::Arc;

use super::{WatchArgs, print_out};
use crate::backend::BackendChoice;
use crate::error::{Error, Result};
use crate::events::Control;
use crate::experiment::Experiment;
use crate::hub::HubSettings;
use crate::report::terminal::{final_text, terminal_width};
use crate::signals::Signals;
use crate::workspace::layout::{EVENTS_LOG, results_md};
use crate::workspace::results::merged;

pub fn run(a: WatchArgs) -> Result<i32> {
    let dir = match a.dir {
        Some(d) => d,
        None => Experiment::load(&a.config.config, &a.config.set)?.dir,
    };
    watch(&dir)
}

/// `watch`: the monitor on the files of `dir` until `q`; the final table when every cell ended.
fn watch(dir: &Path) -> Result<i32> {
    if !dir.join(EVENTS_LOG).is_file() {
        return Err(Error::Input(format!(
            "{}: no experiment here (no {}); give the experiment folder (checkpoints/<name>) a run writes to",
            dir.display(),
            EVENTS_LOG
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
    let left_paused = follower.join().unwrap_or_default();
    let exit = exit?;
    if !left_paused.is_empty() {
        print_out(&format!(
            "{} stay paused, as this watch paused them ({}); `distill-tui watch {}` and p resume them.\n",
            if left_paused.len() == 1 { "1 cell".to_string() } else { format!("{} cells", left_paused.len()) },
            left_paused.join(", "),
            dir.display()
        ));
    }
    if exit == crate::tui::app::MonitorExit::Try {
        let session = crate::playground::Session::of_experiment(dir)?;
        crate::playground::run(session, BackendChoice::Auto, HubSettings::from_env())?;
    }
    let closed = matches!(exit, crate::tui::app::MonitorExit::Closed | crate::tui::app::MonitorExit::Try);
    match merged(dir) {
        Ok(Some(results)) if closed && results.all_ended() => {
            print_out(&final_text(&results, &results_md(dir), terminal_width()))
        }
        _ => print_out(&format!(
            "Left {}; the run goes on. `distill-tui watch {}` attaches again.\n",
            dir.display(),
            dir.display()
        )),
    }
    Ok(0)
}

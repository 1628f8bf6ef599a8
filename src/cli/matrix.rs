//! The experiment matrix: a plain run (all of it here, or its cells in child processes with
//! `--parallel`/`--devices`), `run-cell` (one cell, headless), `run-teacher` (the teacher and
//! its outputs, headless) and `demo` (a generated experiment, started over each time). The
//! engine runs on its own thread; this thread shows its events in the monitor or prints them,
//! then draws the plots, opens `try` if asked, and prints the final table.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use super::{BackendArg, ConfigArgs, DemoArgs, MonitorArgs, RunCellArgs, RunTeacherArgs, SpreadArgs};
use super::{print_err, print_out};
use crate::backend::{BackendChoice, BackendTask, run_on};
use crate::engine::{EngineOptions, Scope, run_experiment};
use crate::error::{Error, Result};
use crate::events::{BackendInfo, Control, Event, Events};
use crate::experiment::Experiment;
use crate::headless::HeadlessPrinter;
use crate::hub::HubSettings;
use crate::ops::TrainBackend;
use crate::report::results::Results;
use crate::report::terminal::{final_text, terminal_width};
use crate::signals::{Signals, StopSignal};
use crate::tui::app::MonitorExit;
use crate::workspace::layout::{PLOTS_DIR, results_md};

/// A plain run: the matrix of `--config`, here or spread over child processes.
pub fn run(
    backend: &BackendArg,
    config: &ConfigArgs,
    monitor: MonitorArgs,
    fresh: bool,
    spread: &SpreadArgs,
) -> Result<i32> {
    let scope = super::spread::scope(spread, backend.backend, config, monitor)?;
    let how = How { monitor, fresh, synthetic: false, scope };
    run_matrix(backend.backend, &config.config, &config.set, how)
}

/// `demo`: a generated teacher and task, the matrix run from scratch.
pub fn demo(a: DemoArgs) -> Result<i32> {
    let dir = &a.dir;
    print_err(&format!(
        "distill-tui demo: synthetic {} teacher and task (random words, not real data) in {}",
        a.family.model_type(),
        dir.display()
    ));
    let config = crate::demo::prepare(dir, a.family)?;
    // Every demo starts over: its results are synthetic and regenerated in a minute.
    crate::workspace::open::discard(&dir.join(crate::demo::name(a.family)))?;
    let how = How { monitor: a.monitor, fresh: false, synthetic: true, scope: Scope::Matrix };
    run_matrix(a.backend.backend, &config, &[], how)
}

/// `run-cell --index N`: one cell, headless, in a folder whose teacher is ready.
pub fn run_cell(a: RunCellArgs) -> Result<i32> {
    let monitor = MonitorArgs { headless: true, no_teacher_cache: a.no_teacher_cache };
    let how = How { monitor, fresh: false, synthetic: false, scope: Scope::Cell(a.index) };
    run_matrix(a.backend.backend, &a.config.config, &a.config.set, how)
}

/// `run-teacher`: the teacher fine-tuned and its outputs saved, headless, for the cells.
pub fn run_teacher(a: RunTeacherArgs) -> Result<i32> {
    let monitor = MonitorArgs { headless: true, no_teacher_cache: a.no_teacher_cache };
    let how = How { monitor, fresh: a.fresh, synthetic: false, scope: Scope::Teacher };
    run_matrix(a.backend.backend, &a.config.config, &a.config.set, how)
}

/// How `run_matrix` runs: front end, folder, and what of the matrix.
struct How {
    monitor: MonitorArgs,
    fresh: bool,
    synthetic: bool,
    scope: Scope,
}

/// The experiment run on whichever backend was chosen.
struct MatrixTask {
    experiment: Experiment,
    options: EngineOptions,
    events: Events,
    control: Arc<Control>,
}

impl BackendTask for MatrixTask {
    type Output = Result<Results>;
    fn run<B: TrainBackend>(self, device: B::Device, info: BackendInfo) -> Result<Results> {
        run_experiment::<B>(&self.experiment, &self.options, &info, &device, &self.events, &self.control)
    }
}

/// Runs the experiment matrix of `config` (with `overrides` applied) on the engine's thread,
/// shown in the monitor or printed; then its plots, `try` if asked, and the final table.
fn run_matrix(backend: BackendChoice, config: &Path, overrides: &[String], how: How) -> Result<i32> {
    let How { monitor, fresh, synthetic, scope } = how;
    let experiment = Experiment::load(config, overrides)?;
    let dir = experiment.dir.clone();
    let mut options = EngineOptions::new(HubSettings::from_env());
    options.teacher_cache = !monitor.no_teacher_cache;
    options.fresh = fresh;
    options.synthetic = synthetic;
    options.scope = scope;
    let headless = monitor.headless || !crate::tui::app::terminal_available();
    let signals = Signals::install(headless)?;
    let (tx, rx) = std::sync::mpsc::channel();
    let control = Arc::new(Control::default());
    let task = MatrixTask { experiment, options, events: Events::new(tx), control: control.clone() };
    let engine = std::thread::Builder::new()
        .name("distill-engine".into())
        .spawn(move || run_on(backend, task))
        .map_err(|e| Error::Internal(format!("cannot start the engine thread: {e}")))?;
    let (stopped_by, open_try) = show(&rx, &control, &signals, headless, &dir);
    let results = engine.join().map_err(|payload| engine_panic(payload.as_ref(), &dir))???;
    // The experiment has ended (in this process, or with this cell the last one): its plots.
    if results.all_ended() {
        match crate::plots::write(&dir, &results) {
            Ok(_) => print_err(&format!("plots: {}", dir.join(PLOTS_DIR).display())),
            Err(e) => print_err(&format!("warning: the plots were not drawn: {e}")),
        }
    }
    if open_try {
        let session = crate::playground::Session::of_experiment(&dir)?;
        crate::playground::run(session, backend, HubSettings::from_env())?;
    }
    print_out(&final_text(&results, &results_md(&dir), terminal_width()));
    Ok(stopped_by.map_or(0, |s| s.exit_code()))
}

/// Shows the engine's events until it is done: in the monitor, or printed (headless, or once the
/// monitor has closed). Returns the signal that stopped the run, if any, and whether the user
/// asked for `try` at the end.
fn show(
    rx: &Receiver<Event>,
    control: &Arc<Control>,
    signals: &Signals,
    headless: bool,
    dir: &Path,
) -> (Option<StopSignal>, bool) {
    let mut printer = HeadlessPrinter::new(std::io::stdout());
    if headless {
        return (follow_headless(rx, &mut printer, control, signals), false);
    }
    match crate::tui::app::run(rx, control.clone(), signals) {
        Ok(MonitorExit::Closed) => (None, false),
        Ok(MonitorExit::Try) => (None, true),
        Ok(MonitorExit::Signal(sig)) => (Some(sig), false),
        Ok(MonitorExit::Detached(why)) => {
            // Whatever happened to the screen, training goes on to the end.
            control.set_paused(false);
            printer.note(&format!(
                "distill-tui: {why}; training carries on without the monitor, results go to {}",
                dir.display()
            ));
            (follow_headless(rx, &mut printer, control, signals), false)
        }
        Err(e) => {
            control.set_paused(false);
            printer.note(&format!("distill-tui: {e}; carrying on without the monitor"));
            (follow_headless(rx, &mut printer, control, signals), false)
        }
    }
}

/// The error for a panic of the engine thread: what it said, and that the folder can resume.
fn engine_panic(payload: &(dyn std::any::Any + Send), dir: &Path) -> Error {
    let what = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".into());
    Error::Internal(format!(
        "the training stopped on an internal error ({what}); the results and checkpoints so far are in {}, \
         and rerunning the same command resumes from them. This is a bug in distill-tui or burn: please report \
         it with the lines above",
        dir.display()
    ))
}

/// Prints events until the engine is done; a stop signal asks it to stop after the current step.
fn follow_headless(
    rx: &Receiver<Event>,
    printer: &mut HeadlessPrinter<std::io::Stdout>,
    control: &Control,
    signals: &Signals,
) -> Option<StopSignal> {
    use std::sync::mpsc::RecvTimeoutError;
    let mut stopped_by = signals.stop();
    if stopped_by.is_some() {
        control.quit();
    }
    loop {
        match rx.recv_timeout(std::time::Duration::from_millis(100)) {
            Ok(event) => printer.handle(&event),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return stopped_by,
        }
        if let (None, Some(sig)) = (stopped_by, signals.stop()) {
            stopped_by = Some(sig);
            control.quit();
            control.set_paused(false);
            printer.note(&format!(
                "{}: stopping after the current step and writing results (rerun the same command to resume)",
                sig.name()
            ));
        }
        if signals.take_hangup() {
            printer.note("SIGHUP: the terminal went away; training carries on");
        }
    }
}

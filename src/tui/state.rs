//! What the monitor shows, built from engine events and keys; no terminal here, so it is
//! tested directly and rendered by [`super::view`].

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::history::History;
use super::keys::{Action, lookup};
use super::sysinfo::SysStats;
use crate::events::LossValues;
use crate::events::{BackendKind, EpochRecord, Event, Level, Phase, RunId, RunKind, RunLabel, RunStatus, StepEvent};

const LOG_LINES: usize = 500;
/// Weight of the newest step in the smoothed loss parts shown under the chart.
const PARTS_EMA: f64 = 0.05;

#[derive(Debug, Clone, PartialEq)]
pub struct RunView {
    pub label: RunLabel,
    pub status: RunStatus,
    pub reason: Option<String>,
    pub epochs: Vec<EpochRecord>,
    pub epochs_total: usize,
    pub epoch: usize,
    pub step: usize,
    pub steps_total: usize,
    pub examples_per_s: f64,
    /// The training objective per step: the distillation loss, or CE for the teacher.
    pub loss: History,
    /// The loss and its parts, smoothed over the latest steps.
    pub parts: Option<LossValues>,
    /// Active time (pauses excluded).
    pub seconds: f64,
    /// Of that, the time spent compiling kernels for new batch shapes (GPU), and the steps
    /// that did: left out of the pace, which would otherwise overestimate the time left.
    pub compile_seconds: f64,
    pub compiled_steps: usize,
}

impl RunView {
    fn new(label: RunLabel) -> Self {
        Self {
            label,
            status: RunStatus::Pending,
            reason: None,
            epochs: vec![],
            epochs_total: 0,
            epoch: 0,
            step: 0,
            steps_total: 0,
            examples_per_s: 0.0,
            loss: History::default(),
            parts: None,
            seconds: 0.0,
            compile_seconds: 0.0,
            compiled_steps: 0,
        }
    }

    /// A training step: position, pace, the loss history and its smoothed parts.
    fn step(&mut self, s: &StepEvent) {
        self.step = s.step;
        self.steps_total = s.steps_total;
        self.epoch = s.epoch;
        let pace = s.examples_per_s;
        self.examples_per_s = if self.examples_per_s == 0.0 { pace } else { 0.9 * self.examples_per_s + 0.1 * pace };
        self.loss.push(s.step, s.loss.total);
        let v = s.loss;
        self.parts = Some(match self.parts {
            None => v,
            Some(p) => {
                let m = |a: f64, b: f64| if b.is_finite() { (1.0 - PARTS_EMA) * a + PARTS_EMA * b } else { a };
                LossValues {
                    total: m(p.total, v.total),
                    ce: m(p.ce, v.ce),
                    kl: m(p.kl, v.kl),
                    cosine: m(p.cosine, v.cosine),
                }
            }
        });
    }

    pub fn is_student(&self) -> bool {
        self.label.kind == RunKind::Student
    }

    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// Epochs trained (epoch 0 is the evaluation before any update).
    pub fn trained_epochs(&self) -> usize {
        self.epochs.iter().filter(|e| e.epoch > 0).count()
    }

    /// The trained epoch with the highest validation accuracy (the first of equals).
    pub fn best_epoch(&self) -> Option<&EpochRecord> {
        self.epochs.iter().filter(|e| e.epoch > 0).fold(None, |best: Option<&EpochRecord>, e| match best {
            Some(b) if b.validation_accuracy >= e.validation_accuracy => Some(b),
            _ => Some(e),
        })
    }

    pub fn steps_per_epoch(&self) -> usize {
        self.steps_total.checked_div(self.epochs_total).unwrap_or(0)
    }

    /// Seconds per optimizer step so far, kernel compilation left out.
    pub fn pace(&self) -> Option<f64> {
        let steps = self.step.saturating_sub(self.compiled_steps);
        let seconds = self.seconds - self.compile_seconds;
        (steps > 0 && seconds > 0.0).then(|| seconds / steps as f64)
    }

    /// Seconds left in this run, from its pace so far.
    pub fn eta(&self) -> Option<f64> {
        if self.status != RunStatus::Running || self.steps_total == 0 {
            return None;
        }
        self.pace().map(|p| p * (self.steps_total - self.step.min(self.steps_total)) as f64)
    }

    /// The name with its layers, `Top-K Layer {1-6}`, and the seed when there are several.
    pub fn title(&self, several_seeds: bool) -> String {
        let mut s = self.label.name.clone();
        if self.is_student() {
            s.push_str(&format!(" {{{}}}", crate::text::fmt_layers_compact(&self.label.teacher_layers)));
            if several_seeds {
                s.push_str(&format!(" s{}", self.label.seed));
            }
        }
        s
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartMode {
    /// The selected run's training loss (smoothed and raw), validation loss, epoch marks.
    Loss,
    /// Every student's smoothed training loss on shared axes.
    LossAll,
    /// Every run's validation accuracy per epoch, the teacher as a line.
    Accuracy,
}

/// What a key asks the engine to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Pause(bool),
    /// Skip this run (the selected one when several run at once).
    Skip(RunId),
    Quit,
    /// Leave the monitor for the `try` screen on this experiment (every run is over).
    Try,
}

/// A phase outside the training steps that is under way.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PhaseView {
    pub run: Option<RunId>,
    pub phase: Phase,
    pub done: usize,
    pub total: usize,
    /// Active seconds since it began.
    pub seconds: f64,
    /// Of that, the time spent compiling kernels for new batch shapes, and the batches that did.
    pub compile_seconds: f64,
    pub compiled: usize,
}

impl PhaseView {
    pub fn eta(&self) -> Option<f64> {
        let (done, seconds) = (self.done.saturating_sub(self.compiled), self.seconds - self.compile_seconds);
        (done > 0 && seconds > 0.0).then(|| seconds / done as f64 * (self.total.saturating_sub(self.done)) as f64)
    }
}

/// Kernels being compiled for a batch shape the GPU has not run yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CompileView {
    pub run: Option<RunId>,
    pub training: bool,
    pub batch: usize,
    pub tokens: usize,
    /// Distinct shapes so far, this one included.
    pub shapes: usize,
    /// Active seconds since it began.
    pub seconds: f64,
}

/// What the keys answer: the monitor itself, or one overlay waiting for its key (as ratatui's
/// demo2 keeps its modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Normal,
    /// The key list; any key closes it.
    Help,
    /// `y` or enter quits (after the current step), anything else keeps running.
    ConfirmQuit,
    /// `y` or enter skips this run, if it is still running.
    ConfirmSkip(RunId),
}

/// What the screen shows of the matrix, and how the keys are read: the screen's own state,
/// apart from the matrix's (which the events change).
#[derive(Debug, Clone, PartialEq)]
pub struct ViewState {
    /// The run the details and the loss chart show.
    pub selected: usize,
    pub chart: ChartMode,
    /// Loss charts show the latest steps instead of the whole run.
    pub recent: bool,
    /// Log lines scrolled back from the newest (0: follow new lines).
    pub log_scroll: usize,
    /// What the keys answer now: the monitor, or an overlay waiting for its key.
    pub mode: Mode,
    /// Draw without colours (`NO_COLOR`): selection and best values by attributes and marks.
    pub no_color: bool,
}

impl Default for ViewState {
    fn default() -> Self {
        Self { selected: 0, chart: ChartMode::Loss, recent: false, log_scroll: 0, mode: Mode::Normal, no_color: false }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    pub experiment: String,
    /// Generated data (the demo).
    pub synthetic: bool,
    pub backend: Option<BackendKind>,
    pub device: String,
    pub teacher_layers: usize,
    pub student_epochs: usize,
    pub steps_per_epoch: usize,
    pub runs: Vec<RunView>,
    pub logs: VecDeque<(Level, String)>,
    pub warnings: usize,
    /// What the screen shows of it: selection, chart, scroll, overlay.
    pub view: ViewState,
    pub paused: bool,
    pub quitting: bool,
    pub finished: bool,
    pub results_dir: Option<PathBuf>,
    /// Active time since start (pauses excluded).
    pub elapsed: Duration,
    /// The run that is training now.
    pub current: Option<usize>,
    pub phase: Option<PhaseView>,
    pub compiling: Option<CompileView>,
    pub sys: SysStats,
    /// Set when something visible changed; the app redraws and clears it.
    pub dirty: bool,
    /// `watch`: another process trains; quitting leaves it running, without asking.
    pub watching: bool,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            experiment: String::new(),
            synthetic: false,
            backend: None,
            device: String::new(),
            teacher_layers: 0,
            student_epochs: 0,
            steps_per_epoch: 0,
            runs: vec![],
            logs: VecDeque::new(),
            warnings: 0,
            view: ViewState::default(),
            paused: false,
            quitting: false,
            finished: false,
            results_dir: None,
            elapsed: Duration::ZERO,
            current: None,
            phase: None,
            compiling: None,
            sys: SysStats::default(),
            dirty: true,
            watching: false,
        }
    }
}

impl AppState {
    pub fn apply(&mut self, event: &Event) {
        self.dirty = true;
        match event {
            Event::Plan { experiment, backend, teacher_layers, runs, student_epochs, steps_per_epoch, synthetic } => {
                self.experiment = experiment.clone();
                self.synthetic = *synthetic;
                self.teacher_layers = *teacher_layers;
                self.backend = Some(backend.name);
                self.device = backend.describe();
                self.student_epochs = *student_epochs;
                self.steps_per_epoch = *steps_per_epoch;
                self.runs = runs.iter().cloned().map(RunView::new).collect();
            }
            Event::Log { level, text } => self.log(*level, text.clone()),
            Event::RunStarted { run, epochs, steps_per_epoch, .. } => self.run_started(*run, *epochs, *steps_per_epoch),
            Event::Step(s) => {
                self.phase = None;
                let compiled = self.compiling.take().is_some();
                if let Some(r) = self.runs.get_mut(s.run) {
                    r.step(s);
                    r.compiled_steps += usize::from(compiled);
                }
            }
            &Event::Compiling { run, training, batch, tokens, shapes } => {
                self.compiling = Some(CompileView { run, training, batch, tokens, shapes, seconds: 0.0 });
            }
            Event::Progress { run, phase, done, total } => self.progress_of(*run, *phase, *done, *total),
            Event::Epoch { run, record } => {
                if let Some(r) = self.runs.get_mut(*run) {
                    r.epochs.retain(|e| e.epoch != record.epoch);
                    r.epochs.push(record.clone());
                }
            }
            Event::RunEnded { run, status, reason, seconds } => self.run_ended(*run, *status, reason, *seconds),
            Event::Finished { results_dir } => {
                self.finished = true;
                self.current = None;
                self.phase = None;
                self.compiling = None;
                if self.view.mode != Mode::Help {
                    self.view.mode = Mode::Normal;
                }
                self.results_dir = Some(results_dir.clone());
            }
        }
    }

    fn run_started(&mut self, run: RunId, epochs: usize, steps_per_epoch: usize) {
        if let Some(r) = self.runs.get_mut(run) {
            r.status = RunStatus::Running;
            r.epochs_total = epochs;
            r.steps_total = epochs * steps_per_epoch;
        }
        // Follow the work unless the user picked another run.
        if self.current.is_none_or(|c| c == self.view.selected) {
            self.view.selected = run;
        }
        self.current = Some(run);
    }

    fn progress_of(&mut self, run: Option<RunId>, phase: Phase, done: usize, total: usize) {
        let compiled = usize::from(done > 0 && self.compiling.take().is_some());
        let (seconds, compile_seconds, before) = match self.phase {
            Some(p) if p.phase == phase && p.run == run && done > 0 => (p.seconds, p.compile_seconds, p.compiled),
            _ => (0.0, 0.0, 0),
        };
        let compiled = before + compiled;
        self.phase =
            (done < total).then_some(PhaseView { run, phase, done, total, seconds, compile_seconds, compiled });
    }

    fn run_ended(&mut self, run: RunId, status: RunStatus, reason: &Option<String>, seconds: f64) {
        self.phase = None;
        self.compiling = None;
        if let Some(r) = self.runs.get_mut(run) {
            r.status = status;
            r.reason = reason.clone();
            if seconds > 0.0 {
                r.seconds = seconds;
            }
        }
        if self.view.mode == Mode::ConfirmSkip(run) {
            self.view.mode = Mode::Normal;
        }
        if status == RunStatus::Failed {
            let name = self.runs.get(run).map(|r| r.label.name.clone()).unwrap_or_default();
            self.log(Level::Warn, format!("{name} failed: {}", reason.clone().unwrap_or_default()));
        }
    }

    fn log(&mut self, level: Level, text: String) {
        if self.logs.len() == LOG_LINES {
            self.logs.pop_front();
        }
        if level == Level::Warn {
            self.warnings += 1;
        }
        self.logs.push_back((level, text));
        // A log scrolled back stays on the lines the user is reading.
        if self.view.log_scroll > 0 {
            self.view.log_scroll = (self.view.log_scroll + 1).min(self.logs.len().saturating_sub(1));
        }
    }

    /// Adds active time (call with the wall time since the last tick; nothing counts while paused).
    pub fn tick(&mut self, dt: Duration) {
        if self.paused || self.finished {
            return;
        }
        self.elapsed += dt;
        let (dt, compiling) = (dt.as_secs_f64(), self.compiling.is_some());
        let compile_dt = if compiling { dt } else { 0.0 };
        if let Some(c) = &mut self.compiling {
            c.seconds += dt;
        }
        if let Some(p) = &mut self.phase {
            p.seconds += dt;
            p.compile_seconds += compile_dt;
        }
        // Every running run's clock (several run at once with --parallel, --devices or `watch`).
        for r in self.runs.iter_mut().filter(|r| r.status == RunStatus::Running) {
            r.seconds += dt;
            r.compile_seconds += compile_dt;
        }
    }

    /// Runs that are over (done, skipped, stopped or failed) and the total.
    pub fn progress(&self) -> (usize, usize) {
        let over = self
            .runs
            .iter()
            .filter(|r| matches!(r.status, RunStatus::Done | RunStatus::Skipped | RunStatus::Failed))
            .count();
        (over, self.runs.len())
    }

    pub fn several_seeds(&self) -> bool {
        let mut seeds = self.runs.iter().filter(|r| r.is_student()).map(|r| r.label.seed);
        seeds.next().is_some_and(|first| seeds.any(|s| s != first))
    }

    /// The best finished student's validation accuracy; runs that did not finish (skipped,
    /// stopped, running) never count.
    pub fn best_accuracy(&self) -> Option<f64> {
        self.runs
            .iter()
            .filter(|r| r.is_student() && r.status == RunStatus::Done)
            .filter_map(|r| r.last().map(|e| e.validation_accuracy))
            .fold(None, |b: Option<f64>, v| Some(b.map_or(v, |b| b.max(v))))
    }

    /// The teacher's validation accuracy, once evaluated.
    pub fn teacher_accuracy(&self) -> Option<f64> {
        self.runs.iter().find(|r| !r.is_student()).and_then(|r| r.last()).map(|e| e.validation_accuracy)
    }

    /// The run a confirmed `s` would skip, while that is asked.
    pub fn skip_asked(&self) -> Option<RunId> {
        match self.view.mode {
            Mode::ConfirmSkip(run) => Some(run),
            _ => None,
        }
    }

    /// Handles a key; returns what the engine must be told.
    pub fn key(&mut self, key: KeyEvent) -> Option<Command> {
        self.dirty = true;
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quitting = true;
            return Some(Command::Quit);
        }
        let yes = matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter);
        match std::mem::replace(&mut self.view.mode, Mode::Normal) {
            Mode::Normal => {}
            Mode::Help => return None,
            Mode::ConfirmQuit if yes => {
                self.quitting = true;
                return Some(Command::Quit);
            }
            Mode::ConfirmQuit => return None,
            Mode::ConfirmSkip(run) => {
                let running = self.runs.get(run).is_some_and(|r| r.status == RunStatus::Running);
                return (yes && running).then_some(Command::Skip(run));
            }
        }
        let binding = lookup(key.code, !self.finished)?;
        match binding.action {
            Action::Quit if self.finished || self.watching => {
                self.quitting = true;
                return Some(Command::Quit);
            }
            Action::Quit => self.view.mode = Mode::ConfirmQuit,
            Action::Pause => {
                self.paused = !self.paused;
                return Some(Command::Pause(self.paused));
            }
            // The selected run when it is running (several may run at once), else the current one.
            Action::Skip => {
                let selected_runs = self.runs.get(self.view.selected).is_some_and(|r| r.status == RunStatus::Running);
                let run = if selected_runs { Some(self.view.selected) } else { self.current };
                if let Some(run) = run {
                    self.view.mode = Mode::ConfirmSkip(run);
                }
            }
            Action::Down => self.view.selected = (self.view.selected + 1).min(self.runs.len().saturating_sub(1)),
            Action::Up => self.view.selected = self.view.selected.saturating_sub(1),
            Action::NextChart => {
                self.view.chart = match self.view.chart {
                    ChartMode::Loss => ChartMode::LossAll,
                    ChartMode::LossAll => ChartMode::Accuracy,
                    ChartMode::Accuracy => ChartMode::Loss,
                }
            }
            Action::Window => self.view.recent = !self.view.recent,
            Action::LogOlder => {
                self.view.log_scroll = (self.view.log_scroll + 5).min(self.logs.len().saturating_sub(1))
            }
            Action::LogNewer => self.view.log_scroll = self.view.log_scroll.saturating_sub(5),
            Action::LogLatest => self.view.log_scroll = 0,
            Action::Help => self.view.mode = Mode::Help,
            Action::Try => {
                self.quitting = true;
                return Some(Command::Try);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{BackendInfo, BackendKind};
    use crate::tui::eta::Eta;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn planned() -> AppState {
        let mut s = AppState::default();
        let label = |kind, name: &str, layers: Vec<usize>| RunLabel {
            kind,
            name: name.into(),
            seed: 42,
            teacher_layers: layers,
        };
        s.apply(&Event::Plan {
            experiment: "x".into(),
            backend: BackendInfo::new(BackendKind::Cpu, "CPU"),
            teacher_layers: 4,
            runs: vec![
                label(RunKind::Teacher, "Teacher fine-tune", vec![]),
                label(RunKind::Student, "Top", vec![1, 2]),
                label(RunKind::Student, "Odd", vec![1, 3]),
            ],
            student_epochs: 1,
            steps_per_epoch: 10,
            synthetic: false,
        });
        s
    }

    fn step(run: usize, step: usize, total: usize) -> Event {
        Event::Step(StepEvent {
            run,
            epoch: 1,
            step,
            steps_total: total,
            loss: LossValues { total: 1.0, ce: 0.5, kl: 0.2, cosine: 0.3 },
            lr: 1e-3,
            examples_per_s: 10.0,
        })
    }

    fn record(epoch: usize, acc: f64) -> EpochRecord {
        EpochRecord {
            epoch,
            train_loss: (epoch > 0).then_some(0.5),
            train_ce: None,
            train_kl: None,
            train_cosine: None,
            validation_loss: 0.6,
            validation_accuracy: acc,
        }
    }

    #[test]
    fn pause_resume_skip_with_confirmation_and_quit_confirmation() {
        let mut s = planned();
        s.apply(&Event::RunStarted { run: 0, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        assert_eq!(s.key(key(KeyCode::Char('p'))), Some(Command::Pause(true)));
        assert!(s.paused);
        s.tick(Duration::from_secs(5));
        assert_eq!(s.elapsed, Duration::ZERO, "the clock stops while paused");
        assert_eq!(s.key(key(KeyCode::Char('p'))), Some(Command::Pause(false)));
        s.tick(Duration::from_secs(5));
        assert_eq!(s.elapsed, Duration::from_secs(5));
        assert_eq!(s.key(key(KeyCode::Char('s'))), None, "skip asks first");
        assert_eq!(s.view.mode, Mode::ConfirmSkip(0));
        assert_eq!(s.key(key(KeyCode::Char('n'))), None);
        assert!(!matches!(s.view.mode, Mode::ConfirmSkip(_)));
        s.key(key(KeyCode::Char('s')));
        assert_eq!(s.key(key(KeyCode::Char('y'))), Some(Command::Skip(0)));
        // A confirmation left open while the run ended skips nothing else.
        s.key(key(KeyCode::Char('s')));
        s.apply(&Event::RunEnded { run: 0, status: RunStatus::Done, reason: None, seconds: 3.0 });
        s.apply(&Event::RunStarted { run: 1, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        assert_eq!(s.key(key(KeyCode::Char('y'))), None);
        assert_eq!(s.key(key(KeyCode::Char('q'))), None, "quit asks first");
        assert_eq!(s.view.mode, Mode::ConfirmQuit);
        assert_eq!(s.key(key(KeyCode::Char('n'))), None);
        assert!(s.view.mode == Mode::Normal && !s.quitting);
        s.key(key(KeyCode::Char('q')));
        assert_eq!(s.key(key(KeyCode::Char('y'))), Some(Command::Quit));
        assert!(s.quitting);
        let mut s = planned();
        assert_eq!(s.key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)), Some(Command::Quit));
    }

    #[test]
    fn finished_quits_at_once_and_ignores_training_keys() {
        let mut s = planned();
        s.apply(&Event::Finished { results_dir: "out".into() });
        assert_eq!(s.key(key(KeyCode::Char('p'))), None);
        assert_eq!(s.key(key(KeyCode::Char('s'))), None);
        assert!(!matches!(s.view.mode, Mode::ConfirmSkip(_)));
        assert_eq!(s.key(key(KeyCode::Char('q'))), Some(Command::Quit));
    }

    #[test]
    fn selection_follows_the_work_and_tab_cycles_charts() {
        let mut s = planned();
        s.apply(&Event::RunStarted { run: 1, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        assert_eq!(s.view.selected, 1);
        s.key(key(KeyCode::Char('k')));
        assert_eq!(s.view.selected, 0);
        s.apply(&Event::RunStarted { run: 2, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        assert_eq!(s.view.selected, 0, "a run the user picked stays selected");
        for _ in 0..3 {
            s.key(key(KeyCode::Down));
        }
        assert_eq!(s.view.selected, 2);
        s.key(key(KeyCode::Tab));
        assert_eq!(s.view.chart, ChartMode::LossAll);
        s.key(key(KeyCode::Tab));
        assert_eq!(s.view.chart, ChartMode::Accuracy);
        s.key(key(KeyCode::Tab));
        assert_eq!(s.view.chart, ChartMode::Loss);
        s.key(key(KeyCode::Char('r')));
        assert!(s.view.recent);
        s.key(key(KeyCode::Char('?')));
        assert_eq!(s.view.mode, Mode::Help);
        s.key(key(KeyCode::Char('x')));
        assert_eq!(s.view.mode, Mode::Normal);
    }

    #[test]
    fn t_opens_try_once_every_run_is_over_and_not_before() {
        let mut s = planned();
        assert_eq!(s.key(key(KeyCode::Char('t'))), None, "while training, t does nothing");
        s.apply(&Event::Finished { results_dir: "out".into() });
        assert_eq!(s.key(key(KeyCode::Char('t'))), Some(Command::Try));
    }

    #[test]
    fn cells_at_once_share_the_work_left_and_skip_the_selected_one() {
        let mut s = planned();
        s.apply(&Event::RunEnded { run: 0, status: RunStatus::Done, reason: None, seconds: 30.0 });
        s.apply(&Event::RunStarted { run: 1, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        s.apply(&Event::RunStarted { run: 2, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        s.tick(Duration::from_secs(4));
        assert_eq!((s.runs[1].seconds, s.runs[2].seconds), (4.0, 4.0), "both clocks run");
        s.apply(&step(1, 2, 10));
        s.apply(&step(2, 8, 10));
        // 16 s and 1 s left, nothing pending: done when the longer one is.
        assert_eq!(s.eta(), Some(Eta { seconds: 16.0, approximate: true }));
        // `s` asks about the selected running cell, not the last started.
        s.view.selected = 1;
        s.key(key(KeyCode::Char('s')));
        assert_eq!(s.view.mode, Mode::ConfirmSkip(1));
        assert_eq!(s.key(key(KeyCode::Char('y'))), Some(Command::Skip(1)));
    }

    #[test]
    fn eta_from_the_pace_of_the_current_run() {
        let mut s = planned();
        s.apply(&Event::RunEnded { run: 0, status: RunStatus::Done, reason: None, seconds: 30.0 });
        s.apply(&Event::RunStarted { run: 1, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        s.tick(Duration::from_secs(4));
        s.apply(&step(1, 2, 10));
        // 2 s/step: 16 s left in this run, and one student of 20 s (projected) to go.
        assert_eq!(s.runs[1].eta(), Some(16.0));
        assert_eq!(s.eta(), Some(Eta { seconds: 36.0, approximate: true }));
        assert_eq!(s.progress(), (1, 3));
        assert_eq!(s.runs[1].loss.last(), Some(1.0));
        // Once a student has finished, its time is the measure.
        s.apply(&Event::RunEnded { run: 1, status: RunStatus::Done, reason: None, seconds: 25.0 });
        s.apply(&Event::RunStarted { run: 2, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        assert_eq!(s.eta(), Some(Eta { seconds: 25.0, approximate: false }));
    }

    #[test]
    fn eta_during_the_teacher_and_its_outputs() {
        let mut s = planned();
        assert_eq!(s.eta(), None, "nothing measured yet");
        s.apply(&Event::RunStarted { run: 0, epochs: 2, steps_per_epoch: 10, train_examples: 100 });
        s.tick(Duration::from_secs(10));
        s.apply(&step(0, 5, 20));
        // Teacher: 2 s/step, 15 steps left = 30 s, its outputs a third of an epoch = 6.67 s;
        // each student: 10 steps x 2 s x 2/4 of the layers = 10 s, two of them.
        let e = s.eta().unwrap();
        assert!(e.approximate);
        assert!((e.seconds - (30.0 + 20.0 / 3.0 + 20.0)).abs() < 1e-9, "{e:?}");
        s.tick(Duration::from_secs(30));
        s.apply(&step(0, 20, 20));
        s.apply(&Event::RunEnded { run: 0, status: RunStatus::Done, reason: None, seconds: 40.0 });
        s.apply(&Event::Progress { run: None, phase: Phase::TeacherOutputs, done: 0, total: 8 });
        s.tick(Duration::from_secs(3));
        s.apply(&Event::Progress { run: None, phase: Phase::TeacherOutputs, done: 2, total: 8 });
        // 1.5 s a batch, 6 left = 9 s; the students as before.
        let e = s.eta().unwrap();
        assert!((e.seconds - 29.0).abs() < 1e-9, "{e:?}");
        s.apply(&Event::Progress { run: None, phase: Phase::TeacherOutputs, done: 8, total: 8 });
        assert_eq!(s.phase, None);
    }

    #[test]
    fn kernel_compilation_is_shown_and_left_out_of_the_pace() {
        let mut s = planned();
        s.apply(&Event::RunEnded { run: 0, status: RunStatus::Done, reason: None, seconds: 30.0 });
        s.apply(&Event::RunStarted { run: 1, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        s.apply(&Event::Compiling { run: Some(1), training: true, batch: 32, tokens: 64, shapes: 1 });
        s.tick(Duration::from_secs(60));
        let c = s.compiling.expect("compiling is shown until the step ends");
        assert_eq!((c.batch, c.tokens, c.shapes, c.seconds), (32, 64, 1, 60.0));
        s.apply(&step(1, 1, 10));
        assert_eq!(s.compiling, None);
        assert_eq!(s.runs[1].pace(), None, "the only step so far compiled: no pace yet");
        s.tick(Duration::from_secs(4));
        s.apply(&step(1, 3, 10));
        // 2 s/step from the two steps that did not compile: 14 s left, not 7 x 64/3.
        assert_eq!(s.runs[1].eta(), Some(14.0));
        // During an evaluation: the batch that compiled is left out of the phase's pace too.
        s.apply(&Event::Progress { run: Some(1), phase: Phase::Evaluation, done: 0, total: 5 });
        s.apply(&Event::Compiling { run: Some(1), training: false, batch: 32, tokens: 32, shapes: 2 });
        s.tick(Duration::from_secs(20));
        s.apply(&Event::Progress { run: Some(1), phase: Phase::Evaluation, done: 1, total: 5 });
        s.tick(Duration::from_secs(1));
        s.apply(&Event::Progress { run: Some(1), phase: Phase::Evaluation, done: 2, total: 5 });
        assert_eq!(s.phase.and_then(|p| p.eta()), Some(3.0));
        assert_eq!(s.runs[1].compile_seconds, 80.0);
    }

    #[test]
    fn best_counts_only_finished_students_and_epochs_are_honest() {
        let mut s = planned();
        s.apply(&Event::Epoch { run: 1, record: record(0, 0.5) });
        s.apply(&Event::Epoch { run: 1, record: record(1, 0.8) });
        s.apply(&Event::Epoch { run: 1, record: record(2, 0.7) });
        s.apply(&Event::RunEnded { run: 1, status: RunStatus::Done, reason: None, seconds: 1.0 });
        s.apply(&Event::Epoch { run: 2, record: record(0, 0.5) });
        s.apply(&Event::Epoch { run: 2, record: record(1, 0.9) });
        s.apply(&Event::RunEnded { run: 2, status: RunStatus::Skipped, reason: None, seconds: 1.0 });
        assert_eq!(s.best_accuracy(), Some(0.7), "a skipped run is never best");
        assert_eq!(s.runs[1].best_epoch().map(|e| e.epoch), Some(1));
        assert_eq!(s.runs[1].trained_epochs(), 2);
        // A resumed run sends its epochs again: no duplicates.
        s.apply(&Event::Epoch { run: 1, record: record(1, 0.8) });
        assert_eq!(s.runs[1].epochs.len(), 3);
    }

    #[test]
    fn the_log_counts_warnings_and_stays_where_scrolled() {
        let mut s = planned();
        for i in 0..20 {
            s.apply(&Event::Log {
                level: if i % 5 == 0 { Level::Warn } else { Level::Info },
                text: format!("line {i}"),
            });
        }
        assert_eq!(s.warnings, 4);
        s.key(key(KeyCode::PageUp));
        assert_eq!(s.view.log_scroll, 5);
        s.apply(&Event::Log { level: Level::Info, text: "new".into() });
        assert_eq!(s.view.log_scroll, 6, "the lines being read stay in view");
        s.key(key(KeyCode::End));
        assert_eq!(s.view.log_scroll, 0);
    }
}

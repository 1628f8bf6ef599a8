//! What the monitor shows, built from engine events and keys; no terminal here, so it is
//! tested directly and rendered by [`super::view`].

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use crate::engine::events::{EpochRecord, Event, Level, RunKind, RunLabel, RunStatus};

/// Loss history kept per run for the sparklines (older points are dropped).
pub const HISTORY: usize = 4000;
const LOG_LINES: usize = 200;

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
    pub loss: VecDeque<f64>,
    pub ce: VecDeque<f64>,
    pub kl: VecDeque<f64>,
    pub cosine: VecDeque<f64>,
    /// Active time (pauses excluded).
    pub seconds: f64,
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
            loss: VecDeque::new(),
            ce: VecDeque::new(),
            kl: VecDeque::new(),
            cosine: VecDeque::new(),
            seconds: 0.0,
        }
    }

    pub fn last(&self) -> Option<&EpochRecord> {
        self.epochs.last()
    }

    /// Seconds left in this run, from its pace so far.
    pub fn eta(&self) -> Option<f64> {
        (self.status == RunStatus::Running && self.step > 0 && self.steps_total > 0)
            .then(|| self.seconds / self.step as f64 * (self.steps_total - self.step) as f64)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartMode {
    /// The selected run's training loss and its CE / KL / cosine parts.
    LossParts,
    /// Every run's validation accuracy per epoch.
    AllRuns,
}

/// What a key asks the engine to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Pause(bool),
    Skip,
    Quit,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    pub experiment: String,
    pub device: String,
    pub teacher_layers: usize,
    pub runs: Vec<RunView>,
    pub logs: VecDeque<(Level, String)>,
    pub selected: usize,
    pub chart: ChartMode,
    pub help: bool,
    pub confirm_quit: bool,
    pub paused: bool,
    pub quitting: bool,
    pub finished: bool,
    pub results_dir: Option<PathBuf>,
    /// Active time since start (pauses excluded).
    pub elapsed: Duration,
    /// The run that is training now.
    pub current: Option<usize>,
    /// Set when something visible changed; the app redraws and clears it.
    pub dirty: bool,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            experiment: String::new(),
            device: String::new(),
            teacher_layers: 0,
            runs: vec![],
            logs: VecDeque::new(),
            selected: 0,
            chart: ChartMode::LossParts,
            help: false,
            confirm_quit: false,
            paused: false,
            quitting: false,
            finished: false,
            results_dir: None,
            elapsed: Duration::ZERO,
            current: None,
            dirty: true,
        }
    }
}

fn push(v: &mut VecDeque<f64>, x: f64) {
    if v.len() == HISTORY {
        v.pop_front();
    }
    v.push_back(x);
}

impl AppState {
    pub fn apply(&mut self, event: &Event) {
        self.dirty = true;
        match event {
            Event::Plan { experiment, backend, teacher_layers, runs } => {
                self.experiment = experiment.clone();
                self.teacher_layers = *teacher_layers;
                self.device = backend.device.clone();
                self.runs = runs.iter().cloned().map(RunView::new).collect();
            }
            Event::Log { level, text } => {
                if self.logs.len() == LOG_LINES {
                    self.logs.pop_front();
                }
                self.logs.push_back((*level, text.clone()));
            }
            Event::RunStarted { run, epochs, steps_per_epoch, .. } => {
                if let Some(r) = self.runs.get_mut(*run) {
                    r.status = RunStatus::Running;
                    r.epochs_total = *epochs;
                    r.steps_total = epochs * steps_per_epoch;
                }
                // Follow the work unless the user picked another run.
                if self.current.is_none_or(|c| c == self.selected) {
                    self.selected = *run;
                }
                self.current = Some(*run);
            }
            Event::Step(s) => {
                if let Some(r) = self.runs.get_mut(s.run) {
                    r.step = s.step;
                    r.steps_total = s.steps_total;
                    r.epoch = s.epoch;
                    r.examples_per_s = if r.examples_per_s == 0.0 { s.examples_per_s } else { 0.9 * r.examples_per_s + 0.1 * s.examples_per_s };
                    push(&mut r.loss, s.loss.total);
                    push(&mut r.ce, s.loss.ce);
                    push(&mut r.kl, s.loss.kl);
                    push(&mut r.cosine, s.loss.cosine);
                }
            }
            Event::Epoch { run, record } => {
                if let Some(r) = self.runs.get_mut(*run) {
                    r.epochs.push(record.clone());
                }
            }
            Event::RunEnded { run, status, reason, seconds } => {
                if let Some(r) = self.runs.get_mut(*run) {
                    r.status = *status;
                    r.reason = reason.clone();
                    if *seconds > 0.0 {
                        r.seconds = *seconds;
                    }
                }
                if *status == RunStatus::Failed {
                    let name = self.runs.get(*run).map(|r| r.label.name.clone()).unwrap_or_default();
                    self.logs.push_back((Level::Warn, format!("{name} failed: {}", reason.clone().unwrap_or_default())));
                }
            }
            Event::Finished { results_dir } => {
                self.finished = true;
                self.current = None;
                self.results_dir = Some(results_dir.clone());
            }
        }
    }

    /// Adds active time (call with the wall time since the last tick; nothing counts while paused).
    pub fn tick(&mut self, dt: Duration) {
        if self.paused || self.finished {
            return;
        }
        self.elapsed += dt;
        if let Some(r) = self.current.and_then(|c| self.runs.get_mut(c))
            && r.status == RunStatus::Running
        {
            r.seconds += dt.as_secs_f64();
        }
    }

    /// Runs that are over (done, skipped or failed) and the total.
    pub fn progress(&self) -> (usize, usize) {
        let over = self.runs.iter().filter(|r| matches!(r.status, RunStatus::Done | RunStatus::Skipped | RunStatus::Failed)).count();
        (over, self.runs.len())
    }

    /// Seconds left for the whole matrix: the current run's remainder plus, for each run not
    /// started, the time a finished student run took (or the current one's projected total).
    pub fn eta(&self) -> Option<f64> {
        if self.finished {
            return Some(0.0);
        }
        let cur = self.current.and_then(|c| self.runs.get(c))?;
        let current_left = cur.eta()?;
        let per_student = self
            .runs
            .iter()
            .filter(|r| r.label.kind == RunKind::Student && r.status == RunStatus::Done)
            .map(|r| r.seconds)
            .next_back()
            .or_else(|| (cur.label.kind == RunKind::Student).then(|| cur.seconds + current_left))?;
        let pending = self.runs.iter().filter(|r| r.status == RunStatus::Pending && r.label.kind == RunKind::Student).count();
        Some(current_left + pending as f64 * per_student)
    }

    /// Handles a key; returns what the engine must be told.
    pub fn key(&mut self, key: KeyEvent) -> Option<Command> {
        self.dirty = true;
        let ctrl_c = key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl_c {
            self.quitting = true;
            return Some(Command::Quit);
        }
        if self.confirm_quit {
            self.confirm_quit = false;
            if matches!(key.code, KeyCode::Char('y') | KeyCode::Char('Y') | KeyCode::Enter) {
                self.quitting = true;
                return Some(Command::Quit);
            }
            return None;
        }
        if self.help {
            self.help = false;
            return None;
        }
        match key.code {
            KeyCode::Char('q') | KeyCode::Esc => {
                if self.finished {
                    self.quitting = true;
                    Some(Command::Quit)
                } else {
                    self.confirm_quit = true;
                    None
                }
            }
            KeyCode::Char('p') | KeyCode::Char(' ') if !self.finished => {
                self.paused = !self.paused;
                Some(Command::Pause(self.paused))
            }
            KeyCode::Char('s') if !self.finished && self.current.is_some() => Some(Command::Skip),
            KeyCode::Down | KeyCode::Char('j') => {
                if self.selected + 1 < self.runs.len() {
                    self.selected += 1;
                }
                None
            }
            KeyCode::Up | KeyCode::Char('k') => {
                self.selected = self.selected.saturating_sub(1);
                None
            }
            KeyCode::Tab => {
                self.chart = match self.chart {
                    ChartMode::LossParts => ChartMode::AllRuns,
                    ChartMode::AllRuns => ChartMode::LossParts,
                };
                None
            }
            KeyCode::Char('?') => {
                self.help = true;
                None
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendInfo;
    use crate::distill::loss::LossValues;
    use crate::engine::events::StepEvent;

    fn key(c: KeyCode) -> KeyEvent {
        KeyEvent::new(c, KeyModifiers::NONE)
    }

    fn planned() -> AppState {
        let mut s = AppState::default();
        let label = |kind, name: &str, layers: Vec<usize>| RunLabel { kind, name: name.into(), seed: 42, teacher_layers: layers };
        s.apply(&Event::Plan {
            experiment: "x".into(),
            backend: BackendInfo { name: "cpu", device: "CPU".into() },
            teacher_layers: 4,
            runs: vec![label(RunKind::Teacher, "Teacher fine-tune", vec![]), label(RunKind::Student, "Top", vec![1, 2]), label(RunKind::Student, "Odd", vec![1, 3])],
        });
        s
    }

    fn step(run: usize, step: usize, total: usize) -> Event {
        Event::Step(StepEvent { run, epoch: 1, step, steps_total: total, loss: LossValues { total: 1.0, ce: 0.5, kl: 0.2, cosine: 0.3 }, lr: 1e-3, examples_per_s: 10.0 })
    }

    #[test]
    fn pause_resume_skip_and_quit_confirmation() {
        let mut s = planned();
        s.apply(&Event::RunStarted { run: 0, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        assert_eq!(s.key(key(KeyCode::Char('p'))), Some(Command::Pause(true)));
        assert!(s.paused);
        s.tick(Duration::from_secs(5));
        assert_eq!(s.elapsed, Duration::ZERO, "the clock stops while paused");
        assert_eq!(s.key(key(KeyCode::Char('p'))), Some(Command::Pause(false)));
        s.tick(Duration::from_secs(5));
        assert_eq!(s.elapsed, Duration::from_secs(5));
        assert_eq!(s.key(key(KeyCode::Char('s'))), Some(Command::Skip));
        assert_eq!(s.key(key(KeyCode::Char('q'))), None, "quit asks first");
        assert!(s.confirm_quit);
        assert_eq!(s.key(key(KeyCode::Char('n'))), None);
        assert!(!s.confirm_quit && !s.quitting);
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
        assert_eq!(s.key(key(KeyCode::Char('q'))), Some(Command::Quit));
    }

    #[test]
    fn selection_follows_the_work_and_tab_switches_charts() {
        let mut s = planned();
        s.apply(&Event::RunStarted { run: 1, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        assert_eq!(s.selected, 1);
        s.key(key(KeyCode::Char('k')));
        assert_eq!(s.selected, 0);
        s.apply(&Event::RunStarted { run: 2, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        assert_eq!(s.selected, 0, "a run the user picked stays selected");
        s.key(key(KeyCode::Down));
        s.key(key(KeyCode::Down));
        s.key(key(KeyCode::Down));
        assert_eq!(s.selected, 2);
        s.key(key(KeyCode::Tab));
        assert_eq!(s.chart, ChartMode::AllRuns);
        s.key(key(KeyCode::Char('?')));
        assert!(s.help);
        s.key(key(KeyCode::Char('x')));
        assert!(!s.help);
    }

    #[test]
    fn eta_from_the_pace_of_the_current_run() {
        let mut s = planned();
        s.apply(&Event::RunEnded { run: 0, status: RunStatus::Done, reason: None, seconds: 30.0 });
        s.apply(&Event::RunStarted { run: 1, epochs: 1, steps_per_epoch: 10, train_examples: 100 });
        s.tick(Duration::from_secs(4));
        s.apply(&step(1, 2, 10));
        // 2 s/step: 16 s left in this run, and one student (20 s) to go.
        assert_eq!(s.runs[1].eta(), Some(16.0));
        assert_eq!(s.eta(), Some(36.0));
        assert_eq!(s.progress(), (1, 3));
        assert_eq!(s.runs[1].loss.len(), 1);
    }
}

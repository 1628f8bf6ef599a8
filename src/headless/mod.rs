//! The headless front end: one line per epoch on stdout, warnings on stderr, and the final
//! table at the end. Used with `--headless` and whenever stdout is not a terminal.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::events::{Event, Level, Phase, RunLabel, RunStatus};
use crate::report::table::{fmt_layers, fmt_seconds};

/// Prints events as they come; a progress line at most every `progress_every` inside an epoch.
pub struct HeadlessPrinter<W: Write> {
    out: W,
    runs: Vec<RunLabel>,
    epochs: Vec<usize>,
    last_progress: Instant,
    progress_every: Duration,
    /// Set after a write failed (closed terminal or pipe): nothing more is printed.
    gone: bool,
}

impl<W: Write> HeadlessPrinter<W> {
    pub fn new(out: W) -> Self {
        Self {
            out,
            runs: vec![],
            epochs: vec![],
            last_progress: Instant::now(),
            progress_every: Duration::from_secs(30),
            gone: false,
        }
    }

    fn label(&self, run: usize) -> String {
        match self.runs.get(run) {
            Some(r) if r.teacher_layers.is_empty() => r.name.clone(),
            Some(r) => format!("{} seed {}", r.name, r.seed),
            None => format!("run {run}"),
        }
    }

    /// Prints one event. Write errors are ignored: a closed terminal or pipe must not stop
    /// training (results go to files either way).
    pub fn handle(&mut self, event: &Event) {
        if !self.gone {
            self.gone = self.write(event).is_err();
        }
    }

    /// A line of the front end's own (signals, a lost terminal).
    pub fn note(&mut self, text: &str) {
        if !self.gone {
            self.gone = writeln!(self.out, "{text}").and_then(|_| self.out.flush()).is_err();
        }
    }

    fn write(&mut self, event: &Event) -> std::io::Result<()> {
        match event {
            Event::Plan { experiment, backend, runs, .. } => {
                self.runs = runs.clone();
                self.epochs = vec![0; runs.len()];
                writeln!(self.out, "distill-tui: {experiment} on {} — {} runs", backend.device, runs.len())?;
                for (i, r) in runs.iter().enumerate() {
                    let layers = if r.teacher_layers.is_empty() {
                        String::new()
                    } else {
                        format!(" <- teacher layers {{{}}}", fmt_layers(&r.teacher_layers))
                    };
                    writeln!(self.out, "  {:>2}. {} (seed {}){layers}", i + 1, r.name, r.seed)?;
                }
            }
            Event::Log { level: Level::Info, text } => writeln!(self.out, "  {text}")?,
            Event::Log { level: Level::Warn, text } => {
                self.out.flush()?;
                // Not eprintln!: it panics when the terminal has gone away.
                let _ = writeln!(std::io::stderr(), "warning: {text}");
            }
            Event::RunStarted { run, epochs, steps_per_epoch, train_examples } => {
                if let Some(e) = self.epochs.get_mut(*run) {
                    *e = *epochs;
                }
                writeln!(
                    self.out,
                    "[{}/{}] {}: {epochs} epochs x {steps_per_epoch} steps on {train_examples} examples",
                    run + 1,
                    self.runs.len().max(run + 1),
                    self.label(*run)
                )?;
                self.last_progress = Instant::now();
            }
            Event::Step(s) => {
                if self.last_progress.elapsed() >= self.progress_every {
                    self.last_progress = Instant::now();
                    writeln!(
                        self.out,
                        "    step {}/{}  loss {:.4}  lr {:.2e}  {:.1} examples/s",
                        s.step, s.steps_total, s.loss.total, s.lr, s.examples_per_s
                    )?;
                }
            }
            Event::Progress { phase: Phase::TeacherOutputs, done, total, .. } => {
                if *done == 0 {
                    self.last_progress = Instant::now();
                    writeln!(self.out, "  {} for the students ({total} batches)", Phase::TeacherOutputs.describe())?;
                } else if self.last_progress.elapsed() >= self.progress_every {
                    self.last_progress = Instant::now();
                    writeln!(self.out, "    batch {done}/{total}")?;
                }
            }
            Event::Progress { .. } => {}
            Event::Epoch { run, record: r } => {
                let total = self.epochs.get(*run).copied().unwrap_or(0);
                let train = match (r.train_loss, r.train_kl, r.train_cosine) {
                    (None, _, _) => "(before training)".to_string(),
                    (Some(t), Some(kl), Some(cos)) => {
                        format!("train {t:.4} (ce {:.4} kl {kl:.4} cos {cos:.4})", r.train_ce.unwrap_or(f64::NAN))
                    }
                    (Some(t), _, _) => format!("train {t:.4}"),
                };
                writeln!(
                    self.out,
                    "  {}  epoch {}/{total}  {train}  val loss {:.4}  val acc {:.4}",
                    self.label(*run),
                    r.epoch,
                    r.validation_loss,
                    r.validation_accuracy
                )?;
            }
            Event::RunEnded { run, status, reason, seconds } => {
                let why = reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                let what = match status {
                    RunStatus::Done => "done",
                    RunStatus::Skipped => "skipped",
                    RunStatus::Failed => "FAILED",
                    RunStatus::Pending => "not started",
                    RunStatus::Stopped => "stopped",
                    RunStatus::Running => "running",
                };
                writeln!(self.out, "  {} {what} in {}{why}", self.label(*run), fmt_seconds(*seconds))?;
            }
            Event::Finished { .. } => {}
        }
        self.out.flush()
    }
}

//! The headless front end: one line per epoch on stdout, warnings on stderr, and the final
//! table at the end. Used with `--headless` and whenever stdout is not a terminal.

use std::io::Write;
use std::time::{Duration, Instant};

use crate::events::{EpochRecord, Event, Level, Phase, RunLabel, RunStatus};
use crate::text::{fmt_layers, fmt_seconds};

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
            Event::Plan { experiment, backend, runs, .. } => self.plan(experiment, &backend.describe(), runs)?,
            Event::Log { level: Level::Info, text } => writeln!(self.out, "  {text}")?,
            Event::Log { level: Level::Warn, text } => {
                self.out.flush()?;
                // Not eprintln!: it panics when the terminal has gone away.
                let _ = writeln!(std::io::stderr(), "warning: {text}");
            }
            Event::RunStarted { run, epochs, steps_per_epoch, train_examples } => {
                self.run_started(*run, *epochs, *steps_per_epoch, *train_examples)?
            }
            Event::Step(s) => {
                if self.due() {
                    let (step, total, loss, lr, pace) = (s.step, s.steps_total, s.loss.total, s.lr, s.examples_per_s);
                    writeln!(self.out, "    step {step}/{total}  loss {loss:.4}  lr {lr:.2e}  {pace:.1} examples/s")?;
                }
            }
            Event::Progress { phase: Phase::TeacherOutputs, done, total, .. } => {
                if *done == 0 {
                    self.last_progress = Instant::now();
                    writeln!(self.out, "  {} for the students ({total} batches)", Phase::TeacherOutputs.describe())?;
                } else if self.due() {
                    writeln!(self.out, "    batch {done}/{total}")?;
                }
            }
            Event::Compiling { training, batch, tokens, shapes, .. } => writeln!(
                self.out,
                "  compiling GPU kernels for {} on {batch}x{tokens} tokens (shape {shapes}): seconds to a minute, once",
                if *training { "training" } else { "inference" }
            )?,
            Event::Progress { .. } | Event::Finished { .. } => {}
            Event::Epoch { run, record } => self.epoch(*run, record)?,
            Event::RunEnded { run, status, reason, seconds } => {
                let why = reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
                let what = match status {
                    RunStatus::Failed => "FAILED",
                    RunStatus::Pending => "not started",
                    other => other.as_str(),
                };
                writeln!(self.out, "  {} {what} in {}{why}", self.label(*run), fmt_seconds(*seconds))?;
            }
        }
        self.out.flush()
    }

    /// Whether a progress line is due (at most one per `progress_every`).
    fn due(&mut self) -> bool {
        let due = self.last_progress.elapsed() >= self.progress_every;
        if due {
            self.last_progress = Instant::now();
        }
        due
    }

    fn plan(&mut self, experiment: &str, device: &str, runs: &[RunLabel]) -> std::io::Result<()> {
        self.runs = runs.to_vec();
        self.epochs = vec![0; runs.len()];
        writeln!(self.out, "distill-tui: {experiment} on {device} — {} runs", runs.len())?;
        for (i, r) in runs.iter().enumerate() {
            let layers = match r.teacher_layers.is_empty() {
                true => String::new(),
                false => format!(" <- teacher layers {{{}}}", fmt_layers(&r.teacher_layers)),
            };
            writeln!(self.out, "  {:>2}. {} (seed {}){layers}", i + 1, r.name, r.seed)?;
        }
        Ok(())
    }

    fn run_started(&mut self, run: usize, epochs: usize, steps: usize, examples: usize) -> std::io::Result<()> {
        if let Some(e) = self.epochs.get_mut(run) {
            *e = epochs;
        }
        let (n, of) = (run + 1, self.runs.len().max(run + 1));
        let label = self.label(run);
        writeln!(self.out, "[{n}/{of}] {label}: {epochs} epochs x {steps} steps on {examples} examples")?;
        self.last_progress = Instant::now();
        Ok(())
    }

    fn epoch(&mut self, run: usize, r: &EpochRecord) -> std::io::Result<()> {
        let total = self.epochs.get(run).copied().unwrap_or(0);
        let train = match (r.train_loss, r.train_kl, r.train_cosine) {
            (None, _, _) => "(before training)".to_string(),
            (Some(t), Some(kl), Some(cos)) => {
                format!("train {t:.4} (ce {:.4} kl {kl:.4} cos {cos:.4})", r.train_ce.unwrap_or(f64::NAN))
            }
            (Some(t), _, _) => format!("train {t:.4}"),
        };
        let (label, epoch) = (self.label(run), r.epoch);
        let (loss, acc) = (r.validation_loss, r.validation_accuracy);
        writeln!(self.out, "  {label}  epoch {epoch}/{total}  {train}  val loss {loss:.4}  val acc {acc:.4}")
    }
}

//! `distill-tui try [DIR]`: the teacher and every saved student of an experiment side by side
//! on your own sentences, in the terminal. The models load in the background (each row says
//! how far), a model that cannot load shows why in its row, and the others still answer.

pub mod state;
pub mod view;
pub mod worker;

use std::path::Path;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

use crate::backend::{BackendChoice, run_on};
use crate::error::{Error, Result};
use crate::events::RunStatus;
use crate::experiment::tasks::Task;
use crate::hub::HubSettings;
use crate::text::fmt_layers_compact;
use state::{ModelRow, RowStatus, TryState};
use worker::{Reply, Request, Worker};

/// What `try` opens: the title, whether inputs are pairs (and their names), the models.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    pub title: String,
    pub pair: bool,
    pub input_names: [String; 2],
    /// (name on screen, folder or Hub id), the reference (the teacher) first.
    pub models: Vec<(String, String)>,
}

impl Session {
    /// The teacher and every student that finished in the experiment folder `dir`, in the
    /// results table's order. A student not finished yet is left out; one whose folder is gone
    /// shows its error in its row.
    pub fn of_experiment(dir: &Path) -> Result<Self> {
        let results = crate::workspace::results::open_results(dir)?;
        let teacher = match &results.teacher.record.checkpoint {
            Some(c) => dir.join(c).display().to_string(),
            None => results.teacher.model.clone(),
        };
        let mut models = vec![(format!("Teacher ({} layers)", results.teacher.num_layers), teacher)];
        for r in &results.runs {
            if r.record.status != RunStatus::Done {
                continue;
            }
            let Some(c) = &r.record.checkpoint else { continue };
            let seeds = results.runs.iter().filter(|o| o.name == r.name).count();
            let seed = if seeds > 1 { format!(" seed {}", r.seed) } else { String::new() };
            let name = format!("{} {{{}}}{seed}", r.name, fmt_layers_compact(&r.teacher_layers));
            models.push((name, dir.join(c).display().to_string()));
        }
        if models.len() == 1 {
            return Err(Error::Input(format!(
                "{}: no student has finished yet; try it once a run is done, or give models with --model",
                dir.display()
            )));
        }
        let task = Task::by_name(&results.data.task);
        Ok(Self::for_task(results.experiment.clone(), task, models))
    }

    /// Models given by hand (`--model`), the first as the reference.
    pub fn of_models(models: &[String]) -> Self {
        let named = models.iter().map(|m| (m.clone(), m.clone())).collect();
        Self::for_task("models".into(), None, named)
    }

    fn for_task(title: String, task: Option<&Task>, models: Vec<(String, String)>) -> Self {
        let columns = task.map(|t| t.text_columns).unwrap_or(&["sentence"]);
        let pair = columns.len() > 1;
        let name = |i: usize| columns.get(i).map(|c| c.to_string()).unwrap_or_default();
        let title = match task {
            Some(t) => format!("{title} · {}", t.name),
            None => title,
        };
        Self { title, pair, input_names: [name(0), name(1)], models }
    }
}

/// Opens the screen; returns when the user leaves.
pub fn run(session: Session, backend: BackendChoice, hub: HubSettings) -> Result<()> {
    if !crate::tui::app::terminal_available() {
        return Err(Error::Input("try needs a terminal; to classify from a script, use `distill-tui predict`".into()));
    }
    let (req_tx, req_rx) = std::sync::mpsc::channel::<Request>();
    let (rep_tx, rep_rx) = std::sync::mpsc::channel::<Reply>();
    let worker =
        Worker { models: session.models.iter().map(|m| m.1.clone()).collect(), hub, requests: req_rx, replies: rep_tx };
    let thread = std::thread::Builder::new()
        .name("distill-try".into())
        .spawn(move || run_on(backend, worker))
        .map_err(|e| Error::Internal(format!("cannot start the models' thread: {e}")))?;
    let rows = session
        .models
        .iter()
        .map(|(name, source)| ModelRow {
            name: name.clone(),
            source: source.clone(),
            status: RowStatus::Queued,
            labels: vec![],
            answer: None,
            error: None,
        })
        .collect();
    let mut state = TryState::new(session.title, session.pair, session.input_names, rows);
    let mut terminal = ratatui::try_init().map_err(|e| Error::Internal(format!("cannot set up the terminal: {e}")))?;
    let outcome = event_loop(&mut terminal, &mut state, &rep_rx, &req_tx);
    drop(terminal);
    let _ = ratatui::try_restore();
    drop(req_tx);
    drop(rep_rx);
    // The backend could not start (no GPU driver, say): that is the error to show. A worker still
    // loading a model is not waited for: leaving is at once, and the process ends with it.
    let started = std::time::Instant::now();
    while !thread.is_finished() && started.elapsed() < Duration::from_millis(300) {
        std::thread::sleep(Duration::from_millis(10));
    }
    if thread.is_finished()
        && let Ok(Err(e)) = thread.join()
    {
        return Err(e);
    }
    outcome
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    state: &mut TryState,
    replies: &Receiver<Reply>,
    requests: &Sender<Request>,
) -> Result<()> {
    let mut dirty = true;
    while !state.quit {
        // Every reply waiting (none once the worker has gone).
        while let Ok(r) = replies.try_recv() {
            state.apply(r);
            dirty = true;
        }
        if dirty {
            terminal.draw(|f| view::draw(f, state)).map_err(|e| Error::Internal(format!("cannot draw: {e}")))?;
            dirty = false;
        }
        // Every key already typed (a paste is many) before the next drawing.
        let mut wait = Duration::from_millis(50);
        while event::poll(wait).map_err(|e| Error::Internal(format!("terminal: {e}")))? {
            wait = Duration::ZERO;
            match event::read().map_err(|e| Error::Internal(format!("terminal: {e}")))? {
                TermEvent::Key(k) if k.kind == KeyEventKind::Press => {
                    if let Some(req) = state.key(k) {
                        let _ = requests.send(req);
                    }
                    dirty = true;
                }
                TermEvent::Resize(..) => dirty = true,
                _ => {}
            }
            if state.quit {
                break;
            }
        }
    }
    Ok(())
}

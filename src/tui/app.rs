//! The monitor's loop: terminal setup and restore, engine events in, keys out, redraws at a
//! bounded rate and only when something changed.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

use super::state::{AppState, Command};
use super::view::draw;
use crate::engine::events::{Control, Event};
use crate::error::{Error, Result};

/// At most this many frames per second.
const MAX_FPS: u64 = 15;

/// Whether the monitor can run here: stdout and stdin are terminals.
pub fn terminal_available() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// Runs the monitor until the user leaves. Returns when the engine has stopped (finished, quit
/// or failed) and, if it finished, the user pressed q.
pub fn run(rx: Receiver<Event>, control: Arc<Control>) -> Result<()> {
    // ratatui::init switches to raw mode and the alternate screen and installs a panic hook
    // that restores the terminal before the panic message is printed.
    let mut terminal = ratatui::try_init().map_err(|e| Error::Internal(format!("cannot set up the terminal: {e}")))?;
    let result = event_loop(&mut terminal, rx, &control);
    ratatui::restore();
    result
}

fn event_loop(terminal: &mut ratatui::DefaultTerminal, rx: Receiver<Event>, control: &Control) -> Result<()> {
    let mut state = AppState::default();
    let frame_time = Duration::from_millis(1000 / MAX_FPS);
    let mut last_tick = Instant::now();
    let mut last_draw = Instant::now() - frame_time;
    let mut engine_done = false;
    loop {
        // Engine events: take all that are waiting.
        loop {
            match rx.try_recv() {
                Ok(e) => state.apply(&e),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    engine_done = true;
                    break;
                }
            }
        }
        let now = Instant::now();
        let before = state.elapsed.as_secs();
        state.tick(now - last_tick);
        last_tick = now;
        if state.elapsed.as_secs() != before {
            state.dirty = true; // the clock and ETA move once a second
        }
        if engine_done && (state.quitting || !state.finished) {
            return Ok(());
        }
        if state.dirty && last_draw.elapsed() >= frame_time {
            terminal.draw(|f| draw(f, &state)).map_err(|e| Error::Internal(format!("drawing: {e}")))?;
            state.dirty = false;
            last_draw = Instant::now();
        }
        if event::poll(Duration::from_millis(30)).map_err(|e| Error::Internal(format!("reading keys: {e}")))? {
            match event::read().map_err(|e| Error::Internal(format!("reading keys: {e}")))? {
                TermEvent::Key(k) if k.kind == KeyEventKind::Press => match state.key(k) {
                    Some(Command::Pause(p)) => control.set_paused(p),
                    Some(Command::Skip) => control.skip_current(),
                    Some(Command::Quit) => {
                        control.quit();
                        control.set_paused(false);
                        if state.finished {
                            return Ok(());
                        }
                    }
                    None => {}
                },
                TermEvent::Resize(_, _) => state.dirty = true,
                _ => {}
            }
        }
    }
}

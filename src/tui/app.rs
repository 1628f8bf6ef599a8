//! The monitor's loop: terminal setup and restore, engine events in, keys out, redraws at a
//! bounded rate and only when something changed.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

use super::state::{AppState, Command};
use super::sysinfo::Sampler;
use super::view::draw;
use crate::error::{Error, Result};
use crate::events::{BackendKind, Control, Event, Level};
use crate::signals::{Signals, StopSignal};

/// At most this many frames per second: on a 2-core machine every wakeup of the UI thread
/// can stall a parallel tensor operation, so the monitor draws sparingly.
const MAX_FPS: u64 = 8;

/// Whether the monitor can run here: stdout and stdin are terminals.
pub fn terminal_available() -> bool {
    std::io::stdout().is_terminal() && std::io::stdin().is_terminal()
}

/// How the monitor ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MonitorExit {
    /// The user left (q once the matrix is over, or a confirmed quit); the engine has stopped.
    Closed,
    /// SIGTERM or SIGINT: the engine stopped after its current step and wrote its results.
    Signal(StopSignal),
    /// The terminal went away (SIGHUP, or it could no longer be read or drawn): the engine is
    /// still running and the caller goes on without a screen.
    Detached(String),
}

/// Runs the monitor until the user leaves, a stop signal has been honoured, or the terminal is
/// gone. The terminal is restored in every case (a panic hook covers panics).
pub fn run(rx: &Receiver<Event>, control: Arc<Control>, signals: &Signals) -> Result<MonitorExit> {
    // try_init switches to raw mode and the alternate screen and installs a panic hook that
    // restores the terminal before the panic message is printed.
    let mut terminal = ratatui::try_init().map_err(|e| Error::Internal(format!("cannot set up the terminal: {e}")))?;
    let mut resized = false;
    let exit = event_loop(&mut terminal, rx, &control, signals, &mut resized);
    if matches!(exit, MonitorExit::Detached(_)) {
        // The terminal is gone: ratatui's Terminal (on drop) and its panic hook print their
        // errors with eprintln!, which panics when stderr is the dead terminal. Restore what
        // can be restored and keep both away.
        let _ = ratatui::try_restore();
        std::mem::forget(terminal);
        let _ = std::panic::take_hook();
    } else {
        drop(terminal);
        let _ = ratatui::try_restore();
        if resized {
            // Some terminals (tmux among them) bring back the normal screen with parts of the
            // monitor's last frame after a resize; what is printed next starts on a clean one.
            use std::io::Write;
            let mut out = std::io::stdout();
            let _ = out.write_all(b"\x1b[2J\x1b[H").and_then(|_| out.flush());
        }
    }
    Ok(exit)
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    rx: &Receiver<Event>,
    control: &Control,
    signals: &Signals,
    resized: &mut bool,
) -> MonitorExit {
    let mut state =
        AppState { no_color: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()), ..AppState::default() };
    let mut sampler: Option<Sampler> = None;
    let mut last_sample = Instant::now();
    let mut stopped_by: Option<StopSignal> = None;
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
        if let (None, Some(kind)) = (&sampler, state.backend) {
            sampler = Some(Sampler::new(kind == BackendKind::Cuda));
        }
        if let Some(sm) = sampler.as_mut().filter(|_| now - last_sample >= Duration::from_secs(1)) {
            state.sys = sm.sample();
            last_sample = now;
        }
        let before = state.elapsed.as_secs();
        state.tick(now - last_tick);
        last_tick = now;
        if state.elapsed.as_secs() != before {
            state.dirty = true; // the clock and ETA move once a second
        }
        if signals.take_hangup() {
            return MonitorExit::Detached("the terminal hung up (SIGHUP)".into());
        }
        if let (None, Some(sig)) = (stopped_by, signals.stop()) {
            stopped_by = Some(sig);
            control.quit();
            control.set_paused(false);
            state.quitting = true;
            state.confirm_quit = false;
            let text = format!("{}: stopping after the current step and writing results", sig.name());
            state.apply(&Event::Log { level: Level::Warn, text });
        }
        if engine_done && (state.quitting || !state.finished) {
            return stopped_by.map_or(MonitorExit::Closed, MonitorExit::Signal);
        }
        if state.dirty && last_draw.elapsed() >= frame_time {
            if let Err(e) = terminal.draw(|f| draw(f, &state)) {
                return MonitorExit::Detached(format!("cannot draw on the terminal: {e}"));
            }
            state.dirty = false;
            last_draw = Instant::now();
        }
        // Wait for input with poll(2) first: crossterm spins forever reading a terminal that
        // hung up, so it is only asked once the terminal is known to be alive. Then take every
        // event crossterm has: one read can hold several keys, and resizes come by signal.
        if let Err(why) = wait_for_input(100) {
            return MonitorExit::Detached(why);
        }
        loop {
            match event::poll(Duration::ZERO) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return MonitorExit::Detached(format!("cannot read the terminal: {e}")),
            }
            let ev = match event::read() {
                Ok(ev) => ev,
                Err(e) => return MonitorExit::Detached(format!("cannot read the terminal: {e}")),
            };
            match ev {
                TermEvent::Key(k) if k.kind == KeyEventKind::Press => match state.key(k) {
                    Some(Command::Pause(p)) => control.set_paused(p),
                    Some(Command::Skip) => control.skip_current(),
                    Some(Command::Quit) => {
                        control.quit();
                        control.set_paused(false);
                        if state.finished {
                            return MonitorExit::Closed;
                        }
                    }
                    None => {}
                },
                TermEvent::Resize(_, _) => {
                    state.dirty = true;
                    *resized = true;
                }
                _ => {}
            }
        }
    }
}

/// Waits up to `ms` milliseconds for input on stdin (the terminal). `Err` when the terminal is
/// gone: hung up, closed or in error.
fn wait_for_input(ms: i32) -> std::result::Result<bool, String> {
    let mut fd = libc::pollfd { fd: libc::STDIN_FILENO, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd, count 1.
    let n = unsafe { libc::poll(&mut fd, 1, ms) };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        return if e.kind() == std::io::ErrorKind::Interrupted {
            Ok(false)
        } else {
            Err(format!("cannot wait for the terminal: {e}"))
        };
    }
    if fd.revents & (libc::POLLHUP | libc::POLLERR | libc::POLLNVAL) != 0 {
        return Err("the terminal hung up".into());
    }
    Ok(fd.revents & libc::POLLIN != 0)
}

//! The monitor's loop: terminal setup and restore, engine events in, keys out, redraws at a
//! bounded rate and only when something changed.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent, KeyEventKind};

use super::state::{AppState, Command, ViewState};
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
    /// The user asked for the `try` screen once the matrix was over.
    Try,
    /// SIGTERM or SIGINT: the engine stopped after its current step and wrote its results.
    Signal(StopSignal),
    /// The terminal went away (SIGHUP, or it could no longer be read or drawn): the engine is
    /// still running and the caller goes on without a screen.
    Detached(String),
}

/// Runs the monitor until the user leaves, a stop signal has been honoured, or the terminal is
/// gone. The terminal is restored in every case (a panic hook covers panics).
pub fn run(rx: &Receiver<Event>, control: Arc<Control>, signals: &Signals) -> Result<MonitorExit> {
    monitor(rx, control, signals, false)
}

/// The monitor of `watch`: read-only, and `q` leaves at once (the run goes on).
pub fn watch(rx: &Receiver<Event>, control: Arc<Control>, signals: &Signals) -> Result<MonitorExit> {
    monitor(rx, control, signals, true)
}

fn monitor(rx: &Receiver<Event>, control: Arc<Control>, signals: &Signals, watching: bool) -> Result<MonitorExit> {
    // try_init switches to raw mode and the alternate screen and installs a panic hook that
    // restores the terminal before the panic message is printed.
    let mut terminal = ratatui::try_init().map_err(|e| Error::Internal(format!("cannot set up the terminal: {e}")))?;
    let mut resized = false;
    let exit = event_loop(&mut terminal, rx, &control, signals, &mut resized, watching);
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
    watching: bool,
) -> MonitorExit {
    let mut m = Monitor::new();
    m.state.watching = watching;
    loop {
        m.take_events(rx);
        m.tick();
        if let Some(exit) = m.signals(signals, control) {
            return exit;
        }
        if m.engine_done && (m.state.quitting || !m.state.finished) {
            return m.stopped_by.map_or(MonitorExit::Closed, MonitorExit::Signal);
        }
        if let Err(e) = m.draw(terminal) {
            return MonitorExit::Detached(format!("cannot draw on the terminal: {e}"));
        }
        // Wait for input with poll(2) first: crossterm spins forever reading a terminal that
        // hung up, so it is only asked once the terminal is known to be alive.
        if let Err(why) = wait_for_input(100) {
            return MonitorExit::Detached(why);
        }
        if let Some(exit) = m.read_terminal(control, resized) {
            return exit;
        }
    }
}

/// The monitor's loop state: what is shown, and when it last sampled, ticked and drew.
struct Monitor {
    state: AppState,
    sampler: Option<Sampler>,
    last_sample: Instant,
    last_tick: Instant,
    last_draw: Instant,
    stopped_by: Option<StopSignal>,
    engine_done: bool,
}

const FRAME_TIME: Duration = Duration::from_millis(1000 / MAX_FPS);

impl Monitor {
    fn new() -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Self {
            state: AppState { view: ViewState { no_color, ..ViewState::default() }, ..AppState::default() },
            sampler: None,
            last_sample: Instant::now(),
            last_tick: Instant::now(),
            last_draw: Instant::now() - FRAME_TIME,
            stopped_by: None,
            engine_done: false,
        }
    }

    /// Engine events: takes all that are waiting.
    fn take_events(&mut self, rx: &Receiver<Event>) {
        loop {
            match rx.try_recv() {
                Ok(e) => self.state.apply(&e),
                Err(TryRecvError::Empty) => return,
                Err(TryRecvError::Disconnected) => {
                    self.engine_done = true;
                    return;
                }
            }
        }
    }

    /// Moves the clock (and once a second the CPU, memory and GPU figures).
    fn tick(&mut self) {
        let now = Instant::now();
        // `watch`: this process's CPU and memory are not the run's (nor, on a login node, the GPU).
        if let (None, Some(kind), false) = (&self.sampler, self.state.backend, self.state.watching) {
            self.sampler = Some(Sampler::new(kind == BackendKind::Cuda));
        }
        if let Some(sm) = self.sampler.as_mut().filter(|_| now - self.last_sample >= Duration::from_secs(1)) {
            self.state.sys = sm.sample();
            self.last_sample = now;
        }
        let before = self.state.elapsed.as_secs();
        self.state.tick(now - self.last_tick);
        self.last_tick = now;
        if self.state.elapsed.as_secs() != before {
            self.state.dirty = true; // the clock and ETA move once a second
        }
    }

    /// SIGHUP detaches the monitor; SIGTERM or SIGINT asks the engine to stop.
    fn signals(&mut self, signals: &Signals, control: &Control) -> Option<MonitorExit> {
        if signals.take_hangup() {
            return Some(MonitorExit::Detached("the terminal hung up (SIGHUP)".into()));
        }
        if let (None, Some(sig)) = (self.stopped_by, signals.stop()) {
            self.stopped_by = Some(sig);
            control.quit();
            control.set_paused(false);
            self.state.quitting = true;
            if self.state.view.mode == crate::tui::state::Mode::ConfirmQuit {
                self.state.view.mode = crate::tui::state::Mode::Normal;
            }
            let text = format!("{}: stopping after the current step and writing results", sig.name());
            self.state.apply(&Event::Log { level: Level::Warn, text });
        }
        None
    }

    /// Draws when something changed, at most `MAX_FPS` times a second.
    fn draw(&mut self, terminal: &mut ratatui::DefaultTerminal) -> std::io::Result<()> {
        if self.state.dirty && self.last_draw.elapsed() >= FRAME_TIME {
            terminal.draw(|f| draw(f, &self.state))?;
            self.state.dirty = false;
            self.last_draw = Instant::now();
        }
        Ok(())
    }

    /// Takes every event crossterm has (one read can hold several keys; resizes come by
    /// signal) and tells the engine what the keys ask.
    fn read_terminal(&mut self, control: &Control, resized: &mut bool) -> Option<MonitorExit> {
        let cannot_read = |e: std::io::Error| Some(MonitorExit::Detached(format!("cannot read the terminal: {e}")));
        loop {
            match event::poll(Duration::ZERO) {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => return cannot_read(e),
            }
            let ev = match event::read() {
                Ok(ev) => ev,
                Err(e) => return cannot_read(e),
            };
            match ev {
                TermEvent::Key(k) if k.kind == KeyEventKind::Press => match self.state.key(k) {
                    Some(Command::Pause(p)) => control.set_paused(p),
                    Some(Command::Skip(run)) => control.skip_run(run),
                    Some(Command::Try) => return Some(MonitorExit::Try),
                    Some(Command::Quit) => {
                        control.quit();
                        control.set_paused(false);
                        if self.state.finished {
                            return Some(MonitorExit::Closed);
                        }
                    }
                    None => {}
                },
                TermEvent::Resize(_, _) => {
                    self.state.dirty = true;
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

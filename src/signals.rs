//! SIGTERM, SIGINT and SIGHUP, turned into flags the front ends read.
//!
//! - SIGTERM and SIGINT ask for a clean stop: the engine ends after the current step, writes
//!   results, the terminal is restored and the process exits with 128 + the signal number.
//!   In headless mode a second SIGINT (Ctrl-C twice) exits at once.
//! - SIGHUP (the SSH connection or the terminal went away) no longer kills the process: the
//!   monitor closes and training carries on headless to the end, writing every result.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::flag;

use crate::error::{Error, Result};

/// Which signal asked the program to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    Term,
    Int,
}

impl StopSignal {
    /// The conventional exit status of a program stopped by this signal.
    pub fn exit_code(self) -> i32 {
        match self {
            StopSignal::Term => 128 + SIGTERM,
            StopSignal::Int => 128 + SIGINT,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Term => "SIGTERM",
            StopSignal::Int => "SIGINT",
        }
    }
}

/// Flags set by the signal handlers; cheap to poll.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    term: Arc<AtomicBool>,
    int: Arc<AtomicBool>,
    hup: Arc<AtomicBool>,
}

impl Signals {
    /// Installs the handlers. With `second_int_exits`, a SIGINT while one is already pending
    /// ends the process immediately (for headless runs; the monitor reads Ctrl-C as a key).
    pub fn install(second_int_exits: bool) -> Result<Self> {
        let s = Self::default();
        let err = |e: std::io::Error| Error::Internal(format!("cannot install signal handlers: {e}"));
        if second_int_exits {
            flag::register_conditional_shutdown(SIGINT, 128 + SIGINT, s.int.clone()).map_err(err)?;
        }
        flag::register(SIGINT, s.int.clone()).map_err(err)?;
        flag::register(SIGTERM, s.term.clone()).map_err(err)?;
        flag::register(SIGHUP, s.hup.clone()).map_err(err)?;
        Ok(s)
    }

    /// The first stop signal received, if any (SIGTERM wins over SIGINT).
    pub fn stop(&self) -> Option<StopSignal> {
        if self.term.load(Ordering::SeqCst) {
            Some(StopSignal::Term)
        } else if self.int.load(Ordering::SeqCst) {
            Some(StopSignal::Int)
        } else {
            None
        }
    }

    /// Whether the terminal hung up (SIGHUP) since the last call; clears the flag.
    pub fn take_hangup(&self) -> bool {
        self.hup.swap(false, Ordering::SeqCst)
    }

    /// Sets a flag as a handler would (for tests of what the front ends do with it).
    pub fn raise_for_test(&self, sig: i32) {
        match sig {
            SIGTERM => self.term.store(true, Ordering::SeqCst),
            SIGINT => self.int.store(true, Ordering::SeqCst),
            SIGHUP => self.hup.store(true, Ordering::SeqCst),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_report_the_first_stop_and_hangups_once() {
        let s = Signals::default();
        assert_eq!(s.stop(), None);
        assert!(!s.take_hangup());
        s.raise_for_test(SIGHUP);
        assert!(s.take_hangup());
        assert!(!s.take_hangup(), "a hangup is reported once");
        s.raise_for_test(SIGINT);
        assert_eq!(s.stop(), Some(StopSignal::Int));
        s.raise_for_test(SIGTERM);
        assert_eq!(s.stop(), Some(StopSignal::Term));
        assert_eq!(StopSignal::Term.exit_code(), 143);
        assert_eq!(StopSignal::Int.exit_code(), 130);
    }
}

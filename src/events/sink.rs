//! Where events go.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

use super::{Event, Level};

/// Where events go: a front end, and the experiment's `events.jsonl`. Sending never fails
/// the engine: a front end that went away (a closed terminal) or a log that cannot be written
/// (results are written and checked separately) must not stop training.
#[derive(Debug, Clone)]
pub struct Events {
    tx: Option<std::sync::mpsc::Sender<Event>>,
    log: Option<Arc<Mutex<std::io::LineWriter<std::fs::File>>>>,
}

impl Events {
    pub fn new(tx: std::sync::mpsc::Sender<Event>) -> Self {
        Self { tx: Some(tx), log: None }
    }

    /// Events sent nowhere (tests, benchmarks).
    pub fn none() -> Self {
        Self { tx: None, log: None }
    }

    /// The same events, also appended to `path` as JSON lines (`{"t": unix seconds, "event":
    /// kind, ...}`). Append-only: after a crash, only its last line can be incomplete.
    ///
    /// The log is a file other processes read and anyone with access to the folder could replace:
    /// a link there is not followed, and what is opened must be a regular file (a FIFO would block
    /// the engine on its first line). Either is an error naming the file.
    pub fn logging_to(&self, path: &Path) -> crate::error::Result<Self> {
        use std::os::unix::fs::OpenOptionsExt;
        let not_a_log = |what: &str| {
            crate::error::Error::Input(format!(
                "{}: {what}, not an event log; remove it (distill-tui writes its log there)",
                path.display()
            ))
        };
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ELOOP) => not_a_log("is a link"),
                Some(libc::ENXIO) => not_a_log("is a pipe"),
                _ => crate::error::Error::io(path, e),
            })?;
        if !file.metadata().map_err(|e| crate::error::Error::io(path, e))?.file_type().is_file() {
            return Err(not_a_log("is not a regular file"));
        }
        Ok(Self { tx: self.tx.clone(), log: Some(Arc::new(Mutex::new(std::io::LineWriter::new(file)))) })
    }

    /// The same front end, without the log (for events another process has logged already).
    pub fn screen_only(&self) -> Self {
        Self { tx: self.tx.clone(), log: None }
    }

    pub fn send(&self, e: Event) {
        // Progress within a phase is for the screen only; the log keeps what happened.
        if let Some(log) = self.log.as_ref().filter(|_| !matches!(e, Event::Progress { .. }))
            && let Ok(mut v) = serde_json::to_value(&e)
        {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0);
            if let Some(obj) = v.as_object_mut() {
                obj.insert("t".into(), serde_json::json!((t * 1000.0).round() / 1000.0));
            }
            if let Ok(mut w) = log.lock() {
                let _ = writeln!(w, "{v}");
            }
        }
        if let Some(tx) = &self.tx {
            let _ = tx.send(e);
        }
    }

    pub fn info(&self, text: impl Into<String>) {
        self.send(Event::Log { level: Level::Info, text: text.into() });
    }

    pub fn warn(&self, text: impl Into<String>) {
        self.send(Event::Log { level: Level::Warn, text: text.into() });
    }
}

//! Reading an event log (`events.jsonl`) that another process is still appending to: by
//! polling (inotify does not work on network filesystems), keeping a half-written last line
//! until its end arrives.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::Event;

/// Lines longer than this are no event this program wrote: they are dropped.
const MAX_LINE: usize = 4 << 20;
/// At most this much is read in one poll (a log written faster is caught up over several).
const MAX_POLL: u64 = 16 << 20;
/// A log larger than this is no log of this program's (a real run's is a few MB): not read.
const MAX_LOG: u64 = 1 << 30;

/// The new events of one log, poll after poll.
#[derive(Debug)]
pub struct LogTail {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogTail {
    pub fn new(path: &Path) -> Self {
        Self { path: path.to_path_buf(), offset: 0, partial: Vec::new() }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The events whose lines were completed since the last poll, in order. A missing file has
    /// none yet; one that shrank was replaced and is read from its start; a line that is not
    /// an event (another version's, or torn by a crash and followed by more) is skipped.
    ///
    /// Only a regular file is read (a FIFO, a device or a folder where the log belongs is not
    /// opened for reading at all), at most `MAX_POLL` bytes a poll, and not at all when larger
    /// than `MAX_LOG`.
    pub fn poll(&mut self) -> Vec<Event> {
        let Ok(mut file) = crate::input_file::open(&self.path, false) else { return vec![] };
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > MAX_LOG {
            return vec![];
        }
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        if len == self.offset || file.seek(SeekFrom::Start(self.offset)).is_err() {
            return vec![];
        }
        let mut bytes = Vec::new();
        let Ok(n) = file.take((len - self.offset).min(MAX_POLL)).read_to_end(&mut bytes) else { return vec![] };
        self.offset += n as u64;
        self.partial.extend_from_slice(&bytes);
        let Some(end) = self.partial.iter().rposition(|&b| b == b'\n') else {
            if self.partial.len() > MAX_LINE {
                self.partial.clear();
            }
            return vec![];
        };
        let complete: Vec<u8> = self.partial.drain(..=end).collect();
        complete
            .split(|&b| b == b'\n')
            .filter(|line| !line.is_empty())
            .filter_map(|line| serde_json::from_slice::<Event>(line).ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Level, RunStatus};
    use std::io::Write;

    fn line(e: &Event) -> String {
        let mut v = serde_json::to_value(e).unwrap();
        v.as_object_mut().unwrap().insert("t".into(), serde_json::json!(1.5));
        format!("{v}\n")
    }

    #[test]
    fn a_half_written_line_waits_for_its_end_and_a_replaced_log_starts_over() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.jsonl");
        let mut tail = LogTail::new(&path);
        assert!(tail.poll().is_empty(), "no file yet");
        let a = Event::Log { level: Level::Info, text: "a".into() };
        let b = Event::RunEnded { run: 3, status: RunStatus::Done, reason: None, seconds: 2.0 };
        let (la, lb) = (line(&a), line(&b));
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&path).unwrap();
        f.write_all(la.as_bytes()).unwrap();
        f.write_all(&lb.as_bytes()[..10]).unwrap();
        assert_eq!(tail.poll(), vec![a.clone()]);
        assert!(tail.poll().is_empty(), "still half a line");
        f.write_all(&lb.as_bytes()[10..]).unwrap();
        f.write_all(b"{\"event\": \"from_a_newer_version\"}\nnot json\n").unwrap();
        assert_eq!(tail.poll(), vec![b.clone()], "the rest of the line; unknown lines skipped");
        std::fs::write(&path, &la).unwrap();
        assert_eq!(tail.poll(), vec![a], "a shorter file is a new log");
    }
}

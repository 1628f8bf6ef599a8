//! `--parallel N` and `--devices 0,1,..`: after the teacher, the cells run in child processes
//! (`distill-tui run-cell`), up to one per slot at once, each on its own device. This process
//! follows their event logs and passes the events on to its monitor; its keys reach a cell
//! through the cell's control file. A child that crashes fails its own cell only.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::cells::{Request, read_record, request, write_record};
use super::layout::{EVENTS_LOG, cell_dir};
use super::matrix::Matrix;
use super::options::Launch;
use super::students::Slot;
use crate::error::{Error, Result};
use crate::events::{Event, LogTail, RunStatus};
use crate::ops::TrainBackend;

/// A child's output, in its cell's folder.
pub const PROCESS_LOG: &str = "process.log";

/// A cell running in a child process.
struct Running<'s> {
    slot: &'s Slot,
    child: Child,
    /// Index in `Launch::slots`.
    lane: usize,
    tail: LogTail,
}

impl<B: TrainBackend> Matrix<'_, B> {
    /// Runs every cell that has not ended in child processes, as many at once as `launch` has
    /// slots; stops starting new ones (and asks the running ones to stop) when the user quits.
    pub fn in_children(&mut self, slots: &[Slot], launch: &Launch) -> Result<()> {
        let screen = self.events.screen_only();
        let mut waiting: VecDeque<&Slot> = VecDeque::new();
        for slot in slots {
            if slot.kept {
                self.replay(slot);
            } else {
                waiting.push_back(slot);
            }
        }
        let mut running: Vec<Running> = Vec::new();
        let mut free: Vec<usize> = (0..launch.slots.len()).rev().collect();
        let (mut paused, mut stopping) = (false, false);
        loop {
            if self.control.quit_requested() && !stopping {
                stopping = true;
                for r in &running {
                    // SAFETY: signalling our own child by its pid.
                    unsafe { libc::kill(r.child.id() as libc::pid_t, libc::SIGTERM) };
                }
            }
            if self.control.is_paused() != paused {
                paused = self.control.is_paused();
                let what = if paused { Request::Pause } else { Request::Run };
                for r in &running {
                    let _ = request(&self.exp.dir, &r.slot.folder, what);
                }
            }
            if let Some(which) = self.control.take_skip_of_run() {
                let target = running.iter().find(|r| which.is_none_or(|id| id == r.slot.id));
                if let Some(r) = target {
                    let _ = request(&self.exp.dir, &r.slot.folder, Request::Skip);
                }
            }
            while !stopping && !paused && !free.is_empty() && !waiting.is_empty() {
                let (slot, lane) = (waiting.pop_front().expect("not empty"), free.pop().expect("not empty"));
                running.push(self.start_child(slot, lane, launch)?);
            }
            for r in &mut running {
                for event in r.tail.poll() {
                    // The child's plan and end are its own; this process sends the matrix's.
                    if !matches!(event, Event::Plan { .. } | Event::Finished { .. }) {
                        screen.send(event);
                    }
                }
            }
            let mut i = 0;
            while i < running.len() {
                match running[i].child.try_wait() {
                    Ok(Some(status)) => {
                        let mut r = running.swap_remove(i);
                        for event in r.tail.poll() {
                            if !matches!(event, Event::Plan { .. } | Event::Finished { .. }) {
                                screen.send(event);
                            }
                        }
                        free.push(r.lane);
                        self.child_ended(r.slot, status)?;
                    }
                    Ok(None) => i += 1,
                    Err(e) => return Err(Error::Internal(format!("cannot wait for a cell's process: {e}"))),
                }
            }
            if running.is_empty() && (waiting.is_empty() || stopping) {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn start_child<'s>(&self, slot: &'s Slot, lane: usize, launch: &Launch) -> Result<Running<'s>> {
        let dir = cell_dir(&self.exp.dir, &slot.folder);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let log_path = dir.join(PROCESS_LOG);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path);
        let log = log.map_err(|e| Error::io(&log_path, e))?;
        let err = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
        let mut cmd = Command::new(&launch.program);
        cmd.arg("run-cell").arg("--index").arg(slot.index.to_string()).args(&launch.args);
        cmd.stdin(Stdio::null()).stdout(log).stderr(err);
        let device = launch.slots[lane].as_deref();
        match device {
            Some(device) => {
                cmd.env("CUDA_VISIBLE_DEVICES", device);
            }
            // CPU cells share the cores: each gets its part, not a thread per core (N processes
            // with a thread per core each would fight over the cores).
            None if std::env::var_os("RAYON_NUM_THREADS").is_none() => {
                let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
                cmd.env("RAYON_NUM_THREADS", (cores / launch.slots.len()).max(1).to_string());
            }
            None => {}
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::Internal(format!("cannot start {} for a cell: {e}", launch.program.display())))?;
        let on = device.map(|d| format!(" on device {d}")).unwrap_or_default();
        self.events.info(format!(
            "{} (seed {}) started in process {}{on}; its output: {}",
            slot.run.name,
            slot.seed,
            child.id(),
            log_path.display()
        ));
        // The log is read from where it ends now: an earlier attempt's events were shown already.
        let mut tail = LogTail::new(&dir.join(EVENTS_LOG));
        let _ = tail.poll();
        Ok(Running { slot, child, lane, tail })
    }

    /// Records a child's end: its cell's record is the child's, unless the child died without
    /// ending its run (a crash: the cell failed; a stop by signal: stopped, and it resumes).
    fn child_ended(&mut self, slot: &Slot, status: std::process::ExitStatus) -> Result<()> {
        let record = read_record(&self.exp.dir, &slot.folder);
        let ended = record.as_ref().is_some_and(|r| {
            matches!(r.record.status, RunStatus::Done | RunStatus::Skipped | RunStatus::Failed | RunStatus::Stopped)
        });
        if let Some(r) = record {
            self.results.runs[slot.index] = r;
        }
        if ended && status.success() || status.code() == Some(143) || status.code() == Some(130) {
            return Ok(());
        }
        let how = match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            _ => "ended".to_string(),
        };
        let log = cell_dir(&self.exp.dir, &slot.folder).join(PROCESS_LOG);
        let reason = format!("its process {how}; see {}", log.display());
        let r = &mut self.results.runs[slot.index].record;
        r.status = RunStatus::Failed;
        r.reason = Some(reason.clone());
        write_record(&self.exp.dir, &slot.folder, &self.results.runs[slot.index])?;
        let seconds = self.results.runs[slot.index].record.seconds;
        self.events.send(Event::RunEnded { run: slot.id, status: RunStatus::Failed, reason: Some(reason), seconds });
        Ok(())
    }
}

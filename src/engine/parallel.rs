//! `--parallel N` and `--devices 0,1,..`: after the teacher, the cells run in child processes
//! (`distill-tui run-cell`), up to one per cell at once, each on its own device. This process
//! follows their event logs and passes the events on to its monitor; its keys reach a cell
//! through the cell's control file. A child that crashes fails its own cell only.

use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::matrix::Matrix;
use super::options::Launch;
use super::students::Cell;
use crate::error::{Error, Result};
use crate::events::{Event, LogTail, RunStatus};
use crate::ops::TrainBackend;
use crate::workspace::cells::{read_record, write_record};
use crate::workspace::control::{Request, request};
use crate::workspace::layout::{EVENTS_LOG, LOCK_FILE, PROCESS_LOG, cell_dir};
use crate::workspace::lock::HeldLock;

/// A cell running in a child process.
struct Running<'s> {
    cell: &'s Cell,
    child: Child,
    /// Index in `Launch::lanes`.
    lane: usize,
    tail: LogTail,
}

impl<B: TrainBackend> Matrix<'_, B> {
    /// Runs every cell that has not ended in child processes, as many at once as `launch` has
    /// cells; stops starting new ones (and asks the running ones to stop) when the user quits.
    pub fn in_children(&mut self, cells: &[Cell], launch: &Launch) -> Result<()> {
        let screen = self.events.screen_only();
        let mut waiting: VecDeque<&Cell> = VecDeque::new();
        for cell in cells {
            if cell.kept {
                self.replay(cell);
            } else {
                waiting.push_back(cell);
            }
        }
        let mut children = Children(Vec::new());
        let running = &mut children.0;
        let mut free: Vec<usize> = (0..launch.lanes.len()).rev().collect();
        let (mut paused, mut stopping) = (false, false);
        loop {
            if self.control.quit_requested() && !stopping {
                stopping = true;
                for r in running.iter() {
                    // SAFETY: signalling our own child by its pid.
                    unsafe { libc::kill(r.child.id() as libc::pid_t, libc::SIGTERM) };
                }
            }
            if self.control.is_paused() != paused {
                paused = self.control.is_paused();
                let what = if paused { Request::Pause } else { Request::Run };
                for r in running.iter() {
                    let _ = request(&self.exp.dir, &r.cell.folder, what);
                }
            }
            if let Some(which) = self.control.take_skip_of_run() {
                let target = running.iter().find(|r| which.is_none_or(|id| id == r.cell.run_id));
                if let Some(r) = target {
                    let _ = request(&self.exp.dir, &r.cell.folder, Request::Skip);
                }
            }
            while !stopping && !paused && !free.is_empty() && !waiting.is_empty() {
                let (cell, lane) = (waiting.pop_front().expect("not empty"), free.pop().expect("not empty"));
                running.push(self.start_child(cell, lane, launch)?);
            }
            for r in running.iter_mut() {
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
                        self.child_ended(r.cell, status)?;
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

    fn start_child<'s>(&self, cell: &'s Cell, lane: usize, launch: &Launch) -> Result<Running<'s>> {
        let dir = cell_dir(&self.exp.dir, &cell.folder);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let log_path = dir.join(PROCESS_LOG);
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&log_path);
        let log = log.map_err(|e| Error::io(&log_path, e))?;
        let err = log.try_clone().map_err(|e| Error::io(&log_path, e))?;
        let mut cmd = Command::new(&launch.program);
        cmd.arg("run-cell").arg("--index").arg(cell.index.to_string()).args(&launch.args);
        cmd.stdin(Stdio::null()).stdout(log).stderr(err);
        let device = launch.lanes[lane].as_deref();
        match device {
            Some(device) => {
                cmd.env("CUDA_VISIBLE_DEVICES", device);
            }
            // CPU cells share the cores: each gets its part, not a thread per core (N processes
            // with a thread per core each would fight over the cores).
            None if std::env::var_os("RAYON_NUM_THREADS").is_none() => {
                let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
                cmd.env("RAYON_NUM_THREADS", (cores / launch.lanes.len()).max(1).to_string());
            }
            None => {}
        }
        // The child stops (SIGTERM: after its step, its checkpoint written) when this process dies,
        // however it dies: no cell trains on without a parent to follow it.
        let parent = std::process::id();
        // SAFETY: between fork and exec only async-signal-safe calls (prctl, getppid, _exit).
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent died before the line above: its signal will never come.
                if libc::getppid() as u32 != parent {
                    libc::_exit(143);
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::Internal(format!("cannot start {} for a cell: {e}", launch.program.display())))?;
        let on = device.map(|d| format!(" on device {d}")).unwrap_or_default();
        self.events.info(format!(
            "{} (seed {}) started in process {}{on}; its output: {}",
            cell.strategy.name,
            cell.seed,
            child.id(),
            log_path.display()
        ));
        // The log is read from where it ends now: an earlier attempt's events were shown already.
        let mut tail = LogTail::new(&dir.join(EVENTS_LOG));
        let _ = tail.poll();
        Ok(Running { cell, child, lane, tail })
    }

    /// Records a child's end. Its cell's record is the child's own when it ended its run, was
    /// stopped (SIGTERM, SIGINT) or refused its input (exit code 2: the error is in its
    /// process.log, and the record is left as it was). A child that died otherwise (a crash, the
    /// OOM killer) leaves its cell crashed: this process takes the dead child's lock and says so in
    /// the record, and a rerun resumes the cell.
    fn child_ended(&mut self, cell: &Cell, status: std::process::ExitStatus) -> Result<()> {
        let record = read_record(&self.exp.dir, &cell.folder);
        if let Some(r) = &record {
            self.results.runs[cell.index] = r.clone();
        }
        let log = cell_dir(&self.exp.dir, &cell.folder).join(PROCESS_LOG);
        let ended = record.as_ref().is_some_and(|r| r.record.status.ended() || r.record.status == RunStatus::Stopped);
        match status.code() {
            Some(0) if ended => return Ok(()),
            Some(143) | Some(130) => return Ok(()),
            Some(2) => {
                self.events.warn(format!(
                    "{} (seed {}): its process refused to run it: {}",
                    cell.strategy.name,
                    cell.seed,
                    last_error(&log).unwrap_or_else(|| format!("see {}", log.display()))
                ));
                return Ok(());
            }
            _ => {}
        }
        let how = match (status.code(), std::os::unix::process::ExitStatusExt::signal(&status)) {
            (Some(code), _) => format!("exited with code {code}"),
            (None, Some(9)) => "was killed (signal 9: the OOM killer, or kill -9)".to_string(),
            (None, Some(sig)) => format!("was killed by signal {sig}"),
            _ => "ended".to_string(),
        };
        let reason = format!("its process {how}; see {}; a rerun resumes it", log.display());
        // The child is gone, so its lock is stale: taken, the record written under it, released.
        let lock = match HeldLock::take(&cell_dir(&self.exp.dir, &cell.folder).join(LOCK_FILE)) {
            Ok(lock) => lock,
            Err(e) => {
                self.events.warn(format!(
                    "{} (seed {}): {reason}; its record is left as it is: {e}",
                    cell.strategy.name, cell.seed
                ));
                return Ok(());
            }
        };
        let r = &mut self.results.runs[cell.index].record;
        if r.status.ended() {
            return Ok(());
        }
        r.status = RunStatus::Crashed;
        r.reason = Some(reason.clone());
        lock.check()?;
        write_record(&self.exp.dir, &cell.folder, &self.results.runs[cell.index])?;
        drop(lock);
        let seconds = self.results.runs[cell.index].record.seconds;
        self.events.send(Event::RunEnded {
            run: cell.run_id,
            status: RunStatus::Crashed,
            reason: Some(reason),
            seconds,
        });
        Ok(())
    }
}

/// The last line of a child's output that says `error:`, if any (read from its end, bounded).
fn last_error(log: &std::path::Path) -> Option<String> {
    let text = crate::input_file::read_tail(log, 64 << 10).ok()?;
    text.lines().rev().find(|l| l.starts_with("error: ")).map(|l| l.trim_start_matches("error: ").to_string())
}

/// The children running cells: each is sent SIGTERM when this goes out of scope while it still
/// runs (an error in the parent's loop, a panic), and waited for, so that no cell is left
/// training without a parent to follow it.
struct Children<'s>(Vec<Running<'s>>);

impl Drop for Children<'_> {
    fn drop(&mut self) {
        for r in &mut self.0 {
            if matches!(r.child.try_wait(), Ok(None)) {
                // SAFETY: signalling our own child by its pid.
                unsafe { libc::kill(r.child.id() as libc::pid_t, libc::SIGTERM) };
            }
        }
        // Each stops after its current step and writes its checkpoint; a minute at most, then killed.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        for r in &mut self.0 {
            while matches!(r.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(100));
            }
            if matches!(r.child.try_wait(), Ok(None)) {
                let _ = r.child.kill();
                let _ = r.child.wait();
            }
        }
    }
}

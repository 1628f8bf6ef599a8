//! Who holds an experiment folder: the lock file names the process (pid), its host, its start
//! time (from `/proc/<pid>/stat`, in clock ticks since boot) and the program. A pid alone is
//! not enough: pids are reused after a reboot and in containers, so a lock whose pid is alive
//! but belongs to another process (another start time, another program) is stale.
//!
//! Another host's process cannot be asked: on a shared filesystem (a Slurm cluster's) its lock
//! is judged by its heartbeat, a time the holder writes into the lock every [`BEAT_EVERY`]; a lock
//! whose last beat is older than [`STALE_AFTER`] is stale. The lock also names the Slurm job.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};

/// The program name written into locks (and compared with `/proc/<pid>/comm`).
const PROGRAM: &str = "distill-tui";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub host: Option<String>,
    /// Clock ticks after boot when the process started (`/proc/<pid>/stat`, field 22).
    pub start: Option<u64>,
    pub program: Option<String>,
    /// The Slurm job (`<job>` or `<array job>_<task>`), when it runs under Slurm.
    pub job: Option<String>,
    /// Unix seconds of the holder's last heartbeat.
    pub beat: Option<u64>,
}

/// How often a holder rewrites its lock with the time.
pub const BEAT_EVERY: Duration = Duration::from_secs(15);
/// A lock of another host whose last beat is older than this is stale (clocks of cluster nodes
/// agree to a second or so; this leaves a missed beat or three).
pub const STALE_AFTER: u64 = 120;

/// What a lock file says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holder {
    /// A live distill-tui (or one on another host, which cannot be checked from here).
    Live(Owner),
    /// Nobody: the lock is stale, and why (for one line of log).
    Stale(String),
}

impl Owner {
    /// This process.
    pub fn me() -> Self {
        let pid = std::process::id();
        Self {
            pid,
            host: hostname(),
            start: start_time(pid),
            program: Some(PROGRAM.into()),
            job: slurm_job(),
            beat: Some(unix_now()),
        }
    }

    /// Whether both records name the same process (the heartbeat aside).
    pub fn same_process(&self, other: &Owner) -> bool {
        (self.pid, &self.host, self.start) == (other.pid, &other.host, other.start)
    }

    /// "process N on HOST (Slurm job J)", for messages.
    pub fn describe(&self) -> String {
        let on = self.host.as_ref().map(|h| format!(" on {h}")).unwrap_or_default();
        let job = self.job.as_ref().map(|j| format!(", Slurm job {j}")).unwrap_or_default();
        format!("process {}{on}{job}", self.pid)
    }

    /// The lock file's text: the pid on the first line (as older versions wrote it), then
    /// `key=value` lines.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n", self.pid);
        if let Some(h) = &self.host {
            s.push_str(&format!("host={h}\n"));
        }
        if let Some(t) = self.start {
            s.push_str(&format!("start={t}\n"));
        }
        if let Some(p) = &self.program {
            s.push_str(&format!("program={p}\n"));
        }
        if let Some(j) = &self.job {
            s.push_str(&format!("job={j}\n"));
        }
        if let Some(b) = self.beat {
            s.push_str(&format!("beat={b}\n"));
        }
        s
    }

    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let pid = lines.next()?.trim().parse().ok()?;
        let mut owner = Self { pid, host: None, start: None, program: None, job: None, beat: None };
        for line in lines {
            match line.split_once('=') {
                Some(("host", h)) => owner.host = Some(h.trim().to_string()),
                Some(("start", t)) => owner.start = t.trim().parse().ok(),
                Some(("program", p)) => owner.program = Some(p.trim().to_string()),
                Some(("job", j)) => owner.job = Some(j.trim().to_string()),
                Some(("beat", b)) => owner.beat = b.trim().parse().ok(),
                _ => {}
            }
        }
        Some(owner)
    }

    /// Whether this record names a process that is still running, as far as this host can tell.
    pub fn holder(self) -> Holder {
        let pid = self.pid;
        if let (Some(theirs), Some(ours)) = (&self.host, hostname())
            && *theirs != ours
        {
            return match self.beat {
                Some(beat) if unix_now().saturating_sub(beat) > STALE_AFTER => Holder::Stale(format!(
                    "process {pid} on {theirs} has not written its heartbeat for {} s",
                    unix_now().saturating_sub(beat)
                )),
                _ => Holder::Live(self),
            };
        }
        if !alive(pid) {
            return Holder::Stale(format!("process {pid} has ended"));
        }
        match (self.start, start_time(pid)) {
            (Some(locked), Some(now)) if locked != now => {
                return Holder::Stale(format!("process {pid} is another program now (its pid was reused)"));
            }
            (Some(_), Some(_)) => return Holder::Live(self),
            _ => {}
        }
        // An older lock (a pid only): the program's name must match.
        match program_name(pid) {
            Some(name) if !name.starts_with(PROGRAM) => {
                Holder::Stale(format!("process {pid} is {name}, not distill-tui (its pid was reused)"))
            }
            _ => Holder::Live(self),
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The Slurm job this process runs in: `<array job>_<task>` for an array task, else `<job>`.
fn slurm_job() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
        (Some(j), Some(t)) => Some(format!("{j}_{t}")),
        _ => var("SLURM_JOB_ID"),
    }
}

/// The record of a lock file, if it holds one.
pub fn read_owner(lock: &Path) -> Option<Owner> {
    Owner::parse(&crate::input_file::read_text(lock, crate::input_file::SMALL).ok()?)
}

/// Refuses when a live distill-tui other than this process holds `lock`; otherwise says why a
/// lock that is there is stale (`None`: no lock, or this process's own).
pub fn refuse_if_locked(lock: &Path) -> Result<Option<String>> {
    let Some(owner) = read_owner(lock) else { return Ok(None) };
    if owner.same_process(&Owner::me()) {
        return Ok(None);
    }
    match owner.holder() {
        Holder::Live(o) => Err(Error::Input(format!(
            "{} is in use by another distill-tui ({}, see {}); wait for it to end or stop it{}",
            lock.parent().unwrap_or(lock).display(),
            o.describe(),
            lock.display(),
            match &o.job {
                Some(j) => format!(" (scancel {})", j),
                None => format!(" (kill {})", o.pid),
            },
        ))),
        Holder::Stale(why) => Ok(Some(why)),
    }
}

/// A lock held by this process: created (or taken over when stale), rewritten with a heartbeat
/// every [`BEAT_EVERY`] by a background thread, and removed on drop.
#[derive(Debug)]
pub struct HeldLock {
    pub path: PathBuf,
    /// Why a lock left behind was stale, when this process took it over.
    pub took_over: Option<String>,
    stop: Arc<AtomicBool>,
}

impl HeldLock {
    pub fn take(path: &Path) -> Result<Self> {
        let took_over = take_lock(path)?;
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, beat_path) = (stop.clone(), path.to_path_buf());
        let _ = std::thread::Builder::new().name("distill-heartbeat".into()).spawn(move || {
            let step = Duration::from_millis(250);
            let mut waited = Duration::ZERO;
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(step);
                waited += step;
                if waited >= BEAT_EVERY && !flag.load(Ordering::SeqCst) {
                    waited = Duration::ZERO;
                    // Only our own lock is rewritten: one taken over by another process is theirs.
                    if read_owner(&beat_path).is_some_and(|o| o.same_process(&Owner::me())) {
                        let _ = write_owner(&beat_path);
                    }
                }
            }
        });
        Ok(Self { path: path.to_path_buf(), took_over, stop })
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if read_owner(&self.path).is_some_and(|o| o.same_process(&Owner::me())) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn write_owner(lock: &Path) -> Result<()> {
    crate::atomic::write_atomic(lock, |path| {
        std::fs::write(path, Owner::me().to_text()).map_err(|e| Error::io(path, e))
    })
}

/// Creates the lock naming this process; a stale lock is taken over (and why it was stale is
/// returned).
pub fn take_lock(lock: &Path) -> Result<Option<String>> {
    use std::io::Write;
    let me = Owner::me();
    match std::fs::OpenOptions::new().write(true).create_new(true).open(lock) {
        Ok(mut f) => f.write_all(me.to_text().as_bytes()).map(|_| None).map_err(|e| Error::io(lock, e)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let why = refuse_if_locked(lock)?;
            write_owner(lock)?;
            // Two processes taking over the same stale lock: the last rename wins, the other leaves.
            match read_owner(lock) {
                Some(owner) if owner.same_process(&me) => Ok(why),
                _ => refuse_if_locked(lock),
            }
        }
        Err(e) => Err(Error::io(lock, e)),
    }
}

/// Whether a process with this pid exists (signal 0 checks without sending anything).
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else { return false };
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 only checks for the process.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// `/proc/<pid>/stat` field 22 (after the command name in parentheses, which may hold spaces).
pub fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    // Fields from 3 on; the start time is field 22.
    after.split_whitespace().nth(19)?.parse().ok()
}

fn program_name(pid: u32) -> Option<String> {
    Some(std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?.trim().to_string())
}

fn hostname() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable and its length is passed.
    if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    Some(String::from_utf8_lossy(&buf[..end]).into_owned()).filter(|h| !h.is_empty())
}

/// Whether a live distill-tui holds the lock at `path` (by its heartbeat on another host).
pub fn lock_is_live(path: &Path) -> bool {
    match read_owner(path) {
        Some(owner) => matches!(owner.holder(), Holder::Live(_)),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_and_old_locks_still_parse() {
        let me = Owner::me();
        assert_eq!(Owner::parse(&me.to_text()), Some(me.clone()));
        assert!(me.start.is_some() && me.host.is_some());
        let old = Owner { pid: 123, host: None, start: None, program: None, job: None, beat: None };
        assert_eq!(Owner::parse("123\n"), Some(old));
        assert_eq!(Owner::parse("garbage"), None);
        assert_eq!(Owner::parse(""), None);
    }

    #[test]
    fn a_live_pid_of_another_process_is_stale() {
        // This test's own process is alive but is not distill-tui.
        let pid = std::process::id();
        let old = Owner { pid, host: None, start: None, program: None, job: None, beat: None };
        assert!(matches!(old.holder(), Holder::Stale(why) if why.contains("not distill-tui")), "old format");
        let reused = Owner { start: start_time(pid).map(|t| t + 1), ..Owner::me() };
        assert!(matches!(reused.holder(), Holder::Stale(why) if why.contains("pid was reused")));
        assert!(matches!(Owner::me().holder(), Holder::Live(_)), "the same start time: live");
        let elsewhere = Owner { host: Some("another-host".into()), ..Owner::me() };
        assert!(matches!(elsewhere.clone().holder(), Holder::Live(_)), "a recent heartbeat: live");
        let silent = Owner { beat: Some(unix_now() - STALE_AFTER - 5), ..elsewhere.clone() };
        assert!(
            matches!(silent.holder(), Holder::Stale(why) if why.contains("on another-host has not written its heartbeat for 12")),
            "another host's lock without a recent heartbeat is stale"
        );
        let unknown = Owner { beat: None, ..elsewhere };
        assert!(matches!(unknown.holder(), Holder::Live(_)), "no heartbeat to judge by: live");
        let ended = Owner { pid: i32::MAX as u32, ..Owner::me() };
        assert!(matches!(ended.holder(), Holder::Stale(why) if why.contains("has ended")));
    }
}

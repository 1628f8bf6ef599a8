//! Who holds an experiment folder or a cell. The lock file names the process (pid), its host,
//! its start time (from `/proc/<pid>/stat`, in clock ticks since boot), the program, the Slurm
//! job, and a token drawn for this acquisition. A pid alone is not enough: pids are reused after
//! a reboot and in containers, so a lock whose pid is alive but belongs to another process
//! (another start time, another program) is stale.
//!
//! Ownership is exclusive by construction. A lock is made whole under a unique temporary name and
//! hard-linked into place: `link` fails when the lock exists, on NFS too, so of two processes at
//! most one creates it, and no reader ever sees it half-written. A lock is only ever removed
//! under the breaker, an exclusive `flock` of `<lock>.break` held for the few milliseconds of a
//! removal (the kernel, or the NFS server, drops it when its process dies, so it is never stale):
//! the breaker's file is deleted by its holder before it lets go (a taker that waited on a
//! deleted one takes the new one), so nothing is left beside the lock. Under the breaker, a taker
//! removes a stale lock only if the lock still reads as the stale
//! record it judged, then links its own; a holder releases its lock only if, under the breaker, it
//! still holds its token. Between the check and the removal nothing else can remove the lock, and
//! nothing can create one while it is there. (Without judging under the breaker, a taker could
//! move aside a lock another taker had just made, and a third could link its own meanwhile: two
//! holders.) The holder checks, before every write of a record or checkpoint, that the lock
//! still holds its token ([`HeldLock::check`]); its heartbeat checks the same and, when the lock
//! is gone or another's, says so ([`HeldLock::lost`]) and beats no more, so that the training stops
//! within a heartbeat; it never recreates a lock. Where `flock` is refused (an NFS mount without
//! lock support), a removal renames the lock aside first and puts back one that turns out not to
//! be the one judged, and the fencing token keeps a holder that lost its lock from writing.
//!
//! Another host's process cannot be asked: on a shared filesystem (a Slurm cluster's) its lock
//! is judged by its heartbeat, the lock file's modification time, set to the file server's "now"
//! every [`BEAT_EVERY`] (so the hosts' clocks need not agree); a lock whose last beat is older
//! than [`STALE_AFTER`] is stale.

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
    /// Unix seconds of the holder's last heartbeat (when it took the lock; later beats touch
    /// the file, see [`HeldLock`]).
    pub beat: Option<u64>,
    /// Drawn anew by each acquisition: the holder checks it is still in the lock before every
    /// write of a record or checkpoint (a fencing token), and it tells two holders in one
    /// process apart.
    pub token: Option<u64>,
}

/// How often a holder touches its lock (its heartbeat) and checks that it still holds it.
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
            token: None,
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
        if let Some(t) = self.token {
            s.push_str(&format!("token={t:016x}\n"));
        }
        s
    }

    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let pid = lines.next()?.trim().parse().ok()?;
        let mut owner = Self { pid, host: None, start: None, program: None, job: None, beat: None, token: None };
        for line in lines {
            match line.split_once('=') {
                Some(("host", h)) => owner.host = Some(h.trim().to_string()),
                Some(("start", t)) => owner.start = t.trim().parse().ok(),
                Some(("program", p)) => owner.program = Some(p.trim().to_string()),
                Some(("job", j)) => owner.job = Some(j.trim().to_string()),
                Some(("beat", b)) => owner.beat = b.trim().parse().ok(),
                Some(("token", t)) => owner.token = u64::from_str_radix(t.trim(), 16).ok(),
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

/// The record of a lock file, if it holds one (a regular file, not followed through a link),
/// its last beat taken from the file's modification time when that is later.
pub fn read_owner(lock: &Path) -> Option<Owner> {
    let text = crate::input_file::read_text(lock, crate::input_file::SMALL).ok()?;
    let mut owner = Owner::parse(&text)?;
    if let Some(touched) = modified(lock) {
        owner.beat = Some(owner.beat.map_or(touched, |b| b.max(touched)));
    }
    Some(owner)
}

/// Unix seconds of `path`'s last modification (not following a link).
fn modified(path: &Path) -> Option<u64> {
    let meta = std::fs::symlink_metadata(path).ok()?;
    meta.modified().ok()?.duration_since(std::time::UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// What is at a lock's path, judged: nothing, a live holder, or something that may be taken over.
enum Found {
    Nothing,
    Live(Owner),
    /// Stale, with why (one line of log), and the text that was judged.
    Stale(String, String),
}

fn judge(lock: &Path) -> Result<Found> {
    let meta = match std::fs::symlink_metadata(lock) {
        // Nothing there, or no folder there to hold it (what then fails is creating the folder).
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            return Ok(Found::Nothing);
        }
        Err(e) => return Err(Error::io(lock, e)),
        Ok(m) => m,
    };
    if !meta.file_type().is_file() {
        return Err(Error::Input(format!(
            "{}: is not a lock file (a link, a folder or a device); remove it if no distill-tui works here",
            lock.display()
        )));
    }
    let text = crate::input_file::read_text(lock, crate::input_file::SMALL).unwrap_or_default();
    let Some(owner) = read_owner(lock) else {
        // Locks appear whole (linked into place); an unreadable one is another program's or an
        // old version's, and is taken over only once it has not changed for a while.
        let age = unix_now().saturating_sub(modified(lock).unwrap_or(0));
        if age > STALE_AFTER {
            return Ok(Found::Stale(format!("an unreadable lock file, unchanged for {age} s"), text));
        }
        return Err(Error::Input(format!(
            "{}: holds no lock record (written {age} s ago); if no distill-tui works here, remove it",
            lock.display()
        )));
    };
    Ok(match owner.holder() {
        Holder::Live(o) => Found::Live(o),
        Holder::Stale(why) => Found::Stale(why, text),
    })
}

fn in_use(lock: &Path, o: &Owner) -> Error {
    Error::Input(format!(
        "{} is in use by another distill-tui ({}, see {}); wait for it to end or stop it{}",
        lock.parent().unwrap_or(lock).display(),
        o.describe(),
        lock.display(),
        match &o.job {
            Some(j) => format!(" (scancel {})", j),
            None => format!(" (kill {})", o.pid),
        },
    ))
}

/// Refuses when a live distill-tui holds `lock`; otherwise says why a lock that is there is
/// stale (`None`: no lock).
pub fn refuse_if_locked(lock: &Path) -> Result<Option<String>> {
    match judge(lock)? {
        Found::Nothing => Ok(None),
        Found::Live(o) => Err(in_use(lock, &o)),
        Found::Stale(why, _) => Ok(Some(why)),
    }
}

/// A name beside `lock` that no other process uses: its host, pid and `token`.
fn sibling(lock: &Path, what: &str, token: u64) -> PathBuf {
    let name = lock.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let host: String =
        hostname().unwrap_or_default().chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect();
    lock.with_file_name(format!("{name}.{what}-{host}-{}-{token:016x}", std::process::id()))
}

/// A token no other acquisition draws: the time, the pid and a counter, mixed.
fn new_token() -> u64 {
    use std::sync::atomic::AtomicU64;
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut z = nanos ^ (u64::from(std::process::id()) << 32) ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(17);
    // splitmix64
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Writes `text` to a new file at `path` (refusing one that exists, a link included).
fn create_new(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

/// Takes `lock` for a new owner record with `token`: links it into place, or takes over a stale
/// lock first. Returns why a lock left behind was stale, when one was taken over.
fn acquire(lock: &Path, token: u64) -> Result<Option<String>> {
    let me = Owner { token: Some(token), ..Owner::me() };
    let tmp = sibling(lock, "new", token);
    create_new(&tmp, &me.to_text()).map_err(|e| Error::io(lock, e))?;
    let result = acquire_from(lock, &tmp, token);
    let _ = std::fs::remove_file(&tmp);
    result
}

fn acquire_from(lock: &Path, tmp: &Path, token: u64) -> Result<Option<String>> {
    let mut took_over = None;
    // A handful of rounds: each either takes the lock, finds it live, or removes a stale one.
    for _ in 0..8 {
        match std::fs::hard_link(tmp, lock) {
            Ok(()) => return Ok(took_over),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            // A filesystem without hard links: an exclusive create, its record written at once.
            Err(_) => match std::fs::OpenOptions::new().write(true).create_new(true).open(lock) {
                Ok(mut f) => {
                    use std::io::Write;
                    let text = std::fs::read_to_string(tmp).map_err(|e| Error::io(tmp, e))?;
                    f.write_all(text.as_bytes()).map_err(|e| Error::io(lock, e))?;
                    return Ok(took_over);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(Error::io(lock, e)),
            },
        }
        match judge(lock)? {
            Found::Nothing => continue,
            Found::Live(o) => return Err(in_use(lock, &o)),
            Found::Stale(why, judged) => {
                let _breaker = Breaker::take(lock);
                // Judged again under the breaker: another taker may have replaced it meanwhile.
                let now = crate::input_file::read_text(lock, crate::input_file::SMALL).ok();
                if now.as_deref() != Some(judged.as_str()) {
                    continue;
                }
                let grave = sibling(lock, "stale", token);
                match std::fs::rename(lock, &grave) {
                    // Released or taken by another meanwhile (possible only without the breaker).
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(Error::io(lock, e)),
                    Ok(()) => {}
                }
                let moved = crate::input_file::read_text(&grave, crate::input_file::SMALL).unwrap_or_default();
                if moved != judged {
                    // Without the breaker: a lock made after the judging; put it back.
                    let _ = std::fs::hard_link(&grave, lock);
                }
                let _ = std::fs::remove_file(&grave);
                if moved == judged {
                    took_over = Some(why);
                }
            }
        }
    }
    Err(Error::Input(format!("{}: could not take the lock (others kept taking it); try again", lock.display())))
}

/// A lock held by this process: created (or taken over when stale), its heartbeat kept by a
/// background thread, checked before writes, and removed on drop.
#[derive(Debug)]
pub struct HeldLock {
    pub path: PathBuf,
    /// Why a lock left behind was stale, when this process took it over.
    pub took_over: Option<String>,
    token: u64,
    stop: Arc<AtomicBool>,
    lost: Arc<AtomicBool>,
}

impl HeldLock {
    pub fn take(path: &Path) -> Result<Self> {
        let token = new_token();
        let took_over = acquire(path, token)?;
        let stop = Arc::new(AtomicBool::new(false));
        let lost = Arc::new(AtomicBool::new(false));
        let (flag, gone, beat_path) = (stop.clone(), lost.clone(), path.to_path_buf());
        let _ = std::thread::Builder::new().name("distill-heartbeat".into()).spawn(move || {
            let step = Duration::from_millis(250);
            let mut waited = Duration::ZERO;
            while !flag.load(Ordering::SeqCst) {
                std::thread::sleep(step);
                waited += step;
                if waited >= BEAT_EVERY && !flag.load(Ordering::SeqCst) {
                    waited = Duration::ZERO;
                    // Only our own lock beats; one that is gone or another's is not recreated.
                    if !holds(&beat_path, token) || touch(&beat_path).is_err() {
                        gone.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            }
        });
        Ok(Self { path: path.to_path_buf(), took_over, token, stop, lost })
    }

    /// Whether the lock still holds this holder's token; an error naming who holds it now when
    /// not. Called before every write of a record or checkpoint.
    pub fn check(&self) -> Result<()> {
        self.fence().check()
    }

    /// The right to write, to check before each write (see [`Fence`]).
    pub fn fence(&self) -> Fence {
        Fence { path: self.path.clone(), token: self.token, lost: self.lost.clone() }
    }

    /// Set once the heartbeat (or a check) found the lock gone or another's.
    pub fn lost(&self) -> Arc<AtomicBool> {
        self.lost.clone()
    }
}

/// A holder's right to write what its lock guards (a fencing token): checked before each write
/// of a record, a checkpoint or a saved model, so that a process that lost its lock (suspended,
/// cut off, taken over) writes nothing more.
#[derive(Debug, Clone)]
pub struct Fence {
    path: PathBuf,
    token: u64,
    lost: Arc<AtomicBool>,
}

impl Fence {
    pub fn check(&self) -> Result<()> {
        if !self.lost.load(Ordering::SeqCst) && holds(&self.path, self.token) {
            return Ok(());
        }
        self.lost.store(true, Ordering::SeqCst);
        let now = match read_owner(&self.path) {
            Some(o) if o.token != Some(self.token) => format!("it is held by {} now", o.describe()),
            Some(_) => "it was found another's or gone".to_string(),
            None => "it is gone".to_string(),
        };
        Err(Error::Input(format!(
            "{}: this process lost its lock ({now}); it stops without writing, and leaves the work to the holder",
            self.path.display()
        )))
    }
}

/// Whether `lock` holds the record of `token`.
fn holds(lock: &Path, token: u64) -> bool {
    read_owner(lock).is_some_and(|o| o.token == Some(token))
}

/// Sets `path`'s modification time to now (the file server's), without creating it or following
/// a link.
fn touch(path: &Path) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: a valid C path; a null `times` means "now" for both times.
    let rc = unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), std::ptr::null(), libc::AT_SYMLINK_NOFOLLOW) };
    if rc == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let breaker = Breaker::take(&self.path);
        if breaker.is_some() {
            // Nothing else removes the lock while the breaker is held, and nothing creates one
            // while it is there: if it is ours now, it is ours when removed.
            if holds(&self.path, self.token) {
                let _ = std::fs::remove_file(&self.path);
            }
            return;
        }
        // Without the breaker: renamed aside first, so that a lock another process made
        // meanwhile is not deleted.
        let aside = sibling(&self.path, "released", self.token);
        if std::fs::rename(&self.path, &aside).is_ok() {
            if !holds(&aside, self.token) {
                let _ = std::fs::hard_link(&aside, &self.path);
            }
            let _ = std::fs::remove_file(&aside);
        }
    }
}

/// The right to remove `<lock>`: an exclusive `flock` of `<lock>.break`, released when dropped
/// (or when the process dies). The holder deletes the file before it lets go, so that none is
/// left behind; a taker that waited on a file deleted meanwhile finds the name no longer its
/// file's and takes the new one instead. `None` where the file cannot be opened as a regular file
/// or the filesystem refuses locks.
struct Breaker {
    file: std::fs::File,
    path: PathBuf,
}

impl Breaker {
    fn take(lock: &Path) -> Option<Breaker> {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
        let name = lock.file_name()?.to_string_lossy().into_owned();
        let path = lock.with_file_name(format!("{name}.break"));
        for _ in 0..64 {
            // Never through a link, never blocking on a FIFO someone put there.
            let file = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(&path)
                .ok()?;
            let held = file.metadata().ok()?;
            if !held.file_type().is_file() {
                return None;
            }
            file.lock().ok()?;
            // Still the file the name gives? (Its last holder deletes it before letting go.)
            match std::fs::symlink_metadata(&path) {
                Ok(now) if (now.dev(), now.ino()) == (held.dev(), held.ino()) => {
                    return Some(Breaker { file, path });
                }
                _ => continue,
            }
        }
        None
    }
}

impl Drop for Breaker {
    fn drop(&mut self) {
        // Deleted while held: whoever waits on it then sees the name is not its file's.
        let _ = std::fs::remove_file(&self.path);
        let _ = self.file.unlock();
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
    matches!(judge(path), Ok(Found::Live(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_and_old_locks_still_parse() {
        let me = Owner::me();
        assert_eq!(Owner::parse(&me.to_text()), Some(me.clone()));
        assert!(me.start.is_some() && me.host.is_some());
        let old = Owner { pid: 123, host: None, start: None, program: None, job: None, beat: None, token: None };
        assert_eq!(Owner::parse("123\n"), Some(old));
        assert_eq!(Owner::parse("garbage"), None);
        assert_eq!(Owner::parse(""), None);
    }

    #[test]
    fn a_live_pid_of_another_process_is_stale() {
        // This test's own process is alive but is not distill-tui.
        let pid = std::process::id();
        let old = Owner { pid, host: None, start: None, program: None, job: None, beat: None, token: None };
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

    /// A lock record of a process that has ended, as a crash leaves it.
    fn stale(lock: &Path) {
        std::fs::write(lock, Owner { pid: 999_999_999, token: Some(1), ..Owner::me() }.to_text()).unwrap();
    }

    #[test]
    fn of_many_takers_of_one_stale_lock_exactly_one_holds_it() {
        for round in 0..20 {
            let dir = tempfile::tempdir().unwrap();
            let lock = dir.path().join(".lock");
            stale(&lock);
            let barrier = std::sync::Barrier::new(8);
            let held: Vec<Option<HeldLock>> = std::thread::scope(|s| {
                let takers: Vec<_> = (0..8)
                    .map(|_| {
                        s.spawn(|| {
                            barrier.wait();
                            HeldLock::take(&lock).ok()
                        })
                    })
                    .collect();
                takers.into_iter().map(|t| t.join().unwrap()).collect()
            });
            let winners: Vec<&HeldLock> = held.iter().flatten().collect();
            assert_eq!(winners.len(), 1, "round {round}: {} holders", winners.len());
            assert!(winners[0].check().is_ok());
            // Nothing left beside the lock: no temporary, no grave, no breaker.
            let names: Vec<String> =
                std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
            assert_eq!(names, [".lock"], "round {round}");
        }
    }

    #[test]
    fn a_holder_that_lost_its_lock_knows_and_never_recreates_it() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".lock");
        let held = HeldLock::take(&lock).unwrap();
        assert!(held.check().is_ok());
        // A second holder in this very process is refused: the lock is live.
        assert!(HeldLock::take(&lock).unwrap_err().to_string().contains("in use by another distill-tui"));
        // Taken by someone else (as a takeover after a missed heartbeat would).
        std::fs::write(&lock, Owner { token: Some(42), ..Owner::me() }.to_text()).unwrap();
        let e = held.check().unwrap_err().to_string();
        assert!(e.contains("lost its lock") && e.contains("held by process"), "{e}");
        assert!(held.lost().load(Ordering::SeqCst));
        // Released: the other's lock stays.
        drop(held);
        assert_eq!(read_owner(&lock).unwrap().token, Some(42));
        std::fs::remove_file(&lock).unwrap();
        let held = HeldLock::take(&lock).unwrap();
        std::fs::remove_file(&lock).unwrap();
        assert!(held.check().is_err(), "a removed lock is lost");
        drop(held);
        assert!(!lock.exists(), "released, a lock that is gone stays gone");
    }

    #[test]
    fn unreadable_links_and_empty_locks_are_not_taken_lightly() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(".lock");
        std::fs::write(&lock, "").unwrap();
        let e = HeldLock::take(&lock).unwrap_err().to_string();
        assert!(e.contains("holds no lock record"), "{e}");
        // Old enough, it is taken over.
        let old = std::time::SystemTime::now() - Duration::from_secs(STALE_AFTER + 10);
        std::fs::File::options().write(true).open(&lock).unwrap().set_modified(old).unwrap();
        let held = HeldLock::take(&lock).unwrap();
        assert!(held.took_over.as_deref().unwrap().contains("unreadable lock file"));
        drop(held);
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, "keep me").unwrap();
        std::os::unix::fs::symlink(&target, &lock).unwrap();
        assert!(HeldLock::take(&lock).unwrap_err().to_string().contains("is not a lock file"));
        assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep me");
    }
}

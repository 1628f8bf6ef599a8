//! Who holds an experiment folder: the lock file names the process (pid), its host, its start
//! time (from `/proc/<pid>/stat`, in clock ticks since boot) and the program. A pid alone is
//! not enough: pids are reused after a reboot and in containers, so a lock whose pid is alive
//! but belongs to another process (another start time, another program) is stale.

/// The program name written into locks (and compared with `/proc/<pid>/comm`).
const PROGRAM: &str = "distill-tui";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub pid: u32,
    pub host: Option<String>,
    /// Clock ticks after boot when the process started (`/proc/<pid>/stat`, field 22).
    pub start: Option<u64>,
    pub program: Option<String>,
}

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
        Self { pid, host: hostname(), start: start_time(pid), program: Some(PROGRAM.into()) }
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
        s
    }

    pub fn parse(text: &str) -> Option<Self> {
        let mut lines = text.lines();
        let pid = lines.next()?.trim().parse().ok()?;
        let mut owner = Self { pid, host: None, start: None, program: None };
        for line in lines {
            match line.split_once('=') {
                Some(("host", h)) => owner.host = Some(h.trim().to_string()),
                Some(("start", t)) => owner.start = t.trim().parse().ok(),
                Some(("program", p)) => owner.program = Some(p.trim().to_string()),
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
            return Holder::Live(self);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_round_trips_and_old_locks_still_parse() {
        let me = Owner::me();
        assert_eq!(Owner::parse(&me.to_text()), Some(me.clone()));
        assert!(me.start.is_some() && me.host.is_some());
        assert_eq!(Owner::parse("123\n"), Some(Owner { pid: 123, host: None, start: None, program: None }));
        assert_eq!(Owner::parse("garbage"), None);
        assert_eq!(Owner::parse(""), None);
    }

    #[test]
    fn a_live_pid_of_another_process_is_stale() {
        // This test's own process is alive but is not distill-tui.
        let pid = std::process::id();
        let old = Owner { pid, host: None, start: None, program: None };
        assert!(matches!(old.holder(), Holder::Stale(why) if why.contains("not distill-tui")), "old format");
        let reused = Owner { start: start_time(pid).map(|t| t + 1), ..Owner::me() };
        assert!(matches!(reused.holder(), Holder::Stale(why) if why.contains("pid was reused")));
        assert!(matches!(Owner::me().holder(), Holder::Live(_)), "the same start time: live");
        let elsewhere = Owner { host: Some("another-host".into()), ..Owner::me() };
        assert!(matches!(elsewhere.holder(), Holder::Live(_)), "cannot be checked from here");
        let ended = Owner { pid: i32::MAX as u32, ..Owner::me() };
        assert!(matches!(ended.holder(), Holder::Stale(why) if why.contains("has ended")));
    }
}

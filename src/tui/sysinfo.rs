//! What the header shows of the machine: this process's CPU use and memory (from /proc, read
//! once a second by the monitor's loop) and, on CUDA, the GPU's utilisation and memory (from
//! `nvidia-smi`, asked by a background thread so that a slow driver never stalls the screen).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GpuStats {
    pub utilization_percent: f64,
    pub memory_used_mib: f64,
    pub memory_total_mib: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct SysStats {
    /// CPU time of this process over the last interval, in percent of one core.
    pub cpu_percent: Option<f64>,
    pub rss_bytes: Option<u64>,
    pub gpu: Option<GpuStats>,
}

/// Samples [`SysStats`]; `sample` is cheap (two small /proc reads).
pub struct Sampler {
    last: Option<(Instant, f64)>,
    gpu: Option<Arc<Mutex<Option<GpuStats>>>>,
}

impl Sampler {
    /// `gpu`: ask `nvidia-smi` too (the CUDA backend).
    pub fn new(gpu: bool) -> Self {
        let gpu = gpu.then(|| {
            let slot = Arc::new(Mutex::new(None));
            let writer = Arc::downgrade(&slot);
            let _ = std::thread::Builder::new().name("distill-gpu-stats".into()).spawn(move || {
                // Ends when the monitor drops the sampler, or at once without nvidia-smi.
                while let Some(slot) = writer.upgrade() {
                    let Some(stats) = query_nvidia_smi() else { return };
                    if let Ok(mut s) = slot.lock() {
                        *s = Some(stats);
                    }
                    drop(slot);
                    std::thread::sleep(Duration::from_secs(2));
                }
            });
            slot
        });
        Self { last: None, gpu }
    }

    pub fn sample(&mut self) -> SysStats {
        let now = Instant::now();
        let cpu = cpu_seconds();
        let cpu_percent = match (self.last, cpu) {
            (Some((t, c0)), Some(c1)) if now > t => Some(100.0 * (c1 - c0) / (now - t).as_secs_f64()),
            _ => None,
        };
        if let Some(c) = cpu {
            self.last = Some((now, c));
        }
        let gpu = self.gpu.as_ref().and_then(|g| g.lock().ok().and_then(|s| *s));
        SysStats { cpu_percent, rss_bytes: rss_bytes(), gpu }
    }
}

/// User + system CPU seconds of this process.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    parse_cpu_ticks(&stat).map(|ticks| ticks as f64 / clock_ticks_per_second())
}

/// utime + stime (fields 14 and 15) from a /proc/PID/stat line; the command name (field 2) may
/// hold spaces and parentheses, so fields are counted after its closing parenthesis.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

fn clock_ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as f64 } else { 100.0 }
}

fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * if page > 0 { page as u64 } else { 4096 })
}

fn query_nvidia_smi() -> Option<GpuStats> {
    let out = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits", "--id=0"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    parse_nvidia_smi(&String::from_utf8_lossy(&out.stdout))
}

fn parse_nvidia_smi(text: &str) -> Option<GpuStats> {
    let mut v = text.lines().next()?.split(',').map(|f| f.trim().parse::<f64>());
    Some(GpuStats {
        utilization_percent: v.next()?.ok()?,
        memory_used_mib: v.next()?.ok()?,
        memory_total_mib: v.next()?.ok()?,
    })
}

/// Bytes as the header shows them: `812M`, `1.3G`.
pub fn fmt_bytes(b: u64) -> String {
    let mib = b as f64 / (1024.0 * 1024.0);
    if mib < 1000.0 { format!("{mib:.0}M") } else { format!("{:.1}G", mib / 1024.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_ticks_from_a_stat_line_with_an_awkward_name() {
        let line = "4242 (distill (tui) x) R 1 2 3 4 5 6 7 8 9 10 150 25 0 0 20 0 8 0 100 0 0";
        assert_eq!(parse_cpu_ticks(line), Some(175));
        assert_eq!(parse_cpu_ticks("garbage"), None);
    }

    #[test]
    fn this_process_is_measured() {
        let mut s = Sampler::new(false);
        s.sample();
        // Busy for 300 ms of wall time: many clock ticks of CPU time.
        let t = Instant::now();
        let mut x = 0u64;
        while t.elapsed() < Duration::from_millis(300) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(1));
        }
        let stats = s.sample();
        assert!(stats.cpu_percent.is_some_and(|p| p > 0.0), "{stats:?}");
        assert!(stats.rss_bytes.is_some_and(|b| b > 1 << 20), "{stats:?}");
    }

    #[test]
    fn nvidia_smi_output() {
        let g = parse_nvidia_smi("87, 30512, 143771\n").unwrap();
        assert_eq!(g, GpuStats { utilization_percent: 87.0, memory_used_mib: 30512.0, memory_total_mib: 143771.0 });
        assert_eq!(parse_nvidia_smi("[N/A], 1, 2"), None);
        assert_eq!(fmt_bytes(812 << 20), "812M");
        assert_eq!(fmt_bytes(1395 << 20), "1.4G");
    }
}

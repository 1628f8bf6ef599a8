//! Writing a file so that a crash leaves the old version or the new one, never a torn file.

use std::path::Path;

use crate::error::{Error, Result};

/// Writes `path` through `write` on a temporary sibling, then renames it into place.
///
/// The temporary name is unique (host, pid and a token no other write draws: on a shared
/// filesystem, processes of several hosts may write the same file at once) and unpredictable, and
/// it is created here, exclusively, before `write` fills it: a link someone placed at that name
/// (to make this process overwrite a file elsewhere) makes the write fail instead of following it.
pub fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(temporary_name(&name));
    std::fs::OpenOptions::new().write(true).create_new(true).open(&tmp).map_err(|e| Error::io(path, e))?;
    let result = write(&tmp).and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(|e| match e {
        // Name the file being written, not its temporary sibling.
        Error::Io { source, .. } => Error::Write { path: path.to_path_buf(), source },
        other => other,
    })
}

/// `.<name>.tmp-<host>-<pid>-<token>`, with the extension of `name` kept last (some writers
/// choose their format by it).
pub fn temporary_name(name: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
    let mut z = nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    let token = z ^ (z >> 31) ^ u64::from(std::process::id());
    let ext = Path::new(name).extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    format!(".{name}.tmp-{}-{}-{token:016x}{ext}", host(), std::process::id())
}

/// This machine's name, for temporary names (empty when it has none).
pub fn host() -> &'static str {
    static HOST: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HOST.get_or_init(|| {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is writable and its length is passed.
        if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } != 0 {
            return String::new();
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        String::from_utf8_lossy(&buf[..end]).chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').collect()
    })
}

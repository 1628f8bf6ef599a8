//! Writing a file so that a crash leaves the old version or the new one, never a torn file.

use std::path::Path;

use crate::error::{Error, Result};

/// Writes `path` through `write` on a temporary sibling, then renames it into place.
pub fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    // Unique per host and process: on a shared filesystem, processes of several hosts may
    // write the same file (results.json) at once.
    let tmp = path.with_file_name(format!(".{name}.tmp-{}-{}", host(), std::process::id()));
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

/// This machine's name, for temporary names (empty when it has none).
fn host() -> &'static str {
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

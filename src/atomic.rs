//! Writing a file so that a crash leaves the old version or the new one, never a torn file.

use std::path::Path;

use crate::error::{Error, Result};

/// Writes `path` through `write` on a temporary sibling, then renames it into place.
pub fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
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

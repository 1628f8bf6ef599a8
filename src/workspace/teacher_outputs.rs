//! The teacher's saved outputs, `teacher-outputs/<key>.bin`: where each goes (a digest of what
//! decides it: the teacher, the data, the padding, the backend) and, beside it as `<key>.json`,
//! that key, so that `submit` can tell whether outputs of this very teacher are saved.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::layout::TEACHER_OUTPUTS_DIR;
use crate::error::{Error, Result};

/// `<experiment>/teacher-outputs/<digest of key>.bin`.
pub fn outputs_path(exp_dir: &Path, key: &serde_json::Value) -> PathBuf {
    let digest = Sha256::digest(key.to_string().as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    exp_dir.join(TEACHER_OUTPUTS_DIR).join(format!("{hex}.bin"))
}

/// Writes `key` beside the outputs saved at `bin`.
pub fn save_key(bin: &Path, key: &serde_json::Value) -> Result<()> {
    let path = bin.with_extension("json");
    let text = serde_json::to_string_pretty(key).expect("json");
    crate::atomic::write_atomic(&path, |p| std::fs::write(p, &text).map_err(|e| Error::io(p, e)))
}

/// Whether outputs of the teacher whose fingerprint is `teacher` are saved (for some padding and
/// backend: a cell on another backend computes its own).
pub fn saved_for(exp_dir: &Path, teacher: &serde_json::Value) -> bool {
    let Ok(entries) = std::fs::read_dir(exp_dir.join(TEACHER_OUTPUTS_DIR)) else { return false };
    entries.filter_map(|e| e.ok()).take(10_000).any(|e| {
        let path = e.path();
        let is_key = path.extension().is_some_and(|x| x == "json");
        let key: Option<serde_json::Value> = is_key
            .then(|| crate::input_file::read_text(&path, crate::input_file::SMALL).ok())
            .flatten()
            .and_then(|t| serde_json::from_str(&t).ok());
        let bin = path.with_extension("bin");
        key.is_some_and(|k| k["teacher"] == *teacher)
            && std::fs::symlink_metadata(&bin).is_ok_and(|m| m.file_type().is_file() && m.len() > 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_outputs_of_this_teacher_count() {
        let dir = tempfile::tempdir().unwrap();
        let teacher = serde_json::json!({"model": "t", "seed": 42});
        assert!(!saved_for(dir.path(), &teacher), "nothing saved");
        std::fs::create_dir_all(dir.path().join(TEACHER_OUTPUTS_DIR)).unwrap();
        std::fs::write(dir.path().join(TEACHER_OUTPUTS_DIR).join("stray.bin"), "x").unwrap();
        assert!(!saved_for(dir.path(), &teacher), "a file that is not a key does not count");
        let key = serde_json::json!({"teacher": {"model": "other"}, "backend": "cpu"});
        let bin = outputs_path(dir.path(), &key);
        std::fs::write(&bin, "outputs").unwrap();
        save_key(&bin, &key).unwrap();
        assert!(!saved_for(dir.path(), &teacher), "another teacher's outputs");
        let key = serde_json::json!({"teacher": teacher, "backend": "cuda"});
        let bin = outputs_path(dir.path(), &key);
        save_key(&bin, &key).unwrap();
        assert!(!saved_for(dir.path(), &teacher), "a key without its outputs");
        std::fs::write(&bin, "outputs").unwrap();
        assert!(saved_for(dir.path(), &teacher));
    }
}

//! The experiment folder `<output_dir>/<name>/` as a whole: one process at a time (a lock
//! file naming it, see [`super::lock`]), the config it was started with (a rerun must match it, or say `--fresh`),
//! and `--fresh`, which moves an old folder aside instead of deleting it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::experiment::Experiment;

use super::layout::TEACHER_DIR;
use super::layout::{CELLS_DIR, CONFIG_FILE, LOCK_FILE};
use super::lock::{HeldLock, refuse_if_locked};
#[cfg(test)]
use super::lock::{Owner, read_owner};

/// Held while this process writes into the experiment folder; the lock goes on drop.
#[derive(Debug)]
pub struct Workspace {
    pub dir: PathBuf,
    /// Set when `--fresh` moved an earlier folder here.
    pub moved_aside: Option<PathBuf>,
    /// Why a lock left behind was stale, when this process took it over.
    pub took_over: Option<String>,
    _lock: HeldLock,
}

impl Workspace {
    /// The right to write into the folder, checked before each write (see `lock::Fence`).
    pub fn fence(&self) -> super::lock::Fence {
        self._lock.fence()
    }

    /// Takes the folder for `exp`: refuses when another live process holds it or when it was
    /// started with another configuration; with `fresh`, first moves an existing folder aside.
    pub fn open(exp: &Experiment, fresh: bool) -> Result<Self> {
        let dir = exp.dir.clone();
        let lock = dir.join(LOCK_FILE);
        refuse_if_locked(&lock)?;
        let mut moved_aside = None;
        if fresh && dir.exists() {
            refuse_if_cells_live(&dir)?;
            let aside = free_sibling(&dir);
            std::fs::rename(&dir, &aside).map_err(|e| Error::io(&dir, e))?;
            moved_aside = Some(aside);
        }
        std::fs::create_dir_all(&dir).map_err(|e| {
            Error::Input(format!(
                "cannot create the experiment folder {} ({e}); set experiment.output_dir to a folder you can write to",
                dir.display()
            ))
        })?;
        let held = HeldLock::take(&lock)?;
        let ws = Self { dir, moved_aside, took_over: held.took_over.clone(), _lock: held };
        // With the lock held: the folder must belong to this configuration.
        let saved = ws.dir.join(CONFIG_FILE);
        match crate::input_file::read_text(&saved, crate::input_file::EXPERIMENT_FILE) {
            Ok(old) => {
                let changes = config_changes(&old, &exp.resolved_toml);
                if !changes.is_empty() {
                    return Err(Error::Input(format!(
                        "{} holds results of another configuration ({} in {}):\n{}\n\
                         Rerun with the same settings to resume, add --fresh to start over (the old \
                         folder is moved aside, not deleted), or set experiment.name to keep both \
                         (to reuse its fine-tuned teacher there: teacher.model = \"{}\", teacher.finetune_epochs = 0)",
                        ws.dir.display(),
                        if changes.len() == 1 { "1 change".to_string() } else { format!("{} changes", changes.len()) },
                        saved.display(),
                        changes.iter().map(|c| format!("  {c}")).collect::<Vec<_>>().join("\n"),
                        ws.dir.join(TEACHER_DIR).display()
                    )));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                write_atomic(&saved, |path| std::fs::write(path, &exp.resolved_toml).map_err(|e| Error::io(path, e)))?;
            }
            Err(e) => return Err(Error::io(&saved, e)),
        }
        Ok(ws)
    }
}

/// Refuses while another live process trains a cell of the folder `dir` (its lock says so): the
/// folder must not be moved from under it.
fn refuse_if_cells_live(dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir.join(CELLS_DIR)) else { return Ok(()) };
    for entry in entries.filter_map(|e| e.ok()).take(100_000) {
        refuse_if_locked(&entry.path().join(LOCK_FILE)).map_err(|e| {
            Error::Input(format!("{e}; --fresh moves the folder aside only once no process works in it"))
        })?;
    }
    Ok(())
}

/// Removes an experiment folder that holds only regenerable output (the synthetic demo's), unless
/// a live process is working in it.
pub fn discard(dir: &Path) -> Result<()> {
    refuse_if_locked(&dir.join(LOCK_FILE))?;
    refuse_if_cells_live(dir)?;
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(dir, e)),
        _ => Ok(()),
    }
}

/// `<dir>.old-1`, `<dir>.old-2`, ...: the first that does not exist.
fn free_sibling(dir: &Path) -> PathBuf {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "experiment".into());
    (1..).map(|i| dir.with_file_name(format!("{name}.old-{i}"))).find(|p| !p.exists()).expect("some index is free")
}

/// Dotted keys whose values differ between two TOML texts: `key: old -> new`.
pub fn config_changes(old: &str, new: &str) -> Vec<String> {
    let flat = |text: &str| {
        let mut out = BTreeMap::new();
        match toml::from_str::<toml::Table>(text) {
            Ok(t) => flatten("", &toml::Value::Table(t), &mut out),
            Err(_) => {
                out.insert("(file)".to_string(), "unreadable TOML".to_string());
            }
        }
        out
    };
    let (a, b) = (flat(old), flat(new));
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .map(|k| {
            let show = |v: Option<&String>| v.cloned().unwrap_or_else(|| "(not set)".into());
            format!("{k}: {} -> {}", show(a.get(k)), show(b.get(k)))
        })
        .collect()
}

fn flatten(prefix: &str, v: &toml::Value, out: &mut BTreeMap<String, String>) {
    match v {
        toml::Value::Table(t) => {
            for (k, v) in t {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out);
            }
        }
        toml::Value::Array(items) if items.iter().any(|i| i.is_table()) => {
            for (i, item) in items.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), item, out);
            }
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_name_the_keys_and_both_values() {
        let old = "[training]\nepochs = 2\nbatch_size = 32\n[[runs]]\nname = \"a\"\n";
        let new = "[training]\nepochs = 3\nbatch_size = 32\n[[runs]]\nname = \"b\"\n[[runs]]\nname = \"c\"\n";
        assert_eq!(
            config_changes(old, new),
            vec!["runs[0].name: \"a\" -> \"b\"", "runs[1].name: (not set) -> \"c\"", "training.epochs: 2 -> 3"]
        );
        assert!(config_changes(old, old).is_empty());
    }

    #[test]
    fn a_live_lock_refuses_and_a_stale_one_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let lock = dir.path().join(LOCK_FILE);
        // A live holder: this process's record with another pid is not possible to fake, so
        // a record on another host (which cannot be checked from here) stands for it.
        let elsewhere = Owner { host: Some("gpu-node-7".into()), ..Owner::me() };
        std::fs::write(&lock, elsewhere.to_text()).unwrap();
        let e = HeldLock::take(&lock).unwrap_err().to_string();
        let pid = std::process::id();
        assert!(e.contains(&format!("in use by another distill-tui (process {pid} on gpu-node-7")), "{e}");
        // pid 1 is alive but is not distill-tui: stale.
        std::fs::write(&lock, "1\n").unwrap();
        let held = HeldLock::take(&lock).unwrap();
        let why = held.took_over.clone().expect("taken over");
        assert!(why.starts_with("process 1 is ") && why.contains("not distill-tui"), "{why}");
        assert!(read_owner(&lock).is_some_and(|o| o.same_process(&Owner::me())));
        drop(held);
        assert!(!lock.exists(), "released");
        // A pid far above pid_max belongs to no process.
        std::fs::write(&lock, "999999999\n").unwrap();
        assert_eq!(HeldLock::take(&lock).unwrap().took_over.as_deref(), Some("process 999999999 has ended"));
    }

    #[test]
    fn fresh_moves_the_old_folder_to_the_first_free_name() {
        let dir = tempfile::tempdir().unwrap();
        let exp = dir.path().join("exp");
        std::fs::create_dir_all(dir.path().join("exp.old-1")).unwrap();
        assert_eq!(free_sibling(&exp), dir.path().join("exp.old-2"));
    }
}

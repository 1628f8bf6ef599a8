//! The per-epoch checkpoint of a run in progress: the model, the optimizer's state and where
//! the data stands, so a rerun continues from the last finished epoch and ends with the
//! numbers it would have had without the interruption.
//!
//! Layout, in `<experiment>/.resume/<run>/`: `model-e<N>.mpk` and `optim-e<N>.mpk` (burn
//! records, full precision; they keep parameter ids, which the optimizer's state is keyed by),
//! then `state.json`, written last and atomically, naming those files with their SHA-256. A
//! crash at any point leaves the previous complete checkpoint in force.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::Optimizer;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::eval::Evaluation;
use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::events::correct_string;
use crate::events::{EpochRecord, parse_correct};
use crate::model::BertClassifier;
use crate::ops::FastOps;

const STATE: &str = "state.json";
const VERSION: u32 = 1;

/// What a checkpoint says about the run besides its tensors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    pub version: u32,
    /// The run's settings, to refuse a checkpoint of other settings.
    pub settings: String,
    /// The last finished epoch; training goes on with the next one.
    pub epoch: usize,
    /// Optimizer steps taken (the learning-rate schedule's position).
    pub step: usize,
    pub records: Vec<EpochRecord>,
    /// Active training seconds so far.
    pub seconds: f64,
    pub validation_loss: f64,
    pub validation_accuracy: f64,
    pub validation_correct: String,
    pub model_file: String,
    pub model_sha256: String,
    pub optim_file: String,
    pub optim_sha256: String,
}

impl CheckpointState {
    pub fn evaluation(&self) -> Evaluation {
        Evaluation {
            loss: self.validation_loss,
            accuracy: self.validation_accuracy,
            correct: parse_correct(&self.validation_correct),
        }
    }
}

/// Where one run keeps its checkpoint.
#[derive(Debug, Clone)]
pub struct RunCheckpoint {
    pub dir: PathBuf,
    /// Identifies the run's settings; a checkpoint with another value is not used.
    pub settings: String,
}

/// What [`RunCheckpoint::save`] records besides the model and the optimizer.
pub struct Progress<'a> {
    pub epoch: usize,
    pub step: usize,
    pub records: &'a [EpochRecord],
    pub seconds: f64,
    pub evaluation: &'a Evaluation,
}

/// [`Progress`], owned by the writer thread.
struct OwnedProgress {
    epoch: usize,
    step: usize,
    records: Vec<EpochRecord>,
    seconds: f64,
    evaluation: Evaluation,
}

impl OwnedProgress {
    fn of(p: &Progress<'_>) -> Self {
        OwnedProgress {
            epoch: p.epoch,
            step: p.step,
            records: p.records.to_vec(),
            seconds: p.seconds,
            evaluation: p.evaluation.clone(),
        }
    }
}

/// A checkpoint being written by [`RunCheckpoint::save_in_background`]. Dropping it (a run
/// ending early with another error) still waits for the writer, so that no write outlives its
/// run; only [`wait`](Self::wait) reports the write's own error.
#[must_use = "wait for the checkpoint, or its write error is lost"]
pub struct PendingSave(Option<Result<std::thread::JoinHandle<Result<()>>>>);

impl PendingSave {
    /// Waits until the checkpoint is on disk; its error, if writing failed.
    pub fn wait(mut self) -> Result<()> {
        match self.0.take() {
            Some(handle) => {
                handle?.join().unwrap_or_else(|_| Err(Error::Internal("the checkpoint writer panicked".into())))
            }
            None => Ok(()),
        }
    }
}

impl Drop for PendingSave {
    fn drop(&mut self) {
        if let Some(Ok(handle)) = self.0.take() {
            let _ = handle.join();
        }
    }
}

fn recorder() -> NamedMpkBytesRecorder<FullPrecisionSettings> {
    NamedMpkBytesRecorder::default()
}

/// The model's and the optimizer's records as bytes (reads every tensor).
fn serialize<B, O>(model: <BertClassifier<B> as Module<B>>::Record, optim: O::Record) -> Result<(Vec<u8>, Vec<u8>)>
where
    B: AutodiffBackend,
    O: Optimizer<BertClassifier<B>, B>,
{
    let err = |what: &str, e: burn::record::RecorderError| Error::Internal(format!("cannot record the {what}: {e}"));
    let model_bytes = Recorder::<B>::record(&recorder(), model, ()).map_err(|e| err("model", e))?;
    let optim_bytes = Recorder::<B>::record(&recorder(), optim, ()).map_err(|e| err("optimizer state", e))?;
    Ok((model_bytes, optim_bytes))
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn write_bytes(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |p| {
        use std::io::Write;
        let mut f = std::fs::File::create(p).map_err(|e| Error::io(p, e))?;
        f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| Error::io(p, e))
    })
}

impl RunCheckpoint {
    pub fn new(dir: PathBuf, settings: String) -> Self {
        Self { dir, settings }
    }

    /// Records the state after a finished epoch, then removes the previous epoch's files.
    pub fn save<B, O>(&self, model: &BertClassifier<B>, optim: &O, p: Progress<'_>) -> Result<()>
    where
        B: AutodiffBackend,
        O: Optimizer<BertClassifier<B>, B>,
    {
        self.write(serialize::<B, O>(model.clone().into_record(), optim.to_record())?, OwnedProgress::of(&p))
    }

    /// [`save`](Self::save) on another thread, so that training goes on while the checkpoint is
    /// serialized, hashed and written (about a second per run for a MiniLM student, two for its
    /// teacher). The records share the tensors' buffers: an update in place by the optimizer
    /// copies a buffer the writer still reads, so what is written is the state of this epoch.
    /// On a backend whose tensors only the training thread may read, they are serialized here
    /// first and only hashed and written there. Wait for the result with [`PendingSave::wait`]
    /// before the next save or the run's end.
    pub fn save_in_background<B, O>(&self, model: &BertClassifier<B>, optim: &O, p: Progress<'_>) -> PendingSave
    where
        B: AutodiffBackend + FastOps,
        O: Optimizer<BertClassifier<B>, B>,
        <BertClassifier<B> as Module<B>>::Record: Send + 'static,
        O::Record: Send + 'static,
    {
        let (model_record, optim_record, progress) =
            (model.clone().into_record(), optim.to_record(), OwnedProgress::of(&p));
        let this = self.clone();
        let writer: Box<dyn FnOnce() -> Result<()> + Send> = if B::READS_FROM_ANOTHER_THREAD {
            Box::new(move || this.write(serialize::<B, O>(model_record, optim_record)?, progress))
        } else {
            match serialize::<B, O>(model_record, optim_record) {
                Ok(bytes) => Box::new(move || this.write(bytes, progress)),
                Err(e) => return PendingSave(Some(Err(e))),
            }
        };
        let handle = std::thread::Builder::new()
            .name("checkpoint".into())
            .spawn(writer)
            .map_err(|e| Error::Internal(format!("cannot start the checkpoint writer: {e}")));
        PendingSave(Some(handle))
    }

    /// Writes the serialized model and optimizer state of the epoch `p` describes, then its
    /// state file; removes the previous epoch's files.
    fn write(&self, (model_bytes, optim_bytes): (Vec<u8>, Vec<u8>), p: OwnedProgress) -> Result<()> {
        std::fs::create_dir_all(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let (model_file, optim_file) = (format!("model-e{}.mpk", p.epoch), format!("optim-e{}.mpk", p.epoch));
        write_bytes(&self.dir.join(&model_file), &model_bytes)?;
        write_bytes(&self.dir.join(&optim_file), &optim_bytes)?;
        let state = CheckpointState {
            version: VERSION,
            settings: self.settings.clone(),
            epoch: p.epoch,
            step: p.step,
            records: p.records,
            seconds: p.seconds,
            validation_loss: p.evaluation.loss,
            validation_accuracy: p.evaluation.accuracy,
            validation_correct: correct_string(&p.evaluation.correct),
            model_sha256: sha256(&model_bytes),
            optim_sha256: sha256(&optim_bytes),
            model_file: model_file.clone(),
            optim_file: optim_file.clone(),
        };
        let json = serde_json::to_string_pretty(&state).expect("state serializes");
        write_bytes(&self.dir.join(STATE), json.as_bytes())?;
        // Older epochs' files are no longer referenced.
        if let Ok(entries) = std::fs::read_dir(&self.dir) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if name.ends_with(".mpk") && name != model_file && name != optim_file {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(())
    }

    /// The saved state, if there is a usable one. `Err` carries why a checkpoint that exists
    /// cannot be used (the caller warns and starts the run over).
    pub fn state(&self) -> std::result::Result<Option<CheckpointState>, String> {
        let path = self.dir.join(STATE);
        let text = match crate::input_file::read_text(&path, crate::input_file::SMALL) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let state: CheckpointState = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if state.version != VERSION {
            return Err(format!("{}: written by another version of distill-tui", path.display()));
        }
        if state.settings != self.settings {
            return Err(format!("{}: the run's settings changed since it was written", path.display()));
        }
        Ok(Some(state))
    }

    /// Loads the model and optimizer of `state` into `model` and `optim`.
    pub fn restore<B, O>(
        &self,
        state: &CheckpointState,
        model: BertClassifier<B>,
        optim: O,
        device: &B::Device,
    ) -> std::result::Result<(BertClassifier<B>, O), String>
    where
        B: AutodiffBackend,
        O: Optimizer<BertClassifier<B>, B>,
    {
        let read = |file: &str, sum: &str| -> std::result::Result<Vec<u8>, String> {
            let path = self.dir.join(file);
            let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            if sha256(&bytes) != sum {
                return Err(format!("{}: damaged (its checksum does not match state.json)", path.display()));
            }
            Ok(bytes)
        };
        let model_bytes = read(&state.model_file, &state.model_sha256)?;
        let optim_bytes = read(&state.optim_file, &state.optim_sha256)?;
        let record = Recorder::<B>::load(&recorder(), model_bytes, device).map_err(|e| format!("model record: {e}"))?;
        let model = model.load_record(record);
        let record =
            Recorder::<B>::load(&recorder(), optim_bytes, device).map_err(|e| format!("optimizer record: {e}"))?;
        let optim = optim.load_record(record);
        Ok((model, optim))
    }

    /// Removes the checkpoint (the run is over).
    pub fn clear(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

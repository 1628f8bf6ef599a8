//! Where a model's files are: a local folder or a Hub repository.

use std::path::{Path, PathBuf};

use super::{HubRepo, HubSettings, looks_like_repo_id};
use crate::error::{Error, Result};

pub const CONFIG: &str = "config.json";
pub const WEIGHTS: &str = "model.safetensors";
pub const TOKENIZER_JSON: &str = "tokenizer.json";
pub const VOCAB: &str = "vocab.txt";
pub const TOKENIZER_CONFIG: &str = "tokenizer_config.json";
pub const SPECIAL_TOKENS_MAP: &str = "special_tokens_map.json";

/// The files of one model, resolved to paths on this machine.
#[derive(Debug, Clone)]
pub struct ModelFiles {
    /// What the user named (folder or `repo@revision`), for messages.
    pub source: String,
    pub config: PathBuf,
    pub weights: PathBuf,
    pub tokenizer_json: Option<PathBuf>,
    pub vocab: Option<PathBuf>,
    pub tokenizer_config: Option<PathBuf>,
    pub special_tokens_map: Option<PathBuf>,
}

impl ModelFiles {
    /// `spec` is a folder, or a Hub id (`bert-base-uncased`, `owner/name`) at `revision`.
    pub fn resolve(spec: &str, revision: &str, hub: &HubSettings) -> Result<Self> {
        let path = Path::new(spec);
        if spec.trim().is_empty() {
            return Err(Error::Input(
                "no model given (an empty name); give a model folder or a Hub id like `owner/name`".into(),
            ));
        }
        if path.is_dir() {
            return Self::from_dir(path);
        }
        if path.exists() {
            return Err(Error::InvalidModel {
                path: path.to_path_buf(),
                reason: "is a file; give the folder that holds config.json, model.safetensors and tokenizer.json"
                    .into(),
            });
        }
        if !looks_like_repo_id(spec) {
            return Err(Error::InvalidModel {
                path: path.to_path_buf(),
                reason: "no such folder (and it is not a Hub id like `owner/name`)".into(),
            });
        }
        Self::from_hub(&HubRepo::model(spec, revision, hub))
    }

    pub fn from_dir(dir: &Path) -> Result<Self> {
        // A name that exists but is no regular file (a folder, a device) is an error of its own,
        // not a missing file.
        for name in [CONFIG, WEIGHTS, TOKENIZER_JSON, VOCAB, TOKENIZER_CONFIG, SPECIAL_TOKENS_MAP] {
            let p = dir.join(name);
            if p.exists() && !p.is_file() {
                let what = if p.is_dir() { "a folder" } else { "not a regular file" };
                return Err(Error::InvalidModel { path: p, reason: format!("is {what}; it must be a file") });
            }
        }
        let file = |name: &str| Some(dir.join(name)).filter(|p| p.is_file());
        let missing = |what: &str| Error::InvalidModel {
            path: dir.to_path_buf(),
            reason: format!(
                "{what}; a model folder holds config.json, model.safetensors and tokenizer.json (or vocab.txt), \
                 as transformers' save_pretrained writes them"
            ),
        };
        let config = file(CONFIG).ok_or_else(|| missing("has no config.json"))?;
        let weights = match file(WEIGHTS) {
            Some(w) => w,
            None if file("pytorch_model.bin").is_some() => {
                return Err(Error::InvalidModel {
                    path: dir.to_path_buf(),
                    reason: "holds only pytorch_model.bin; convert it once with \
                             `AutoModel.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)` \
                             to get model.safetensors"
                        .into(),
                });
            }
            None => return Err(missing("has no model.safetensors")),
        };
        let files = Self {
            source: dir.display().to_string(),
            config,
            weights,
            tokenizer_json: file(TOKENIZER_JSON),
            vocab: file(VOCAB),
            tokenizer_config: file(TOKENIZER_CONFIG),
            special_tokens_map: file(SPECIAL_TOKENS_MAP),
        };
        if files.tokenizer_json.is_none() && files.vocab.is_none() {
            return Err(Error::InvalidModel { path: dir.to_path_buf(), reason: no_tokenizer(dir) });
        }
        Ok(files)
    }

    pub fn from_hub(repo: &HubRepo) -> Result<Self> {
        let config = repo.get(CONFIG)?;
        let weights = repo.get(WEIGHTS)?;
        let tokenizer_json = repo.get_optional(TOKENIZER_JSON)?;
        let vocab = if tokenizer_json.is_none() { Some(repo.get(VOCAB)?) } else { repo.get_optional(VOCAB)? };
        Ok(Self {
            source: format!("{}@{}", repo.id, repo.revision),
            config,
            weights,
            tokenizer_json,
            vocab,
            tokenizer_config: repo.get_optional(TOKENIZER_CONFIG)?,
            special_tokens_map: repo.get_optional(SPECIAL_TOKENS_MAP)?,
        })
    }

    /// The tokenizer files that exist, with the names to save them under.
    pub fn tokenizer_files(&self) -> Vec<(&'static str, &Path)> {
        [
            (TOKENIZER_JSON, &self.tokenizer_json),
            (VOCAB, &self.vocab),
            (TOKENIZER_CONFIG, &self.tokenizer_config),
            (SPECIAL_TOKENS_MAP, &self.special_tokens_map),
        ]
        .into_iter()
        .filter_map(|(name, p)| p.as_deref().map(|p| (name, p)))
        .collect()
    }
}

/// Why a folder without tokenizer.json or vocab.txt cannot be read, and how to write one.
fn no_tokenizer(dir: &Path) -> String {
    let slow: Vec<&str> = ["vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model"]
        .into_iter()
        .filter(|n| dir.join(n).is_file())
        .collect();
    let (found, from) = match slow.as_slice() {
        [] => (String::new(), "<the Hub id of the model it was fine-tuned from>".to_string()),
        names => (
            format!(" ({} alone are not read: distill-tui reads tokenizer.json)", names.join(", ")),
            dir.display().to_string(),
        ),
    };
    format!(
        "has neither tokenizer.json nor vocab.txt{found}; write the fast tokenizer next to the model once, in \
         Python: `AutoTokenizer.from_pretrained(\"{from}\").save_pretrained(\"{}\")`",
        dir.display()
    )
}

//! A whole model folder: config, weights and tokenizer, loaded together or saved so that
//! `transformers.AutoModelForSequenceClassification.from_pretrained(folder)` reads it.

use std::path::Path;

use burn::tensor::backend::Backend;

use super::bert::BertClassifier;
use super::config::BertConfig;
use super::weights::{LoadReport, load_classifier, save_classifier};
use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use crate::hub::HubSettings;
use crate::hub::files::{self, ModelFiles};
use crate::tokenize::TextTokenizer;

/// A model with everything needed to run it on text.
#[derive(Debug)]
pub struct LoadedModel<B: Backend> {
    pub files: ModelFiles,
    pub config: BertConfig,
    pub model: BertClassifier<B>,
    pub tokenizer: TextTokenizer,
    pub report: LoadReport,
}

impl<B: Backend> LoadedModel<B> {
    /// Loads `spec` (folder or Hub id at `revision`). `max_length` defaults to the model's
    /// position limit and may not exceed it.
    pub fn load(
        spec: &str,
        revision: &str,
        hub: &HubSettings,
        max_length: Option<usize>,
        seed: u64,
        device: &B::Device,
    ) -> Result<Self> {
        let files = ModelFiles::resolve(spec, revision, hub)?;
        let config = BertConfig::from_file(&files.config)?;
        let max_length = check_max_length(max_length, &config)?;
        let tokenizer = TextTokenizer::load(&files, max_length, config.vocab_size)?.for_model(&config);
        let (model, report) = load_classifier::<B>(&files.weights, &config, seed, device)?;
        Ok(Self { files, config, model, tokenizer, report })
    }
}

/// `--max-length` / `data.max_length` against the model: at least 3 (for [CLS], text and [SEP],
/// as in experiments) and at most the tokens its positions allow (`max_position_embeddings`, less
/// RoBERTa's positions before its first).
pub fn check_max_length(max_length: Option<usize>, config: &BertConfig) -> Result<usize> {
    let limit = config.max_tokens();
    match max_length {
        None => Ok(limit),
        Some(n) if n < 3 => {
            Err(Error::Input(format!("max length {n} is too small: [CLS] text [SEP] needs at least 3")))
        }
        Some(n) if n > limit => Err(Error::Input(format!(
            "max length {n} is above the {limit} tokens the model's positions allow (max_position_embeddings); use at most {limit}"
        ))),
        Some(n) => Ok(n),
    }
}

/// Writes `dir/config.json`, `dir/model.safetensors` and the tokenizer files. Each file is
/// written to a temporary name and renamed, so a crash leaves the old file or the new one.
pub fn save_folder<B: Backend>(
    dir: &Path,
    config: &BertConfig,
    model: &BertClassifier<B>,
    tokenizer_from: &ModelFiles,
    tokenizer: &TextTokenizer,
) -> Result<()> {
    if config.num_hidden_layers != model.num_layers() {
        return Err(Error::Internal(format!(
            "config says {} layers but the model has {}",
            config.num_hidden_layers,
            model.num_layers()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let json = serde_json::to_string_pretty(&config.to_json()).expect("JSON values serialize");
    write_atomic(&dir.join(files::CONFIG), |p| std::fs::write(p, &json).map_err(|e| Error::io(p, e)))?;
    write_atomic(&dir.join(files::WEIGHTS), |p| save_classifier(model, config.family, p))?;
    for (name, src) in tokenizer_from.tokenizer_files() {
        let dst = dir.join(name);
        if same_file(src, &dst) {
            continue;
        }
        write_atomic(&dst, |p| std::fs::copy(src, p).map(|_| ()).map_err(|e| Error::io(p, e)))?;
    }
    if tokenizer_from.tokenizer_json.is_none() {
        write_atomic(&dir.join(files::TOKENIZER_JSON), |p| tokenizer.save(p))?;
    }
    if tokenizer_from.tokenizer_config.is_none() {
        let tc = tokenizer_config(config, tokenizer);
        write_atomic(&dir.join(files::TOKENIZER_CONFIG), |p| {
            std::fs::write(p, serde_json::to_string_pretty(&tc).expect("JSON")).map_err(|e| Error::io(p, e))
        })?;
    }
    Ok(())
}

/// The tokenizer_config.json of a folder whose tokenizer came without one: the family's
/// WordPiece class, or for RoBERTa's byte-level `tokenizer.json` the fast tokenizer as it is with
/// its special tokens named (those the vocabulary has).
fn tokenizer_config(config: &BertConfig, tokenizer: &TextTokenizer) -> serde_json::Value {
    use super::Family;
    let mut tc = serde_json::json!({ "model_max_length": config.max_tokens() });
    let class = match config.family {
        Family::Bert => "BertTokenizer",
        Family::Electra => "ElectraTokenizer",
        Family::DistilBert => "DistilBertTokenizer",
        Family::Roberta | Family::XlmRoberta => {
            let specials = [
                ("bos_token", "<s>"),
                ("cls_token", "<s>"),
                ("eos_token", "</s>"),
                ("sep_token", "</s>"),
                ("unk_token", "<unk>"),
                ("pad_token", "<pad>"),
                ("mask_token", "<mask>"),
            ];
            for (key, token) in specials {
                if tokenizer.token_to_id(token).is_some() {
                    tc[key] = token.into();
                }
            }
            "PreTrainedTokenizerFast"
        }
    };
    tc["tokenizer_class"] = class.into();
    tc
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_keeps_the_old_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.json");
        std::fs::write(&path, "old").unwrap();
        // A disk that fills up half way through.
        let err = write_atomic(&path, |p| {
            std::fs::write(p, "new, but only half").unwrap();
            Err(Error::io(p, std::io::Error::from_raw_os_error(libc::ENOSPC)))
        })
        .unwrap_err();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "the temporary file is removed");
        let msg = err.to_string();
        assert!(msg.starts_with(&format!("{}: cannot write it", path.display())), "{msg}");
        assert!(msg.contains("No space left on device") && msg.contains("previous version is intact"), "{msg}");
        // A successful write replaces it.
        write_atomic(&path, |p| std::fs::write(p, "new").map_err(|e| Error::io(p, e))).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new");
    }
}

//! Hugging Face `model.safetensors` <-> [`BertClassifier`], through burn-store, for every member
//! of the BERT family: each family's keys are read as BERT's ("canonical") names, and written
//! back in the family's own (`family.rs` says which).
//!
//! Before burn-store applies anything, the file's header is checked against `config.json`: every
//! encoder tensor must be there with the shape the config implies, so a wrong file gives an error
//! that names the tensor and both shapes instead of a half-loaded model.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use burn::tensor::backend::Backend;
use burn_store::{BurnToPyTorchAdapter, KeyRemapper, ModuleSnapshot, PyTorchToBurnAdapter, SafetensorsStore};
use safetensors::{Dtype, SafeTensors};

use super::bert::BertClassifier;
use super::config::BertConfig;
use super::family::{DISTILBERT_NAMES, Family};
use crate::error::{Error, Result};

/// A part of the model that a checkpoint may lack and that is then initialized from the seed
/// instead; ordered as in the model, so a set of them lists in model order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    Pooler,
    Classifier,
}

impl Part {
    /// The part a checkpoint key (canonical, without `bert.`) belongs to, when it may be missing.
    fn of_key(key: &str) -> Option<Part> {
        if key.starts_with("pooler.") {
            Some(Part::Pooler)
        } else if key.starts_with("classifier.") {
            Some(Part::Classifier)
        } else {
            None
        }
    }

    /// The part's name in `family`'s checkpoints: BERT's pooler is the head's dense layer, which
    /// is `classifier.dense` in RoBERTa's and ELECTRA's and `pre_classifier` in DistilBERT's.
    pub fn name(self, family: Family) -> &'static str {
        match (self, family) {
            (Part::Pooler, Family::Bert) => "pooler",
            (Part::Classifier, Family::Bert) => "classifier",
            (Part::Pooler, _) => family.head_keys().0,
            (Part::Classifier, _) => family.head_keys().1,
        }
    }
}

/// The checkpoint has a classifier, for another number of labels than the config's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClassifierMismatch {
    pub checkpoint_labels: usize,
    pub wanted_labels: usize,
}

/// What loading did besides copying tensors.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LoadReport {
    /// The checkpoint's family, whose names the summary uses.
    pub family: Family,
    /// Parts the checkpoint lacked (or had in another size) and that were initialized instead.
    pub initialized: BTreeSet<Part>,
    /// Set when the checkpoint's classifier is for another label count: the head is then
    /// initialized from the seed and the checkpoint's is not loaded.
    pub classifier_mismatch: Option<ClassifierMismatch>,
}

impl LoadReport {
    /// One line for the log, or `None` when everything came from the checkpoint.
    pub fn summary(&self, seed: u64) -> Option<String> {
        if self.initialized.is_empty() {
            return None;
        }
        let parts: Vec<&str> = self.initialized.iter().map(|p| p.name(self.family)).collect();
        let mut s = format!("initialized {} with seed {seed}: the checkpoint has none", parts.join(" and "));
        if let Some(m) = &self.classifier_mismatch {
            s.push_str(&format!(
                "; its classifier has {} labels, this model needs {}",
                m.checkpoint_labels, m.wanted_labels
            ));
        }
        Some(s)
    }
}

/// Canonical key (BERT's, without the `bert.` prefix) -> shape, in PyTorch layout, for a config.
fn expected_tensors(c: &BertConfig) -> BTreeMap<String, Vec<usize>> {
    let (h, i, e) = (c.hidden_size, c.intermediate_size, c.embedding_size);
    let mut m = BTreeMap::new();
    let mut put = |k: String, s: &[usize]| {
        m.insert(k, s.to_vec());
    };
    put("embeddings.word_embeddings.weight".into(), &[c.vocab_size, e]);
    put("embeddings.position_embeddings.weight".into(), &[c.max_position_embeddings, e]);
    if c.family.has_token_type_table() {
        put("embeddings.token_type_embeddings.weight".into(), &[c.type_vocab_size, e]);
    }
    put("embeddings.LayerNorm.weight".into(), &[e]);
    put("embeddings.LayerNorm.bias".into(), &[e]);
    if e != h {
        put("embeddings_project.weight".into(), &[h, e]);
        put("embeddings_project.bias".into(), &[h]);
    }
    for l in 0..c.num_hidden_layers {
        let p = format!("encoder.layer.{l}");
        for lin in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
            put(format!("{p}.{lin}.weight"), &[h, h]);
            put(format!("{p}.{lin}.bias"), &[h]);
        }
        put(format!("{p}.intermediate.dense.weight"), &[i, h]);
        put(format!("{p}.intermediate.dense.bias"), &[i]);
        put(format!("{p}.output.dense.weight"), &[h, i]);
        put(format!("{p}.output.dense.bias"), &[h]);
        for ln in ["attention.output.LayerNorm", "output.LayerNorm"] {
            put(format!("{p}.{ln}.weight"), &[h]);
            put(format!("{p}.{ln}.bias"), &[h]);
        }
    }
    put("pooler.dense.weight".into(), &[h, h]);
    put("pooler.dense.bias".into(), &[h]);
    put("classifier.weight".into(), &[c.num_labels(), h]);
    put("classifier.bias".into(), &[c.num_labels()]);
    m
}

/// The canonical name of a checkpoint key of `family` (BERT's names without the `bert.` prefix,
/// LayerNorm as weight/bias, the head's dense layer as `pooler.dense` and its output layer as
/// `classifier`), or `None` for keys that are not part of a sequence classifier (language-model
/// heads, ELECTRA's discriminator head, a RoBERTa pooler its classifier does not use, buffers).
fn canonical_key(family: Family, key: &str) -> Option<String> {
    let ignored = ["cls.", "lm_head.", "discriminator_predictions.", "generator", "vocab_"];
    if ignored.iter().any(|p| key.starts_with(p)) || key.ends_with("position_ids") {
        return None;
    }
    let (dense, out) = family.head_keys();
    let k = if let Some(rest) = key.strip_prefix(dense).filter(|_| family != Family::Bert) {
        format!("pooler.dense{rest}")
    } else if let Some(rest) = key.strip_prefix(out).filter(|r| r.starts_with('.')) {
        format!("classifier{rest}")
    } else {
        let k = key.strip_prefix(&format!("{}.", family.prefix())).unwrap_or(key);
        if family != Family::Bert && k.starts_with("pooler.") {
            return None;
        }
        match family {
            Family::DistilBert => {
                DISTILBERT_NAMES.iter().fold(k.to_string(), |k, (theirs, ours)| k.replace(theirs, ours))
            }
            _ => k.to_string(),
        }
    };
    let k = match k.strip_suffix(".LayerNorm.gamma") {
        Some(p) => format!("{p}.LayerNorm.weight"),
        None => match k.strip_suffix(".LayerNorm.beta") {
            Some(p) => format!("{p}.LayerNorm.bias"),
            None => k.to_string(),
        },
    };
    Some(k)
}

/// The file's tensors by canonical key: (key in the file, shape, dtype).
type Header = BTreeMap<String, (String, Vec<usize>, Dtype)>;

/// Reads the safetensors header of `bytes`, its keys read as `family`'s.
fn read_header(path: &Path, bytes: &[u8], family: Family) -> Result<Header> {
    let (_, meta) = SafeTensors::read_metadata(bytes).map_err(|e| Error::InvalidModel {
        path: path.to_path_buf(),
        reason: format!("not a readable safetensors file ({e}); it may be truncated or corrupt: download it again"),
    })?;
    let mut found = Header::new();
    for (key, info) in meta.tensors() {
        if let Some(k) = canonical_key(family, &key) {
            found.insert(k, (key.clone(), info.shape.clone(), info.dtype));
        }
    }
    Ok(found)
}

/// Checks the file's header against the config; returns the parts to initialize.
fn check_header(path: &Path, bytes: &[u8], c: &BertConfig) -> Result<LoadReport> {
    let found = read_header(path, bytes, c.family)?;
    let mut report = LoadReport { family: c.family, ..LoadReport::default() };
    for (key, shape) in expected_tensors(c) {
        let Some((file_key, file_shape, dtype)) = found.get(&key) else {
            let part = Part::of_key(&key)
                .ok_or_else(|| Error::MissingTensor { path: path.to_path_buf(), tensor: key.clone() })?;
            report.initialized.insert(part);
            continue;
        };
        if *dtype != Dtype::F32 {
            return Err(Error::InvalidModel {
                path: path.to_path_buf(),
                reason: format!(
                    "tensor `{file_key}` is stored as {dtype:?}; distill-tui reads float32 checkpoints \
                     (convert with `model.float().save_pretrained(dir)` in transformers)"
                ),
            });
        }
        if *file_shape == shape {
            continue;
        }
        if Part::of_key(&key) != Some(Part::Classifier) {
            return Err(Error::ShapeMismatch {
                path: path.to_path_buf(),
                tensor: file_key.clone(),
                expected: shape,
                found: file_shape.clone(),
            });
        }
        // A head for another label set: replaced, not an error.
        if report.initialized.insert(Part::Classifier) {
            let weight = found.get("classifier.weight").map_or(file_shape, |(_, s, _)| s);
            report.classifier_mismatch = Some(ClassifierMismatch {
                checkpoint_labels: weight.first().copied().unwrap_or(0),
                wanted_labels: c.num_labels(),
            });
        }
    }
    Ok(report)
}

/// Checkpoint key of `family` -> burn parameter path (the adapter handles LayerNorm weight/bias
/// and transposes Linear weights). A key with no burn parameter (a language-model head, an unused
/// pooler) maps to a path that is not there and is left out.
fn load_remapper(family: Family) -> KeyRemapper {
    let (dense, out) = family.head_keys();
    let prefix = regex::escape(family.prefix());
    let mut patterns: Vec<(String, String)> = Vec::new();
    if family != Family::Bert {
        patterns.push((format!("^{prefix}\\.pooler\\."), "unused.pooler.".into()));
        patterns.push((format!("^{}\\.", regex::escape(dense)), "bert.pooler.dense.".into()));
        patterns.push((format!("^{}\\.", regex::escape(out)), "classifier.".into()));
    }
    patterns.push((
        format!("^(?:{prefix}\\.)?(embeddings_project|embeddings|encoder|pooler|transformer)\\."),
        "bert.$1.".into(),
    ));
    if family == Family::DistilBert {
        for (theirs, ours) in DISTILBERT_NAMES {
            patterns.push((regex::escape(theirs), ours.into()));
        }
    }
    patterns.push((r"\.attention\.self\.".into(), ".attention.self_attn.".into()));
    patterns.push((r"\.LayerNorm\.".into(), ".layer_norm.".into()));
    let refs: Vec<(&str, &str)> = patterns.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    KeyRemapper::from_patterns(refs).expect("patterns of literal names are valid")
}

/// burn parameter path -> the family's Hugging Face key.
fn save_remapper(family: Family) -> KeyRemapper {
    let (dense, out) = family.head_keys();
    let mut patterns: Vec<(String, String)> =
        vec![(r"\.self_attn\.".into(), ".self.".into()), (r"\.layer_norm\.".into(), ".LayerNorm.".into())];
    if family == Family::DistilBert {
        // BERT's names back to DistilBERT's, in DISTILBERT_NAMES's order: the attention's first
        // (its `.output.` would match the layer's patterns after it); the layer prefix below.
        for (theirs, ours) in DISTILBERT_NAMES.iter().filter(|(theirs, _)| !theirs.starts_with("transformer.")) {
            patterns.push((regex::escape(ours), theirs.to_string()));
        }
        patterns.push((r"^bert\.encoder\.".into(), "distilbert.transformer.".into()));
    }
    if family != Family::Bert {
        patterns.push((r"^classifier\.".into(), format!("{out}.")));
        patterns.push((r"^bert\.pooler\.dense\.".into(), format!("{dense}.")));
        patterns.push((r"^bert\.".into(), format!("{}.", family.prefix())));
    }
    let refs: Vec<(&str, &str)> = patterns.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    KeyRemapper::from_patterns(refs).expect("patterns of literal names are valid")
}

/// Checks that `path` holds a float32 BERT encoder of config `c` (header only: fast), so bad
/// weights are refused before any work starts.
pub fn check_weights(path: &Path, c: &BertConfig) -> Result<LoadReport> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: read-only mapping of a file we only read.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    check_header(path, &map, c)
}

/// Loads `path` into a model of config `c`. Parts the checkpoint lacks (pooler, classifier, or
/// a classifier of another label count) keep the seeded initialization and are reported.
pub fn load_classifier<B: Backend>(
    path: &Path,
    c: &BertConfig,
    seed: u64,
    device: &B::Device,
) -> Result<(BertClassifier<B>, LoadReport)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    // SAFETY: read-only mapping of a file we only read; a concurrent writer would be a user error
    // that at worst gives wrong numbers, as with any reader.
    let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::io(path, e))?;
    let report = check_header(path, &map, c)?;
    drop(map);

    let mut model = BertClassifier::<B>::new(c, seed, device);
    let mut store = SafetensorsStore::from_file(path)
        .with_from_adapter(PyTorchToBurnAdapter)
        .remap(load_remapper(c.family))
        .allow_partial(true)
        .validate(false);
    if report.classifier_mismatch.is_some() {
        // The checkpoint's head has another label count: load everything but its output layer
        // (every other tensor's burn path starts with `bert.`, the head's dense layer's too).
        store = store.with_regex(r"^bert\.");
    }
    let result = model.load_from(&mut store).map_err(|e| Error::InvalidModel {
        path: path.to_path_buf(),
        reason: format!("could not read the weights: {e}"),
    })?;
    if !result.errors.is_empty() {
        let errors: Vec<String> = result.errors.iter().map(|e| e.to_string()).collect();
        return Err(Error::InvalidModel { path: path.to_path_buf(), reason: errors.join("; ") });
    }
    let unexpected: Vec<&String> = result
        .missing
        .iter()
        .map(|(p, _)| p)
        .filter(|p| !p.starts_with("bert.pooler.") && !p.starts_with("classifier."))
        .collect();
    if let Some(p) = unexpected.first() {
        return Err(Error::MissingTensor { path: path.to_path_buf(), tensor: (*p).clone() });
    }
    if c.sinusoidal_positions {
        // DistilBERT's sinusoidal positions are a fixed table, never trained.
        let table = &mut model.bert.embeddings.position_embeddings.weight;
        *table = table.clone().set_require_grad(false);
    }
    Ok((model, report))
}

/// Writes the model's weights as a Hugging Face `model.safetensors` with `family`'s keys
/// (`bert.*` and `classifier.*` for BERT, Linear weights `[out, in]`, LayerNorm `weight`/`bias`).
pub fn save_classifier<B: Backend>(model: &BertClassifier<B>, family: Family, path: &Path) -> Result<()> {
    let mut store = SafetensorsStore::from_file(path)
        .with_to_adapter(BurnToPyTorchAdapter)
        .remap(save_remapper(family))
        .clear_metadata()
        .metadata("format", "pt")
        .overwrite(true);
    model.save_into(&mut store).map_err(|e| Error::Internal(format!("writing {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_keys_accept_every_layout() {
        let bert = |k| canonical_key(Family::Bert, k);
        assert_eq!(bert("bert.embeddings.LayerNorm.gamma").unwrap(), "embeddings.LayerNorm.weight");
        assert_eq!(bert("embeddings.LayerNorm.beta").unwrap(), "embeddings.LayerNorm.bias");
        assert_eq!(bert("bert.encoder.layer.3.output.dense.weight").unwrap(), "encoder.layer.3.output.dense.weight");
        assert_eq!(bert("bert.pooler.dense.weight").unwrap(), "pooler.dense.weight");
        assert_eq!(bert("classifier.bias").unwrap(), "classifier.bias");
        assert!(bert("cls.predictions.bias").is_none());
        assert!(bert("embeddings.position_ids").is_none());
        assert!(bert("bert.embeddings.position_ids").is_none());
        let roberta = |k| canonical_key(Family::Roberta, k);
        assert_eq!(roberta("classifier.dense.weight").unwrap(), "pooler.dense.weight");
        assert_eq!(roberta("classifier.out_proj.bias").unwrap(), "classifier.bias");
        assert!(roberta("roberta.pooler.dense.weight").is_none(), "its sequence classifier has no pooler");
        assert!(roberta("lm_head.dense.weight").is_none());
        let distil = |k| canonical_key(Family::DistilBert, k);
        assert_eq!(
            distil("distilbert.transformer.layer.1.sa_layer_norm.weight").unwrap(),
            "encoder.layer.1.attention.output.LayerNorm.weight"
        );
        assert_eq!(
            distil("distilbert.transformer.layer.0.ffn.lin1.bias").unwrap(),
            "encoder.layer.0.intermediate.dense.bias"
        );
        assert_eq!(distil("pre_classifier.weight").unwrap(), "pooler.dense.weight");
        assert_eq!(
            canonical_key(Family::Electra, "electra.embeddings_project.weight").unwrap(),
            "embeddings_project.weight"
        );
        assert!(canonical_key(Family::Electra, "discriminator_predictions.dense.weight").is_none());
    }

    #[test]
    fn summaries_list_parts_in_model_order_then_the_mismatch() {
        assert_eq!(LoadReport::default().summary(3), None);
        let mut r = LoadReport::default();
        r.initialized.insert(Part::Classifier);
        assert_eq!(r.summary(3).unwrap(), "initialized classifier with seed 3: the checkpoint has none");
        r.initialized.insert(Part::Pooler);
        r.classifier_mismatch = Some(ClassifierMismatch { checkpoint_labels: 3, wanted_labels: 2 });
        assert_eq!(
            r.summary(3).unwrap(),
            "initialized pooler and classifier with seed 3: the checkpoint has none; \
             its classifier has 3 labels, this model needs 2"
        );
    }

    #[test]
    fn expected_tensors_count_matches_bert() {
        let c = BertConfig::synthetic(100, 32, 4, 4, 64, 3);
        // 5 embedding tensors, 16 per layer, 2 pooler, 2 classifier.
        assert_eq!(expected_tensors(&c).len(), 5 + 16 * 4 + 2 + 2);
        assert_eq!(expected_tensors(&c)["encoder.layer.1.intermediate.dense.weight"], vec![64, 32]);
    }
}

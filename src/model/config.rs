//! `config.json` of a Hugging Face checkpoint of the BERT family: every size the model needs,
//! its family (see `family.rs`), and its labels. DistilBERT's own key names (`dim`, `n_layers`,
//! ...) are read as BERT's.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Map, Value};

use super::family::Family;
use crate::error::{Error, Result};

/// The activation named by `hidden_act`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// transformers' "gelu": the exact erf form.
    Gelu,
    /// "gelu_new" / "gelu_pytorch_tanh" / "gelu_fast": the tanh approximation.
    GeluTanh,
    Relu,
}

/// The sizes and labels of a BERT sequence classifier, read from `config.json`.
///
/// The original JSON is kept so that saving writes back every field we do not interpret.
#[derive(Debug, Clone)]
pub struct BertConfig {
    pub family: Family,
    pub vocab_size: usize,
    /// The width of the embeddings (ELECTRA's `embedding_size`; else `hidden_size`): a narrower
    /// one is projected to `hidden_size` before the encoder.
    pub embedding_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub hidden_act: Activation,
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
    /// Dropout before the classifier (`classifier_dropout`, else `hidden_dropout_prob`).
    pub classifier_dropout: f64,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    pub pad_token_id: usize,
    /// DistilBERT's fixed sinusoidal position embeddings (`sinusoidal_pos_embds`): not trained.
    pub sinusoidal_positions: bool,
    /// Standard deviation of the initial weights (`initializer_range`, 0.02 by default).
    pub initializer_range: f64,
    /// Label names by id; `labels.len()` is `num_labels`.
    pub labels: Vec<String>,
    raw: Map<String, Value>,
}

impl BertConfig {
    /// Reads and checks `config.json`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = crate::input_file::read(path, crate::input_file::MODEL_CONFIG)?;
        let value: Value = serde_json::from_str(&text).map_err(|e| Error::InvalidModel {
            path: path.to_path_buf(),
            reason: format!("config.json is not valid JSON: {e}"),
        })?;
        Self::from_json(value).map_err(|reason| Error::InvalidModel { path: path.to_path_buf(), reason })
    }

    /// Builds the config from parsed JSON; the error says which key is wrong.
    pub fn from_json(value: Value) -> std::result::Result<Self, String> {
        let Value::Object(raw) = value else {
            return Err("config.json must hold a JSON object".into());
        };
        check_architecture(&raw)?;
        let family = Family::of(&raw)?;
        let key = |bert: &'static str| Self::key_of(family, bert);
        let hidden_act = hidden_act(&raw, key("hidden_act"))?;
        let hidden_dropout_prob = prob_key(&raw, key("hidden_dropout_prob"), 0.1)?;
        let hidden_size = usize_key(&raw, key("hidden_size"), None)?;
        let classifier_dropout = match family {
            Family::DistilBert => prob_key(&raw, "seq_classif_dropout", 0.2)?,
            _ => prob_key(&raw, "classifier_dropout", hidden_dropout_prob)?,
        };
        let config = BertConfig {
            family,
            vocab_size: usize_key(&raw, "vocab_size", None)?,
            embedding_size: usize_key(&raw, "embedding_size", Some(hidden_size))?,
            hidden_size,
            num_hidden_layers: usize_key(&raw, key("num_hidden_layers"), None)?,
            num_attention_heads: usize_key(&raw, key("num_attention_heads"), None)?,
            intermediate_size: usize_key(&raw, key("intermediate_size"), None)?,
            hidden_act,
            hidden_dropout_prob,
            attention_probs_dropout_prob: prob_key(&raw, key("attention_probs_dropout_prob"), 0.1)?,
            classifier_dropout,
            max_position_embeddings: usize_key(&raw, "max_position_embeddings", Some(512))?,
            type_vocab_size: match family {
                Family::DistilBert => 1,
                _ => usize_key(&raw, "type_vocab_size", Some(2))?,
            },
            // A null `layer_norm_eps` is an error, a null `initializer_range` the default.
            // DistilBERT's LayerNorms use 1e-12, not a key.
            layer_norm_eps: match raw.get("layer_norm_eps").filter(|_| family != Family::DistilBert) {
                None => 1e-12,
                Some(v) => positive("layer_norm_eps", v)?,
            },
            pad_token_id: usize_key(&raw, "pad_token_id", Some(0))?,
            sinusoidal_positions: family == Family::DistilBert
                && raw.get("sinusoidal_pos_embds").and_then(Value::as_bool).unwrap_or(false),
            initializer_range: match raw.get("initializer_range") {
                None | Some(Value::Null) => 0.02,
                Some(v) => positive("initializer_range", v)?,
            },
            labels: read_labels(&raw)?,
            raw,
        };
        config.check()?;
        Ok(config)
    }

    /// A family's name for one of BERT's keys (DistilBERT's are its own).
    fn key_of(family: Family, bert: &'static str) -> &'static str {
        match (family, bert) {
            (Family::DistilBert, "hidden_size") => "dim",
            (Family::DistilBert, "num_hidden_layers") => "n_layers",
            (Family::DistilBert, "num_attention_heads") => "n_heads",
            (Family::DistilBert, "intermediate_size") => "hidden_dim",
            (Family::DistilBert, "hidden_act") => "activation",
            (Family::DistilBert, "hidden_dropout_prob") => "dropout",
            (Family::DistilBert, "attention_probs_dropout_prob") => "attention_dropout",
            _ => bert,
        }
    }

    /// The sizes that must be at least 1, by their config.json keys (the family's names).
    fn sizes(&self) -> Vec<(&'static str, usize)> {
        let key = |bert| Self::key_of(self.family, bert);
        let mut sizes = vec![
            ("vocab_size", self.vocab_size),
            (key("hidden_size"), self.hidden_size),
            (key("num_hidden_layers"), self.num_hidden_layers),
            (key("num_attention_heads"), self.num_attention_heads),
            (key("intermediate_size"), self.intermediate_size),
            ("max_position_embeddings", self.max_position_embeddings),
        ];
        if self.family != Family::DistilBert {
            sizes.push(("type_vocab_size", self.type_vocab_size));
        }
        if self.family == Family::Electra {
            sizes.push(("embedding_size", self.embedding_size));
        }
        sizes
    }

    /// The most tokens an input may have (RoBERTa's positions start after the padding index).
    pub fn max_tokens(&self) -> usize {
        self.family.max_tokens(self.max_position_embeddings, self.pad_token_id)
    }

    fn check(&self) -> std::result::Result<(), String> {
        if self.family != Family::Electra && self.embedding_size != self.hidden_size {
            return Err(format!(
                "embedding_size {} differs from hidden_size {}; only ELECTRA projects its embeddings",
                self.embedding_size, self.hidden_size
            ));
        }
        if self.max_tokens() < 3 {
            return Err(format!(
                "max_position_embeddings {} leaves fewer than 3 tokens for an input",
                self.max_position_embeddings
            ));
        }
        for (key, v) in self.sizes() {
            if v == 0 {
                return Err(format!("key \"{key}\" is 0; it must be a positive integer"));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(format!(
                "hidden_size {} is not a multiple of num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if self.pad_token_id >= self.vocab_size {
            return Err(format!(
                "pad_token_id {} is outside the vocabulary (vocab_size {})",
                self.pad_token_id, self.vocab_size
            ));
        }
        Ok(())
    }

    pub fn num_labels(&self) -> usize {
        self.labels.len()
    }

    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// The same config with another depth (a student's).
    pub fn with_layers(&self, num_hidden_layers: usize) -> Self {
        Self { num_hidden_layers, ..self.clone() }
    }

    /// The same config with other labels (a classifier head for a task).
    pub fn with_labels(&self, labels: Vec<String>) -> Self {
        Self { labels, ..self.clone() }
    }

    /// The JSON to save next to the weights: the original keys, with depth, labels and the
    /// architecture set so that `AutoModelForSequenceClassification` builds this model.
    pub fn to_json(&self) -> Value {
        let mut raw = self.raw.clone();
        raw.insert("model_type".into(), self.family.model_type().into());
        raw.insert("architectures".into(), serde_json::json!([self.family.architecture()]));
        for (key, v) in self.sizes().into_iter().chain([("pad_token_id", self.pad_token_id)]) {
            raw.insert(key.into(), v.into());
        }
        if self.family != Family::DistilBert {
            raw.insert("layer_norm_eps".into(), self.layer_norm_eps.into());
        }
        let id2label: Map<String, Value> =
            self.labels.iter().enumerate().map(|(i, l)| (i.to_string(), l.as_str().into())).collect();
        let label2id: Map<String, Value> = self.labels.iter().enumerate().map(|(i, l)| (l.clone(), i.into())).collect();
        raw.insert("id2label".into(), id2label.into());
        raw.insert("label2id".into(), label2id.into());
        raw.remove("num_labels");
        Value::Object(raw)
    }

    /// A config for tests, demos and benchmarks: BERT's shape with chosen sizes.
    pub fn synthetic(
        vocab_size: usize,
        hidden_size: usize,
        num_hidden_layers: usize,
        num_attention_heads: usize,
        intermediate_size: usize,
        num_labels: usize,
    ) -> Self {
        let sizes = Sizes { vocab_size, hidden_size, num_hidden_layers, num_attention_heads, intermediate_size };
        Self::synthetic_of(Family::Bert, sizes, num_labels)
    }

    /// A config of `family` with chosen sizes, written as that family's `config.json` is: 512
    /// tokens (RoBERTa's 514 positions, its padding index 1, one token type, LayerNorm eps 1e-5),
    /// ELECTRA's embeddings half the hidden size, DistilBERT's own key names.
    pub fn synthetic_of(family: Family, sizes: Sizes, num_labels: usize) -> Self {
        let id2label: BTreeMap<String, String> =
            (0..num_labels).map(|i| (i.to_string(), format!("LABEL_{i}"))).collect();
        let mut json = serde_json::json!({
            "model_type": family.model_type(),
            "vocab_size": sizes.vocab_size,
            "max_position_embeddings": 512,
            "pad_token_id": 0,
            "id2label": id2label,
        });
        let raw = json.as_object_mut().expect("an object");
        let bert_keys = [
            ("hidden_size", Value::from(sizes.hidden_size)),
            ("num_hidden_layers", sizes.num_hidden_layers.into()),
            ("num_attention_heads", sizes.num_attention_heads.into()),
            ("intermediate_size", sizes.intermediate_size.into()),
            ("hidden_act", "gelu".into()),
            ("hidden_dropout_prob", 0.1.into()),
            ("attention_probs_dropout_prob", 0.1.into()),
        ];
        for (key, value) in bert_keys {
            raw.insert(Self::key_of(family, key).into(), value);
        }
        match family {
            Family::Bert | Family::Electra => {
                raw.insert("type_vocab_size".into(), 2.into());
                raw.insert("layer_norm_eps".into(), 1e-12.into());
            }
            Family::Roberta | Family::XlmRoberta => {
                raw.insert("type_vocab_size".into(), 1.into());
                raw.insert("layer_norm_eps".into(), 1e-5.into());
                raw.insert("max_position_embeddings".into(), 514.into());
                for (key, id) in [("bos_token_id", 0), ("pad_token_id", 1), ("eos_token_id", 2)] {
                    raw.insert(key.into(), id.into());
                }
            }
            Family::DistilBert => {
                raw.insert("sinusoidal_pos_embds".into(), false.into());
                raw.insert("seq_classif_dropout".into(), 0.2.into());
            }
        }
        if family == Family::Electra {
            raw.insert("embedding_size".into(), (sizes.hidden_size / 2).max(1).into());
        }
        Self::from_json(json).expect("synthetic config is valid")
    }
}

/// The sizes of a [`BertConfig::synthetic_of`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizes {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
}

/// Refuses relative position embeddings (the family itself is checked by `Family::of`).
fn check_architecture(raw: &Map<String, Value>) -> std::result::Result<(), String> {
    if let Some(p) = raw.get("position_embedding_type").and_then(Value::as_str)
        && p != "absolute"
    {
        return Err(format!("position_embedding_type \"{p}\" is not supported; only \"absolute\" is"));
    }
    Ok(())
}

/// A non-negative integer key; absent or null gives `default`, or an error without one.
fn usize_key(raw: &Map<String, Value>, key: &str, default: Option<usize>) -> std::result::Result<usize, String> {
    match raw.get(key) {
        None | Some(Value::Null) => {
            default.ok_or_else(|| format!("key \"{key}\" is missing; it must be a positive integer"))
        }
        Some(v) => v
            .as_u64()
            .map(|n| n as usize)
            .ok_or_else(|| format!("key \"{key}\" is {v}; it must be a non-negative integer")),
    }
}

/// A probability in [0, 1); absent or null gives `default`.
fn prob_key(raw: &Map<String, Value>, key: &str, default: f64) -> std::result::Result<f64, String> {
    match raw.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_f64() {
            Some(p) if (0.0..1.0).contains(&p) => Ok(p),
            _ => Err(format!("key \"{key}\" is {v}; it must be a probability in [0, 1)")),
        },
    }
}

/// The value of `key`, which must be a positive number.
fn positive(key: &str, v: &Value) -> std::result::Result<f64, String> {
    v.as_f64().filter(|x| *x > 0.0).ok_or_else(|| format!("key \"{key}\" is {v}; it must be a positive number"))
}

/// `hidden_act` (DistilBERT's `activation`), "gelu" when absent (or not a string).
fn hidden_act(raw: &Map<String, Value>, key: &str) -> std::result::Result<Activation, String> {
    match raw.get(key).and_then(Value::as_str).unwrap_or("gelu") {
        "gelu" => Ok(Activation::Gelu),
        "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Ok(Activation::GeluTanh),
        "relu" => Ok(Activation::Relu),
        other => Err(format!("{key} \"{other}\" is not supported (use gelu, gelu_new, gelu_pytorch_tanh or relu)")),
    }
}

/// The most labels a classifier may have: GLUE's tasks have 1 to 3, intent classifiers a few
/// hundred; more is a config.json that is not a sequence classifier's (or a broken one).
pub const MAX_LABELS: usize = 1000;

/// Label names from `id2label` (ids 0..n, all present), else `num_labels` generic names, else 2.
fn read_labels(raw: &Map<String, Value>) -> std::result::Result<Vec<String>, String> {
    let counts = [
        raw.get("num_labels").and_then(Value::as_u64),
        raw.get("id2label").and_then(|m| Some(m.as_object()?.len() as u64)),
    ];
    if let Some(n) = counts.into_iter().flatten().find(|&n| n > MAX_LABELS as u64) {
        return Err(format!(
            "the classifier has {n} labels (num_labels or id2label); distill-tui reads sequence classifiers of at most {MAX_LABELS}"
        ));
    }
    let num_labels = match raw.get("num_labels") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_u64()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("key \"num_labels\" is {v}; it must be a positive integer"))?
                as usize,
        ),
    };
    let Some(Value::Object(map)) = raw.get("id2label") else {
        return Ok((0..num_labels.unwrap_or(2)).map(|i| format!("LABEL_{i}")).collect());
    };
    let mut by_id = BTreeMap::new();
    for (k, v) in map {
        let id: usize =
            k.parse().map_err(|_| format!("id2label has the key \"{k}\"; its keys must be label ids 0, 1, ..."))?;
        let name = v.as_str().ok_or_else(|| format!("id2label[\"{k}\"] is {v}; it must be a string"))?;
        by_id.insert(id, name.to_string());
    }
    let labels: Vec<String> = by_id.values().cloned().collect();
    if by_id.keys().copied().ne(0..labels.len()) {
        return Err(format!(
            "id2label has ids {:?}; they must be 0..{} with none missing",
            by_id.keys().collect::<Vec<_>>(),
            labels.len()
        ));
    }
    if let Some(n) = num_labels
        && n != labels.len()
    {
        return Err(format!("num_labels is {n} but id2label names {} labels", labels.len()));
    }
    if let Some(Value::Object(l2i)) = raw.get("label2id") {
        for (name, id) in l2i {
            let ok = id.as_u64().map(|i| labels.get(i as usize) == Some(name)).unwrap_or(false);
            if !ok {
                return Err(format!("label2id maps \"{name}\" to {id} but id2label disagrees; fix one of them"));
            }
        }
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> Value {
        json!({"model_type": "bert", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 4,
               "num_attention_heads": 4, "intermediate_size": 37, "max_position_embeddings": 64,
               "layer_norm_eps": 1e-12, "id2label": {"0": "neg", "1": "pos"},
               "label2id": {"neg": 0, "pos": 1}})
    }

    #[test]
    fn reads_sizes_and_labels() {
        let c = BertConfig::from_json(base()).unwrap();
        assert_eq!((c.hidden_size, c.num_hidden_layers, c.head_dim()), (32, 4, 8));
        assert_eq!(c.labels, vec!["neg", "pos"]);
        assert_eq!(c.hidden_act, Activation::Gelu);
        assert_eq!(c.classifier_dropout, 0.1);
    }

    #[test]
    fn defaults_to_two_generic_labels() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("id2label");
        v.as_object_mut().unwrap().remove("label2id");
        assert_eq!(BertConfig::from_json(v.clone()).unwrap().labels, vec!["LABEL_0", "LABEL_1"]);
        v["num_labels"] = json!(3);
        assert_eq!(BertConfig::from_json(v).unwrap().num_labels(), 3);
    }

    #[test]
    fn errors_name_the_key() {
        let mut v = base();
        v["num_attention_heads"] = json!(5);
        assert!(BertConfig::from_json(v).unwrap_err().contains("num_attention_heads 5"));
        let mut v = base();
        v.as_object_mut().unwrap().remove("hidden_size");
        assert!(BertConfig::from_json(v).unwrap_err().contains("\"hidden_size\" is missing"));
        let mut v = base();
        v["id2label"] = json!({"0": "a", "2": "b"});
        v.as_object_mut().unwrap().remove("label2id");
        assert!(BertConfig::from_json(v).unwrap_err().contains("none missing"));
        let mut v = base();
        v["label2id"] = json!({"neg": 1, "pos": 0});
        assert!(BertConfig::from_json(v).unwrap_err().contains("label2id maps"));
        let mut v = base();
        v["model_type"] = json!("gpt2");
        assert!(BertConfig::from_json(v).unwrap_err().contains("bert, roberta, xlm-roberta, electra and distilbert"));
    }

    #[test]
    fn nulls_take_defaults_except_layer_norm_eps() {
        let mut v = base();
        v["initializer_range"] = Value::Null;
        v["max_position_embeddings"] = Value::Null;
        v["hidden_dropout_prob"] = Value::Null;
        let c = BertConfig::from_json(v).unwrap();
        assert_eq!((c.initializer_range, c.max_position_embeddings, c.hidden_dropout_prob), (0.02, 512, 0.1));
        let mut v = base();
        v["layer_norm_eps"] = Value::Null;
        assert!(BertConfig::from_json(v).unwrap_err().contains("\"layer_norm_eps\" is null"));
        let mut v = base();
        v["hidden_act"] = json!("swish");
        v.as_object_mut().unwrap().remove("vocab_size");
        assert!(BertConfig::from_json(v).unwrap_err().contains("hidden_act \"swish\""));
        let mut v = base();
        v["attention_probs_dropout_prob"] = json!(1.0);
        assert!(BertConfig::from_json(v).unwrap_err().contains("probability in [0, 1)"));
    }

    #[test]
    fn json_round_trip_keeps_unknown_keys_and_sets_depth() {
        let mut v = base();
        v["_name_or_path"] = json!("tiny");
        let c = BertConfig::from_json(v).unwrap().with_layers(2);
        let out = c.to_json();
        assert_eq!(out["num_hidden_layers"], 2);
        assert_eq!(out["_name_or_path"], "tiny");
        assert_eq!(out["architectures"][0], "BertForSequenceClassification");
        assert_eq!(out["id2label"]["1"], "pos");
        let back = BertConfig::from_json(out).unwrap();
        assert_eq!(back.labels, c.labels);
        assert_eq!(back.num_hidden_layers, 2);
    }
}

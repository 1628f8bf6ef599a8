//! The BERT family: BERT, RoBERTa, XLM-RoBERTa, ELECTRA (discriminators) and DistilBERT are one
//! encoder, a stack of identical post-LayerNorm transformer layers, with differences that are
//! data, chosen here from `config.json`'s `model_type`: the checkpoint's key names, how positions
//! are numbered, whether there are token types, the width of the embeddings, and the
//! classification head. One model serves them all (`bert.rs`); this file says how each differs.

use serde_json::{Map, Value};

/// A member of the BERT family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    #[default]
    Bert,
    Roberta,
    XlmRoberta,
    Electra,
    DistilBert,
}

/// How a family numbers positions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Positions {
    /// 0, 1, 2, ... for every token (BERT, ELECTRA, DistilBERT).
    Absolute,
    /// RoBERTa's: a real token's position is `padding_idx + 1 +` its index among real tokens, a
    /// padding token's is `padding_idx` (transformers' `create_position_ids_from_input_ids`).
    AfterPadding(usize),
}

/// The classification head on the first token's last hidden state: `dense`, then `activation`,
/// then dropout and the output layer, with dropout before `dense` too in some families.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadActivation {
    /// BERT's pooler.
    Tanh,
    /// ELECTRA's head.
    Gelu,
    /// DistilBERT's pre-classifier.
    Relu,
}

/// The `model_type`s read, for messages.
pub const SUPPORTED: &str = "bert, roberta, xlm-roberta, electra and distilbert";

impl Family {
    /// The family of `config.json`'s `model_type` (BERT when absent), or why it is not read.
    pub fn of(raw: &Map<String, Value>) -> Result<Family, String> {
        let t = raw.get("model_type").and_then(Value::as_str).unwrap_or("bert");
        Ok(match t {
            "bert" => Family::Bert,
            "roberta" => Family::Roberta,
            "xlm-roberta" => Family::XlmRoberta,
            "electra" => Family::Electra,
            "distilbert" => Family::DistilBert,
            "deberta" | "deberta-v2" => {
                return Err(format!(
                    "model_type is \"{t}\": DeBERTa's disentangled attention is not supported yet; distill-tui \
                     reads {SUPPORTED} checkpoints"
                ));
            }
            "albert" => {
                return Err(format!(
                    "model_type is \"albert\": ALBERT shares one layer's weights across its depth, so there are no \
                     layers to choose from; distill-tui reads {SUPPORTED} checkpoints"
                ));
            }
            _ => {
                return Err(format!(
                    "model_type is \"{t}\"; distill-tui reads encoders of the BERT family ({SUPPORTED}), not \
                     decoders or other architectures"
                ));
            }
        })
    }

    /// Every family, in the order of [`SUPPORTED`].
    pub const ALL: [Family; 5] =
        [Family::Bert, Family::Roberta, Family::XlmRoberta, Family::Electra, Family::DistilBert];

    /// The family named by its `model_type` (as `demo --family` takes it).
    pub fn from_model_type(name: &str) -> Result<Family, String> {
        Family::ALL
            .into_iter()
            .find(|f| f.model_type() == name)
            .ok_or_else(|| format!("\"{name}\" is not a family distill-tui reads; use one of {SUPPORTED}"))
    }

    pub fn model_type(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Roberta => "roberta",
            Family::XlmRoberta => "xlm-roberta",
            Family::Electra => "electra",
            Family::DistilBert => "distilbert",
        }
    }

    /// The transformers class a saved student is loaded as.
    pub fn architecture(self) -> &'static str {
        match self {
            Family::Bert => "BertForSequenceClassification",
            Family::Roberta => "RobertaForSequenceClassification",
            Family::XlmRoberta => "XLMRobertaForSequenceClassification",
            Family::Electra => "ElectraForSequenceClassification",
            Family::DistilBert => "DistilBertForSequenceClassification",
        }
    }

    /// The prefix of the encoder's keys in a checkpoint.
    pub fn prefix(self) -> &'static str {
        match self {
            Family::Bert => "bert",
            Family::Roberta | Family::XlmRoberta => "roberta",
            Family::Electra => "electra",
            Family::DistilBert => "distilbert",
        }
    }

    pub fn positions(self, pad_token_id: usize) -> Positions {
        match self {
            Family::Roberta | Family::XlmRoberta => Positions::AfterPadding(pad_token_id),
            _ => Positions::Absolute,
        }
    }

    /// Whether the model reads token types (a pair's second text as type 1): BERT and ELECTRA.
    /// RoBERTa's single token type and DistilBERT's none take every token as type 0.
    pub fn token_types(self) -> bool {
        matches!(self, Family::Bert | Family::Electra)
    }

    /// Whether there is a token-type embedding table in the checkpoint.
    pub fn has_token_type_table(self) -> bool {
        self != Family::DistilBert
    }

    pub fn head_activation(self) -> HeadActivation {
        match self {
            Family::Bert | Family::Roberta | Family::XlmRoberta => HeadActivation::Tanh,
            Family::Electra => HeadActivation::Gelu,
            Family::DistilBert => HeadActivation::Relu,
        }
    }

    /// Whether the head applies dropout to the first token's state before its dense layer
    /// (RoBERTa's and ELECTRA's heads do; BERT's pooler and DistilBERT's pre-classifier do not).
    pub fn dropout_before_head(self) -> bool {
        matches!(self, Family::Roberta | Family::XlmRoberta | Family::Electra)
    }

    /// The checkpoint key of the head's dense layer and of its output layer (without `.weight`).
    pub fn head_keys(self) -> (&'static str, &'static str) {
        match self {
            Family::Bert => ("bert.pooler.dense", "classifier"),
            Family::Roberta | Family::XlmRoberta | Family::Electra => ("classifier.dense", "classifier.out_proj"),
            Family::DistilBert => ("pre_classifier", "classifier"),
        }
    }

    /// The tokens a model of `max_position_embeddings` positions reads at most: RoBERTa's first
    /// real position is `padding_idx + 1`.
    pub fn max_tokens(self, max_position_embeddings: usize, pad_token_id: usize) -> usize {
        match self.positions(pad_token_id) {
            Positions::Absolute => max_position_embeddings,
            Positions::AfterPadding(pad) => max_position_embeddings.saturating_sub(pad + 1),
        }
    }
}

/// A DistilBERT layer's key, in BERT's names: `transformer.layer.N.attention.q_lin` is
/// `encoder.layer.N.attention.self.query`, and so on (the same computation, other names). The
/// attention's names come before the layer's: saving maps them back in this order, and BERT's
/// `.attention.output.dense.` must be renamed before `.output.dense.` is.
pub const DISTILBERT_NAMES: [(&str, &str); 9] = [
    ("transformer.layer.", "encoder.layer."),
    (".attention.q_lin.", ".attention.self.query."),
    (".attention.k_lin.", ".attention.self.key."),
    (".attention.v_lin.", ".attention.self.value."),
    (".attention.out_lin.", ".attention.output.dense."),
    (".sa_layer_norm.", ".attention.output.LayerNorm."),
    (".ffn.lin1.", ".intermediate.dense."),
    (".ffn.lin2.", ".output.dense."),
    (".output_layer_norm.", ".output.LayerNorm."),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn family(t: &str) -> Result<Family, String> {
        let raw = serde_json::json!({ "model_type": t });
        Family::of(raw.as_object().unwrap())
    }

    #[test]
    fn every_member_is_read_and_the_rest_is_named() {
        assert_eq!(family("xlm-roberta"), Ok(Family::XlmRoberta));
        assert_eq!(Family::of(&Map::new()), Ok(Family::Bert));
        let e = family("deberta-v2").unwrap_err();
        assert!(e.contains("disentangled attention") && e.contains(SUPPORTED), "{e}");
        assert!(family("albert").unwrap_err().contains("shares one layer"));
        assert!(family("llama").unwrap_err().contains("not decoders"));
    }

    #[test]
    fn roberta_counts_positions_after_padding() {
        assert_eq!(Family::Roberta.max_tokens(514, 1), 512);
        assert_eq!(Family::Bert.max_tokens(512, 0), 512);
        assert!(!Family::Roberta.token_types() && Family::Electra.token_types());
        assert!(!Family::DistilBert.has_token_type_table());
    }
}

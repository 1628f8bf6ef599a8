//! The burn BERT against logits that transformers computed for the committed tiny checkpoint
//! (tests/fixtures/tiny-bert, written by scripts/make_fixture.py).

mod common;

use std::collections::BTreeSet;

use burn::tensor::Tensor;
use common::*;
use distill_tui::model::{BertInput, ClassifierMismatch, Part};
use distill_tui::predict::predict_batch;
use distill_tui::tokenize::{Encoded, Padding, collate};

const TOL: f32 = 1e-4;

fn run(loaded: &distill_tui::model::LoadedModel<B>, ids: &[u32], types: &[u32]) -> (Vec<f32>, Vec<f32>) {
    let enc = Encoded { ids: ids.to_vec(), type_ids: types.to_vec() };
    let batch = collate(&[&enc], loaded.config.pad_token_id as u32);
    let out = loaded.model.forward(batch.to_input::<B>(&Default::default()));
    (out.logits.into_data().to_vec().unwrap(), out.cls_hidden.into_data().to_vec().unwrap())
}

#[test]
fn tokenizer_json_gives_transformers_ids() {
    for case in cases() {
        let loaded = load(&fixture_dir(), Some(case.max_length)).unwrap();
        let e = loaded.tokenizer.encode(&case.text, case.text_pair.as_deref()).unwrap();
        assert_eq!(e.ids, case.input_ids, "ids for {:?} / {:?}", case.text, case.text_pair);
        assert_eq!(e.type_ids, case.token_type_ids, "type ids for {:?}", case.text);
    }
}

#[test]
fn vocab_txt_alone_gives_the_same_ids() {
    let dir = fixture_copy();
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    for case in cases() {
        let loaded = load(dir.path(), Some(case.max_length)).unwrap();
        let e = loaded.tokenizer.encode(&case.text, case.text_pair.as_deref()).unwrap();
        assert_eq!(e.ids, case.input_ids, "ids for {:?}", case.text);
        assert_eq!(e.type_ids, case.token_type_ids);
    }
}

#[test]
fn every_logit_matches_transformers() {
    let loaded = load(&fixture_dir(), None).unwrap();
    assert!(loaded.report.initialized.is_empty());
    assert_eq!(loaded.config.labels, vec!["entailment", "neutral", "contradiction"]);
    for case in cases() {
        let (logits, cls) = run(&loaded, &case.input_ids, &case.token_type_ids);
        assert_close(&logits, &case.logits, TOL, &format!("logits of {:?}", case.text));
        assert_close(&cls, &case.cls_hidden, TOL, &format!("[CLS] hidden of {:?}", case.text));
    }
}

#[test]
fn padded_batches_give_the_same_logits() {
    let loaded = load(&fixture_dir(), Some(64)).unwrap();
    let cases: Vec<_> = cases().into_iter().filter(|c| c.max_length == 64).collect();
    let items: Vec<(String, Option<String>)> = cases.iter().map(|c| (c.text.clone(), c.text_pair.clone())).collect();
    // Exact padding (the CPU's) and lengths rounded up to 32 within the positions (CUDA's).
    let rounded = Padding { pad_id: 0, multiple: 32, limit: loaded.config.max_position_embeddings };
    for padding in [Padding::exact(0), rounded] {
        let preds = predict_batch(
            &loaded.model,
            &loaded.tokenizer,
            &loaded.config.labels,
            &items,
            8,
            padding,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(preds.len(), cases.len());
        for (p, c) in preds.iter().zip(&cases) {
            assert_close(&p.logits, &c.logits, TOL, &format!("batched logits of {:?} with {padding:?}", c.text));
            let sum: f32 = p.probs.iter().sum();
            assert!((sum - 1.0).abs() < 1e-5);
        }
    }
}

#[test]
fn old_gamma_beta_names_and_mlm_heads_load_the_same() {
    let dir = fixture_copy();
    rewrite_weights(dir.path(), |k, s, d| {
        let k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta");
        let mut out = vec![(k, s.to_vec(), d.to_vec())];
        if out[0].0 == "bert.pooler.dense.bias" {
            out.push(("cls.predictions.bias".into(), vec![7], vec![0.5; 7]));
        }
        out
    });
    let keys = read_weights(&dir.path().join("model.safetensors"));
    assert!(keys.contains_key("bert.embeddings.LayerNorm.gamma") && keys.contains_key("cls.predictions.bias"));
    let loaded = load(dir.path(), None).unwrap();
    assert!(loaded.report.initialized.is_empty());
    for case in cases() {
        let (logits, _) = run(&loaded, &case.input_ids, &case.token_type_ids);
        assert_close(&logits, &case.logits, TOL, "logits with gamma/beta names");
    }
}

#[test]
fn sentence_transformers_layout_without_classifier_loads_the_encoder() {
    let dir = fixture_copy();
    rewrite_weights(dir.path(), |k, s, d| {
        if k.starts_with("classifier.") {
            return vec![];
        }
        let mut out = vec![(k.trim_start_matches("bert.").to_string(), s.to_vec(), d.to_vec())];
        if k == "bert.embeddings.word_embeddings.weight" {
            out.push(("embeddings.position_ids".into(), vec![1, 64], (0..64).map(|i| i as f32).collect()));
        }
        out
    });
    let loaded = load(dir.path(), None).unwrap();
    assert_eq!(loaded.report.initialized, BTreeSet::from([Part::Classifier]));
    assert_eq!(loaded.report.classifier_mismatch, None);
    let line = loaded.report.summary(7).unwrap();
    assert_eq!(line, "initialized classifier with seed 7: the checkpoint has none");
    let case = &cases()[0];
    let (logits, cls) = run(&loaded, &case.input_ids, &case.token_type_ids);
    assert_close(&cls, &case.cls_hidden, TOL, "[CLS] hidden without prefix");
    assert!(logits.iter().zip(&case.logits).any(|(a, b)| (a - b).abs() > 1e-3), "classifier should be new");
    // Seeded: the same seed gives the same head.
    let again = load(dir.path(), None).unwrap();
    assert_eq!(run(&again, &case.input_ids, &case.token_type_ids).0, logits);
}

#[test]
fn missing_pooler_and_classifier_are_reported_in_one_line() {
    let dir = fixture_copy();
    rewrite_weights(dir.path(), |k, s, d| {
        if k.starts_with("classifier.") || k.starts_with("bert.pooler.") {
            vec![]
        } else {
            vec![(k.into(), s.to_vec(), d.to_vec())]
        }
    });
    let loaded = load(dir.path(), None).unwrap();
    assert_eq!(loaded.report.initialized, BTreeSet::from([Part::Pooler, Part::Classifier]));
    assert_eq!(
        loaded.report.summary(7).unwrap(),
        "initialized pooler and classifier with seed 7: the checkpoint has none"
    );
}

#[test]
fn a_classifier_for_other_labels_is_replaced_and_said() {
    let dir = fixture_copy();
    let cfg_path = dir.path().join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["id2label"] = serde_json::json!({"0": "neg", "1": "pos"});
    cfg["label2id"] = serde_json::json!({"neg": 0, "pos": 1});
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let loaded = load(dir.path(), None).unwrap();
    assert_eq!(loaded.report.initialized, BTreeSet::from([Part::Classifier]));
    assert_eq!(loaded.report.classifier_mismatch, Some(ClassifierMismatch { checkpoint_labels: 3, wanted_labels: 2 }));
    assert!(loaded.report.summary(1).unwrap().contains("its classifier has 3 labels, this model needs 2"));
    let case = &cases()[0];
    let (logits, cls) = run(&loaded, &case.input_ids, &case.token_type_ids);
    assert_eq!(logits.len(), 2);
    assert_close(&cls, &case.cls_hidden, TOL, "encoder kept");
}

#[test]
fn a_bad_shape_names_the_tensor_and_both_shapes() {
    let dir = fixture_copy();
    rewrite_weights(dir.path(), |k, s, d| {
        if k == "bert.encoder.layer.2.intermediate.dense.weight" {
            vec![(k.into(), vec![36, 32], d[..36 * 32].to_vec())]
        } else {
            vec![(k.into(), s.to_vec(), d.to_vec())]
        }
    });
    let err = load(dir.path(), None).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("`bert.encoder.layer.2.intermediate.dense.weight`"), "{text}");
    assert!(text.contains("[36, 32]") && text.contains("[37, 32]"), "{text}");
    assert_eq!(err.exit_code(), 2);
}

#[test]
fn a_missing_encoder_tensor_is_an_error_naming_it() {
    let dir = fixture_copy();
    rewrite_weights(dir.path(), |k, s, d| {
        if k == "bert.encoder.layer.3.attention.self.value.bias" {
            vec![]
        } else {
            vec![(k.into(), s.to_vec(), d.to_vec())]
        }
    });
    let text = load(dir.path(), None).unwrap_err().to_string();
    assert!(text.contains("`encoder.layer.3.attention.self.value.bias` is missing"), "{text}");
}

#[test]
fn truncated_weights_are_an_error_not_a_panic() {
    let dir = fixture_copy();
    let path = dir.path().join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let text = load(dir.path(), None).unwrap_err().to_string();
    assert!(text.contains("truncated or corrupt"), "{text}");
    std::fs::write(&path, b"not a safetensors file").unwrap();
    assert!(load(dir.path(), None).unwrap_err().to_string().contains("model.safetensors"));
}

#[test]
fn max_length_above_positions_is_refused() {
    let text = load(&fixture_dir(), Some(65)).unwrap_err().to_string();
    assert!(text.contains("above the 64 tokens") && text.contains("use at most 64"), "{text}");
}

#[test]
fn attention_mask_hides_padding() {
    // The same sentence with and without trailing padding gives the same [CLS] state.
    let loaded = load(&fixture_dir(), None).unwrap();
    let c = &cases()[0];
    let n = c.input_ids.len();
    let device = Default::default();
    let mut ids: Vec<i64> = c.input_ids.iter().map(|&i| i as i64).collect();
    ids.extend([5, 6, 7]);
    let mut mask = vec![1i64; n];
    mask.extend([0, 0, 0]);
    let t = |v: Vec<i64>| Tensor::<B, 1, burn::tensor::Int>::from_ints(v.as_slice(), &device).reshape([1, n + 3]);
    let out = loaded.model.forward(BertInput {
        input_ids: t(ids),
        token_type_ids: t(vec![0; n + 3]),
        attention_mask: Some(t(mask)),
    });
    assert_close(&out.logits.into_data().to_vec::<f32>().unwrap(), &c.logits, TOL, "masked logits");
}

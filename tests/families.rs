//! Every member of the BERT family against transformers, on the random checkpoints that
//! scripts/make_family_fixtures.py committed to tests/fixtures/families: RoBERTa (byte-level BPE,
//! positions after the padding index), XLM-RoBERTa (SentencePiece), ELECTRA (embeddings narrower
//! than the hidden size), DistilBERT with learned and with sinusoidal positions. Token ids and
//! logits are transformers'; students are saved as checkpoints of their teacher's family.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::backend::Autodiff;
use common::*;
use distill_tui::distill::student::{build_student, verify_student};
use distill_tui::model::{BertConfig, Family, LoadedModel, save_folder};
use distill_tui::predict::predict_batch;
use distill_tui::tokenize::{Padding, collate};
use serde::Deserialize;

const FAMILIES: [&str; 5] = ["roberta", "xlm-roberta", "electra", "distilbert", "distilbert-sinusoidal"];
const TOL: f32 = 1e-4;

#[derive(Debug, Deserialize, serde::Serialize)]
struct FamilyCase {
    text: String,
    text_pair: Option<String>,
    max_length: usize,
    input_ids: Vec<u32>,
    logits: Vec<f32>,
}

#[derive(Debug, Deserialize)]
struct FamilyExpected {
    max_tokens: usize,
    cases: Vec<FamilyCase>,
}

fn family_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/families").join(name)
}

fn expected(name: &str) -> FamilyExpected {
    serde_json::from_str(&std::fs::read_to_string(family_dir(name).join("expected.json")).unwrap()).unwrap()
}

/// The cases cut at `max_length` tokens.
fn cases_at(e: &FamilyExpected, max_length: usize) -> Vec<&FamilyCase> {
    e.cases.iter().filter(|c| c.max_length == max_length).collect()
}

fn items(cases: &[&FamilyCase]) -> Vec<(String, Option<String>)> {
    cases.iter().map(|c| (c.text.clone(), c.text_pair.clone())).collect()
}

#[test]
fn each_family_is_read_as_its_own() {
    let want = [
        ("roberta", Family::Roberta, 40),
        ("xlm-roberta", Family::XlmRoberta, 32),
        ("electra", Family::Electra, 40),
        ("distilbert", Family::DistilBert, 40),
        ("distilbert-sinusoidal", Family::DistilBert, 40),
    ];
    for (name, family, tokens) in want {
        let loaded = load(&family_dir(name), None).unwrap();
        assert_eq!(loaded.config.family, family, "{name}");
        assert!(loaded.report.initialized.is_empty(), "{name}: {:?}", loaded.report);
        assert_eq!(loaded.config.max_tokens(), tokens, "{name}");
        assert_eq!(expected(name).max_tokens, tokens, "{name}: the fixture's limit");
        assert_eq!(loaded.tokenizer.max_length, tokens, "{name}: the default max length is the model's limit");
        let err = load(&family_dir(name), Some(tokens + 1)).unwrap_err();
        assert!(err.to_string().contains(&format!("use at most {tokens}")), "{name}: {err}");
        assert_eq!(err.exit_code(), 2);
    }
    let electra = load(&family_dir("electra"), None).unwrap().config;
    assert_eq!((electra.embedding_size, electra.hidden_size), (16, 32));
    let sinusoidal = load(&family_dir("distilbert-sinusoidal"), None).unwrap().config;
    assert!(sinusoidal.sinusoidal_positions);
    assert_eq!((sinusoidal.num_hidden_layers, sinusoidal.intermediate_size, sinusoidal.layer_norm_eps), (2, 37, 1e-12));
    assert_eq!(load(&family_dir("roberta"), None).unwrap().config.layer_norm_eps, 1e-5);
}

#[test]
fn tokenizers_give_transformers_ids() {
    for name in FAMILIES {
        let e = expected(name);
        for max_length in [e.max_tokens, 9] {
            let loaded = load(&family_dir(name), Some(max_length)).unwrap();
            for c in cases_at(&e, max_length) {
                let enc = loaded.tokenizer.encode(&c.text, c.text_pair.as_deref()).unwrap();
                assert_eq!(enc.ids, c.input_ids, "{name}: ids of {:?} / {:?} at {max_length}", c.text, c.text_pair);
                // Only ELECTRA reads token types; the others take every token as type 0.
                let second = enc.type_ids.contains(&1);
                assert_eq!(second, name == "electra" && c.text_pair.is_some(), "{name}: types of {:?}", c.text);
            }
        }
    }
}

#[test]
fn predict_gives_transformers_logits() {
    // The `predict` command itself, on every case: long inputs cut at the model's limit, pairs,
    // and inputs cut at 9 tokens.
    let tmp = tempfile::tempdir().unwrap();
    for name in FAMILIES {
        let e = expected(name);
        for max_length in [e.max_tokens, 9] {
            let cases = cases_at(&e, max_length);
            let input = tmp.path().join(format!("{name}-{max_length}.jsonl"));
            let lines: Vec<String> = cases
                .iter()
                .map(|c| serde_json::json!({"text": c.text, "text_pair": c.text_pair}).to_string())
                .collect();
            std::fs::write(&input, lines.join("\n")).unwrap();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_distill-tui"));
            cmd.args(["predict", "--backend", "cpu", "--model"]).arg(family_dir(name)).arg("--input").arg(&input);
            if max_length != e.max_tokens {
                cmd.args(["--max-length", &max_length.to_string()]);
            }
            let out = cmd.env("HF_HUB_OFFLINE", "1").output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{name}: {stderr}");
            let got: Vec<serde_json::Value> =
                String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
            assert_eq!(got.len(), cases.len(), "{name}: one line per input");
            for (g, c) in got.iter().zip(&cases) {
                let logits: Vec<f32> = serde_json::from_value(g["logits"].clone()).unwrap();
                assert_close(&logits, &c.logits, TOL, &format!("{name}: predict logits of {:?}", c.text));
            }
        }
    }
}

#[test]
fn padded_batches_give_the_same_logits() {
    for name in FAMILIES {
        let e = expected(name);
        let loaded = load(&family_dir(name), None).unwrap();
        let cases = cases_at(&e, e.max_tokens);
        let pad_id = loaded.config.pad_token_id as u32;
        // Exact padding (the CPU's) and lengths rounded up to 32 within the model's limit (CUDA's):
        // RoBERTa's padding must keep its position at padding_idx.
        let rounded = Padding { pad_id, multiple: 32, limit: loaded.config.max_tokens() };
        for padding in [Padding::exact(pad_id), rounded] {
            let labels = &loaded.config.labels;
            let preds = predict_batch(
                &loaded.model,
                &loaded.tokenizer,
                labels,
                &items(&cases),
                5,
                padding,
                &Default::default(),
            )
            .unwrap();
            for (p, c) in preds.iter().zip(&cases) {
                assert_close(&p.logits, &c.logits, TOL, &format!("{name}: batched {:?} with {padding:?}", c.text));
            }
        }
    }
}

/// The logits of `loaded` for `cases`, one at a time.
fn logits_of(loaded: &LoadedModel<B>, cases: &[&FamilyCase]) -> Vec<Vec<f32>> {
    cases
        .iter()
        .map(|c| {
            let enc = loaded.tokenizer.encode(&c.text, c.text_pair.as_deref()).unwrap();
            let batch = collate(&[&enc], loaded.config.pad_token_id as u32);
            loaded.model.forward(batch.to_input::<B>(&Default::default())).logits.into_data().to_vec().unwrap()
        })
        .collect()
}

#[test]
fn a_saved_teacher_is_the_checkpoint_it_was_read_from() {
    for name in FAMILIES {
        let loaded = load(&family_dir(name), None).unwrap();
        let out = tempfile::tempdir().unwrap();
        save_folder(out.path(), &loaded.config, &loaded.model, &loaded.files, &loaded.tokenizer).unwrap();
        // The family's key names, layouts and values, bit for bit.
        let want = read_weights(&family_dir(name).join("model.safetensors"));
        let got = read_weights(&out.path().join("model.safetensors"));
        assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>(), "{name}");
        for (k, (shape, data)) in &want {
            assert_eq!((&got[k].0, &got[k].1), (shape, data), "{name}: {k}");
        }
        let config = |dir: &Path| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap()
        };
        let (saved, source) = (config(out.path()), config(&family_dir(name)));
        for key in ["model_type", "architectures", "max_position_embeddings", "pad_token_id", "id2label", "vocab_size"]
        {
            assert_eq!(saved[key], source[key], "{name}: config key {key}");
        }
        let sizes = match name {
            "distilbert" | "distilbert-sinusoidal" => {
                ["dim", "n_layers", "n_heads", "hidden_dim", "sinusoidal_pos_embds"]
            }
            _ => ["hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size", "type_vocab_size"],
        };
        for key in sizes {
            assert_eq!(saved[key], source[key], "{name}: config key {key}");
        }
        if name == "electra" {
            assert_eq!(saved["embedding_size"], 16);
        }
    }
}

#[test]
fn students_keep_their_teachers_family() {
    let keep = std::env::var_os("DISTILL_TUI_KEEP_FAMILIES").map(PathBuf::from);
    for name in FAMILIES {
        let e = expected(name);
        let teacher = load(&family_dir(name), None).unwrap();
        // A one-layer student from teacher layer 2: every copied tensor equals its source.
        let (model, config) = build_student(&teacher.model, &teacher.config, &[2]);
        let compared = verify_student(&teacher.model, &model, &[2]).unwrap();
        let extra = if name == "electra" { 2 } else { 0 };
        let types = if name.starts_with("distilbert") { 0 } else { 1 };
        assert_eq!(compared, 4 + types + extra + 4 + 16, "{name}: embeddings, projection, head and one layer");
        let out = tempfile::tempdir().unwrap();
        let dir = out.path().join(name);
        save_folder(&dir, &config, &model, &teacher.files, &teacher.tokenizer).unwrap();

        let source = read_weights(&family_dir(name).join("model.safetensors"));
        let saved = read_weights(&dir.join("model.safetensors"));
        let layer = |k: &str, l: usize| k.contains(&format!(".layer.{l}."));
        let want: Vec<String> = source.keys().filter(|k| !layer(k, 1)).cloned().collect();
        assert_eq!(saved.keys().cloned().collect::<Vec<_>>(), want, "{name}: the family's keys, one layer");
        for (k, v) in &saved {
            let from = if layer(k, 0) { k.replace(".layer.0.", ".layer.1.") } else { k.clone() };
            assert_eq!(v, &source[&from], "{name}: {k} is a copy of the teacher's {from}");
        }
        let reloaded = load(&dir, None).unwrap();
        assert_eq!(reloaded.config.family, teacher.config.family);
        assert_eq!(reloaded.config.num_hidden_layers, 1);
        let cases = cases_at(&e, e.max_tokens);
        let student = LoadedModel { model, config, ..load(&family_dir(name), None).unwrap() };
        let (before, after) = (logits_of(&student, &cases), logits_of(&reloaded, &cases));
        assert_eq!(before, after, "{name}: the saved student computes what the trained one did");
        assert!(before.iter().zip(&cases).any(|(l, c)| (l[0] - c.logits[0]).abs() > 1e-3), "{name}: not the teacher");
        if let Some(keep) = &keep {
            // For scripts/check_saved.py: the folder and the logits it must give in transformers.
            let kept = keep.join(name);
            save_folder(&kept, &student.config, &student.model, &teacher.files, &teacher.tokenizer).unwrap();
            let cases: Vec<FamilyCase> = cases
                .iter()
                .zip(before)
                .map(|(c, logits)| FamilyCase {
                    logits,
                    text_pair: c.text_pair.clone(),
                    input_ids: c.input_ids.clone(),
                    text: c.text.clone(),
                    max_length: c.max_length,
                })
                .collect();
            std::fs::write(kept.join("expected.json"), serde_json::json!({ "cases": cases }).to_string()).unwrap();
        }
    }
}

#[test]
fn sinusoidal_positions_are_never_trained() {
    type Ad = Autodiff<B>;
    for (name, trained) in [("distilbert-sinusoidal", false), ("distilbert", true), ("roberta", true)] {
        let loaded = load_on::<Ad>(&family_dir(name), None, &Default::default()).unwrap();
        let enc = loaded.tokenizer.encode("the movie was very good", None).unwrap();
        let batch = collate(&[&enc], loaded.config.pad_token_id as u32);
        let grads = loaded.model.forward(batch.to_input::<Ad>(&Default::default())).logits.sum().backward();
        let embeddings = &loaded.model.bert.embeddings;
        assert!(embeddings.word_embeddings.weight.val().grad(&grads).is_some(), "{name}: words train");
        let positions = embeddings.position_embeddings.weight.val().grad(&grads);
        assert_eq!(positions.is_some(), trained, "{name}: whether positions train");
    }
}

#[test]
fn what_is_not_supported_is_said_with_what_is() {
    for (model_type, says) in
        [("deberta-v2", "disentangled attention"), ("albert", "shares one layer"), ("gpt2", "not decoders")]
    {
        let dir = tempfile::tempdir().unwrap();
        for entry in std::fs::read_dir(family_dir("roberta")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
        }
        let path = dir.path().join("config.json");
        let mut config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        config["model_type"] = model_type.into();
        std::fs::write(&path, config.to_string()).unwrap();
        let err = load(dir.path(), None).unwrap_err();
        let text = err.to_string();
        assert!(text.contains(says) && text.contains("roberta, xlm-roberta, electra and distilbert"), "{text}");
        assert!(text.contains("config.json"), "names the file: {text}");
        assert_eq!(err.exit_code(), 2);
        assert!(BertConfig::from_file(&path).is_err());
    }
}

#[test]
fn a_folder_without_a_fast_tokenizer_says_how_to_write_one() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["config.json", "model.safetensors"] {
        std::fs::copy(family_dir("roberta").join(name), dir.path().join(name)).unwrap();
    }
    let text = load(dir.path(), None).unwrap_err().to_string();
    assert!(text.contains("neither tokenizer.json nor vocab.txt") && text.contains("save_pretrained"), "{text}");
    // RoBERTa's slow tokenizer files are named, and the folder itself is what to convert.
    std::fs::write(dir.path().join("vocab.json"), "{}").unwrap();
    std::fs::write(dir.path().join("merges.txt"), "").unwrap();
    let text = load(dir.path(), None).unwrap_err().to_string();
    assert!(text.contains("vocab.json, merges.txt alone are not read"), "{text}");
    assert!(text.contains(&format!("AutoTokenizer.from_pretrained(\"{}\")", dir.path().display())), "{text}");
}

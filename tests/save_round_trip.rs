//! Saving writes a Hugging Face folder that loads back to the same tensors and logits, and the
//! Hub code path reads a model from a cache laid out the way hf-hub lays it out.

mod common;

use common::*;
use distill_tui::hub::HubSettings;
use distill_tui::model::{LoadedModel, save_folder};
use distill_tui::tokenize::collate;

fn logits(loaded: &LoadedModel<B>) -> Vec<Vec<f32>> {
    cases()
        .iter()
        .map(|c| {
            let e = loaded.tokenizer.encode(&c.text, c.text_pair.as_deref()).unwrap();
            let out = loaded.model.forward(collate(&[&e], 0).to_input::<B>(&Default::default()));
            out.logits.into_data().to_vec().unwrap()
        })
        .collect()
}

#[test]
fn save_then_load_gives_identical_tensors_and_logits() {
    let original = load(&fixture_dir(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("saved");
    save_folder(&dir, &original.config, &original.model, &original.files, &original.tokenizer).unwrap();
    if let Ok(keep) = std::env::var("DISTILL_TUI_KEEP_SAVED") {
        // For scripts/check_saved.py, which loads the folder with transformers.
        save_folder(
            std::path::Path::new(&keep),
            &original.config,
            &original.model,
            &original.files,
            &original.tokenizer,
        )
        .unwrap();
    }

    // Same Hugging Face key names, layouts and values, bit for bit.
    let want = read_weights(&fixture_dir().join("model.safetensors"));
    let got = read_weights(&dir.join("model.safetensors"));
    assert_eq!(got.keys().collect::<Vec<_>>(), want.keys().collect::<Vec<_>>());
    for (k, (shape, data)) in &want {
        assert_eq!(&got[k].0, shape, "shape of {k}");
        assert_eq!(&got[k].1, data, "values of {k}");
    }
    let meta =
        safetensors::SafeTensors::read_metadata(&std::fs::read(dir.join("model.safetensors")).unwrap()).unwrap().1;
    assert_eq!(meta.metadata().as_ref().unwrap()["format"], "pt", "transformers needs format=pt");

    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["architectures"][0], "BertForSequenceClassification");
    assert_eq!(config["num_hidden_layers"], 4);
    assert_eq!(config["id2label"]["2"], "contradiction");
    for f in ["tokenizer.json", "vocab.txt", "tokenizer_config.json"] {
        assert!(dir.join(f).is_file(), "{f} saved");
    }
    assert!(std::fs::read_dir(&dir).unwrap().all(|e| !e.unwrap().file_name().to_string_lossy().contains(".tmp")));

    let reloaded = load(&dir, None).unwrap();
    assert!(reloaded.report.initialized.is_empty());
    assert_eq!(logits(&reloaded), logits(&original));
}

#[test]
fn a_shallower_model_saves_with_its_own_depth() {
    let original = load(&fixture_dir(), None).unwrap();
    let layers = vec![original.model.layer(1).clone(), original.model.layer(3).clone()];
    let config = original.config.with_layers(2);
    let student = original.model.clone().with_layers(layers);
    let out = tempfile::tempdir().unwrap();
    save_folder(out.path(), &config, &student, &original.files, &original.tokenizer).unwrap();
    let saved = read_weights(&out.path().join("model.safetensors"));
    let teacher = read_weights(&fixture_dir().join("model.safetensors"));
    assert!(!saved.contains_key("bert.encoder.layer.2.output.dense.weight"));
    assert_eq!(saved["bert.encoder.layer.0.output.dense.weight"], teacher["bert.encoder.layer.1.output.dense.weight"]);
    assert_eq!(
        saved["bert.encoder.layer.1.attention.self.query.bias"],
        teacher["bert.encoder.layer.3.attention.self.query.bias"]
    );
    let back = load(out.path(), None).unwrap();
    assert_eq!(back.config.num_hidden_layers, 2);
    assert_eq!(back.model.num_layers(), 2);
}

#[test]
fn a_model_from_a_vocab_only_folder_saves_a_tokenizer_json() {
    let src = fixture_copy();
    std::fs::remove_file(src.path().join("tokenizer.json")).unwrap();
    std::fs::remove_file(src.path().join("tokenizer_config.json")).unwrap();
    let original = load(src.path(), None).unwrap();
    let out = tempfile::tempdir().unwrap();
    save_folder(out.path(), &original.config, &original.model, &original.files, &original.tokenizer).unwrap();
    let back = load(out.path(), None).unwrap();
    assert!(back.files.tokenizer_json.is_some());
    for c in cases() {
        let e = back.tokenizer.encode(&c.text, c.text_pair.as_deref()).unwrap();
        if c.max_length == 64 {
            assert_eq!(e.ids, c.input_ids);
        }
    }
}

#[test]
fn a_hub_id_loads_from_the_hf_hub_cache_offline() {
    let cache = tempfile::tempdir().unwrap();
    let commit = "aaaabbbbccccddddeeeeffff0000111122223333";
    let names = ["config.json", "model.safetensors", "tokenizer.json", "vocab.txt", "tokenizer_config.json"];
    let files: Vec<(&str, Vec<u8>)> =
        names.iter().map(|n| (*n, std::fs::read(fixture_dir().join(n)).unwrap())).collect();
    let refs: Vec<(&str, &[u8])> = files.iter().map(|(n, b)| (*n, b.as_slice())).collect();
    distill_tui::hub::testing::fake_cache(cache.path(), "models--tiny-org--tiny-bert", "main", commit, &refs);
    let settings = HubSettings::offline_cache(cache.path());
    let hub = LoadedModel::<B>::load("tiny-org/tiny-bert", "main", &settings, None, 7, &Default::default()).unwrap();
    assert_eq!(hub.files.source, "tiny-org/tiny-bert@main");
    assert_eq!(logits(&hub), logits(&load(&fixture_dir(), None).unwrap()));
    let by_commit = LoadedModel::<B>::load("tiny-org/tiny-bert", commit, &settings, None, 7, &Default::default());
    assert!(by_commit.is_ok());
    let missing =
        LoadedModel::<B>::load("tiny-org/other", "main", &settings, None, 7, &Default::default()).unwrap_err();
    assert!(missing.to_string().contains("tiny-org/other@main") && missing.to_string().contains("config.json"));
}

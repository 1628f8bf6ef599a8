//! `try` on a generated pair-task experiment (RTE layout: two sentences per example), without a
//! terminal: the session has two input lines named as the task's columns, the models' worker
//! answers a pair with what `predict` gives for it, and a broken student fails alone.

mod common;

use std::process::Command;

use distill_tui::playground::Session;
use distill_tui::playground::worker::Reply;

const BIN: &str = env!("CARGO_BIN_EXE_distill-tui");

#[test]
fn try_on_a_pair_task_answers_as_predict_does() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let exp = distill_tui::synthetic::SyntheticExperiment {
        finetune_epochs: 1,
        epochs: 1,
        runs: vec![distill_tui::synthetic::Run {
            name: "Odd Layer".into(),
            layers: distill_tui::synthetic::RunLayers::Teacher(vec![1, 3]),
        }],
        ..common::tiny_experiment()
    };
    exp.write_inputs(dir).unwrap();
    // The generated sentences as the first of a pair, with a second sentence after them.
    for name in ["train.tsv", "dev.tsv"] {
        let text = std::fs::read_to_string(dir.join("data").join(name)).unwrap();
        let mut out = String::from("sentence1\tsentence2\tlabel\n");
        for line in text.lines().skip(1) {
            let (s, label) = line.rsplit_once('\t').unwrap();
            out.push_str(&format!("{s}\tit is so .\t{label}\n"));
        }
        std::fs::write(dir.join("data").join(format!("pair-{name}")), out).unwrap();
    }
    let toml = exp
        .to_toml()
        .replace("task = \"sst2\"", "task = \"rte\"")
        .replace("data/train.tsv", "data/pair-train.tsv")
        .replace("data/dev.tsv", "data/pair-dev.tsv");
    std::fs::write(dir.join("experiments.toml"), toml).unwrap();
    let out = Command::new(BIN).args(["--headless"]).current_dir(dir).env("HF_HUB_OFFLINE", "1").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let session = Session::of_experiment(&dir.join("out/tiny")).unwrap();
    assert!(session.pair);
    assert_eq!(session.input_names, ["sentence1".to_string(), "sentence2".to_string()]);
    assert_eq!(session.models.len(), 2, "{:?}", session.models);
    assert!(session.models[0].0.starts_with("Teacher"), "the teacher first: {:?}", session.models);

    let (text, pair) = ("w3 w7 w1 .", "it is so .");
    let replies = common::ask(&session, dir, 1, text, Some(pair));
    let loaded = replies.iter().filter(|r| matches!(r, Reply::Loaded { .. })).count();
    assert_eq!(loaded, 2, "{replies:?}");
    for (i, (_, source)) in session.models.iter().enumerate() {
        let answer = common::answer_of(&replies, 1, i);
        let p = Command::new(BIN).args(["predict", "--json", "--model", source, text, pair]).output().unwrap();
        assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
        let want: serde_json::Value = serde_json::from_slice(&p.stdout).unwrap();
        assert_eq!(answer.label_id as u64, want["label_id"].as_u64().unwrap(), "{source}");
        for (got, want) in answer.probs.iter().zip(want["probs"].as_array().unwrap()) {
            assert!((*got as f64 - want.as_f64().unwrap()).abs() < 1e-6, "{source}: {got} against {want}");
        }
        assert!(!answer.truncated);
    }

    // A student whose folder is broken: its row says why, the teacher still answers.
    std::fs::remove_file(std::path::Path::new(&session.models[1].1).join("model.safetensors")).unwrap();
    let replies = common::ask(&session, dir, 2, text, Some(pair));
    assert!(
        replies.iter().any(|r| matches!(r, Reply::Failed { model: 1, error } if error.contains("model.safetensors"))),
        "{replies:?}"
    );
    assert!(replies.iter().any(|r| matches!(r, Reply::Answer { id: 2, model: 0, answer: Ok(_) })), "{replies:?}");
    assert!(!replies.iter().any(|r| matches!(r, Reply::Answer { model: 1, .. })), "{replies:?}");
}

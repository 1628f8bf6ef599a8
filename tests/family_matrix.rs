//! A RoBERTa teacher and a DistilBERT teacher through the whole tool, as a BERT one goes: the
//! matrix in cells (`--parallel`), students saved as checkpoints of their teacher's family that
//! `predict`, `try` and `report` read, and a killed matrix that resumes to the numbers of an
//! uninterrupted one.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use distill_tui::model::Family;
use distill_tui::playground::Session;
use distill_tui::synthetic::{Run, RunLayers, SyntheticExperiment, TeacherShape};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_distill-tui");

/// A generated 4-layer teacher of `family`, its task and two runs of 2-layer students.
fn setup(dir: &Path, family: Family) -> PathBuf {
    let tiny = common::tiny_experiment();
    let exp = SyntheticExperiment {
        teacher: TeacherShape { family, ..tiny.teacher.clone() },
        seeds: vec![7],
        epochs: 3,
        runs: vec![
            Run { name: "Odd Layer".into(), layers: RunLayers::Teacher(vec![1, 3]) },
            Run { name: "Top Layers".into(), layers: RunLayers::Teacher(vec![3, 4]) },
        ],
        ..tiny
    };
    exp.write(dir, "experiments.toml").unwrap()
}

fn distill(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(dir).env("HF_HUB_OFFLINE", "1").env("HF_HOME", dir.join("hub"));
    c
}

fn ok(mut c: Command) -> String {
    let out = c.output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "exit {:?}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status.code());
    stdout.into_owned()
}

fn results(out: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap()
}

/// The validation sentences and labels of the generated task.
fn validation(dir: &Path) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(dir.join("data/dev.tsv")).unwrap();
    text.lines().skip(1).map(|l| l.rsplit_once('\t').unwrap()).map(|(s, l)| (s.to_string(), l == "1")).collect()
}

#[test]
fn a_roberta_teacher_runs_in_cells_and_its_students_are_roberta_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir, Family::Roberta);
    ok(distill(dir, &["--headless", "--parallel", "2"]));
    let out = dir.join("out/tiny");
    let r = results(&out);
    assert_eq!(r["teacher"]["status"], "done");
    assert!(r["teacher"]["validation_accuracy"].as_f64().unwrap() >= 0.75, "the teacher learned: {}", r["teacher"]);
    let dev = validation(dir);
    let input = dir.join("dev.jsonl");
    let lines: Vec<String> = dev.iter().map(|(s, _)| serde_json::json!({ "text": s }).to_string()).collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let teacher_keys = common::read_weights(&out.join("teacher/model.safetensors"));
    for run in r["runs"].as_array().unwrap() {
        assert_eq!(run["status"], "done", "{run}");
        let folder = out.join(run["checkpoint"].as_str().unwrap());
        // A RoBERTa checkpoint: its keys are the teacher's but for the layers left out.
        let config: Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("config.json")).unwrap()).unwrap();
        assert_eq!((config["model_type"].as_str(), config["num_hidden_layers"].as_u64()), (Some("roberta"), Some(2)));
        assert_eq!(config["architectures"][0], "RobertaForSequenceClassification");
        assert_eq!((config["pad_token_id"].as_u64(), config["max_position_embeddings"].as_u64()), (Some(1), Some(514)));
        let keys: Vec<String> = common::read_weights(&folder.join("model.safetensors")).into_keys().collect();
        let want: Vec<String> =
            teacher_keys.keys().filter(|k| !k.contains(".layer.2.") && !k.contains(".layer.3.")).cloned().collect();
        assert_eq!(keys, want, "{}", folder.display());
        let tc: Value =
            serde_json::from_str(&std::fs::read_to_string(folder.join("tokenizer_config.json")).unwrap()).unwrap();
        assert_eq!(
            (tc["tokenizer_class"].as_str(), tc["pad_token"].as_str()),
            (Some("PreTrainedTokenizerFast"), Some("<pad>"))
        );
        // `predict` on the validation set is right exactly where the run's record says it was.
        let predicted = ok(distill(dir, &["predict", "--model", folder.to_str().unwrap(), "--input", "dev.jsonl"]));
        let correct: Vec<bool> = predicted
            .lines()
            .zip(&dev)
            .map(|(l, (_, positive))| {
                let logits: Vec<f64> =
                    serde_json::from_value(serde_json::from_str::<Value>(l).unwrap()["logits"].clone()).unwrap();
                (logits[1] > logits[0]) == *positive
            })
            .collect();
        assert_eq!(correct.len(), dev.len());
        let recorded: Vec<bool> = run["validation_correct"].as_str().unwrap().chars().map(|c| c == '1').collect();
        assert_eq!(correct, recorded, "{}: predict against the record", run["name"]);
    }
    let report = ok(distill(dir, &["report", "out/tiny"]));
    assert!(report.contains("Odd Layer") && report.contains("Top Layers"), "{report}");

    // `try`: the teacher and both students answer as `predict` does.
    let session = Session::of_experiment(&out).unwrap();
    assert_eq!(session.models.len(), 3, "{:?}", session.models);
    let text = "the film was superb but the ending dull .";
    let replies = common::ask(&session, dir, 1, text, None);
    for (i, (_, source)) in session.models.iter().enumerate() {
        let answer = common::answer_of(&replies, 1, i);
        let want: Value =
            serde_json::from_str(&ok(distill(dir, &["predict", "--json", "--model", source, text]))).unwrap();
        for (got, want) in answer.probs.iter().zip(want["probs"].as_array().unwrap()) {
            assert!((*got as f64 - want.as_f64().unwrap()).abs() < 1e-6, "{source}: {got} against {want}");
        }
    }
}

/// What must not depend on an interruption: every number of every run.
fn numbers(r: &Value) -> Vec<Value> {
    let mut v = vec![r["teacher"]["epochs"].clone(), r["teacher"]["validation_correct"].clone()];
    for run in r["runs"].as_array().unwrap() {
        for key in ["name", "status", "epochs", "validation_accuracy", "validation_correct", "params"] {
            v.push(run[key].clone());
        }
    }
    v
}

#[test]
fn a_killed_distilbert_matrix_resumes_to_the_same_numbers() {
    let a = tempfile::tempdir().unwrap();
    setup(a.path(), Family::DistilBert);
    ok(distill(a.path(), &["--headless"]));
    let reference = results(&a.path().join("out/tiny"));
    assert_eq!(reference["teacher"]["status"], "done");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(a.path().join("out/tiny/odd-layer/config.json")).unwrap())
            .unwrap();
    assert_eq!((config["model_type"].as_str(), config["n_layers"].as_u64()), (Some("distilbert"), Some(2)));

    // Killed once the second run has its first per-epoch checkpoint, then the same command.
    let b = tempfile::tempdir().unwrap();
    setup(b.path(), Family::DistilBert);
    let out = b.path().join("out/tiny");
    let state = out.join(".resume/top-layers/state.json");
    let mut child = distill(b.path(), &["--headless"]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t0 = Instant::now();
    while !state.exists() {
        assert!(t0.elapsed() < Duration::from_secs(300), "the second run never checkpointed");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(results(&out)["runs"][1]["status"], "running");
    ok(distill(b.path(), &["--headless"]));
    let resumed = results(&out);
    assert_eq!(resumed["runs"][1]["resumed_from_epoch"], 1, "the second run continued from its checkpoint");
    assert_eq!(numbers(&resumed), numbers(&reference), "a resumed matrix ends with the uninterrupted numbers");
}

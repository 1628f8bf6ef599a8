//! Every bad input of the reliability issue, given to the real binary: each ends with exit
//! code 2 and a message naming the file, key or line and the fix; none panics; none touches an
//! existing results folder. `DISTILL_TUI_BAD_INPUT_TABLE=FILE` writes what each printed as a
//! Markdown table.

use std::path::Path;
use std::process::Command;

mod common;

struct Case {
    name: &'static str,
    /// Changes to the folder (config, data, model) before the run.
    setup: fn(&Path),
    overrides: &'static [&'static str],
    /// Environment besides HF_HUB_OFFLINE=1 and an empty HF_HOME.
    env: &'static [(&'static str, &'static str)],
    expect: &'static [&'static str],
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", path.display());
    std::fs::write(path, text.replacen(from, to, 1)).unwrap();
}

fn config(d: &Path, from: &str, to: &str) {
    edit(&d.join("experiments.toml"), from, to);
}

fn nothing(_: &Path) {}

fn model_json(d: &Path, from: &str, to: &str) {
    let path = d.join("teacher/config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(v[from].to_string(), v[from].to_string());
    v[from] = serde_json::from_str(to).unwrap();
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "malformed TOML",
            setup: |d| config(d, "[training]", "[training"),
            overrides: &[],
            env: &[],
            expect: &["experiments.toml", "not valid TOML", "line 19"],
        },
        Case {
            name: "unknown key",
            setup: |d| config(d, "batch_size = 16", "batch_size = 16\nepoch = 3"),
            overrides: &[],
            env: &[],
            expect: &["training", "unknown field `epoch`", "line 22"],
        },
        Case {
            name: "wrong type",
            setup: |d| config(d, "batch_size = 16", "batch_size = \"16\""),
            overrides: &[],
            env: &[],
            expect: &["training.batch_size", "line 21"],
        },
        Case {
            name: "missing section",
            setup: |d| config(d, "[student]\nnum_layers = 2\n", ""),
            overrides: &[],
            env: &[],
            expect: &["missing field `student`"],
        },
        Case {
            name: "layer list of the wrong length",
            setup: |d| config(d, "[1, 3]", "[1, 2, 3]"),
            overrides: &[],
            env: &[],
            expect: &["runs[0].teacher_layers", "lists 3 layers", "give exactly 2"],
        },
        Case {
            name: "duplicated layer",
            setup: |d| config(d, "[1, 3]", "[3, 3]"),
            overrides: &[],
            env: &[],
            expect: &["runs[0].teacher_layers", "layer 3 is listed twice"],
        },
        Case {
            name: "layer 0",
            setup: |d| config(d, "[1, 3]", "[0, 3]"),
            overrides: &[],
            env: &[],
            expect: &["runs[0].teacher_layers", "layer 0 does not exist", "numbered from 1"],
        },
        Case {
            name: "layer beyond the teacher's depth",
            setup: |d| config(d, "[1, 3]", "[1, 5]"),
            overrides: &[],
            env: &[],
            expect: &["teacher_layers", "layer 5 does not exist", "to 4 for this teacher"],
        },
        Case {
            name: "student deeper than the teacher",
            setup: |d| config(d, "teacher_layers = [1, 3]", "strategy = \"odd\""),
            overrides: &["student.num_layers=5"],
            env: &[],
            expect: &["student.num_layers", "teacher has only 4 layers"],
        },
        Case {
            name: "unknown task",
            setup: nothing,
            overrides: &["data.task=\"sst3\""],
            env: &[],
            expect: &["data.task", "cola, sst2, mrpc, qqp, mnli, qnli, rte, wnli"],
        },
        Case {
            name: "unknown split",
            setup: nothing,
            overrides: &["data.validation_split=\"dev\""],
            env: &[],
            expect: &["data.validation_split", "not a split of sst2"],
        },
        Case {
            name: "data file missing",
            setup: nothing,
            overrides: &["data.train=\"data/nope.tsv\""],
            env: &[],
            expect: &["data.train", "nope.tsv", "does not exist"],
        },
        Case {
            name: "data file empty",
            setup: |d| std::fs::write(d.join("data/train.tsv"), "").unwrap(),
            overrides: &[],
            env: &[],
            expect: &["train.tsv", "is empty", "header line"],
        },
        Case {
            name: "data file without a label column",
            setup: |d| std::fs::write(d.join("data/train.tsv"), "sentence\tscore\nok\t1\n").unwrap(),
            overrides: &[],
            env: &[],
            expect: &["train.tsv", "\"label\"", "\"sentence\", \"score\""],
        },
        Case {
            name: "label outside the task's range",
            setup: |d| std::fs::write(d.join("data/train.tsv"), "sentence\tlabel\ngood\t1\nbad\t3\n").unwrap(),
            overrides: &[],
            env: &[],
            expect: &["train.tsv:3", "label 3 is outside sst2's labels 0..1"],
        },
        Case {
            name: "mixed label names and ids",
            setup: |d| std::fs::write(d.join("data/train.tsv"), "sentence\tlabel\ngood\tpositive\nbad\t0\n").unwrap(),
            overrides: &[],
            env: &[],
            expect: &["train.tsv:3", "mix"],
        },
        Case {
            name: "unreadable earlier results",
            setup: |d| std::fs::write(d.join("out/tiny/results.json"), common::EARLIER_RESULTS).unwrap(),
            overrides: &[],
            env: &[],
            expect: &["results.json", "not a distill-tui results file", "--fresh"],
        },
        Case {
            name: "output folder that cannot be created",
            setup: |d| {
                std::fs::write(d.join("blocked"), "a file").unwrap();
                config(d, "output_dir = \"out\"", "output_dir = \"blocked\"");
            },
            overrides: &[],
            env: &[],
            expect: &["cannot create the experiment folder blocked/tiny", "Not a directory", "experiment.output_dir"],
        },
        Case {
            name: "model folder without config.json",
            setup: |d| std::fs::remove_file(d.join("teacher/config.json")).unwrap(),
            overrides: &[],
            env: &[],
            expect: &["teacher", "config.json"],
        },
        Case {
            name: "model folder without weights",
            setup: |d| std::fs::remove_file(d.join("teacher/model.safetensors")).unwrap(),
            overrides: &[],
            env: &[],
            expect: &["teacher", "model.safetensors"],
        },
        Case {
            name: "truncated safetensors",
            setup: |d| {
                let p = d.join("teacher/model.safetensors");
                let bytes = std::fs::read(&p).unwrap();
                std::fs::write(&p, &bytes[..bytes.len() / 2]).unwrap();
            },
            overrides: &[],
            env: &[],
            expect: &["model.safetensors", "truncated or corrupt", "download it again"],
        },
        Case {
            name: "corrupt safetensors",
            setup: |d| std::fs::write(d.join("teacher/model.safetensors"), b"\xff\xff\xff\xff not a header").unwrap(),
            overrides: &[],
            env: &[],
            expect: &["model.safetensors", "not a readable safetensors file"],
        },
        Case {
            name: "tensor shapes that do not match the config",
            setup: |d| model_json(d, "intermediate_size", "40"),
            overrides: &[],
            env: &[],
            expect: &["model.safetensors", "intermediate.dense.bias", "[40]", "do not belong together"],
        },
        Case {
            name: "tokenizer larger than the model's vocabulary",
            setup: |d| model_json(d, "vocab_size", "20"),
            overrides: &[],
            env: &[],
            expect: &["the tokenizer has", "vocab_size is 20"],
        },
        Case {
            name: "max_length over the model's positions",
            setup: nothing,
            overrides: &["data.max_length=4096"],
            env: &[],
            expect: &["data.max_length", "use at most"],
        },
        Case {
            name: "batch size 0",
            setup: nothing,
            overrides: &["training.batch_size=0"],
            env: &[],
            expect: &["training.batch_size", "is 0; it must be at least 1"],
        },
        Case {
            name: "learning rate <= 0",
            setup: nothing,
            overrides: &["training.learning_rate=-1e-5"],
            env: &[],
            expect: &["training.learning_rate", "must be a number above 0"],
        },
        Case {
            name: "Hub offline without a cache",
            setup: nothing,
            overrides: &["teacher.model=\"bert-base-uncased\""],
            env: &[],
            expect: &["bert-base-uncased@main", "HF_HUB_OFFLINE", "local folder"],
        },
        Case {
            name: "Hub unreachable without a cache",
            setup: nothing,
            overrides: &["teacher.model=\"bert-base-uncased\""],
            env: &[("HF_HUB_OFFLINE", "0"), ("HF_ENDPOINT", "http://127.0.0.1:9")],
            expect: &["bert-base-uncased@main", "download failed", "unreachable", "local folder"],
        },
    ]
}

#[test]
fn every_bad_input_exits_2_with_a_message_and_touches_nothing() {
    let mut table = String::from("| Bad input | What distill-tui printed (exit 2) |\n|---|---|\n");
    let mut failures = vec![];
    for case in cases() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = common::bad_input_setup(tmp.path());
        (case.setup)(tmp.path());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_distill-tui"));
        cmd.args(["--headless", "--config", cfg.to_str().unwrap()])
            .env("HF_HUB_OFFLINE", "1")
            .env("HF_HOME", tmp.path().join("hf"));
        for o in case.overrides {
            cmd.args(["--set", o]);
        }
        for (k, v) in case.env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).replace(&format!("{}/", tmp.path().display()), "");
        let message = stderr.trim().to_string();
        table.push_str(&format!("| {} | `{}` |\n", case.name, message.replace('\n', " ").replace('|', "\\|")));
        let code = out.status.code();
        let missing: Vec<&&str> = case.expect.iter().filter(|e| !message.contains(**e)).collect();
        let untouched = std::fs::read_dir(tmp.path().join("out/tiny")).unwrap().count() == 1
            && common::earlier_results_untouched(tmp.path());
        if code != Some(2) || !missing.is_empty() || message.contains("panicked") || !untouched {
            failures.push(format!(
                "{}: exit {code:?}, missing {missing:?}, results untouched: {untouched}\n  {message}",
                case.name
            ));
        }
    }
    if let Ok(path) = std::env::var("DISTILL_TUI_BAD_INPUT_TABLE") {
        std::fs::write(path, &table).unwrap();
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases().len(), failures.join("\n"));
}

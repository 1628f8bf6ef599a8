//! Property tests: no input makes the config parser, `--set`, the data readers, a model's
//! config.json or its tokenizer files panic. They return a value or an error, whatever the bytes.

use std::path::Path;

use distill_tui::data::readers::{read_delimited_from, read_jsonl_from};
use distill_tui::data::{column_choices, rows_to_examples};
use distill_tui::experiment::Experiment;
use distill_tui::experiment::tasks::Task;
use proptest::prelude::*;

const GOOD: &str = r#"[experiment]
name = "t"
seeds = [42]
[teacher]
model = "bert-base-uncased"
finetune_epochs = 2
[student]
num_layers = 6
[data]
task = "mnli"
train_examples = 100
max_length = 128
[training]
epochs = 2
batch_size = 32
learning_rate = 5e-5
loss_weights = { ce = 1.0, kl = 1.0, cosine = 1.0 }
[[runs]]
name = "Odd Layer"
teacher_layers = [1, 3, 5, 7, 9, 11]
"#;

/// The data settings of GOOD for `task` (the columns the readers look for).
fn spec(task: &str) -> distill_tui::experiment::DataSpec {
    Experiment::from_str(GOOD, Path::new("x/experiments.toml"), &[format!("data.task=\"{task}\"")]).unwrap().data
}

/// Values that are plausible in a TOML file, and some that are not.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        any::<f64>().prop_map(|v| format!("{v:?}")),
        "[a-z0-9_ .\"-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        prop::collection::vec(-3i64..20, 0..14).prop_map(|v| format!("{v:?}")),
        Just("true".to_string()),
        Just("{ ce = -1 }".to_string()),
        Just("inf".to_string()),
        Just("nan".to_string()),
        ".{0,10}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_text_as_a_config(text in ".{0,400}") {
        let _ = Experiment::from_str(&text, Path::new("x/experiments.toml"), &[]);
    }

    #[test]
    fn any_value_on_any_line(line in 0usize..30, v in value(), drop in proptest::bool::ANY) {
        let mut lines: Vec<String> = GOOD.lines().map(str::to_string).collect();
        let i = line % lines.len();
        if drop {
            lines.remove(i);
        } else if let Some((key, _)) = lines[i].split_once(" = ") {
            lines[i] = format!("{key} = {v}");
        }
        let _ = Experiment::from_str(&lines.join("\n"), Path::new("x/experiments.toml"), &[]);
    }

    #[test]
    fn any_override(key in "[a-z_.\\[\\]0-9]{0,30}", v in value()) {
        let _ = Experiment::from_str(GOOD, Path::new("x/experiments.toml"), &[format!("{key}={v}")]);
        let _ = Experiment::from_str(GOOD, Path::new("x/experiments.toml"), &[key]);
    }

    #[test]
    fn any_bytes_as_tsv_or_csv(bytes in prop::collection::vec(any::<u8>(), 0..600), task in prop::sample::select(vec!["sst2", "mnli", "stsb", "cola"])) {
        let Some(task) = Task::by_name(task) else { return Ok(()) };
        let spec = spec(task.name);
        for delimiter in [b'\t', b','] {
            if let Ok(rows) = read_delimited_from(Path::new("d.tsv"), bytes.as_slice(), delimiter, &column_choices(&spec)) {
                let _ = rows_to_examples(rows, task, Path::new("d.tsv"));
            }
        }
    }

    #[test]
    fn tsv_shaped_rows(rows in prop::collection::vec(("[^\t\n]{0,20}", "[^\t\n]{0,6}"), 0..20)) {
        let mut text = String::from("sentence\tlabel\n");
        for (s, l) in &rows {
            text.push_str(&format!("{s}\t{l}\n"));
        }
        let task = Task::by_name("sst2").unwrap();
        let spec = spec(task.name);
        if let Ok(rows) = read_delimited_from(Path::new("d.tsv"), text.as_bytes(), b'\t', &column_choices(&spec)) {
            let _ = rows_to_examples(rows, task, Path::new("d.tsv"));
        }
    }

    #[test]
    fn any_bytes_as_jsonl(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let task = Task::by_name("mnli").unwrap();
        let spec = spec(task.name);
        if let Ok(rows) = read_jsonl_from(Path::new("d.jsonl"), bytes.as_slice(), &column_choices(&spec)) {
            let _ = rows_to_examples(rows, task, Path::new("d.jsonl"));
        }
    }

    #[test]
    fn json_shaped_lines(lines in prop::collection::vec(("[a-z_]{0,10}", value()), 0..12)) {
        let text: String = lines.iter().map(|(k, v)| format!("{{\"premise\": \"a\", \"hypothesis\": \"b\", \"{k}\": {v}}}\n")).collect();
        let task = Task::by_name("mnli").unwrap();
        let spec = spec(task.name);
        if let Ok(rows) = read_jsonl_from(Path::new("d.jsonl"), text.as_bytes(), &column_choices(&spec)) {
            let _ = rows_to_examples(rows, task, Path::new("d.jsonl"));
        }
    }

    #[test]
    fn any_dotted_key_of_any_depth(parts in prop::collection::vec("[a-z_]{0,4}", 0..300), v in value()) {
        let key = parts.join(".");
        let _ = Experiment::from_str(GOOD, Path::new("x/experiments.toml"), &[format!("{key}={v}")]);
    }

    #[test]
    fn any_value_for_any_config_json_key(
        changes in prop::collection::vec((prop::sample::select(CONFIG_KEYS.to_vec()), json_value()), 0..6)
    ) {
        let mut v = good_config_json();
        for (k, x) in changes {
            v[k] = x;
        }
        let _ = distill_tui::model::BertConfig::from_json(v);
    }

    #[test]
    fn any_text_as_vocab_txt_or_tokenizer_json(text in ".{0,300}", lines in prop::collection::vec("[^\n]{0,8}", 0..40)) {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        std::fs::write(&config, good_config_json().to_string()).unwrap();
        for (name, body) in [("vocab.txt", lines.join("\n")), ("vocab.txt", text.clone()), ("tokenizer.json", text.clone())] {
            let path = dir.path().join(name);
            std::fs::write(&path, &body).unwrap();
            let files = distill_tui::hub::files::ModelFiles {
                source: "fuzz".into(),
                config: config.clone(),
                weights: dir.path().join("model.safetensors"),
                tokenizer_json: (name == "tokenizer.json").then(|| path.clone()),
                vocab: (name == "vocab.txt").then(|| path.clone()),
                tokenizer_config: None,
                special_tokens_map: None,
            };
            if let Ok(t) = distill_tui::tokenize::TextTokenizer::load(&files, 16, 100) {
                let _ = t.encode("a b ## [CLS] xyz", Some("q"));
            }
        }
    }
}

const CONFIG_KEYS: [&str; 14] = [
    "vocab_size",
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "intermediate_size",
    "hidden_act",
    "max_position_embeddings",
    "type_vocab_size",
    "layer_norm_eps",
    "pad_token_id",
    "id2label",
    "label2id",
    "num_labels",
    "model_type",
];

fn good_config_json() -> serde_json::Value {
    distill_tui::model::BertConfig::synthetic(100, 32, 2, 2, 64, 2).to_json()
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    prop_oneof![
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| serde_json::json!(f)),
        Just(serde_json::json!(u64::MAX)),
        Just(serde_json::json!(1_000_000_000u64)),
        Just(serde_json::Value::Null),
        "[a-z]{0,6}".prop_map(serde_json::Value::from),
        prop::collection::btree_map("[0-9]{1,3}", "[a-z]{0,3}", 0..5).prop_map(|m| serde_json::to_value(m).unwrap()),
        (0usize..200_000).prop_map(|n| serde_json::Value::Object(
            (0..n.min(5000)).map(|i| (i.to_string(), serde_json::Value::from("x"))).collect()
        )),
    ]
}

//! Every bad experiments.toml is refused before work starts, with a message that names the
//! key and the fix, and exit code 2 from the binary.

use std::path::Path;
use std::process::Command;

use distill_tui::experiment::Experiment;

const GOOD: &str = r#"
[experiment]
name = "t"
[teacher]
model = "bert-base-uncased"
[student]
num_layers = 6
[data]
task = "mnli"
[[runs]]
name = "Odd Layer"
teacher_layers = [1, 3, 5, 7, 9, 11]
"#;

fn err(toml: &str, overrides: &[&str]) -> String {
    let sets: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    match Experiment::from_str(toml, Path::new("experiments.toml"), &sets) {
        Ok(exp) => match exp.plan(12, 512) {
            Ok(_) => panic!("accepted: {toml} {overrides:?}"),
            Err(e) => e.to_string(),
        },
        Err(e) => e.to_string(),
    }
}

fn has(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "{p:?} not in: {text}");
    }
}

#[test]
fn the_good_file_plans_the_matrix() {
    let exp = Experiment::from_str(GOOD, Path::new("x/experiments.toml"), &[]).unwrap();
    let plan = exp.plan(12, 512).unwrap();
    assert_eq!(plan[0].teacher_layers, vec![1, 3, 5, 7, 9, 11]);
    assert_eq!(plan[0].slug, "odd-layer");
    assert_eq!(exp.dir, Path::new("x/checkpoints/t"));
    assert_eq!(exp.data.validation_split, "validation_matched");
    // No runs listed: the four strategies.
    let no_runs = GOOD.split("[[runs]]").next().unwrap();
    let plan = Experiment::from_str(no_runs, Path::new("e.toml"), &[]).unwrap().plan(12, 512).unwrap();
    let names: Vec<_> = plan.iter().map(|p| (p.name.as_str(), p.teacher_layers.clone())).collect();
    assert_eq!(names[1], ("Bottom-K Layer", vec![7, 8, 9, 10, 11, 12]));
    assert_eq!(names[3], ("Even Layer", vec![2, 4, 6, 8, 10, 12]));
}

#[test]
fn overrides_apply_before_validation() {
    let exp = Experiment::from_str(
        GOOD,
        Path::new("e.toml"),
        &["training.epochs=1".into(), "experiment.seeds=[1,2,3]".into()],
    )
    .unwrap();
    assert_eq!(exp.training.epochs, 1);
    assert_eq!(exp.seeds, vec![1, 2, 3]);
    has(&exp.resolved_toml, &["epochs = 1"]);
}

#[test]
fn the_assignments_seven_layer_odd_set_is_refused() {
    let e = err(&GOOD.replace("[1, 3, 5, 7, 9, 11]", "[1, 3, 5, 7, 8, 9, 11]"), &[]);
    has(&e, &["runs[0].teacher_layers: (\"Odd Layer\") lists 7 layers", "give exactly 6"]);
}

#[test]
fn layer_list_errors() {
    has(&err(&GOOD.replace("[1, 3, 5, 7, 9, 11]", "[1, 3, 3, 7, 9, 11]"), &[]), &["layer 3 is listed twice"]);
    has(
        &err(&GOOD.replace("[1, 3, 5, 7, 9, 11]", "[0, 3, 5, 7, 9, 11]"), &[]),
        &["layer 0 does not exist", "numbered from 1 (next to the embeddings)"],
    );
    has(&err(&GOOD.replace("[1, 3, 5, 7, 9, 11]", "[1, 3, 5, 7, 9, 13]"), &[]), &["layer 13 does not exist"]);
    let strategies_only = GOOD.split("[[runs]]").next().unwrap();
    has(&err(strategies_only, &["student.num_layers=13"]), &["student.num_layers", "teacher has only 12 layers"]);
    has(
        &err(&GOOD.replace("teacher_layers = [1, 3, 5, 7, 9, 11]", "strategy = \"middle\""), &[]),
        &["runs[0].strategy", "\"middle\" is not known", "top, bottom, odd, even"],
    );
}

#[test]
fn value_errors_name_the_key() {
    has(&err(GOOD, &["training.batch_size=0"]), &["training.batch_size", "is 0; it must be at least 1"]);
    has(&err(GOOD, &["training.learning_rate=0"]), &["training.learning_rate", "must be a number above 0"]);
    has(&err(GOOD, &["training.learning_rate=-1e-5"]), &["training.learning_rate"]);
    has(&err(GOOD, &["data.max_length=1024"]), &["data.max_length", "reads at most 512 tokens", "use at most 512"]);
    has(&err(GOOD, &["data.task=\"glue\""]), &["data.task", "cola, sst2, mrpc, qqp, mnli, qnli, rte, wnli"]);
    has(&err(GOOD, &["data.validation_split=\"test_matched\""]), &["data.validation_split", "labels are hidden (-1)"]);
    has(
        &err(GOOD, &["data.validation_split=\"validation\""]),
        &["not a split of mnli", "validation_matched, validation_mismatched"],
    );
    has(&err(GOOD, &["data.train=\"missing.tsv\""]), &["data.train", "does not exist"]);
    has(&err(GOOD, &["data.train=\"x.xlsx\""]), &["must be \"hub\" or a .tsv, .csv, .jsonl or .parquet file"]);
    has(
        &err(GOOD, &["training.cosine_target=\"pooled\""]),
        &["training.cosine_target", "\"logits\" or \"cls_hidden\""],
    );
    has(&err(GOOD, &["training.precision=\"f64\""]), &["training.precision", "\"f32\" or \"bf16\""]);
    has(&err(GOOD, &["training.precision=\"fp16\""]), &["training.precision", "loss scaling", "use \"bf16\""]);
    has(&err(GOOD, &["experiment.seeds=[]"]), &["experiment.seeds", "is empty"]);
    has(&err(GOOD, &["training.loss_weights={ce=0, kl=0, cosine=0}"]), &["are all 0"]);
    has(&err(GOOD, &["training.temperature=0"]), &["training.temperature"]);
    has(&err(GOOD, &["data.train_examples=0"]), &["data.train_examples"]);
}

#[test]
fn unknown_keys_and_wrong_types_point_at_the_line() {
    let e = err(&GOOD.replace("num_layers = 6", "num_layers = 6\nnum_layer = 6"), &[]);
    has(&e, &["student", "unknown field `num_layer`", "line 8"]);
    let e = err(&GOOD.replace("num_layers = 6", "num_layers = \"six\""), &[]);
    has(&e, &["student.num_layers", "line 7"]);
    let e = err(&GOOD.replace("[data]\ntask = \"mnli\"\n", ""), &[]);
    has(&e, &["missing field `data`"]);
    let e = err("[experiment\nname = 1", &[]);
    has(&e, &["not valid TOML", "line 1"]);
    // An override with an unknown key names the override's path.
    has(&err(GOOD, &["training.epoch=3"]), &["training", "unknown field `epoch`"]);
}

#[test]
fn a_clashing_run_name_is_refused() {
    let toml = format!("{GOOD}\n[[runs]]\nname = \"odd layer\"\nstrategy = \"odd\"\n");
    has(&err(&toml, &[]), &["runs[1].name", "clashes with \"Odd Layer\""]);
}

/// Runs the binary headless on `cfg` with an empty offline Hub cache; returns (exit code, stderr).
fn run_binary(cfg: &Path, hf_home: &Path, extra: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_distill-tui"))
        .args(["--headless", "--config", cfg.to_str().unwrap()])
        .args(extra)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", hf_home)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn the_binary_exits_2_with_the_message_and_touches_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, hf) = (dir.path().join("experiments.toml"), dir.path().join("hf"));
    std::fs::write(&cfg, GOOD.replace("[1, 3, 5, 7, 9, 11]", "[1, 3, 5, 7, 8, 9, 11]")).unwrap();
    let (code, stderr) = run_binary(&cfg, &hf, &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("lists 7 layers"), "{stderr}");
    // With a valid list, an unreachable Hub and no cache are said clearly.
    std::fs::write(&cfg, GOOD).unwrap();
    let (code, stderr) = run_binary(&cfg, &hf, &[]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("bert-base-uncased@main") && stderr.contains("HF_HUB_OFFLINE"), "{stderr}");
    let (code, stderr) = run_binary(&cfg, &hf, &["--set", "training.batch_size=0"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("training.batch_size: is 0; it must be at least 1"), "{stderr}");
    assert!(!dir.path().join("checkpoints").exists(), "nothing written");
}

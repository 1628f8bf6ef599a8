//! The experiment as cells: the sequential run is a loop over cells whose numbers equal those
//! of the code before cells; `run-teacher` and `run-cell` in separate processes, and
//! `--parallel`, give the sequential run's numbers; the merged results are derived from the
//! cell records.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_distill-tui");

/// The tiny matrix: the four strategies of a 4-layer teacher, two seeds, 2 epochs each.
fn setup(dir: &Path) -> PathBuf {
    let exp = distill_tui::synthetic::SyntheticExperiment { seeds: vec![42, 7], ..common::tiny_experiment() };
    exp.write_inputs(dir).unwrap();
    exp.write(dir, "experiments.toml").unwrap()
}

fn distill(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", dir.join("hub"))
        .output()
        .unwrap()
}

fn ok(out: std::process::Output) -> std::process::Output {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// What must not change between ways of running: per run (and the teacher) its status,
/// every epoch's numbers, the final numbers and the per-example correctness.
fn numbers(results: &Value) -> Value {
    let pick = |r: &Value| {
        serde_json::json!({
            "status": r["status"], "epochs": r["epochs"], "train_loss": r["train_loss"],
            "validation_loss": r["validation_loss"], "validation_accuracy": r["validation_accuracy"],
            "validation_correct": r["validation_correct"],
        })
    };
    let runs: Vec<Value> = results["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::json!({ "slug": r["slug"], "seed": r["seed"], "numbers": pick(r) }))
        .collect();
    serde_json::json!({ "teacher": pick(&results["teacher"]), "runs": runs })
}

fn results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("out/tiny/results.json")).unwrap()).unwrap()
}

#[test]
fn the_sequential_run_gives_the_numbers_of_the_code_before_cells() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    ok(distill(tmp.path(), &["--headless"]));
    let got = numbers(&results(tmp.path()));
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cells/sequential-before-cells.json");
    if std::env::var_os("DISTILL_TUI_BLESS").is_some() {
        std::fs::write(&fixture, serde_json::to_string_pretty(&got).unwrap()).unwrap();
    }
    let want: Value = serde_json::from_str(&std::fs::read_to_string(&fixture).unwrap()).unwrap();
    assert_eq!(got, want);
}

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
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cells/sequential-before-cells.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    // gemm picks its kernels by the CPU's vector width at run time, and the sums of another
    // width round differently: bit for bit on a CPU like the one the fixture was made on
    // (AVX-512), within 1e-6 elsewhere.
    if avx512() == fixture["avx512f"].as_bool().unwrap() {
        assert_eq!(got, fixture["numbers"]);
    } else {
        assert_close(&got, &fixture["numbers"], "");
    }
}

fn avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    return std::arch::is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    false
}

fn assert_close(got: &Value, want: &Value, at: &str) {
    match (got, want) {
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() <= 1e-6 * b.abs().max(1.0), "{at}: {a} against {b}");
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{at}");
            a.iter().zip(b).enumerate().for_each(|(i, (x, y))| assert_close(x, y, &format!("{at}[{i}]")));
        }
        (Value::Object(a), Value::Object(b)) => {
            assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>(), "{at}");
            a.iter().for_each(|(k, x)| assert_close(x, &b[k], &format!("{at}.{k}")));
        }
        _ => assert_eq!(got, want, "{at}"),
    }
}

/// The numbers of the same matrix run sequentially, on this machine, in its own folder.
fn sequential(dir: &Path) -> Value {
    ok(distill(dir, &["--headless", "--set", "experiment.name=sequential"]));
    let path = dir.join("out/sequential/results.json");
    numbers(&serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap())
}

fn code(out: &std::process::Output) -> (i32, String) {
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_teacher_job_and_one_process_per_cell_give_the_sequential_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let dir = tmp.path();
    let out = dir.join("out/tiny");

    // A cell before its teacher: exit 2, and it says what to run.
    let (c, err) = code(&distill(dir, &["run-cell", "--index", "0"]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("the teacher has not run here yet") && err.contains("distill-tui run-teacher"), "{err}");
    assert!(!out.join("results.json").exists(), "a refused cell writes nothing");

    ok(distill(dir, &["run-teacher"]));
    let teacher = results(dir);
    assert_eq!(teacher["teacher"]["status"], "done");
    assert!(teacher["runs"].as_array().unwrap().iter().all(|r| r["status"] == "pending"));
    let outputs: Vec<_> = std::fs::read_dir(out.join("teacher-outputs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "bin"))
        .collect();
    assert_eq!(outputs.len(), 1, "the teacher's outputs are saved once");
    assert!(outputs[0].with_extension("json").is_file(), "with the key they were saved for");

    let (c, err) = code(&distill(dir, &["run-cell", "--index", "8"]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("--index 8: this matrix has 8 cells (0 to 7"), "{err}");

    // The cells in another order than the plan's, two at a time.
    for pair in [[7, 0], [3, 4], [1, 6], [2, 5]] {
        let children: Vec<_> = pair
            .iter()
            .map(|i| {
                Command::new(BIN)
                    .args(["run-cell", "--index", &i.to_string()])
                    .current_dir(dir)
                    .env("HF_HUB_OFFLINE", "1")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            ok(child.wait_with_output().unwrap());
        }
    }
    let merged = results(dir);
    assert_eq!(numbers(&merged), sequential(dir), "cells in processes of their own give the sequential numbers");
    for (i, folder) in ["top-k-layer-seed42", "odd-layer-seed7"].iter().enumerate() {
        let cell = out.join("cells").join(folder);
        let record: Value = serde_json::from_str(&std::fs::read_to_string(cell.join("record.json")).unwrap()).unwrap();
        assert_eq!(record["status"], "done", "{folder}");
        assert!(!cell.join(".lock").exists(), "{folder}: the lock is gone");
        let log = std::fs::read_to_string(cell.join("events.jsonl")).unwrap();
        assert!(log.contains("\"event\":\"run_ended\""), "{folder}: {i}");
        assert!(out.join(folder).join("model.safetensors").is_file(), "{folder}: the student is saved");
    }

    // A cell that ended: rerunning it does nothing and changes nothing.
    let before = std::fs::read(out.join("cells/top-k-layer-seed42/record.json")).unwrap();
    let done = ok(distill(dir, &["run-cell", "--index", "0"]));
    assert!(String::from_utf8_lossy(&done.stdout).contains("ended earlier (done); nothing to do"));
    assert_eq!(std::fs::read(out.join("cells/top-k-layer-seed42/record.json")).unwrap(), before);

    // results.json is derived: removed, `report` writes it again from the records.
    std::fs::remove_file(out.join("results.json")).unwrap();
    let before = numbers(&merged);
    ok(distill(dir, &["report", "out/tiny"]));
    assert_eq!(numbers(&results(dir)), before);

    // A cell of another configuration is refused.
    let (c, err) = code(&distill(dir, &["run-cell", "--index", "1", "--set", "training.epochs=1"]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("was started with another configuration (training.epochs: 2 -> 1)"), "{err}");
}

#[test]
fn parallel_cells_give_the_sequential_numbers_and_a_crashed_one_resumes_on_rerun() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let dir = tmp.path();
    let out = dir.join("out/tiny");
    // A file where one student is to be saved: that cell's process fails at its end (exit 1).
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("odd-layer-seed7"), b"in the way").unwrap();
    let run = distill(dir, &["--headless", "--parallel", "2"]);
    let (c, err) = code(&run);
    assert_eq!(c, 0, "{err}");
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("started in process"), "{stdout}");
    let merged = results(dir);
    let reference = sequential(dir);
    let mut want = reference.clone();
    let mut got = numbers(&merged);
    let take = |v: &mut Value| {
        let runs = v["runs"].as_array_mut().unwrap();
        let i = runs.iter().position(|r| r["slug"] == "odd-layer" && r["seed"] == 7).unwrap();
        runs.remove(i)
    };
    let crashed = take(&mut got);
    take(&mut want);
    let log = std::fs::read_to_string(out.join("cells/top-k-layer-seed42/process.log")).unwrap_or_default();
    let tail = log.lines().rev().take(8).collect::<Vec<_>>().join("\n");
    assert!(got == want, "every other cell has the sequential numbers; a cell's output ends:\n{tail}");
    assert_eq!(crashed["numbers"]["status"], "crashed", "a crash is not final");
    assert_eq!(
        crashed["numbers"]["epochs"],
        want_epochs(&reference, "odd-layer", 7),
        "its epochs before the crash are kept"
    );
    let row = |r: &Value| {
        r["runs"].as_array().unwrap().iter().find(|r| r["slug"] == "odd-layer" && r["seed"] == 7).cloned().unwrap()
    };
    let reason = row(&merged)["reason"].as_str().unwrap().to_string();
    assert!(reason.contains("its process exited with code 1") && reason.contains("process.log"), "{reason}");
    assert!(reason.contains("a rerun resumes it"), "{reason}");
    assert!(!out.join("cells/odd-layer-seed7/.lock").exists(), "the record was written under the lock, released since");
    // The obstacle gone, the same command again: the crashed cell resumes, and every number is
    // the sequential run's.
    std::fs::remove_file(out.join("odd-layer-seed7")).unwrap();
    ok(distill(dir, &["--headless", "--parallel", "2"]));
    assert_eq!(numbers(&results(dir)), reference, "after the rerun, every cell as in the sequential run");
}

fn want_epochs(v: &Value, slug: &str, seed: u64) -> Value {
    v["runs"].as_array().unwrap().iter().find(|r| r["slug"] == slug && r["seed"] == seed).unwrap()["numbers"]["epochs"]
        .clone()
}

#[test]
fn devices_are_checked_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let dir = tmp.path();
    // Each cell gets a GPU: the CPU backend has no use for one, so --parallel is what it needs.
    let (c, err) = code(&distill(dir, &["--headless", "--backend", "cpu", "--devices", "0,1"]));
    assert_eq!(c, 2, "{err}");
    assert!(err.contains("--devices") && err.contains("--parallel N"), "{err}");
    if !cfg!(feature = "cuda") {
        let (c, err) = code(&distill(dir, &["--headless", "--devices", "0,1"]));
        assert_eq!(c, 2, "{err}");
        assert!(err.contains("built without CUDA") && err.contains("--features cuda"), "{err}");
    }
    assert!(!dir.join("out/tiny").exists(), "refused before anything was written");
}

#[test]
fn a_folder_of_the_version_before_cells_keeps_its_finished_runs() {
    let tmp = tempfile::tempdir().unwrap();
    setup(tmp.path());
    let dir = tmp.path();
    ok(distill(dir, &["--headless"]));
    let out = dir.join("out/tiny");
    // What the version before cells left: results.json, the students and the teacher; no
    // matrix.json, no cells/.
    std::fs::remove_file(out.join("matrix.json")).unwrap();
    std::fs::remove_dir_all(out.join("cells")).unwrap();
    let before = results(dir);
    ok(distill(dir, &["--headless"]));
    let after = results(dir);
    assert_eq!(after["runs"], before["runs"], "nothing was run again");
    assert!(out.join("cells/odd-layer-seed7/record.json").is_file(), "the kept runs have cell records now");
}

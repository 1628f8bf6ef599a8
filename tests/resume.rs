//! Nothing computed is lost: the real binary is killed with SIGKILL in the middle of the
//! second run and rerun with the same command. The first run's results and student stay byte
//! for byte, the second continues from its checkpoint, and every number equals that of an
//! uninterrupted run. Then a changed config is refused (exit 2, saying what changed), --fresh
//! moves the folder aside, and a live lock holder is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use distill_tui::synthetic::SyntheticExperiment;
use serde_json::Value;

mod common;

/// A generated 4-layer teacher and task, and the config, in `dir`.
fn setup(dir: &Path) -> PathBuf {
    let experiment = SyntheticExperiment { seeds: vec![7], finetune_epochs: 2, epochs: 3, ..common::tiny_experiment() };
    experiment.write(dir, "experiments.toml").unwrap()
}

fn command(cfg: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_distill-tui"));
    c.args(["--headless", "--config", cfg.to_str().unwrap()]).args(extra).env("HF_HUB_OFFLINE", "1");
    c
}

fn run(cfg: &Path, extra: &[&str]) -> (i32, String) {
    let out = command(cfg, extra).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap()
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect();
    out.sort();
    out
}

/// What must not depend on an interruption: every number of every run.
fn numbers(r: &Value) -> Vec<Value> {
    let mut v = vec![r["teacher"]["epochs"].clone(), r["teacher"]["validation_correct"].clone()];
    for run in r["runs"].as_array().unwrap() {
        for key in [
            "name",
            "status",
            "epochs",
            "train_loss",
            "validation_loss",
            "validation_accuracy",
            "validation_correct",
            "params",
        ] {
            v.push(run[key].clone());
        }
    }
    v
}

#[test]
fn a_killed_matrix_resumes_to_the_same_numbers() {
    // The uninterrupted reference.
    let a = tempfile::tempdir().unwrap();
    let cfg_a = setup(a.path());
    let (code, err) = run(&cfg_a, &[]);
    assert_eq!(code, 0, "{err}");
    let reference = results(&a.path().join("out/tiny"));

    // Killed once the second run has its first per-epoch checkpoint.
    let b = tempfile::tempdir().unwrap();
    let cfg_b = setup(b.path());
    let out = b.path().join("out/tiny");
    let state = out.join(".resume/bottom-k-layer/state.json");
    let mut child = command(&cfg_b, &[]).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    let t0 = Instant::now();
    while !state.exists() {
        assert!(t0.elapsed() < Duration::from_secs(300), "the second run never checkpointed");
        assert!(child.try_wait().unwrap().is_none(), "the run ended before it could be killed");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let killed = results(&out);
    assert_eq!(killed["runs"][0]["status"], "done");
    assert_eq!(killed["runs"][1]["status"], "running");
    // Runs not started yet already carry their real parameter counts.
    assert_eq!(killed["runs"][2]["status"], "pending");
    assert_eq!(killed["runs"][2]["params"], reference["runs"][2]["params"]);
    assert!(killed["runs"][2]["params"].as_u64().unwrap() > 0);
    assert!(out.join(".lock").exists(), "a killed process leaves its lock behind");
    let first_student = files(&out.join("top-k-layer"));
    let first_result = killed["runs"][0].clone();
    let state_json: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let seconds_before = state_json["seconds"].as_f64().unwrap();
    assert!(seconds_before > 0.0);

    // The same command again: the stale lock is taken over and the matrix finishes.
    let (code, err) = run(&cfg_b, &[]);
    assert_eq!(code, 0, "{err}");
    let resumed = results(&out);
    assert_eq!(files(&out.join("top-k-layer")), first_student, "the finished run's student was rewritten");
    assert_eq!(resumed["runs"][0], first_result, "the finished run's results changed");
    assert_eq!(resumed["runs"][1]["resumed_from_epoch"], 1, "the second run did not continue from its checkpoint");
    let seconds = resumed["runs"][1]["seconds"].as_f64().unwrap();
    assert!(seconds > seconds_before, "a resumed run goes on counting its time: {seconds} after {seconds_before}");
    assert_eq!(numbers(&resumed), numbers(&reference), "a resumed matrix must end with the uninterrupted numbers");
    assert!(!out.join(".lock").exists(), "the lock is removed at the end");
    assert!(!out.join("cells/bottom-k-layer/.lock").exists(), "the cell's lock is removed at the end");
    assert!(!out.join(".resume/bottom-k-layer").exists(), "a finished run's checkpoint is removed");
    let log = std::fs::read_to_string(out.join("cells/bottom-k-layer/events.jsonl")).unwrap();
    assert!(log.contains("resuming from the checkpoint of epoch 1 of 3"), "the cell's log says it resumed");

    // A rerun of a finished matrix recomputes nothing and changes no number.
    let (code, err) = run(&cfg_b, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(numbers(&results(&out)), numbers(&reference));
    assert_eq!(results(&out)["runs"][3]["seconds"], resumed["runs"][3]["seconds"], "a finished run was run again");

    // Another config in the same folder is refused, naming the change; nothing is touched.
    let before = files(&out);
    let (code, err) = run(&cfg_b, &["--set", "training.epochs=2"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("training.epochs: 3 -> 2") && err.contains("--fresh"), "{err}");
    assert_eq!(files(&out), before);

    // --fresh moves the old folder aside (never deletes it) and starts over.
    let (code, err) = run(&cfg_b, &["--set", "training.epochs=0", "--set", "teacher.finetune_epochs=0", "--fresh"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(files(&b.path().join("out/tiny.old-1")), before);
    assert_eq!(results(&out)["runs"][0]["epochs"].as_array().unwrap().len(), 1);

    // A lock naming a live process that is not distill-tui (pid 1 here; pids are reused after a
    // reboot) is stale: taken over, in one line.
    std::fs::write(out.join(".lock"), "1\n").unwrap();
    let (code, err) = run(&cfg_b, &["--set", "training.epochs=0", "--set", "teacher.finetune_epochs=0"]);
    assert_eq!(code, 0, "{err}");
    let log = std::fs::read_to_string(out.join("events.jsonl")).unwrap();
    assert!(log.contains("took over the experiment folder's lock, left behind: process 1 is"), "{log}");

    // A folder held by a live distill-tui is refused: one waiting for its input on a pipe.
    let fifo = b.path().join("input.jsonl");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo(3) on a path of the test's own folder.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let mut holder = Command::new(env!("CARGO_BIN_EXE_distill-tui"))
        .args(["predict", "--model"])
        .arg(b.path().join("teacher"))
        .arg("--input")
        .arg(&fifo)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", holder.id())).unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..].split_whitespace().nth(19).unwrap().parse().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let lock = format!("{}\nhost={}\nstart={start}\nprogram=distill-tui\n", holder.id(), host.trim());
    std::fs::write(out.join(".lock"), lock).unwrap();
    let (code, err) = run(&cfg_b, &["--set", "training.epochs=0", "--set", "teacher.finetune_epochs=0"]);
    holder.kill().unwrap();
    holder.wait().unwrap();
    assert_eq!(code, 2, "{err}");
    assert!(err.contains(&format!("in use by another distill-tui (process {} on", holder.id())), "{err}");
}

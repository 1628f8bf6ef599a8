//! `submit --slurm` against a real single-node Slurm (tests/slurm/cluster.sh starts one; CI does
//! so before the tests). Without a cluster (DISTILL_TUI_SLURM unset) these tests say so and
//! pass, unless DISTILL_TUI_REQUIRE_SLURM=1 (as in CI) makes a missing cluster a failure.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_distill-tui");

fn cluster() -> bool {
    if std::env::var_os("DISTILL_TUI_SLURM").is_some() {
        return true;
    }
    assert!(
        std::env::var_os("DISTILL_TUI_REQUIRE_SLURM").is_none(),
        "DISTILL_TUI_REQUIRE_SLURM is set but no cluster is up: source tests/slurm/cluster.sh and run slurm_start"
    );
    eprintln!("no Slurm cluster (source tests/slurm/cluster.sh; slurm_start): the Slurm tests did not run");
    false
}

fn distill(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", dir.join("hf"))
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

/// The job ids `submit` printed ("... job 12 ..." and "... array job 13: ...").
fn job_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with("Submitted"))
        .filter_map(|l| l.split_whitespace().find(|w| w.trim_end_matches(':').chars().all(|c| c.is_ascii_digit())))
        .map(|w| w.trim_end_matches(':').to_string())
        .collect()
}

fn queued(ids: &[String]) -> String {
    let out = Command::new("squeue").args(["-h", "-o", "%i %T", "-j", &ids.join(",")]).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn wait_for(ids: &[String], dir: &Path) {
    let start = Instant::now();
    while !queued(ids).is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(600),
            "jobs {ids:?} still queued: {}\n{}",
            queued(ids),
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The jobs' output, for failure messages.
fn logs(dir: &Path) -> String {
    let mut text = String::new();
    for exp in std::fs::read_dir(dir.join("out")).into_iter().flatten().flatten() {
        for f in std::fs::read_dir(exp.path().join("slurm")).into_iter().flatten().flatten() {
            if f.path().extension().is_some_and(|e| e == "out") {
                text +=
                    &format!("--- {}\n{}\n", f.path().display(), std::fs::read_to_string(f.path()).unwrap_or_default());
            }
        }
    }
    text
}

fn results(dir: &Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("out").join(name).join("results.json")).unwrap()).unwrap()
}

/// Per run and the teacher: every epoch, loss and per-example correctness.
fn numbers(results: &Value) -> Value {
    let pick = |r: &Value| {
        serde_json::json!([
            r["status"],
            r["epochs"],
            r["train_loss"],
            r["validation_loss"],
            r["validation_accuracy"],
            r["validation_correct"]
        ])
    };
    let runs: Vec<Value> = results["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::json!([r["slug"], r["seed"], pick(r)]))
        .collect();
    serde_json::json!({ "teacher": pick(&results["teacher"]), "runs": runs })
}

fn record(dir: &Path, name: &str, cell: &str) -> Option<Value> {
    let text = std::fs::read_to_string(dir.join("out").join(name).join("cells").join(cell).join("record.json")).ok()?;
    serde_json::from_str(&text).ok()
}

#[test]
fn slurm_jobs_give_the_sequential_numbers_resume_after_scancel_and_say_why_a_teacher_failed() {
    if !cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // A folder with a space, as `~/My Experiments`: every path in the #SBATCH lines is quoted.
    let dir = &tmp.path().join("My Experiments");
    std::fs::create_dir_all(dir).unwrap();
    let exp = distill_tui::synthetic::SyntheticExperiment { seeds: vec![42, 7], ..common::tiny_experiment() };
    exp.write_inputs(dir).unwrap();
    exp.write(dir, "experiments.toml").unwrap();

    // 1. The matrix as a teacher job and arrays of 8 cells (two: MaxArraySize is 6), against the
    // sequential run.
    let (code, seq_out, err) = distill(dir, &["--headless", "--set", "experiment.name=sequential"]);
    assert_eq!(code, 0, "{seq_out}{err}");
    let sequential = numbers(&results(dir, "sequential"));
    let (code, out, err) = distill(dir, &["submit", "--slurm", "--max-parallel", "4", "--cpus-per-cell", "1"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Watch them: distill-tui watch out/tiny"), "{out}");
    let ids = job_ids(&out);
    assert_eq!(ids.len(), 3, "a teacher job and two array jobs: {out}");
    assert!(out.contains(&format!("array job {} (--array=0-5%4, cell = task id + 0)", ids[1])), "{out}");
    assert!(out.contains(&format!("array job {} (--array=0-1%4, cell = task id + 6)", ids[2])), "{out}");
    assert!(out.contains("8 of 8 cells submitted"), "{out}");
    let script = std::fs::read_to_string(dir.join("out/tiny/slurm/cells.sbatch")).unwrap();
    assert!(
        script.contains("run-cell --index \"$((SLURM_ARRAY_TASK_ID + ${DISTILL_TUI_CELL_OFFSET:-0}))\""),
        "{script}"
    );
    assert!(script.contains("My Experiments/out/tiny/slurm/cell-%A_%a.out\""), "{script}");
    let submitted: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/tiny/slurm/submitted.json")).unwrap()).unwrap();
    assert_eq!(submitted["arrays"], serde_json::json!([ids[1], ids[2]]), "every job recorded: {submitted}");
    wait_for(&ids, dir);
    assert_eq!(numbers(&results(dir, "tiny")), sequential, "Slurm cells against the sequential run\n{}", logs(dir));
    for (array, tasks) in [(&ids[1], 0..6), (&ids[2], 0..2)] {
        for i in tasks {
            let log = dir.join(format!("out/tiny/slurm/cell-{array}_{i}.out"));
            assert!(log.is_file(), "no output of task {array}_{i}");
        }
    }
    let (code, out, _) = distill(dir, &["submit", "--slurm"]);
    assert_eq!(code, 0);
    assert!(out.contains("Every cell of tiny has ended; nothing to submit."), "{out}");

    // 2. A cell cancelled mid-run (scancel: SIGTERM) and submitted again resumes and ends with
    // the numbers of an uninterrupted run.
    let slow = ["--set", "training.epochs=12", "--set", "experiment.seeds=[42]"];
    let (code, o, e) = distill(dir, &[&slow[..], &["--headless", "--set", "experiment.name=slow-sequential"]].concat());
    assert_eq!(code, 0, "{o}{e}");
    let uninterrupted = numbers(&results(dir, "slow-sequential"));
    let args = [&["submit", "--slurm", "--max-parallel", "1"][..], &slow, &["--set", "experiment.name=slow"]].concat();
    let (code, out, err) = distill(dir, &args);
    assert_eq!(code, 0, "{out}{err}");
    let ids = job_ids(&out);
    let start = Instant::now();
    loop {
        let r = record(dir, "slow", "top-k-layer");
        if r.as_ref().is_some_and(|r| r["status"] == "running" && r["epochs"].as_array().unwrap().len() >= 2) {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(300), "cell 0 never got past its first epoch\n{}", logs(dir));
        std::thread::sleep(Duration::from_millis(20));
    }
    let lock = std::fs::read_to_string(dir.join("out/slow/cells/top-k-layer/.lock")).unwrap_or_default();
    assert!(lock.contains(&format!("job={}_0", ids[1])), "the cell's lock names its Slurm task: {lock}");
    assert!(Command::new("scancel").arg(format!("{}_0", ids[1])).status().unwrap().success());
    wait_for(&ids, dir);
    let stopped = record(dir, "slow", "top-k-layer").unwrap();
    assert_eq!(stopped["status"], "stopped", "SIGTERM stops the cell cleanly: {stopped}\n{}", logs(dir));
    let task_log = std::fs::read_to_string(dir.join(format!("out/slow/slurm/cell-{}_0.out", ids[1]))).unwrap();
    assert!(task_log.contains("SIGTERM"), "{task_log}");
    // Submitted again with a new time limit, after the cells' script was edited by hand: refused,
    // saying what changed, until --keep-scripts; the unedited teacher script is rewritten.
    let cells_script = dir.join("out/slow/slurm/cells.sbatch");
    let edited = std::fs::read_to_string(&cells_script).unwrap() + "# my edit\n";
    std::fs::write(&cells_script, &edited).unwrap();
    let timed = [&args[..], &["--time", "30:00"]].concat();
    let (code, out, err) = distill(dir, &timed);
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("was edited by hand") && err.contains("+ #SBATCH --time=30:00"), "{err}");
    assert!(err.contains("--keep-scripts") && err.contains("nothing was submitted"), "{err}");
    let (code, out, err) = distill(dir, &[&timed[..], &["--keep-scripts"]].concat());
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("Kept your edits of") && out.contains("Rewrote"), "{out}");
    assert_eq!(std::fs::read_to_string(&cells_script).unwrap(), edited);
    assert!(
        std::fs::read_to_string(dir.join("out/slow/slurm/teacher.sbatch")).unwrap().contains("#SBATCH --time=30:00")
    );
    assert!(out.contains("The teacher is ready; no teacher job."), "{out}");
    assert!(
        out.contains("(--array=0%1, cell = task id + 0)") && out.contains("1 of 4 cells"),
        "only the cancelled cell again: {out}"
    );
    wait_for(&job_ids(&out), dir);
    let resumed = results(dir, "slow");
    assert_eq!(numbers(&resumed), uninterrupted, "the resumed cell ends with the uninterrupted numbers\n{}", logs(dir));
    assert!(resumed["runs"][0]["resumed_from_epoch"].as_u64().is_some_and(|e| e >= 1), "{}", resumed["runs"][0]);

    // 3. A teacher job that fails: Slurm cancels the cells, and the next submit says why.
    let broken = ["--set", "experiment.name=broken", "--set", "experiment.seeds=[42]"];
    std::fs::create_dir_all(dir.join("out/broken")).unwrap();
    std::fs::write(dir.join("out/broken/teacher"), b"a file where the teacher is saved").unwrap();
    let args = [&["submit", "--slurm"][..], &broken].concat();
    let (code, out, err) = distill(dir, &args);
    assert_eq!(code, 0, "{out}{err}");
    let ids = job_ids(&out);
    wait_for(&ids, dir);
    assert!(record(dir, "broken", "top-k-layer").is_none(), "the cells never ran");
    std::fs::remove_file(dir.join("out/broken/teacher")).unwrap();
    let (code, out, err) = distill(dir, &args);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "The last teacher job ({}) ended without a teacher, so Slurm cancelled its cells ({})",
            ids[0], ids[1]
        )),
        "{out}"
    );
    assert!(out.contains("out/broken/teacher"), "the teacher's error is quoted: {out}");
    let again = job_ids(&out);
    assert_eq!(again.len(), 2, "{out}");
    wait_for(&again, dir);
    assert_eq!(results(dir, "broken")["runs"].as_array().unwrap().iter().filter(|r| r["status"] == "done").count(), 4);
}

/// Without a cluster: what `submit` checks and prints before it submits anything.
#[test]
fn submit_checks_first_and_dry_run_prints_the_scripts_and_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let exp = distill_tui::synthetic::SyntheticExperiment { seeds: vec![42, 7], ..common::tiny_experiment() };
    exp.write_inputs(dir).unwrap();
    exp.write(dir, "experiments.toml").unwrap();

    let (code, out, err) = distill(dir, &["submit", "--slurm", "--dry-run", "--partition", "gpu", "--time", "1:00:00"]);
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "#SBATCH --partition=gpu",
        "#SBATCH --time=1:00:00",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --requeue",
        "export HF_HUB_OFFLINE=1",
    ] {
        assert_eq!(out.lines().filter(|l| *l == line).count(), 2, "{line} in both scripts:\n{out}");
    }
    assert!(out.contains("run-teacher --config experiments.toml --backend auto"), "{out}");
    assert!(out.contains("--dependency=afterok:<teacher> --kill-on-invalid-dep=yes --array=0-7 "), "{out}");
    assert!(!dir.join("out").exists(), "a dry run writes nothing");

    // Bad input: exit 2 before anything is written or submitted.
    let (code, _, err) = distill(dir, &["submit", "--slurm", "--set", "training.epochs=-1"]);
    assert_eq!(code, 2, "{err}");
    assert!(!dir.join("out").exists());
    let (code, _, err) = distill(dir, &["submit", "--slurm", "--set", "data.train=missing.tsv"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("missing.tsv"), "{err}");

    // No Slurm here (sbatch not on the PATH): it says where to run it.
    let out = Command::new(BIN)
        .args(["submit", "--slurm"])
        .current_dir(dir)
        .env("PATH", dir.join("no-bin"))
        .env("HF_HUB_OFFLINE", "1")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("cannot run sbatch") && err.contains("login node"), "{err}");
    assert!(!dir.join("out/tiny/slurm").exists(), "nothing written where Slurm is not");
}

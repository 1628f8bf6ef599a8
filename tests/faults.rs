//! The multi-process layout under faults: processes killed at random moments, two processes
//! racing for one cell, and hostile files in an experiment folder (FIFOs, huge sparse files,
//! links, hostile slugs). Every number must end equal to an uninterrupted sequential run's, no
//! process, lock or temporary file may be left behind, and nothing may hang or exhaust memory.

mod common;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_distill-tui");

/// One seed, four cells of eight epochs: long enough to be killed in the middle of.
fn setup(dir: &Path) {
    let exp = distill_tui::synthetic::SyntheticExperiment { epochs: 8, ..common::tiny_experiment() };
    exp.write_inputs(dir).unwrap();
    exp.write(dir, "experiments.toml").unwrap();
}

fn command(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(dir).env("HF_HUB_OFFLINE", "1").env("HF_HOME", dir.join("hub"));
    c.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    c
}

fn run(dir: &Path, args: &[&str]) -> (i32, String) {
    let out = command(dir, args).output().unwrap();
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn results(dir: &Path, name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("out").join(name).join("results.json")).unwrap()).unwrap()
}

/// Every epoch, loss and per-example correctness of the teacher and each run.
fn numbers(r: &Value) -> Value {
    let pick = |r: &Value| {
        serde_json::json!([r["status"], r["epochs"], r["train_loss"], r["validation_loss"], r["validation_correct"]])
    };
    let runs: Vec<Value> =
        r["runs"].as_array().unwrap().iter().map(|r| serde_json::json!([r["slug"], pick(r)])).collect();
    serde_json::json!({ "teacher": pick(&r["teacher"]), "runs": runs })
}

/// [`setup`], then the uninterrupted run (experiment `reference`) every fault is compared with:
/// its numbers.
fn setup_with_reference(dir: &Path) -> Value {
    setup(dir);
    let (c, err) = run(dir, &["--headless", "--set", "experiment.name=reference"]);
    assert_eq!(c, 0, "{err}");
    numbers(&results(dir, "reference"))
}

/// A seeded generator for the kill moments (splitmix64).
struct Moments(u64);

impl Moments {
    fn next_ms(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % below
    }
}

/// The children of process `pid`, of any of its threads (Linux).
fn children(pid: u32) -> Vec<u32> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).into_iter().flatten().flatten();
    tasks
        .flat_map(|t| {
            std::fs::read_to_string(t.path().join("children"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect::<Vec<u32>>()
        })
        .collect()
}

/// Processes of this binary whose working folder is under `dir` (none may be left).
fn left_over(dir: &Path) -> Vec<u32> {
    let exe = std::fs::canonicalize(BIN).unwrap();
    let dir = std::fs::canonicalize(dir).unwrap();
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else { continue };
        let same_exe = std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|p| p == exe);
        let here = std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|p| p.starts_with(&dir));
        // A zombie has no exe link: not a process that runs.
        if same_exe && here {
            out.push(pid);
        }
    }
    out
}

/// Locks and temporary files under `dir` (none may be left once every process has ended).
fn leftovers(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let (path, name) = (e.path(), e.file_name().to_string_lossy().into_owned());
            if e.file_type().unwrap().is_dir() {
                // A checkpoint folder of a run that did not end is no leftover of this kind.
                stack.push(path);
            } else if name == ".lock" || name.contains(".tmp-") || name.contains(".lock.") {
                out.push(path);
            }
        }
    }
    out
}

fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether some cell of experiment `name` has trained a step.
fn some_step(dir: &Path, name: &str) -> bool {
    let cells = dir.join("out").join(name).join("cells");
    std::fs::read_dir(cells)
        .into_iter()
        .flatten()
        .flatten()
        .any(|c| std::fs::read_to_string(c.path().join("events.jsonl")).is_ok_and(|t| t.contains("\"event\":\"step\"")))
}

fn reap(child: &mut Child) {
    let _ = child.wait();
}

#[test]
fn killing_the_parallel_parent_or_its_children_at_random_moments_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = setup_with_reference(dir);
    let mut moments = Moments(2026);
    let mut crashed_seen = false;
    for (round, victim) in ["parent", "child", "parent", "child"].iter().enumerate() {
        let name = format!("killed-{round}");
        let set = format!("experiment.name={name}");
        let args = ["--headless", "--parallel", "2", "--set", &set];
        let mut parent = command(dir, &args).spawn().unwrap();
        wait_until("a cell's first step", Duration::from_secs(120), || some_step(dir, &name));
        std::thread::sleep(Duration::from_millis(moments.next_ms(2000)));
        // Between two cells a parent may have no child for a moment.
        wait_until("a cell's process", Duration::from_secs(60), || !children(parent.id()).is_empty());
        let kids = children(parent.id());
        match *victim {
            "parent" => {
                let _ = parent.kill();
                reap(&mut parent);
                // Its children stop on their own (SIGTERM from the kernel when their parent dies).
                wait_until("the children of a killed parent to end", Duration::from_secs(60), || {
                    kids.iter().all(|k| !Path::new(&format!("/proc/{k}/exe")).exists())
                });
            }
            _ => {
                if let Some(&k) = kids.first() {
                    // SAFETY: SIGKILL to a process of this test's own (the binary's child).
                    unsafe { libc::kill(k as libc::pid_t, libc::SIGKILL) };
                }
                let status = parent.wait().unwrap();
                assert_eq!(status.code(), Some(0), "the parent goes on after a child is killed");
            }
        }
        // The kill hit the matrix in the middle: a cell was left to do (a crashed one resumes).
        let statuses: Vec<String> = std::fs::read_dir(dir.join("out").join(&name).join("cells"))
            .unwrap()
            .flatten()
            .filter_map(|c| std::fs::read_to_string(c.path().join("record.json")).ok())
            .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
            .map(|r| r["status"].as_str().unwrap_or("").to_string())
            .collect();
        eprintln!("round {round}: {victim} killed; cells: {statuses:?}");
        if *victim == "parent" {
            assert!(statuses.iter().filter(|s| *s == "done").count() < 4, "round {round}: the kill came too late");
            assert!(!statuses.iter().any(|s| s == "running"), "round {round}: the orphaned cells stopped cleanly");
        }
        // A child killed after it ended its cell leaves it done; one killed before, crashed.
        crashed_seen |= statuses.iter().any(|s| s == "crashed");
        // Rerun until every cell ended (a crashed one resumes): once is enough.
        let (c, err) = run(dir, &args);
        assert_eq!(c, 0, "round {round} ({victim} killed): the rerun failed: {err}");
        let got = numbers(&results(dir, &name));
        if got != reference {
            for (g, r) in got["runs"].as_array().unwrap().iter().zip(reference["runs"].as_array().unwrap()) {
                if g != r {
                    eprintln!("differs: {}\n  got  {}\n  want {}", g[0], g[1], r[1]);
                }
            }
            if got["teacher"] != reference["teacher"] {
                eprintln!("teacher differs");
            }
        }
        assert_eq!(got, reference, "round {round} ({victim} killed): every number as the uninterrupted run's");
        assert!(left_over(dir).is_empty(), "round {round}: processes left: {:?}", left_over(dir));
        assert!(leftovers(dir).is_empty(), "round {round}: locks or temporary files left: {:?}", leftovers(dir));
    }
    assert!(crashed_seen, "no round killed a child in the middle of its cell");
}

#[test]
fn two_processes_started_for_one_cell_train_it_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let reference = setup_with_reference(dir);
    let (c, err) = run(dir, &["run-teacher"]);
    assert_eq!(c, 0, "{err}");
    for index in 0..4 {
        let i = index.to_string();
        let mut racers: Vec<Child> =
            (0..2).map(|_| command(dir, &["run-cell", "--index", &i]).spawn().unwrap()).collect();
        let outs: Vec<(i32, String)> = racers
            .iter_mut()
            .map(|c| {
                let status = c.wait().unwrap();
                let mut err = String::new();
                std::io::Read::read_to_string(c.stderr.as_mut().unwrap(), &mut err).unwrap();
                (status.code().unwrap_or(-1), err)
            })
            .collect();
        // One trains; the other is refused (the cell is held) or finds it ended.
        let trained = outs.iter().filter(|(c, e)| *c == 0 && !e.contains("nothing to do")).count();
        assert_eq!(trained, 1, "cell {index}: {outs:?}");
        for (c, e) in &outs {
            assert!(*c == 0 || (*c == 2 && e.contains("in use by another distill-tui")), "cell {index}: {c} {e}");
        }
        let slug = results(dir, "tiny")["runs"][index]["slug"].as_str().unwrap().to_string();
        let log = std::fs::read_to_string(dir.join("out/tiny/cells").join(&slug).join("events.jsonl")).unwrap();
        assert_eq!(log.matches("\"event\":\"run_started\"").count(), 1, "cell {index} trained once:\n{log}");
    }
    assert_eq!(numbers(&results(dir, "tiny")), reference);
    assert!(leftovers(dir).is_empty(), "{:?}", leftovers(dir));
}

/// Runs `args` under a 3 GiB address-space limit and a timeout; (exit code, stderr). A run
/// killed by the timeout has no code.
fn run_limited(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut cmd = command(dir, args);
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: 3 << 30, rlim_max: 3 << 30 };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break Some(s);
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    (status.and_then(|s| s.code()), err)
}

fn fifo(path: &Path) {
    let _ = std::fs::remove_file(path);
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
}

fn sparse(path: &Path, size: u64) {
    let _ = std::fs::remove_file(path);
    std::fs::File::create(path).unwrap().set_len(size).unwrap();
}

#[test]
fn hostile_files_in_the_folder_hang_nothing_and_reach_nothing_outside() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    setup(dir);
    let (c, err) = run(dir, &["--headless", "--set", "training.epochs=1"]);
    assert_eq!(c, 0, "{err}");
    let exp = dir.join("out/tiny");
    let cells = exp.join("cells");
    // FIFOs and a 40 GB sparse file where event logs belong; a link where a cell's control file
    // is read; a link where a cell's record is written.
    fifo(&cells.join("top-k-layer/events.jsonl"));
    fifo(&exp.join("events.jsonl"));
    sparse(&cells.join("odd-layer/events.jsonl"), 40 << 30);
    let outside = dir.join("outside.txt");
    std::fs::write(&outside, "not yours").unwrap();
    std::os::unix::fs::symlink(&outside, cells.join("even-layer/control")).unwrap();

    // report --plots reads every event log: a FIFO is not opened, the huge file not read.
    let (c, err) = run_limited(dir, &["report", "--plots", "out/tiny"]);
    assert_eq!(c, Some(0), "report --plots: {err}");
    // A cell run again (it ended: nothing to do) and the --parallel parent, which follows logs.
    let (c, err) = run_limited(dir, &["run-cell", "--index", "1", "--set", "training.epochs=1"]);
    assert_eq!(c, Some(0), "run-cell: {err}");
    // The --parallel parent appends to the experiment's log: a FIFO there is refused, not waited on.
    let (c, err) = run_limited(dir, &["--headless", "--parallel", "2", "--set", "training.epochs=1"]);
    assert_eq!(c, Some(2), "--parallel: {err}");
    assert!(err.contains("events.jsonl") && err.contains("not an event log"), "{err}");
    std::fs::remove_file(exp.join("events.jsonl")).unwrap();
    let (c, err) = run_limited(dir, &["--headless", "--parallel", "2", "--set", "training.epochs=1"]);
    assert_eq!(c, Some(0), "--parallel, its log a file again: {err}");
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "not yours");

    // `watch` follows the folder: its follower, given the same folder, polls without hanging.
    let (tx, rx) = std::sync::mpsc::channel();
    let control = std::sync::Arc::new(distill_tui::events::Control::default());
    let (c2, d2) = (control.clone(), exp.clone());
    let follower = std::thread::spawn(move || distill_tui::watch::follow(&d2, tx, &c2));
    std::thread::sleep(Duration::from_secs(2));
    control.quit();
    let start = Instant::now();
    while !follower.is_finished() {
        assert!(start.elapsed() < Duration::from_secs(10), "watch's follower hangs");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(rx.try_iter().count() > 0, "watch still shows what it can read");

    // Hostile slugs and checkpoints in a record and in matrix.json: refused, never followed.
    let record = cells.join("even-layer/record.json");
    let mut r: Value = serde_json::from_str(&std::fs::read_to_string(&record).unwrap()).unwrap();
    r["checkpoint"] = Value::from("/etc");
    std::fs::write(&record, r.to_string()).unwrap();
    let matrix = exp.join("matrix.json");
    let mut m: Value = serde_json::from_str(&std::fs::read_to_string(&matrix).unwrap()).unwrap();
    m["runs"][0]["slug"] = Value::from("../../escape");
    m["runs"][1]["name"] = Value::from("Odd\u{1b}[2J");
    std::fs::write(&matrix, m.to_string()).unwrap();
    let (c, err) = run_limited(dir, &["report", "out/tiny"]);
    assert_eq!(c, Some(2), "{err}");
    assert!(err.contains("matrix.json") && err.contains("not one distill-tui makes"), "{err}");
    let session = distill_tui::playground::Session::of_experiment(&exp);
    assert!(session.is_err(), "try refuses the folder too");
    assert!(!dir.join("escape").exists());
}

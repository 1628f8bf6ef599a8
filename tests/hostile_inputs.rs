//! Hostile inputs, given to the real binary as a user would: endless files, folders and devices
//! where files belong, checkpoints whose tokenizer can produce ids the model has no row for,
//! absurd sizes and keys. Each runs under a memory limit (setrlimit, address space) and a
//! timeout, and must end with exit code 2, a message that names what is wrong, no panic, and
//! any earlier results untouched. `DISTILL_TUI_HOSTILE_TABLE=FILE` writes what each printed as
//! a Markdown table.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod common;

/// Address space for each run: far below what an unbounded read of /dev/zero reaches (it
/// grew to 2 GB before), far above what these small cases need.
const MEMORY_LIMIT: u64 = 3 << 30;
const TIMEOUT: Duration = Duration::from_secs(60);

struct Case {
    name: &'static str,
    /// Changes to the folder (config, data, model) before the run.
    setup: fn(&Path),
    /// The command's arguments; `{dir}` is the folder, `{config}` its experiments.toml.
    args: fn(&Path) -> Vec<String>,
    /// The exit code and what stderr must contain.
    code: i32,
    expect: &'static [&'static str],
}

fn nothing(_: &Path) {}

fn s(dir: &Path, rel: &str) -> String {
    dir.join(rel).display().to_string()
}

fn run_config(d: &Path) -> Vec<String> {
    vec!["--headless".into(), "--config".into(), s(d, "experiments.toml")]
}

/// The teacher's vocab.txt (its tokenizer.json removed) with one word replaced by a copy of
/// another, and config.json's vocab_size one less: as many distinct tokens as rows, but the
/// last id has no row (the count alone, which was all that was checked, passes).
fn vocab_with_a_gap(d: &Path) {
    std::fs::remove_file(d.join("teacher/tokenizer.json")).unwrap();
    let path = d.join("teacher/vocab.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let n = lines.len();
    lines[n - 2] = lines[n - 3];
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let config = d.join("teacher/config.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    v["vocab_size"] = (n - 1).into();
    std::fs::write(&config, v.to_string()).unwrap();
}

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "teacher whose tokenizer has an id >= vocab_size",
            setup: vocab_with_a_gap,
            args: run_config,
            code: 2,
            expect: &["vocab.txt", "ids up to", "vocab_size is"],
        },
        Case {
            name: "predict with a tokenizer id >= vocab_size",
            setup: vocab_with_a_gap,
            args: |d| vec!["predict".into(), "--model".into(), s(d, "teacher"), "good".into()],
            code: 2,
            expect: &["vocab.txt", "ids up to"],
        },
        Case {
            name: "--config /dev/zero",
            setup: nothing,
            args: |_| vec!["--headless".into(), "--config".into(), "/dev/zero".into()],
            code: 2,
            expect: &["/dev/zero", "is a device or socket, not a regular file"],
        },
        Case {
            name: "--config a folder",
            setup: nothing,
            args: |d| vec!["--headless".into(), "--config".into(), s(d, "data")],
            code: 2,
            expect: &["data", "is a folder"],
        },
        Case {
            name: "report on a results.json that is /dev/zero",
            setup: |d| {
                std::fs::create_dir_all(d.join("zero")).unwrap();
                std::os::unix::fs::symlink("/dev/zero", d.join("zero/results.json")).unwrap();
            },
            args: |d| vec!["report".into(), s(d, "zero")],
            code: 2,
            expect: &["results.json", "not a regular file"],
        },
        Case {
            name: "predict --input /dev/zero",
            setup: nothing,
            args: |d| vec!["predict".into(), "--model".into(), s(d, "teacher"), "--input".into(), "/dev/zero".into()],
            code: 2,
            expect: &["/dev/zero", "not a regular file"],
        },
        Case {
            name: "predict --input an endless line (a pipe)",
            setup: |d| {
                let fifo = d.join("endless.jsonl");
                let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
                // SAFETY: a plain mkfifo(3) on a path of the test's own folder.
                assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
                let path = fifo.clone();
                // The writer: a line that never ends, until the reader goes away.
                std::thread::spawn(move || {
                    use std::io::Write;
                    if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&path) {
                        let block = vec![b'x'; 1 << 16];
                        while f.write_all(&block).is_ok() {}
                    }
                });
            },
            args: |d| {
                vec!["predict".into(), "--model".into(), s(d, "teacher"), "--input".into(), s(d, "endless.jsonl")]
            },
            code: 2,
            expect: &["endless.jsonl", "line 1 is longer than"],
        },
        Case {
            name: "predict --input a folder",
            setup: nothing,
            args: |d| vec!["predict".into(), "--model".into(), s(d, "teacher"), "--input".into(), s(d, "data")],
            code: 2,
            expect: &["data", "is a folder"],
        },
        Case {
            name: "a --set key of 20,000 parts",
            setup: nothing,
            args: |d| {
                let mut a = run_config(d);
                a.extend(["--set".into(), vec!["a"; 20_000].join(".") + "=1"]);
                a
            },
            code: 2,
            expect: &["has 20000 parts; a key has at most 8"],
        },
        Case {
            name: "bench --hidden 0",
            setup: nothing,
            args: |_| ["bench", "--hidden", "0"].map(String::from).to_vec(),
            code: 2,
            expect: &["--hidden a multiple of 64 from 64"],
        },
        Case {
            name: "bench --hidden 10000000 --layers 100",
            setup: nothing,
            args: |_| ["bench", "--hidden", "10000000", "--layers", "100"].map(String::from).to_vec(),
            code: 2,
            expect: &["--layers 2 to 96"],
        },
        Case {
            name: "bench too large for the memory",
            setup: nothing,
            args: |_| ["bench", "--hidden", "8192", "--layers", "96", "--batch", "4096"].map(String::from).to_vec(),
            code: 2,
            expect: &["GB of memory and", "are available"],
        },
        Case {
            name: "predict --max-length 2 with a pair",
            setup: nothing,
            args: |d| {
                let mut a: Vec<String> = vec!["predict".into(), "--model".into(), s(d, "teacher")];
                a.extend(["--max-length", "2", "good movie", "bad film"].map(String::from));
                a
            },
            code: 2,
            expect: &["max length 2 is too small", "at least 3"],
        },
        Case {
            name: "predict --max-length 4 with a pair (truncated to fit, as asked)",
            setup: nothing,
            args: |d| {
                let mut a: Vec<String> = vec!["predict".into(), "--model".into(), s(d, "teacher")];
                a.extend(["--max-length", "4", "good movie", "bad film"].map(String::from));
                a
            },
            code: 0,
            expect: &[],
        },
        Case {
            name: "a model folder whose config.json is a folder",
            setup: |d| {
                std::fs::remove_file(d.join("teacher/config.json")).unwrap();
                std::fs::create_dir(d.join("teacher/config.json")).unwrap();
            },
            args: |d| vec!["predict".into(), "--model".into(), s(d, "teacher"), "good".into()],
            code: 2,
            expect: &["config.json", "is a folder; it must be a file"],
        },
        Case {
            name: "data.train is a folder",
            setup: nothing,
            args: |d| {
                let mut a = run_config(d);
                a.extend(["--set".into(), format!("data.train={}", s(d, "folder.tsv"))]);
                std::fs::create_dir_all(d.join("folder.tsv")).unwrap();
                a
            },
            code: 2,
            expect: &["data.train", "folder.tsv is a folder; give a data file"],
        },
        Case {
            name: "predict --input JSON Lines starting with a byte-order mark",
            setup: |d| std::fs::write(d.join("bom.jsonl"), "\u{feff}{\"text\": \"good\"}\n").unwrap(),
            args: |d| vec!["predict".into(), "--model".into(), s(d, "teacher"), "--input".into(), s(d, "bom.jsonl")],
            code: 0,
            expect: &[],
        },
        Case {
            name: "experiment.name with a newline and an escape",
            setup: nothing,
            args: |d| {
                let mut a = run_config(d);
                a.extend(["--set".into(), "experiment.name=\"a\\nb\\u001b[2J\"".into()]);
                a
            },
            code: 2,
            expect: &["experiment.name", "\"a\\nb\\u{1b}[2J\" cannot name a folder"],
        },
        Case {
            name: "experiment.name with a NUL",
            setup: nothing,
            args: |d| {
                let mut a = run_config(d);
                a.extend(["--set".into(), "experiment.name=\"a\\u0000b\"".into()]);
                a
            },
            code: 2,
            expect: &["experiment.name", "cannot name a folder"],
        },
        Case {
            name: "experiment.name of 300 characters",
            setup: nothing,
            args: |d| {
                let mut a = run_config(d);
                a.extend(["--set".into(), format!("experiment.name={}", "n".repeat(300))]);
                a
            },
            code: 2,
            expect: &["experiment.name", "at most 100"],
        },
        Case {
            name: "a config.json with 100,000 labels",
            setup: |d| {
                let path = d.join("teacher/config.json");
                let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
                v["id2label"] = (0..100_000).map(|i| (i.to_string(), serde_json::Value::from("x"))).collect();
                v.as_object_mut().unwrap().remove("label2id");
                std::fs::write(&path, v.to_string()).unwrap();
            },
            args: |d| vec!["predict".into(), "--model".into(), s(d, "teacher"), "good".into()],
            code: 2,
            expect: &["100000 labels", "at most 1000"],
        },
        Case {
            name: "a bad TOML line of 900 kB",
            setup: |d| {
                let path = d.join("experiments.toml");
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, format!("{text}\nbad = [{}\n", "1, ".repeat(300_000))).unwrap();
            },
            args: run_config,
            code: 2,
            expect: &["not valid TOML", "…"],
        },
        Case {
            name: "an experiments.toml of 5 MB",
            setup: |d| {
                let path = d.join("experiments.toml");
                let text = std::fs::read_to_string(&path).unwrap();
                std::fs::write(&path, format!("{text}\n# {}\n", "x".repeat(5 << 20))).unwrap();
            },
            args: run_config,
            code: 2,
            expect: &["experiments.toml", "larger than 1 MiB"],
        },
        Case {
            name: "--model \"\"",
            setup: nothing,
            args: |_| ["predict", "--model", "", "good"].map(String::from).to_vec(),
            code: 2,
            expect: &["no model given (an empty name)"],
        },
    ]
}

/// Runs `args` under the memory limit and the timeout; (exit code, stderr). A run killed by the
/// timeout or a signal has no code.
fn run_limited(dir: &Path, args: &[String]) -> (Option<i32>, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_distill-tui"));
    cmd.args(args)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", dir.join("hf"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    // SAFETY: setrlimit is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let limit = libc::rlimit { rlim_cur: MEMORY_LIMIT, rlim_max: MEMORY_LIMIT };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut s).ok();
        s
    });
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > TIMEOUT {
            child.kill().ok();
            child.wait().ok();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.and_then(|s| s.code()), reader.join().unwrap())
}

#[test]
fn every_hostile_input_exits_with_a_message_under_bounded_memory() {
    let mut table = String::from("| Hostile input | Exit | What distill-tui printed |\n|---|---|---|\n");
    let mut failures = vec![];
    for case in cases() {
        let tmp = tempfile::tempdir().unwrap();
        common::bad_input_setup(tmp.path());
        (case.setup)(tmp.path());
        let args = (case.args)(tmp.path());
        let (code, stderr) = run_limited(tmp.path(), &args);
        let message = stderr.replace(&format!("{}/", tmp.path().display()), "").trim().to_string();
        let shown: String = message.chars().take(400).collect();
        table.push_str(&format!(
            "| {} | {} | `{}` |\n",
            case.name,
            code.map_or("killed".into(), |c| c.to_string()),
            shown.replace('\n', " ").replace('|', "\\|")
        ));
        let missing: Vec<&&str> = case.expect.iter().filter(|e| !message.contains(**e)).collect();
        let untouched = common::earlier_results_untouched(tmp.path());
        // No message echoes a hostile input whole.
        let short = message.len() < 4000;
        if code != Some(case.code) || !missing.is_empty() || message.contains("panicked") || !untouched || !short {
            failures
                .push(format!("{}: exit {code:?}, missing {missing:?}, untouched {untouched}\n  {shown}", case.name));
        }
    }
    if let Ok(path) = std::env::var("DISTILL_TUI_HOSTILE_TABLE") {
        std::fs::write(path, &table).unwrap();
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases().len(), failures.join("\n"));
}

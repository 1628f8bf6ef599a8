//! `distill-tui watch [DIR]`: the monitor, read-only, on an experiment that other processes
//! are writing (a `--headless` run, a `--parallel` or `--devices` run, Slurm cells on a shared
//! filesystem). It polls the files (inotify does not work on NFS): the experiment's event log
//! and every cell's, in the order a process would have sent them, and the cells' records and
//! locks, to tell a cell whose process is gone. Pause and skip reach a cell through its control
//! file; leaving touches nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use crate::events::{Control, Event, Level, LogTail, RunId, RunStatus, cell_run_id};
use crate::report::results::Results;
use crate::workspace::cells::folders;
use crate::workspace::control::{Request, request};
use crate::workspace::layout::{EVENTS_LOG, LOCK_FILE, cell_dir};
use crate::workspace::results::merged;

/// How often the files are read.
const POLL: Duration = Duration::from_millis(500);
/// How often the records and locks are checked for cells whose process is gone.
const CHECK: Duration = Duration::from_secs(2);

/// The files of one experiment folder, followed.
pub struct Follower {
    dir: PathBuf,
    main: LogTail,
    cells: BTreeMap<String, LogTail>,
    /// Run ids of the cells, by folder (from matrix.json).
    ids: BTreeMap<String, RunId>,
    /// Runs started and not ended, as the logs tell.
    open: BTreeSet<RunId>,
    plan_seen: bool,
    finished: bool,
}

impl Follower {
    pub fn new(dir: &Path) -> Self {
        Self {
            dir: dir.to_path_buf(),
            main: LogTail::new(&dir.join(EVENTS_LOG)),
            cells: BTreeMap::new(),
            ids: BTreeMap::new(),
            open: BTreeSet::new(),
            plan_seen: false,
            finished: false,
        }
    }

    /// Events new since the last poll: the experiment's log first, then every cell's.
    pub fn poll(&mut self) -> Vec<Event> {
        let mut out: Vec<Event> = Vec::new();
        for e in self.main.poll() {
            match e {
                // Each invocation's plan is the same matrix: the first one sets the screen up.
                Event::Plan { .. } if self.plan_seen => {}
                Event::Plan { .. } => {
                    self.plan_seen = true;
                    out.push(e);
                }
                // The writing process's end is not the experiment's: cells may still run.
                Event::Finished { .. } => {}
                e => out.push(e),
            }
        }
        if !self.plan_seen {
            return out;
        }
        if let Ok(Some(results)) = merged(&self.dir) {
            self.learn_cells(&results);
        }
        for tail in self.cells.values_mut() {
            out.extend(tail.poll().into_iter().filter(|e| !matches!(e, Event::Plan { .. } | Event::Finished { .. })));
        }
        for e in &out {
            match e {
                Event::RunStarted { run, .. } => {
                    self.open.insert(*run);
                }
                Event::RunEnded { run, .. } => {
                    self.open.remove(run);
                }
                _ => {}
            }
        }
        out
    }

    fn learn_cells(&mut self, results: &Results) {
        let finetuned = results.teacher.finetuned();
        for (i, folder) in folders(results).into_iter().enumerate() {
            if !self.cells.contains_key(&folder) {
                let tail = LogTail::new(&cell_dir(&self.dir, &folder).join(EVENTS_LOG));
                self.cells.insert(folder.clone(), tail);
                self.ids.insert(folder, cell_run_id(i, finetuned));
            }
        }
    }

    /// Ends, on screen, the runs whose process is gone without saying so (killed): their
    /// record's status, when no live process holds the cell. Says when every cell has ended.
    pub fn check(&mut self) -> Vec<Event> {
        let Ok(Some(results)) = merged(&self.dir) else { return vec![] };
        let mut out = Vec::new();
        for (row, folder) in results.runs.iter().zip(folders(&results)) {
            let Some(&id) = self.ids.get(&folder) else { continue };
            if self.open.contains(&id) && !held(&cell_dir(&self.dir, &folder).join(LOCK_FILE)) {
                // Read the log once more: its last lines may have come since the last poll.
                let status = match row.record.status {
                    RunStatus::Running | RunStatus::Pending => RunStatus::Stopped,
                    s => s,
                };
                let reason = Some("its process is gone (no live lock); rerunning the cell resumes it".to_string());
                out.push(Event::RunEnded { run: id, status, reason, seconds: row.record.seconds });
                self.open.remove(&id);
            }
        }
        let ended = RunStatus::ended;
        if !self.finished && ended(results.teacher.record.status) && results.runs.iter().all(|r| ended(r.record.status))
        {
            self.finished = true;
            out.push(Event::Finished { results_dir: self.dir.clone() });
        }
        out
    }

    /// The cell folder of a run id.
    pub fn folder_of(&self, run: RunId) -> Option<&str> {
        self.ids.iter().find(|(_, id)| **id == run).map(|(f, _)| f.as_str())
    }

    /// Cells started and not ended.
    pub fn running(&self) -> Vec<String> {
        self.open.iter().filter_map(|id| self.folder_of(*id).map(str::to_string)).collect()
    }
}

/// Whether a live distill-tui holds this lock.
fn held(lock: &Path) -> bool {
    crate::workspace::lock::lock_is_live(lock)
}

/// Follows `dir` and sends its events to `tx` until `control` asks to quit or the receiver is
/// gone; `p` and `s` of the monitor become control-file requests to the running cells. Returns
/// the cells it leaves paused (paused from here and still running), for the user to be told.
pub fn follow(dir: &Path, tx: Sender<Event>, control: &Control) -> Vec<String> {
    let mut f = Follower::new(dir);
    let mut last_check = Instant::now() - CHECK;
    let mut paused = false;
    let send = |e: Event| tx.send(e).is_ok();
    let text = format!(
        "watching {} read-only: q leaves (the run goes on); p and s reach the selected cell through its control file",
        dir.display()
    );
    if !send(Event::Log { level: Level::Info, text }) {
        return vec![];
    }
    while !control.quit_requested() {
        let mut gone = false;
        for e in f.poll() {
            gone |= !send(e);
        }
        if last_check.elapsed() >= CHECK {
            last_check = Instant::now();
            for e in f.check() {
                gone |= !send(e);
            }
        }
        if gone {
            break;
        }
        if control.is_paused() != paused {
            paused = control.is_paused();
            let what = if paused { Request::Pause } else { Request::Run };
            for folder in f.running() {
                let _ = request(dir, &folder, what);
            }
        }
        if let Some(which) = control.take_skip_of_run()
            && let Some(folder) = which.and_then(|id| f.folder_of(id).map(str::to_string))
        {
            let _ = request(dir, &folder, Request::Skip);
        }
        std::thread::sleep(POLL);
    }
    if paused { f.running() } else { vec![] }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{BackendInfo, BackendKind, RunKind, RunLabel};
    use crate::workspace::cells::{write_matrix, write_record};

    fn matrix() -> Results {
        let run = |slug: &str| {
            serde_json::json!({ "name": slug, "slug": slug, "seed": 42, "teacher_layers": [1], "status": "pending",
                "validation_loss": null, "validation_accuracy": null, "params": 10, "seconds": 0.0,
                "checkpoint": null, "epochs": [], "validation_correct": "" })
        };
        serde_json::from_value(serde_json::json!({
            "experiment": "x", "config_file": "x.toml", "backend": "cpu", "device": "CPU",
            "versions": { "distill_tui": "0", "burn": "0.21.0" },
            "data": { "task": "sst2", "train": "t", "validation": "v", "train_examples": 4,
                      "validation_examples": 2, "max_length": 8, "train_mean_tokens": 4.0 },
            "training": {},
            "teacher": { "model": "m", "revision": "main", "num_layers": 2, "finetune_epochs": 1, "status": "done",
                "validation_loss": 0.5, "validation_accuracy": 0.5, "params": 20, "seconds": 1.0,
                "checkpoint": "teacher", "epochs": [], "validation_correct": "10" },
            "runs": [run("a"), run("b")],
        }))
        .unwrap()
    }

    fn append(path: &Path, events: &[Event]) {
        use std::io::Write;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).unwrap();
        for e in events {
            writeln!(f, "{}", serde_json::to_string(e).unwrap()).unwrap();
        }
    }

    fn plan() -> Event {
        let label = |kind, name: &str| RunLabel { kind, name: name.into(), seed: 42, teacher_layers: vec![] };
        Event::Plan {
            experiment: "x".into(),
            backend: BackendInfo::new(BackendKind::Cpu, "CPU"),
            teacher_layers: 2,
            runs: vec![label(RunKind::Teacher, "t"), label(RunKind::Student, "a"), label(RunKind::Student, "b")],
            student_epochs: 1,
            steps_per_epoch: 1,
            synthetic: false,
        }
    }

    #[test]
    fn the_plan_then_each_cell_s_events_a_vanished_process_and_the_end() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let mut results = matrix();
        write_matrix(dir, &results).unwrap();
        let mut f = Follower::new(dir);
        assert!(f.poll().is_empty(), "no log yet");
        append(&dir.join(EVENTS_LOG), &[plan(), Event::Finished { results_dir: dir.into() }, plan()]);
        let started = Event::RunStarted { run: 1, epochs: 1, steps_per_epoch: 1, train_examples: 4 };
        append(&cell_dir(dir, "a").join(EVENTS_LOG), std::slice::from_ref(&started));
        assert_eq!(f.poll(), vec![plan(), started], "one plan, no process's end, then the cell's events");
        assert_eq!(f.folder_of(1), Some("a"));
        assert_eq!(f.folder_of(2), Some("b"));
        assert_eq!(f.running(), vec!["a".to_string()]);

        // Cell a's process died (no lock) with its record saying running: stopped, once.
        results.runs[0].record.status = RunStatus::Running;
        write_record(dir, "a", &results.runs[0]).unwrap();
        let ended = f.check();
        assert!(matches!(&ended[..], [Event::RunEnded { run: 1, status: RunStatus::Stopped, .. }]), "{ended:?}");
        assert!(f.check().is_empty());

        // Every cell ended: the end, once.
        for (i, folder) in ["a", "b"].iter().enumerate() {
            results.runs[i].record.status = RunStatus::Done;
            write_record(dir, folder, &results.runs[i]).unwrap();
        }
        assert!(matches!(&f.check()[..], [Event::Finished { .. }]));
        assert!(f.check().is_empty());
    }
}

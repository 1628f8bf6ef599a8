//! The whole matrix, headless, on a tiny generated teacher and task: teacher fine-tune, four
//! students, results.json, student folders, and the mistakes of published attempts made
//! impossible (shared students or optimizers, dead learning rates, identical rows).

use std::path::Path;
use std::sync::mpsc;

use burn::backend::Autodiff;
use distill_tui::backend::CpuBackend;
use distill_tui::engine::{EngineOptions, run_experiment};
use distill_tui::events::{BackendInfo, BackendKind};
use distill_tui::events::{Control, Events};
use distill_tui::events::{Event, Phase, RunStatus};
use distill_tui::experiment::Experiment;
use distill_tui::hub::HubSettings;
use distill_tui::model::LoadedModel;
use distill_tui::report::results::Results;
use distill_tui::synthetic::{Run, RunLayers, SyntheticExperiment};

mod common;

type B = Autodiff<CpuBackend>;

/// The CPU backend draws initial weights and dropout masks from one process-wide seeded
/// generator: tests in parallel threads would interleave their draws. One test at a time here,
/// as one engine at a time in the program.
static ENGINE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The generated teacher and task in `dir`, and the experiment (seed 42, 3 epochs of teacher
/// fine-tune, 2 per student) that `run` writes.
fn setup(dir: &Path) -> SyntheticExperiment {
    let experiment = common::tiny_experiment();
    experiment.write_inputs(dir).unwrap();
    experiment
}

fn run(dir: &Path, toml: &str, overrides: &[String], cache: bool) -> (Results, Vec<Event>) {
    let path = dir.join("experiments.toml");
    std::fs::write(&path, toml).unwrap();
    let exp = Experiment::load(&path, overrides).unwrap();
    let (tx, rx) = mpsc::channel();
    let mut opts = EngineOptions::new(HubSettings::offline_cache(dir.join("hub")));
    opts.teacher_cache = cache;
    let info = BackendInfo::new(BackendKind::Cpu, "test");
    let results =
        run_experiment::<B>(&exp, &opts, &info, &Default::default(), &Events::new(tx), &Control::default()).unwrap();
    (results, rx.try_iter().collect())
}

#[test]
fn the_whole_matrix_runs_and_records_sound_results() {
    let _one_at_a_time = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let toml = setup(tmp.path()).to_toml();
    let (results, events) = run(tmp.path(), &toml, &[], true);
    let out = tmp.path().join("out/tiny");

    // The plan: teacher fine-tune, then the four strategies sized for a 4-layer teacher.
    let Some(Event::Plan { runs, .. }) = events.iter().find(|e| matches!(e, Event::Plan { .. })) else {
        panic!("no plan")
    };
    let layers: Vec<Vec<usize>> = runs.iter().map(|r| r.teacher_layers.clone()).collect();
    assert_eq!(layers, vec![vec![], vec![1, 2], vec![3, 4], vec![1, 3], vec![2, 4]]);

    // The teacher learned the task, and is the first row.
    let t = &results.teacher.record;
    assert_eq!(t.status, RunStatus::Done);
    assert_eq!(t.epochs.len(), 4);
    assert!(t.validation_accuracy.unwrap() >= 0.75, "teacher accuracy {:?}", t.validation_accuracy);
    assert!(out.join("teacher/model.safetensors").is_file());

    // Every run: done, epoch 0 then 2 epochs, its own folder, loadable with 2 layers.
    assert_eq!(results.runs.len(), 4);
    for r in &results.runs {
        let (name, r) = (&r.name, &r.record);
        assert_eq!(r.status, RunStatus::Done, "{name}");
        assert_eq!(r.epochs.iter().map(|e| e.epoch).collect::<Vec<_>>(), vec![0, 1, 2]);
        assert!(r.epochs[0].train_loss.is_none() && r.epochs[1].train_kl.is_some());
        assert_eq!(r.validation_correct.len(), 64);
        let folder = out.join(r.checkpoint.as_ref().unwrap());
        let loaded = LoadedModel::<CpuBackend>::load(
            folder.to_str().unwrap(),
            "main",
            &HubSettings::offline_cache(tmp.path()),
            None,
            0,
            &Default::default(),
        )
        .unwrap();
        assert_eq!(loaded.model.num_layers(), 2);
        assert_eq!(loaded.config.labels, vec!["negative", "positive"]);
        assert!(loaded.report.initialized.is_empty());
    }
    // Not four identical rows.
    let losses: Vec<f64> = results.runs.iter().map(|r| r.record.validation_loss.unwrap()).collect();
    for i in 0..4 {
        for j in i + 1..4 {
            assert_ne!(losses[i], losses[j], "runs {i} and {j} gave the same validation loss");
        }
    }

    // Each run starts its own schedule at the full learning rate and the weights move.
    let first_steps: Vec<(usize, f64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Step(s) if s.step == 1 => Some((s.run, s.lr)),
            _ => None,
        })
        .collect();
    assert_eq!(first_steps.len(), 5);
    assert!(first_steps.iter().all(|(_, lr)| *lr == 3e-3), "{first_steps:?}");
    let last_lr = events.iter().rev().find_map(|e| match e {
        Event::Step(s) => Some((s.step, s.steps_total, s.lr)),
        _ => None,
    });
    let (step, total, lr) = last_lr.unwrap();
    assert_eq!(step, total);
    assert!(lr > 0.0 && lr < 3e-3 / 2.0, "decayed linearly: {lr}");
    let teacher_w = read(&out.join("teacher/model.safetensors"), "bert.encoder.layer.2.output.dense.weight");
    let bottom = results.runs.iter().find(|r| r.teacher_layers == vec![3, 4]).unwrap();
    let student_w = read(
        &out.join(bottom.record.checkpoint.as_ref().unwrap()).join("model.safetensors"),
        "bert.encoder.layer.0.output.dense.weight",
    );
    assert_eq!(teacher_w.len(), student_w.len());
    assert_ne!(teacher_w, student_w, "training moved the copied weights");
    let diff = teacher_w.iter().zip(&student_w).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
    assert!(diff < 0.1, "but they started from teacher layer 3: max change {diff}");

    // The files a user reads.
    let saved = distill_tui::workspace::results::read_results(&out).unwrap();
    assert_eq!(saved, results);
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains("| Student Layer | Teacher layers | Training Loss | Validation Loss | Validation Accuracy |"));
    assert!(md.contains("Teacher (4 layers, fine-tuned 3 epochs)") && md.contains("Bottom-K Layer | 3, 4 |"));
    assert!(md.contains("Initialization only (epoch 0"));
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6);
    // `report` fits the terminal it prints to, every accuracy whole.
    for width in [80usize, 120] {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_distill-tui"))
            .arg("report")
            .arg(&out)
            .env("COLUMNS", width.to_string())
            .output()
            .unwrap();
        assert!(o.status.success());
        let text = String::from_utf8(o.stdout).unwrap();
        for line in text.lines() {
            assert!(line.chars().count() <= width, "wider than {width}: {line}");
        }
        for r in &results.runs {
            assert!(text.contains(&format!("{:.4}", r.record.validation_accuracy.unwrap())), "{text}");
        }
    }
    // Progress between steps: the teacher's outputs and every evaluation, batch by batch.
    let progress = |phase: Phase| {
        events
            .iter()
            .filter(|e| matches!(e, Event::Progress { phase: p, done, total, .. } if *p == phase && done == total))
            .count()
    };
    assert_eq!(progress(Phase::TeacherOutputs), 1);
    // Teacher: epoch 0 and 3 epochs; students: epoch 0 and 2 epochs each.
    assert_eq!(progress(Phase::Evaluation), 4 + 4 * 3);
    assert!(std::fs::read_to_string(out.join("config.toml")).unwrap().contains("finetune_epochs = 3"));

    // A rerun of the same config reuses the fine-tuned teacher and keeps every finished run.
    let (again, events) = run(tmp.path(), &toml, &[], true);
    assert!(
        events.iter().any(|e| matches!(e, Event::Log { text, .. } if text.contains("reusing the fine-tuned teacher")))
    );
    assert_eq!(again.teacher.record.validation_accuracy, results.teacher.record.validation_accuracy);
    assert_eq!(again.runs, results.runs, "finished runs are kept as they were");
    assert!(!events.iter().any(|e| matches!(e, Event::Step(_))), "nothing was trained again");
    // A changed setting is refused, naming it, rather than silently mixed.
    let path = tmp.path().join("experiments.toml");
    let exp = Experiment::load(&path, &["teacher.finetune_epochs=1".into()]).unwrap();
    let err = run_experiment::<B>(
        &exp,
        &EngineOptions::new(HubSettings::offline_cache(tmp.path())),
        &BackendInfo::new(BackendKind::Cpu, "t"),
        &Default::default(),
        &Events::none(),
        &Control::default(),
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("teacher.finetune_epochs: 3 -> 1"), "{err}");
    assert_eq!(distill_tui::workspace::results::read_results(&out).unwrap(), again, "and the results are untouched");
}

#[test]
fn a_diverging_run_is_marked_failed_and_the_matrix_goes_on() {
    let _one_at_a_time = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let toml = SyntheticExperiment { finetune_epochs: 0, learning_rate: 1e30, ..setup(tmp.path()) }.to_toml();
    let (results, events) = run(tmp.path(), &toml, &[], true);
    assert_eq!(results.runs.len(), 4);
    for r in &results.runs {
        let (name, r) = (&r.name, &r.record);
        assert_eq!(r.status, RunStatus::Failed, "{name}");
        let reason = r.reason.as_deref().unwrap_or("");
        assert!(
            reason.starts_with("loss became NaN at epoch 1, step ")
                || reason.starts_with("loss became inf at epoch 1, step "),
            "{reason}"
        );
        assert!(r.checkpoint.is_none(), "no student is saved from a failed run");
    }
    // Every run was attempted: the failure of one did not stop the others.
    let ended = events.iter().filter(|e| matches!(e, Event::RunEnded { status: RunStatus::Failed, .. })).count();
    assert_eq!(ended, 4);
    let md = std::fs::read_to_string(tmp.path().join("out/tiny/results.md")).unwrap();
    assert!(md.contains("failed"), "{md}");
}

#[test]
fn the_teacher_cache_changes_no_result() {
    let _one_at_a_time = ENGINE.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    // The teacher as loaded (no fine-tune): what is compared is the students' training.
    let experiment = SyntheticExperiment {
        finetune_epochs: 0,
        runs: vec![Run { name: "Odd".into(), layers: RunLayers::Strategy("odd".into()) }],
        ..setup(tmp.path())
    };
    let cls = SyntheticExperiment { cosine_target: Some("cls_hidden".into()), ..experiment.clone() };
    for t in [experiment.to_toml(), cls.to_toml()] {
        let (cached, _) = run(tmp.path(), &t, &[], true);
        std::fs::remove_dir_all(tmp.path().join("out")).unwrap();
        let (live, _) = run(tmp.path(), &t, &[], false);
        std::fs::remove_dir_all(tmp.path().join("out")).unwrap();
        let (a, b) = (&cached.runs[0].record, &live.runs[0].record);
        assert_eq!(a.validation_correct, b.validation_correct);
        for (x, y) in a.epochs.iter().zip(&b.epochs) {
            for (u, v) in [
                (x.train_loss, y.train_loss),
                (x.train_kl, y.train_kl),
                (x.train_cosine, y.train_cosine),
                (Some(x.validation_loss), Some(y.validation_loss)),
            ] {
                let (u, v) = (u.unwrap_or(0.0), v.unwrap_or(0.0));
                assert!((u - v).abs() < 1e-5, "epoch {}: cached {u} vs live {v}", x.epoch);
            }
        }
    }
}

fn read(path: &Path, key: &str) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensor(key).unwrap().data().chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
}

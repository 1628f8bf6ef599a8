//! Whole frames of the monitor, rendered with ratatui's TestBackend at 80x24 and 120x40:
//! running, paused, finished, and with a failed run. Snapshots live in tests/snapshots/.

use std::time::Duration;

use distill_tui::backend::BackendInfo;
use distill_tui::distill::loss::LossValues;
use distill_tui::engine::events::{EpochRecord, Event, Level, RunKind, RunLabel, RunStatus, StepEvent};
use distill_tui::tui::state::{AppState, ChartMode};
use distill_tui::tui::view::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

fn render(s: &AppState, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, s)).unwrap();
    let buf = t.backend().buffer();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn record(epoch: usize, train: Option<f64>, loss: f64, acc: f64) -> EpochRecord {
    EpochRecord {
        epoch,
        train_loss: train,
        train_ce: train.map(|t| t * 1.4),
        train_kl: train.map(|t| t * 0.5),
        train_cosine: train.map(|t| t * 0.3),
        validation_loss: loss,
        validation_accuracy: acc,
    }
}

/// Teacher fine-tuned, Top-K done, Bottom-K half-way through epoch 2, two runs queued.
fn running() -> AppState {
    let mut s = AppState::default();
    let student = |name: &str, layers: Vec<usize>| RunLabel { kind: RunKind::Student, name: name.into(), seed: 42, teacher_layers: layers };
    s.apply(&Event::Plan {
        experiment: "mnli-student-init".into(),
        backend: BackendInfo { name: "cpu", device: "CPU (burn-flex, 2 threads)".into() },
        teacher_layers: 12,
        runs: vec![
            RunLabel { kind: RunKind::Teacher, name: "Teacher fine-tune".into(), seed: 42, teacher_layers: vec![] },
            student("Top-K Layer", vec![1, 2, 3, 4, 5, 6]),
            student("Bottom-K Layer", vec![7, 8, 9, 10, 11, 12]),
            student("Odd Layer", vec![1, 3, 5, 7, 9, 11]),
            student("Even Layer", vec![2, 4, 6, 8, 10, 12]),
        ],
    });
    s.apply(&Event::Log { level: Level::Info, text: "training data: train.tsv (2000 of 67349 examples)".into() });
    s.apply(&Event::Log { level: Level::Warn, text: "teacher bert-base-uncased: initialized classifier with seed 42: the checkpoint has none".into() });
    for (run, epochs, seconds) in [(0usize, vec![record(0, None, 1.10, 0.33), record(1, Some(0.71), 0.62, 0.74), record(2, Some(0.45), 0.48, 0.8108)], 349.0), (1, vec![record(0, None, 0.69, 0.51), record(1, Some(0.66), 0.66, 0.7351), record(2, Some(0.3766), 0.5824, 0.7477)], 251.0)] {
        s.apply(&Event::RunStarted { run, epochs: 2, steps_per_epoch: 63, train_examples: 2000 });
        for (i, r) in epochs.into_iter().enumerate() {
            for k in 1..=if i == 0 { 0 } else { 63 } {
                let x = 0.8 - 0.4 * (k as f64 / 63.0) + 0.05 * ((k * 7 % 11) as f64 / 11.0);
                s.apply(&Event::Step(StepEvent { run, epoch: i, step: (i - 1) * 63 + k, steps_total: 126, loss: LossValues { total: x, ce: x * 1.4, kl: x * 0.5, cosine: x * 0.3 }, lr: 5e-5, examples_per_s: 15.0 }));
            }
            s.apply(&Event::Epoch { run, record: r });
        }
        s.apply(&Event::RunEnded { run, status: RunStatus::Done, reason: None, seconds });
    }
    s.apply(&Event::RunStarted { run: 2, epochs: 2, steps_per_epoch: 63, train_examples: 2000 });
    s.apply(&Event::Epoch { run: 2, record: record(0, None, 0.6778, 0.7064) });
    s.apply(&Event::Epoch { run: 2, record: record(1, Some(0.3186), 0.6048, 0.7351) });
    for k in 1..=90 {
        let x = 0.6 - 0.3 * (k as f64 / 90.0) + 0.04 * ((k * 5 % 13) as f64 / 13.0);
        s.apply(&Event::Step(StepEvent { run: 2, epoch: if k > 63 { 2 } else { 1 }, step: k, steps_total: 126, loss: LossValues { total: x, ce: x * 1.5, kl: x * 0.4, cosine: x * 0.2 }, lr: 2e-5, examples_per_s: 16.0 }));
    }
    s.runs[2].seconds = 180.0;
    s.elapsed = Duration::from_secs(349 + 251 + 180);
    s
}

#[test]
fn running_80x24() {
    insta::assert_snapshot!(render(&running(), 80, 24));
}

#[test]
fn running_120x40() {
    insta::assert_snapshot!(render(&running(), 120, 40));
}

#[test]
fn paused_80x24() {
    let mut s = running();
    s.paused = true;
    let frame = render(&s, 80, 24);
    assert!(frame.contains("PAUSED"));
    insta::assert_snapshot!(frame);
}

#[test]
fn all_runs_chart_120x40() {
    let mut s = running();
    s.chart = ChartMode::AllRuns;
    insta::assert_snapshot!(render(&s, 120, 40));
}

#[test]
fn with_a_failed_run_120x40() {
    let mut s = running();
    s.apply(&Event::RunEnded { run: 2, status: RunStatus::Failed, reason: Some("loss became NaN at epoch 2, step 91 of 126".into()), seconds: 180.0 });
    let frame = render(&s, 120, 40);
    assert!(frame.contains("failed") && frame.contains("NaN"));
    insta::assert_snapshot!(frame);
}

#[test]
fn finished_80x24_and_120x40() {
    let mut s = running();
    s.apply(&Event::Epoch { run: 2, record: record(2, Some(0.2894), 0.5116, 0.7351) });
    s.apply(&Event::RunEnded { run: 2, status: RunStatus::Done, reason: None, seconds: 185.0 });
    for (run, acc) in [(3usize, 0.7603), (4, 0.7821)] {
        s.apply(&Event::RunStarted { run, epochs: 2, steps_per_epoch: 63, train_examples: 2000 });
        s.apply(&Event::Epoch { run, record: record(0, None, 0.69, 0.51) });
        s.apply(&Event::Epoch { run, record: record(2, Some(0.25), 0.47, acc) });
        s.apply(&Event::RunEnded { run, status: if run == 3 { RunStatus::Skipped } else { RunStatus::Done }, reason: None, seconds: 200.0 });
    }
    s.apply(&Event::Finished { results_dir: "checkpoints/mnli-student-init".into() });
    let small = render(&s, 80, 24);
    assert!(small.contains("FINISHED") && small.contains("results.md"));
    insta::assert_snapshot!("finished_80x24", small);
    insta::assert_snapshot!("finished_120x40", render(&s, 120, 40));
}

#[test]
fn help_and_quit_confirmation_overlays() {
    let mut s = running();
    s.help = true;
    assert!(render(&s, 80, 24).contains("pause or resume"));
    s.help = false;
    s.confirm_quit = true;
    assert!(render(&s, 80, 24).contains("Stop after the current step"));
}

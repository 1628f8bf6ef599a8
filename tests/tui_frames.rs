//! Whole frames of the monitor, rendered with ratatui's TestBackend at 80x24, 120x40 and
//! 200x60 (and 60x15): running, paused, finished, each chart, the overlays, a failed and a
//! stopped run, and without colour. Snapshots live in tests/snapshots/.

use std::time::Duration;

use distill_tui::events::LossValues;
use distill_tui::events::{BackendInfo, BackendKind};
use distill_tui::events::{EpochRecord, Event, Level, Phase, RunKind, RunLabel, RunStatus, StepEvent};
use distill_tui::tui::state::{AppState, ChartMode, Mode};
use distill_tui::tui::view::draw;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Modifier};

fn buffer(s: &AppState, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, s)).unwrap();
    t.backend().buffer().clone()
}

fn text(buf: &Buffer) -> String {
    let area = buf.area;
    (0..area.height)
        .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn render(s: &AppState, w: u16, h: u16) -> String {
    text(&buffer(s, w, h))
}

/// Where the attributes are: R reversed, B bold, D dim, . none (several: the first).
fn attributes(buf: &Buffer) -> String {
    let area = buf.area;
    (0..area.height)
        .map(|y| {
            (0..area.width)
                .map(|x| {
                    let m = buf[(x, y)].modifier;
                    if m.contains(Modifier::REVERSED) {
                        'R'
                    } else if m.contains(Modifier::BOLD) {
                        'B'
                    } else if m.contains(Modifier::DIM) {
                        'D'
                    } else {
                        '.'
                    }
                })
                .collect::<String>()
                .trim_end_matches('.')
                .to_string()
        })
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
    let student = |name: &str, layers: Vec<usize>| RunLabel {
        kind: RunKind::Student,
        name: name.into(),
        seed: 42,
        teacher_layers: layers,
    };
    s.apply(&Event::Plan {
        experiment: "mnli-student-init".into(),
        backend: BackendInfo::new(BackendKind::Cpu, "CPU (burn-flex, 2 threads)"),
        teacher_layers: 12,
        runs: vec![
            RunLabel { kind: RunKind::Teacher, name: "Teacher fine-tune".into(), seed: 42, teacher_layers: vec![] },
            student("Top-K Layer", vec![1, 2, 3, 4, 5, 6]),
            student("Bottom-K Layer", vec![7, 8, 9, 10, 11, 12]),
            student("Odd Layer", vec![1, 3, 5, 7, 9, 11]),
            student("Even Layer", vec![2, 4, 6, 8, 10, 12]),
        ],
        student_epochs: 2,
        steps_per_epoch: 63,
        synthetic: false,
    });
    s.apply(&Event::Log { level: Level::Info, text: "training data: train.tsv (2000 of 67349 examples)".into() });
    s.apply(&Event::Log {
        level: Level::Warn,
        text: "teacher bert-base-uncased: initialized classifier with seed 42: the checkpoint has none".into(),
    });
    for (run, epochs, seconds) in [
        (
            0usize,
            vec![record(0, None, 1.10, 0.33), record(1, Some(0.71), 0.62, 0.74), record(2, Some(0.45), 0.48, 0.8108)],
            349.0,
        ),
        (
            1,
            vec![
                record(0, None, 0.69, 0.51),
                record(1, Some(0.66), 0.66, 0.7351),
                record(2, Some(0.3766), 0.5824, 0.7477),
            ],
            251.0,
        ),
    ] {
        s.apply(&Event::RunStarted { run, epochs: 2, steps_per_epoch: 63, train_examples: 2000 });
        for (i, r) in epochs.into_iter().enumerate() {
            for k in 1..=if i == 0 { 0 } else { 63 } {
                let x = 0.8 - 0.4 * (k as f64 / 63.0) + 0.05 * ((k * 7 % 11) as f64 / 11.0);
                s.apply(&Event::Step(StepEvent {
                    run,
                    epoch: i,
                    step: (i - 1) * 63 + k,
                    steps_total: 126,
                    loss: LossValues { total: x, ce: x * 1.4, kl: x * 0.5, cosine: x * 0.3 },
                    lr: 5e-5,
                    examples_per_s: 15.0,
                }));
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
        s.apply(&Event::Step(StepEvent {
            run: 2,
            epoch: if k > 63 { 2 } else { 1 },
            step: k,
            steps_total: 126,
            loss: LossValues { total: x, ce: x * 1.5, kl: x * 0.4, cosine: x * 0.2 },
            lr: 2e-5,
            examples_per_s: 16.0,
        }));
    }
    s.runs[2].seconds = 180.0;
    s.elapsed = Duration::from_secs(349 + 251 + 180);
    s
}

const SIZES: [(u16, u16); 3] = [(80, 24), (120, 40), (200, 60)];

/// Every run over: Bottom-K done, Odd skipped (with better numbers than the best), Even done.
fn finished() -> AppState {
    let mut s = running();
    s.apply(&Event::Epoch { run: 2, record: record(2, Some(0.2894), 0.5116, 0.7351) });
    s.apply(&Event::RunEnded { run: 2, status: RunStatus::Done, reason: None, seconds: 185.0 });
    for (run, acc) in [(3usize, 0.7603), (4, 0.7821)] {
        s.apply(&Event::RunStarted { run, epochs: 2, steps_per_epoch: 63, train_examples: 2000 });
        s.apply(&Event::Epoch { run, record: record(0, None, 0.69, 0.51) });
        let steps = if run == 3 { 70 } else { 126 };
        for k in 1..=steps {
            let x = 0.7 - 0.4 * (k as f64 / 126.0) + 0.05 * ((k * 3 % 7) as f64 / 7.0);
            s.apply(&Event::Step(StepEvent {
                run,
                epoch: 1 + (k - 1) / 63,
                step: k,
                steps_total: 126,
                loss: LossValues { total: x, ce: x * 1.3, kl: x * 0.45, cosine: x * 0.25 },
                lr: 2e-5,
                examples_per_s: 16.0,
            }));
        }
        s.apply(&Event::Epoch { run, record: record(1, Some(0.3), 0.5, acc - 0.01) });
        if run == 4 {
            s.apply(&Event::Epoch { run, record: record(2, Some(0.25), 0.47, acc) });
        }
        s.apply(&Event::RunEnded {
            run,
            status: if run == 3 { RunStatus::Skipped } else { RunStatus::Done },
            reason: None,
            seconds: 200.0,
        });
    }
    s.apply(&Event::Finished { results_dir: "checkpoints/mnli-student-init".into() });
    s
}

#[test]
fn every_state_at_every_size() {
    let mut paused = running();
    paused.paused = true;
    let mut loss_all = running();
    loss_all.view.chart = ChartMode::LossAll;
    let mut accuracy = finished();
    accuracy.view.chart = ChartMode::Accuracy;
    for (name, s, must) in [
        ("running", running(), "RUNNING"),
        ("paused", paused, "PAUSED"),
        ("finished", finished(), "FINISHED"),
        ("loss_all", loss_all, "Loss of every student"),
        ("accuracy", accuracy, "Validation accuracy"),
    ] {
        for (w, h) in SIZES {
            let frame = render(&s, w, h);
            assert!(frame.contains(must), "{name} {w}x{h}: {frame}");
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), frame);
        }
    }
}

#[test]
fn finished_frames_are_honest() {
    let s = finished();
    let frame = render(&s, 120, 40);
    assert!(frame.contains("results.md") && frame.contains("q to exit"), "{frame}");
    // A skipped run is never best, whatever its numbers, and says it was skipped.
    assert!(frame.contains("0.7821 ▲") && !frame.contains("0.7603 ▲"), "{frame}");
    assert!(frame.contains("Odd Layer (skipped)") && frame.contains("skipped ep 1"), "{frame}");
}

#[test]
fn the_accuracy_legend_survives_80_columns() {
    let mut s = running();
    s.view.chart = ChartMode::Accuracy;
    let small = render(&s, 80, 24);
    // The legend, and the teacher as a line.
    assert!(small.contains("Teacher 0.811") && small.contains("Top-K Layer"), "{small}");
}

#[test]
fn the_recent_window() {
    let mut s = running();
    s.view.recent = true;
    let frame = render(&s, 80, 24);
    assert!(frame.contains("400 steps") && frame.contains("Loss · Bottom-K Layer {7-12}"), "{frame}");
    insta::assert_snapshot!("loss_recent_80x24", frame);
}

#[test]
fn the_chart_names_the_selected_run() {
    let mut s = running();
    s.view.selected = 1;
    let frame = render(&s, 120, 40);
    assert!(frame.contains("Loss · Top-K Layer {1-6}"), "{frame}");
    // The progress line still names the run that trains.
    assert!(frame.contains("Bottom-K Layer  step 90/126"), "{frame}");
}

#[test]
fn with_a_failed_run_120x40() {
    let mut s = running();
    s.apply(&Event::RunEnded {
        run: 2,
        status: RunStatus::Failed,
        reason: Some("loss became NaN at epoch 2, step 91 of 126".into()),
        seconds: 180.0,
    });
    let frame = render(&s, 120, 40);
    assert!(frame.contains("failed") && frame.contains("NaN"));
    insta::assert_snapshot!(frame);
}

#[test]
fn help_and_confirmation_overlays() {
    let mut s = running();
    s.view.mode = Mode::Help;
    assert!(render(&s, 120, 40).contains("pause or resume"));
    s.view.mode = Mode::ConfirmQuit;
    let frame = render(&s, 80, 24);
    assert!(frame.contains("Stop after the current step") && frame.contains("resumes"), "{frame}");
    s.view.mode = Mode::ConfirmSkip(2);
    let frame = render(&s, 80, 24);
    assert!(frame.contains("Skip Bottom-K Layer (seed 42)?"), "{frame}");
    insta::assert_snapshot!("confirm_skip_80x24", frame);
}

#[test]
fn skipping_the_teacher_says_what_it_means() {
    let mut s = running();
    s.runs[0].status = RunStatus::Running;
    s.current = Some(0);
    s.view.mode = Mode::ConfirmSkip(0);
    let frame = render(&s, 80, 24);
    assert!(frame.contains("after 2 of 2 epochs") && frame.contains("not saved"), "{frame}");
}

#[test]
fn progress_while_the_teacher_outputs_are_computed() {
    let mut s = running();
    s.apply(&Event::Progress { run: None, phase: Phase::TeacherOutputs, done: 0, total: 1052 });
    s.tick(Duration::from_secs(20));
    s.apply(&Event::Progress { run: None, phase: Phase::TeacherOutputs, done: 340, total: 1052 });
    let frame = render(&s, 80, 24);
    assert!(frame.contains("computing the teacher's outputs · batch 340/1052 · ETA 42s"), "{frame}");
    s.apply(&Event::Progress { run: Some(2), phase: Phase::Evaluation, done: 0, total: 28 });
    s.tick(Duration::from_secs(3));
    s.apply(&Event::Progress { run: Some(2), phase: Phase::Evaluation, done: 3, total: 28 });
    let frame = render(&s, 120, 40);
    assert!(
        frame.contains("Bottom-K Layer: evaluating · batch 3/28 · ETA 25s") && frame.contains("eval 3/28"),
        "{frame}"
    );
}

#[test]
fn kernel_compilation_on_a_gpu_is_said_while_it_lasts() {
    let mut s = running();
    s.apply(&Event::Compiling { run: Some(2), training: true, batch: 32, tokens: 64, shapes: 3 });
    s.tick(Duration::from_secs(41));
    let frame = render(&s, 120, 40);
    assert!(
        frame.contains("Bottom-K Layer: compiling GPU kernels for training on 32x64 tokens (shape 3) · 41s"),
        "{frame}"
    );
    let small = render(&s, 80, 24);
    assert!(small.contains("compiling GPU kernels for training"), "{small}");
    // The step it was for ends it.
    s.apply(&Event::Step(StepEvent {
        run: 2,
        epoch: 1,
        step: 10,
        steps_total: 40,
        loss: LossValues { total: 0.5, ce: 0.4, kl: 0.1, cosine: 0.1 },
        lr: 1e-4,
        examples_per_s: 1.0,
    }));
    assert!(!render(&s, 120, 40).contains("compiling"));
}

#[test]
fn quit_mid_run_shows_stopped_rows() {
    let mut s = running();
    s.quitting = true;
    s.apply(&Event::RunEnded {
        run: 2,
        status: RunStatus::Stopped,
        reason: Some("stopped at step 90 of 126".into()),
        seconds: 180.0,
    });
    let frame = render(&s, 120, 40);
    assert!(frame.contains("Bottom-K Layer (stopped)") && frame.contains("STOPPING"), "{frame}");
    insta::assert_snapshot!("stopped_120x40", frame);
}

#[test]
fn no_color_frames_carry_meaning_in_attributes() {
    let mut s = running();
    s.view.no_color = true;
    s.apply(&Event::Epoch { run: 2, record: record(2, Some(0.2894), 0.5116, 0.7351) });
    s.apply(&Event::RunEnded { run: 2, status: RunStatus::Done, reason: None, seconds: 185.0 });
    let buf = buffer(&s, 80, 24);
    for cell in buf.content.iter() {
        assert_eq!((cell.fg, cell.bg), (Color::Reset, Color::Reset), "a colour was drawn under NO_COLOR");
    }
    let frame = text(&buf);
    // The best value carries a mark, not only a colour.
    assert!(frame.contains("0.7477 ▲"), "{frame}");
    insta::assert_snapshot!("no_color_80x24", format!("{frame}\n---\n{}", attributes(&buf)));
}

#[test]
fn tiny_terminal_does_not_state_wrong_facts() {
    let s = running();
    let frame = render(&s, 60, 15);
    // A cut line ends in an ellipsis instead of reading as another fact.
    for line in frame.lines() {
        assert!(!line.contains("teacher layer 1 ") || line.contains('…'), "{line}");
    }
    insta::assert_snapshot!("tiny_60x15", frame);
}

//! Frames of the `try` screen, rendered with ratatui's TestBackend at 80x24 and 120x40:
//! models loading, one that failed, answers with their bars and agreement, a truncated input,
//! and a pair task's two input lines. Snapshots live in tests/snapshots/.

use distill_tui::playground::state::{ModelRow, RowStatus, TryState};
use distill_tui::playground::view::draw;
use distill_tui::playground::worker::{Answer, Reply};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

fn render(s: &TryState, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, s)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn row(name: &str) -> ModelRow {
    ModelRow {
        name: name.into(),
        source: format!("checkpoints/sst2/{name}"),
        status: RowStatus::Queued,
        labels: vec![],
        answer: None,
        error: None,
    }
}

fn state(pair: bool) -> TryState {
    let names = if pair { ["premise".into(), "hypothesis".into()] } else { ["sentence".into(), String::new()] };
    let rows = ["Teacher (12 layers)", "Top-K Layer {1-6}", "Bottom-K Layer {7-12}", "Odd Layer {1,3,5,7,9,11}"];
    TryState::new("sst2-bert · sst2".into(), pair, names, rows.iter().map(|r| row(r)).collect())
}

fn typed(s: &mut TryState, text: &str) {
    for c in text.chars() {
        s.key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}

fn answered(s: &mut TryState) {
    let labels = vec!["negative".to_string(), "positive".to_string()];
    for i in 0..3 {
        s.apply(Reply::Loaded { model: i, labels: labels.clone(), max_length: 128 });
    }
    s.apply(Reply::Failed { model: 3, error: "checkpoints/sst2/odd-layer: no model.safetensors here".into() });
    typed(s, "a gorgeous, witty and deeply moving film");
    s.key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE));
    let answers = [(1, [0.06, 0.94], 21.4, false), (0, [0.52, 0.48], 9.8, false), (1, [0.11, 0.89], 10.2, true)];
    for (i, (label_id, probs, millis, truncated)) in answers.into_iter().enumerate() {
        let answer = Answer { label_id, probs: probs.to_vec(), millis, truncated };
        s.apply(Reply::Answer { id: s.asked_id, model: i, answer: Ok(answer) });
    }
}

#[test]
fn frames_of_the_try_screen() {
    let mut loading = state(false);
    loading.apply(Reply::Loaded { model: 0, labels: vec!["negative".into(), "positive".into()], max_length: 128 });
    loading.apply(Reply::Loading { model: 1 });
    let mut done = state(false);
    answered(&mut done);
    let mut pair = state(true);
    typed(&mut pair, "A man is playing a guitar.");
    pair.key(KeyEvent::new(KeyCode::Tab, KeyModifiers::NONE));
    typed(&mut pair, "Someone makes music.");
    for (name, s) in [("try_loading", &loading), ("try_answered", &done), ("try_pair", &pair)] {
        for (w, h) in [(80, 24), (120, 40)] {
            insta::assert_snapshot!(format!("{name}_{w}x{h}"), render(s, w, h));
        }
    }
    let frame = render(&done, 80, 24);
    assert!(
        !frame.contains("loading")
            && frame.contains("≠ teacher")
            && frame.contains("✂ input cut to 128 tokens (the model's limit)")
    );
    assert!(frame.contains("odd-layer: no model.safetensors"), "the broken model's row says why:\n{frame}");
}

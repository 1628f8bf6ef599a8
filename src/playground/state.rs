//! What the `try` screen shows, and its keys: the input line (two for pair tasks), the earlier
//! inputs, and one row per model with its latest answer.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::worker::{Answer, Reply, Request};

/// One model on the screen.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelRow {
    /// "Teacher", or the run's name and layers.
    pub name: String,
    /// The folder or Hub id it is loaded from.
    pub source: String,
    pub status: RowStatus,
    pub labels: Vec<String>,
    pub answer: Option<Answer>,
    /// Why its latest answer failed.
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RowStatus {
    Queued,
    Loading,
    Ready { max_length: usize },
    Failed(String),
}

/// The longest input line, in characters.
pub const MAX_INPUT: usize = 4000;

#[derive(Debug, Clone, PartialEq)]
pub struct TryState {
    /// The experiment (or "models"), for the title.
    pub title: String,
    /// The task takes a text pair (premise and hypothesis...): two input lines.
    pub pair: bool,
    /// The names of the two inputs, for their boxes.
    pub input_names: [String; 2],
    pub inputs: [String; 2],
    /// Which input line is being typed in.
    pub field: usize,
    /// Earlier inputs, oldest first; `recalled` is the one shown by up / down.
    pub history: Vec<[String; 2]>,
    pub recalled: Option<usize>,
    pub rows: Vec<ModelRow>,
    /// The input the shown answers are for, and its request id.
    pub asked: Option<[String; 2]>,
    pub asked_id: u64,
    pub quit: bool,
}

impl TryState {
    pub fn new(title: String, pair: bool, input_names: [String; 2], rows: Vec<ModelRow>) -> Self {
        Self {
            title,
            pair,
            input_names,
            inputs: Default::default(),
            field: 0,
            history: Vec::new(),
            recalled: None,
            rows,
            asked: None,
            asked_id: 0,
            quit: false,
        }
    }

    /// The teacher's (the first row's) label id for the latest input, to compare with.
    pub fn reference(&self) -> Option<usize> {
        self.rows.first().and_then(|r| r.answer.as_ref()).map(|a| a.label_id)
    }

    /// Rows loaded, and all of them.
    pub fn loaded(&self) -> (usize, usize) {
        let done =
            self.rows.iter().filter(|r| matches!(r.status, RowStatus::Ready { .. } | RowStatus::Failed(_))).count();
        (done, self.rows.len())
    }

    pub fn apply(&mut self, reply: Reply) {
        match reply {
            Reply::Loading { model } => self.row(model, |r| r.status = RowStatus::Loading),
            Reply::Loaded { model, labels, max_length } => self.row(model, |r| {
                r.status = RowStatus::Ready { max_length };
                r.labels = labels;
            }),
            Reply::Failed { model, error } => self.row(model, |r| r.status = RowStatus::Failed(error)),
            Reply::Answer { id, model, answer } if id == self.asked_id => self.row(model, |r| match answer {
                Ok(a) => {
                    r.answer = Some(a);
                    r.error = None;
                }
                Err(e) => {
                    r.answer = None;
                    r.error = Some(e);
                }
            }),
            Reply::Answer { .. } => {}
        }
    }

    fn row(&mut self, i: usize, f: impl FnOnce(&mut ModelRow)) {
        if let Some(r) = self.rows.get_mut(i) {
            f(r);
        }
    }

    /// Handles a key; returns the request to send, if it makes one.
    pub fn key(&mut self, key: KeyEvent) -> Option<Request> {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            KeyCode::Char('c') if ctrl => self.quit = true,
            KeyCode::Esc => self.quit = true,
            KeyCode::Char('u') if ctrl => self.inputs[self.field].clear(),
            // A paragraph pasted into the line stops at MAX_INPUT characters: far more than a
            // model reads (512 tokens), and the line stays quick to edit and draw.
            KeyCode::Char(c) if !ctrl => {
                if self.inputs[self.field].chars().count() < MAX_INPUT {
                    self.inputs[self.field].push(c);
                }
                self.recalled = None;
            }
            KeyCode::Backspace => {
                self.inputs[self.field].pop();
            }
            KeyCode::Tab | KeyCode::BackTab if self.pair => self.field = 1 - self.field,
            KeyCode::Up => self.recall(true),
            KeyCode::Down => self.recall(false),
            KeyCode::Enter => return self.ask(),
            _ => {}
        }
        None
    }

    fn recall(&mut self, older: bool) {
        if self.history.is_empty() {
            return;
        }
        let last = self.history.len() - 1;
        self.recalled = match (self.recalled, older) {
            (None, true) => Some(last),
            (None, false) => None,
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i < last => Some(i + 1),
            (Some(_), false) => None,
        };
        self.inputs = match self.recalled {
            Some(i) => self.history[i].clone(),
            None => Default::default(),
        };
    }

    /// Enter: classify the input with every model (a pair needs both lines).
    fn ask(&mut self) -> Option<Request> {
        let [text, pair] = &self.inputs;
        if text.trim().is_empty() || (self.pair && pair.trim().is_empty()) {
            if self.pair && !text.trim().is_empty() {
                self.field = 1;
            }
            return None;
        }
        let input = self.inputs.clone();
        if self.history.last() != Some(&input) {
            self.history.push(input.clone());
        }
        self.recalled = None;
        self.asked_id += 1;
        for r in &mut self.rows {
            r.answer = None;
            r.error = None;
        }
        self.asked = Some(input.clone());
        // The line is free for the next input; the models' box names the one answered.
        self.inputs = Default::default();
        self.field = 0;
        let [text, pair] = input;
        Some(Request::Classify { id: self.asked_id, text, pair: self.pair.then_some(pair) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(s: &mut TryState, text: &str) {
        for c in text.chars() {
            s.key(key(KeyCode::Char(c)));
        }
    }

    fn rows() -> Vec<ModelRow> {
        let row = |name: &str| ModelRow {
            name: name.into(),
            source: format!("out/{name}"),
            status: RowStatus::Queued,
            labels: vec![],
            answer: None,
            error: None,
        };
        vec![row("Teacher"), row("Odd Layer")]
    }

    #[test]
    fn a_pasted_paragraph_stops_at_the_cap() {
        let mut s = TryState::new("x".into(), false, ["sentence".into(), String::new()], rows());
        let paragraph = "a long and winding review. ".repeat(1000);
        typed(&mut s, &paragraph);
        assert_eq!(s.inputs[0].chars().count(), MAX_INPUT);
        assert!(paragraph.starts_with(&s.inputs[0]));
        s.key(key(KeyCode::Backspace));
        typed(&mut s, "!");
        assert!(s.inputs[0].ends_with('!'), "still editable at the cap");
    }

    #[test]
    fn typing_enter_history_and_leaving() {
        let mut s = TryState::new("x".into(), false, ["sentence".into(), String::new()], rows());
        assert_eq!(s.key(key(KeyCode::Enter)), None, "nothing to classify");
        typed(&mut s, "a quiet film");
        s.key(key(KeyCode::Backspace));
        typed(&mut s, "m");
        let r = s.key(key(KeyCode::Enter)).unwrap();
        assert_eq!(r, Request::Classify { id: 1, text: "a quiet film".into(), pair: None });
        assert_eq!(s.inputs[0], "", "the line is cleared for the next input");
        typed(&mut s, "q");
        assert!(!s.quit, "q is a letter, even first on the line (a sentence may start with it)");
        assert_eq!(s.inputs[0], "q");
        s.key(key(KeyCode::Backspace));
        s.key(key(KeyCode::Up));
        assert_eq!(s.inputs[0], "a quiet film", "up recalls the last input");
        s.key(key(KeyCode::Down));
        assert_eq!(s.inputs[0], "");
        s.key(key(KeyCode::Esc));
        assert!(s.quit, "esc leaves");
    }

    #[test]
    fn a_pair_needs_both_lines_and_tab_switches() {
        let mut s = TryState::new("x".into(), true, ["premise".into(), "hypothesis".into()], rows());
        typed(&mut s, "it rains");
        assert_eq!(s.key(key(KeyCode::Enter)), None);
        assert_eq!(s.field, 1, "enter on the first line goes to the second");
        typed(&mut s, "it is wet");
        let r = s.key(key(KeyCode::Enter)).unwrap();
        assert_eq!(r, Request::Classify { id: 1, text: "it rains".into(), pair: Some("it is wet".into()) });
        assert_eq!(s.field, 0, "after enter, typing starts on the first line again");
        s.key(key(KeyCode::Tab));
        assert_eq!(s.field, 1);
    }

    #[test]
    fn answers_of_an_older_input_are_dropped() {
        let mut s = TryState::new("x".into(), false, ["sentence".into(), String::new()], rows());
        s.apply(Reply::Loaded { model: 0, labels: vec!["neg".into(), "pos".into()], max_length: 128 });
        s.apply(Reply::Failed { model: 1, error: "no weights".into() });
        assert_eq!(s.loaded(), (2, 2));
        typed(&mut s, "good");
        s.key(key(KeyCode::Enter));
        let a = Answer { label_id: 1, probs: vec![0.2, 0.8], millis: 3.0, truncated: false };
        s.apply(Reply::Answer { id: 0, model: 0, answer: Ok(a.clone()) });
        assert_eq!(s.rows[0].answer, None, "an answer to an earlier input");
        s.apply(Reply::Answer { id: 1, model: 0, answer: Ok(a.clone()) });
        assert_eq!(s.rows[0].answer, Some(a));
        assert_eq!(s.reference(), Some(1));
    }
}

//! The monitor's keys, in one table: what they do, when they apply, and their words in the
//! footer and the help. The key handler, the footer, the help overlay and the README's key table
//! (checked by a test) all read this.

use ratatui::crossterm::event::KeyCode;

/// What a key asks the monitor to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Pause,
    Skip,
    Quit,
    Up,
    Down,
    NextChart,
    Window,
    LogOlder,
    LogNewer,
    LogLatest,
    Help,
    Try,
}

/// When a key does something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Always,
    /// While runs are left.
    Training,
    /// Once every run is over.
    Finished,
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub codes: &'static [KeyCode],
    /// The keys as written in the footer, the help and the README.
    pub label: &'static str,
    /// A word or two for the footer; empty keeps the key out of the footer (it is in the help).
    pub footer: &'static str,
    pub help: &'static str,
    pub action: Action,
    pub when: When,
}

pub const BINDINGS: &[Binding] = &[
    Binding {
        codes: &[KeyCode::Char('p'), KeyCode::Char(' ')],
        label: "p / space",
        footer: "pause",
        help: "pause or resume between steps (the clock and the ETA stop)",
        action: Action::Pause,
        when: When::Training,
    },
    Binding {
        codes: &[KeyCode::Char('s')],
        label: "s",
        footer: "skip",
        help: "skip the current run, after you confirm (its numbers so far are kept, marked skipped)",
        action: Action::Skip,
        when: When::Training,
    },
    Binding {
        codes: &[KeyCode::Char('q'), KeyCode::Esc],
        label: "q / esc",
        footer: "quit",
        help: "quit; while training, after you confirm: stops after the current step, writes the results, and the same command resumes",
        action: Action::Quit,
        when: When::Always,
    },
    Binding {
        codes: &[KeyCode::Up, KeyCode::Char('k')],
        label: "↑ / k",
        footer: "",
        help: "select the run above (charts and details follow the selection)",
        action: Action::Up,
        when: When::Always,
    },
    Binding {
        codes: &[KeyCode::Down, KeyCode::Char('j')],
        label: "↓ / j",
        footer: "",
        help: "select the run below",
        action: Action::Down,
        when: When::Always,
    },
    Binding {
        codes: &[KeyCode::Tab, KeyCode::Char('c')],
        label: "tab / c",
        footer: "chart",
        help: "next chart: loss of the selected run, loss of all students, validation accuracy",
        action: Action::NextChart,
        when: When::Always,
    },
    Binding {
        codes: &[KeyCode::Char('r')],
        label: "r",
        footer: "recent/full",
        help: "loss charts: the latest steps at full resolution, or the whole run",
        action: Action::Window,
        when: When::Always,
    },
    Binding {
        codes: &[KeyCode::PageUp, KeyCode::Char('[')],
        label: "pgup / [",
        footer: "",
        help: "scroll the log to older lines",
        action: Action::LogOlder,
        when: When::Always,
    },
    Binding {
        codes: &[KeyCode::PageDown, KeyCode::Char(']')],
        label: "pgdn / ]",
        footer: "",
        help: "scroll the log to newer lines",
        action: Action::LogNewer,
        when: When::Always,
    },
    Binding {
        codes: &[KeyCode::End],
        label: "end",
        footer: "",
        help: "back to the latest log lines (the log follows new lines again)",
        action: Action::LogLatest,
        when: When::Always,
    },
    Binding {
        codes: &[KeyCode::Char('t')],
        label: "t",
        footer: "try",
        help: "once every run is over: try the teacher and the students on your own sentences (the `try` screen)",
        action: Action::Try,
        when: When::Finished,
    },
    Binding {
        codes: &[KeyCode::Char('?')],
        label: "?",
        footer: "help",
        help: "this help (any key closes it)",
        action: Action::Help,
        when: When::Always,
    },
];

/// The binding of a key, if any applies (`training`: runs are left).
pub fn lookup(code: KeyCode, training: bool) -> Option<&'static Binding> {
    BINDINGS.iter().find(|b| b.codes.contains(&code) && applies(b, training))
}

/// Whether a binding applies now (`training`: runs are left).
pub fn applies(b: &Binding, training: bool) -> bool {
    match b.when {
        When::Always => true,
        When::Training => training,
        When::Finished => !training,
    }
}

/// The first key of a binding, as the footer shows it (`p`, `q`, `tab`).
pub fn short_label(b: &Binding) -> &'static str {
    b.label.split(" / ").next().unwrap_or(b.label)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_one_meaning() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            for c in b.codes {
                assert!(!seen.contains(c), "{c:?} is bound twice");
                seen.push(*c);
            }
        }
        assert_eq!(lookup(KeyCode::Char('s'), true).map(|b| b.action), Some(Action::Skip));
        assert_eq!(
            lookup(KeyCode::Char('s'), false).map(|b| b.action),
            None,
            "nothing to skip once the matrix is over"
        );
        assert_eq!(lookup(KeyCode::Esc, false).map(|b| b.action), Some(Action::Quit));
    }

    #[test]
    fn the_readme_lists_every_key() {
        let readme = include_str!("../../README.md");
        for b in BINDINGS {
            assert!(readme.contains(&format!("`{}`", b.label)), "README.md's key table lacks `{}`", b.label);
        }
    }
}

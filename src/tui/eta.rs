//! The matrix's remaining time, shown in the header: estimated from the steps measured so far,
//! beside the progress it estimates (as burn-train keeps its estimator with its widget).

use super::state::{AppState, RunView};
use crate::events::{Phase, RunStatus};

/// The matrix's remaining time; `approximate` while no student has run yet.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eta {
    pub seconds: f64,
    pub approximate: bool,
}

impl AppState {
    /// Time left for the whole matrix, from the first measured step: the current run's
    /// remainder plus, for each student not started, what a finished student took (or the
    /// current student's projected total; during the teacher's fine-tune, its pace scaled by the
    /// students' share of its layers, and the teacher-outputs pass as a third of an epoch).
    pub fn eta(&self) -> Option<Eta> {
        if self.finished {
            return Some(Eta { seconds: 0.0, approximate: false });
        }
        let pending = self.runs.iter().filter(|r| r.status == RunStatus::Pending && r.is_student()).count();
        let student_steps = (self.student_epochs * self.steps_per_epoch) as f64;
        let done_students: Vec<f64> = self
            .runs
            .iter()
            .filter(|r| r.is_student() && r.status == RunStatus::Done && r.seconds > 0.0)
            .map(|r| r.seconds)
            .collect();
        let teacher = self.runs.iter().find(|r| !r.is_student());
        let student_layers = self.runs.iter().find(|r| r.is_student()).map_or(0, |r| r.label.teacher_layers.len());
        let layer_share =
            if self.teacher_layers > 0 { student_layers as f64 / self.teacher_layers as f64 } else { 1.0 };
        let teacher_pace = teacher.and_then(RunView::pace);
        let cur = self.current.and_then(|c| self.runs.get(c));
        let (per_student, approximate) = if !done_students.is_empty() {
            (done_students.iter().sum::<f64>() / done_students.len() as f64, false)
        } else if let Some(c) = cur.filter(|c| c.is_student() && c.pace().is_some()) {
            (c.pace()? * c.steps_total as f64, true)
        } else {
            (teacher_pace? * student_steps * layer_share, true)
        };
        // Several cells at once (--parallel, --devices, Slurm under `watch`): the work left is
        // shared by as many lanes as run now, and no sooner done than the longest running cell.
        let running: Vec<&RunView> =
            self.runs.iter().filter(|r| r.is_student() && r.status == RunStatus::Running).collect();
        if running.len() > 1 {
            let remainders: Vec<f64> = running.iter().map(|r| r.eta().unwrap_or(per_student)).collect();
            let longest = remainders.iter().cloned().fold(0.0, f64::max);
            let shared = (remainders.iter().sum::<f64>() + pending as f64 * per_student) / running.len() as f64;
            return Some(Eta { seconds: longest.max(shared), approximate });
        }
        let mut left = pending as f64 * per_student;
        match (self.phase, cur) {
            (Some(p), _) if p.phase == Phase::TeacherOutputs => left += p.eta()?,
            (_, Some(c)) if c.status == RunStatus::Running => {
                left += c.eta().unwrap_or(if c.is_student() { per_student } else { 0.0 });
                if !c.is_student() {
                    left += teacher_pace.unwrap_or(0.0) * self.steps_per_epoch as f64 / 3.0;
                }
            }
            _ => {}
        }
        Some(Eta { seconds: left, approximate })
    }
}

//! Runs as every layer names them: their index, kind, label and status.

use serde::{Deserialize, Serialize};

/// Index of a run in [`Event::Plan`]'s list; the teacher fine-tune, when there is one, is run 0.
pub type RunId = usize;

/// The run of cell `cell` (its index in plan order, its row of results.json's `runs`): the
/// cells follow the teacher's fine-tune when there is one. The one place the two numberings meet.
pub fn cell_run_id(cell: usize, teacher_finetuned: bool) -> RunId {
    cell + usize::from(teacher_finetuned)
}

/// The cell of run `run`, `None` for the teacher's fine-tune.
pub fn run_cell(run: RunId, teacher_finetuned: bool) -> Option<usize> {
    run.checked_sub(usize::from(teacher_finetuned))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    /// Not started yet.
    Pending,
    Running,
    /// Interrupted by the user or a signal; rerunning the same command resumes it.
    Stopped,
    Done,
    Skipped,
    /// Ended by its own input (a diverging loss): final.
    Failed,
    /// Its process died without ending it (a crash, the OOM killer, a lost node): rerunning
    /// resumes it from its last checkpoint, as Slurm requeues a task.
    Crashed,
}

impl RunStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            RunStatus::Pending => "pending",
            RunStatus::Running => "running",
            RunStatus::Stopped => "stopped",
            RunStatus::Done => "done",
            RunStatus::Skipped => "skipped",
            RunStatus::Failed => "failed",
            RunStatus::Crashed => "crashed",
        }
    }

    /// Done, skipped or failed: nothing more will be done for it. Stopped and crashed runs resume
    /// when rerun; pending and running ones are not over.
    pub fn ended(self) -> bool {
        matches!(self, RunStatus::Done | RunStatus::Skipped | RunStatus::Failed)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// Fine-tuning the teacher on the task.
    Teacher,
    /// Distilling one student.
    Student,
}

/// One line of the plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunLabel {
    pub kind: RunKind,
    pub name: String,
    pub seed: u64,
    /// 1-based teacher layers the student starts from (empty for the teacher).
    pub teacher_layers: Vec<usize>,
}

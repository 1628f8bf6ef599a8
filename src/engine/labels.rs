//! Aligning the teacher's labels with the task's.

use crate::error::{Error, Result};
use crate::experiment::tasks::Task;
use crate::model::BertConfig;

/// How the teacher's classifier maps onto the task's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelAlignment {
    /// Same labels in the same order, or generic names (LABEL_0...) of the right count.
    Same,
    /// Named labels in another order: task label `j` is the teacher's `order[j]`.
    Permuted(Vec<usize>),
    /// The teacher's head has another number of labels (or none): a new head is trained.
    NewHead,
}

fn generic(labels: &[String]) -> bool {
    labels.iter().enumerate().all(|(i, l)| *l == format!("LABEL_{i}"))
}

/// Compares the teacher's `id2label` with the task's label names. Named labels that are not the
/// task's are an error: that teacher was trained for something else.
pub fn align_labels(teacher: &BertConfig, task: &Task, source: &str) -> Result<LabelAlignment> {
    let t = &teacher.labels;
    if t.len() != task.num_labels() {
        return Ok(LabelAlignment::NewHead);
    }
    if generic(t) {
        return Ok(LabelAlignment::Same);
    }
    let order: Option<Vec<usize>> =
        task.label_names.iter().map(|name| t.iter().position(|l| l.eq_ignore_ascii_case(name))).collect();
    match order {
        Some(o) if o.iter().enumerate().all(|(j, &i)| i == j) => Ok(LabelAlignment::Same),
        Some(o) => Ok(LabelAlignment::Permuted(o)),
        None => Err(Error::InvalidModel {
            path: source.into(),
            reason: format!(
                "the teacher's labels ({}) are not {}'s ({}); use a teacher for this task, or one without a classifier",
                t.join(", "),
                task.name,
                task.label_names.join(", ")
            ),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(labels: &[&str]) -> BertConfig {
        BertConfig::synthetic(10, 8, 1, 1, 8, labels.len()).with_labels(labels.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn alignments() {
        let mnli = Task::by_name("mnli").unwrap();
        assert_eq!(align_labels(&cfg(&["LABEL_0", "LABEL_1", "LABEL_2"]), mnli, "t").unwrap(), LabelAlignment::Same);
        assert_eq!(align_labels(&cfg(&["LABEL_0", "LABEL_1"]), mnli, "t").unwrap(), LabelAlignment::NewHead);
        assert_eq!(
            align_labels(&cfg(&["ENTAILMENT", "neutral", "contradiction"]), mnli, "t").unwrap(),
            LabelAlignment::Same
        );
        assert_eq!(
            align_labels(&cfg(&["contradiction", "entailment", "neutral"]), mnli, "t").unwrap(),
            LabelAlignment::Permuted(vec![1, 2, 0])
        );
        let err = align_labels(&cfg(&["a", "b", "c"]), mnli, "t").unwrap_err().to_string();
        assert!(
            err.contains("the teacher's labels (a, b, c) are not mnli's (entailment, neutral, contradiction)"),
            "{err}"
        );
    }
}

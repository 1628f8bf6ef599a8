//! The GLUE tasks: columns, label names and the Hub files of `nyu-mll/glue`.

/// The dataset repo and the revision every Hub download is pinned to.
pub const GLUE_REPO: &str = "nyu-mll/glue";
pub const GLUE_REVISION: &str = "bcdcba79d07bc864c1c254ccfcedcce55bcc9a8c";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Task {
    pub name: &'static str,
    /// Text columns in the Hub parquet files (one or two).
    pub text_columns: &'static [&'static str],
    /// Other names of the same columns in GLUE's original TSV files, in the same order.
    pub tsv_text_columns: &'static [&'static str],
    pub label_names: &'static [&'static str],
    /// The default evaluation split.
    pub validation_split: &'static str,
    /// The labelled splits the Hub has.
    pub splits: &'static [&'static str],
}

const fn task(
    name: &'static str,
    text_columns: &'static [&'static str],
    tsv_text_columns: &'static [&'static str],
    label_names: &'static [&'static str],
    validation_split: &'static str,
    splits: &'static [&'static str],
) -> Task {
    Task { name, text_columns, tsv_text_columns, label_names, validation_split, splits }
}

const TRAIN_VAL: &[&str] = &["train", "validation"];

pub const TASKS: &[Task] = &[
    task("cola", &["sentence"], &["sentence"], &["unacceptable", "acceptable"], "validation", TRAIN_VAL),
    task("sst2", &["sentence"], &["sentence"], &["negative", "positive"], "validation", TRAIN_VAL),
    task(
        "mrpc",
        &["sentence1", "sentence2"],
        &["#1 String", "#2 String"],
        &["not_equivalent", "equivalent"],
        "validation",
        TRAIN_VAL,
    ),
    task(
        "qqp",
        &["question1", "question2"],
        &["question1", "question2"],
        &["not_duplicate", "duplicate"],
        "validation",
        TRAIN_VAL,
    ),
    task(
        "mnli",
        &["premise", "hypothesis"],
        &["sentence1", "sentence2"],
        &["entailment", "neutral", "contradiction"],
        "validation_matched",
        &["train", "validation_matched", "validation_mismatched"],
    ),
    task(
        "qnli",
        &["question", "sentence"],
        &["question", "sentence"],
        &["entailment", "not_entailment"],
        "validation",
        TRAIN_VAL,
    ),
    task(
        "rte",
        &["sentence1", "sentence2"],
        &["sentence1", "sentence2"],
        &["entailment", "not_entailment"],
        "validation",
        TRAIN_VAL,
    ),
    task(
        "wnli",
        &["sentence1", "sentence2"],
        &["sentence1", "sentence2"],
        &["not_entailment", "entailment"],
        "validation",
        TRAIN_VAL,
    ),
];

/// Label column names: the Hub's, then GLUE TSV's (`gold_label` in MNLI, `Quality` in MRPC,
/// `is_duplicate` in QQP).
pub const LABEL_COLUMNS: &[&str] = &["label", "gold_label", "Quality", "is_duplicate"];

/// Files whose size and sha256 PROTOCOL.md records; downloads of them are verified.
pub const KNOWN_FILES: &[(&str, u64, &str)] = &[
    (
        "mnli/train-00000-of-00001.parquet",
        52_224_361,
        "49a4a5508b89b8fed2c6e81d2c47d00f4759050a7048c6cc5d95d31122ced3c1",
    ),
    (
        "mnli/validation_matched-00000-of-00001.parquet",
        1_214_936,
        "7f918c09d9c35446b8e8f06a5672f8ab704e2897fecbf52e2e154141f3d7c421",
    ),
    (
        "mnli/validation_mismatched-00000-of-00001.parquet",
        1_251_152,
        "04aba92823a954be36fe1b69b61eed334c9eb1009daba0dd79f69d77b87c535c",
    ),
    (
        "sst2/train-00000-of-00001.parquet",
        3_110_468,
        "66a253e67968acfabcbe49dbe9da964b42ac1c851c40ab760e8c8942efdb3229",
    ),
    (
        "sst2/validation-00000-of-00001.parquet",
        72_819,
        "a1371f3b3a7b0bcefa8388799a9359dc3ce76c349cc0079507a7991364fd2a9b",
    ),
];

impl Task {
    pub fn by_name(name: &str) -> Option<&'static Task> {
        TASKS.iter().find(|t| t.name == name)
    }

    pub fn names() -> Vec<&'static str> {
        TASKS.iter().map(|t| t.name).collect()
    }

    pub fn num_labels(&self) -> usize {
        self.label_names.len()
    }

    /// The parquet file of a split in the GLUE repo.
    pub fn hub_file(&self, split: &str) -> String {
        format!("{}/{split}-00000-of-00001.parquet", self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mnli_is_three_way_and_pairs() {
        let t = Task::by_name("mnli").unwrap();
        assert_eq!(t.num_labels(), 3);
        assert_eq!(t.label_names[2], "contradiction");
        assert_eq!(t.hub_file("validation_mismatched"), "mnli/validation_mismatched-00000-of-00001.parquet");
        assert!(KNOWN_FILES.iter().any(|(f, _, _)| *f == t.hub_file("train")));
        assert!(Task::by_name("stsb").is_none(), "regression is not a classification task");
    }
}

//! Examples of a GLUE task from the Hub or a local file: texts, labels checked against the
//! task, a seeded subset, and tokenized once.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

use super::readers::{ColumnChoices, Row, read_rows};
use crate::error::{Error, Result};
use crate::experiment::DataSource;
use crate::experiment::DataSpec;
use crate::experiment::tasks::{GLUE_REPO, GLUE_REVISION, KNOWN_FILES, LABEL_COLUMNS, Task};
use crate::hub::{HubRepo, HubSettings};
use crate::tokenize::{Encoded, TextTokenizer};

#[derive(Debug, Clone, PartialEq)]
pub struct Example {
    pub text: String,
    pub pair: Option<String>,
    pub label: usize,
}

/// A split, tokenized: `encoded[i]` and `labels[i]` belong to example `i`.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Where it came from, for logs and results.
    pub source: String,
    pub examples: Vec<Example>,
    pub encoded: Vec<Encoded>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.examples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.examples.is_empty()
    }

    pub fn labels(&self) -> Vec<usize> {
        self.examples.iter().map(|e| e.label).collect()
    }

    pub fn lengths(&self) -> Vec<usize> {
        self.encoded.iter().map(|e| e.ids.len()).collect()
    }

    pub fn tokenize(source: String, examples: Vec<Example>, tokenizer: &TextTokenizer) -> Result<Self> {
        let items: Vec<(String, Option<String>)> = examples.iter().map(|e| (e.text.clone(), e.pair.clone())).collect();
        let encoded = tokenizer.encode_many(&items)?;
        Ok(Self { source, examples, encoded })
    }
}

/// The columns to read for a task: text columns (configured, else the Hub's and GLUE TSV's
/// names), then the label column.
pub fn column_choices(spec: &DataSpec) -> ColumnChoices {
    let task = spec.task;
    let mut choices: ColumnChoices = match &spec.text_columns {
        Some(cols) => cols.iter().map(|c| vec![c.clone()]).collect(),
        None => task
            .text_columns
            .iter()
            .zip(task.tsv_text_columns)
            .map(|(hub, tsv)| if hub == tsv { vec![hub.to_string()] } else { vec![hub.to_string(), tsv.to_string()] })
            .collect(),
    };
    choices.push(match &spec.label_column {
        Some(c) => vec![c.clone()],
        None => LABEL_COLUMNS.iter().map(|c| c.to_string()).collect(),
    });
    choices
}

/// Turns rows into examples; labels are ids `0..n` or the task's label names (not both).
pub fn rows_to_examples(rows: Vec<Row>, task: &Task, path: &Path) -> Result<Vec<Example>> {
    let bad = |line: usize, msg: String| Error::Input(format!("{}:{line}: {msg}", path.display()));
    let n_text = rows.first().map(|r| r.cells.len() - 1).unwrap_or(0);
    let mut by_name: Option<bool> = None;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let label_cell = row.cells[n_text].as_deref().map(str::trim).unwrap_or("");
        let (label, is_name) = match label_cell.parse::<i64>() {
            Ok(-1) => {
                return Err(bad(
                    row.line,
                    "label -1: this is a GLUE test split, whose labels are hidden; evaluate on a validation split"
                        .into(),
                ));
            }
            Ok(v) if v >= 0 && (v as usize) < task.num_labels() => (v as usize, false),
            Ok(v) => {
                return Err(bad(
                    row.line,
                    format!("label {v} is outside {}'s labels 0..{}", task.name, task.num_labels() - 1),
                ));
            }
            Err(_) if label_cell.is_empty() => return Err(bad(row.line, "has no label".into())),
            Err(_) => match task.label_names.iter().position(|n| n.eq_ignore_ascii_case(label_cell)) {
                Some(i) => (i, true),
                None => {
                    return Err(bad(
                        row.line,
                        format!(
                            "label \"{label_cell}\" is not one of {}'s labels ({})",
                            task.name,
                            task.label_names.join(", ")
                        ),
                    ));
                }
            },
        };
        match by_name {
            None => by_name = Some(is_name),
            Some(b) if b != is_name => {
                return Err(bad(row.line, "mixes label ids and label names; use one or the other in a file".into()));
            }
            _ => {}
        }
        let text = |i: usize| row.cells[i].clone().unwrap_or_default();
        out.push(Example { text: text(0), pair: (n_text > 1).then(|| text(1)), label });
    }
    Ok(out)
}

/// A seeded subset of `n` examples (all when `n` is `None` or not smaller), in shuffled order.
pub fn subset<T: Clone>(items: Vec<T>, n: Option<usize>, seed: u64) -> Vec<T> {
    match n {
        Some(n) if n < items.len() => {
            let mut idx: Vec<usize> = (0..items.len()).collect();
            idx.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
            idx.truncate(n);
            idx.into_iter().map(|i| items[i].clone()).collect()
        }
        _ => items,
    }
}

/// The GLUE parquet file of a split, from the Hub cache or downloaded, checked against the
/// sha256 recorded for it.
pub fn hub_split(task: &Task, split: &str, hub: &HubSettings) -> Result<PathBuf> {
    let file = task.hub_file(split);
    let path = HubRepo::dataset(GLUE_REPO, GLUE_REVISION, hub).get(&file)?;
    if let Some((_, size, sha)) = KNOWN_FILES.iter().find(|(f, _, _)| *f == file) {
        let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
        let got = format!("{:x}", Sha256::digest(&bytes));
        if bytes.len() as u64 != *size || got != *sha {
            return Err(Error::Hub {
                repo: format!("{GLUE_REPO}@{GLUE_REVISION}"),
                file,
                reason: format!(
                    "the cached file ({}, {} bytes, sha256 {got}) is not the pinned one ({size} bytes, sha256 {sha}); \
                     delete it and download it again",
                    path.display(),
                    bytes.len()
                ),
            });
        }
    }
    Ok(path)
}

/// Reads the training or validation examples the spec asks for.
pub fn load_examples(
    spec: &DataSpec,
    source: &DataSource,
    split: &str,
    limit: Option<usize>,
    hub: &HubSettings,
) -> Result<(String, Vec<Example>)> {
    let path = match source {
        DataSource::Hub => hub_split(spec.task, split, hub)?,
        DataSource::File(p) => p.clone(),
    };
    let rows = read_rows(&path, &column_choices(spec))?;
    let examples = rows_to_examples(rows, spec.task, &path)?;
    let described = match source {
        DataSource::Hub => format!("{GLUE_REPO}@{} {}", &GLUE_REVISION[..8], spec.task.hub_file(split)),
        DataSource::File(p) => p.display().to_string(),
    };
    let total = examples.len();
    let examples = subset(examples, limit, spec.shuffle_seed);
    Ok((format!("{described} ({} of {total} examples)", examples.len()), examples))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(labels: &[&str]) -> Vec<Row> {
        labels
            .iter()
            .enumerate()
            .map(|(i, l)| Row { line: i + 2, cells: vec![Some(format!("s{i}")), Some(l.to_string())] })
            .collect()
    }

    #[test]
    fn labels_as_ids_or_names() {
        let sst2 = Task::by_name("sst2").unwrap();
        let ex = rows_to_examples(rows(&["0", "1"]), sst2, Path::new("t.tsv")).unwrap();
        assert_eq!(ex.iter().map(|e| e.label).collect::<Vec<_>>(), vec![0, 1]);
        let ex = rows_to_examples(rows(&["Positive", "negative"]), sst2, Path::new("t.tsv")).unwrap();
        assert_eq!(ex.iter().map(|e| e.label).collect::<Vec<_>>(), vec![1, 0]);
        assert_eq!(ex[0].pair, None);
    }

    #[test]
    fn bad_labels_name_the_line() {
        let sst2 = Task::by_name("sst2").unwrap();
        let e = |l: &[&str]| rows_to_examples(rows(l), sst2, Path::new("t.tsv")).unwrap_err().to_string();
        assert!(e(&["0", "-1"]).contains("t.tsv:3: label -1: this is a GLUE test split"));
        assert!(e(&["2"]).contains("t.tsv:2: label 2 is outside sst2's labels 0..1"));
        assert!(e(&["good"]).contains("\"good\" is not one of sst2's labels (negative, positive)"));
        assert!(e(&["0", "positive"]).contains("t.tsv:3: mixes label ids and label names"));
        assert!(e(&[""]).contains("has no label"));
    }

    #[test]
    fn subsets_are_seeded_and_stable() {
        let items: Vec<usize> = (0..100).collect();
        let a = subset(items.clone(), Some(10), 1150);
        assert_eq!(a, subset(items.clone(), Some(10), 1150));
        assert_ne!(a, subset(items.clone(), Some(10), 1151));
        assert_eq!(a.len(), 10);
        assert_eq!(subset(items.clone(), None, 1), items);
    }

    #[test]
    fn hub_data_comes_from_the_pinned_glue_revision_in_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let parquet = dir.path().join("x.parquet");
        crate::data::readers::parquet_tests::write_glue_parquet(
            &parquet,
            ("sentence1", "sentence2"),
            &[("a", "b", 0), ("c", "d", 1), ("e", "f", 1)],
        );
        let bytes = std::fs::read(&parquet).unwrap();
        crate::hub::testing::fake_cache(
            dir.path(),
            "datasets--nyu-mll--glue",
            GLUE_REVISION,
            GLUE_REVISION,
            &[("rte/validation-00000-of-00001.parquet", &bytes)],
        );
        let toml = "[experiment]\nname='t'\n[teacher]\nmodel='m'\n[student]\nnum_layers=1\n[data]\ntask='rte'\nvalidation_examples=2\n";
        let exp = crate::experiment::Experiment::from_str(toml, Path::new("e.toml"), &[]).unwrap();
        let hub = HubSettings::offline_cache(dir.path());
        let (source, ex) =
            load_examples(&exp.data, &exp.data.validation, "validation", exp.data.validation_examples, &hub).unwrap();
        assert_eq!(ex.len(), 2);
        assert!(ex.iter().all(|e| e.pair.is_some()));
        assert!(
            source.contains("nyu-mll/glue@bcdcba79 rte/validation-00000-of-00001.parquet (2 of 3 examples)"),
            "{source}"
        );
    }

    #[test]
    fn hub_split_verifies_the_pinned_hash() {
        let dir = tempfile::tempdir().unwrap();
        let commit = GLUE_REVISION;
        crate::hub::testing::fake_cache(
            dir.path(),
            "datasets--nyu-mll--glue",
            commit,
            commit,
            &[("sst2/validation-00000-of-00001.parquet", b"tampered")],
        );
        let err = hub_split(Task::by_name("sst2").unwrap(), "validation", &HubSettings::offline_cache(dir.path()))
            .unwrap_err();
        assert!(err.to_string().contains("is not the pinned one"), "{err}");
        let missing =
            hub_split(Task::by_name("mnli").unwrap(), "train", &HubSettings::offline_cache(dir.path())).unwrap_err();
        assert!(missing.to_string().contains("mnli/train-00000-of-00001.parquet"), "{missing}");
    }
}

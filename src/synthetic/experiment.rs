//! A whole synthetic experiment in one folder: the generated teacher (`teacher/`), the generated
//! task (`data/train.tsv`, `data/dev.tsv`) and the experiment file that points at them. The demo
//! and the tests that run the real engine build theirs here, each with its own sizes.

use std::path::{Path, PathBuf};

use super::{DEV_FILE, TRAIN_FILE, write_task, write_teacher};
use crate::backend::CpuBackend;
use crate::error::{Error, Result};
use crate::model::Family;

/// The folder of the generated teacher, next to the experiment file.
pub const TEACHER_DIR: &str = "teacher";
/// The folder of the generated task, next to the experiment file.
pub const DATA_DIR: &str = "data";

/// The generated teacher: the arguments of [`write_teacher`].
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherShape {
    pub layers: usize,
    pub hidden: usize,
    pub num_labels: usize,
    /// Seeds its random weights.
    pub seed: u64,
    /// BERT, RoBERTa, ...: its checkpoint's format and its tokenizer.
    pub family: Family,
}

/// The generated task: the arguments of [`write_task`].
#[derive(Debug, Clone, PartialEq)]
pub struct TaskSize {
    pub train: usize,
    pub validation: usize,
    /// Seeds its sentences and labels.
    pub seed: u64,
}

/// Which teacher layers a `[[runs]]` entry copies.
#[derive(Debug, Clone, PartialEq)]
pub enum RunLayers {
    /// `teacher_layers = [...]`, 1-based.
    Teacher(Vec<usize>),
    /// `strategy = "..."`: top, bottom, odd or even.
    Strategy(String),
}

/// One `[[runs]]` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    pub name: String,
    pub layers: RunLayers,
}

/// The inputs and the settings of an experiment on generated data. [`to_toml`](Self::to_toml)
/// writes the experiment file; the keys it leaves out take their defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticExperiment {
    pub teacher: TeacherShape,
    pub task: TaskSize,
    /// A comment written on the file's first line (without the `# `).
    pub comment: Option<String>,
    pub name: String,
    /// Relative to the experiment file's folder.
    pub output_dir: String,
    pub seeds: Vec<u64>,
    pub finetune_epochs: usize,
    pub student_layers: usize,
    pub max_length: usize,
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    /// `training.cosine_target` (`logits` or `cls_hidden`); left out when `None`.
    pub cosine_target: Option<String>,
    /// `[[runs]]`; when empty the file lists none and the four default runs are planned.
    pub runs: Vec<Run>,
}

impl SyntheticExperiment {
    /// The experiment file: the teacher and the data as written by
    /// [`write_inputs`](Self::write_inputs), on the SST-2 task. The sections are in a fixed
    /// order, one key a line, so that a test can name a line.
    pub fn to_toml(&self) -> String {
        let list = |items: Vec<String>| format!("[{}]", items.join(", "));
        let mut text = String::new();
        if let Some(comment) = &self.comment {
            text.push_str(&format!("# {comment}\n"));
        }
        text.push_str(&format!(
            "[experiment]\nname = {}\noutput_dir = {}\nseeds = {}\n\n",
            quote(&self.name),
            quote(&self.output_dir),
            list(self.seeds.iter().map(u64::to_string).collect()),
        ));
        text.push_str(&format!(
            "[teacher]\nmodel = {}\nfinetune_epochs = {}\n\n",
            quote(TEACHER_DIR),
            self.finetune_epochs
        ));
        text.push_str(&format!("[student]\nnum_layers = {}\n\n", self.student_layers));
        text.push_str(&format!(
            "[data]\ntask = \"sst2\"\ntrain = {}\nvalidation = {}\nmax_length = {}\n\n",
            quote(&format!("{DATA_DIR}/{TRAIN_FILE}")),
            quote(&format!("{DATA_DIR}/{DEV_FILE}")),
            self.max_length
        ));
        // `{:e}` keeps a rate as it is usually written (3e-3, not 0.003), and is valid TOML.
        text.push_str(&format!(
            "[training]\nepochs = {}\nbatch_size = {}\nlearning_rate = {:e}\n",
            self.epochs, self.batch_size, self.learning_rate
        ));
        if let Some(target) = &self.cosine_target {
            text.push_str(&format!("cosine_target = {}\n", quote(target)));
        }
        for run in &self.runs {
            text.push_str(&format!("\n[[runs]]\nname = {}\n", quote(&run.name)));
            match &run.layers {
                RunLayers::Teacher(layers) => text
                    .push_str(&format!("teacher_layers = {}\n", list(layers.iter().map(usize::to_string).collect()))),
                RunLayers::Strategy(s) => text.push_str(&format!("strategy = {}\n", quote(s))),
            }
        }
        text
    }

    /// Generates the teacher into `dir/teacher` and the task into `dir/data`, each unless it is
    /// already there (generation is deterministic: a folder written before from the same sizes
    /// holds the same files).
    pub fn write_inputs(&self, dir: &Path) -> Result<()> {
        let teacher_dir = dir.join(TEACHER_DIR);
        if !teacher_dir.join("model.safetensors").is_file() {
            write_teacher::<CpuBackend>(&teacher_dir, &self.teacher, &Default::default())?;
        }
        let data_dir = dir.join(DATA_DIR);
        if !data_dir.join(DEV_FILE).is_file() {
            write_task(&data_dir, self.task.train, self.task.validation, self.task.seed)?;
        }
        Ok(())
    }

    /// [`write_inputs`](Self::write_inputs), then the experiment file as `dir/<file_name>`
    /// (always rewritten); returns its path.
    pub fn write(&self, dir: &Path, file_name: &str) -> Result<PathBuf> {
        self.write_inputs(dir)?;
        let path = dir.join(file_name);
        std::fs::write(&path, self.to_toml()).map_err(|e| Error::io(&path, e))?;
        Ok(path)
    }
}

/// A TOML string, quoted and escaped.
fn quote(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::experiment::LayerChoice;
    use crate::experiment::{CosineTarget, DataSource, Experiment};

    fn sample() -> SyntheticExperiment {
        SyntheticExperiment {
            teacher: TeacherShape { layers: 4, hidden: 32, num_labels: 2, seed: 5, family: Family::Bert },
            task: TaskSize { train: 64, validation: 32, seed: 9 },
            comment: Some("made by a test".into()),
            name: "tiny".into(),
            output_dir: "out".into(),
            seeds: vec![7, 8],
            finetune_epochs: 1,
            student_layers: 2,
            max_length: 32,
            epochs: 2,
            batch_size: 16,
            learning_rate: 3e-3,
            cosine_target: Some("cls_hidden".into()),
            runs: vec![
                Run { name: "Odd Layer".into(), layers: RunLayers::Teacher(vec![1, 3]) },
                Run { name: "Even".into(), layers: RunLayers::Strategy("even".into()) },
            ],
        }
    }

    #[test]
    fn the_file_reads_back_as_the_values_it_was_given() {
        let tmp = tempfile::tempdir().unwrap();
        let s = sample();
        let path = s.write(tmp.path(), "experiments.toml").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text, s.to_toml());
        assert!(text.starts_with("# made by a test\n[experiment]\n"), "{text}");
        assert!(text.contains("learning_rate = 3e-3\n"), "{text}");
        let e = Experiment::load(&path, &[]).unwrap();
        assert_eq!(e.name, "tiny");
        assert_eq!(e.dir, tmp.path().join("out/tiny"));
        assert_eq!(e.seeds, vec![7, 8]);
        assert_eq!(e.teacher.model, tmp.path().join("teacher").to_string_lossy());
        assert_eq!(e.teacher.finetune_epochs, 1);
        assert_eq!(e.student_layers, 2);
        assert_eq!(e.data.task.name, "sst2");
        assert_eq!(e.data.train, DataSource::File(tmp.path().join("data/train.tsv")));
        assert_eq!(e.data.validation, DataSource::File(tmp.path().join("data/dev.tsv")));
        assert_eq!(e.data.max_length, 32);
        assert_eq!((e.training.epochs, e.training.batch_size, e.training.learning_rate), (2, 16, 3e-3));
        assert_eq!(e.training.cosine_target, CosineTarget::ClsHidden);
        assert_eq!(e.runs.len(), 2);
        assert_eq!(e.runs[0].layers, LayerChoice::Explicit(vec![1, 3]));
        assert!(matches!(e.runs[1].layers, LayerChoice::Strategy(_)));

        let bare = SyntheticExperiment { comment: None, cosine_target: None, runs: vec![], ..s };
        let e = Experiment::load(&bare.write(tmp.path(), "bare.toml").unwrap(), &[]).unwrap();
        assert_eq!(e.runs.len(), 4, "no [[runs]]: the four default runs");
        assert_eq!(e.training.cosine_target, CosineTarget::Logits);
    }

    #[test]
    fn the_inputs_are_written_once_and_the_file_each_time() {
        let tmp = tempfile::tempdir().unwrap();
        let s = sample();
        let path = s.write(tmp.path(), "experiments.toml").unwrap();
        let train = std::fs::read_to_string(tmp.path().join("data").join(TRAIN_FILE)).unwrap();
        assert_eq!(train.lines().count(), 1 + 64);
        assert!(tmp.path().join("teacher/model.safetensors").is_file());
        let other = SyntheticExperiment { task: TaskSize { train: 10, validation: 10, seed: 1 }, epochs: 3, ..s };
        other.write(tmp.path(), "experiments.toml").unwrap();
        assert_eq!(std::fs::read_to_string(tmp.path().join("data").join(TRAIN_FILE)).unwrap(), train, "kept");
        assert!(std::fs::read_to_string(&path).unwrap().contains("epochs = 3\n"), "rewritten");
    }

    #[test]
    fn strings_are_quoted() {
        assert_eq!(quote("out"), "\"out\"");
        let q = quote("a \"b\" \\c");
        assert_eq!(toml::from_str::<toml::Table>(&format!("k = {q}")).unwrap()["k"].as_str(), Some("a \"b\" \\c"));
    }
}

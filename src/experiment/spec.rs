//! The validated experiment: `experiments.toml` plus `--set` overrides, every value checked and
//! every relative path resolved against the file's folder.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::file::ExperimentFile;
use super::layers::{STRATEGIES, check_layers, strategy_layers};
use super::overrides::apply_overrides;
use super::tasks::Task;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    Hub,
    File(PathBuf),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CosineTarget {
    /// Cosine between teacher and student logits (the reference notebook).
    Logits,
    /// Cosine between the last-layer [CLS] hidden states (DistilBERT's choice).
    ClsHidden,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LossWeights {
    pub ce: f64,
    pub kl: f64,
    pub cosine: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeacherSpec {
    pub model: String,
    pub revision: String,
    pub finetune_epochs: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DataSpec {
    #[serde(serialize_with = "task_name")]
    pub task: &'static Task,
    pub train: DataSource,
    pub validation: DataSource,
    pub validation_split: String,
    pub train_examples: Option<usize>,
    pub validation_examples: Option<usize>,
    pub max_length: usize,
    pub shuffle_seed: u64,
    pub text_columns: Option<Vec<String>>,
    pub label_column: Option<String>,
}

fn task_name<S: serde::Serializer>(t: &&'static Task, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(t.name)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrainingSpec {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub warmup_steps: usize,
    pub temperature: f64,
    pub loss_weights: LossWeights,
    pub cosine_target: CosineTarget,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum LayerChoice {
    Explicit(Vec<i64>),
    Strategy(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunSpec {
    pub name: String,
    pub slug: String,
    pub layers: LayerChoice,
}

/// A run of the matrix with its teacher layers resolved (1-based).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedRun {
    pub name: String,
    pub slug: String,
    pub teacher_layers: Vec<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Experiment {
    /// The config file this came from.
    pub file: PathBuf,
    pub name: String,
    /// `<output_dir>/<name>`: where results, logs and checkpoints go.
    pub dir: PathBuf,
    pub seeds: Vec<u64>,
    pub teacher: TeacherSpec,
    pub student_layers: usize,
    pub data: DataSpec,
    pub training: TrainingSpec,
    pub runs: Vec<RunSpec>,
    /// The final configuration (file + overrides), as TOML text, recorded next to the results.
    pub resolved_toml: String,
}

/// The four runs of the assignment, used when the file lists none.
pub fn default_runs() -> Vec<RunSpec> {
    [("Top-K Layer", "top"), ("Bottom-K Layer", "bottom"), ("Odd Layer", "odd"), ("Even Layer", "even")]
        .into_iter()
        .map(|(name, s)| RunSpec { name: name.into(), slug: slugify(name), layers: LayerChoice::Strategy(s.into()) })
        .collect()
}

/// "Top-K Layer" -> "top-k-layer".
pub fn slugify(name: &str) -> String {
    let mut s = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    s.trim_end_matches('-').to_string()
}

impl Experiment {
    /// Reads `path`, applies `KEY=VALUE` overrides and checks every value.
    pub fn load(path: &Path, overrides: &[String]) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => Error::Input(format!(
                "{}: no such file. To try distill-tui with no download, run `distill-tui demo` (a small \
                 synthetic experiment). To run your own, write an experiment file (./experiments.toml is \
                 read by default) or point to one with --config FILE; examples/minilm-sst2.toml in \
                 distill-tui's repository is one to start from",
                path.display()
            )),
            _ => Error::io(path, e),
        })?;
        Self::from_str(&text, path, overrides)
    }

    pub fn from_str(text: &str, path: &Path, overrides: &[String]) -> Result<Self> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| Error::Config {
            file: path.to_path_buf(),
            key: "syntax".into(),
            message: format!("not valid TOML: {e}"),
        })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let cwd = std::env::current_dir().unwrap_or_default();
        apply_overrides(&mut table, overrides, &cwd).map_err(|(key, message)| Error::Config {
            file: path.to_path_buf(),
            key: format!("--set {key}"),
            message,
        })?;
        let resolved_toml = toml::to_string(&table).expect("a TOML table serializes");
        let file: ExperimentFile = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            // With no override involved, toml's own error carries the line and column.
            let located = if overrides.is_empty() { toml::from_str::<ExperimentFile>(text).err() } else { None };
            let path_str = e.path().to_string();
            Error::Config {
                file: path.to_path_buf(),
                key: if path_str == "." { "file".into() } else { path_str },
                message: match located {
                    Some(l) => l.to_string().trim_end().to_string(),
                    None => e.into_inner().to_string(),
                },
            }
        })?;
        check(file, path, &base, resolved_toml)
    }

    /// Resolves every run's layers against the teacher's depth and checks `max_length` against
    /// its positions; fails before any work starts.
    pub fn plan(&self, teacher_depth: usize, max_positions: usize) -> Result<Vec<PlannedRun>> {
        let err = |key: String, message: String| Error::Config { file: self.file.clone(), key, message };
        if self.student_layers > teacher_depth {
            return Err(err(
                "student.num_layers".into(),
                format!(
                    "is {} but the teacher has only {teacher_depth} layers; a student must be shallower",
                    self.student_layers
                ),
            ));
        }
        if self.data.max_length > max_positions {
            return Err(err(
                "data.max_length".into(),
                format!(
                    "is {} but the teacher has {max_positions} positions (max_position_embeddings); use at most {max_positions}",
                    self.data.max_length
                ),
            ));
        }
        self.runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let layers = match &r.layers {
                    LayerChoice::Explicit(l) => check_layers(l, teacher_depth, self.student_layers)
                        .map_err(|m| err(format!("runs[{i}] (\"{}\").teacher_layers", r.name), m))?,
                    LayerChoice::Strategy(s) => strategy_layers(s, teacher_depth, self.student_layers)
                        .map_err(|m| err(format!("runs[{i}] (\"{}\").strategy", r.name), m))?,
                };
                Ok(PlannedRun { name: r.name.clone(), slug: r.slug.clone(), teacher_layers: layers })
            })
            .collect()
    }
}

/// `a/b/../c` -> `a/c`, without touching the file system (the folder may not exist yet).
fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() { PathBuf::from(".") } else { out }
}

fn check(f: ExperimentFile, path: &Path, base: &Path, resolved_toml: String) -> Result<Experiment> {
    let err = |key: &str, message: String| Error::Config { file: path.to_path_buf(), key: key.into(), message };
    let positive = |key: &str, v: i64| -> Result<usize> {
        if v < 1 { Err(err(key, format!("is {v}; it must be at least 1"))) } else { Ok(v as usize) }
    };
    let non_negative = |key: &str, v: i64| -> Result<usize> {
        if v < 0 { Err(err(key, format!("is {v}; it must be 0 or more"))) } else { Ok(v as usize) }
    };
    let resolve = |p: &str| -> PathBuf {
        let p = Path::new(p);
        normalize(&if p.is_absolute() { p.to_path_buf() } else { base.join(p) })
    };

    let name = f.experiment.name.trim().to_string();
    if name.is_empty() || name.contains(['/', '\\']) || name == "." || name == ".." {
        return Err(err(
            "experiment.name",
            format!("{:?} cannot name a folder; use letters, digits, '-' or '_'", f.experiment.name),
        ));
    }
    if f.experiment.seeds.is_empty() {
        return Err(err("experiment.seeds", "is empty; give at least one seed, e.g. seeds = [42]".into()));
    }
    let mut seeds = Vec::new();
    for &s in &f.experiment.seeds {
        if s < 0 {
            return Err(err("experiment.seeds", format!("holds {s}; seeds are 0 or more")));
        }
        if seeds.contains(&(s as u64)) {
            return Err(err("experiment.seeds", format!("lists {s} twice; each seed runs the whole matrix once")));
        }
        seeds.push(s as u64);
    }

    // A teacher folder is relative to this file; anything else is a Hub id.
    let model = {
        let local = resolve(&f.teacher.model);
        if local.exists() { local.to_string_lossy().into_owned() } else { f.teacher.model.clone() }
    };
    if model.trim().is_empty() {
        return Err(err(
            "teacher.model",
            "is empty; give a Hub id like \"bert-base-uncased\" or a model folder".into(),
        ));
    }
    let teacher = TeacherSpec {
        model,
        revision: f.teacher.revision.clone(),
        finetune_epochs: non_negative("teacher.finetune_epochs", f.teacher.finetune_epochs)?,
    };
    let student_layers = positive("student.num_layers", f.student.num_layers)?;

    let d = &f.data;
    let task = Task::by_name(&d.task.to_ascii_lowercase()).ok_or_else(|| {
        err(
            "data.task",
            format!("\"{}\" is not a GLUE classification task; use one of {}", d.task, Task::names().join(", ")),
        )
    })?;
    let source = |key: &str, v: &str| -> Result<DataSource> {
        if v == "hub" {
            return Ok(DataSource::Hub);
        }
        let p = resolve(v);
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if !matches!(ext.as_str(), "tsv" | "csv" | "jsonl" | "parquet") {
            return Err(err(key, format!("\"{v}\" must be \"hub\" or a .tsv, .csv, .jsonl or .parquet file")));
        }
        if !p.is_file() {
            return Err(err(
                key,
                format!(
                    "file {} does not exist (relative paths in {} are relative to its folder; in --set, to the working directory)",
                    p.display(),
                    path.display()
                ),
            ));
        }
        Ok(DataSource::File(p))
    };
    let train = source("data.train", &d.train)?;
    let validation = source("data.validation", &d.validation)?;
    let validation_split = d.validation_split.clone().unwrap_or_else(|| task.validation_split.to_string());
    if validation_split.starts_with("test") {
        return Err(err(
            "data.validation_split",
            format!(
                "\"{validation_split}\" is a GLUE test split: its labels are hidden (-1), so it cannot be evaluated; use {}",
                task.validation_split
            ),
        ));
    }
    // Checked for local files too: a misspelt split is a mistake either way.
    if !task.splits.contains(&validation_split.as_str()) {
        return Err(err(
            "data.validation_split",
            format!(
                "\"{validation_split}\" is not a split of {}; use one of {}",
                task.name,
                task.splits[1..].join(", ")
            ),
        ));
    }
    if let Some(cols) = &d.text_columns
        && (cols.is_empty() || cols.len() > 2)
    {
        return Err(err(
            "data.text_columns",
            format!("lists {} columns; give one (single sentences) or two (pairs)", cols.len()),
        ));
    }
    let data = DataSpec {
        task,
        train,
        validation,
        validation_split,
        train_examples: d.train_examples.map(|v| positive("data.train_examples", v)).transpose()?,
        validation_examples: d.validation_examples.map(|v| positive("data.validation_examples", v)).transpose()?,
        max_length: {
            let m = positive("data.max_length", d.max_length)?;
            if m < 3 {
                return Err(err("data.max_length", format!("is {m}; [CLS] text [SEP] needs at least 3")));
            }
            m
        },
        shuffle_seed: non_negative("data.shuffle_seed", d.shuffle_seed)? as u64,
        text_columns: d.text_columns.clone(),
        label_column: d.label_column.clone(),
    };

    let t = &f.training;
    let finite_positive = |key: &str, v: f64| -> Result<f64> {
        if v.is_finite() && v > 0.0 { Ok(v) } else { Err(err(key, format!("is {v}; it must be a number above 0"))) }
    };
    let w = &t.loss_weights;
    for (key, v) in [
        ("training.loss_weights.ce", w.ce),
        ("training.loss_weights.kl", w.kl),
        ("training.loss_weights.cosine", w.cosine),
    ] {
        if !v.is_finite() || v < 0.0 {
            return Err(err(key, format!("is {v}; loss weights are 0 or more")));
        }
    }
    if w.ce + w.kl + w.cosine <= 0.0 {
        return Err(err("training.loss_weights", "are all 0; at least one term must count".into()));
    }
    let training = TrainingSpec {
        epochs: non_negative("training.epochs", t.epochs)?,
        batch_size: positive("training.batch_size", t.batch_size)?,
        learning_rate: finite_positive("training.learning_rate", t.learning_rate)?,
        warmup_steps: non_negative("training.warmup_steps", t.warmup_steps)?,
        temperature: finite_positive("training.temperature", t.temperature)?,
        loss_weights: LossWeights { ce: w.ce, kl: w.kl, cosine: w.cosine },
        cosine_target: match t.cosine_target.as_str() {
            "logits" => CosineTarget::Logits,
            "cls_hidden" => CosineTarget::ClsHidden,
            other => {
                return Err(err(
                    "training.cosine_target",
                    format!("\"{other}\" is not known; use \"logits\" or \"cls_hidden\""),
                ));
            }
        },
    };

    let runs = if f.runs.is_empty() {
        default_runs()
    } else {
        let mut runs: Vec<RunSpec> = Vec::new();
        for (i, r) in f.runs.iter().enumerate() {
            let key = |k: &str| format!("runs[{i}].{k}");
            let layers = match (&r.teacher_layers, &r.strategy) {
                (Some(l), None) => {
                    // Length, duplicates and 0 need no teacher; the range is checked in `plan`.
                    check_layers(l, usize::MAX, student_layers)
                        .map_err(|m| err(&key("teacher_layers"), format!("(\"{}\") {m}", r.name)))?;
                    LayerChoice::Explicit(l.clone())
                }
                (None, Some(s)) if STRATEGIES.contains(&s.as_str()) => LayerChoice::Strategy(s.clone()),
                (None, Some(s)) => {
                    return Err(err(
                        &key("strategy"),
                        format!("\"{s}\" is not known; use one of {} or give teacher_layers", STRATEGIES.join(", ")),
                    ));
                }
                (Some(_), Some(_)) => {
                    return Err(err(&key("strategy"), "give teacher_layers or strategy, not both".into()));
                }
                (None, None) => {
                    return Err(err(
                        &key("teacher_layers"),
                        "is missing; give teacher_layers = [...] or strategy = \"top\"".into(),
                    ));
                }
            };
            let slug = slugify(&r.name);
            if slug.is_empty() {
                return Err(err(&key("name"), format!("{:?} needs at least one letter or digit", r.name)));
            }
            if let Some(other) = runs.iter().find(|o| o.slug == slug) {
                return Err(err(
                    &key("name"),
                    format!("\"{}\" clashes with \"{}\" (both save to {slug}/); rename one", r.name, other.name),
                ));
            }
            runs.push(RunSpec { name: r.name.clone(), slug, layers });
        }
        runs
    };

    Ok(Experiment {
        file: path.to_path_buf(),
        dir: resolve(&f.experiment.output_dir).join(&name),
        name,
        seeds,
        teacher,
        student_layers,
        data,
        training,
        runs,
        resolved_toml,
    })
}

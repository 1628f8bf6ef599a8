//! The validated experiment: `experiments.toml` plus `--set` overrides, every value checked and
//! every relative path resolved against the file's folder.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::file::{
    CosineTarget, DataSection, ExperimentFile, ExperimentSection, LossWeightsSection, Precision, RunSection, Strategy,
    TeacherSection, TrainingSection,
};
use super::layers::{check_layers, strategy_layers};
use super::overrides::apply_overrides;
use super::tasks::Task;
use crate::error::{Error, Result};

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DataSource {
    Hub,
    File(PathBuf),
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

impl TeacherSpec {
    /// Whether the teacher is fine-tuned on the task first (then it is the first run).
    pub fn finetunes(&self) -> bool {
        self.finetune_epochs > 0
    }
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
    /// Left out of results.json when f32, so that f32 runs record what they did before.
    #[serde(skip_serializing_if = "Precision::is_f32")]
    pub precision: Precision,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum LayerChoice {
    Explicit(Vec<i64>),
    Strategy(Strategy),
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

impl Experiment {
    /// The seed of everything the teacher does (a random head's initialization, its fine-tune's
    /// batch order and dropout): the first seed, so that every seed's students learn from the
    /// same teacher and adding seeds never changes it.
    pub fn teacher_seed(&self) -> u64 {
        self.seeds[0]
    }
}

/// The four runs of the assignment, used when the file lists none.
pub fn default_runs() -> Vec<RunSpec> {
    [
        ("Top-K Layer", Strategy::Top),
        ("Bottom-K Layer", Strategy::Bottom),
        ("Odd Layer", Strategy::Odd),
        ("Even Layer", Strategy::Even),
    ]
    .into_iter()
    .map(|(name, s)| RunSpec { name: name.into(), slug: slugify(name), layers: LayerChoice::Strategy(s) })
    .collect()
}

/// "Top-K Layer" -> "top-k-layer".
/// The longest experiment or run name.
pub const MAX_NAME: usize = 100;

/// The one rule for a name that becomes a folder: letters, digits, '-', '_' and '.', at most
/// [`MAX_NAME`] characters, not `.` or `..`.
pub fn check_folder_name(name: &str) -> std::result::Result<(), String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > MAX_NAME || !name.chars().all(allowed) || name == "." || name == ".." {
        return Err(format!(
            "cannot name a folder; use letters, digits, '-', '_' and '.' (at most {MAX_NAME}, not . or ..)"
        ));
    }
    Ok(())
}

/// A message with each line cut after 200 characters: toml quotes the offending line, which
/// may be megabytes long.
fn cut_lines(message: &str) -> String {
    let cut = |l: &str| match l.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &l[..i]),
        None => l.to_string(),
    };
    message.lines().map(cut).collect::<Vec<_>>().join("\n")
}

/// A name for a message: quoted and escaped (no control character reaches the terminal), cut
/// after 60 characters.
fn shown(name: &str) -> String {
    let cut: String = name.chars().take(60).collect();
    let more = if name.chars().count() > 60 { "…" } else { "" };
    format!("{cut:?}{more}")
}

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
        let text =
            crate::input_file::read_text(path, crate::input_file::EXPERIMENT_FILE).map_err(|e| match e.kind() {
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
            message: format!("not valid TOML: {}", cut_lines(&e.to_string())),
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
            // With no override involved, toml's own error carries the line and column; otherwise its
            // bare message, as the key is named already.
            let located = if overrides.is_empty() { toml::from_str::<ExperimentFile>(text).err() } else { None };
            let path_str = e.path().to_string();
            Error::Config {
                file: path.to_path_buf(),
                key: if path_str == "." { "file".into() } else { path_str },
                message: cut_lines(&match located {
                    Some(l) => l.to_string().trim_end().to_string(),
                    None => e.into_inner().message().to_string(),
                }),
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
                    "is {} but the teacher reads at most {max_positions} tokens (from its max_position_embeddings); use at most {max_positions}",
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
                    LayerChoice::Strategy(s) => strategy_layers(*s, teacher_depth, self.student_layers)
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

/// Checks the parsed file section by section, in the file's order; the first bad value stops it.
fn check(f: ExperimentFile, path: &Path, base: &Path, resolved_toml: String) -> Result<Experiment> {
    let c = Checker { file: path, base };
    let (name, dir, seeds) = c.experiment(&f.experiment)?;
    let teacher = c.teacher(&f.teacher)?;
    let student_layers = c.positive("student.num_layers", f.student.num_layers)?;
    let data = c.data(&f.data)?;
    let training = c.training(&f.training)?;
    let runs = c.runs(&f.runs, student_layers)?;
    Ok(Experiment {
        file: path.to_path_buf(),
        name,
        dir,
        seeds,
        teacher,
        student_layers,
        data,
        training,
        runs,
        resolved_toml,
    })
}

/// What every step needs: the file (named in errors) and its folder (relative paths start there).
struct Checker<'a> {
    file: &'a Path,
    base: &'a Path,
}

impl Checker<'_> {
    fn err(&self, key: &str, message: String) -> Error {
        Error::Config { file: self.file.to_path_buf(), key: key.into(), message }
    }

    fn positive(&self, key: &str, v: i64) -> Result<usize> {
        if v < 1 { Err(self.err(key, format!("is {v}; it must be at least 1"))) } else { Ok(v as usize) }
    }

    fn non_negative(&self, key: &str, v: i64) -> Result<usize> {
        if v < 0 { Err(self.err(key, format!("is {v}; it must be 0 or more"))) } else { Ok(v as usize) }
    }

    fn finite_positive(&self, key: &str, v: f64) -> Result<f64> {
        if v.is_finite() && v > 0.0 {
            Ok(v)
        } else {
            Err(self.err(key, format!("is {v}; it must be a number above 0")))
        }
    }

    /// A path of the file, relative to its folder unless absolute.
    fn resolve(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        normalize(&if p.is_absolute() { p.to_path_buf() } else { self.base.join(p) })
    }

    /// `[experiment]`: the name (a folder under `output_dir`), that folder, and the seeds.
    fn experiment(&self, e: &ExperimentSection) -> Result<(String, PathBuf, Vec<u64>)> {
        let name = e.name.trim().to_string();
        check_folder_name(&name).map_err(|m| self.err("experiment.name", format!("{} {m}", shown(&e.name))))?;
        if e.seeds.is_empty() {
            return Err(self.err("experiment.seeds", "is empty; give at least one seed, e.g. seeds = [42]".into()));
        }
        let mut seeds = Vec::new();
        for &s in &e.seeds {
            if s < 0 {
                return Err(self.err("experiment.seeds", format!("holds {s}; seeds are 0 or more")));
            }
            if seeds.contains(&(s as u64)) {
                return Err(
                    self.err("experiment.seeds", format!("lists {s} twice; each seed runs the whole matrix once"))
                );
            }
            seeds.push(s as u64);
        }
        let dir = self.resolve(&e.output_dir).join(&name);
        Ok((name, dir, seeds))
    }

    /// `[teacher]`: a folder relative to this file if there is one, else a Hub id.
    fn teacher(&self, t: &TeacherSection) -> Result<TeacherSpec> {
        let model = {
            let local = self.resolve(&t.model);
            if local.exists() { local.to_string_lossy().into_owned() } else { t.model.clone() }
        };
        if model.trim().is_empty() {
            return Err(self
                .err("teacher.model", "is empty; give a Hub id like \"bert-base-uncased\" or a model folder".into()));
        }
        Ok(TeacherSpec {
            model,
            revision: t.revision.clone(),
            finetune_epochs: self.non_negative("teacher.finetune_epochs", t.finetune_epochs)?,
        })
    }

    /// `[data]`: the task, where its examples come from, and how many of them, how long.
    fn data(&self, d: &DataSection) -> Result<DataSpec> {
        let task = Task::by_name(&d.task.to_ascii_lowercase()).ok_or_else(|| {
            self.err(
                "data.task",
                format!("\"{}\" is not a GLUE classification task; use one of {}", d.task, Task::names().join(", ")),
            )
        })?;
        let train = self.source("data.train", &d.train)?;
        let validation = self.source("data.validation", &d.validation)?;
        let validation_split = self.validation_split(task, d.validation_split.as_deref())?;
        if let Some(cols) = &d.text_columns
            && (cols.is_empty() || cols.len() > 2)
        {
            return Err(self.err(
                "data.text_columns",
                format!("lists {} columns; give one (single sentences) or two (pairs)", cols.len()),
            ));
        }
        Ok(DataSpec {
            task,
            train,
            validation,
            validation_split,
            train_examples: d.train_examples.map(|v| self.positive("data.train_examples", v)).transpose()?,
            validation_examples: d
                .validation_examples
                .map(|v| self.positive("data.validation_examples", v))
                .transpose()?,
            max_length: self.max_length(d.max_length)?,
            shuffle_seed: self.non_negative("data.shuffle_seed", d.shuffle_seed)? as u64,
            text_columns: d.text_columns.clone(),
            label_column: d.label_column.clone(),
        })
    }

    /// `data.train` or `data.validation`: `"hub"` or a data file that exists.
    fn source(&self, key: &str, v: &str) -> Result<DataSource> {
        if v == "hub" {
            return Ok(DataSource::Hub);
        }
        let p = self.resolve(v);
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
        if !matches!(ext.as_str(), "tsv" | "csv" | "jsonl" | "parquet") {
            return Err(self.err(key, format!("\"{v}\" must be \"hub\" or a .tsv, .csv, .jsonl or .parquet file")));
        }
        if p.exists() && !p.is_file() {
            let what = if p.is_dir() { "a folder" } else { "not a regular file (a device, pipe or socket)" };
            return Err(self.err(key, format!("{} is {what}; give a data file", p.display())));
        }
        if !p.is_file() {
            return Err(self.err(
                key,
                format!(
                    "file {} does not exist (relative paths in {} are relative to its folder; in --set, to the working directory)",
                    p.display(),
                    self.file.display()
                ),
            ));
        }
        Ok(DataSource::File(p))
    }

    /// `data.validation_split`: a labelled split of the task (its default when not given).
    fn validation_split(&self, task: &Task, given: Option<&str>) -> Result<String> {
        let split = given.unwrap_or(task.validation_split).to_string();
        if split.starts_with("test") {
            return Err(self.err(
                "data.validation_split",
                format!(
                    "\"{split}\" is a GLUE test split: its labels are hidden (-1), so it cannot be evaluated; use {}",
                    task.validation_split
                ),
            ));
        }
        // Checked for local files too: a misspelt split is a mistake either way.
        if !task.splits.contains(&split.as_str()) {
            return Err(self.err(
                "data.validation_split",
                format!("\"{split}\" is not a split of {}; use one of {}", task.name, task.splits[1..].join(", ")),
            ));
        }
        Ok(split)
    }

    /// `data.max_length`: room for [CLS] text [SEP]; the teacher's positions are checked in `plan`.
    fn max_length(&self, v: i64) -> Result<usize> {
        let m = self.positive("data.max_length", v)?;
        if m < 3 {
            return Err(self.err("data.max_length", format!("is {m}; [CLS] text [SEP] needs at least 3")));
        }
        Ok(m)
    }

    /// `[training]`: the loop's numbers and the loss.
    fn training(&self, t: &TrainingSection) -> Result<TrainingSpec> {
        let loss_weights = self.loss_weights(&t.loss_weights)?;
        Ok(TrainingSpec {
            epochs: self.non_negative("training.epochs", t.epochs)?,
            batch_size: self.positive("training.batch_size", t.batch_size)?,
            learning_rate: self.finite_positive("training.learning_rate", t.learning_rate)?,
            warmup_steps: self.non_negative("training.warmup_steps", t.warmup_steps)?,
            temperature: self.finite_positive("training.temperature", t.temperature)?,
            loss_weights,
            cosine_target: t.cosine_target,
            precision: t.precision,
        })
    }

    /// `[training.loss_weights]`: each 0 or more, not all 0.
    fn loss_weights(&self, w: &LossWeightsSection) -> Result<LossWeights> {
        for (key, v) in [
            ("training.loss_weights.ce", w.ce),
            ("training.loss_weights.kl", w.kl),
            ("training.loss_weights.cosine", w.cosine),
        ] {
            if !v.is_finite() || v < 0.0 {
                return Err(self.err(key, format!("is {v}; loss weights are 0 or more")));
            }
        }
        if w.ce + w.kl + w.cosine <= 0.0 {
            return Err(self.err("training.loss_weights", "are all 0; at least one term must count".into()));
        }
        Ok(LossWeights { ce: w.ce, kl: w.kl, cosine: w.cosine })
    }

    /// `[[runs]]`: the four strategies when none is listed; names must give distinct folders.
    fn runs(&self, listed: &[RunSection], student_layers: usize) -> Result<Vec<RunSpec>> {
        if listed.is_empty() {
            return Ok(default_runs());
        }
        let mut runs: Vec<RunSpec> = Vec::new();
        for (i, r) in listed.iter().enumerate() {
            let key = |k: &str| format!("runs[{i}].{k}");
            let layers = self.run_layers(i, r, student_layers)?;
            if r.name.chars().count() > MAX_NAME || r.name.chars().any(char::is_control) {
                return Err(self.err(
                    &key("name"),
                    format!("{} must be at most {MAX_NAME} characters, without control characters", shown(&r.name)),
                ));
            }
            let slug = slugify(&r.name);
            if slug.is_empty() {
                return Err(self.err(&key("name"), format!("{:?} needs at least one letter or digit", r.name)));
            }
            if let Some(other) = runs.iter().find(|o| o.slug == slug) {
                return Err(self.err(
                    &key("name"),
                    format!("\"{}\" clashes with \"{}\" (both save to {slug}/); rename one", r.name, other.name),
                ));
            }
            runs.push(RunSpec { name: r.name.clone(), slug, layers });
        }
        Ok(runs)
    }

    /// The `i`th run's `teacher_layers` or `strategy` (exactly one of them).
    fn run_layers(&self, i: usize, r: &RunSection, student_layers: usize) -> Result<LayerChoice> {
        let key = |k: &str| format!("runs[{i}].{k}");
        match (&r.teacher_layers, r.strategy) {
            (Some(l), None) => {
                // Length, duplicates and 0 need no teacher; the range is checked in `plan`.
                check_layers(l, usize::MAX, student_layers)
                    .map_err(|m| self.err(&key("teacher_layers"), format!("(\"{}\") {m}", r.name)))?;
                Ok(LayerChoice::Explicit(l.clone()))
            }
            (None, Some(s)) => Ok(LayerChoice::Strategy(s)),
            (Some(_), Some(_)) => Err(self.err(&key("strategy"), "give teacher_layers or strategy, not both".into())),
            (None, None) => Err(self
                .err(&key("teacher_layers"), "is missing; give teacher_layers = [...] or strategy = \"top\"".into())),
        }
    }
}

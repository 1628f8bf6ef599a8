//! `experiments.toml` as written by the user: serde structs that mirror the file. Numbers are
//! read wide (i64/f64) so that a 0 or a negative value gets a message naming the key rather
//! than a type error; [`super::spec`] checks them and builds the validated experiment. The
//! keywords (`strategy`, `cosine_target`) are enums: serde refuses any other word, with a message
//! that names it and the accepted ones, at the key and the line.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentFile {
    pub experiment: ExperimentSection,
    pub teacher: TeacherSection,
    pub student: StudentSection,
    pub data: DataSection,
    #[serde(default)]
    pub training: TrainingSection,
    #[serde(default)]
    pub runs: Vec<RunSection>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentSection {
    pub name: String,
    #[serde(default = "default_output_dir")]
    pub output_dir: String,
    #[serde(default = "default_seeds")]
    pub seeds: Vec<i64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TeacherSection {
    pub model: String,
    #[serde(default = "default_revision")]
    pub revision: String,
    #[serde(default)]
    pub finetune_epochs: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StudentSection {
    pub num_layers: i64,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataSection {
    pub task: String,
    #[serde(default = "default_hub")]
    pub train: String,
    #[serde(default = "default_hub")]
    pub validation: String,
    pub validation_split: Option<String>,
    pub train_examples: Option<i64>,
    pub validation_examples: Option<i64>,
    #[serde(default = "default_max_length")]
    pub max_length: i64,
    #[serde(default = "default_shuffle_seed")]
    pub shuffle_seed: i64,
    pub text_columns: Option<Vec<String>>,
    pub label_column: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingSection {
    #[serde(default = "default_epochs")]
    pub epochs: i64,
    #[serde(default = "default_batch_size")]
    pub batch_size: i64,
    #[serde(default = "default_learning_rate")]
    pub learning_rate: f64,
    #[serde(default)]
    pub warmup_steps: i64,
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    #[serde(default)]
    pub loss_weights: LossWeightsSection,
    #[serde(default)]
    pub cosine_target: CosineTarget,
    #[serde(default)]
    pub precision: Precision,
}

impl Default for TrainingSection {
    fn default() -> Self {
        Self {
            epochs: default_epochs(),
            batch_size: default_batch_size(),
            learning_rate: default_learning_rate(),
            warmup_steps: 0,
            temperature: default_temperature(),
            loss_weights: LossWeightsSection::default(),
            cosine_target: CosineTarget::default(),
            precision: Precision::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LossWeightsSection {
    #[serde(default = "one")]
    pub ce: f64,
    #[serde(default = "one")]
    pub kl: f64,
    #[serde(default = "one")]
    pub cosine: f64,
}

impl Default for LossWeightsSection {
    fn default() -> Self {
        Self { ce: 1.0, kl: 1.0, cosine: 1.0 }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RunSection {
    pub name: String,
    pub teacher_layers: Option<Vec<i64>>,
    pub strategy: Option<Strategy>,
}

/// `runs[].strategy`: a named choice of teacher layers, sized from both depths by
/// [`super::layers::strategy_layers`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum Strategy {
    Top,
    Bottom,
    Odd,
    Even,
}

impl Strategy {
    pub const ALL: [Strategy; 4] = [Strategy::Top, Strategy::Bottom, Strategy::Odd, Strategy::Even];

    /// The word in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Top => "top",
            Strategy::Bottom => "bottom",
            Strategy::Odd => "odd",
            Strategy::Even => "even",
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The message names the word and the accepted ones; serde adds the key and the line.
impl TryFrom<String> for Strategy {
    type Error = String;
    fn try_from(word: String) -> Result<Self, String> {
        Strategy::ALL.into_iter().find(|s| s.as_str() == word).ok_or_else(|| {
            let names: Vec<&str> = Strategy::ALL.iter().map(|s| s.as_str()).collect();
            format!("\"{word}\" is not known; use one of {} or give teacher_layers", names.join(", "))
        })
    }
}

/// `training.cosine_target`: what the cosine term of the loss compares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum CosineTarget {
    /// Cosine between teacher and student logits (the reference notebook).
    #[default]
    Logits,
    /// Cosine between the last-layer [CLS] hidden states (DistilBERT's choice).
    ClsHidden,
}

/// The message names the word and the accepted ones; serde adds the key and the line.
impl TryFrom<String> for CosineTarget {
    type Error = String;
    fn try_from(word: String) -> Result<Self, String> {
        match word.as_str() {
            "logits" => Ok(CosineTarget::Logits),
            "cls_hidden" => Ok(CosineTarget::ClsHidden),
            _ => Err(format!("\"{word}\" is not known; use \"logits\" or \"cls_hidden\"")),
        }
    }
}

/// `training.precision`: the number format of the forward and backward passes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case", try_from = "String")]
pub enum Precision {
    /// Everything in f32.
    #[default]
    F32,
    /// Mixed precision: matrix products, attention scores, GELU and dropout in bfloat16;
    /// LayerNorm, softmax and the loss in f32; f32 weights, gradients and Adam state (what
    /// HF Trainer's `--bf16` does).
    Bf16,
}

impl Precision {
    pub fn is_f32(&self) -> bool {
        *self == Precision::F32
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
        }
    }
}

impl TryFrom<String> for Precision {
    type Error = String;
    fn try_from(word: String) -> Result<Self, String> {
        match word.as_str() {
            "f32" => Ok(Precision::F32),
            "bf16" => Ok(Precision::Bf16),
            "fp16" | "f16" => Err(format!(
                "\"{word}\" is not supported: float16 training needs loss scaling to avoid overflow and \
                 underflow, which burn does not offer; use \"bf16\" (same speed on GPUs that have it, f32's range)"
            )),
            _ => Err(format!("\"{word}\" is not known; use \"f32\" or \"bf16\"")),
        }
    }
}

fn default_output_dir() -> String {
    "checkpoints".into()
}
fn default_seeds() -> Vec<i64> {
    vec![42]
}
fn default_revision() -> String {
    "main".into()
}
fn default_hub() -> String {
    "hub".into()
}
fn default_max_length() -> i64 {
    128
}
fn default_shuffle_seed() -> i64 {
    1150
}
fn default_epochs() -> i64 {
    5
}
fn default_batch_size() -> i64 {
    32
}
fn default_learning_rate() -> f64 {
    5e-5
}
fn default_temperature() -> f64 {
    1.0
}
fn one() -> f64 {
    1.0
}

//! The command line's arguments (clap): the options of a plain run and each command's own.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::backend::BackendChoice;
use crate::model::Family;

#[derive(Debug, Parser)]
#[command(
    name = "distill-tui",
    version,
    about = "Distill BERT into students initialized from chosen teacher layers, and compare the choices",
    after_help = "Without a command, runs the experiment matrix of --config and prints the results table. \
                  New here? `distill-tui demo` runs a small synthetic experiment that needs no download.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(flatten)]
    pub backend: BackendArg,

    #[command(flatten)]
    pub config: ConfigArgs,

    #[command(flatten)]
    pub monitor: MonitorArgs,

    /// Start the experiment over: its existing folder is first renamed to <name>.old-N (never
    /// deleted). Without it, a rerun resumes: finished runs are kept, an interrupted run
    /// continues from its last finished epoch.
    #[arg(long)]
    pub fresh: bool,

    #[command(flatten)]
    pub spread: SpreadArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// [`Parser::parse`], where a command given after options of another says where its own go.
    pub fn parse_with_tips() -> Self {
        Self::try_parse().unwrap_or_else(|e| with_tips(e).exit())
    }
}

/// Adds a tip to clap's "the subcommand 'bench' cannot be used with '--backend <BACKEND>'" (as in
/// `distill-tui --backend cuda bench`, which once worked): a command's options go after it.
pub fn with_tips(mut e: clap::Error) -> clap::Error {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    if e.kind() == ErrorKind::ArgumentConflict
        && let Some(ContextValue::String(sub)) = e.get(ContextKind::InvalidSubcommand).cloned()
    {
        let tip =
            format!("a command's options go after it: `distill-tui {sub} [OPTIONS]` (see `distill-tui {sub} --help`)");
        e.insert(ContextKind::Suggested, ContextValue::StyledStrs(vec![tip.into()]));
    }
    e
}

/// `--backend`, for the commands that compute.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct BackendArg {
    /// Where to compute. auto: CUDA when built with it and an NVIDIA GPU answers, then a GPU
    /// through WGPU when built with it (an integrated one only if it beats the CPU; never a
    /// software one), else the CPU; the header and results.json say what was chosen and why.
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
}

/// `--config` and `--set`: which experiment, for running it or finding its folder.
#[derive(Debug, Clone, clap::Args)]
pub struct ConfigArgs {
    /// The experiment file.
    #[arg(long, default_value = "experiments.toml")]
    pub config: PathBuf,

    /// Override a config value before validation, e.g. --set training.epochs=1 (repeatable;
    /// dotted keys, TOML values; a bare path is a string).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
}

/// Several cells at once on one machine, each in its own process.
#[derive(Debug, Clone, clap::Args)]
pub struct SpreadArgs {
    /// After the teacher, run up to N cells at once, each in its own process (on the CPU each
    /// gets cores / N threads).
    #[arg(long, value_name = "N", conflicts_with = "devices", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallel: Option<u16>,

    /// After the teacher, run one cell per GPU at once, each in its own process that sees only
    /// its GPU (CUDA_VISIBLE_DEVICES), e.g. --devices 0,1,2,3.
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub devices: Vec<String>,
}

/// How an experiment matrix is watched and computed.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct MonitorArgs {
    /// Print one line per epoch instead of the terminal monitor (also what happens when stdout
    /// is not a terminal).
    #[arg(long)]
    pub headless: bool,

    /// Run the teacher in every step instead of computing its outputs once (same results,
    /// slower; for checking).
    #[arg(long)]
    pub no_teacher_cache: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify text with a model folder or Hub id and print the label and probabilities.
    Predict(PredictArgs),
    /// Time one distillation step on random weights (teacher forward, student forward and
    /// backward, Adam) and print examples/s, GFLOP/s and peak memory.
    Bench(BenchArgs),
    /// Run a small SYNTHETIC experiment (generated 12-layer teacher and task, four 6-layer
    /// students) that needs no download: for trying the tool and checking a machine or GPU.
    /// Every demo starts over.
    Demo(DemoArgs),
    /// Print the results table of an experiment folder (default: the one --config writes to).
    Report(ReportArgs),
    /// Run one cell (a seed and a run) of the matrix, headless, in a folder whose teacher is
    /// ready; rerunning resumes it. For Slurm array tasks: exit 0 when the cell ended (done,
    /// skipped or diverged), 143 when stopped by SIGTERM (scancel, time limit), 2 for bad input.
    RunCell(RunCellArgs),
    /// Submit the matrix to Slurm from a login node: a teacher job, then an array job of the
    /// cells that have not ended (depending on it). Checks everything and downloads the model
    /// and data first; writes editable scripts to <experiment>/slurm/. Rerun to submit what is left.
    Submit(SubmitArgs),
    /// Try the teacher and every saved student of an experiment on your own sentences, side by
    /// side: each model's label, probabilities, agreement with the teacher and latency.
    Try(TryArgs),
    /// Attach the monitor, read-only, to an experiment other processes are writing (a
    /// --headless, --parallel or --devices run, Slurm cells on a shared filesystem); q leaves
    /// and the run goes on.
    Watch(WatchArgs),
    /// Fine-tune the teacher and save its outputs, headless, so that cells can run (a Slurm
    /// teacher job); the same folder and files as the whole matrix.
    RunTeacher(RunTeacherArgs),
}

#[derive(Debug, clap::Args)]
pub struct RunCellArgs {
    /// The cell: its index in plan order (seed by seed, each seed's runs in order), from 0.
    #[arg(long)]
    pub index: usize,
    #[command(flatten)]
    pub backend: BackendArg,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Run the teacher in every step instead of reading its saved outputs.
    #[arg(long)]
    pub no_teacher_cache: bool,
}

#[derive(Debug, clap::Args)]
pub struct SubmitArgs {
    /// Submit to Slurm (the one scheduler supported).
    #[arg(long, required = true)]
    pub slurm: bool,
    /// Slurm partition.
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per job (Slurm's format, e.g. 4:00:00); a cell stopped by it resumes when submitted again.
    #[arg(long)]
    pub time: Option<String>,
    /// GPUs per job (--gres=gpu:N); 0 for CPU cells.
    #[arg(long, default_value_t = 1)]
    pub gpus_per_cell: u32,
    /// CPU cores per job (--cpus-per-task).
    #[arg(long)]
    pub cpus_per_cell: Option<u32>,
    /// At most K cells at once (--array=...%K).
    #[arg(long, value_name = "K")]
    pub max_parallel: Option<u32>,
    /// Another sbatch option for both scripts, e.g. --sbatch-arg=--account=nlp (repeatable).
    #[arg(long = "sbatch-arg", value_name = "ARG", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// Print the scripts and the sbatch commands; write and submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Use the scripts in <experiment>/slurm/ as you edited them, although submit's own settings
    /// (--time, --partition, ...) changed since it wrote them (submit says which).
    #[arg(long)]
    pub keep_scripts: bool,
    /// Where the jobs compute (auto: the node's GPU when the build has its backend, else the CPU).
    #[arg(long, value_enum, default_value_t = BackendChoice::Auto)]
    pub backend: BackendChoice,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct TryArgs {
    /// An experiment folder (checkpoints/<name>) [default: the folder of the experiment of --config].
    pub dir: Option<PathBuf>,
    /// Try these model folders or Hub ids instead (repeatable; the first is the reference the
    /// others are compared with).
    #[arg(long)]
    pub model: Vec<String>,
    #[command(flatten)]
    pub backend: BackendArg,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct WatchArgs {
    /// An experiment folder (checkpoints/<name>) [default: the folder of the experiment of --config].
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
}

#[derive(Debug, clap::Args)]
pub struct RunTeacherArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Start the experiment over (its folder is renamed to <name>.old-N first).
    #[arg(long)]
    pub fresh: bool,
    /// Do not compute the teacher's outputs (the cells will run the teacher in every step).
    #[arg(long)]
    pub no_teacher_cache: bool,
}

#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    /// Model folder (config.json, model.safetensors, tokenizer.json) or Hub id.
    #[arg(long)]
    pub model: String,
    /// Hub revision (branch, tag or commit), for a Hub id.
    #[arg(long, default_value = "main")]
    pub revision: String,
    /// Truncate inputs to this many tokens [default: the model's position limit].
    #[arg(long)]
    pub max_length: Option<usize>,
    /// Print one JSON object {"label", "label_id", "logits", "probs"} per input.
    #[arg(long)]
    pub json: bool,
    /// Read inputs from a JSON Lines file of {"text": ..., "text_pair": ...}; prints JSON lines.
    #[arg(long, conflicts_with_all = ["text", "text_pair"])]
    pub input: Option<PathBuf>,
    /// The text to classify.
    #[arg(required_unless_present = "input")]
    pub text: Option<String>,
    /// Second text of a pair (premise/hypothesis, question/sentence, ...).
    pub text_pair: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    /// Hidden size of teacher and student, a multiple of 64 (one attention head per 64;
    /// BERT-base is 768, MiniLM 384).
    #[arg(long, default_value_t = 384)]
    pub hidden: usize,
    /// Teacher layers; the student has half.
    #[arg(long, default_value_t = 12)]
    pub layers: usize,
    /// Examples per step.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Tokens per example, without padding (at most 512).
    #[arg(long, default_value_t = 128)]
    pub seq: usize,
    /// Timed steps, after one warm-up step.
    #[arg(long, default_value_t = 5)]
    pub steps: usize,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// The number format of the forward and backward passes, as `training.precision`.
    #[arg(long, value_enum, default_value_t = crate::experiment::Precision::F32)]
    pub precision: crate::experiment::Precision,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub backend: BackendArg,
    /// Where the generated inputs and the results go.
    #[arg(long, default_value = "checkpoints")]
    pub dir: PathBuf,
    /// The generated teacher's family: bert, roberta, xlm-roberta, electra or distilbert (its
    /// checkpoint's format and tokenizer; the students are saved in it too).
    #[arg(long, default_value = "bert", value_parser = parse_family)]
    pub family: Family,
    #[command(flatten)]
    pub monitor: MonitorArgs,
}

fn parse_family(name: &str) -> std::result::Result<Family, String> {
    Family::from_model_type(name)
}

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// An experiment folder (checkpoints/<name>) or its results.json [default: the folder of
    /// the experiment of --config].
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Also draw the plots into <experiment>/plots/ (SVG and PNG, and data.json with their numbers).
    #[arg(long)]
    pub plots: bool,
}

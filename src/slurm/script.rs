//! The two batch scripts `submit --slurm` writes: readable, and meant to be edited (module
//! loads, containers). The array range and the dependency go on sbatch's command line, so the
//! same scripts serve every resubmission.

use std::path::Path;

/// What both scripts share.
#[derive(Debug, Clone)]
pub struct ScriptSettings {
    pub job_name: String,
    pub partition: Option<String>,
    pub time: Option<String>,
    pub gpus_per_cell: u32,
    pub cpus_per_cell: Option<u32>,
    /// More `#SBATCH` options, as given.
    pub sbatch_args: Vec<String>,
    /// Where the jobs start (the folder `submit` ran in: relative paths resolve as there).
    pub workdir: String,
    /// The distill-tui binary, by absolute path.
    pub program: String,
    /// `--config ... --set ... --backend ...`.
    pub args: Vec<String>,
}

/// A word for a POSIX shell: as is when it is plain, else in single quotes.
pub fn quote(word: &str) -> String {
    let plain = !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    if plain { word.to_string() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

fn header(s: &ScriptSettings, what: &str, output: &Path) -> String {
    let mut h = String::from("#!/bin/bash\n");
    h.push_str(&format!("# distill-tui: {what}. Written by `distill-tui submit --slurm`; edit freely\n"));
    h.push_str("# (module loads, a container, the environment); a rerun of submit keeps your edits.\n");
    h.push_str(&format!("#SBATCH --job-name={}\n", s.job_name));
    h.push_str(&format!("#SBATCH --output={}\n", output.display()));
    if let Some(p) = &s.partition {
        h.push_str(&format!("#SBATCH --partition={p}\n"));
    }
    if let Some(t) = &s.time {
        h.push_str(&format!("#SBATCH --time={t}\n"));
    }
    if s.gpus_per_cell > 0 {
        h.push_str(&format!("#SBATCH --gres=gpu:{}\n", s.gpus_per_cell));
    }
    if let Some(c) = s.cpus_per_cell {
        h.push_str(&format!("#SBATCH --cpus-per-task={c}\n"));
    }
    // A preempted or requeued task starts again, and the cell resumes from its checkpoint.
    h.push_str("#SBATCH --requeue\n");
    for a in &s.sbatch_args {
        h.push_str(&format!("#SBATCH {a}\n"));
    }
    h.push_str("set -euo pipefail\n");
    h.push_str(&format!("cd {}\n", quote(&s.workdir)));
    h.push_str("# Compute nodes often have no internet: the model and data were downloaded by submit.\n");
    h.push_str("export HF_HUB_OFFLINE=1\n");
    if let Ok(home) = std::env::var("HF_HOME") {
        h.push_str(&format!("export HF_HOME={}\n", quote(&home)));
    }
    h
}

fn command(s: &ScriptSettings, sub: &[&str]) -> String {
    let mut words = vec![quote(&s.program)];
    words.extend(sub.iter().map(|w| w.to_string()));
    words.extend(s.args.iter().map(|a| quote(a)));
    format!("exec {}\n", words.join(" "))
}

/// The teacher job: fine-tunes the teacher and saves its outputs.
pub fn teacher_script(s: &ScriptSettings, slurm_dir: &Path) -> String {
    header(s, "the teacher's fine-tune and outputs", &slurm_dir.join("teacher-%j.out")) + &command(s, &["run-teacher"])
}

/// The array job: one task per cell, the task id is the cell's index.
pub fn cells_script(s: &ScriptSettings, slurm_dir: &Path) -> String {
    header(s, "one cell of the matrix per array task", &slurm_dir.join("cell-%A_%a.out"))
        + &command(s, &["run-cell", "--index", "\"$SLURM_ARRAY_TASK_ID\""])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_quoted_only_when_needed() {
        assert_eq!(quote("/opt/distill-tui"), "/opt/distill-tui");
        assert_eq!(quote("training.epochs=3"), "training.epochs=3");
        assert_eq!(quote("name with space"), "'name with space'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$(rm -rf ~)"), "'$(rm -rf ~)'");
    }

    #[test]
    fn the_cells_script_runs_the_task_s_cell_offline_in_the_submit_folder() {
        let s = ScriptSettings {
            job_name: "tiny".into(),
            partition: Some("gpu".into()),
            time: Some("2:00:00".into()),
            gpus_per_cell: 1,
            cpus_per_cell: Some(8),
            sbatch_args: vec!["--account=nlp".into()],
            workdir: "/home/me/exp".into(),
            program: "/home/me/bin/distill-tui".into(),
            args: vec!["--config".into(), "experiments.toml".into(), "--set".into(), "seeds=[1, 2]".into()],
        };
        let text = cells_script(&s, Path::new("/home/me/exp/checkpoints/tiny/slurm"));
        for line in [
            "#SBATCH --output=/home/me/exp/checkpoints/tiny/slurm/cell-%A_%a.out",
            "#SBATCH --partition=gpu",
            "#SBATCH --time=2:00:00",
            "#SBATCH --gres=gpu:1",
            "#SBATCH --cpus-per-task=8",
            "#SBATCH --requeue",
            "#SBATCH --account=nlp",
            "cd /home/me/exp",
            "export HF_HUB_OFFLINE=1",
            "exec /home/me/bin/distill-tui run-cell --index \"$SLURM_ARRAY_TASK_ID\" --config experiments.toml --set 'seeds=[1, 2]'",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in\n{text}");
        }
        assert!(text.starts_with("#!/bin/bash\n"));
    }
}

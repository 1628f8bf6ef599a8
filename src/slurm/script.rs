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

/// A value for an `#SBATCH` line, as sbatch reads those lines: whitespace splits them into
/// arguments, single or double quotes group, a backslash escapes the next character, and an
/// unquoted `#` starts a comment. A plain value is written as it is; any other in double quotes,
/// its backslashes and double quotes escaped. A line end cannot be written (it would end the
/// `#SBATCH` line and make the rest a shell command on the compute node): refused, naming `what`.
pub fn sbatch_value(value: &str, what: &str) -> Result<String, String> {
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{what} {value:?} holds a control character ({c:?}), which an #SBATCH line cannot carry; give it without"
        ));
    }
    let plain = !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,@%+".contains(c));
    Ok(if plain { value.to_string() } else { format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\"")) })
}

/// `path` as a Slurm filename pattern: `%` is Slurm's (`%j`, `%A`, `%a`), so a `%` of the folder
/// is doubled; a backslash would turn the patterns off and is refused.
fn output_pattern(dir: &Path, file: &str) -> Result<String, String> {
    let dir = dir.display().to_string();
    if dir.contains('\\') {
        return Err(format!(
            "the folder {dir:?} holds a backslash, which Slurm reads in --output as \"no patterns\"; use another folder"
        ));
    }
    Ok(format!("{}/{file}", dir.replace('%', "%%")))
}

fn header(s: &ScriptSettings, what: &str, output: &str) -> Result<String, String> {
    let mut h = String::from("#!/bin/bash\n");
    h.push_str(&format!("# distill-tui: {what}. Written by `distill-tui submit --slurm`; edit freely\n"));
    h.push_str("# (module loads, a container, the environment): submit keeps your edits, and says so\n");
    h.push_str("# when its own settings change (--time, --partition, ...).\n");
    let line = |h: &mut String, option: &str, value: &str| -> Result<(), String> {
        h.push_str(&format!("#SBATCH --{option}={}\n", sbatch_value(value, &format!("--{option}"))?));
        Ok(())
    };
    line(&mut h, "job-name", &s.job_name)?;
    line(&mut h, "output", output)?;
    if let Some(p) = &s.partition {
        line(&mut h, "partition", p)?;
    }
    if let Some(t) = &s.time {
        line(&mut h, "time", t)?;
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
        h.push_str(&format!("#SBATCH {}\n", sbatch_value(a, "--sbatch-arg")?));
    }
    h.push_str("set -euo pipefail\n");
    h.push_str(&format!("cd {}\n", quote(&s.workdir)));
    h.push_str("# Compute nodes often have no internet: the model and data were downloaded by submit.\n");
    h.push_str("export HF_HUB_OFFLINE=1\n");
    if let Ok(home) = std::env::var("HF_HOME") {
        h.push_str(&format!("export HF_HOME={}\n", quote(&home)));
    }
    Ok(h)
}

fn command(s: &ScriptSettings, sub: &[&str]) -> String {
    let mut words = vec![quote(&s.program)];
    words.extend(sub.iter().map(|w| w.to_string()));
    words.extend(s.args.iter().map(|a| quote(a)));
    format!("exec {}\n", words.join(" "))
}

/// The teacher job: fine-tunes the teacher and saves its outputs.
pub fn teacher_script(s: &ScriptSettings, slurm_dir: &Path) -> Result<String, String> {
    let output = output_pattern(slurm_dir, "teacher-%j.out")?;
    Ok(header(s, "the teacher's fine-tune and outputs", &output)? + &command(s, &["run-teacher"]))
}

/// The array job: one task per cell, the cell's index the task id plus the array's offset
/// (`DISTILL_TUI_CELL_OFFSET`, set by submit when a matrix has more cells than Slurm's
/// MaxArraySize allows in one array).
pub fn cells_script(s: &ScriptSettings, slurm_dir: &Path) -> Result<String, String> {
    let output = output_pattern(slurm_dir, "cell-%A_%a.out")?;
    Ok(header(s, "one cell of the matrix per array task", &output)?
        + &command(s, &["run-cell", "--index", "\"$((SLURM_ARRAY_TASK_ID + ${DISTILL_TUI_CELL_OFFSET:-0}))\""]))
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
        let text = cells_script(&s, Path::new("/home/me/exp/checkpoints/tiny/slurm")).unwrap();
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
            "exec /home/me/bin/distill-tui run-cell --index \"$((SLURM_ARRAY_TASK_ID + ${DISTILL_TUI_CELL_OFFSET:-0}))\" --config experiments.toml --set 'seeds=[1, 2]'",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in\n{text}");
        }
        assert!(text.starts_with("#!/bin/bash\n"));
    }

    #[test]
    fn sbatch_values_are_quoted_as_sbatch_reads_them_and_line_ends_refused() {
        assert_eq!(sbatch_value("gpu", "p").unwrap(), "gpu");
        assert_eq!(sbatch_value("/home/me/My Experiments/x", "o").unwrap(), "\"/home/me/My Experiments/x\"");
        assert_eq!(sbatch_value("a#b", "o").unwrap(), "\"a#b\"", "a # would start a comment");
        assert_eq!(sbatch_value(r#"say "hi"\"#, "o").unwrap(), r#""say \"hi\"\\""#);
        let e = sbatch_value("gpu\nrm -rf ~", "--partition").unwrap_err();
        assert!(e.contains("--partition") && e.contains("control character"), "{e}");
        assert_eq!(output_pattern(Path::new("/x/100%/s"), "t-%j.out").unwrap(), "/x/100%%/s/t-%j.out");
        assert!(output_pattern(Path::new("/x/a\\b"), "t").is_err());
        let s = ScriptSettings {
            job_name: "tiny".into(),
            partition: Some("gpu batch".into()),
            time: None,
            gpus_per_cell: 0,
            cpus_per_cell: None,
            sbatch_args: vec!["--comment=a # b".into()],
            workdir: "/home/me/My Experiments".into(),
            program: "/opt/distill-tui".into(),
            args: vec![],
        };
        let text = teacher_script(&s, Path::new("/home/me/My Experiments/out/tiny/slurm")).unwrap();
        for line in [
            "#SBATCH --output=\"/home/me/My Experiments/out/tiny/slurm/teacher-%j.out\"",
            "#SBATCH --partition=\"gpu batch\"",
            "#SBATCH \"--comment=a # b\"",
            "cd '/home/me/My Experiments'",
        ] {
            assert!(text.lines().any(|l| l == line), "no line {line:?} in\n{text}");
        }
    }
}

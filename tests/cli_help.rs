//! The command line: every argument of every command says what it does, each command has only
//! the flags it uses, and a first run without a config points to `distill-tui demo`.

use std::process::{Command, Output};

use clap::CommandFactory;
use distill_tui::cli::Cli;

/// Every argument of `cmd` and of its subcommands, as (command path, argument id, help).
fn all_args(cmd: &clap::Command, path: &str, out: &mut Vec<(String, String, String)>) {
    for arg in cmd.get_arguments() {
        let help = arg.get_help().or(arg.get_long_help()).map(|h| h.to_string()).unwrap_or_default();
        out.push((path.to_string(), arg.get_id().to_string(), help));
    }
    for sub in cmd.get_subcommands() {
        all_args(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

fn sub(name: &str) -> clap::Command {
    let mut cli = Cli::command();
    cli.build();
    cli.find_subcommand(name).unwrap_or_else(|| panic!("no subcommand {name}")).clone()
}

fn arg_ids(cmd: &clap::Command) -> Vec<String> {
    cmd.get_arguments().map(|a| a.get_id().to_string()).collect()
}

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_distill-tui"))
        .current_dir(dir)
        .args(args)
        .env("HF_HUB_OFFLINE", "1")
        .env("HF_HOME", dir.join("hf"))
        .output()
        .unwrap()
}

#[test]
fn the_command_line_is_consistent() {
    Cli::command().debug_assert();
}

#[test]
fn every_argument_has_help() {
    let mut cli = Cli::command();
    cli.build();
    let mut args = Vec::new();
    all_args(&cli, "distill-tui", &mut args);
    assert!(args.len() > 20, "{args:?}");
    let missing: Vec<_> = args
        .iter()
        .filter(|(_, id, help)| id != "help" && id != "version" && help.trim().is_empty())
        .map(|(path, id, _)| format!("{path}: {id}"))
        .collect();
    assert!(missing.is_empty(), "arguments without help: {missing:?}");
    for name in ["predict", "bench", "demo", "report"] {
        assert!(sub(name).get_about().is_some_and(|a| !a.to_string().is_empty()), "{name} has no about");
    }
}

#[test]
fn each_command_has_only_its_own_flags() {
    let mut cli = Cli::command();
    cli.build();
    let top = arg_ids(&cli);
    for id in ["backend", "config", "set", "headless", "no_teacher_cache", "fresh"] {
        assert!(top.contains(&id.to_string()), "top level lacks {id}: {top:?}");
    }
    let expect: [(&str, &[&str], &[&str]); 4] = [
        (
            "predict",
            &["backend", "model", "revision", "max_length", "json", "input", "text", "text_pair"],
            &["config", "set", "headless", "fresh", "no_teacher_cache"],
        ),
        (
            "bench",
            &["backend", "hidden", "layers", "batch", "seq", "steps", "json"],
            &["config", "set", "headless", "fresh", "no_teacher_cache"],
        ),
        ("demo", &["backend", "dir", "headless", "no_teacher_cache"], &["config", "set", "fresh"]),
        ("report", &["dir", "config", "set"], &["backend", "headless", "fresh", "no_teacher_cache"]),
    ];
    for (name, has, lacks) in expect {
        let ids = arg_ids(&sub(name));
        for id in has {
            assert!(ids.contains(&id.to_string()), "{name} lacks {id}: {ids:?}");
        }
        for id in lacks {
            assert!(!ids.contains(&id.to_string()), "{name} has {id}: {ids:?}");
        }
    }
    // In the help as users see it.
    let help = sub("predict").render_long_help().to_string();
    assert!(!help.contains("--config"), "{help}");
    let help = sub("report").render_long_help().to_string();
    assert!(!help.contains("--backend"), "{help}");
}

#[test]
fn backends_the_build_lacks_are_not_offered() {
    let help = Cli::command().render_long_help().to_string();
    assert!(help.contains("cpu"), "{help}");
    assert_eq!(help.contains("cuda:"), cfg!(feature = "cuda"), "{help}");
    assert_eq!(help.contains("ndarray"), cfg!(feature = "ndarray"), "{help}");
    // Still accepted without the feature, for distill-tui's own message on how to build it.
    let cli = <Cli as clap::Parser>::try_parse_from(["distill-tui", "bench", "--backend", "cuda"]);
    assert!(cli.is_ok(), "{cli:?}");
}

#[test]
fn subcommands_take_their_own_backend_and_refuse_top_level_flags() {
    use clap::Parser;
    let cli = Cli::try_parse_from(["distill-tui", "bench", "--backend", "auto", "--steps", "1"]).unwrap();
    assert!(
        matches!(cli.command, Some(distill_tui::cli::Command::Bench(ref b)) if b.backend.backend == distill_tui::backend::BackendChoice::Auto && b.steps == 1)
    );
    // The default command keeps its flags.
    let cli =
        Cli::try_parse_from(["distill-tui", "--headless", "--fresh", "--config", "x.toml", "--set", "a=1"]).unwrap();
    assert!(cli.command.is_none() && cli.monitor.headless && cli.fresh && cli.config.set == ["a=1"]);
    // Run flags before a command would be ignored by it: refused instead.
    for args in [
        &["distill-tui", "--backend", "cpu", "bench"][..],
        &["distill-tui", "--headless", "demo"],
        &["distill-tui", "--config", "x.toml", "report"],
        &["distill-tui", "--fresh", "demo"],
        &["distill-tui", "report", "--backend", "cpu"],
        &["distill-tui", "predict", "--config", "x.toml", "--model", "m", "hi"],
        &["distill-tui", "demo", "--fresh"],
    ] {
        let err = Cli::try_parse_from(args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
    }
}

#[test]
fn a_first_run_without_a_config_points_to_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for part in ["experiments.toml", "no such file", "distill-tui demo", "--config FILE"] {
        assert!(stderr.contains(part), "{part:?} not in: {stderr}");
    }
    // The same for report without a folder.
    let out = run(dir.path(), &["report"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("distill-tui demo"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "files were written");
}

#[test]
fn the_binary_rejects_flags_of_other_commands() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["report", "--backend", "cpu"][..],
        &["predict", "--config", "x.toml", "--model", "m", "hi"],
        &["--backend", "cpu", "bench"],
    ] {
        let out = run(dir.path(), args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("error:"), "{args:?}: {stderr}");
    }
    // The order that once worked says where the option goes now.
    let out = run(dir.path(), &["--backend", "cpu", "bench"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("tip: a command's options go after it: `distill-tui bench [OPTIONS]`"), "{stderr}");
    // Without the cuda feature, --backend cuda is parsed and refused by distill-tui itself.
    if !cfg!(feature = "cuda") {
        let out = run(dir.path(), &["bench", "--backend", "cuda", "--steps", "1"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--features cuda"), "{stderr}");
    }
}

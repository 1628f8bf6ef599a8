//! The plots an experiment writes when it ends: the files exist and open as images, and their
//! numbers (plots/data.json, what was handed to the drawing code) equal results.json and the
//! event logs.

mod common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_distill-tui");

fn read(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Width and height from a PNG's header, after checking its signature.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{} is not a PNG", path.display());
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

#[test]
fn an_ended_experiment_has_its_plots_and_they_plot_its_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let exp = distill_tui::synthetic::SyntheticExperiment { seeds: vec![42, 7], ..common::tiny_experiment() };
    exp.write_inputs(dir).unwrap();
    exp.write(dir, "experiments.toml").unwrap();
    let out = Command::new(BIN).args(["--headless"]).current_dir(dir).env("HF_HUB_OFFLINE", "1").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exp_dir = dir.join("out/tiny");
    let plots = exp_dir.join("plots");
    for stem in ["loss", "accuracy", "final-accuracy"] {
        assert_eq!(png_size(&plots.join(format!("{stem}.png"))), (1100, 650), "{stem}");
        let svg = std::fs::read_to_string(plots.join(format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg") && svg.contains("tiny:"), "{stem}: {}", &svg[..svg.len().min(200)]);
    }
    let md = std::fs::read_to_string(exp_dir.join("results.md")).unwrap();
    assert!(md.contains("[Training loss per step](plots/loss.png) ([SVG](plots/loss.svg))"), "{md}");

    let results = read(&exp_dir.join("results.json"));
    let data = read(&plots.join("data.json"));
    assert_eq!(data["teacher_accuracy"], results["teacher"]["validation_accuracy"]);
    let strategies = data["strategies"].as_array().unwrap();
    assert_eq!(strategies.len(), 4);
    for s in strategies {
        let name = s["name"].as_str().unwrap();
        let runs: Vec<&Value> = results["runs"].as_array().unwrap().iter().filter(|r| r["name"] == name).collect();
        assert_eq!(runs.len(), 2, "{name}: two seeds");
        for (run, raw) in runs.iter().zip(s["accuracy_raw"].as_array().unwrap()) {
            assert_eq!(raw["seed"], run["seed"]);
            let want: Vec<Value> =
                run["epochs"].as_array().unwrap().iter().map(|e| e["validation_accuracy"].clone()).collect();
            assert_eq!(raw["y"].as_array().unwrap(), &want, "{name}: accuracy per epoch, epoch 0 included");
            assert_eq!(raw["x"][0], 0.0, "{name}: epoch 0 is plotted");
        }
        let finals: Vec<f64> = runs.iter().map(|r| r["validation_accuracy"].as_f64().unwrap()).collect();
        assert_eq!(
            s["final_accuracy"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect::<Vec<_>>(),
            finals
        );
        let mean = (finals[0] + finals[1]) / 2.0;
        assert!((s["final_mean"].as_f64().unwrap() - mean).abs() < 1e-12, "{name}");
        // 95% interval over two seeds: t(1) = 12.706 times the standard error.
        let sd = ((finals[0] - mean).powi(2) + (finals[1] - mean).powi(2)).sqrt();
        assert!((s["final_ci95"].as_f64().unwrap() - 12.706 * sd / 2f64.sqrt()).abs() < 1e-9, "{name}");
        // Every training step of each seed, as its cell logged it.
        for (run, raw) in runs.iter().zip(s["loss_raw"].as_array().unwrap()) {
            let folder = format!("{}-seed{}", run["slug"].as_str().unwrap(), run["seed"]);
            let log = std::fs::read_to_string(exp_dir.join("cells").join(&folder).join("events.jsonl")).unwrap();
            let steps: Vec<f64> = log
                .lines()
                .map(|l| serde_json::from_str::<Value>(l).unwrap())
                .filter(|e| e["event"] == "step")
                .map(|e| e["loss"]["total"].as_f64().unwrap())
                .collect();
            assert_eq!(steps.len(), 60, "{folder}: 2 epochs of 30 steps");
            let plotted: Vec<f64> = raw["y"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
            assert_eq!(plotted, steps, "{folder}");
        }
    }
    let best: Vec<&Value> = strategies.iter().filter(|s| s["is_best"] == true).collect();
    assert_eq!(best.len(), 1);
    assert!(strategies.iter().filter(|s| s["is_best"] == false).all(|s| s["p_vs_best"].is_number()));

    // `report --plots` draws them again from the folder.
    std::fs::remove_dir_all(&plots).unwrap();
    let out = Command::new(BIN).args(["report", "--plots", "out/tiny"]).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(read(&plots.join("data.json")), data);
    assert!(plots.join("final-accuracy.png").is_file());
}

//! The GPU path on burn-wgpu, run where CI has no GPU: on software Vulkan (Mesa's llvmpipe,
//! Debian's `mesa-vulkan-drivers`, which .ci/run installs). It is the same CubeCL machinery as
//! burn-cuda: kernels compiled at run time, fused, autotuned per shape, cached on disk. Built
//! only with `--features wgpu`: `cargo test --features wgpu --test wgpu_backend`.
#![cfg(feature = "wgpu")]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use common::*;
use distill_tui::backend::adapter::AdapterKind;
use distill_tui::backend::{BackendChoice, BackendTask, run_on, wgpu_adapters};
use distill_tui::events::BackendInfo;
use distill_tui::model::LoadedModel;
use distill_tui::ops::FastOps;
use distill_tui::ops::TrainBackend;
use distill_tui::predict::predict_batch;
use distill_tui::report::results::Results;
use distill_tui::synthetic::{Run, RunLayers, SyntheticExperiment};
use distill_tui::tokenize::{Encoded, collate};

/// Logits and [CLS] states against transformers. The CPU path holds 1e-4 (tests/
/// model_matches_transformers.rs); a GPU sums in another order (tree reductions, tiled matrix
/// products, fused kernels), and f32 rounding then differs by a few ulp per operation: the
/// fixture's logits are of order 1, its 2 layers have ~30 sums of up to 64 terms on the path,
/// so up to ~1e-5 is expected. The tolerance is the CPU's; the largest difference measured on
/// llvmpipe is 7e-7.
const TOL: f32 = 1e-4;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_distill-tui"));
    // Compiled kernels and autotune results go to a folder of the build, not the user's home
    // (kept between test runs, as a user's cache is between runs).
    c.env("XDG_CACHE_HOME", Path::new(env!("CARGO_TARGET_TMPDIR")).join("wgpu-cache"));
    c
}

/// Every fixture case on WGPU: one sequence at a time, then batched with the GPU's padding.
struct Logits;

impl BackendTask for Logits {
    type Output = Vec<(String, Vec<f32>, Vec<f32>, Vec<f32>)>;

    fn run<B: TrainBackend>(self, device: B::Device, info: BackendInfo) -> Self::Output {
        assert_eq!(info.name.as_str(), "wgpu");
        let loaded = load_on::<B::InnerBackend>(&fixture_dir(), Some(64), &device).unwrap();
        let items: Vec<(String, Option<String>)> =
            cases().iter().map(|c| (c.text.clone(), c.text_pair.clone())).collect();
        let padding = info.padding(&loaded.config, 64);
        let batched =
            predict_batch(&loaded.model, &loaded.tokenizer, &loaded.config.labels, &items, 8, padding, &device)
                .unwrap();
        cases()
            .into_iter()
            .zip(batched)
            .filter(|(c, _)| c.max_length == 64)
            .map(|(c, p)| {
                let (logits, cls) = one::<B::InnerBackend>(&loaded, &c.input_ids, &c.token_type_ids, &device);
                (c.text, logits, cls, p.logits)
            })
            .collect()
    }
}

fn one<B: FastOps>(loaded: &LoadedModel<B>, ids: &[u32], types: &[u32], device: &B::Device) -> (Vec<f32>, Vec<f32>) {
    let enc = Encoded { ids: ids.to_vec(), type_ids: types.to_vec() };
    let out = loaded.model.forward(collate(&[&enc], loaded.config.pad_token_id as u32).to_input::<B>(device));
    (out.logits.into_data().to_vec().unwrap(), out.cls_hidden.into_data().to_vec().unwrap())
}

#[test]
fn every_logit_matches_transformers_on_wgpu() {
    let got = run_on(BackendChoice::Wgpu, Logits).unwrap();
    let want: Vec<Case> = cases().into_iter().filter(|c| c.max_length == 64).collect();
    assert_eq!(got.len(), want.len());
    assert!(!got.is_empty());
    let mut worst = 0f32;
    for ((text, logits, cls, batched), case) in got.iter().zip(&want) {
        assert_close(logits, &case.logits, TOL, &format!("logits of {text:?}"));
        assert_close(cls, &case.cls_hidden, TOL, &format!("[CLS] hidden of {text:?}"));
        assert_close(batched, &case.logits, TOL, &format!("logits of {text:?} in a batch padded to 32"));
        worst = logits.iter().zip(&case.logits).map(|(a, b)| (a - b).abs()).fold(worst, f32::max);
    }
    eprintln!("largest logit difference to transformers on WGPU: {worst:e}");
}

/// Every family's fixture on WGPU, batched and padded as the GPU pads (multiples of 32 within
/// the model's limit): RoBERTa's positions (a cumulative sum over the padding mask), ELECTRA's
/// projection and GELU head, DistilBERT's ReLU head on the GPU kernels too. In one process, so
/// that the shaders compile once.
struct FamilyLogits;

impl BackendTask for FamilyLogits {
    /// Per family and case: its name, the text, our logits and transformers'.
    type Output = Vec<(String, String, Vec<f32>, Vec<f32>)>;

    fn run<B: TrainBackend>(self, device: B::Device, info: BackendInfo) -> Self::Output {
        assert_eq!(info.name.as_str(), "wgpu");
        let mut out = Vec::new();
        for name in ["roberta", "xlm-roberta", "electra", "distilbert", "distilbert-sinusoidal"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/families").join(name);
            let expected: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap()).unwrap();
            let limit = expected["max_tokens"].as_u64().unwrap() as usize;
            let cases: Vec<&serde_json::Value> =
                expected["cases"].as_array().unwrap().iter().filter(|c| c["max_length"] == limit).collect();
            let loaded = load_on::<B::InnerBackend>(&dir, None, &device).unwrap();
            let items: Vec<(String, Option<String>)> = cases
                .iter()
                .map(|c| (c["text"].as_str().unwrap().to_string(), c["text_pair"].as_str().map(str::to_string)))
                .collect();
            let padding = info.padding(&loaded.config, limit);
            let labels = &loaded.config.labels;
            let batched = predict_batch(&loaded.model, &loaded.tokenizer, labels, &items, 8, padding, &device).unwrap();
            for (p, c) in batched.into_iter().zip(cases) {
                let want: Vec<f32> = serde_json::from_value(c["logits"].clone()).unwrap();
                out.push((name.to_string(), c["text"].to_string(), p.logits, want));
            }
        }
        out
    }
}

#[test]
fn every_family_matches_transformers_on_wgpu() {
    let got = run_on(BackendChoice::Wgpu, FamilyLogits).unwrap();
    assert_eq!(got.len(), 5 * 12, "12 cases at the model's limit per family");
    for (name, text, logits, want) in &got {
        assert_close(logits, want, TOL, &format!("{name}: logits of {text} on WGPU, batched"));
    }
}

/// The adapters `auto` may take: never a software one, which is slower than the CPU backend.
#[test]
fn auto_passes_over_a_software_adapter() {
    struct Which;
    impl BackendTask for Which {
        type Output = &'static str;
        fn run<B: TrainBackend>(self, _: B::Device, info: BackendInfo) -> &'static str {
            info.name.as_str()
        }
    }
    let adapters = wgpu_adapters();
    let gpu = adapters.iter().any(|a| a.kind != AdapterKind::Software);
    let cuda = distill_tui::backend::cuda_probe().is_ok();
    let want = if cuda {
        "cuda"
    } else if gpu {
        "wgpu"
    } else {
        "cpu"
    };
    assert_eq!(run_on(BackendChoice::Auto, Which).unwrap(), want, "adapters: {adapters:?}");
    // What was chosen says why, on the first line of a headless run and in results.json.
    struct Why;
    impl BackendTask for Why {
        type Output = String;
        fn run<B: TrainBackend>(self, _: B::Device, info: BackendInfo) -> String {
            info.describe()
        }
    }
    let why = run_on(BackendChoice::Auto, Why).unwrap();
    if want == "cpu" && adapters.iter().any(|a| a.kind == AdapterKind::Software) {
        assert!(why.starts_with("CPU (burn-flex, "), "{why}");
        assert!(why.contains("; auto: ") && why.contains("only a software WGPU adapter, llvmpipe"), "{why}");
    }
    assert_eq!(run_on(BackendChoice::Cpu, Why).unwrap().split("; ").nth(1), Some("--backend cpu)"));
}

/// The race `auto` runs on an integrated GPU, run here on llvmpipe in its place (a weak
/// "GPU" next to a CPU backend with AVX-512 products): the CPU must win, the verdict be kept in
/// the cache file and read from it the next time, without racing again.
#[test]
fn the_race_against_the_cpu_takes_a_weak_gpu_only_if_it_wins() {
    use distill_tui::backend::race;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("auto-backend.json");
    let key = race::race_key("llvmpipe", "Mesa");
    let device = burn_wgpu::WgpuDevice::Cpu;
    let verdict = race::decide(Some(&file), &key, || race::matmul_gflops::<distill_tui::backend::WgpuBackend>(&device));
    eprintln!("llvmpipe against the CPU backend: {}", verdict.describe());
    assert!(!verdict.remembered);
    assert!(verdict.gpu_gflops > 0.0 && verdict.cpu_gflops > verdict.gpu_gflops, "{verdict:?}");
    assert!(!verdict.gpu_wins());
    let again = race::decide(Some(&file), &key, || panic!("raced again"));
    assert!(again.remembered && again.gpu_gflops == verdict.gpu_gflops);
}

#[test]
fn no_vulkan_driver_is_exit_2_naming_what_to_install() {
    let o = bin()
        .args(["predict", "--backend", "wgpu", "--model"])
        .arg(fixture_dir())
        .arg("a sentence")
        // The Vulkan loader finds no driver: as on a machine without one.
        .env("VK_ICD_FILENAMES", "/nonexistent.json")
        .env("VK_DRIVER_FILES", "/nonexistent.json")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("no graphics adapter found for WGPU") && err.contains("mesa-vulkan-drivers"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(o.stdout.is_empty());
}

#[test]
fn bench_runs_on_wgpu() {
    let o = bin()
        .args(["bench", "--backend", "wgpu", "--hidden", "64", "--layers", "2", "--batch", "4", "--seq", "16"])
        .args(["--steps", "1", "--json"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["backend"], "wgpu");
    assert!(report["device"].as_str().unwrap().starts_with("WGPU "), "{report}");
    let (first, median) = (report["first_step_s"].as_f64().unwrap(), report["step_s_median"].as_f64().unwrap());
    assert!(first > 0.0 && median > 0.0 && report["examples_per_s"].as_f64().unwrap() > 0.0, "{report}");
}

/// The synthetic matrix of the tests: the teacher fine-tuned one epoch, two students of two
/// epochs (so that a checkpoint is written while the second trains), without dropout (the CPU
/// backend and burn's GPU kernels draw different masks from different generators; without it
/// both compute the same function and must agree).
fn matrix(dir: &Path) -> SyntheticExperiment {
    let exp = SyntheticExperiment {
        finetune_epochs: 1,
        epochs: 2,
        runs: ["top", "odd"]
            .iter()
            .map(|s| Run { name: format!("{s} layers"), layers: RunLayers::Strategy(s.to_string()) })
            .collect(),
        ..tiny_experiment()
    };
    exp.write_inputs(dir).unwrap();
    let config = dir.join("teacher/config.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    json["hidden_dropout_prob"] = 0.0.into();
    json["attention_probs_dropout_prob"] = 0.0.into();
    std::fs::write(&config, json.to_string()).unwrap();
    exp
}

fn run_matrix(dir: &Path, backend: &str) -> (Output, Results) {
    let exp = matrix(dir);
    let path = exp.write(dir, "experiments.toml").unwrap();
    let o = bin().args(["--headless", "--backend", backend, "--config"]).arg(&path).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "{backend}: {text}");
    (o, distill_tui::workspace::results::read_results(&dir.join("out/tiny")).unwrap())
}

/// The `compiling` events of an experiment's log: (training, batch, tokens).
fn compiled_shapes(dir: &Path) -> Vec<(bool, usize, usize)> {
    let log = std::fs::read_to_string(dir.join("out/tiny/events.jsonl")).unwrap();
    log.lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["event"] == "compiling")
        .map(|e| {
            (
                e["training"].as_bool().unwrap(),
                e["batch"].as_u64().unwrap() as usize,
                e["tokens"].as_u64().unwrap() as usize,
            )
        })
        .collect()
}

#[test]
fn a_synthetic_matrix_on_wgpu_agrees_with_the_cpu_and_compiles_few_shapes() {
    let (cpu_dir, gpu_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (_, cpu) = run_matrix(cpu_dir.path(), "cpu");
    let (out, gpu) = run_matrix(gpu_dir.path(), "wgpu");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(gpu.device.starts_with("WGPU "), "{}", gpu.device);
    assert_eq!(gpu.backend, "wgpu");
    // The same numbers: f32 sums in another order over 30 + 2 x 60 Adam steps. Measured: 1.3e-5
    // apart; the bound is 1e-4 (relative above 1), far below what any real difference makes
    // (a wrong mask, a missing term or another batch order moves losses by 1e-2 or more).
    let rows = |r: &Results| {
        std::iter::once(&r.teacher.record).chain(r.runs.iter().map(|x| &x.record)).cloned().collect::<Vec<_>>()
    };
    let mut worst = 0f64;
    for (c, g) in rows(&cpu).iter().zip(rows(&gpu)) {
        assert_eq!(g.status, c.status);
        assert_eq!(g.epochs.len(), c.epochs.len());
        for (ce, ge) in c.epochs.iter().zip(&g.epochs) {
            worst = worst.max((ce.validation_loss - ge.validation_loss).abs());
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-4 * a.abs().max(1.0);
            assert!(close(ce.validation_loss, ge.validation_loss), "cpu {ce:?}\ngpu {ge:?}");
            assert!(ce.train_loss.zip(ge.train_loss).is_none_or(|(a, b)| close(a, b)), "cpu {ce:?}\ngpu {ge:?}");
            // At most one of the 64 validation examples may fall on the other side.
            assert!((ce.validation_accuracy - ge.validation_accuracy).abs() <= 1.0 / 64.0 + 1e-9, "{ce:?} {ge:?}");
        }
    }
    // Every shape compiled once, and how many is bounded by the padding policy: every batch
    // size the matrix uses (training 16; evaluation 32; the teacher's outputs 64 and the
    // remainder 480 % 64 = 32) times the padded lengths (multiples of 32 up to max_length 32:
    // one). Without padding the count grows with the batches (their longest sequences differ).
    eprintln!("largest validation-loss difference, CPU to WGPU: {worst:e}");
    eprintln!(
        "{}",
        stdout.lines().filter(|l| l.contains("GPU") || l.contains("done in")).collect::<Vec<_>>().join("\n")
    );
    let shapes = compiled_shapes(gpu_dir.path());
    let distinct: BTreeSet<_> = shapes.iter().copied().collect();
    assert_eq!(distinct.len(), shapes.len(), "a shape announced twice: {shapes:?}");
    let bound = BTreeSet::from([(true, 16, 32), (false, 32, 32), (false, 64, 32)]);
    assert!(distinct.is_subset(&bound), "{distinct:?} is not within {bound:?}");
    assert!(distinct.contains(&(true, 16, 32)), "{distinct:?}");
    assert!(stdout.contains("compiling GPU kernels for training on 16x32 tokens"), "{stdout}");
    // What the shapes would be without padding: the batches' own longest sequences.
    let unpadded = exact_lengths(gpu_dir.path());
    assert!(unpadded > bound.len(), "the data must be able to show the difference ({unpadded} lengths)");
    // The autotune results persisted for the next run.
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("wgpu-cache/distill-tui/cubecl/autotune");
    assert!(walk(&cache) > 0, "nothing in {}", cache.display());
}

/// Distinct token counts of the training examples (each could be a batch's longest).
fn exact_lengths(dir: &Path) -> usize {
    let tok = distill_tui::tokenize::TextTokenizer::load(
        &distill_tui::hub::files::ModelFiles::resolve(
            dir.join("teacher").to_str().unwrap(),
            "main",
            &distill_tui::hub::HubSettings::offline_cache(dir.join("no-hub")),
        )
        .unwrap(),
        32,
        usize::MAX,
    )
    .unwrap();
    let text = std::fs::read_to_string(dir.join("data/train.tsv")).unwrap();
    let lengths: BTreeSet<usize> =
        text.lines().skip(1).map(|l| tok.encode(l.split('\t').next().unwrap(), None).unwrap().ids.len()).collect();
    lengths.len()
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum::<usize>())
        .unwrap_or(0)
}

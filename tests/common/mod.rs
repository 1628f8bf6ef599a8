//! Helpers shared by the integration tests: the committed tiny-bert fixture and rewrites of it,
//! and the tiny generated experiment the engine tests run.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use distill_tui::backend::CpuBackend;
use distill_tui::hub::HubSettings;
use distill_tui::model::LoadedModel;
use distill_tui::synthetic::{Run, RunLayers, SyntheticExperiment, TaskSize, TeacherShape};
use safetensors::SafeTensors;
use safetensors::tensor::TensorView;
use serde::Deserialize;

pub type B = CpuBackend;

pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-bert")
}

/// A generated 4-layer teacher (hidden 32, 64 positions) and a task of 480 + 64 examples;
/// experiment "tiny" in `out`, 2-layer students, the four default runs. Each test sets what it
/// varies (seeds, epochs, runs) with `..tiny_experiment()`.
pub fn tiny_experiment() -> SyntheticExperiment {
    SyntheticExperiment {
        teacher: TeacherShape { layers: 4, hidden: 32, num_labels: 2, seed: 5, family: Default::default() },
        task: TaskSize { train: 480, validation: 64, seed: 9 },
        comment: None,
        name: "tiny".into(),
        output_dir: "out".into(),
        seeds: vec![42],
        finetune_epochs: 3,
        student_layers: 2,
        max_length: 32,
        epochs: 2,
        batch_size: 16,
        learning_rate: 3e-3,
        cosine_target: None,
        runs: vec![],
    }
}

/// The good experiment the bad- and hostile-input cases start from: one epoch of everything,
/// one explicit run. The bad-input cases name lines of its file (`[training]` is line 19).
pub fn bad_input_experiment() -> SyntheticExperiment {
    SyntheticExperiment {
        task: TaskSize { train: 64, validation: 32, seed: 9 },
        seeds: vec![7],
        finetune_epochs: 1,
        epochs: 1,
        runs: vec![Run { name: "Odd Layer".into(), layers: RunLayers::Teacher(vec![1, 3]) }],
        ..tiny_experiment()
    }
}

/// What an earlier invocation left in `out/tiny/results.json`: bad input must not touch it.
pub const EARLIER_RESULTS: &[u8] = b"{\"earlier\": true}";

/// A good setup in `dir`: the generated teacher, the task and [`bad_input_experiment`]'s file
/// (returned), and an earlier results folder that must not change.
pub fn bad_input_setup(dir: &Path) -> PathBuf {
    let out = dir.join("out/tiny");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("results.json"), EARLIER_RESULTS).unwrap();
    bad_input_experiment().write(dir, "experiments.toml").unwrap()
}

/// Whether the earlier results in `dir` are as [`bad_input_setup`] wrote them.
pub fn earlier_results_untouched(dir: &Path) -> bool {
    std::fs::read(dir.join("out/tiny/results.json")).unwrap() == EARLIER_RESULTS
}

#[derive(Debug, Deserialize)]
pub struct Case {
    pub text: String,
    pub text_pair: Option<String>,
    pub max_length: usize,
    pub input_ids: Vec<u32>,
    pub token_type_ids: Vec<u32>,
    pub logits: Vec<f32>,
    pub cls_hidden: Vec<f32>,
}

#[derive(Debug, Deserialize)]
struct Expected {
    cases: Vec<Case>,
}

pub fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(fixture_dir().join("expected.json")).unwrap();
    serde_json::from_str::<Expected>(&text).unwrap().cases
}

/// A copy of the fixture folder in a temporary directory.
pub fn fixture_copy() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(fixture_dir()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    dir
}

/// Rewrites `dir/model.safetensors`: `f` maps each (key, shape, f32 data) to zero or more tensors.
pub fn rewrite_weights(dir: &Path, f: impl Fn(&str, &[usize], &[f32]) -> Vec<(String, Vec<usize>, Vec<f32>)>) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut out: BTreeMap<String, (Vec<usize>, Vec<u8>)> = BTreeMap::new();
    for (name, view) in st.tensors() {
        let data: Vec<f32> = view.data().chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        for (k, shape, d) in f(&name, view.shape(), &data) {
            let raw: Vec<u8> = d.iter().flat_map(|x| x.to_le_bytes()).collect();
            out.insert(k, (shape, raw));
        }
    }
    let views: Vec<(String, TensorView)> = out
        .iter()
        .map(|(k, (s, d))| (k.clone(), TensorView::new(safetensors::Dtype::F32, s.clone(), d).unwrap()))
        .collect();
    let meta = Some(std::collections::HashMap::from([("format".to_string(), "pt".to_string())]));
    safetensors::serialize_to_file(views, meta, &path).unwrap();
}

/// All tensors of a safetensors file as key -> (shape, data).
pub fn read_weights(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    st.tensors()
        .into_iter()
        .map(|(k, v)| {
            let data = v.data().chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
            (k, (v.shape().to_vec(), data))
        })
        .collect()
}

pub fn load(dir: &Path, max_length: Option<usize>) -> distill_tui::error::Result<LoadedModel<B>> {
    load_on::<B>(dir, max_length, &Default::default())
}

/// [`load`] on any backend.
pub fn load_on<Bk: burn::tensor::backend::Backend>(
    dir: &Path,
    max_length: Option<usize>,
    device: &Bk::Device,
) -> distill_tui::error::Result<LoadedModel<Bk>> {
    LoadedModel::<Bk>::load(
        dir.to_str().unwrap(),
        "main",
        &HubSettings::offline_cache(dir.join("no-hub-cache")),
        max_length,
        7,
        device,
    )
}

pub fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= tol, "{what}[{i}]: got {g}, transformers gives {w} (tolerance {tol})");
    }
}

/// Every reply of the `try` session's models' worker to one input (request `id`), loading
/// included, on the CPU.
pub fn ask(
    session: &distill_tui::playground::Session,
    dir: &Path,
    id: u64,
    text: &str,
    pair: Option<&str>,
) -> Vec<distill_tui::playground::worker::Reply> {
    use distill_tui::playground::worker::{Request, Worker};
    let (req_tx, req_rx) = std::sync::mpsc::channel();
    let (rep_tx, rep_rx) = std::sync::mpsc::channel();
    let worker = Worker {
        models: session.models.iter().map(|m| m.1.clone()).collect(),
        hub: HubSettings::offline_cache(dir.join("hub")),
        requests: req_rx,
        replies: rep_tx,
    };
    let thread =
        std::thread::spawn(move || distill_tui::backend::run_on(distill_tui::backend::BackendChoice::Cpu, worker));
    req_tx.send(Request::Classify { id, text: text.into(), pair: pair.map(str::to_string) }).unwrap();
    drop(req_tx);
    let replies = rep_rx.iter().collect();
    thread.join().unwrap().unwrap();
    replies
}

/// Model `model`'s answer to request `id` among `replies`; panics when it did not answer.
pub fn answer_of(
    replies: &[distill_tui::playground::worker::Reply],
    id: u64,
    model: usize,
) -> distill_tui::playground::worker::Answer {
    use distill_tui::playground::worker::Reply;
    let answer = replies.iter().find_map(|r| match r {
        Reply::Answer { id: i, model: m, answer } if *i == id && *m == model => Some(answer.clone()),
        _ => None,
    });
    match answer {
        Some(Ok(a)) => a,
        other => panic!("model {model} gave {other:?} to request {id}: {replies:?}"),
    }
}

//! A self-contained, synthetic setting: a small random BERT teacher with a WordPiece
//! vocabulary, and a generated sentiment-like task. Used by the tests and the demo; nothing
//! here is real language data.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::hub::files::ModelFiles;
use crate::model::{BertClassifier, BertConfig, save_folder};
use crate::tokenize::{TextTokenizer, wordpiece_from_vocab};

mod experiment;
pub use experiment::{DATA_DIR, Run, RunLayers, SyntheticExperiment, TEACHER_DIR, TaskSize, TeacherShape};

/// The training split written by [`write_task`].
pub const TRAIN_FILE: &str = "train.tsv";
/// The validation split written by [`write_task`].
pub const DEV_FILE: &str = "dev.tsv";

const POSITIVE: &[&str] = &["good", "great", "fine", "lovely", "superb", "charming"];
const NEGATIVE: &[&str] = &["bad", "awful", "dull", "boring", "poor", "terrible"];
const NEUTRAL: &[&str] = &[
    "the", "a", "film", "movie", "story", "plot", "was", "is", "very", "quite", "and", "but", "actor", "scene",
    "music", "ending", "it", "this", "of", "really", "not", "so", "too", "end",
];

/// Every word of the synthetic language, after the special tokens.
pub fn vocabulary() -> Vec<String> {
    let mut v: Vec<String> =
        ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "."].iter().map(|s| s.to_string()).collect();
    v.extend(POSITIVE.iter().chain(NEGATIVE).chain(NEUTRAL).map(|s| s.to_string()));
    v
}

/// Writes a random BERT teacher (uncased WordPiece vocabulary of [`vocabulary`]) to `dir`.
pub fn write_teacher<B: Backend>(
    dir: &Path,
    layers: usize,
    hidden: usize,
    num_labels: usize,
    seed: u64,
    device: &B::Device,
) -> Result<PathBuf> {
    write_teacher_with_vocab::<B>(dir, &vocabulary(), layers, hidden, num_labels, seed, device)
}

/// Writes a random BERT teacher with the uncased WordPiece vocabulary `vocab` (the special
/// tokens first, as [`vocabulary`] has them) to `dir`: for tests on real text.
pub fn write_teacher_with_vocab<B: Backend>(
    dir: &Path,
    vocab: &[String],
    layers: usize,
    hidden: usize,
    num_labels: usize,
    seed: u64,
    device: &B::Device,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let vocab_path = dir.join("vocab.txt");
    std::fs::write(&vocab_path, vocab.join("\n") + "\n").map_err(|e| Error::io(&vocab_path, e))?;
    let heads = (hidden / 16).max(1);
    let config = BertConfig::synthetic(vocab.len(), hidden, layers, heads, hidden * 4, num_labels);
    let model = BertClassifier::<B>::new(&config, seed, device);
    let tokenizer =
        TextTokenizer::from_tokenizer(wordpiece_from_vocab(&vocab_path, true)?, 64).map_err(Error::Internal)?;
    let files = ModelFiles {
        source: dir.display().to_string(),
        config: dir.join("config.json"),
        weights: dir.join("model.safetensors"),
        tokenizer_json: None,
        vocab: Some(vocab_path),
        tokenizer_config: None,
        special_tokens_map: None,
    };
    save_folder(dir, &config, &model, &files, &tokenizer)?;
    Ok(dir.to_path_buf())
}

/// One generated example: a sentence and its label (1 when positive words outnumber negative
/// ones, else 0), with `noise` of the labels flipped so that no model is perfect.
pub fn sentence(rng: &mut ChaCha8Rng, noise: f64) -> (String, usize) {
    let len = rng.random_range(4..14);
    let (mut pos, mut neg) = (0, 0);
    let mut words = Vec::with_capacity(len);
    for _ in 0..len {
        let r: f64 = rng.random();
        if r < 0.2 {
            words.push(*POSITIVE.choose(rng).expect("non-empty"));
            pos += 1;
        } else if r < 0.4 {
            words.push(*NEGATIVE.choose(rng).expect("non-empty"));
            neg += 1;
        } else {
            words.push(*NEUTRAL.choose(rng).expect("non-empty"));
        }
    }
    if pos == neg {
        words.push(if rng.random_bool(0.5) { POSITIVE[0] } else { NEGATIVE[0] });
        if words.last() == Some(&POSITIVE[0]) { pos += 1 } else { neg += 1 }
    }
    let mut label = usize::from(pos > neg);
    if rng.random_bool(noise) {
        label = 1 - label;
    }
    (words.join(" ") + " .", label)
}

/// Writes [`TRAIN_FILE`] and [`DEV_FILE`] (GLUE SST-2 layout: `sentence`, `label`) into `dir`.
pub fn write_task(dir: &Path, train: usize, validation: usize, seed: u64) -> Result<(PathBuf, PathBuf)> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut write = |name: &str, n: usize| -> Result<PathBuf> {
        let mut text = String::from("sentence\tlabel\n");
        for _ in 0..n {
            let (s, l) = sentence(&mut rng, 0.05);
            text.push_str(&format!("{s}\t{l}\n"));
        }
        let p = dir.join(name);
        std::fs::write(&p, text).map_err(|e| Error::io(&p, e))?;
        Ok(p)
    };
    Ok((write(TRAIN_FILE, train)?, write(DEV_FILE, validation)?))
}

//! A self-contained, synthetic setting: a small random teacher of any family of the BERT kind
//! with its family's tokenizer, and a generated sentiment-like task. Used by the tests and the
//! demo; nothing here is real language data.

use std::path::{Path, PathBuf};

use burn::tensor::backend::Backend;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::hub::files::ModelFiles;
use crate::model::{BertClassifier, BertConfig, Family, Sizes, save_folder};
use crate::tokenize::{TextTokenizer, wordpiece_from_vocab};

mod experiment;
pub mod tokenizer;
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

/// Every word of the synthetic language.
pub fn words() -> Vec<&'static str> {
    std::iter::once(".").chain(POSITIVE.iter().chain(NEGATIVE).chain(NEUTRAL).copied()).collect()
}

/// BERT's vocabulary of the synthetic language: the special tokens, then [`words`].
pub fn vocabulary() -> Vec<String> {
    tokenizer::specials(Family::Bert).iter().copied().chain(words()).map(str::to_string).collect()
}

/// Writes a random teacher of `shape` (its family's tokenizer of [`words`]) to `dir`.
pub fn write_teacher<B: Backend>(dir: &Path, shape: &TeacherShape, device: &B::Device) -> Result<PathBuf> {
    let vocab = (!tokenizer::is_byte_level(shape.family)).then(vocabulary);
    write_teacher_of::<B>(dir, shape, vocab.as_deref(), device)
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
    let shape = TeacherShape { layers, hidden, num_labels, seed, family: Family::Bert };
    write_teacher_of::<B>(dir, &shape, Some(vocab), device)
}

/// A WordPiece teacher from `vocab`, or a byte-level BPE one of [`words`] without it.
fn write_teacher_of<B: Backend>(
    dir: &Path,
    shape: &TeacherShape,
    vocab: Option<&[String]>,
    device: &B::Device,
) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let vocab_path = dir.join("vocab.txt");
    let inner = match vocab {
        Some(vocab) => {
            std::fs::write(&vocab_path, vocab.join("\n") + "\n").map_err(|e| Error::io(&vocab_path, e))?;
            wordpiece_from_vocab(&vocab_path, true)?
        }
        None => tokenizer::byte_level_bpe(&words()).map_err(Error::Internal)?,
    };
    let tokenizer = TextTokenizer::from_tokenizer(inner, 64).map_err(Error::Internal)?;
    let hidden = shape.hidden;
    let sizes = Sizes {
        vocab_size: tokenizer.vocab_size(),
        hidden_size: hidden,
        num_hidden_layers: shape.layers,
        num_attention_heads: (hidden / 16).max(1),
        intermediate_size: hidden * 4,
    };
    let config = BertConfig::synthetic_of(shape.family, sizes, shape.num_labels);
    let model = BertClassifier::<B>::new(&config, shape.seed, device);
    let files = ModelFiles {
        source: dir.display().to_string(),
        config: dir.join("config.json"),
        weights: dir.join("model.safetensors"),
        tokenizer_json: None,
        vocab: vocab.map(|_| vocab_path),
        tokenizer_config: None,
        special_tokens_map: None,
    };
    save_folder(dir, &config, &model, &files, &tokenizer.for_model(&config))?;
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

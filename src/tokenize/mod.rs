//! Text -> token ids, the way transformers' BERT tokenizers do it: `tokenizer.json` through the
//! `tokenizers` crate, or a WordPiece tokenizer built from `vocab.txt`. Pairs are encoded as
//! `[CLS] a [SEP] b [SEP]` with token type ids 0/1 and truncated longest-first; padding is done
//! per batch by [`collate`].

use std::path::Path;

use tokenizers::decoders::wordpiece::WordPiece as WordPieceDecoder;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;
use tokenizers::{EncodeInput, Tokenizer, TruncationParams, TruncationStrategy};

use crate::error::{Error, Result};
use crate::hub::files::ModelFiles;

/// One encoded example, truncated, not padded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub ids: Vec<u32>,
    pub type_ids: Vec<u32>,
}

/// A padded batch in row-major `[batch, seq]` layout.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenBatch {
    pub batch: usize,
    pub seq: usize,
    pub ids: Vec<i64>,
    pub type_ids: Vec<i64>,
    pub mask: Vec<i64>,
}

impl TokenBatch {
    /// Real (non-padding) tokens in the batch.
    pub fn real_tokens(&self) -> usize {
        self.mask.iter().filter(|m| **m == 1).count()
    }
}

/// How a batch is padded: with `pad_id` (type id 0, mask 0) to its longest sequence, rounded up
/// to a multiple of `multiple` but never past `limit` (the model's positions). The CPU pads
/// exactly (`multiple` 1); on CUDA every new tensor shape is compiled and autotuned, so lengths
/// are rounded to a few shapes there. Padding is masked: it changes no logit beyond float noise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Padding {
    pub pad_id: u32,
    pub multiple: usize,
    pub limit: usize,
}

impl Padding {
    /// To the longest sequence of each batch, no rounding.
    pub fn exact(pad_id: u32) -> Self {
        Padding { pad_id, multiple: 1, limit: usize::MAX }
    }

    /// The padded length of a batch whose longest sequence has `longest` tokens.
    pub fn length(&self, longest: usize) -> usize {
        let m = self.multiple.max(1);
        longest.div_ceil(m).saturating_mul(m).min(self.limit).max(longest)
    }

    pub fn collate(&self, items: &[&Encoded]) -> TokenBatch {
        collate_to(items, self.pad_id, self.length(items.iter().map(|e| e.ids.len()).max().unwrap_or(0)))
    }
}

/// Pads `items` to the longest of them with `pad_id` (type id 0, mask 0).
pub fn collate(items: &[&Encoded], pad_id: u32) -> TokenBatch {
    Padding::exact(pad_id).collate(items)
}

fn collate_to(items: &[&Encoded], pad_id: u32, seq: usize) -> TokenBatch {
    let n = items.len() * seq;
    let (mut ids, mut type_ids, mut mask) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    for e in items {
        let pad = seq - e.ids.len();
        ids.extend(e.ids.iter().map(|&i| i as i64).chain(std::iter::repeat_n(pad_id as i64, pad)));
        type_ids.extend(e.type_ids.iter().map(|&i| i as i64).chain(std::iter::repeat_n(0, pad)));
        mask.extend(std::iter::repeat_n(1, e.ids.len()).chain(std::iter::repeat_n(0, pad)));
    }
    TokenBatch { batch: items.len(), seq, ids, type_ids, mask }
}

/// A BERT tokenizer with its own truncation and no padding.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    pub max_length: usize,
    /// The model's token types (`type_vocab_size`): 1 means it cannot take a text pair.
    pub type_vocab_size: usize,
    /// The model reads no token types (RoBERTa, DistilBERT): every token is type 0, and a pair
    /// is told apart by its separator tokens alone.
    pub types_ignored: bool,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TextTokenizer(vocab {}, max_length {})", self.vocab_size(), self.max_length)
    }
}

impl TextTokenizer {
    /// Loads `tokenizer.json`, or builds the tokenizer from `vocab.txt`. `max_length` counts the
    /// special tokens; `vocab_size` is the model's, and a tokenizer with more ids is refused.
    pub fn load(files: &ModelFiles, max_length: usize, vocab_size: usize) -> Result<Self> {
        let (inner, path) = match (&files.tokenizer_json, &files.vocab) {
            (Some(json), _) => {
                crate::input_file::check(json, crate::input_file::TOKENIZER_FILE).map_err(|e| Error::io(json, e))?;
                let t = Tokenizer::from_file(json).map_err(|e| Error::Tokenizer {
                    path: json.clone(),
                    reason: format!("cannot read tokenizer.json: {e}"),
                })?;
                (t, json.clone())
            }
            (None, Some(vocab)) => {
                crate::input_file::check(vocab, crate::input_file::TOKENIZER_FILE).map_err(|e| Error::io(vocab, e))?;
                (wordpiece_from_vocab(vocab, lowercase(files.tokenizer_config.as_deref())?)?, vocab.clone())
            }
            (None, None) => {
                return Err(Error::InvalidModel {
                    path: files.config.clone(),
                    reason: "the model has neither tokenizer.json nor vocab.txt; save its tokenizer beside it \
                             (`AutoTokenizer.from_pretrained(...).save_pretrained(dir)` in Python)"
                        .into(),
                });
            }
        };
        let tokenizer = Self::from_tokenizer(inner, max_length)
            .map_err(|reason| Error::Tokenizer { path: path.clone(), reason })?;
        // Every id the tokenizer can produce must have a row in the model's embedding: ids
        // are not always 0..n (a tokenizer.json may skip ids or add tokens above them).
        let largest = tokenizer.inner.get_vocab(true).into_values().max().map_or(0, |id| id as usize + 1);
        if tokenizer.vocab_size() > vocab_size || largest > vocab_size {
            return Err(Error::Tokenizer {
                path,
                reason: format!(
                    "the tokenizer has {} tokens with ids up to {} but the model's vocab_size is {vocab_size} \
                     (ids 0 to {}); use the tokenizer that was saved with this model",
                    tokenizer.vocab_size(),
                    largest.saturating_sub(1),
                    vocab_size.saturating_sub(1)
                ),
            });
        }
        Ok(tokenizer)
    }

    /// Wraps a tokenizer, switching off its own padding and setting longest-first truncation.
    pub fn from_tokenizer(mut inner: Tokenizer, max_length: usize) -> std::result::Result<Self, String> {
        inner.with_padding(None);
        inner
            .with_truncation(Some(TruncationParams {
                max_length,
                strategy: TruncationStrategy::LongestFirst,
                ..Default::default()
            }))
            .map_err(|e| format!("cannot truncate to {max_length} tokens: {e}"))?;
        Ok(Self { inner, max_length, type_vocab_size: 2, types_ignored: false })
    }

    /// The model's number of token types: an input needing more is refused.
    pub fn with_type_vocab_size(self, type_vocab_size: usize) -> Self {
        Self { type_vocab_size, ..self }
    }

    /// The token types of the model of `config`: its number, or none read at all (RoBERTa,
    /// DistilBERT: every token is type 0, pairs included).
    pub fn for_model(self, config: &crate::model::BertConfig) -> Self {
        Self { types_ignored: !config.family.token_types(), ..self.with_type_vocab_size(config.type_vocab_size) }
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    pub fn encode(&self, text: &str, pair: Option<&str>) -> Result<Encoded> {
        let input: EncodeInput = match pair {
            Some(b) => (text, b).into(),
            None => text.into(),
        };
        let enc = self.inner.encode(input, true).map_err(|e| Error::Input(format!("cannot tokenize {text:?}: {e}")))?;
        self.fits(Encoded { ids: enc.get_ids().to_vec(), type_ids: enc.get_type_ids().to_vec() }, pair.is_some())
    }

    /// [`encode`](Self::encode), and whether the input was cut to fit `max_length`.
    pub fn encode_truncated(&self, text: &str, pair: Option<&str>) -> Result<(Encoded, bool)> {
        let input: EncodeInput = match pair {
            Some(b) => (text, b).into(),
            None => text.into(),
        };
        let enc = self.inner.encode(input, true).map_err(|e| Error::Input(format!("cannot tokenize {text:?}: {e}")))?;
        let truncated = !enc.get_overflowing().is_empty();
        let e =
            self.fits(Encoded { ids: enc.get_ids().to_vec(), type_ids: enc.get_type_ids().to_vec() }, pair.is_some())?;
        Ok((e, truncated))
    }

    /// `e`, unless truncation could not bring it within `max_length` (the special tokens alone
    /// do not fit: tokenizers then leaves the input whole).
    fn fits(&self, mut e: Encoded, pair: bool) -> Result<Encoded> {
        if self.types_ignored {
            e.type_ids.iter_mut().for_each(|t| *t = 0);
        }
        if let Some(&t) = e.type_ids.iter().find(|&&t| t as usize >= self.type_vocab_size) {
            return Err(Error::Input(format!(
                "the model has {} token type(s) (type_vocab_size) but this input uses type {t}: it cannot \
                 take a text pair; give single texts",
                self.type_vocab_size
            )));
        }
        // Truncation keeps the special tokens; the limits checked on max_length (at least 3)
        // make this a guard against a tokenizer that does not truncate (a tokenizer.json
        // whose post-processor adds more), never a silent overflow of the model's positions.
        if e.ids.len() <= self.max_length {
            return Ok(e);
        }
        let specials = if pair { "[CLS] text [SEP] pair [SEP]" } else { "[CLS] text [SEP]" };
        Err(Error::Input(format!(
            "max length {} leaves no room for {specials}: an input was {} tokens after truncation",
            self.max_length,
            e.ids.len()
        )))
    }

    /// Encodes many examples (in parallel where the crate can).
    pub fn encode_many(&self, items: &[(String, Option<String>)]) -> Result<Vec<Encoded>> {
        let inputs: Vec<EncodeInput> = items
            .iter()
            .map(|(a, b)| match b {
                Some(b) => (a.as_str(), b.as_str()).into(),
                None => a.as_str().into(),
            })
            .collect();
        let encs = self.inner.encode_batch(inputs, true).map_err(|e| Error::Input(format!("cannot tokenize: {e}")))?;
        encs.into_iter()
            .zip(items)
            .map(|(e, (_, pair))| {
                self.fits(Encoded { ids: e.get_ids().to_vec(), type_ids: e.get_type_ids().to_vec() }, pair.is_some())
            })
            .collect()
    }

    /// Saves the tokenizer as `tokenizer.json` (used when the source had only `vocab.txt`).
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut t = self.inner.clone();
        t.with_truncation(None).map_err(|e| Error::Internal(e.to_string()))?;
        t.save(path, false).map_err(|e| Error::Internal(format!("writing {}: {e}", path.display())))
    }
}

/// `do_lower_case` from tokenizer_config.json (default true, as for uncased BERT).
fn lowercase(tokenizer_config: Option<&Path>) -> Result<bool> {
    let Some(path) = tokenizer_config else { return Ok(true) };
    let text = crate::input_file::read(path, crate::input_file::MODEL_CONFIG)?;
    let v: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Tokenizer { path: path.to_path_buf(), reason: format!("not valid JSON: {e}") })?;
    Ok(v.get("do_lower_case").and_then(|b| b.as_bool()).unwrap_or(true))
}

/// transformers' BertTokenizer pipeline from a `vocab.txt`.
pub fn wordpiece_from_vocab(vocab: &Path, lowercase: bool) -> Result<Tokenizer> {
    let err = |reason: String| Error::Tokenizer { path: vocab.to_path_buf(), reason };
    let model = WordPiece::from_file(&vocab.to_string_lossy())
        .unk_token("[UNK]".into())
        .continuing_subword_prefix("##".into())
        .max_input_chars_per_word(100)
        .build()
        .map_err(|e| err(format!("cannot read the vocabulary: {e}")))?;
    let id = |tok: &str| {
        use tokenizers::Model;
        model.token_to_id(tok).ok_or_else(|| err(format!("the vocabulary has no {tok} token")))
    };
    let (cls, sep) = (id("[CLS]")?, id("[SEP]")?);
    id("[UNK]")?;
    let mut t = Tokenizer::new(model);
    t.with_normalizer(Some(BertNormalizer::new(true, true, None, lowercase)))
        .map_err(|e| err(format!("cannot build the normalizer: {e}")))?;
    t.with_pre_tokenizer(Some(BertPreTokenizer));
    t.with_post_processor(Some(BertProcessing::new(("[SEP]".into(), sep), ("[CLS]".into(), cls))));
    t.with_decoder(Some(WordPieceDecoder::default()));
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vocab_file(dir: &Path) -> std::path::PathBuf {
        let words =
            ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "on", "mat", "##s", "a", "dog", "."];
        let p = dir.join("vocab.txt");
        std::fs::write(&p, words.join("\n")).unwrap();
        p
    }

    #[test]
    fn vocab_tokenizer_encodes_pairs_like_bert() {
        let dir = tempfile::tempdir().unwrap();
        let t =
            TextTokenizer::from_tokenizer(wordpiece_from_vocab(&vocab_file(dir.path()), true).unwrap(), 64).unwrap();
        let e = t.encode("The cats", Some("a DOG.")).unwrap();
        // [CLS] the cat ##s [SEP] a dog . [SEP]
        assert_eq!(e.ids, vec![2, 5, 6, 10, 3, 11, 12, 13, 3]);
        assert_eq!(e.type_ids, vec![0, 0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(t.encode("zebra", None).unwrap().ids, vec![2, 1, 3]);
    }

    #[test]
    fn truncation_is_longest_first_and_counts_special_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let t = TextTokenizer::from_tokenizer(wordpiece_from_vocab(&vocab_file(dir.path()), true).unwrap(), 8).unwrap();
        let e = t.encode("the cat sat on the mat", Some("a dog")).unwrap();
        assert_eq!(e.ids.len(), 8);
        // 8 - 3 special = 5 tokens: the longer first loses tokens until it is 3 vs the pair's 2.
        assert_eq!(e.ids, vec![2, 5, 6, 7, 3, 11, 12, 3]);
    }

    #[test]
    fn collate_pads_to_the_longest_in_the_batch() {
        let a = Encoded { ids: vec![2, 5, 3], type_ids: vec![0, 0, 0] };
        let b = Encoded { ids: vec![2, 5, 6, 3, 7], type_ids: vec![0, 0, 0, 0, 1] };
        let batch = collate(&[&a, &b], 0);
        assert_eq!((batch.batch, batch.seq), (2, 5));
        assert_eq!(batch.ids, vec![2, 5, 3, 0, 0, 2, 5, 6, 3, 7]);
        assert_eq!(batch.type_ids, vec![0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        assert_eq!(batch.mask, vec![1, 1, 1, 0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(batch.real_tokens(), 8);
    }

    #[test]
    fn padding_rounds_up_to_the_multiple_within_the_limit() {
        let p = Padding { pad_id: 0, multiple: 32, limit: 40 };
        assert_eq!([1, 31, 32, 33, 40].map(|n| p.length(n)), [32, 32, 32, 40, 40]);
        let p = Padding { pad_id: 0, multiple: 32, limit: 512 };
        assert_eq!([5, 64, 65, 500].map(|n| p.length(n)), [32, 64, 96, 512]);
        assert_eq!(Padding::exact(0).length(7), 7);
        let a = Encoded { ids: vec![2, 5, 3], type_ids: vec![0, 0, 0] };
        let b = Encoded { ids: vec![2, 5, 6, 3], type_ids: vec![0, 0, 1, 1] };
        let batch = Padding { pad_id: 9, multiple: 3, limit: 512 }.collate(&[&a, &b]);
        assert_eq!((batch.batch, batch.seq), (2, 6));
        assert_eq!(batch.ids, vec![2, 5, 3, 9, 9, 9, 2, 5, 6, 3, 9, 9]);
        assert_eq!(batch.type_ids, vec![0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0]);
        assert_eq!(batch.mask, vec![1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 0, 0]);
    }

    #[test]
    fn a_pair_for_a_model_of_one_token_type_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let vocab = dir.path().join("vocab.txt");
        std::fs::write(&vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\ngood\nbad\n").unwrap();
        let inner = wordpiece_from_vocab(&vocab, true).unwrap();
        let t = TextTokenizer::from_tokenizer(inner, 16).unwrap().with_type_vocab_size(1);
        assert_eq!(t.encode("good", None).unwrap().ids, vec![2, 4, 3]);
        let e = t.encode("good", Some("bad")).unwrap_err();
        assert!(e.to_string().contains("1 token type(s) (type_vocab_size) but this input uses type 1"), "{e}");
        assert!(t.encode_many(&[("good".into(), Some("bad".into()))]).is_err());
    }
}

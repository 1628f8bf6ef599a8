//! The generated teachers' tokenizers, one per family as their checkpoints ship them: BERT's,
//! ELECTRA's and DistilBERT's uncased WordPiece `vocab.txt`, RoBERTa's and XLM-RoBERTa's
//! `tokenizer.json` with a byte-level BPE and `<s> a </s></s> b </s>` pairs.

use std::collections::BTreeSet;

use tokenizers::models::bpe::{BPE, Vocab};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::{AddedToken, Tokenizer};

use crate::model::Family;

/// RoBERTa's special tokens, in the order of their ids (`<pad>` is 1, its `padding_idx`).
pub const ROBERTA_SPECIALS: [&str; 5] = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"];

/// The special tokens of `family`'s vocabulary, in the order of their ids.
pub fn specials(family: Family) -> &'static [&'static str] {
    match family {
        Family::Roberta | Family::XlmRoberta => &ROBERTA_SPECIALS,
        Family::Bert | Family::Electra | Family::DistilBert => &["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
    }
}

/// Whether `family`'s checkpoints ship a byte-level BPE `tokenizer.json` rather than `vocab.txt`.
pub fn is_byte_level(family: Family) -> bool {
    matches!(family, Family::Roberta | Family::XlmRoberta)
}

/// A byte-level BPE tokenizer as RoBERTa's: every one of `words` is one token, at the start of
/// a text and after a space (`Ġword`), taken whole (`ignore_merges`); any other text falls back to
/// single bytes, so that nothing is unknown. The same words always give the same ids.
pub fn byte_level_bpe(words: &[&str]) -> Result<Tokenizer, String> {
    let alphabet: BTreeSet<char> = ByteLevel::alphabet().into_iter().collect();
    // The byte-level form of a word after a space starts with 'Ġ'; the words are ASCII.
    let tokens = ROBERTA_SPECIALS
        .iter()
        .map(|s| s.to_string())
        .chain(alphabet.iter().map(char::to_string))
        .chain(words.iter().flat_map(|w| [w.to_string(), format!("\u{120}{w}")]));
    let mut vocab = Vocab::default();
    for token in tokens {
        let next = vocab.len() as u32;
        vocab.entry(token).or_insert(next);
    }
    let model =
        BPE::builder().vocab_and_merges(vocab, Vec::new()).ignore_merges(true).build().map_err(|e| e.to_string())?;
    let mut t = Tokenizer::new(model);
    t.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    t.with_decoder(Some(ByteLevel::default()));
    t.with_post_processor(Some(
        RobertaProcessing::new(("</s>".into(), 2), ("<s>".into(), 0)).trim_offsets(true).add_prefix_space(false),
    ));
    t.add_special_tokens(ROBERTA_SPECIALS.map(|s| AddedToken::from(s, true))).map_err(|e| e.to_string())?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_one_token_and_pairs_are_robertas() {
        let t = byte_level_bpe(&["the", "good", "film", "."]).unwrap();
        let id = |s: &str| t.token_to_id(s).unwrap();
        let e = t.encode(("the good film .", "film"), true).unwrap();
        let want = [0, id("the"), id("\u{120}good"), id("\u{120}film"), id("\u{120}."), 2, 2, id("film"), 2];
        assert_eq!(e.get_ids(), want);
        assert_eq!(id("<pad>"), 1);
        // Unknown words are bytes, never <unk>.
        let e = t.encode("zebra", false).unwrap();
        assert_eq!(e.get_ids().len(), 5, "{:?}", e.get_tokens());
        assert!(!e.get_ids().contains(&3));
        // The same words, the same ids.
        assert_eq!(byte_level_bpe(&["the", "good", "film", "."]).unwrap().get_vocab(true), t.get_vocab(true));
    }
}

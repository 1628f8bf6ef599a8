#!/usr/bin/env python3
"""Writes tests/fixtures/families/<family>: tiny random sequence classifiers of the BERT family
as transformers saves them (RoBERTa with a byte-level BPE tokenizer, XLM-RoBERTa with a
SentencePiece (Unigram) one, ELECTRA with embedding_size != hidden_size, DistilBERT with learned
and with sinusoidal positions), and expected.json with the token ids and logits transformers
computes for sentences and pairs, and for inputs cut at the model's position limit.

Not run by CI (it needs torch and transformers); rerun it by hand to regenerate the fixtures:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch transformers
    /tmp/venv/bin/python scripts/make_family_fixtures.py tests/fixtures/families
"""
import json
import sys
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, decoders, trainers
from transformers import (
    DistilBertConfig, DistilBertForSequenceClassification, DistilBertTokenizerFast,
    ElectraConfig, ElectraForSequenceClassification, ElectraTokenizerFast,
    RobertaConfig, RobertaForSequenceClassification, RobertaTokenizerFast,
    XLMRobertaConfig, XLMRobertaForSequenceClassification, XLMRobertaTokenizerFast,
)

CORPUS = """the movie was very good . the film is terrible and boring ! a long , sad story .
i love this movie . they played the plot slowly . cats and dogs . not bad at all ! she plays the red
cat . it was an old film , but fun . great . the man sat on the mat with the big blue dog and played
with it for a very long time . we love movies and they love films . an old man and a new woman with a
small cat who sat on the red mat . the acting was fun but the plot was boring .""".split(" . ")

SINGLES = [
    "the movie was very good",
    "The FILM is terrible and boring.",
    "a long, sad story",
    "unbelievable acting",
    "not bad at all!",
    "The man sat on the mat with the big blue dog and played with it for a very long time",
]
PAIRS = [
    ("the movie was good", "the film was great"),
    ("she loves the story", "she hates the story"),
    ("The plot was boring.", "The acting was fun!"),
    ("an old man", "a new woman with a small cat who sat on the red mat and played with the dog"),
]
LONG = " ".join(["the man sat on the mat with the big blue dog"] * 8)
LABELS = {"id2label": {0: "entailment", 1: "neutral", 2: "contradiction"},
          "label2id": {"entailment": 0, "neutral": 1, "contradiction": 2}}
WORDPIECE_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(".,!?'") + sorted(
    set(" ".join(CORPUS).replace(",", " ").replace("!", " ").split())) + ["##s", "##ed", "##ing", "un", "##able"]


def bpe_tokenizer():
    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.RobertaProcessing(("</s>", 2), ("<s>", 0), add_prefix_space=False)
    return RobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")


def unigram_tokenizer():
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.UnigramTrainer(vocab_size=150, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
                                      unk_token="<unk>")
    tok.train_from_iterator(CORPUS, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", 0), ("</s>", 2)])
    return XLMRobertaTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                   cls_token="<s>", unk_token="<unk>", pad_token="<pad>", mask_token="<mask>")


def randomize(model):
    """Random LayerNorm and bias values too, so a swapped gamma/beta or a dropped bias shows."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name or "layer_norm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
    return model.eval()


def families():
    common = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
                  initializer_range=0.2, **LABELS)
    bpe, unigram = bpe_tokenizer(), unigram_tokenizer()
    # Ids 0..n without gaps: a word of the corpus may also be in the added pieces.
    wordpiece = {t: i for i, t in enumerate(dict.fromkeys(WORDPIECE_VOCAB))}
    yield "roberta", bpe, 42, RobertaForSequenceClassification(RobertaConfig(
        vocab_size=len(bpe), max_position_embeddings=42, type_vocab_size=1, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, layer_norm_eps=1e-5, **common))
    yield "xlm-roberta", unigram, 34, XLMRobertaForSequenceClassification(XLMRobertaConfig(
        vocab_size=len(unigram), max_position_embeddings=34, type_vocab_size=1, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, layer_norm_eps=1e-5, **common))
    electra_tok = ElectraTokenizerFast(vocab=wordpiece, do_lower_case=True)
    yield "electra", electra_tok, 40, ElectraForSequenceClassification(ElectraConfig(
        vocab_size=len(wordpiece), embedding_size=16, max_position_embeddings=40, type_vocab_size=2,
        hidden_act="gelu", layer_norm_eps=1e-12, **common))
    distil_tok = DistilBertTokenizerFast(vocab=wordpiece, do_lower_case=True)
    for name, sinusoidal in (("distilbert", False), ("distilbert-sinusoidal", True)):
        yield name, distil_tok, 40, DistilBertForSequenceClassification(DistilBertConfig(
            vocab_size=len(wordpiece), dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=40,
            sinusoidal_pos_embds=sinusoidal, activation="gelu", initializer_range=0.2, **LABELS))


def main(out: Path) -> None:
    for name, tok, limit, model in families():
        torch.manual_seed(1234)
        model = randomize(type(model)(model.config))
        folder = out / name
        folder.mkdir(parents=True, exist_ok=True)
        tok.model_max_length = limit
        model.save_pretrained(folder, safe_serialization=True)
        tok.save_pretrained(folder)
        # The model's limit in tokens: RoBERTa's positions start after the padding index.
        tokens = limit - (model.config.pad_token_id + 1 if name in ("roberta", "xlm-roberta") else 0)
        cases = []
        items = [(s, None) for s in SINGLES] + PAIRS + [(LONG, None), (LONG, SINGLES[0])]
        for max_length, batch in ((tokens, items), (9, [(SINGLES[-1], None), PAIRS[-1]])):
            for text, pair in batch:
                enc = tok(text, pair, truncation="longest_first", max_length=max_length, return_tensors="pt")
                enc.pop("token_type_ids", None) if name not in ("electra",) else None
                with torch.no_grad():
                    logits = model(**enc).logits[0]
                cases.append({"text": text, "text_pair": pair, "max_length": max_length,
                              "input_ids": enc["input_ids"][0].tolist(), "logits": logits.tolist()})
        (folder / "expected.json").write_text(json.dumps(
            {"transformers": transformers.__version__, "torch": torch.__version__, "max_tokens": tokens,
             "cases": cases}, indent=1))
        print(f"wrote {folder} ({len(cases)} cases, {tokens} tokens at most)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/families"))

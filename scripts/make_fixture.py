#!/usr/bin/env python3
"""Writes tests/fixtures/tiny-bert: a tiny random BertForSequenceClassification saved by
transformers, its tokenizer, and expected.json with the token ids, logits and last-layer [CLS]
hidden states that transformers computes for single sentences and pairs.

Not run by CI (it needs torch and transformers); rerun it by hand to regenerate the fixture:
    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install torch transformers
    /tmp/venv/bin/python scripts/make_fixture.py tests/fixtures/tiny-bert
"""
import json
import sys
from pathlib import Path

import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

WORDS = """the a an is was are be to of and in on it this that with for as at by not no but very
good bad great terrible movie film story plot actor acting fun boring love hate funny sad long short
man woman dog cat sat mat ran quickly slowly red blue big small new old play plays played playing
he she they we you i""".split()

SINGLES = [
    "the movie was very good",
    "The FILM is terrible and boring.",
    "a long, sad story",
    "i love this movie",
    "they played the plot slowly",
    "unbelievable acting",  # unknown words -> [UNK] / word pieces
    "cats and dogs",
    "not bad at all!",
    "she plays the red cat",
    "it was an old film, but fun",
    "great",
    "The man sat on the mat with the big blue dog and played with it for a very long time",
]
PAIRS = [
    ("the movie was good", "the film was great"),
    ("a man plays", "no one plays"),
    ("the dog ran quickly", "the dog ran slowly"),
    ("she loves the story", "she hates the story"),
    ("it is red", "it is blue and big"),
    ("The plot was boring.", "The acting was fun!"),
    ("we love movies", "they love films"),
    ("an old man", "a new woman with a small cat who sat on the red mat"),
]


def main(out: Path) -> None:
    torch.manual_seed(1234)
    out.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list(".,!?'") + WORDS
    vocab += ["##s", "##ed", "##ing", "##ly", "##e", "##a", "##i", "##o", "##n", "##t", "un", "##be", "##liev", "##able"]
    (out / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True)
    tok.model_max_length = 64

    config = BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
        intermediate_size=37, max_position_embeddings=64, type_vocab_size=2, hidden_act="gelu",
        layer_norm_eps=1e-12, initializer_range=0.2,
        id2label={0: "entailment", 1: "neutral", 2: "contradiction"},
        label2id={"entailment": 0, "neutral": 1, "contradiction": 2},
    )
    model = BertForSequenceClassification(config)
    # Random LayerNorm and bias values too, so a swapped gamma/beta or a dropped bias shows.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias"):
                p.copy_(0.1 * torch.randn_like(p))
    model.eval()
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)

    cases = []
    for max_length, items in ((64, [(s, None) for s in SINGLES] + PAIRS), (9, [(SINGLES[-1], None), PAIRS[-1]])):
        for text, pair in items:
            enc = tok(text, pair, truncation="longest_first", max_length=max_length, return_tensors="pt")
            with torch.no_grad():
                o = model(**enc, output_hidden_states=True)
            cases.append({
                "text": text, "text_pair": pair, "max_length": max_length,
                "input_ids": enc["input_ids"][0].tolist(),
                "token_type_ids": enc["token_type_ids"][0].tolist(),
                "logits": o.logits[0].tolist(),
                "cls_hidden": o.hidden_states[-1][0, 0].tolist(),
            })
    (out / "expected.json").write_text(json.dumps({"transformers": __import__("transformers").__version__,
                                                   "torch": torch.__version__, "cases": cases}, indent=1))
    print(f"wrote {out} ({len(cases)} cases)")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/tiny-bert"))

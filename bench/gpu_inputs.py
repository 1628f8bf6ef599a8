#!/usr/bin/env python3
"""Inputs for bench/gpu.sh, generated on the GPU machine (no weights or data travel there):

- DIR/teacher/: a random bert-base-shaped BertForSequenceClassification (768 hidden, 12 layers,
  12 heads, 3072 intermediate, 3 labels named as MNLI's), saved with safetensors, with a
  WordPiece tokenizer of 30,522 made-up words;
- DIR/data/train.tsv and dev.tsv: an MNLI-shaped task (premise, hypothesis, label) whose lengths
  follow MNLI's (premise about 22 words, hypothesis about 11; about 40 tokens a pair), its
  labels a function of the words so that training learns something;
- DIR/pairs.jsonl: inputs for `distill-tui predict --input` (pairs, a long one truncated).
- DIR/experiment.toml: the distill-tui matrix on them (teacher fine-tuned one epoch, four
  6-layer students one epoch each, batch 32, max_length 128);

    python3 bench/gpu_inputs.py DIR [--train 4000] [--dev 1000]
"""
import argparse
import json
import os
import random

import torch
from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

LABELS = ["entailment", "neutral", "contradiction"]
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
VOCAB = 30522


def words():
    """Pronounceable made-up words, one token each in the WordPiece vocabulary."""
    syl = ["ka", "to", "mi", "re", "su", "no", "la", "ve", "di", "po", "shu", "ten", "mar", "lo", "gi", "ba"]
    out, seen = [], set(SPECIAL)
    for n in range(VOCAB * 4):
        w = "".join(syl[(n >> (4 * i)) % 16] for i in range(1 + n % 3)) + str(n % 97)
        if w not in seen:
            seen.add(w)
            out.append(w)
        if len(out) == VOCAB - len(SPECIAL):
            break
    return out


def sentence(rng, vocab, mean, sd, lo=3):
    n = max(lo, int(rng.gauss(mean, sd)))
    # Zipf-like: frequent words are frequent, as in text.
    return [vocab[min(int(rng.paretovariate(1.1)) - 1, len(vocab) - 1)] for _ in range(n)]


def example(rng, vocab):
    premise = sentence(rng, vocab, 22, 12)
    hypothesis = sentence(rng, vocab, 11, 5)
    # Learnable: the label is how many hypothesis words appear in the premise, capped.
    shared = len(set(premise) & set(hypothesis))
    label = LABELS[min(shared, 2)]
    return " ".join(premise), " ".join(hypothesis), label


def main():
    p = argparse.ArgumentParser()
    p.add_argument("dir")
    p.add_argument("--train", type=int, default=4000)
    p.add_argument("--dev", type=int, default=1000)
    a = p.parse_args()
    os.makedirs(os.path.join(a.dir, "data"), exist_ok=True)
    vocab = words()
    teacher = os.path.join(a.dir, "teacher")
    os.makedirs(teacher, exist_ok=True)
    with open(os.path.join(teacher, "vocab.txt"), "w") as f:
        f.write("\n".join(SPECIAL + vocab) + "\n")
    tok = BertTokenizerFast(vocab_file=os.path.join(teacher, "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(teacher)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=VOCAB, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=3072, num_labels=3,
                        id2label=dict(enumerate(LABELS)), label2id={l: i for i, l in enumerate(LABELS)})
    BertForSequenceClassification(config).save_pretrained(teacher, safe_serialization=True)
    rng = random.Random(1)
    for name, n in (("train", a.train), ("dev", a.dev)):
        with open(os.path.join(a.dir, "data", f"{name}.tsv"), "w") as f:
            f.write("premise\thypothesis\tlabel\n")
            for _ in range(n):
                f.write("\t".join(example(rng, vocab)) + "\n")
    with open(os.path.join(a.dir, "pairs.jsonl"), "w") as f:
        for i in range(16):
            prem, hyp, _ = example(rng, vocab)
            if i == 0:
                prem = " ".join([prem] * 30)  # longer than 512 tokens: truncated
            f.write(json.dumps({"text": prem, "text_pair": hyp}) + "\n")
    with open(os.path.join(a.dir, "experiment.toml"), "w") as f:
        f.write(f"""[experiment]
name = "gpu-matrix"
output_dir = "out"
seeds = [42]

[teacher]
model = "teacher"
finetune_epochs = 1

[student]
num_layers = 6

[data]
task = "mnli"
train = "data/train.tsv"
validation = "data/dev.tsv"
max_length = 128

[training]
epochs = 1
batch_size = 32
learning_rate = 5e-5
""")
    print(json.dumps({"dir": a.dir, "train": a.train, "dev": a.dev, "vocab": VOCAB}))


if __name__ == "__main__":
    main()

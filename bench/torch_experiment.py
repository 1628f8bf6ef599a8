#!/usr/bin/env python3
"""The protocol of `examples/minilm-sst2.toml` in PyTorch + transformers, for a side-by-side
wall-time and peak-memory comparison with `distill-tui --headless` on the same machine.

Teacher: a local BERT folder (all-MiniLM-L6-v2 from ../shared/tools/fetch-minilm.sh), a fresh
2-label head, fine-tuned 2 epochs with cross-entropy. Students: 3 layers copied from the
teacher's {1,2,3}, {4,5,6}, {1,3,5}, {2,4,6} (embeddings and head copied too), 2 epochs each,
loss (CE + KL(T=1, batch mean) + (1 - cos(logits)))/3, Adam (eps 1e-8) at 5e-5 with linear decay
to 0, batch 32, max_length 128, dropout on. A seeded subset of 2,000 training examples; every
epoch evaluated on the full validation TSV. Written the way the course notebook does it:
shuffled batches padded per batch, a teacher forward in every distillation step.

    python3 bench/torch_experiment.py --model /work/minilm \
        --train ../shared/data/glue-sst2/train.tsv --validation ../shared/data/glue-sst2/dev.tsv

`--matched` runs the same protocol with distill-tui's tricks, the strongest honest PyTorch peer:
every example tokenized once; batches bucketed by length as distill-tui buckets them (shuffle,
sort each window of 50 batches by length, cut into batches, shuffle the batches; the same
algorithm with Python's random stream) and padded to their longest sequence; the teacher's
logits computed once after its fine-tune and read by every student step; evaluation in batches
sorted by length.

Prints a line per epoch and, last, one JSON object: wall_s, peak_rss_mb, and every run's
validation accuracy. `--threads` defaults to torch's choice (all cores).

`--device cuda` runs it on the GPU (peak GPU memory added to the JSON); `--text-columns
premise,hypothesis` reads a pair task (labels as ids or names, `--labels` naming them in order)
and `--num-labels` keeps the teacher's head when it has one of that size (bench/gpu.sh).
"""
import argparse
import copy
import csv
import json
import random
import resource
import sys
import time

import torch
import torch.nn.functional as F
from transformers import AutoTokenizer, BertForSequenceClassification


COLUMNS = ["sentence"]
LABELS = []
DEVICE = torch.device("cpu")


def read_tsv(path):
    """(text, text_pair or None, label id) per row; labels as ids or names of LABELS."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    head = rows[0]
    cols, l = [head.index(c) for c in COLUMNS], head.index("label")
    label = lambda v: LABELS.index(v) if v in LABELS else int(v)
    return [(r[cols[0]], r[cols[1]] if len(cols) > 1 else None, label(r[l])) for r in rows[1:] if len(r) == len(head)]


def tokenize(tok, data, **kw):
    texts = [d[0] for d in data]
    pairs = [d[1] for d in data] if data and data[0][1] is not None else None
    return tok(texts, pairs, **kw)


def batches(n, size, seed):
    order = list(range(n))
    random.Random(seed).shuffle(order)
    return [order[i:i + size] for i in range(0, n, size)]


BUCKET_BATCHES = 50


def bucketed_batches(lengths, size, seed):
    """distill-tui's epoch order (src/data/batches.rs) with Python's random stream."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    out = []
    for w in range(0, len(order), BUCKET_BATCHES * size):
        window = sorted(order[w:w + BUCKET_BATCHES * size], key=lambda i: lengths[i])
        out.extend(window[i:i + size] for i in range(0, len(window), size))
    rng.shuffle(out)
    return out


class Encoded:
    """Every example tokenized once (truncated, not padded), padded per batch."""

    def __init__(self, tok, data, max_length):
        enc = tokenize(tok, data, truncation=True, max_length=max_length)
        self.ids = enc["input_ids"]
        self.types = enc["token_type_ids"]
        self.labels = [d[2] for d in data]
        self.lengths = [len(x) for x in self.ids]
        self.pad = tok.pad_token_id

    def batch(self, idx):
        n = max(self.lengths[i] for i in idx)
        ids = torch.full((len(idx), n), self.pad, dtype=torch.long)
        types = torch.zeros((len(idx), n), dtype=torch.long)
        mask = torch.zeros((len(idx), n), dtype=torch.long)
        for r, i in enumerate(idx):
            k = self.lengths[i]
            ids[r, :k] = torch.tensor(self.ids[i])
            types[r, :k] = torch.tensor(self.types[i])
            mask[r, :k] = 1
        x = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
        return {k: v.to(DEVICE) for k, v in x.items()}, torch.tensor([self.labels[i] for i in idx], device=DEVICE)


@torch.no_grad()
def evaluate_matched(model, enc, batch):
    model.eval()
    loss, correct = 0.0, 0
    order = sorted(range(len(enc.lengths)), key=lambda i: enc.lengths[i])
    for b in range(0, len(order), batch):
        x, y = enc.batch(order[b:b + batch])
        logits = model(**x).logits
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(-1) == y).sum().item()
    model.train()
    n = len(enc.lengths)
    return loss / n, correct / n


@torch.no_grad()
def teacher_logits(teacher, enc, batch):
    out = torch.empty((len(enc.lengths), teacher.config.num_labels), device=DEVICE)
    order = sorted(range(len(enc.lengths)), key=lambda i: enc.lengths[i])
    for b in range(0, len(order), batch):
        idx = order[b:b + batch]
        x, _ = enc.batch(idx)
        out[idx] = teacher(**x).logits
    return out


def distill_loss(logits, t_logits, y):
    """(CE + KL + (1 - cos)) / 3: the protocol's loss, equal weights, temperature 1."""
    ce = F.cross_entropy(logits, y)
    kl = F.kl_div(F.log_softmax(logits, -1), F.softmax(t_logits, -1), reduction="batchmean")
    cos = (1 - F.cosine_similarity(logits, t_logits, dim=-1)).mean()
    return (ce + kl + cos) / 3


def optimizer_step(opt, sched, loss):
    opt.zero_grad()
    loss.backward()
    opt.step()
    sched.step()


def train_matched(model, enc, valid, epochs, a, seed, cached=None, name=""):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-8)
    total = epochs * ((len(enc.lengths) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: max(0.0, 1 - step / total))
    model.train()
    vl, va = evaluate_matched(model, valid, a.batch)
    print(f"{name} epoch 0 val loss {vl:.4f} acc {va:.4f}", flush=True)
    for epoch in range(1, epochs + 1):
        t0, losses = time.time(), []
        for idx in bucketed_batches(enc.lengths, a.batch, seed * 1000 + epoch):
            x, y = enc.batch(idx)
            logits = model(**x).logits
            loss = F.cross_entropy(logits, y) if cached is None else distill_loss(logits, cached[idx], y)
            optimizer_step(opt, sched, loss)
            losses.append(loss.item())
        vl, va = evaluate_matched(model, valid, a.batch)
        print(f"{name} epoch {epoch} train {sum(losses) / len(losses):.4f} val loss {vl:.4f} acc {va:.4f} ({time.time() - t0:.0f}s)", flush=True)
    return va


def collate(tok, data, idx, max_length):
    enc = tokenize(tok, [data[i] for i in idx], truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    return enc.to(DEVICE), torch.tensor([data[i][2] for i in idx], device=DEVICE)


@torch.no_grad()
def evaluate(model, tok, data, max_length):
    model.eval()
    loss, correct = 0.0, 0
    for idx in [list(range(i, min(i + 64, len(data)))) for i in range(0, len(data), 64)]:
        enc, y = collate(tok, data, idx, max_length)
        logits = model(**enc).logits
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(-1) == y).sum().item()
    model.train()
    return loss / len(data), correct / len(data)


def train(model, tok, train_data, valid, epochs, a, seed, teacher=None, name=""):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr, eps=1e-8)
    total = epochs * ((len(train_data) + a.batch - 1) // a.batch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: max(0.0, 1 - step / total))
    model.train()
    vl, va = evaluate(model, tok, valid, a.max_length)
    print(f"{name} epoch 0 val loss {vl:.4f} acc {va:.4f}", flush=True)
    for epoch in range(1, epochs + 1):
        t0, losses = time.time(), []
        for idx in batches(len(train_data), a.batch, seed * 1000 + epoch):
            enc, y = collate(tok, train_data, idx, a.max_length)
            logits = model(**enc).logits
            if teacher is None:
                loss = F.cross_entropy(logits, y)
            else:
                with torch.no_grad():
                    t_logits = teacher(**enc).logits
                loss = distill_loss(logits, t_logits, y)
            optimizer_step(opt, sched, loss)
            losses.append(loss.item())
        vl, va = evaluate(model, tok, valid, a.max_length)
        print(f"{name} epoch {epoch} train {sum(losses) / len(losses):.4f} val loss {vl:.4f} acc {va:.4f} ({time.time() - t0:.0f}s)", flush=True)
    return va


def student_from(teacher, layers):
    s = copy.deepcopy(teacher)
    s.bert.encoder.layer = torch.nn.ModuleList([copy.deepcopy(teacher.bert.encoder.layer[i - 1]) for i in layers])
    s.config.num_hidden_layers = len(layers)
    return s


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True)
    p.add_argument("--train", required=True)
    p.add_argument("--validation", required=True)
    p.add_argument("--train-examples", type=int, default=2000)
    p.add_argument("--finetune-epochs", type=int, default=2)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--matched", action="store_true", help="distill-tui's tricks: see the module docstring")
    p.add_argument("--device", default="cpu")
    p.add_argument("--text-columns", default="sentence")
    p.add_argument("--labels", default="", help="label names in id order, comma-separated")
    p.add_argument("--num-labels", type=int, default=2)
    a = p.parse_args()
    global DEVICE
    DEVICE = torch.device(a.device)
    COLUMNS[:] = a.text_columns.split(",")
    LABELS[:] = [l for l in a.labels.split(",") if l]
    if a.threads:
        torch.set_num_threads(a.threads)
    start = time.time()
    train_data = read_tsv(a.train)
    random.Random(1150).shuffle(train_data)
    train_data = train_data[: a.train_examples]
    valid = read_tsv(a.validation)
    tok = AutoTokenizer.from_pretrained(a.model)
    torch.manual_seed(a.seed)
    teacher = BertForSequenceClassification.from_pretrained(a.model, num_labels=a.num_labels).to(DEVICE)
    if a.matched:
        enc, venc = Encoded(tok, train_data, a.max_length), Encoded(tok, valid, a.max_length)
        result = {"teacher": train_matched(teacher, enc, venc, a.finetune_epochs, a, a.seed, name="teacher")}
        teacher.eval()
        cached = teacher_logits(teacher, enc, a.batch)
    else:
        result = {"teacher": train(teacher, tok, train_data, valid, a.finetune_epochs, a, a.seed, name="teacher")}
    teacher.eval()
    n = teacher.config.num_hidden_layers
    k = n // 2
    strategies = {
        "Top-K Layer": list(range(1, k + 1)),
        "Bottom-K Layer": list(range(n - k + 1, n + 1)),
        "Odd Layer": list(range(1, n + 1, 2))[:k],
        "Even Layer": list(range(2, n + 1, 2))[:k],
    }
    for name, layers in strategies.items():
        student = student_from(teacher, layers)
        if a.matched:
            result[name] = train_matched(student, enc, venc, a.epochs, a, a.seed, cached=cached, name=name)
        else:
            result[name] = train(student, tok, train_data, valid, a.epochs, a, a.seed, teacher=teacher, name=name)
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()
    wall = time.time() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    gpu = {"peak_gpu_mb": round(torch.cuda.max_memory_allocated() / 2**20)} if DEVICE.type == "cuda" else {}
    print(json.dumps({"mode": "matched" if a.matched else "notebook", "wall_s": round(wall, 1), "peak_rss_mb": round(peak),
                      "threads": torch.get_num_threads(), "device": str(DEVICE), **gpu,
                      "torch": torch.__version__, "validation_accuracy": result}))


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks that a folder distill-tui saved loads in transformers and gives the fixture's logits.

    DISTILL_TUI_KEEP_SAVED=/tmp/saved cargo test --test save_round_trip
    /tmp/venv/bin/python scripts/check_saved.py /tmp/saved tests/fixtures/tiny-bert/expected.json

Students of every family (RoBERTa, XLM-RoBERTa, ELECTRA, DistilBERT), each with the logits
distill-tui computed for it:
    DISTILL_TUI_KEEP_FAMILIES=/tmp/fam cargo test --test families students
    for f in roberta xlm-roberta electra distilbert distilbert-sinusoidal; do
        /tmp/venv/bin/python scripts/check_saved.py /tmp/fam/$f /tmp/fam/$f/expected.json; done
"""
import json
import sys

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

folder, expected = sys.argv[1], sys.argv[2]
model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
tok = AutoTokenizer.from_pretrained(folder)
worst = 0.0
for case in json.load(open(expected))["cases"]:
    enc = tok(case["text"], case["text_pair"], truncation="longest_first", max_length=case["max_length"], return_tensors="pt")
    assert enc["input_ids"][0].tolist() == case["input_ids"], case["text"]
    with torch.no_grad():
        logits = model(**enc).logits[0]
    worst = max(worst, (logits - torch.tensor(case["logits"])).abs().max().item())
print(f"{type(model).__name__} with {model.config.num_hidden_layers} layers, labels {model.config.id2label}: "
      f"max |logit difference| = {worst:.2e}")
assert worst < 1e-5

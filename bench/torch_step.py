#!/usr/bin/env python3
"""The distillation step of `distill-tui bench`, in PyTorch + transformers, same shapes and
same work: random-weight teacher (`--layers`, hidden `--hidden`, hidden/64 heads, intermediate
4*hidden, vocab 30522, 3 labels) forward without gradients; student with layers/2 layers
copied from the teacher's first half; (CE + KL + cosine)/3; backward; Adam. Prints one JSON
object with the same keys as `distill-tui bench --json`.

    python3 bench/torch_step.py --hidden 384 --layers 12 --batch 32 --seq 128 --steps 5 [--device cuda] [--precision bf16]

`--precision bf16` runs the forward passes and the loss under `torch.autocast(device,
torch.bfloat16)` (what HF Trainer's `--bf16` does; weights and Adam stay f32). On CUDA the JSON
also has `peak_gpu_mb` (the caching allocator's peak) and `first_step_s`.
"""
import argparse
import json
import resource
import statistics
import time

import torch
from transformers import BertConfig, BertForSequenceClassification

from torch_experiment import distill_loss


def flops(h, layers, batch, seq):
    t = batch * seq
    f = 24 * t * h * h + 4 * batch * seq * seq * h
    return layers * f + 3 * (layers // 2) * f


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--layers", type=int, default=12)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--precision", choices=["f32", "bf16"], default="f32")
    a = p.parse_args()
    dev = torch.device(a.device)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=a.hidden, num_hidden_layers=a.layers,
                     num_attention_heads=a.hidden // 64, intermediate_size=4 * a.hidden, num_labels=3)
    teacher = BertForSequenceClassification(cfg).to(dev).eval()
    scfg = BertConfig(**{**cfg.to_dict(), "num_hidden_layers": a.layers // 2})
    student = BertForSequenceClassification(scfg).to(dev).train()
    sd = {k: v for k, v in teacher.state_dict().items()}
    student.load_state_dict({k: v for k, v in sd.items() if k in student.state_dict()}, strict=False)
    opt = torch.optim.Adam(student.parameters(), lr=5e-5, eps=1e-8)
    ids = torch.randint(1000, 30000, (a.batch, a.seq), device=dev)
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 3, (a.batch,), device=dev)
    times = []
    for step in range(a.steps + 1):
        if dev.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast(dev.type, torch.bfloat16, enabled=a.precision == "bf16"):
            with torch.no_grad():
                t_logits = teacher(input_ids=ids, attention_mask=mask).logits
            s_logits = student(input_ids=ids, attention_mask=mask).logits
            loss = distill_loss(s_logits.float(), t_logits.float(), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()
        if step > 0:
            times.append(time.perf_counter() - t0)
        else:
            first = time.perf_counter() - t0
    med = statistics.median(times)
    print(json.dumps({
        "backend": "pytorch-" + dev.type, "device": torch.cuda.get_device_name() if dev.type == "cuda" else f"CPU, {torch.get_num_threads()} threads",
        "hidden": a.hidden, "teacher_layers": a.layers, "student_layers": a.layers // 2, "batch": a.batch, "seq": a.seq,
        "steps": a.steps, "precision": a.precision, "first_step_s": first, "step_s_median": med, "step_s_min": min(times), "examples_per_s": a.batch / med,
        "gflops": flops(a.hidden, a.layers, a.batch, a.seq) / med / 1e9,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "torch": torch.__version__,
        **({"peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20} if dev.type == "cuda" else {}),
    }))


if __name__ == "__main__":
    main()

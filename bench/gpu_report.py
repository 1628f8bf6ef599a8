#!/usr/bin/env python3
"""Reads what bench/gpu.sh left in RAW and writes OUT/gpu.json (every figure) and OUT/gpu.md
(the tables for docs/ and the README): predict's logits against transformers and the CPU, the
demo cold and warm, the step next to PyTorch in f32 and bf16 with peak GPU memory, the matrix end
to end next to bench/torch_experiment.py, compiled shapes and their compile times, stalls, and
which goals of the GPU issue were met.

    python3 bench/gpu_report.py RAW OUT
"""
import glob
import json
import os
import re
import statistics
import sys

RAW, OUT = sys.argv[1], sys.argv[2]


def load(name, last_line=False):
    path = os.path.join(RAW, name)
    try:
        text = open(path).read()
    except OSError:
        return None
    try:
        if last_line:
            lines = [l for l in text.splitlines() if l.strip().startswith("{")]
            return json.loads(lines[-1]) if lines else None
        return json.loads(text)
    except (ValueError, IndexError):
        return None


def jsonl(path):
    out = []
    try:
        for line in open(path):
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    except OSError:
        pass
    return out


def err_tail(name, n=400):
    try:
        return open(os.path.join(RAW, name)).read()[-n:]
    except OSError:
        return ""


def baseline():
    try:
        return float(open(os.path.join(RAW, "mem-baseline.txt")).read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


def peak_mem(name):
    try:
        values = [float(v) for v in open(os.path.join(RAW, f"mem-{name}.txt")).read().split() if v.strip()]
    except (OSError, ValueError):
        return None
    return max(values) - baseline() if values else None


def timing(name):
    return load(f"{name}.time") or {}


def predict():
    out = {}
    for model in ("tiny", "teacher"):
        runs = {}
        for who in ("gpu", "cpu", "transformers"):
            rows = jsonl(os.path.join(RAW, f"predict-{model}-{who}.out"))
            runs[who] = [r["logits"] for r in rows if "logits" in r]
        entry = {k: len(v) for k, v in runs.items()}

        def diff(a, b):
            if not runs[a] or len(runs[a]) != len(runs[b]):
                return None
            return max(abs(x - y) for ra, rb in zip(runs[a], runs[b]) for x, y in zip(ra, rb))

        entry["cuda_vs_transformers"] = diff("gpu", "transformers")
        entry["cuda_vs_cpu"] = diff("gpu", "cpu")
        entry["cpu_vs_transformers"] = diff("cpu", "transformers")
        if not runs["gpu"]:
            entry["cuda_error"] = err_tail(f"predict-{model}-gpu.err")
        out[model] = entry
    return out


def bench():
    rows = []
    for path in sorted(glob.glob(os.path.join(RAW, "bench-burn-*.out"))):
        tag = os.path.basename(path)[len("bench-burn-"):-len(".out")]
        if tag.endswith("-warm"):
            continue
        burn = load(f"bench-burn-{tag}.out", last_line=True)
        torch = load(f"bench-torch-{tag}.out", last_line=True)
        h, l, seq, precision = tag.split("-")
        row = {"hidden": int(h), "layers": int(l), "seq": int(seq), "precision": precision}
        if burn:
            row["burn"] = {k: burn.get(k) for k in ("examples_per_s", "step_s_median", "first_step_s", "gflops", "phases_s")}
            row["burn"]["peak_gpu_mib"] = peak_mem(f"bench-burn-{tag}")
        else:
            row["burn_error"] = err_tail(f"bench-burn-{tag}.err")
        if torch:
            row["torch"] = {k: torch.get(k) for k in ("examples_per_s", "step_s_median", "first_step_s", "peak_gpu_mb")}
            row["torch"]["peak_gpu_mib"] = peak_mem(f"bench-torch-{tag}")
        else:
            row["torch_error"] = err_tail(f"bench-torch-{tag}.err")
        if burn and torch:
            row["ratio"] = burn["examples_per_s"] / torch["examples_per_s"]
        rows.append(row)
    rows.sort(key=lambda r: (r["hidden"], -r["seq"], r["precision"] != "f32"))
    warm = {}
    for path in glob.glob(os.path.join(RAW, "bench-burn-*-warm.out")):
        tag = os.path.basename(path)[len("bench-burn-"):-len("-warm.out")]
        w, c = load(os.path.basename(path), last_line=True), load(f"bench-burn-{tag}.out", last_line=True)
        if w and c:
            warm[tag] = {"first_step_cold_s": c["first_step_s"], "first_step_warm_s": w["first_step_s"]}
    return rows, warm


STEP_LOG = re.compile(r"first training step on a batch of (\d+)x(\d+) tokens: ([\d.]+)s")


def run_folder(name):
    """Compiled shapes, their first-step times, stalls and accuracies of one experiment's logs."""
    d = os.path.join(RAW, name)
    if not os.path.isdir(d):
        return None
    events = jsonl(os.path.join(d, "events.jsonl"))
    cells = {os.path.basename(p)[5:-6]: jsonl(p) for p in glob.glob(os.path.join(d, "cell-*.jsonl"))}
    logs = [e.get("text", "") for e in events + [e for c in cells.values() for e in c] if e.get("event") == "log"]
    compiled = [{"batch": int(m[1]), "tokens": int(m[2]), "first_step_s": float(m[3])} for m in map(STEP_LOG.search, logs) if m]
    shapes = [l for l in logs if "compiled on the GPU" in l]
    # Step times from examples/s; a stall is a step slower than 3x the median of its run, after
    # the teacher's first epoch (by then every training shape has been compiled once).
    stalls, medians = [], {}
    for run, evs in [("teacher", events)] + sorted(cells.items()):
        started = next((e for e in evs if e.get("event") == "run_started"), {})
        per_epoch = started.get("steps_per_epoch") or 0
        # Full batches only (the last of an epoch may be smaller; its examples/s says less).
        steps = [e for e in evs if e.get("event") == "step" and e.get("examples_per_s")
                 and not (per_epoch and e.get("step", 0) % per_epoch == 0)]
        times = [32 / e["examples_per_s"] for e in steps]
        if not times:
            continue
        med = statistics.median(times)
        medians[run] = med
        for e, t in zip(steps, times):
            late = run != "teacher" or e.get("epoch", 1) > 1
            if late and t > 3 * med:
                stalls.append({"run": run, "epoch": e.get("epoch"), "step": e.get("step"), "seconds": round(t, 3),
                               "median_s": round(med, 4)})
    results = None
    try:
        results = json.load(open(os.path.join(d, "results.json")))
    except (OSError, ValueError):
        pass
    acc = {}
    if results:
        acc["teacher"] = results["teacher"].get("validation_accuracy")
        for r in results.get("runs", []):
            acc[r["name"]] = r.get("validation_accuracy")
    return {"compiled_training_shapes": compiled, "shapes": shapes, "stalls": stalls, "median_step_s": medians,
            "validation_accuracy": acc, "device": (results or {}).get("device")}


def matrix():
    out = {"distill_tui": timing("matrix-burn"), "distill_tui_bf16": timing("matrix-burn-bf16")}
    for mode in ("notebook", "matched"):
        j = load(f"matrix-torch-{mode}.out", last_line=True)
        # The wall time of the whole process, as for distill-tui (the script's own is kept too).
        j = j or {"error": err_tail(f"matrix-torch-{mode}.err")}
        j["internal_wall_s"] = j.pop("wall_s", None)
        out[f"torch_{mode}"] = {**j, **timing(f"matrix-torch-{mode}")}
    out["distill_tui"]["peak_gpu_mib"] = peak_mem("matrix-burn")
    for mode in ("notebook", "matched"):
        out[f"torch_{mode}"]["peak_gpu_mib"] = peak_mem(f"matrix-torch-{mode}")
    ours = out["distill_tui"].get("wall_s") if out["distill_tui"].get("rc") == 0 else None
    for mode in ("notebook", "matched"):
        theirs = out[f"torch_{mode}"].get("wall_s") if out[f"torch_{mode}"].get("rc") == 0 else None
        out[f"speedup_vs_{mode}"] = theirs / ours if ours and theirs else None
    if out["distill_tui"].get("rc") not in (0, None):
        out["distill_tui"]["error"] = err_tail("matrix-burn.err", 1500)
    out["runs"] = run_folder("out-gpu-matrix")
    out["runs_bf16"] = run_folder("out-gpu-matrix-bf16")
    return out


def goals(report):
    g = {}
    rows = report["bench"]
    f32 = [r.get("ratio") for r in rows if r["precision"] == "f32"]
    bf16 = [r.get("ratio") for r in rows if r["precision"] == "bf16"]
    g["burn_cuda_f32_at_least_1x_pytorch_eager"] = bool(f32) and all(x is not None and x >= 1.0 for x in f32)
    g["bf16_at_least_1x_pytorch_autocast"] = bool(bf16) and all(x is not None and x >= 1.0 for x in bf16)
    m = report["matrix"]
    g["matrix_at_least_2x_notebook"] = (m.get("speedup_vs_notebook") or 0) >= 2.0
    g["matrix_at_least_1_5x_matched"] = (m.get("speedup_vs_matched") or 0) >= 1.5
    runs = m.get("runs") or {}
    g["no_stall_after_first_epoch"] = bool(runs) and not runs.get("stalls")
    demo = report["demo"].get("cold", {})
    g["demo_cold_under_a_minute"] = demo.get("rc") == 0 and demo.get("wall_s", 1e9) < 60
    p = report["predict"]
    g["logits_within_1e-3"] = all(
        (p[m].get(k) is not None and p[m][k] <= 1e-3) for m in p for k in ("cuda_vs_transformers", "cuda_vs_cpu"))
    return g


def fmt(x, spec=".2f"):
    return "–" if x is None else format(x, spec)


def markdown(r):
    e = r["env"]
    lines = [f"GPU: {e.get('gpu')} ({e.get('gpu_memory_mib')} MiB), driver {e.get('driver')}; CPU: {e.get('cpu')}; "
             f"{e.get('python')}; {e.get('distill_tui')}, commit {e.get('commit')}; {e.get('date')}.", ""]
    lines += ["| step, batch 32 | precision | distill-tui (burn-cuda) | PyTorch | ratio | first step (burn / torch) | peak GPU MiB (burn / torch) |",
              "|---|---|---|---|---|---|---|"]
    for row in r["bench"]:
        b, t = row.get("burn", {}), row.get("torch", {})
        lines.append(
            f"| {row['hidden']}/{row['layers']}, seq {row['seq']} | {row['precision']} "
            f"| {fmt(b.get('examples_per_s'), '.0f')} ex/s | {fmt(t.get('examples_per_s'), '.0f')} ex/s "
            f"| **{fmt(row.get('ratio'))}x** | {fmt(b.get('first_step_s'), '.1f')} s / {fmt(t.get('first_step_s'), '.1f')} s "
            f"| {fmt(b.get('peak_gpu_mib'), '.0f')} / {fmt(t.get('peak_gpu_mib'), '.0f')} |")
    m = r["matrix"]
    lines += ["", "| bert-base matrix (teacher + 4 students, 4,000 MNLI-shaped examples, 1 epoch each) | wall | peak GPU MiB | speed-up of distill-tui |",
              "|---|---|---|---|"]
    lines.append(f"| distill-tui --headless (f32) | {fmt(m['distill_tui'].get('wall_s'), '.1f')} s | {fmt(m['distill_tui'].get('peak_gpu_mib'), '.0f')} | |")
    for mode, label in (("notebook", "bench/torch_experiment.py (notebook-style)"), ("matched", "bench/torch_experiment.py --matched")):
        t = m[f"torch_{mode}"]
        lines.append(f"| {label} | {fmt(t.get('wall_s'), '.1f')} s | {fmt(t.get('peak_gpu_mib'), '.0f')} | **{fmt(m.get(f'speedup_vs_{mode}'))}x** |")
    if m["distill_tui_bf16"]:
        lines.append(f"| distill-tui --headless, training.precision = \"bf16\" | {fmt(m['distill_tui_bf16'].get('wall_s'), '.1f')} s | | |")
    d = r["demo"]
    lines += ["", f"Demo on CUDA: cold caches {fmt(d.get('cold', {}).get('wall_s'), '.1f')} s, warm {fmt(d.get('warm', {}).get('wall_s'), '.1f')} s."]
    for tag, w in r["first_step_warm"].items():
        lines.append(f"First step at {tag}: {w['first_step_cold_s']:.1f} s with empty caches, {w['first_step_warm_s']:.1f} s with the caches of the run before.")
    runs = m.get("runs") or {}
    if runs:
        comp = ", ".join(f"{c['batch']}x{c['tokens']} {c['first_step_s']:.1f} s" for c in runs["compiled_training_shapes"])
        lines.append(f"Matrix: training shapes compiled (first step each): {comp or '–'}; {'; '.join(runs['shapes'])}.")
        lines.append(f"Stalls (a step slower than 3x its run's median after the first epoch): {len(runs['stalls'])}.")
    p = r["predict"]
    lines.append("Logits, largest difference: " + "; ".join(
        f"{k}: CUDA vs transformers {fmt(v.get('cuda_vs_transformers'), '.1e')}, CUDA vs CPU {fmt(v.get('cuda_vs_cpu'), '.1e')}"
        for k, v in p.items()) + ".")
    lines += ["", "Goals: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in r["goals"].items()) + "."]
    return "\n".join(lines) + "\n"


def main():
    os.makedirs(OUT, exist_ok=True)
    bench_rows, warm = bench()
    report = {
        "env": load("env.json") or {},
        "predict": predict(),
        "demo": {"cold": timing("demo-cold"), "warm": timing("demo-warm"),
                 "cold_runs": run_folder("demo-cold-demo-synthetic")},
        "bench": bench_rows,
        "first_step_warm": warm,
        "matrix": matrix(),
        "skipped": jsonl(os.path.join(RAW, "skipped.jsonl")),
    }
    report["goals"] = goals(report)
    json.dump(report, open(os.path.join(OUT, "gpu.json"), "w"), indent=2)
    open(os.path.join(OUT, "gpu.md"), "w").write(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()

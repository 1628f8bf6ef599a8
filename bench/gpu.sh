#!/usr/bin/env bash
# The GPU check, in one go, on a machine with an NVIDIA GPU and the driver:
#   predict on CUDA against the CPU, the step benchmark at 768/12 and 384/12 in burn-cuda and in
#   PyTorch eager on the same GPU, and the synthetic demo matrix on CUDA.
# BIN is a distill-tui built with `cargo build --release --features cuda` (built here if missing).
# Results go to $OUT (default gpu-out/).
set -uo pipefail
OUT=${OUT:-gpu-out}
mkdir -p "$OUT"
BIN=${BIN:-target/release/distill-tui}
if ! "$BIN" --version >/dev/null 2>&1; then
  cargo build --release --features cuda || exit 1
  BIN=target/release/distill-tui
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
for b in cuda cpu; do
  timeout 120 "$BIN" --backend $b predict --model tests/fixtures/tiny-bert --json "the movie was good" "the film was great" \
    | tee "$OUT/predict-$b.json"
done
for h in 768 384; do
  timeout 240 "$BIN" --backend cuda bench --hidden $h --layers 12 --batch 32 --seq 128 --steps 5 --json | tee "$OUT/bench-burn-cuda-$h.json"
  if python3 -c "import torch, transformers" 2>/dev/null; then
    timeout 120 python3 bench/torch_step.py --hidden $h --layers 12 --batch 32 --seq 128 --steps 5 --device cuda | tee "$OUT/bench-torch-cuda-$h.json"
  fi
done
rm -rf /tmp/gpu-demo
( time timeout 300 "$BIN" --backend cuda demo --dir /tmp/gpu-demo ) > "$OUT/demo.txt" 2>&1
tail -25 "$OUT/demo.txt"
cp /tmp/gpu-demo/demo-synthetic/results.md "$OUT/demo-results.md" 2>/dev/null || true

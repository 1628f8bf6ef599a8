#!/usr/bin/env bash
# The GPU check, in one go, on a machine with an NVIDIA GPU and its driver (no network needed):
#   1. predict on CUDA against the CPU (the tiny fixture: logits must agree to ~1e-3, TF32);
#   2. the step benchmark in burn-cuda at 384/12 and 768/12 (seq 128) and 384/12 seq 32, each
#      next to PyTorch eager on the same GPU when python3 has torch and transformers;
#   3. the demo (a whole synthetic experiment: teacher fine-tune, four students) on CUDA, twice:
#      the second run starts with the autotune results and compiled kernels the first left in
#      the user cache folder (src/kernel_cache.rs), so its first steps should be much faster.
# BIN is a distill-tui built with `cargo build --release --features cuda` (built here if
# missing). BUDGET (seconds, default 480) bounds the whole script: a step that would not fit
# is skipped and says so. Results go to $OUT (default gpu-out/), summary in $OUT/summary.txt.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-gpu-out}
BUDGET=${BUDGET:-480}
mkdir -p "$OUT"
say() { echo "$*" | tee -a "$OUT/summary.txt"; }
# fits SECONDS_NEEDED: whether that much of the budget is left.
fits() { [ $((BUDGET - SECONDS)) -ge "$1" ] || { say "skipped (budget): $2"; return 1; }; }
BIN=${BIN:-target/release/distill-tui}
if ! "$BIN" --backend cuda --version >/dev/null 2>&1; then
  cargo build --release --features cuda || exit 1
fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
say "$(date -u +%FT%TZ) $(cat "$OUT/gpu.txt")"
for b in cuda cpu; do
  timeout 90 "$BIN" predict --backend $b --model tests/fixtures/tiny-bert --json "the movie was good" "the film was great" \
    > "$OUT/predict-$b.json" 2> "$OUT/predict-$b.err"
  say "predict $b: rc $? $(head -c 300 "$OUT/predict-$b.json")"
done
has_torch=0
python3 -c "import torch, transformers; assert torch.cuda.is_available()" 2>/dev/null && has_torch=1
for shape in 384/128 768/128 384/32; do
  h=${shape%/*}; seq=${shape#*/}
  fits 150 "bench $h/12 seq $seq" || continue
  timeout 150 "$BIN" bench --backend cuda --hidden $h --layers 12 --batch 32 --seq $seq --steps 10 --json \
    > "$OUT/bench-burn-cuda-$h-$seq.json" 2> "$OUT/bench-burn-cuda-$h-$seq.err"
  say "bench burn-cuda $h/12 seq $seq: rc $? $(cat "$OUT/bench-burn-cuda-$h-$seq.json")"
  if [ $has_torch = 1 ] && fits 90 "torch $h/12 seq $seq"; then
    timeout 90 python3 bench/torch_step.py --hidden $h --layers 12 --batch 32 --seq $seq --steps 10 --device cuda \
      > "$OUT/bench-torch-cuda-$h-$seq.json" 2> "$OUT/bench-torch-cuda-$h-$seq.err"
    say "bench torch-cuda $h/12 seq $seq: rc $? $(cat "$OUT/bench-torch-cuda-$h-$seq.json")"
  fi
done
for run in 1 2; do
  fits 120 "demo run $run" || continue
  rm -rf "$OUT/demo-$run"
  start=$SECONDS
  timeout 120 "$BIN" demo --backend cuda --dir "$OUT/demo-$run" > "$OUT/demo-$run.txt" 2>&1
  say "demo run $run on CUDA: rc $?, $((SECONDS - start)) s"
  tail -12 "$OUT/demo-$run.txt" >> "$OUT/summary.txt"
done
say "kernel cache: $(du -sh "${XDG_CACHE_HOME:-$HOME/.cache}/distill-tui/cubecl" 2>/dev/null)"
